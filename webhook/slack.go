package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
)

// Slack's headers.
const (
	slackSignatureHeader = "X-Slack-Signature"
	slackTimestampHeader = "X-Slack-Request-Timestamp"
)

// Slack verifies Slack's request signatures (Events API, slash commands,
// interactivity):
//
//	X-Slack-Request-Timestamp: 1531420618
//	X-Slack-Signature: v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503
//
// the hex HMAC-SHA256 of "v0:<timestamp>:<body>" keyed with the app's
// signing secret as it is (not decoded). The timestamp must be within the
// tolerance (WithTolerance, default ToleranceDefault) of the clock, either
// way.
//
// Once verified, an Events API url_verification request (a JSON body
// whose "type" is "url_verification") is answered rather than recorded:
// the Verified's Reply is {"challenge":"<its challenge>"} and its
// ReplyType application/json. Otherwise the delivery id is the body's
// "event_id", empty for bodies without one (slash commands, which are
// forms).
//
// A Slack is safe for concurrent use.
type Slack struct {
	keys [][]byte
	opts options
}

var _ Verifier = (*Slack)(nil)

// NewSlack returns a verifier accepting signatures by any of secrets,
// the apps' signing secrets, each used as its UTF-8 bytes. Several secrets
// let a regenerated secret replace the old one without rejecting requests
// meanwhile.
func NewSlack(secrets []string, opts ...Option) (*Slack, error) {
	keys, err := rawSecrets("slack", secrets)
	if err != nil {
		return nil, err
	}
	return &Slack{keys: keys, opts: newOptions(opts)}, nil
}

// Verify implements Verifier.
func (s *Slack) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	sig, err := headerValue(header, slackSignatureHeader)
	if err != nil {
		return nil, err
	}
	ts, err := headerValue(header, slackTimestampHeader)
	if err != nil {
		return nil, err
	}
	version, encoded, ok := strings.Cut(sig, "=")
	if !ok {
		return nil, fail(ReasonMalformedHeader, slackSignatureHeader, "value is not <version>=<signature>")
	}
	if version != "v0" {
		return nil, fail(ReasonUnknownVersion, slackSignatureHeader, "version is not v0")
	}
	var mac [sha256.Size]byte
	if !decodeHexMAC(&mac, encoded) {
		return nil, fail(ReasonMalformedHeader, slackSignatureHeader, "signature is not a hex HMAC-SHA256")
	}
	if err := checkTimestamp(&s.opts, slackTimestampHeader, ts); err != nil {
		return nil, err
	}
	if !s.match(&mac, ts, body) {
		return nil, fail(ReasonBadSignature, slackSignatureHeader, "signature matches no configured secret")
	}
	var fields [3]string
	topLevelStrings(body, []string{"type", "challenge", "event_id"}, fields[:])
	if fields[0] == "url_verification" {
		reply, err := json.Marshal(struct {
			Challenge string `json:"challenge"`
		}{fields[1]})
		if err != nil {
			return nil, err
		}
		return &Verified{Reply: reply, ReplyType: "application/json"}, nil
	}
	return &Verified{DeliveryID: fields[2]}, nil
}

// match reports whether mac signs "v0:ts:body" with a key of s.
func (s *Slack) match(mac *[sha256.Size]byte, ts string, body []byte) bool {
	head := signedHead("v0:", ts, ":")
	var sum [sha256.Size]byte
	for _, key := range s.keys {
		m := newMAC(key)
		m.Write(head)
		m.Write(body)
		if hmac.Equal(m.Sum(sum[:0]), mac[:]) {
			return true
		}
	}
	return false
}
