package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/heraldhq/herald/scheduler"
)

// TokenPrefix begins every token that GenerateToken makes, so that a leaked
// Herald token can be recognised (by a secret scanner, say).
const TokenPrefix = "hrld_"

// hashPrefix begins a hash as ParseHash reads it and FormatHash writes it.
const hashPrefix = "sha256:"

// Token is a static bearer token as configured: who presents it, and the
// SHA-256 digest of its secret (the secret itself is never kept).
type Token struct {
	// Subject is the principal's subject. Required: non-empty, at most
	// MaxSubjectLength bytes of UTF-8, without control characters.
	Subject string
	// Admin makes the principal an admin (role admin); otherwise it is a
	// user (role user).
	Admin bool
	// Hash is the SHA-256 digest of the secret, as HashToken returns or
	// ParseHash reads it. Required.
	Hash [sha256.Size]byte
}

// HashToken returns the SHA-256 digest of secret, the value a Token keeps.
func HashToken(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// ParseHash reads a digest written as "sha256:" followed by 64 hexadecimal
// digits, as configuration files hold it.
func ParseHash(s string) ([sha256.Size]byte, error) {
	var h [sha256.Size]byte
	digits, ok := strings.CutPrefix(s, hashPrefix)
	if !ok || len(digits) != 2*sha256.Size {
		return h, errors.New(`auth: parse hash: must be "sha256:" followed by 64 hexadecimal digits`)
	}
	if _, err := hex.Decode(h[:], []byte(digits)); err != nil {
		return h, errors.New(`auth: parse hash: must be "sha256:" followed by 64 hexadecimal digits`)
	}
	return h, nil
}

// FormatHash writes h as ParseHash reads it: "sha256:" and 64 lowercase
// hexadecimal digits.
func FormatHash(h [sha256.Size]byte) string { return hashPrefix + hex.EncodeToString(h[:]) }

// GenerateToken returns a new secret for a static token: TokenPrefix and 32
// random bytes from crypto/rand, encoded in base64url without padding.
// Configure its HashToken digest, and give the secret to whoever will
// present it.
func GenerateToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("auth: generate token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Tokens authenticates requests bearing one of a fixed set of static
// tokens. It keeps only their digests: the digest of a presented token is
// compared in constant time with every configured digest, so that neither
// the timing nor a lookup structure tells how much of a guess was right.
//
// A Tokens is safe for concurrent use.
type Tokens struct {
	tokens []Token
}

var _ Authenticator = (*Tokens)(nil)

// NewTokens checks tokens and returns their authenticator. Each token needs
// a subject and a non-zero hash, and no two tokens may share a hash (one
// subject may have several tokens, to replace one without downtime). The
// error of a refused token is a *ConfigError naming it, as in
// "tokens[2].subject".
func NewTokens(tokens []Token) (*Tokens, error) {
	if len(tokens) == 0 {
		return nil, badConfig("tokens", "must not be empty")
	}
	var zero [sha256.Size]byte
	for i, t := range tokens {
		field := "tokens[" + strconv.Itoa(i) + "]"
		if rule := checkSubject(t.Subject); rule != "" {
			return nil, badConfig(field+".subject", rule)
		}
		if t.Hash == zero {
			return nil, badConfig(field+".hash", "required")
		}
		for j := range i {
			if tokens[j].Hash == t.Hash {
				return nil, badConfig(field+".hash", "duplicates tokens["+strconv.Itoa(j)+"].hash")
			}
		}
	}
	return &Tokens{tokens: append([]Token(nil), tokens...)}, nil
}

// Authenticate implements Authenticator: the principal is the subject and
// role of the configured token that the request bears. A token that matches
// none fails with ErrInvalidToken.
func (t *Tokens) Authenticate(r *http.Request) (scheduler.Principal, error) {
	secret, err := Bearer(r)
	if err != nil {
		return scheduler.Principal{}, err
	}
	i, _ := t.match(HashToken(secret))
	if i < 0 {
		return scheduler.Principal{}, invalid("unknown token")
	}
	return scheduler.Principal{Subject: t.tokens[i].Subject, Admin: t.tokens[i].Admin}, nil
}

// match returns the index of the token whose hash is sum, or -1, and how
// many hashes it compared: always all of them, in constant time each, with
// no branch on the outcome.
func (t *Tokens) match(sum [sha256.Size]byte) (index, compared int) {
	index = -1
	for i := range t.tokens {
		eq := subtle.ConstantTimeCompare(sum[:], t.tokens[i].Hash[:])
		index = subtle.ConstantTimeSelect(eq, i, index)
		compared++
	}
	return index, compared
}
