package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Helpers shared by the signature verifiers.

// headerValue returns the one value of the header name (given in
// canonical form), trimmed: a ReasonMissingHeader error when it is absent
// or empty, and a ReasonMalformedHeader error when it is sent more than
// once (which of two signatures would count is then a guess).
func headerValue(header http.Header, name string) (string, error) {
	values := header.Values(name)
	if len(values) > 1 {
		return "", fail(ReasonMalformedHeader, name, "sent more than once")
	}
	if len(values) == 0 {
		return "", fail(ReasonMissingHeader, name, "")
	}
	v := strings.TrimSpace(values[0])
	if v == "" {
		return "", fail(ReasonMissingHeader, name, "")
	}
	return v, nil
}

// parseUnixSeconds parses a signed timestamp: decimal digits only (no
// sign, no space), as every scheme here sends it.
func parseUnixSeconds(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// checkTimestamp parses the signed timestamp value of the header name and
// checks that it is within the tolerance of the clock, in either
// direction.
func checkTimestamp(o *options, name, value string) error {
	ts, ok := parseUnixSeconds(value)
	if !ok {
		return fail(ReasonMalformedHeader, name, "timestamp is not Unix seconds")
	}
	d := o.now().Sub(time.Unix(ts, 0))
	switch {
	case d > o.tolerance:
		return fail(ReasonStaleTimestamp, name, fmt.Sprintf("timestamp is older than %v", o.tolerance))
	case d < -o.tolerance:
		return fail(ReasonStaleTimestamp, name, fmt.Sprintf("timestamp is more than %v in the future", o.tolerance))
	}
	return nil
}

// newMAC returns an HMAC-SHA256 keyed with key.
func newMAC(key []byte) hash.Hash { return hmac.New(sha256.New, key) }

// signedHead joins the parts signed before the body, so that each MAC is
// fed them in one write.
func signedHead(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	head := make([]byte, 0, n)
	for _, p := range parts {
		head = append(head, p...)
	}
	return head
}

// decodeHexMAC decodes a hex HMAC-SHA256 (either case) into dst.
func decodeHexMAC(dst *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	_, err := hex.Decode(dst[:], []byte(s))
	return err == nil
}

// decodeBase64Fixed decodes standard base64, padded or not, into dst,
// which it must fill exactly (a MAC or an Ed25519 signature).
func decodeBase64Fixed(dst []byte, s string) bool {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	var buf [ed25519.SignatureSize + 2]byte
	if enc.DecodedLen(len(s)) > len(buf) {
		return false
	}
	n, err := enc.Decode(buf[:], []byte(s))
	if err != nil || n != len(dst) {
		return false
	}
	copy(dst, buf[:n])
	return true
}

// decodeBase64Secret decodes a configured base64 secret: standard or URL
// alphabet, padded or not.
func decodeBase64Secret(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// rawSecrets checks a list of secrets used as they are (their UTF-8
// bytes) and returns them as keys. Errors name a secret by its index,
// never by its value.
func rawSecrets(scheme string, secrets []string) ([][]byte, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("webhook: %s: no secret configured", scheme)
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		if s == "" {
			return nil, fmt.Errorf("webhook: %s: secret %d is empty", scheme, i)
		}
		keys[i] = []byte(s)
	}
	return keys, nil
}
