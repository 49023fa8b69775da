package webhook

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// Slack's published vectors: the docs' worked example (a slash command)
// and slack-go's Events API one.
const (
	slackSecret = "8f742231b10e8888abcd99yyyzzz85a5"
	slackTS     = "1531420618"
	slackNow    = 1531420618
	slackBody   = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
	slackSig    = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

	slackEventsSecret = "e6b19c573432dcc6b075501d51b51bb8"
	slackEventsTS     = "1531431954"
	slackEventsNow    = 1531431954
	slackEventsBody   = `{"token":"aF5ynEYQH0dFN9imlgcADxDB","team_id":"XXXXXXXXX","api_app_id":"YYYYYYYYY","event":{"type":"app_mention","user":"AAAAAAAAA","text":"<@EEEEEEEEE> hello world","client_msg_id":"477cc591-ch73-a14z-4db8-g0cd76321bec","ts":"1531431954.000073","channel":"TTTTTTTTT","event_ts":"1531431954.000073"},"type":"event_callback","event_id":"TvBP7LRED7","event_time":1531431954,"authed_users":["EEEEEEEEE"]}`
	slackEventsSig    = "v0=adada4ed31709aef585c2580ca3267678c6a8eaeb7e0c1aca3ee57b656886b2c"

	slackChallenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
	slackURLVerify = `{"token":"Jhj5dZrVaK7ZwHHjRyZWjbDl","challenge":"` + slackChallenge + `","type":"url_verification"}`
)

func newSlackVerifier(secrets []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewSlack(secrets, opts...))
}

// slackSign is the X-Slack-Signature of body at ts with secret.
func slackSign(secret, ts, body string) string {
	return "v0=" + macHex([]byte(secret), "v0:", ts, ":", body)
}

func slackRequest(name string, secrets []string, now int64, body string, reason Reason, field, id string, kv ...string) verifyCase {
	return verifyCase{name: name, secrets: secrets, now: now, header: headers(kv...), body: body, reason: reason, field: field, id: id}
}

func TestSlack(t *testing.T) {
	one := []string{slackSecret}
	const sigHeader, tsHeader = "X-Slack-Signature", "X-Slack-Request-Timestamp"
	signedAt := func(ts string) []string {
		return []string{tsHeader, ts, sigHeader, slackSign(slackSecret, ts, slackBody)}
	}
	cases := []verifyCase{
		slackRequest("published vector", one, slackNow, slackBody, "", "", "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("events vector", []string{slackEventsSecret}, slackEventsNow, slackEventsBody, "", "", "TvBP7LRED7", tsHeader, slackEventsTS, sigHeader, slackEventsSig),
		slackRequest("rotation: old secret", []string{slackSecret, slackEventsSecret}, slackNow, slackBody, "", "", "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("rotation: new secret", []string{slackEventsSecret, slackSecret}, slackNow, slackBody, "", "", "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("at the edge of the tolerance", one, slackNow, slackBody, "", "", "", signedAt("1531420918")...),

		slackRequest("flipped body", one, slackNow, flipBit(slackBody, 0), ReasonBadSignature, sigHeader, "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("flipped signature", one, slackNow, slackBody, ReasonBadSignature, sigHeader, "", tsHeader, slackTS, sigHeader, "v0="+flipHex(slackSig[3:])),
		slackRequest("flipped timestamp", one, slackNow, slackBody, ReasonBadSignature, sigHeader, "", tsHeader, flipBit(slackTS, 8*(len(slackTS)-1)), sigHeader, slackSig),
		slackRequest("flipped secret", []string{flipBit(slackSecret, 0)}, slackNow, slackBody, ReasonBadSignature, sigHeader, "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("other secret only", []string{slackEventsSecret}, slackNow, slackBody, ReasonBadSignature, sigHeader, "", tsHeader, slackTS, sigHeader, slackSig),
		slackRequest("stale timestamp", one, slackNow, slackBody, ReasonStaleTimestamp, tsHeader, "", signedAt("1531420317")...),
		slackRequest("future timestamp", one, slackNow, slackBody, ReasonStaleTimestamp, tsHeader, "", signedAt("1531420919")...),
		slackRequest("unknown version", one, slackNow, slackBody, ReasonUnknownVersion, sigHeader, "", tsHeader, slackTS, sigHeader, "v1="+slackSig[3:]),
		slackRequest("no version", one, slackNow, slackBody, ReasonMalformedHeader, sigHeader, "", tsHeader, slackTS, sigHeader, slackSig[3:]),
		slackRequest("not hex", one, slackNow, slackBody, ReasonMalformedHeader, sigHeader, "", tsHeader, slackTS, sigHeader, "v0=xyz"),
		slackRequest("timestamp not a number", one, slackNow, slackBody, ReasonMalformedHeader, tsHeader, "", tsHeader, "now", sigHeader, slackSig),
		slackRequest("missing signature", one, slackNow, slackBody, ReasonMissingHeader, sigHeader, "", tsHeader, slackTS),
		slackRequest("missing timestamp", one, slackNow, slackBody, ReasonMissingHeader, tsHeader, "", sigHeader, slackSig),
	}
	runVerifyCases(t, newSlackVerifier, cases)
}

func TestSlackURLVerification(t *testing.T) {
	const now = 1700000000
	const ts = "1700000000"
	cases := []struct {
		name, body, challenge string
	}{
		{"documented request", slackURLVerify, slackChallenge},
		{"odd challenge", `{"type":"url_verification","challenge":"<a&b>\"c\"","extra":{"challenge":"no"}}`, `<a&b>"c"`},
		{"no challenge", `{"type":"url_verification"}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := NewSlack([]string{slackSecret}, clockAt(now))
			if err != nil {
				t.Fatal(err)
			}
			h := headers("X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(slackSecret, ts, c.body))
			got, err := v.Verify(context.Background(), h, []byte(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if got.ReplyType != "application/json" {
				t.Errorf("ReplyType = %q", got.ReplyType)
			}
			var reply map[string]any
			if err := json.Unmarshal(got.Reply, &reply); err != nil {
				t.Fatalf("Reply %q: %v", got.Reply, err)
			}
			if len(reply) != 1 || reply["challenge"] != c.challenge {
				t.Errorf("Reply = %s, want only the challenge %q", got.Reply, c.challenge)
			}
			if got.DeliveryID != "" {
				t.Errorf("DeliveryID = %q", got.DeliveryID)
			}
			// Unsigned, the challenge is not answered.
			h.Set("X-Slack-Signature", "v0="+flipHex(h.Get("X-Slack-Signature")[3:]))
			got, err = v.Verify(context.Background(), h, []byte(c.body))
			checkReason(t, got, err, ReasonBadSignature, "X-Slack-Signature")
		})
	}
	if got := slackSign(slackSecret, slackTS, slackBody); got != slackSig {
		t.Errorf("published vector signs to %s, want %s", got, slackSig)
	}
}

func TestNewSlackRefuses(t *testing.T) {
	checkConstructorRefuses(t, newSlackVerifier, map[string][]string{
		"nil":              nil,
		"no secret":        {},
		"empty secret":     {""},
		"one empty of two": {slackSecret, ""},
	})
}

func FuzzSlack(f *testing.F) {
	f.Add(slackTS, slackSig, []byte(slackBody))
	f.Add(slackTS, slackSign(slackSecret, slackTS, slackURLVerify), []byte(slackURLVerify))
	f.Add(slackTS, "v0=", []byte{})
	v, err := NewSlack([]string{slackEventsSecret, slackSecret}, clockAt(slackNow))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		h := headers("X-Slack-Request-Timestamp", ts, "X-Slack-Signature", sig)
		got, err := verifyErr(t, v, h, body)
		if err != nil {
			return
		}
		ts, sig = strings.TrimSpace(ts), strings.ToLower(strings.TrimSpace(sig))
		signed := false
		for _, secret := range []string{slackSecret, slackEventsSecret} {
			signed = signed || sig == slackSign(secret, ts, string(body))
		}
		if !signed {
			t.Fatalf("accepted %q at %q with no valid signature", sig, ts)
		}
		if got.Reply == nil {
			return
		}
		var reply map[string]string
		if err := json.Unmarshal(got.Reply, &reply); err != nil || len(reply) != 1 {
			t.Fatalf("Reply %q is not a lone challenge", got.Reply)
		}
		if want, ok := oracleString(body, "challenge"); ok && reply["challenge"] != want {
			t.Fatalf("Reply %q, want challenge %q", got.Reply, want)
		}
	})
}
