package webhook

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// benchmarkBody is a 1 KiB JSON event.
func benchmarkBody() []byte {
	head := `{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","type":"event_callback","event_id":"Ev01","data":"`
	tail := `"}`
	return []byte(head + strings.Repeat("x", 1024-len(head)-len(tail)) + tail)
}

// BenchmarkVerify measures each scheme's Verify of a valid 1 KiB request.
func BenchmarkVerify(b *testing.B) {
	body := benchmarkBody()
	const now = 1700000000
	ts := strconv.Itoa(now)
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := "whpk_" + base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	v1a := "v1a," + base64.StdEncoding.EncodeToString(ed25519.Sign(priv, []byte("msg_1."+ts+"."+string(body))))

	cases := []struct {
		name   string
		v      func() (Verifier, error)
		header http.Header
	}{
		{"standard", func() (Verifier, error) { return asVerifier(NewStandard([]string{stdSecret}, clockAt(now))) },
			headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", stdSign(stdSecret, "msg_1", ts, string(body)))},
		{"standard-v1a", func() (Verifier, error) { return asVerifier(NewStandard([]string{pub}, clockAt(now))) },
			headers("webhook-id", "msg_1", "webhook-timestamp", ts, "webhook-signature", v1a)},
		{"stripe", func() (Verifier, error) { return asVerifier(NewStripe([]string{stripeSecret}, clockAt(now))) },
			headers("Stripe-Signature", "t="+ts+",v1="+stripeSign(stripeSecret, ts, string(body)))},
		{"github", func() (Verifier, error) { return asVerifier(NewGitHub([]string{gitHubSecret})) },
			headers("X-Hub-Signature-256", "sha256="+macHex([]byte(gitHubSecret), string(body)), "X-GitHub-Delivery", gitHubDelivery)},
		{"slack", func() (Verifier, error) { return asVerifier(NewSlack([]string{slackSecret}, clockAt(now))) },
			headers("X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(slackSecret, ts, string(body)))},
		{"teams", func() (Verifier, error) { return asVerifier(NewTeams([]string{teamsSecret})) },
			headers("Authorization", teamsSign(teamsSecret, string(body)))},
		{"hmac", func() (Verifier, error) {
			return asVerifier(NewHMAC(HMACConfig{Secrets: []string{hmacSecret}, Prefix: "sha256="}))
		}, headers("X-Signature-256", "sha256="+macHex([]byte(hmacSecret), string(body)))},
		{"hmac-timestamp", func() (Verifier, error) {
			return asVerifier(NewHMAC(HMACConfig{Secrets: []string{hmacSecret}, TimestampHeader: "X-Timestamp"}, clockAt(now)))
		}, headers("X-Signature-256", macHex([]byte(hmacSecret), ts, ".", string(body)), "X-Timestamp", ts)},
		{"bearer", func() (Verifier, error) { return asVerifier(NewBearer([]string{"a-long-enough-bearer-token"})) },
			headers("Authorization", "Bearer a-long-enough-bearer-token")},
	}
	ctx := context.Background()
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			v, err := c.v()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.Verify(ctx, c.header, body); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, c.header, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
