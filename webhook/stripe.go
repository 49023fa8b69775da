package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"
)

// stripeHeader holds Stripe's timestamp and signatures.
const stripeHeader = "Stripe-Signature"

// Stripe verifies Stripe's webhook signatures:
//
//	Stripe-Signature: t=1614265330,v1=3c5817…dccff[,v1=…][,v0=…]
//
// Each v1 value is the hex HMAC-SHA256 of "t.body" keyed with the
// endpoint's signing secret, the whole "whsec_…" string as it is (not
// decoded). A request passes when any v1 signature matches any secret;
// other schemes (Stripe's test-mode v0) are ignored. The timestamp must be
// within the tolerance (WithTolerance, default ToleranceDefault) of the
// clock. stripe-go rejects only timestamps older than that; this verifier
// also refuses those further than that in the future, as every timestamped
// scheme here does, so that no signed timestamp opens a replay window
// longer than twice the tolerance. The delivery id is the event's id, the
// body's top-level "id" (empty when it has none).
//
// A Stripe is safe for concurrent use.
type Stripe struct {
	keys [][]byte
	opts options
}

var _ Verifier = (*Stripe)(nil)

// NewStripe returns a verifier accepting signatures by any of secrets,
// the endpoints' signing secrets ("whsec_…") as the dashboard shows them.
// Several secrets cover a rolled secret kept active for a while. A secret
// holding white space (a pasted line end, say) is refused, as stripe-node
// does.
func NewStripe(secrets []string, opts ...Option) (*Stripe, error) {
	keys, err := rawSecrets("stripe", secrets)
	if err != nil {
		return nil, err
	}
	for i, s := range secrets {
		if strings.ContainsAny(s, " \t\r\n") {
			return nil, fmt.Errorf("webhook: stripe: secret %d holds white space", i)
		}
	}
	return &Stripe{keys: keys, opts: newOptions(opts)}, nil
}

// Verify implements Verifier.
func (s *Stripe) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	value, err := headerValue(header, stripeHeader)
	if err != nil {
		return nil, err
	}
	ts, sigs, err := parseStripeHeader(value)
	if err != nil {
		return nil, err
	}
	if err := checkTimestamp(&s.opts, stripeHeader, ts); err != nil {
		return nil, err
	}
	head := signedHead(ts, ".")
	var sum [sha256.Size]byte
	for _, key := range s.keys {
		m := newMAC(key)
		m.Write(head)
		m.Write(body)
		m.Sum(sum[:0])
		for _, c := range sigs {
			if hmac.Equal(sum[:], c[:]) {
				return &Verified{DeliveryID: topLevelString(body, "id")}, nil
			}
		}
	}
	return nil, fail(ReasonBadSignature, stripeHeader, "no v1 signature matches a configured secret")
}

// parseStripeHeader reads "t=…,v1=…,…": the timestamp as sent and the
// decoded v1 signatures. As in stripe-go, a v1 value that does not decode
// is skipped, and schemes other than v1 are ignored.
func parseStripeHeader(value string) (string, [][sha256.Size]byte, error) {
	var (
		ts         string
		sigs       [][sha256.Size]byte
		parts, v1s int
	)
	for part := range strings.SplitSeq(value, ",") {
		if parts++; parts > maxSignatures+2 {
			return "", nil, fail(ReasonMalformedHeader, stripeHeader, "too many entries")
		}
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return "", nil, fail(ReasonMalformedHeader, stripeHeader, "an entry is not <key>=<value>")
		}
		switch k {
		case "t":
			if ts != "" {
				return "", nil, fail(ReasonMalformedHeader, stripeHeader, "more than one timestamp")
			}
			if ts = v; ts == "" {
				return "", nil, fail(ReasonMalformedHeader, stripeHeader, "empty timestamp")
			}
		case "v1":
			v1s++
			var mac [sha256.Size]byte
			if decodeHexMAC(&mac, v) {
				sigs = append(sigs, mac)
			}
		}
	}
	switch {
	case ts == "":
		return "", nil, fail(ReasonMalformedHeader, stripeHeader, "no timestamp")
	case v1s == 0:
		return "", nil, fail(ReasonUnknownVersion, stripeHeader, "no v1 signature")
	case len(sigs) == 0:
		return "", nil, fail(ReasonMalformedHeader, stripeHeader, "no v1 signature decodes")
	}
	return ts, sigs, nil
}
