package webhook

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"
)

// The Standard Webhooks vectors: the spec libraries' published v1 vector,
// and a v1a one computed with RFC 8032's first test key over the same
// content.
const (
	stdSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	stdID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	stdTS     = "1614265330"
	stdNow    = 1614265330
	stdBody   = `{"test": 2432232314}`
	stdSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

	stdPublicKey  = "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
	stdSigningKey = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg=="
	stdSigV1a     = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw=="

	// Another secret, for rotation.
	stdOtherSecret = "whsec_c2Vjb25kLXNlY3JldC1mb3Itcm90YXRpb24="
)

func newStandardVerifier(secrets []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewStandard(secrets, opts...))
}

// stdHeaders is the vector's headers with sig as the signature.
func stdHeaders(id, ts, sig string) map[string]string {
	return map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig}
}

// stdKey is the HMAC key of a whsec_ secret.
func stdKey(secret string) []byte {
	k, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		panic(err)
	}
	return k
}

// stdSign is the v1 entry of id.ts.body signed with secret.
func stdSign(secret, id, ts, body string) string {
	return "v1," + macBase64(stdKey(secret), id, ".", ts, ".", body)
}

func stdRequest(name string, secrets []string, h map[string]string, body string, reason Reason, field string) verifyCase {
	c := verifyCase{name: name, secrets: secrets, now: stdNow, header: headers(), body: body, reason: reason, field: field}
	for k, v := range h {
		c.header.Set(k, v)
	}
	if reason == "" {
		c.id = c.header.Get("webhook-id")
		if c.id == "" {
			c.id = c.header.Get("svix-id")
		}
	}
	return c
}

func TestStandard(t *testing.T) {
	flippedKey := stdKey(stdSecret)
	flippedKey[0] ^= 1
	flippedSecret := "whsec_" + base64.StdEncoding.EncodeToString(flippedKey)
	one := []string{stdSecret}
	both := []string{stdSecret, stdPublicKey}
	const sigHeader = "Webhook-Signature"
	bad := "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
	cases := []verifyCase{
		stdRequest("published vector", one, stdHeaders(stdID, stdTS, stdSig), stdBody, "", ""),
		stdRequest("secret without whsec_", []string{strings.TrimPrefix(stdSecret, "whsec_")}, stdHeaders(stdID, stdTS, stdSig), stdBody, "", ""),
		stdRequest("svix headers", one, map[string]string{"svix-id": stdID, "svix-timestamp": stdTS, "svix-signature": stdSig}, stdBody, "", ""),
		stdRequest("v1a vector", []string{stdPublicKey}, stdHeaders(stdID, stdTS, stdSigV1a), stdBody, "", ""),
		stdRequest("v1a with both kinds of keys", both, stdHeaders(stdID, stdTS, bad+" "+stdSigV1a), stdBody, "", ""),
		stdRequest("v1 with both kinds of keys", both, stdHeaders(stdID, stdTS, stdSig+" "+stdSigV1a), stdBody, "", ""),
		stdRequest("rotation: old secret", []string{stdSecret, stdOtherSecret}, stdHeaders(stdID, stdTS, stdSig), stdBody, "", ""),
		stdRequest("rotation: new secret", []string{stdOtherSecret, stdSecret}, stdHeaders(stdID, stdTS, stdSig), stdBody, "", ""),
		stdRequest("rotation: both signatures sent", []string{stdOtherSecret},
			stdHeaders(stdID, stdTS, stdSig+" "+stdSign(stdOtherSecret, stdID, stdTS, stdBody)), stdBody, "", ""),
		stdRequest("multi-signature with unknown versions", one,
			stdHeaders(stdID, stdTS, bad+" v2,eA== "+stdSig+" "+bad), stdBody, "", ""),
		stdRequest("v1a ignored without a public key", one, stdHeaders(stdID, stdTS, stdSigV1a+" "+stdSig), stdBody, "", ""),
		stdRequest("unpadded signature", one, stdHeaders(stdID, stdTS, strings.TrimRight(stdSig, "=")), stdBody, "", ""),
		stdRequest("at the edge of the tolerance", one, stdHeaders(stdID, "1614265030", stdSign(stdSecret, stdID, "1614265030", stdBody)), stdBody, "", ""),

		stdRequest("flipped body", one, stdHeaders(stdID, stdTS, stdSig), flipBit(stdBody, 0), ReasonBadSignature, sigHeader),
		stdRequest("flipped signature", one, stdHeaders(stdID, stdTS, "v1,"+flipBase64(stdSig[3:])), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped last character", one, stdHeaders(stdID, stdTS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped timestamp", one, stdHeaders(stdID, flipBit(stdTS, 8*(len(stdTS)-1)), stdSig), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped id", one, stdHeaders(flipBit(stdID, 0), stdTS, stdSig), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped secret", []string{flippedSecret}, stdHeaders(stdID, stdTS, stdSig), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped v1a signature", []string{stdPublicKey}, stdHeaders(stdID, stdTS, "v1a,"+flipBase64(stdSigV1a[4:])), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("flipped v1a body", []string{stdPublicKey}, stdHeaders(stdID, stdTS, stdSigV1a), flipBit(stdBody, 0), ReasonBadSignature, sigHeader),
		stdRequest("wrong signature", one, stdHeaders(stdID, stdTS, bad), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("other secret only", []string{stdOtherSecret}, stdHeaders(stdID, stdTS, stdSig), stdBody, ReasonBadSignature, sigHeader),
		stdRequest("v1 signature with only a public key", []string{stdPublicKey}, stdHeaders(stdID, stdTS, stdSig), stdBody, ReasonUnknownVersion, sigHeader),
		stdRequest("v1a signature with only a secret", one, stdHeaders(stdID, stdTS, stdSigV1a), stdBody, ReasonUnknownVersion, sigHeader),
		stdRequest("only unknown versions", one, stdHeaders(stdID, stdTS, "v2,eA== v1b,eA=="), stdBody, ReasonUnknownVersion, sigHeader),
		stdRequest("partial signature", one, stdHeaders(stdID, stdTS, "v1,"), stdBody, ReasonMalformedHeader, sigHeader),
		stdRequest("signature not base64", one, stdHeaders(stdID, stdTS, "v1,!!!!"), stdBody, ReasonMalformedHeader, sigHeader),
		stdRequest("entry without version", one, stdHeaders(stdID, stdTS, stdSig[3:]), stdBody, ReasonMalformedHeader, sigHeader),
		stdRequest("too many signatures", one, stdHeaders(stdID, stdTS, strings.Repeat(bad+" ", 16)+stdSig), stdBody, ReasonMalformedHeader, sigHeader),
		stdRequest("timestamp not a number", one, stdHeaders(stdID, "1614265330.5", stdSig), stdBody, ReasonMalformedHeader, "Webhook-Timestamp"),
		stdRequest("signed timestamp", one, stdHeaders(stdID, "+"+stdTS, stdSig), stdBody, ReasonMalformedHeader, "Webhook-Timestamp"),
		stdRequest("id with a dot", one, stdHeaders("msg.1", stdTS, stdSign(stdSecret, "msg.1", stdTS, stdBody)), stdBody, ReasonMalformedHeader, "Webhook-Id"),
		stdRequest("stale timestamp", one, stdHeaders(stdID, "1614265029", stdSign(stdSecret, stdID, "1614265029", stdBody)), stdBody, ReasonStaleTimestamp, "Webhook-Timestamp"),
		stdRequest("future timestamp", one, stdHeaders(stdID, "1614265631", stdSign(stdSecret, stdID, "1614265631", stdBody)), stdBody, ReasonStaleTimestamp, "Webhook-Timestamp"),
		stdRequest("no headers", one, nil, stdBody, ReasonMissingHeader, "Webhook-Id"),
		stdRequest("missing id", one, map[string]string{"webhook-timestamp": stdTS, "webhook-signature": stdSig}, stdBody, ReasonMissingHeader, "Webhook-Id"),
		stdRequest("missing timestamp", one, map[string]string{"webhook-id": stdID, "webhook-signature": stdSig}, stdBody, ReasonMissingHeader, "Webhook-Timestamp"),
		stdRequest("missing signature", one, map[string]string{"webhook-id": stdID, "webhook-timestamp": stdTS}, stdBody, ReasonMissingHeader, sigHeader),
		stdRequest("missing svix signature", one, map[string]string{"svix-id": stdID, "svix-timestamp": stdTS}, stdBody, ReasonMissingHeader, "Svix-Signature"),
		stdRequest("empty signature", one, stdHeaders(stdID, stdTS, " "), stdBody, ReasonMissingHeader, sigHeader),
	}
	twice := stdRequest("signature header twice", one, stdHeaders(stdID, stdTS, stdSig), stdBody, ReasonMalformedHeader, sigHeader)
	twice.header.Add("webhook-signature", bad)
	cases = append(cases, twice)
	runVerifyCases(t, newStandardVerifier, cases)
}

func TestStandardVectorsAgree(t *testing.T) {
	// The v1a vector's signature is the signing key's over the same
	// content, and the v1 vector's is what stdSign computes.
	seedAndPub, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(stdSigningKey, "whsk_"))
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(ed25519.PrivateKey(seedAndPub), []byte(stdID+"."+stdTS+"."+stdBody))
	if got := "v1a," + base64.StdEncoding.EncodeToString(sig); got != stdSigV1a {
		t.Errorf("v1a signature = %s, want %s", got, stdSigV1a)
	}
	if got := stdSign(stdSecret, stdID, stdTS, stdBody); got != stdSig {
		t.Errorf("v1 signature = %s, want %s", got, stdSig)
	}
}

func TestNewStandardRefuses(t *testing.T) {
	checkConstructorRefuses(t, newStandardVerifier, map[string][]string{
		"nil":                  nil,
		"no secret":            {},
		"empty secret":         {""},
		"empty after whsec_":   {"whsec_"},
		"one empty of two":     {stdSecret, ""},
		"bad whsec base64":     {"whsec_MfKQ9r8GKYqrTwjUPD8I!PZIo2LaLaSw"},
		"bad base64 no prefix": {"not base64 at all"},
		"short public key":     {"whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
		"bad public key":       {"whpk_!!!"},
		"signing key":          {stdSigningKey},
	})
}

func FuzzStandard(f *testing.F) {
	f.Add(stdID, stdTS, stdSig, []byte(stdBody), false)
	f.Add(stdID, stdTS, stdSigV1a+" "+stdSig, []byte(stdBody), true)
	f.Add(stdID, stdTS, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,eA== "+stdSig, []byte(stdBody), false)
	f.Add("", "", "", []byte{}, false)
	v, err := NewStandard([]string{stdOtherSecret, stdSecret, stdPublicKey}, clockAt(stdNow))
	if err != nil {
		f.Fatal(err)
	}
	pub, _ := decodeBase64Secret(strings.TrimPrefix(stdPublicKey, "whpk_"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte, svix bool) {
		prefix := "webhook-"
		if svix {
			prefix = "svix-"
		}
		h := headers(prefix+"id", id, prefix+"timestamp", ts, prefix+"signature", sig)
		got, err := verifyErr(t, v, h, body)
		if err != nil {
			return
		}
		// Accepted: the header must hold a signature made with one of the
		// keys over the headers as the verifier read them.
		id, ts = strings.TrimSpace(id), strings.TrimSpace(ts)
		if got.DeliveryID != id {
			t.Fatalf("DeliveryID = %q, want %q", got.DeliveryID, id)
		}
		signed := id + "." + ts + "." + string(body)
		want := map[string]bool{
			stdSign(stdSecret, id, ts, string(body)):      true,
			stdSign(stdOtherSecret, id, ts, string(body)): true,
		}
		for entry := range strings.FieldsSeq(sig) {
			version, enc, _ := strings.Cut(entry, ",")
			raw, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
			if err != nil {
				continue
			}
			canonical := version + "," + base64.StdEncoding.EncodeToString(raw)
			if version == "v1" && want[canonical] {
				return
			}
			if version == "v1a" && len(raw) == ed25519.SignatureSize && ed25519.Verify(pub, []byte(signed), raw) {
				return
			}
		}
		t.Fatalf("accepted %q with no valid signature over %q", sig, signed)
	})
}
