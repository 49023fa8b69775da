package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
)

// Teams verifies the signature of a Microsoft Teams outgoing webhook:
//
//	Authorization: HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o=
//
// the base64 HMAC-SHA256 of the body keyed with the webhook's security
// token, base64-decoded. Teams signs no timestamp and sends no nonce, so
// nothing bounds a replay but the delivery id, the activity's top-level
// "id" in the body. (A Teams bot, rather than an outgoing webhook, is
// verified by BotFramework.)
//
// A Teams is safe for concurrent use.
type Teams struct {
	mac *HMAC
}

var _ Verifier = (*Teams)(nil)

// NewTeams returns a verifier accepting signatures by any of secrets,
// the security tokens Teams shows when an outgoing webhook is created:
// base64 (standard or URL alphabet, padded or not) of the key, 32 bytes
// as Teams issues them. Teams signs no timestamp: the options are
// accepted for uniformity and change nothing.
func NewTeams(secrets []string, opts ...Option) (*Teams, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("webhook: teams: no secret configured")
	}
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		key, ok := decodeBase64Secret(s)
		switch {
		case s == "" || ok && len(key) == 0:
			return nil, fmt.Errorf("webhook: teams: secret %d is empty", i)
		case !ok:
			return nil, fmt.Errorf("webhook: teams: secret %d is not base64", i)
		}
		keys[i] = key
	}
	mac, err := newHMAC("teams", keys, HMACConfig{Header: "Authorization", Prefix: "HMAC ", Encoding: EncodingBase64}, opts)
	if err != nil {
		return nil, err
	}
	return &Teams{mac: mac}, nil
}

// Verify implements Verifier.
func (t *Teams) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	v, err := t.mac.Verify(ctx, header, body)
	if err != nil {
		return nil, err
	}
	v.DeliveryID = activityID(topLevelString(topLevelRaw(body, "conversation"), "id"), topLevelString(body, "id"))
	return v, nil
}

// activityID is the delivery id of a Bot Framework activity (what Teams
// outgoing webhooks send too): its conversation's id and its own, since the
// activity id alone looks like a millisecond timestamp that another
// conversation may use as well. An id longer than a store keeps is
// replaced by its SHA-256; an activity without an id has none.
func activityID(conversation, id string) string {
	switch {
	case id == "":
		return ""
	case conversation == "":
		return id
	}
	v := conversation + "/" + id
	if len(v) > MaxDeliveryIDDefault {
		sum := sha256.Sum256([]byte(v))
		return "sha256:" + hex.EncodeToString(sum[:])
	}
	return v
}
