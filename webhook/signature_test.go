package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock/clocktest"
)

// Helpers shared by the signature verifiers' tests.

// newVerifierFunc builds a verifier of one scheme from its secrets.
type newVerifierFunc func(secrets []string, opts ...Option) (Verifier, error)

// asVerifier returns a constructor's result as a Verifier: nil, not a nil
// *X, with an error.
func asVerifier[V Verifier](v V, err error) (Verifier, error) {
	if err != nil {
		return nil, err
	}
	return v, nil
}

// verifyCase is one request to a verifier built from secrets, with the
// clock at now.
type verifyCase struct {
	name    string
	secrets []string
	now     int64
	header  http.Header
	body    string
	// reason is the expected failure; "" means the request passes.
	reason Reason
	// field is the header the failure names.
	field string
	// id is the expected delivery id of a passing request.
	id string
}

// runVerifyCases checks each case, and that no error text holds a secret
// and no body is modified.
func runVerifyCases(t *testing.T, newV newVerifierFunc, cases []verifyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := newV(c.secrets, clockAt(c.now))
			if err != nil {
				t.Fatalf("constructor: %v", err)
			}
			body := []byte(c.body)
			got, err := v.Verify(context.Background(), c.header, body)
			if !bytes.Equal(body, []byte(c.body)) {
				t.Error("Verify modified the body")
			}
			if c.reason == "" {
				if err != nil {
					t.Fatalf("Verify failed: %v", err)
				}
				if got == nil {
					t.Fatal("Verify returned nil and no error")
				}
				if got.DeliveryID != c.id {
					t.Errorf("DeliveryID = %q, want %q", got.DeliveryID, c.id)
				}
				if got.Reply != nil {
					t.Errorf("unexpected Reply %q", got.Reply)
				}
				return
			}
			checkReason(t, got, err, c.reason, c.field)
			for _, s := range c.secrets {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}

// checkReason checks that Verify failed with reason, naming field.
func checkReason(t *testing.T, got *Verified, err error, reason Reason, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify passed (%+v), want %s", got, reason)
	}
	if got != nil {
		t.Errorf("Verify returned %+v with its error", got)
	}
	if !errors.Is(err, ErrVerification) {
		t.Errorf("error %v does not match ErrVerification", err)
	}
	var ve *VerificationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *VerificationError", err, err)
	}
	if ve.Reason != reason {
		t.Errorf("Reason = %s, want %s (%v)", ve.Reason, reason, err)
	}
	if ve.Header != field {
		t.Errorf("Header = %q, want %q (%v)", ve.Header, field, err)
	}
}

// checkConstructorRefuses checks that newV refuses each list of secrets,
// without quoting them.
func checkConstructorRefuses(t *testing.T, newV newVerifierFunc, cases map[string][]string) {
	t.Helper()
	for name, secrets := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := newV(secrets)
			if err == nil {
				t.Fatalf("constructor accepted %q", secrets)
			}
			if v != nil {
				t.Error("constructor returned a verifier with its error")
			}
			for _, s := range secrets {
				if len(s) > 6 && strings.Contains(err.Error(), s) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}

// clockAt is a clock stopped at the Unix time sec.
func clockAt(sec int64) Option {
	return WithClock(clocktest.New(time.Unix(sec, 0)))
}

// headers builds a header from name, value pairs; a name given twice gets
// two values.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// macOf is the HMAC-SHA256 of the concatenated parts keyed with key.
func macOf(key []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

func macHex(key []byte, parts ...string) string { return hex.EncodeToString(macOf(key, parts...)) }

func macBase64(key []byte, parts ...string) string {
	return base64.StdEncoding.EncodeToString(macOf(key, parts...))
}

// flipBit returns s with bit i (counted from the first byte's lowest)
// flipped.
func flipBit(s string, i int) string {
	b := []byte(s)
	b[i/8] ^= 1 << (i % 8)
	return string(b)
}

// flipHex flips the lowest bit of the MAC that hex s encodes.
func flipHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	b[len(b)-1] ^= 1
	return hex.EncodeToString(b)
}

// flipBase64 flips the lowest bit of the bytes that base64 s encodes.
func flipBase64(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	b[len(b)-1] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// verifyErr returns Verify's error, checking that it is nil or a
// *VerificationError with a known Reason: the property every fuzz test
// checks besides its own.
func verifyErr(t *testing.T, v Verifier, header http.Header, body []byte) (*Verified, error) {
	t.Helper()
	in := bytes.Clone(body)
	got, err := v.Verify(context.Background(), header, body)
	if !bytes.Equal(in, body) {
		t.Fatal("Verify modified the body")
	}
	if err == nil {
		if got == nil {
			t.Fatal("Verify returned nil and no error")
		}
		return got, nil
	}
	if got != nil {
		t.Fatalf("Verify returned %+v with its error", got)
	}
	var ve *VerificationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %T %v is not a *VerificationError", err, err)
	}
	switch ve.Reason {
	case ReasonMissingHeader, ReasonMalformedHeader, ReasonUnknownVersion, ReasonStaleTimestamp, ReasonBadSignature:
	default:
		t.Fatalf("unexpected reason %s", ve.Reason)
	}
	if ve.Header == "" {
		t.Fatalf("error %v names no header", err)
	}
	return nil, err
}
