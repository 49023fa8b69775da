package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// stripe-node's published HMAC-SHA256 vectors (key "test_secret", no
// timestamp), which the generic scheme signs as they are.
const hmacSecret = "test_secret"

var hmacVectors = []struct{ name, body, mac string }{
	{"empty body", "", "f7f9bd47fb987337b5796fdc1fdb9ba221d0d5396814bfcaf9521f43fd8927fd"},
	{"JSON body", `{"obj1":"hello","obj2":"world"}`, "bebb1a643997f419b315ddba19e6f5411e1ce7f810ba6d3617ce72823092f363"},
	{"emoji body", "\U0001F600", "837da296d05c4fe31f61d5d7ead035099d9585a5bcde87de952012a78f0b0c43"},
}

// newHMACVerifier builds NewHMAC's verifier from cfg with the secrets.
func newHMACVerifier(cfg HMACConfig) newVerifierFunc {
	return func(secrets []string, opts ...Option) (Verifier, error) {
		cfg.Secrets = secrets
		return asVerifier(NewHMAC(cfg, opts...))
	}
}

func hexToBase64(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func TestHMACVectors(t *testing.T) {
	configs := []struct {
		name   string
		cfg    HMACConfig
		header string
		value  func(mac string) string
	}{
		{"defaults", HMACConfig{}, "X-Signature-256", func(mac string) string { return mac }},
		{"sha256= prefix", HMACConfig{Prefix: "sha256="}, "X-Signature-256", func(mac string) string { return "sha256=" + mac }},
		{"GitHub-style", HMACConfig{Header: "X-Hub-Signature-256", Prefix: "sha256="}, "X-Hub-Signature-256", func(mac string) string { return "sha256=" + mac }},
		{"base64", HMACConfig{Header: "X-Webhook-Signature", Encoding: EncodingBase64}, "X-Webhook-Signature", hexToBase64},
	}
	for _, c := range configs {
		var cases []verifyCase
		for _, vec := range hmacVectors {
			cases = append(cases,
				verifyCase{name: vec.name, secrets: []string{hmacSecret}, header: headers(c.header, c.value(vec.mac)), body: vec.body},
				verifyCase{name: vec.name + " flipped", secrets: []string{hmacSecret}, header: headers(c.header, c.value(flipHex(vec.mac))), body: vec.body,
					reason: ReasonBadSignature, field: c.header})
		}
		t.Run(c.name, func(t *testing.T) { runVerifyCases(t, newHMACVerifier(c.cfg), cases) })
	}
}

func TestHMAC(t *testing.T) {
	const (
		header = "X-Signature-256"
		tsName = "X-Signature-Timestamp"
		now    = 1700000000
		ts     = "1700000000"
		body   = `{"obj1":"hello","obj2":"world"}`
		other  = "another secret"
	)
	mac := hmacVectors[1].mac
	one := []string{hmacSecret}
	prefixed := newHMACVerifier(HMACConfig{Prefix: "sha256="})
	timed := newHMACVerifier(HMACConfig{Prefix: "sha256=", TimestampHeader: tsName})
	signedAt := func(at string) []string {
		return []string{tsName, at, header, "sha256=" + macHex([]byte(hmacSecret), at, ".", body)}
	}
	req := func(name string, secrets []string, b string, reason Reason, field string, kv ...string) verifyCase {
		return verifyCase{name: name, secrets: secrets, now: now, header: headers(kv...), body: b, reason: reason, field: field}
	}
	t.Run("prefix", func(t *testing.T) {
		runVerifyCases(t, prefixed, []verifyCase{
			req("uppercase prefix and hex", one, body, "", "", header, "SHA256="+strings.ToUpper(mac)),
			req("rotation: old secret", []string{hmacSecret, other}, body, "", "", header, "sha256="+mac),
			req("rotation: new secret", []string{other, hmacSecret}, body, "", "", header, "sha256="+mac),
			req("flipped body", one, flipBit(body, 0), ReasonBadSignature, header, header, "sha256="+mac),
			req("flipped secret", []string{flipBit(hmacSecret, 0)}, body, ReasonBadSignature, header, header, "sha256="+mac),
			req("other prefix", one, body, ReasonUnknownVersion, header, header, "sha1="+mac),
			req("no prefix", one, body, ReasonUnknownVersion, header, header, mac),
			req("space after prefix", one, body, ReasonMalformedHeader, header, header, "sha256= "+mac),
			req("short", one, body, ReasonMalformedHeader, header, header, "sha256="+mac[:62]),
			req("missing", one, body, ReasonMissingHeader, header),
		})
	})
	t.Run("timestamp", func(t *testing.T) {
		runVerifyCases(t, timed, []verifyCase{
			req("signed now", one, body, "", "", signedAt(ts)...),
			req("at the edge of the tolerance", one, body, "", "", signedAt("1699999700")...),
			req("flipped timestamp", one, body, ReasonBadSignature, header, tsName, flipBit(ts, 8*(len(ts)-1)), header, signedAt(ts)[3]),
			req("body alone signed", one, body, ReasonBadSignature, header, tsName, ts, header, "sha256="+mac),
			req("stale", one, body, ReasonStaleTimestamp, tsName, signedAt("1699999699")...),
			req("future", one, body, ReasonStaleTimestamp, tsName, signedAt("1700000301")...),
			req("not a number", one, body, ReasonMalformedHeader, tsName, tsName, "-1", header, "sha256="+mac),
			req("missing timestamp", one, body, ReasonMissingHeader, tsName, header, "sha256="+mac),
		})
	})
}

func TestNewHMACRefuses(t *testing.T) {
	cases := map[string]HMACConfig{
		"no secret":                    {},
		"empty secret":                 {Secrets: []string{""}},
		"one empty of two":             {Secrets: []string{hmacSecret, ""}},
		"bad header":                   {Secrets: []string{hmacSecret}, Header: "X Signature"},
		"bad timestamp header":         {Secrets: []string{hmacSecret}, TimestampHeader: "X-Time:"},
		"timestamp header is the same": {Secrets: []string{hmacSecret}, TimestampHeader: "x-signature-256"},
		"unknown encoding":             {Secrets: []string{hmacSecret}, Encoding: Encoding(7)},
	}
	for name, cfg := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := NewHMAC(cfg)
			if err == nil || v != nil {
				t.Fatalf("NewHMAC(%+v) = %v, %v", cfg, v, err)
			}
			if strings.Contains(err.Error(), hmacSecret) {
				t.Errorf("error %q holds the secret", err)
			}
		})
	}
}

func FuzzHMAC(f *testing.F) {
	const tsName = "X-Signature-Timestamp"
	f.Add("sha256="+hmacVectors[1].mac, "", []byte(hmacVectors[1].body))
	f.Add("sha256="+macHex([]byte(hmacSecret), "1700000000", ".", "x"), "1700000000", []byte("x"))
	f.Add(hexToBase64(hmacVectors[0].mac), "", []byte{})
	secrets := []string{"another secret", hmacSecret}
	plain, err := NewHMAC(HMACConfig{Secrets: secrets, Prefix: "sha256="})
	if err != nil {
		f.Fatal(err)
	}
	b64, err := NewHMAC(HMACConfig{Secrets: secrets, Encoding: EncodingBase64})
	if err != nil {
		f.Fatal(err)
	}
	timed, err := NewHMAC(HMACConfig{Secrets: secrets, Prefix: "sha256=", TimestampHeader: tsName}, clockAt(1700000000))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		h := headers("X-Signature-256", sig, tsName, ts)
		sig, ts = strings.TrimSpace(sig), strings.TrimSpace(ts)
		// signedBy reports whether mac (raw bytes) is a secret's over parts.
		signedBy := func(mac []byte, parts ...string) bool {
			for _, s := range secrets {
				if string(mac) == string(macOf([]byte(s), parts...)) {
					return true
				}
			}
			return false
		}
		hexMAC := func() []byte {
			if len(sig) < 7 || !strings.EqualFold(sig[:7], "sha256=") {
				return nil
			}
			mac, _ := hex.DecodeString(sig[7:])
			return mac
		}
		if _, err := verifyErr(t, plain, h, body); err == nil && !signedBy(hexMAC(), string(body)) {
			t.Fatalf("hex verifier accepted %q with no valid signature", sig)
		}
		if _, err := verifyErr(t, timed, h, body); err == nil && !signedBy(hexMAC(), ts, ".", string(body)) {
			t.Fatalf("timestamped verifier accepted %q at %q with no valid signature", sig, ts)
		}
		if _, err := verifyErr(t, b64, h, body); err == nil {
			mac, _ := base64.RawStdEncoding.DecodeString(strings.TrimRight(sig, "="))
			if !signedBy(mac, string(body)) {
				t.Fatalf("base64 verifier accepted %q with no valid signature", sig)
			}
		}
	})
}
