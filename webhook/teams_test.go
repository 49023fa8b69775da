package webhook

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
)

// The Teams outgoing webhook vector (computed; Microsoft publishes a key
// and a header but not the body they go with).
const (
	teamsSecret = "vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA="
	teamsBody   = `{"type":"message","text":"hello"}`
	teamsAuth   = "HMAC u4mqRgrbVIFC3vtz7CZ6l6p1FlBrMrWdHGNjdU5ux2o="

	teamsOtherSecret = "c2Vjb25kLXRlYW1zLXRva2VuLW9mLTMyLWJ5dGVzISE="
)

func newTeamsVerifier(secrets []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewTeams(secrets, opts...))
}

// teamsSign is the Authorization header of body with the base64 secret.
func teamsSign(secret, body string) string {
	key, err := base64.StdEncoding.DecodeString(secret)
	if err != nil {
		panic(err)
	}
	return "HMAC " + macBase64(key, body)
}

func teamsRequest(name string, secrets []string, auth, body string, reason Reason, id string) verifyCase {
	c := verifyCase{name: name, secrets: secrets, header: headers(), body: body, reason: reason, id: id}
	if auth != "" {
		c.header.Set("Authorization", auth)
	}
	if reason != "" {
		c.field = "Authorization"
	}
	return c
}

func TestTeams(t *testing.T) {
	one := []string{teamsSecret}
	urlSafe := strings.NewReplacer("+", "-", "/", "_").Replace(strings.TrimRight(teamsSecret, "="))
	withID := `{"type":"message","id":"1485983408511","text":"hi","from":{"id":"29:x"}}`
	inConversation := `{"type":"message","id":"1485983408511","conversation":{"isGroup":true,"id":"19:abc@thread.skype"},"text":"hi"}`
	longConversation := `{"id":"7","conversation":{"id":"` + strings.Repeat("c", 300) + `"}}`
	longSum := sha256.Sum256([]byte(strings.Repeat("c", 300) + "/7"))
	flippedKey, _ := base64.StdEncoding.DecodeString(teamsSecret)
	flippedKey[0] ^= 1
	cases := []verifyCase{
		teamsRequest("computed vector", one, teamsAuth, teamsBody, "", ""),
		teamsRequest("activity id", one, teamsSign(teamsSecret, withID), withID, "", "1485983408511"),
		teamsRequest("activity id in its conversation", one, teamsSign(teamsSecret, inConversation), inConversation, "",
			"19:abc@thread.skype/1485983408511"),
		teamsRequest("long conversation id hashed", one, teamsSign(teamsSecret, longConversation), longConversation, "",
			"sha256:"+hex.EncodeToString(longSum[:])),
		teamsRequest("lowercase scheme", one, "hmac "+teamsAuth[5:], teamsBody, "", ""),
		teamsRequest("URL-safe unpadded secret", []string{urlSafe}, teamsAuth, teamsBody, "", ""),
		teamsRequest("rotation: old secret", []string{teamsSecret, teamsOtherSecret}, teamsAuth, teamsBody, "", ""),
		teamsRequest("rotation: new secret", []string{teamsOtherSecret, teamsSecret}, teamsAuth, teamsBody, "", ""),

		teamsRequest("flipped body", one, teamsAuth, flipBit(teamsBody, 0), ReasonBadSignature, ""),
		teamsRequest("flipped signature", one, "HMAC "+flipBase64(teamsAuth[5:]), teamsBody, ReasonBadSignature, ""),
		teamsRequest("flipped secret", []string{base64.StdEncoding.EncodeToString(flippedKey)}, teamsAuth, teamsBody, ReasonBadSignature, ""),
		teamsRequest("secret used undecoded", one, "HMAC "+macBase64([]byte(teamsSecret), teamsBody), teamsBody, ReasonBadSignature, ""),
		teamsRequest("other secret only", []string{teamsOtherSecret}, teamsAuth, teamsBody, ReasonBadSignature, ""),
		teamsRequest("bearer scheme", one, "Bearer "+teamsAuth[5:], teamsBody, ReasonUnknownVersion, ""),
		teamsRequest("no scheme", one, teamsAuth[5:], teamsBody, ReasonUnknownVersion, ""),
		teamsRequest("not base64", one, "HMAC !!!", teamsBody, ReasonMalformedHeader, ""),
		teamsRequest("short MAC", one, "HMAC AAAA", teamsBody, ReasonMalformedHeader, ""),
		teamsRequest("missing header", one, "", teamsBody, ReasonMissingHeader, ""),
	}
	runVerifyCases(t, newTeamsVerifier, cases)
}

func TestNewTeamsRefuses(t *testing.T) {
	checkConstructorRefuses(t, newTeamsVerifier, map[string][]string{
		"nil":              nil,
		"no secret":        {},
		"empty secret":     {""},
		"one empty of two": {teamsSecret, ""},
		"only padding":     {"===="},
		"not base64":       {"this is not base64!"},
	})
}

func FuzzTeams(f *testing.F) {
	f.Add(teamsAuth, []byte(teamsBody))
	f.Add("HMAC ", []byte{})
	f.Add("Bearer x", []byte(teamsBody))
	v, err := NewTeams([]string{teamsOtherSecret, teamsSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		got, err := verifyErr(t, v, headers("Authorization", auth), body)
		if err != nil {
			return
		}
		if id, ok := oracleString(body, "id"); ok {
			var obj struct {
				Conversation struct {
					ID any `json:"id"`
				} `json:"conversation"`
			}
			_ = json.Unmarshal(body, &obj)
			conversation, _ := obj.Conversation.ID.(string)
			if want := activityID(conversation, id); got.DeliveryID != want {
				t.Fatalf("DeliveryID = %q, want %q", got.DeliveryID, want)
			}
		}
		auth = strings.TrimSpace(auth)
		if len(auth) > 5 && strings.EqualFold(auth[:5], "HMAC ") {
			mac, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(auth[5:], "="))
			if err == nil {
				for _, secret := range []string{teamsSecret, teamsOtherSecret} {
					if "HMAC "+base64.StdEncoding.EncodeToString(mac) == teamsSign(secret, string(body)) {
						return
					}
				}
			}
		}
		t.Fatalf("accepted %q with no valid signature", auth)
	})
}
