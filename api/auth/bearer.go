package auth

import (
	"net/http"
	"strings"
	"unicode/utf8"
)

// MaxTokenLength bounds the bearer token that Bearer accepts, in bytes.
const MaxTokenLength = 8 << 10

// MaxSubjectLength bounds a subject, in bytes.
const MaxSubjectLength = 200

// Bearer returns the token of the request's "Authorization: Bearer <token>"
// header. The scheme is matched without regard to case (RFC 9110, section
// 11.1) and the token must be a single token68 (RFC 6750, section 2.1) of at
// most MaxTokenLength bytes.
//
// It fails with ErrNoCredentials when there is no Authorization header or
// its scheme is not Bearer, and with ErrInvalidToken when the header holds
// no token, several tokens, a token too long or of characters a token may
// not hold, or when the request has several Authorization headers.
func Bearer(r *http.Request) (string, error) {
	values := r.Header.Values("Authorization")
	switch {
	case len(values) == 0:
		return "", noCredentials("no authorization header")
	case len(values) > 1:
		return "", invalid("several authorization headers")
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", noCredentials("authorization scheme is not Bearer")
	}
	tok := strings.TrimLeft(rest, " ")
	switch {
	case tok == "":
		return "", invalid("no bearer token")
	case len(tok) > MaxTokenLength:
		return "", invalid("bearer token too long")
	case !isToken68(tok):
		return "", invalid("malformed bearer token")
	}
	return tok, nil
}

// isToken68 reports whether s is a token68: 1*( ALPHA / DIGIT / "-" / "." /
// "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// checkSubject returns why subject may not name a principal, or "" when it
// may: it must be non-empty, at most MaxSubjectLength bytes of UTF-8, and
// hold no control character.
func checkSubject(subject string) string {
	switch {
	case subject == "":
		return "must not be empty"
	case len(subject) > MaxSubjectLength:
		return "must be at most 200 bytes"
	case !utf8.ValidString(subject):
		return "must be UTF-8"
	case strings.ContainsFunc(subject, func(r rune) bool { return r < ' ' || (r >= 0x7f && r < 0xa0) }):
		return "must not hold control characters"
	}
	return ""
}
