package webhook

import "testing"

func newBearerVerifier(tokens []string, opts ...Option) (Verifier, error) {
	return asVerifier(NewBearer(tokens, opts...))
}

func TestBearer(t *testing.T) {
	const tok, other = "s3cr3t-t0ken-value", "n3w-t0ken-value-longer"
	req := func(name string, tokens []string, reason Reason, kv ...string) verifyCase {
		c := verifyCase{name: name, secrets: tokens, header: headers(kv...), reason: reason}
		if reason != "" {
			c.field = "Authorization"
		}
		return c
	}
	one := []string{tok}
	runVerifyCases(t, newBearerVerifier, []verifyCase{
		req("token", one, "", "Authorization", "Bearer "+tok),
		req("lowercase scheme", one, "", "Authorization", "bearer "+tok),
		req("rotation: old token", []string{tok, other}, "", "Authorization", "Bearer "+tok),
		req("rotation: new token", []string{other, tok}, "", "Authorization", "Bearer "+tok),
		req("flipped token", one, ReasonBadToken, "Authorization", "Bearer "+flipBit(tok, 0)),
		req("prefix of the token", one, ReasonBadToken, "Authorization", "Bearer "+tok[:len(tok)-1]),
		req("token and more", one, ReasonBadToken, "Authorization", "Bearer "+tok+"x"),
		req("other scheme", one, ReasonUnknownVersion, "Authorization", "Basic "+tok),
		req("no token", one, ReasonMalformedHeader, "Authorization", "Bearer"),
		req("missing header", one, ReasonMissingHeader),
		req("header twice", one, ReasonMalformedHeader, "Authorization", "Bearer "+tok, "Authorization", "Bearer "+tok),
	})
}

func TestNewBearerRefuses(t *testing.T) {
	checkConstructorRefuses(t, newBearerVerifier, map[string][]string{
		"nil":              nil,
		"no token":         {},
		"empty token":      {""},
		"one empty of two": {"a-token-value", ""},
		"white space":      {"a token value"},
		"line end":         {"a-token-value\n"},
	})
}
