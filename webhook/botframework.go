package webhook

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Bot Framework defaults (the public cloud).
const (
	// BotFrameworkOpenIDMetadataURLDefault is the OpenID metadata document
	// of the Bot Connector service in the public cloud.
	BotFrameworkOpenIDMetadataURLDefault = "https://login.botframework.com/v1/.well-known/openidconfiguration"
	// BotFrameworkIssuerDefault is the issuer of the Bot Connector's tokens
	// in the public cloud.
	BotFrameworkIssuerDefault = "https://api.botframework.com"
	// BotFrameworkCacheTTLDefault is how long fetched signing keys are kept.
	BotFrameworkCacheTTLDefault = 24 * time.Hour
	// BotFrameworkHTTPTimeoutDefault bounds each request of the default
	// HTTP client.
	BotFrameworkHTTPTimeoutDefault = 10 * time.Second
)

const (
	// botFrameworkRefetchInterval is the least time between two fetches
	// that an unknown kid may trigger.
	botFrameworkRefetchInterval = time.Minute
	// botFrameworkMaxDocument bounds the metadata and key documents.
	botFrameworkMaxDocument = 1 << 20
	// botFrameworkMaxToken bounds a token (the connector's are ~1.5 KiB).
	botFrameworkMaxToken = 16 << 10
	// botFrameworkMinKeyBits is the smallest RSA modulus accepted.
	botFrameworkMinKeyBits = 2048
	// botFrameworkAuthorization is the header holding the token.
	botFrameworkAuthorization = "Authorization"
	// botFrameworkAlg is the only algorithm accepted: never none, and
	// never HS*, which would make the public key an HMAC secret.
	botFrameworkAlg = "RS256"
)

// BotFrameworkConfig configures NewBotFramework. Zero values mean the
// defaults.
type BotFrameworkConfig struct {
	// AppID is the bot's Microsoft App ID: every token's audience must be
	// it. Required.
	AppID string
	// OpenIDMetadataURL is the OpenID metadata document whose jwks_uri
	// lists the signing keys. Default BotFrameworkOpenIDMetadataURLDefault
	// (the US Government cloud's is
	// https://login.botframework.azure.us/v1/.well-known/openidconfiguration).
	// When it is https, the jwks_uri must be https too.
	OpenIDMetadataURL string
	// Issuers are the accepted iss claims. Default
	// [BotFrameworkIssuerDefault] (the US Government cloud's is
	// https://api.botframework.us).
	Issuers []string
	// HTTPClient fetches the metadata and the keys. Default: a client
	// with a timeout of BotFrameworkHTTPTimeoutDefault.
	HTTPClient *http.Client
	// CacheTTL is how long fetched keys are kept before they are fetched
	// again. Default BotFrameworkCacheTTLDefault. Independently, a token
	// whose kid is not among the cached keys triggers a fetch at most once
	// a minute. Keys older than CacheTTL are not used: while they cannot be
	// fetched again, Verify fails with the fetch error.
	CacheTTL time.Duration
}

// BotFramework verifies the JWT that the Microsoft Bot Connector (Azure
// Bot Service, and Teams bots through it) sends with each activity in
// "Authorization: Bearer <JWT>": an RS256 signature by a key of the
// service's OpenID metadata, the issuer, the bot's App ID as audience, the
// validity period within the tolerance (WithTolerance, default
// ToleranceDefault), the serviceurl claim against the activity's
// serviceUrl, and the signing key's channel endorsements against the
// activity's channelId. The delivery id is the activity's id.
//
// Failing to fetch the keys is not a verification failure: Verify then
// returns an error that does not match ErrVerification, and the Handler
// answers 503 so that the connector retries.
//
// A BotFramework is safe for concurrent use.
type BotFramework struct {
	appID       string
	metadataURL *url.URL
	issuers     []string
	client      *http.Client
	ttl         time.Duration
	opts        options
	// parser checks the token's form, alg, signature, audience and
	// validity period.
	parser *jwt.Parser

	// fetching holds a token while a goroutine fetches the keys, so
	// that one fetch serves all those waiting for it.
	fetching chan struct{}

	mu        sync.Mutex
	keys      map[string]*botFrameworkKey // by kid; nil before the first fetch
	fetchedAt time.Time                   // of keys
	triedAt   time.Time                   // of the last fetch, failed or not
	tries     uint64                      // fetches done, failed or not
	lastErr   error                       // of the last fetch, if it failed
}

var _ Verifier = (*BotFramework)(nil)

// botFrameworkKey is a signing key from the JWKS.
type botFrameworkKey struct {
	pub *rsa.PublicKey
	// endorsements, when not nil, are the channels whose activities the
	// key may sign (none when it is empty).
	endorsements []string
}

// NewBotFramework checks cfg and returns its verifier. It fetches no key:
// the first Verify does.
func NewBotFramework(cfg BotFrameworkConfig, opts ...Option) (*BotFramework, error) {
	if cfg.AppID == "" {
		return nil, errors.New("webhook: bot framework: AppID is required")
	}
	raw := cfg.OpenIDMetadataURL
	if raw == "" {
		raw = BotFrameworkOpenIDMetadataURLDefault
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, errors.New("webhook: bot framework: OpenIDMetadataURL must be an absolute http(s) URL")
	}
	issuers := slices.Clone(cfg.Issuers)
	if len(issuers) == 0 {
		issuers = []string{BotFrameworkIssuerDefault}
	}
	if slices.Contains(issuers, "") {
		return nil, errors.New("webhook: bot framework: Issuers must not hold an empty issuer")
	}
	if cfg.CacheTTL < 0 {
		return nil, errors.New("webhook: bot framework: CacheTTL must not be negative")
	}
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = BotFrameworkCacheTTLDefault
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: BotFrameworkHTTPTimeoutDefault}
	}
	o := newOptions(opts)
	return &BotFramework{
		appID:       cfg.AppID,
		metadataURL: u,
		issuers:     issuers,
		client:      client,
		ttl:         ttl,
		opts:        o,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{botFrameworkAlg}),
			jwt.WithStrictDecoding(),
			jwt.WithAudience(cfg.AppID),
			jwt.WithExpirationRequired(),
			jwt.WithLeeway(o.tolerance),
			jwt.WithTimeFunc(o.now),
		),
		fetching: make(chan struct{}, 1),
	}, nil
}

// Verify implements Verifier. body is the activity, exactly as received.
func (b *BotFramework) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	raw, err := botFrameworkBearer(header)
	if err != nil {
		return nil, err
	}
	// The parser calls keyfunc once the token is well formed and its alg
	// allowed, before it checks the signature: keyErr is then the
	// verifier's own error (a fetch failure) or a refusal to pass on as
	// it is, and key the key that verified the signature.
	var (
		key    *botFrameworkKey
		keyErr error
	)
	claims := jwt.MapClaims{}
	tok, err := b.parser.ParseWithClaims(raw, claims, func(tok *jwt.Token) (any, error) {
		key, keyErr = b.tokenKey(ctx, tok)
		if keyErr != nil {
			return nil, keyErr
		}
		return key.pub, nil
	})
	switch {
	case keyErr != nil:
		return nil, keyErr
	case err != nil && !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return nil, botFrameworkRefusal(tok, err)
	}
	// The signature verifies: the claims are the connector's. Several
	// issuers may be accepted, which the parser cannot check.
	if iss, _ := claims.GetIssuer(); !slices.Contains(b.issuers, iss) {
		return nil, botFrameworkBad("issuer is not accepted")
	}
	if err != nil {
		return nil, b.claimsRefusal(claims, err)
	}

	var activity map[string]json.RawMessage
	if err := json.Unmarshal(body, &activity); err != nil || activity == nil {
		return nil, fail(ReasonBadToken, "", "body is not a JSON activity")
	}
	serviceURL, ok := botFrameworkString(activity, "serviceUrl")
	if !ok || serviceURL == "" {
		return nil, fail(ReasonBadToken, "", "activity has no serviceUrl")
	}
	// Claim names are case-sensitive: the connector's is "serviceurl".
	claimed, _ := claims["serviceurl"].(string)
	if claimed == "" {
		return nil, botFrameworkBad("token has no serviceurl claim")
	}
	if claimed != serviceURL {
		return nil, botFrameworkBad("serviceurl claim does not match the activity's serviceUrl")
	}
	channel, ok := botFrameworkString(activity, "channelId")
	if !ok {
		return nil, fail(ReasonBadToken, "", "activity channelId is not a string")
	}
	// A key without endorsements signs for any channel; one with an
	// empty list, for none.
	if key.endorsements != nil && channel != "" && !slices.Contains(key.endorsements, channel) {
		return nil, botFrameworkBad("channel is not endorsed by the signing key")
	}
	id, _ := botFrameworkString(activity, "id")
	var conversation string
	if raw, ok := activity["conversation"]; ok {
		conversation = topLevelString(raw, "id")
	}
	return &Verified{DeliveryID: activityID(conversation, id)}, nil
}

// tokenKey returns the cached key that may verify tok, a well-formed
// RS256 token, fetching the keys as key does.
func (b *BotFramework) tokenKey(ctx context.Context, tok *jwt.Token) (*botFrameworkKey, error) {
	if _, ok := tok.Header["crit"]; ok {
		return nil, botFrameworkBad("token has critical header parameters")
	}
	kid, ok := tok.Header["kid"].(string)
	switch {
	case !ok && tok.Header["kid"] != nil:
		return nil, botFrameworkMalformed("token kid is not a string")
	case kid == "":
		return nil, botFrameworkBad("token has no kid")
	}
	return b.key(ctx, kid)
}

// botFrameworkRefusal says which rule a token the parser refused before
// its claims breaks. The parser's own error is not passed on: it may
// quote the token.
func botFrameworkRefusal(tok *jwt.Token, err error) error {
	switch {
	case tok == nil, errors.As(err, new(base64.CorruptInputError)):
		return botFrameworkMalformed("token is not three base64url parts")
	case tok.Header == nil:
		return botFrameworkMalformed("token header is not a JSON object")
	case errors.Is(err, jwt.ErrTokenMalformed):
		// The header decoded, and the signature would have failed as
		// base64: the payload is at fault.
		return botFrameworkMalformed("token payload is not a JSON object")
	case tok.Method == nil || tok.Method.Alg() != botFrameworkAlg:
		return botFrameworkBad("alg is not RS256")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return botFrameworkBad("signature does not verify")
	}
	return botFrameworkBad("token is not valid")
}

// claimsRefusal says which rule the claims of a verified token, refused by
// the parser with err, break: the first of aud, exp and nbf.
func (b *BotFramework) claimsRefusal(claims jwt.MapClaims, err error) error {
	aud, audErr := claims.GetAudience()
	exp, expErr := claims.GetExpirationTime()
	_, nbfErr := claims.GetNotBefore()
	switch {
	case audErr != nil, !slices.Contains(aud, b.appID):
		return botFrameworkBad("audience is not the bot's app id")
	case expErr != nil:
		return botFrameworkBad("exp claim is not a valid time")
	case exp == nil:
		return botFrameworkBad("token has no exp claim")
	case errors.Is(err, jwt.ErrTokenExpired):
		return botFrameworkBad("token expired")
	case nbfErr != nil:
		return botFrameworkBad("nbf claim is not a valid time")
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return botFrameworkBad("token not yet valid")
	}
	return botFrameworkBad("claims are not valid")
}

// botFrameworkBearer reads the token from the Authorization header.
func botFrameworkBearer(header http.Header) (string, error) {
	values := header.Values(botFrameworkAuthorization)
	if len(values) > 1 {
		return "", botFrameworkMalformed("more than one Authorization header")
	}
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return "", fail(ReasonMissingHeader, botFrameworkAuthorization, "")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	// Auth schemes are case-insensitive (RFC 9110, section 11.1).
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", botFrameworkMalformed("scheme is not Bearer")
	}
	token = strings.TrimLeft(token, " ")
	if len(token) > botFrameworkMaxToken {
		return "", botFrameworkMalformed("token is too long")
	}
	return token, nil
}

// botFrameworkString returns the string member name of obj: "" and true
// when it is absent or null, false when it is not a string.
func botFrameworkString(obj map[string]json.RawMessage, name string) (string, bool) {
	raw, present := obj[name]
	if !present {
		return "", true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func botFrameworkBad(detail string) error {
	return fail(ReasonBadToken, botFrameworkAuthorization, detail)
}

func botFrameworkMalformed(detail string) error {
	return fail(ReasonMalformedHeader, botFrameworkAuthorization, detail)
}

// key returns the signing key kid, fetching the keys when none are cached
// or they are older than the TTL, or when kid is unknown and no fetch was
// tried for a minute. One fetch at a time; those waiting for it use its
// keys, or its error.
func (b *BotFramework) key(ctx context.Context, kid string) (*botFrameworkKey, error) {
	k, fresh, mayRefetch, tries, lastErr := b.cached(kid)
	if k != nil {
		return k, nil
	}
	if fresh && !mayRefetch {
		return nil, botFrameworkUnknownKid(lastErr)
	}
	select {
	case b.fetching <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("webhook: bot framework: wait for signing keys: %w", ctx.Err())
	}
	defer func() { <-b.fetching }()

	// Another goroutine may have fetched while this one waited.
	k, fresh, mayRefetch, triesNow, lastErr := b.cached(kid)
	switch {
	case k != nil:
		return k, nil
	case triesNow != tries && lastErr != nil:
		return nil, lastErr
	case fresh && !mayRefetch:
		return nil, botFrameworkUnknownKid(lastErr)
	}

	keys, err := b.fetchKeys(ctx)
	now := b.opts.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tries++
	b.triedAt = now
	if err != nil {
		err = fmt.Errorf("webhook: bot framework: fetch signing keys: %w", err)
		// A fetch cut short by this caller's context says nothing to
		// the others: they try their own.
		b.lastErr = err
		if ctx.Err() != nil {
			b.lastErr = nil
		}
		return nil, err
	}
	b.keys, b.fetchedAt, b.lastErr = keys, now, nil
	if k := keys[kid]; k != nil {
		return k, nil
	}
	return nil, botFrameworkBad("unknown kid")
}

// botFrameworkUnknownKid is the error for a kid not among fresh keys when
// no fetch may be tried yet: while the last fetch failed, the kid may be a
// new key the verifier cannot know, which is its own trouble.
func botFrameworkUnknownKid(lastErr error) error {
	if lastErr != nil {
		return lastErr
	}
	return botFrameworkBad("unknown kid")
}

// cached looks kid up: fresh says the keys are within their TTL,
// mayRefetch that a minute has passed since the last fetch.
func (b *BotFramework) cached(kid string) (k *botFrameworkKey, fresh, mayRefetch bool, tries uint64, lastErr error) {
	now := b.opts.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	fresh = b.keys != nil && now.Before(b.fetchedAt.Add(b.ttl))
	if fresh {
		k = b.keys[kid]
	}
	mayRefetch = b.tries == 0 || !now.Before(b.triedAt.Add(botFrameworkRefetchInterval))
	return k, fresh, mayRefetch, b.tries, b.lastErr
}

// fetchKeys fetches the metadata document, then the JWKS it names, and
// returns its usable keys by kid.
func (b *BotFramework) fetchKeys(ctx context.Context) (map[string]*botFrameworkKey, error) {
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := b.getJSON(ctx, b.metadataURL, &meta); err != nil {
		return nil, fmt.Errorf("openid metadata: %w", err)
	}
	jwksURL, err := url.Parse(meta.JWKSURI)
	switch {
	case meta.JWKSURI == "":
		return nil, errors.New("openid metadata: no jwks_uri")
	case err != nil || jwksURL.Host == "" || (jwksURL.Scheme != "https" && jwksURL.Scheme != "http"):
		return nil, errors.New("openid metadata: jwks_uri is not an absolute http(s) URL")
	case jwksURL.Scheme == "http" && b.metadataURL.Scheme == "https":
		return nil, errors.New("openid metadata: jwks_uri is not https")
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := b.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*botFrameworkKey{}
	for _, raw := range set.Keys {
		kid, k := botFrameworkParseJWK(raw)
		if k != nil && keys[kid] == nil {
			keys[kid] = k
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks: no usable RSA signing key")
	}
	return keys, nil
}

// getJSON GETs u and decodes its JSON body, of at most
// botFrameworkMaxDocument bytes.
func (b *BotFramework) getJSON(ctx context.Context, u *url.URL, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", u.Redacted(), resp.StatusCode)
	}
	// A redirect must not downgrade https to http.
	if u.Scheme == "https" && resp.Request != nil && resp.Request.URL.Scheme != "https" {
		return fmt.Errorf("GET %s: redirected to http", u.Redacted())
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, botFrameworkMaxDocument+1))
	if err != nil {
		return fmt.Errorf("GET %s: read body: %w", u.Redacted(), err)
	}
	if len(data) > botFrameworkMaxDocument {
		return fmt.Errorf("GET %s: body exceeds %d bytes", u.Redacted(), botFrameworkMaxDocument)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", u.Redacted(), err)
	}
	return nil
}

// botFrameworkParseJWK returns a JWK's kid and key, or a nil key when it
// is not a valid RSA signing key for RS256 of at least
// botFrameworkMinKeyBits bits. jwkset reads and checks the standard
// members; endorsements is the Bot Connector's own.
func botFrameworkParseJWK(raw json.RawMessage) (string, *botFrameworkKey) {
	var j struct {
		jwkset.JWKMarshal
		Endorsements []string `json:"endorsements"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", nil
	}
	if j.KTY != jwkset.KtyRSA || j.KID == "" || j.USE == jwkset.UseEnc || (j.ALG != "" && j.ALG != jwkset.AlgRS256) {
		return "", nil
	}
	// The key is n and e, as for the Bot Builder SDKs: a certificate
	// chain that Go's X.509 parser refuses, or whose thumbprint differs,
	// must not cost the bot a key the connector signs with.
	j.X5C, j.X5T, j.X5TS256, j.X5U = nil, "", "", ""
	// Private: false reads the public members only.
	jwk, err := jwkset.NewJWKFromMarshal(j.JWKMarshal, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return "", nil
	}
	pub, ok := jwk.Key().(*rsa.PublicKey)
	if !ok || pub.N.BitLen() < botFrameworkMinKeyBits {
		return "", nil
	}
	return j.KID, &botFrameworkKey{pub: pub, endorsements: j.Endorsements}
}
