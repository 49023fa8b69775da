package webhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// bearerHeader holds the token.
const bearerHeader = "Authorization"

// Bearer verifies a shared token sent as "Authorization: Bearer <token>",
// for senders that sign nothing. It keeps only the tokens' SHA-256
// digests and compares digests in constant time, so that neither a
// token's bytes nor its length leak through timing. Nothing bounds a
// replay; there is no delivery id.
//
// A Bearer is safe for concurrent use.
type Bearer struct {
	digests [][sha256.Size]byte
}

var _ Verifier = (*Bearer)(nil)

// NewBearer returns a verifier accepting any of tokens (several let a
// token be replaced without rejecting requests meanwhile). A token may
// hold no white space or control character: it could not be sent. A
// token signs no timestamp: the options are accepted for uniformity and
// change nothing.
func NewBearer(tokens []string, opts ...Option) (*Bearer, error) {
	if len(tokens) == 0 {
		return nil, errors.New("webhook: bearer: no token configured")
	}
	b := &Bearer{digests: make([][sha256.Size]byte, len(tokens))}
	for i, tok := range tokens {
		if tok == "" {
			return nil, fmt.Errorf("webhook: bearer: token %d is empty", i)
		}
		if strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("webhook: bearer: token %d holds white space or a control character", i)
		}
		b.digests[i] = sha256.Sum256([]byte(tok))
	}
	return b, nil
}

// Verify implements Verifier.
func (b *Bearer) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	value, err := headerValue(header, bearerHeader)
	if err != nil {
		return nil, err
	}
	scheme, tok, ok := strings.Cut(value, " ")
	// Auth schemes are case-insensitive (RFC 9110, section 11.1).
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, fail(ReasonUnknownVersion, bearerHeader, "scheme is not Bearer")
	}
	tok = strings.TrimLeft(tok, " ")
	if !ok || tok == "" {
		return nil, fail(ReasonMalformedHeader, bearerHeader, "no token")
	}
	sum := sha256.Sum256([]byte(tok))
	match := 0
	for i := range b.digests {
		match |= subtle.ConstantTimeCompare(sum[:], b.digests[i][:])
	}
	if match != 1 {
		return nil, fail(ReasonBadToken, bearerHeader, "token is not a configured one")
	}
	return &Verified{}, nil
}
