package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-kit/log"
	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/scheduler"
)

// JWT defaults and bounds (see JWTConfig).
const (
	// JWTRefreshIntervalDefault is how often the JWKS is fetched again.
	JWTRefreshIntervalDefault = time.Hour
	// JWTRefreshIntervalMin is the shortest RefreshInterval accepted.
	JWTRefreshIntervalMin = time.Minute
	// JWTRefetchIntervalDefault is the least time between two fetches of
	// the JWKS that tokens with an unknown key trigger.
	JWTRefetchIntervalDefault = time.Minute
	// JWTRefetchIntervalMin is the shortest RefetchInterval accepted.
	JWTRefetchIntervalMin = time.Second
	// JWTLeewayDefault is the clock skew allowed on exp, nbf and iat.
	JWTLeewayDefault = 30 * time.Second
	// JWTLeewayMax is the largest Leeway accepted.
	JWTLeewayMax = 5 * time.Minute
	// JWTSubjectClaimDefault is the claim naming the principal.
	JWTSubjectClaimDefault = "sub"
	// JWTRoleClaimDefault is the claim holding the role or roles.
	JWTRoleClaimDefault = "role"
	// AdminRoleDefault is the role that makes a principal an admin.
	AdminRoleDefault = "admin"
	// UserRoleDefault is the role of a principal that is not an admin.
	UserRoleDefault = "user"
	// JWTHTTPTimeoutDefault bounds each fetch of the JWKS.
	JWTHTTPTimeoutDefault = 10 * time.Second
	// JWTSecretMinLength is the least length of an HS256 secret, in bytes
	// (RFC 7518, section 3.2).
	JWTSecretMinLength = 32
)

// jwtSecretMethods and jwtJWKSMethods are the only algorithms accepted:
// never none, and never HMAC with keys from a JWKS, which would make a
// public key a shared secret.
var (
	jwtSecretMethods = []string{"HS256"}
	jwtJWKSMethods   = []string{"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"}
)

// JWTConfig configures NewJWT. Zero values mean the defaults. Exactly one
// of Secret and JWKSURL must be set.
type JWTConfig struct {
	// Secret is the shared secret of HS256-signed tokens, at least
	// JWTSecretMinLength bytes. Only HS256 is then accepted.
	Secret []byte
	// JWKSURL is where the signing keys are published as a JSON Web Key
	// Set; tokens must then be signed with RS256, RS384, RS512, PS256,
	// ES256, ES384 or EdDSA by one of its keys (RSA keys of at least 2048
	// bits). It must be https, or http on a loopback host, unless
	// AllowInsecureJWKSURL is set.
	JWKSURL string
	// AllowInsecureJWKSURL lets JWKSURL be http on any host. Whoever can
	// alter the traffic can then sign tokens.
	AllowInsecureJWKSURL bool
	// RefreshInterval is how often the JWKS is fetched again, the keys
	// being kept while a fetch fails. Default JWTRefreshIntervalDefault; at
	// least JWTRefreshIntervalMin. After a failed fetch the next one comes
	// after RefetchInterval instead.
	RefreshInterval time.Duration
	// RefetchInterval is the least time between two fetches of the JWKS
	// caused by tokens whose key (kid) is not cached, which is how a new
	// key is picked up before the next refresh. Meanwhile such tokens are
	// refused at once. Default JWTRefetchIntervalDefault; at least
	// JWTRefetchIntervalMin.
	RefetchInterval time.Duration
	// StartWithoutKeys lets NewJWT succeed when its first fetch of the JWKS
	// fails: tokens are then refused with ErrUnavailable until a fetch
	// succeeds. By default NewJWT fails instead, so that a wrong URL is
	// found at start.
	StartWithoutKeys bool
	// Issuer must equal each token's iss claim. Required.
	Issuer string
	// Audience must be in each token's aud claim. Required.
	Audience string
	// SubjectClaim names the claim whose string value is the principal's
	// subject: non-empty, at most MaxSubjectLength bytes of UTF-8, without
	// control characters. Default JWTSubjectClaimDefault.
	SubjectClaim string
	// RoleClaim names the claim holding the principal's role, as a string
	// or an array of strings. With AdminRole among them the principal is an
	// admin; otherwise with UserRole among them, or without the claim, a
	// user; otherwise the token is refused ("role not allowed"). Default
	// JWTRoleClaimDefault.
	RoleClaim string
	// AdminRole is the role of admins. Default AdminRoleDefault.
	AdminRole string
	// UserRole is the role of users. Default UserRoleDefault.
	UserRole string
	// Leeway is the clock skew allowed when checking exp, nbf and iat.
	// Default JWTLeewayDefault; at most JWTLeewayMax.
	Leeway time.Duration
	// HTTPClient fetches the JWKS. Default: a client without keep-alives
	// and with a timeout of JWTHTTPTimeoutDefault. Each fetch is bounded by
	// JWTHTTPTimeoutDefault whatever the client.
	HTTPClient *http.Client
	// Clock tells the time, for tests. Default clock.System.
	Clock clock.Clock
	// Logger receives the JWKS fetch failures and skipped keys, never a
	// token. Default: no logging.
	Logger log.Logger
}

// JWT authenticates requests bearing a JSON Web Token: it checks the
// signature (with an algorithm of an explicit list), that exp is present
// and not past, nbf and iat, the issuer and the audience, and takes the
// principal from the subject and role claims (see JWTConfig).
//
// With a JWKS, the keys are fetched by NewJWT, again every RefreshInterval
// by a goroutine that Close stops, and when a token names an unknown key,
// at most once per RefetchInterval. A key that can no longer be fetched
// stays in use until a fetch succeeds without it.
//
// A JWT is safe for concurrent use.
type JWT struct {
	parser       *jwt.Parser
	methods      []string
	secret       []byte // with Secret
	keys         *jwks  // with JWKSURL
	subjectClaim string
	roleClaim    string
	adminRole    string
	userRole     string
}

var _ Authenticator = (*JWT)(nil)

// NewJWT checks cfg and returns its authenticator. With a JWKS it fetches
// the keys before returning (failing if it cannot, unless StartWithoutKeys
// is set) and starts refreshing them until ctx is done or Close is called.
// A configuration error is a *ConfigError naming the field, as in
// "jwt.issuer".
func NewJWT(ctx context.Context, cfg JWTConfig) (*JWT, error) {
	if err := checkJWTConfig(&cfg); err != nil {
		return nil, err
	}
	j := &JWT{
		subjectClaim: cfg.SubjectClaim,
		roleClaim:    cfg.RoleClaim,
		adminRole:    cfg.AdminRole,
		userRole:     cfg.UserRole,
	}
	if cfg.Secret != nil {
		j.methods = jwtSecretMethods
		j.secret = slices.Clone(cfg.Secret)
	} else {
		j.methods = jwtJWKSMethods
		keys, err := newJWKS(ctx, cfg)
		if err != nil {
			return nil, err
		}
		j.keys = keys
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(j.methods),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	opts = append(opts, jwt.WithTimeFunc(cfg.Clock.Now))
	j.parser = jwt.NewParser(opts...)
	return j, nil
}

// checkJWTConfig checks cfg and sets its defaults.
func checkJWTConfig(cfg *JWTConfig) error {
	switch {
	case cfg.Secret != nil && cfg.JWKSURL != "":
		return badConfig("jwt.secret", "must not be set together with jwt.jwks_url")
	case cfg.Secret == nil && cfg.JWKSURL == "":
		return badConfig("jwt.secret", "one of jwt.secret and jwt.jwks_url is required")
	case cfg.Secret != nil && len(cfg.Secret) < JWTSecretMinLength:
		return badConfig("jwt.secret", "must be at least 32 bytes")
	}
	if cfg.JWKSURL != "" {
		if rule := checkJWKSURL(cfg.JWKSURL, cfg.AllowInsecureJWKSURL); rule != "" {
			return badConfig("jwt.jwks_url", rule)
		}
	}
	if cfg.Issuer == "" {
		return badConfig("jwt.issuer", "required")
	}
	if cfg.Audience == "" {
		return badConfig("jwt.audience", "required")
	}
	for _, d := range []struct {
		field    string
		v        *time.Duration
		def, min time.Duration
	}{
		{"jwt.refresh_interval", &cfg.RefreshInterval, JWTRefreshIntervalDefault, JWTRefreshIntervalMin},
		{"jwt.refetch_interval", &cfg.RefetchInterval, JWTRefetchIntervalDefault, JWTRefetchIntervalMin},
	} {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < d.min:
			return badConfig(d.field, "must be at least "+d.min.String())
		}
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = JWTLeewayDefault
	case cfg.Leeway < 0:
		return badConfig("jwt.leeway", "must not be negative")
	case cfg.Leeway > JWTLeewayMax:
		return badConfig("jwt.leeway", "must be at most "+JWTLeewayMax.String())
	}
	for _, s := range []struct {
		field string
		v     *string
		def   string
	}{
		{"jwt.subject_claim", &cfg.SubjectClaim, JWTSubjectClaimDefault},
		{"jwt.role_claim", &cfg.RoleClaim, JWTRoleClaimDefault},
		{"jwt.admin_role", &cfg.AdminRole, AdminRoleDefault},
		{"jwt.user_role", &cfg.UserRole, UserRoleDefault},
	} {
		if *s.v == "" {
			*s.v = s.def
		}
	}
	if cfg.SubjectClaim == cfg.RoleClaim {
		return badConfig("jwt.role_claim", "must differ from jwt.subject_claim")
	}
	if cfg.AdminRole == cfg.UserRole {
		return badConfig("jwt.user_role", "must differ from jwt.admin_role")
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	return nil
}

// checkJWKSURL returns why raw may not be the JWKS URL, or "".
func checkJWKSURL(raw string, insecure bool) string {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return "must be an absolute http(s) URL"
	}
	if u.Scheme == "http" && !insecure && !isLoopback(u.Hostname()) {
		return "must be https (http only on a loopback host, or with jwt.allow_insecure_jwks_url)"
	}
	return ""
}

// isLoopback reports whether host is localhost or a loopback address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Close stops refreshing the JWKS and waits for the goroutine that does it
// to return. Tokens are still checked afterwards, with the keys last
// fetched. It is safe to call more than once, and always returns nil.
func (j *JWT) Close() error {
	if j.keys != nil {
		j.keys.close()
	}
	return nil
}

// Authenticate implements Authenticator: the principal is the token's
// subject, an admin when its role says so.
func (j *JWT) Authenticate(r *http.Request) (scheduler.Principal, error) {
	raw, err := Bearer(r)
	if err != nil {
		return scheduler.Principal{}, err
	}
	claims := jwt.MapClaims{}
	tok, err := j.parser.ParseWithClaims(raw, claims, j.keyfunc(r.Context()))
	if err != nil {
		return scheduler.Principal{}, j.refusal(tok, claims, err)
	}
	if _, ok := tok.Header["crit"]; ok {
		return scheduler.Principal{}, invalid("unsupported critical header")
	}
	return j.principal(claims)
}

// keyfunc returns the key that verifies a token.
func (j *JWT) keyfunc(ctx context.Context) jwt.Keyfunc {
	if j.keys != nil {
		return j.keys.keyfunc(ctx)
	}
	return func(*jwt.Token) (any, error) { return j.secret, nil }
}

// refusal turns an error of the parser into an *Error.
func (j *JWT) refusal(tok *jwt.Token, claims jwt.MapClaims, err error) error {
	var ae *Error
	if errors.As(err, &ae) { // from keyfunc
		return ae
	}
	alg := ""
	if tok != nil {
		alg, _ = tok.Header["alg"].(string)
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return invalid("malformed token")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		switch {
		case alg == "":
			return invalid("malformed token")
		case strings.EqualFold(alg, "none"):
			return invalid("algorithm none not allowed")
		case !slices.Contains(j.methods, alg):
			return invalid("algorithm not allowed")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid):
			return invalid("signature invalid")
		}
		return invalid("signing key not usable for token")
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return claimsRefusal(claims, err)
	}
	return invalid("token not valid")
}

// claimsRefusal says which claim check failed, the first of several.
func claimsRefusal(claims jwt.MapClaims, err error) error {
	for _, name := range []string{"exp", "iss", "aud"} {
		if claims[name] == nil {
			return invalid("missing " + name + " claim")
		}
	}
	for _, c := range []struct {
		err    error
		reason string
	}{
		{jwt.ErrInvalidType, "malformed claims"},
		{jwt.ErrTokenExpired, "token expired"},
		{jwt.ErrTokenNotValidYet, "token not yet valid"},
		{jwt.ErrTokenUsedBeforeIssued, "token issued in the future"},
		{jwt.ErrTokenInvalidIssuer, "wrong issuer"},
		{jwt.ErrTokenInvalidAudience, "wrong audience"},
		{jwt.ErrTokenRequiredClaimMissing, "missing claim"},
	} {
		if errors.Is(err, c.err) {
			return invalid(c.reason)
		}
	}
	return invalid("claims not valid")
}

// principal reads the subject and role of a verified token.
func (j *JWT) principal(claims jwt.MapClaims) (scheduler.Principal, error) {
	v, ok := claims[j.subjectClaim]
	if !ok || v == nil {
		return scheduler.Principal{}, invalid("missing subject")
	}
	sub, ok := v.(string)
	if !ok {
		return scheduler.Principal{}, invalid("malformed subject")
	}
	if rule := checkSubject(sub); rule != "" {
		return scheduler.Principal{}, invalid("subject " + rule)
	}
	admin, err := j.admin(claims[j.roleClaim])
	if err != nil {
		return scheduler.Principal{}, err
	}
	return scheduler.Principal{Subject: sub, Admin: admin}, nil
}

// admin reads the role claim: a string, an array of strings, or nothing.
func (j *JWT) admin(claim any) (bool, error) {
	var roles []string
	switch v := claim.(type) {
	case nil:
		return false, nil
	case string:
		roles = []string{v}
	case []any:
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return false, invalid("malformed role claim")
			}
			roles = append(roles, s)
		}
	default:
		return false, invalid("malformed role claim")
	}
	switch {
	case slices.Contains(roles, j.adminRole):
		return true, nil
	case slices.Contains(roles, j.userRole):
		return false, nil
	}
	return false, invalid("role not allowed")
}
