package webhook

import (
	"context"
	"net/http"
)

// InsecureVerifier accepts every request, checking nothing: anyone who can
// reach the endpoint can trigger its agent with any body.
//
// INSECURE. Use it only where something else authenticates the sender
// (a private network, a proxy checking mutual TLS) or for local tests.
// Verifiers never fall back to it: an empty secret is a configuration
// error, not a request to accept everything.
type InsecureVerifier struct{}

var _ Verifier = (*InsecureVerifier)(nil)

// Insecure returns a verifier that accepts every request without any
// check. INSECURE: see InsecureVerifier.
func Insecure() *InsecureVerifier { return &InsecureVerifier{} }

// Verify implements Verifier: it accepts the request, with no delivery id.
func (*InsecureVerifier) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	return &Verified{}, nil
}
