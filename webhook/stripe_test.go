package webhook

import (
	"strings"
	"testing"
)

// The Stripe vector (computed; Stripe publishes none with a timestamp).
const (
	stripeSecret = "whsec_test_secret"
	stripeTS     = "1614265330"
	stripeNow    = 1614265330
	stripeBody   = `{"id":"evt_test_webhook","object":"event"}`
	stripeV1     = "3c5817089d739023dd6190f70a3757e04f7a2fd8b5dab12c2e000f51970dccff"

	stripeOtherSecret = "whsec_rolled_secret"
)

func newStripeVerifier(secrets []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewStripe(secrets, opts...))
}

// stripeSign is the v1 signature of t.body with secret.
func stripeSign(secret, ts, body string) string {
	return macHex([]byte(secret), ts, ".", body)
}

func stripeRequest(name string, secrets []string, sig, body string, reason Reason, id string) verifyCase {
	c := verifyCase{name: name, secrets: secrets, now: stripeNow, header: headers(), body: body, reason: reason, id: id}
	if sig != "" {
		c.header.Set("Stripe-Signature", sig)
	}
	if reason != "" {
		c.field = "Stripe-Signature"
	}
	return c
}

func TestStripe(t *testing.T) {
	one := []string{stripeSecret}
	const evt = "evt_test_webhook"
	vector := "t=" + stripeTS + ",v1=" + stripeV1
	bad := "v1=" + stripeSign(stripeOtherSecret, stripeTS, stripeBody)
	v0 := "v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"
	signedAt := func(ts string) string { return "t=" + ts + ",v1=" + stripeSign(stripeSecret, ts, stripeBody) }
	cases := []verifyCase{
		stripeRequest("computed vector", one, vector, stripeBody, "", evt),
		stripeRequest("with v0 and a bad v1", one, "t="+stripeTS+","+bad+",v1="+stripeV1+","+v0, stripeBody, "", evt),
		stripeRequest("undecodable v1 skipped", one, "t="+stripeTS+",v1=zz,v1="+stripeV1, stripeBody, "", evt),
		stripeRequest("uppercase hex", one, "t="+stripeTS+",v1="+strings.ToUpper(stripeV1), stripeBody, "", evt),
		stripeRequest("rotation: old secret", []string{stripeSecret, stripeOtherSecret}, vector, stripeBody, "", evt),
		stripeRequest("rotation: new secret", []string{stripeOtherSecret, stripeSecret}, vector, stripeBody, "", evt),
		stripeRequest("rotation: both signatures sent", []string{stripeOtherSecret}, vector+","+bad, stripeBody, "", evt),
		stripeRequest("body without id", one, signedAtBody(stripeTS, `{"object":"event"}`), `{"object":"event"}`, "", ""),
		stripeRequest("id not a string", one, signedAtBody(stripeTS, `{"id":42,"data":{"id":"x"}}`), `{"id":42,"data":{"id":"x"}}`, "", ""),
		stripeRequest("nested id only", one, signedAtBody(stripeTS, `{"data":{"object":{"id":"ch_1"}}}`), `{"data":{"object":{"id":"ch_1"}}}`, "", ""),
		stripeRequest("body not JSON", one, signedAtBody(stripeTS, `id=evt_1`), `id=evt_1`, "", ""),
		stripeRequest("at the edge of the tolerance", one, signedAt("1614265030"), stripeBody, "", evt),

		stripeRequest("flipped body", one, vector, flipBit(stripeBody, 0), ReasonBadSignature, ""),
		stripeRequest("flipped signature", one, "t="+stripeTS+",v1="+flipHex(stripeV1), stripeBody, ReasonBadSignature, ""),
		stripeRequest("flipped timestamp", one, "t="+flipBit(stripeTS, 8*(len(stripeTS)-1))+",v1="+stripeV1, stripeBody, ReasonBadSignature, ""),
		stripeRequest("flipped secret", []string{flipBit(stripeSecret, 8*(len(stripeSecret)-1))}, vector, stripeBody, ReasonBadSignature, ""),
		stripeRequest("secret base64-decoded is wrong", []string{"test_secret"}, vector, stripeBody, ReasonBadSignature, ""),
		stripeRequest("only v0", one, "t="+stripeTS+","+v0, stripeBody, ReasonUnknownVersion, ""),
		stripeRequest("v1 only in an unknown scheme", one, "t="+stripeTS+",v2="+stripeV1, stripeBody, ReasonUnknownVersion, ""),
		stripeRequest("no v1 decodes", one, "t="+stripeTS+",v1=abc", stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("no timestamp", one, "v1="+stripeV1, stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("two timestamps", one, "t=1,t="+stripeTS+",v1="+stripeV1, stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("timestamp not a number", one, "t=16142653x0,v1="+stripeV1, stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("entry without =", one, vector+",v0", stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("trailing comma", one, vector+",", stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("too many entries", one, "t="+stripeTS+strings.Repeat(",v1="+stripeV1, 20), stripeBody, ReasonMalformedHeader, ""),
		stripeRequest("stale timestamp", one, signedAt("1614265029"), stripeBody, ReasonStaleTimestamp, ""),
		stripeRequest("future timestamp", one, signedAt("1614265631"), stripeBody, ReasonStaleTimestamp, ""),
		stripeRequest("missing header", one, "", stripeBody, ReasonMissingHeader, ""),
	}
	runVerifyCases(t, newStripeVerifier, cases)
}

// signedAtBody is a Stripe-Signature for body at ts.
func signedAtBody(ts, body string) string {
	return "t=" + ts + ",v1=" + stripeSign(stripeSecret, ts, body)
}

func TestStripeVectorAgrees(t *testing.T) {
	if got := stripeSign(stripeSecret, stripeTS, stripeBody); got != stripeV1 {
		t.Errorf("signature = %s, want %s", got, stripeV1)
	}
}

func TestNewStripeRefuses(t *testing.T) {
	checkConstructorRefuses(t, newStripeVerifier, map[string][]string{
		"nil":              nil,
		"no secret":        {},
		"empty secret":     {""},
		"one empty of two": {stripeSecret, ""},
		"line end":         {stripeSecret + "\n"},
		"inner space":      {"whsec_test secret"},
	})
}

func FuzzStripe(f *testing.F) {
	f.Add("t="+stripeTS+",v1="+stripeV1, []byte(stripeBody))
	f.Add("t="+stripeTS+",v1=00,v1="+stripeV1+",v0=00", []byte(stripeBody))
	f.Add("t=,v1=", []byte{})
	v, err := NewStripe([]string{stripeOtherSecret, stripeSecret}, clockAt(stripeNow))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig string, body []byte) {
		got, err := verifyErr(t, v, headers("Stripe-Signature", sig), body)
		if err != nil {
			return
		}
		if want, ok := oracleString(body, "id"); ok && got.DeliveryID != want {
			t.Fatalf("DeliveryID = %q, want %q", got.DeliveryID, want)
		}
		// Accepted: a v1 entry must be the MAC of t.body under a secret.
		var ts string
		var v1s []string
		for part := range strings.SplitSeq(strings.TrimSpace(sig), ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "t":
				ts = val
			case "v1":
				v1s = append(v1s, strings.ToLower(val))
			}
		}
		for _, secret := range []string{stripeSecret, stripeOtherSecret} {
			want := stripeSign(secret, ts, string(body))
			for _, s := range v1s {
				if s == want {
					return
				}
			}
		}
		t.Fatalf("accepted %q with no valid v1 signature", sig)
	})
}
