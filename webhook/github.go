package webhook

import (
	"context"
	"net/http"
)

// GitHub's headers, in canonical form (X-GitHub-Delivery as Go spells
// it), so that looking them up allocates nothing; and the delivery
// header's name as GitHub spells it, for messages.
const (
	gitHubSignatureHeader = "X-Hub-Signature-256"
	gitHubDeliveryHeader  = "X-Github-Delivery"
	gitHubDeliveryName    = "X-GitHub-Delivery"
)

// GitHub verifies GitHub's webhook signatures:
//
//	X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17
//
// the hex HMAC-SHA256 of the body keyed with the webhook's secret. The
// legacy SHA-1 X-Hub-Signature header is never read, even when it is the
// only one sent. GitHub signs no timestamp, so nothing bounds a replay but
// the delivery id, the X-GitHub-Delivery header (the same on a
// redelivery).
//
// A GitHub is safe for concurrent use.
type GitHub struct {
	mac *HMAC
}

var _ Verifier = (*GitHub)(nil)

// NewGitHub returns a verifier accepting signatures by any of secrets,
// each used as its UTF-8 bytes. Several secrets let the webhook's secret
// be changed without rejecting deliveries meanwhile. GitHub signs no
// timestamp: the options are accepted for uniformity and change nothing.
func NewGitHub(secrets []string, opts ...Option) (*GitHub, error) {
	keys, err := rawSecrets("github", secrets)
	if err != nil {
		return nil, err
	}
	mac, err := newHMAC("github", keys, HMACConfig{Header: gitHubSignatureHeader, Prefix: "sha256=", Encoding: EncodingHex}, opts)
	if err != nil {
		return nil, err
	}
	return &GitHub{mac: mac}, nil
}

// Verify implements Verifier.
func (g *GitHub) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	v, err := g.mac.Verify(ctx, header, body)
	if err != nil {
		return nil, err
	}
	if v.DeliveryID = header.Get(gitHubDeliveryHeader); v.DeliveryID != "" {
		v.DeliveryIDHeader = gitHubDeliveryName
	}
	return v, nil
}
