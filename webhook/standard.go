package webhook

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// maxSignatures bounds the signatures of one multi-signature header, so
// that a request cannot make the verifier check thousands (a sender
// rotating secrets sends two or three).
const maxSignatures = 16

// Standard verifies Standard Webhooks (v1.0.0) signatures, as Svix and the
// services built on it (Clerk, Resend…) send them:
//
//	webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek
//	webhook-timestamp: 1614265330
//	webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
//
// Each signature in the space-separated list covers "id.timestamp.body":
// v1 is the base64 HMAC-SHA256 keyed with a whsec_ secret, v1a the base64
// Ed25519 signature checked with a whpk_ public key. A request passes when
// any signature of a version the verifier holds keys for matches any key;
// other versions are ignored. The timestamp must be within the tolerance
// (WithTolerance, default ToleranceDefault) of the clock, either way.
//
// The svix-id, svix-timestamp and svix-signature headers are read instead
// when no webhook- header is present. The delivery id is the webhook-id.
//
// A Standard is safe for concurrent use.
type Standard struct {
	macKeys [][]byte            // v1
	pubKeys []ed25519.PublicKey // v1a
	opts    options
}

var _ Verifier = (*Standard)(nil)

// NewStandard returns a verifier accepting signatures by any of secrets,
// each one either a symmetric secret, "whsec_" followed by the base64 key
// (the prefix may be left out), or an Ed25519 public key, "whpk_"
// followed by the base64 of its 32 bytes. A signing key (whsk_) is
// refused: the receiver needs only its public key. Several secrets let a
// sender rotate them.
func NewStandard(secrets []string, opts ...Option) (*Standard, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook: standard: no secret configured")
	}
	s := &Standard{opts: newOptions(opts)}
	for i, secret := range secrets {
		switch {
		case strings.HasPrefix(secret, "whpk_"):
			key, ok := decodeBase64Secret(secret[len("whpk_"):])
			if !ok || len(key) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("webhook: standard: secret %d: a whpk_ key must be the base64 of a %d-byte Ed25519 public key", i, ed25519.PublicKeySize)
			}
			s.pubKeys = append(s.pubKeys, ed25519.PublicKey(key))
		case strings.HasPrefix(secret, "whsk_"):
			return nil, fmt.Errorf("webhook: standard: secret %d is a whsk_ signing key: configure its whpk_ public key instead", i)
		default:
			key, ok := decodeBase64Secret(strings.TrimPrefix(secret, "whsec_"))
			if !ok {
				return nil, fmt.Errorf("webhook: standard: secret %d: a whsec_ secret must be base64", i)
			}
			if len(key) == 0 {
				return nil, fmt.Errorf("webhook: standard: secret %d is empty", i)
			}
			s.macKeys = append(s.macKeys, key)
		}
	}
	return s, nil
}

// standardSignatures are the decoded signatures of the versions a Standard
// holds keys for.
type standardSignatures struct {
	v1  [][sha256.Size]byte
	v1a [][ed25519.SignatureSize]byte
}

// Verify implements Verifier.
func (s *Standard) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	// Canonical names: they are looked up as they are, and errors name
	// them so.
	idName, tsName, sigName := "Webhook-Id", "Webhook-Timestamp", "Webhook-Signature"
	if !hasAnyHeader(header, idName, tsName, sigName) && hasAnyHeader(header, "Svix-Id", "Svix-Timestamp", "Svix-Signature") {
		idName, tsName, sigName = "Svix-Id", "Svix-Timestamp", "Svix-Signature"
	}
	id, err := headerValue(header, idName)
	if err != nil {
		return nil, err
	}
	ts, err := headerValue(header, tsName)
	if err != nil {
		return nil, err
	}
	sig, err := headerValue(header, sigName)
	if err != nil {
		return nil, err
	}
	// The spec asks that ids hold no '.', which separates the signed
	// parts: with one, another split of the same signed bytes could pass
	// as a different id and body.
	if strings.IndexByte(id, '.') >= 0 {
		return nil, fail(ReasonMalformedHeader, idName, "id contains '.'")
	}
	sigs, err := s.parseSignatures(sigName, sig)
	if err != nil {
		return nil, err
	}
	if err := checkTimestamp(&s.opts, tsName, ts); err != nil {
		return nil, err
	}
	if s.match(sigs, id, ts, body) {
		return &Verified{DeliveryID: id, DeliveryIDHeader: idName}, nil
	}
	return nil, fail(ReasonBadSignature, sigName, "no signature matches a configured secret")
}

// parseSignatures reads the space-separated "<version>,<base64>" list of
// the header name, keeping the versions s holds keys for.
func (s *Standard) parseSignatures(name, value string) (*standardSignatures, error) {
	var sigs standardSignatures
	entries, known := 0, 0
	for entry := range strings.FieldsSeq(value) {
		if entries++; entries > maxSignatures {
			return nil, fail(ReasonMalformedHeader, name, fmt.Sprintf("more than %d signatures", maxSignatures))
		}
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version == "" {
			return nil, fail(ReasonMalformedHeader, name, "an entry is not <version>,<signature>")
		}
		switch {
		case version == "v1" && len(s.macKeys) > 0:
			known++
			var mac [sha256.Size]byte
			if decodeBase64Fixed(mac[:], encoded) {
				sigs.v1 = append(sigs.v1, mac)
			}
		case version == "v1a" && len(s.pubKeys) > 0:
			known++
			var sig [ed25519.SignatureSize]byte
			if decodeBase64Fixed(sig[:], encoded) {
				sigs.v1a = append(sigs.v1a, sig)
			}
		}
	}
	switch {
	case known == 0:
		return nil, fail(ReasonUnknownVersion, name, "no signature of version "+s.versions())
	case len(sigs.v1) == 0 && len(sigs.v1a) == 0:
		return nil, fail(ReasonMalformedHeader, name, "no signature decodes")
	}
	return &sigs, nil
}

// versions names the signature versions s accepts.
func (s *Standard) versions() string {
	switch {
	case len(s.macKeys) > 0 && len(s.pubKeys) > 0:
		return "v1 or v1a"
	case len(s.pubKeys) > 0:
		return "v1a"
	}
	return "v1"
}

// match reports whether a signature of sigs signs id.ts.body with a key
// of s.
func (s *Standard) match(sigs *standardSignatures, id, ts string, body []byte) bool {
	head := signedHead(id, ".", ts, ".")
	if len(sigs.v1) > 0 {
		var sum [sha256.Size]byte
		for _, key := range s.macKeys {
			m := newMAC(key)
			m.Write(head)
			m.Write(body)
			m.Sum(sum[:0])
			for _, c := range sigs.v1 {
				if hmac.Equal(sum[:], c[:]) {
					return true
				}
			}
		}
	}
	if len(sigs.v1a) > 0 {
		msg := append(head[:len(head):len(head)], body...)
		for _, key := range s.pubKeys {
			for _, c := range sigs.v1a {
				if ed25519.Verify(key, msg, c[:]) {
					return true
				}
			}
		}
	}
	return false
}

// hasAnyHeader reports whether any of names is present.
func hasAnyHeader(header http.Header, names ...string) bool {
	for _, name := range names {
		if len(header.Values(name)) > 0 {
			return true
		}
	}
	return false
}
