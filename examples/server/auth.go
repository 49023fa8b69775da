package main

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/heraldhq/herald/scheduler"
)

// authConfig is the auth: section: who may call the REST API. A request
// carries a bearer token: one of Tokens, or a JWT that JWT verifies. Its
// subject is the principal: the owner of what it creates, and the key of
// its rate limit.
//
//	auth:
//	  tokens:
//	    - {subject: ops, role: admin, token: "${HERALD_ADMIN_TOKEN}"}
//	    - {subject: alice, role: user, token_sha256: "sha256:9f86d0…"}
//	  jwt: {jwks_url: https://id.example.com/.well-known/jwks.json, issuer: https://id.example.com/, audience: herald}
type authConfig struct {
	// Tokens are static bearer tokens.
	Tokens []tokenConfig `yaml:"tokens"`
	// JWT, when set, also accepts JWTs.
	JWT *jwtConfig `yaml:"jwt"`
}

// tokenConfig is one static bearer token. Exactly one of Token and
// TokenSHA256 is set; either way the server keeps and compares only the
// token's SHA-256.
type tokenConfig struct {
	// Subject is the principal the token stands for. Required.
	Subject string `yaml:"subject"`
	// Role is admin (reads and changes everything) or user (only what
	// its subject owns). Required.
	Role string `yaml:"role"`
	// Token is the token itself, at least 16 characters (openssl rand
	// -hex 32); put it in an environment variable: "${HERALD_ADMIN_TOKEN}".
	Token string `yaml:"token"`
	// TokenSHA256 is the token's hash instead: "sha256:" and 64 hex digits
	// (printf %s "$TOKEN" | sha256sum), so that the file holds no secret.
	TokenSHA256 string `yaml:"token_sha256"`
}

// jwtConfig accepts JWTs signed with a shared secret (HS256) or by the
// keys of a JWKS URL (RS256, ES256…): exactly one of Secret and JWKSURL.
type jwtConfig struct {
	// Secret is the HS256 key, at least 32 bytes.
	Secret string `yaml:"secret"`
	// JWKSURL is the identity provider's JWKS, an https URL (http for a
	// loopback host only).
	JWKSURL string `yaml:"jwks_url"`
	// Issuer must equal the token's iss claim. Required.
	Issuer string `yaml:"issuer"`
	// Audience must be in the token's aud claim. Required: the provider's
	// keys may sign tokens for other applications too.
	Audience string `yaml:"audience"`
	// SubjectClaim names the claim holding the subject; empty means
	// jwtSubjectClaimDefault ("sub").
	SubjectClaim string `yaml:"subject_claim"`
	// RoleClaim names the claim holding the role, admin or user; empty
	// means jwtRoleClaimDefault ("role"). A token without it is a user.
	RoleClaim string `yaml:"role_claim"`
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// none. At most jwtLeewayMax.
	Leeway time.Duration `yaml:"leeway"`
}

// Bounds and defaults of the auth: section.
const (
	// tokenMinLen is the shortest static token.
	tokenMinLen = 16
	// jwtSecretMinLen is the shortest HS256 secret: 256 bits.
	jwtSecretMinLen = 32
	// jwtLeewayMax is the largest leeway.
	jwtLeewayMax = 5 * time.Minute
	// jwtSubjectClaimDefault and jwtRoleClaimDefault are the claims read
	// when the config names none.
	jwtSubjectClaimDefault = "sub"
	jwtRoleClaimDefault    = "role"
)

// Roles of a principal.
const (
	roleAdmin = "admin"
	roleUser  = "user"
)

// tokenHashPrefix starts a token_sha256.
const tokenHashPrefix = "sha256:"

func (c authConfig) check(p *problems, path string) {
	seen := map[[sha256.Size]byte]string{} // hash → path of the token
	for i, t := range c.Tokens {
		tp := index(key(path, "tokens"), i)
		if t.Subject == "" {
			p.add(key(tp, "subject"), "required")
		} else {
			checkName(p, key(tp, "subject"), t.Subject)
		}
		switch t.Role {
		case roleAdmin:
		case roleUser:
			if t.Subject == scheduler.StaticOwner {
				p.addf(key(tp, "subject"), "%s owns the static schedules: a user may not be it", scheduler.StaticOwner)
			}
		case "":
			p.add(key(tp, "role"), "required: admin or user")
		default:
			p.add(key(tp, "role"), "must be admin or user")
		}
		var sum [sha256.Size]byte
		var at string
		switch {
		case t.Token != "" && t.TokenSHA256 != "":
			p.add(tp, "token and token_sha256 exclude each other")
			continue
		case t.Token != "":
			at = key(tp, "token")
			switch {
			case len(t.Token) < tokenMinLen:
				p.addf(at, "must be at least %d characters (openssl rand -hex 32 makes one)", tokenMinLen)
				continue
			case strings.IndexFunc(t.Token, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }) >= 0:
				p.add(at, "must not hold white space or control characters")
				continue
			}
			sum = sha256.Sum256([]byte(t.Token))
		case t.TokenSHA256 != "":
			at = key(tp, "token_sha256")
			h, ok := parseTokenHash(t.TokenSHA256)
			if !ok {
				p.add(at, `must be "sha256:" and 64 hex digits (printf %s "$TOKEN" | sha256sum)`)
				continue
			}
			sum = h
		default:
			p.add(key(tp, "token"), "required: token or token_sha256")
			continue
		}
		if first, dup := seen[sum]; dup {
			p.addf(at, "same token as %s", first)
			continue
		}
		seen[sum] = tp
	}
	if c.JWT != nil {
		c.JWT.check(p, key(path, "jwt"))
	}
}

// parseTokenHash parses "sha256:<64 hex digits>".
func parseTokenHash(s string) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	rest, ok := strings.CutPrefix(s, tokenHashPrefix)
	if !ok || len(rest) != hex.EncodedLen(sha256.Size) {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(rest)); err != nil {
		return sum, false
	}
	return sum, true
}

func (c jwtConfig) check(p *problems, path string) {
	switch {
	case c.Secret == "" && c.JWKSURL == "":
		p.add(path, "needs secret or jwks_url")
	case c.Secret != "" && c.JWKSURL != "":
		p.add(key(path, "jwks_url"), "excludes secret: a JWT is verified one way")
	case c.Secret != "":
		if len(c.Secret) < jwtSecretMinLen {
			p.addf(key(path, "secret"), "must be at least %d bytes (openssl rand -hex 32 makes one)", jwtSecretMinLen)
		}
	default:
		if !secureURL(c.JWKSURL) {
			p.add(key(path, "jwks_url"), "must be an https URL (http only for a loopback host)")
		}
	}
	if c.Issuer == "" {
		p.add(key(path, "issuer"), "required: the token's iss claim must name it")
	}
	if c.Audience == "" {
		p.add(key(path, "audience"), "required: the token's aud claim must name it (a key may sign tokens for other applications too)")
	}
	for _, claim := range []struct{ key, v string }{{"subject_claim", c.SubjectClaim}, {"role_claim", c.RoleClaim}} {
		if strings.ContainsFunc(claim.v, unicode.IsSpace) {
			p.add(key(path, claim.key), "must be a claim name, without white space")
		}
	}
	if c.SubjectClaim != "" && c.SubjectClaim == c.RoleClaim {
		p.add(key(path, "role_claim"), "must differ from subject_claim")
	}
	if c.Leeway < 0 || c.Leeway > jwtLeewayMax {
		p.addf(key(path, "leeway"), "must be between 0 and %v", jwtLeewayMax)
	}
}

// secureURL reports whether s is an absolute https URL, or an http one
// to a loopback host.
func secureURL(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		ip := net.ParseIP(h)
		return h == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}
