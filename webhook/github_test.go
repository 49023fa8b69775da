package webhook

import (
	"strings"
	"testing"
)

// GitHub's published vector.
const (
	gitHubSecret   = "It's a Secret to Everybody"
	gitHubBody     = "Hello, World!"
	gitHubSig      = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
	gitHubDelivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

	gitHubOtherSecret = "a new secret"
)

func newGitHubVerifier(secrets []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewGitHub(secrets, opts...))
}

func gitHubRequest(name string, secrets []string, body string, reason Reason, field string, kv ...string) verifyCase {
	c := verifyCase{name: name, secrets: secrets, header: headers(kv...), body: body, reason: reason, field: field}
	if reason == "" {
		c.id = c.header.Get("X-GitHub-Delivery")
	}
	return c
}

func TestGitHub(t *testing.T) {
	one := []string{gitHubSecret}
	const sigHeader = "X-Hub-Signature-256"
	sha1 := "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"
	cases := []verifyCase{
		gitHubRequest("published vector", one, gitHubBody, "", "", sigHeader, gitHubSig, "X-GitHub-Delivery", gitHubDelivery),
		gitHubRequest("without delivery id", one, gitHubBody, "", "", sigHeader, gitHubSig),
		gitHubRequest("SHA-1 header too", one, gitHubBody, "", "", sigHeader, gitHubSig, "X-Hub-Signature", "sha1=0000"),
		gitHubRequest("uppercase hex", one, gitHubBody, "", "", sigHeader, "sha256="+strings.ToUpper(gitHubSig[7:])),
		gitHubRequest("rotation: old secret", []string{gitHubSecret, gitHubOtherSecret}, gitHubBody, "", "", sigHeader, gitHubSig),
		gitHubRequest("rotation: new secret", []string{gitHubOtherSecret, gitHubSecret}, gitHubBody, "", "", sigHeader, gitHubSig),
		gitHubRequest("lowercase header name", one, gitHubBody, "", "", "x-hub-signature-256", gitHubSig),

		gitHubRequest("only the SHA-1 header", one, gitHubBody, ReasonMissingHeader, sigHeader, "X-Hub-Signature", sha1),
		gitHubRequest("missing header", one, gitHubBody, ReasonMissingHeader, sigHeader, "X-GitHub-Delivery", gitHubDelivery),
		gitHubRequest("flipped body", one, flipBit(gitHubBody, 0), ReasonBadSignature, sigHeader, sigHeader, gitHubSig),
		gitHubRequest("flipped signature", one, gitHubBody, ReasonBadSignature, sigHeader, sigHeader, "sha256="+flipHex(gitHubSig[7:])),
		gitHubRequest("flipped secret", []string{flipBit(gitHubSecret, 0)}, gitHubBody, ReasonBadSignature, sigHeader, sigHeader, gitHubSig),
		gitHubRequest("other secret only", []string{gitHubOtherSecret}, gitHubBody, ReasonBadSignature, sigHeader, sigHeader, gitHubSig),
		gitHubRequest("SHA-1 value in the SHA-256 header", one, gitHubBody, ReasonUnknownVersion, sigHeader, sigHeader, sha1),
		gitHubRequest("no prefix", one, gitHubBody, ReasonUnknownVersion, sigHeader, sigHeader, gitHubSig[7:]),
		gitHubRequest("short hex", one, gitHubBody, ReasonMalformedHeader, sigHeader, sigHeader, gitHubSig[:len(gitHubSig)-2]),
		gitHubRequest("not hex", one, gitHubBody, ReasonMalformedHeader, sigHeader, sigHeader, "sha256="+strings.Repeat("g", 64)),
		gitHubRequest("header twice", one, gitHubBody, ReasonMalformedHeader, sigHeader, sigHeader, gitHubSig, sigHeader, gitHubSig),
	}
	runVerifyCases(t, newGitHubVerifier, cases)
}

func TestNewGitHubRefuses(t *testing.T) {
	checkConstructorRefuses(t, newGitHubVerifier, map[string][]string{
		"nil":              nil,
		"no secret":        {},
		"empty secret":     {""},
		"one empty of two": {gitHubSecret, ""},
	})
}

func FuzzGitHub(f *testing.F) {
	f.Add(gitHubSig, "", []byte(gitHubBody))
	f.Add("", "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59", []byte(gitHubBody))
	f.Add("sha256=", "", []byte{})
	v, err := NewGitHub([]string{gitHubOtherSecret, gitHubSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, sig256, sig1 string, body []byte) {
		h := headers("X-Hub-Signature-256", sig256, "X-Hub-Signature", sig1, "X-GitHub-Delivery", "d")
		got, err := verifyErr(t, v, h, body)
		if err != nil {
			return
		}
		if got.DeliveryID != "d" {
			t.Fatalf("DeliveryID = %q", got.DeliveryID)
		}
		value := strings.ToLower(strings.TrimSpace(sig256))
		for _, secret := range []string{gitHubSecret, gitHubOtherSecret} {
			if value == "sha256="+macHex([]byte(secret), string(body)) {
				return
			}
		}
		t.Fatalf("accepted %q (SHA-1 %q) with no valid signature", sig256, sig1)
	})
}
