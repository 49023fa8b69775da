package webhook

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
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
	// endorsed is set when the key lists endorsements: the channels
	// whose activities it may sign.
	endorsed     bool
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
	return &BotFramework{
		appID:       cfg.AppID,
		metadataURL: u,
		issuers:     issuers,
		client:      client,
		ttl:         ttl,
		opts:        newOptions(opts),
		fetching:    make(chan struct{}, 1),
	}, nil
}

// Verify implements Verifier. body is the activity, exactly as received.
func (b *BotFramework) Verify(ctx context.Context, header http.Header, body []byte) (*Verified, error) {
	tok, err := botFrameworkParse(header)
	if err != nil {
		return nil, err
	}
	// Only RS256: never none, and never HS*, which would make the public
	// key an HMAC secret.
	if tok.alg != "RS256" {
		return nil, botFrameworkBad("alg is not RS256")
	}
	if tok.crit {
		return nil, botFrameworkBad("token has critical header parameters")
	}
	if tok.kid == "" {
		return nil, botFrameworkBad("token has no kid")
	}
	key, err := b.key(ctx, tok.kid)
	if err != nil {
		return nil, err
	}
	digest := sha256.Sum256([]byte(tok.signingInput))
	if err := rsa.VerifyPKCS1v15(key.pub, crypto.SHA256, digest[:], tok.signature); err != nil {
		return nil, botFrameworkBad("signature does not verify")
	}
	if err := b.checkClaims(tok.claims); err != nil {
		return nil, err
	}

	var activity map[string]json.RawMessage
	if err := json.Unmarshal(body, &activity); err != nil || activity == nil {
		return nil, fail(ReasonBadToken, "", "body is not a JSON activity")
	}
	serviceURL, ok := botFrameworkString(activity, "serviceUrl")
	if !ok || serviceURL == "" {
		return nil, fail(ReasonBadToken, "", "activity has no serviceUrl")
	}
	claimed, ok := botFrameworkString(tok.claims, "serviceurl")
	if !ok || claimed == "" {
		return nil, botFrameworkBad("token has no serviceurl claim")
	}
	if claimed != serviceURL {
		return nil, botFrameworkBad("serviceurl claim does not match the activity's serviceUrl")
	}
	channel, ok := botFrameworkString(activity, "channelId")
	if !ok {
		return nil, fail(ReasonBadToken, "", "activity channelId is not a string")
	}
	if key.endorsed && channel != "" && !slices.Contains(key.endorsements, channel) {
		return nil, botFrameworkBad("channel is not endorsed by the signing key")
	}
	id, _ := botFrameworkString(activity, "id")
	var conversation string
	if raw, ok := activity["conversation"]; ok {
		conversation = topLevelString(raw, "id")
	}
	return &Verified{DeliveryID: activityID(conversation, id)}, nil
}

// checkClaims checks iss, aud, exp and nbf.
func (b *BotFramework) checkClaims(claims map[string]json.RawMessage) error {
	iss, ok := botFrameworkString(claims, "iss")
	if !ok || !slices.Contains(b.issuers, iss) {
		return botFrameworkBad("issuer is not accepted")
	}
	if !botFrameworkAudience(claims["aud"], b.appID) {
		return botFrameworkBad("audience is not the bot's app id")
	}
	now := b.opts.now()
	tol := b.opts.tolerance
	exp, present, ok := botFrameworkTime(claims, "exp")
	switch {
	case !ok:
		return botFrameworkBad("exp claim is not a valid time")
	case !present:
		return botFrameworkBad("token has no exp claim")
	case !now.Before(exp.Add(tol)):
		return botFrameworkBad("token expired")
	}
	nbf, present, ok := botFrameworkTime(claims, "nbf")
	switch {
	case !ok:
		return botFrameworkBad("nbf claim is not a valid time")
	case present && now.Before(nbf.Add(-tol)):
		return botFrameworkBad("token not yet valid")
	}
	return nil
}

// botFrameworkToken is a parsed, not yet verified, JWS.
type botFrameworkToken struct {
	signingInput string // header.payload, as received
	alg, kid     string
	crit         bool
	claims       map[string]json.RawMessage
	signature    []byte
}

// botFrameworkParse reads the token from the Authorization header.
func botFrameworkParse(header http.Header) (*botFrameworkToken, error) {
	values := header.Values(botFrameworkAuthorization)
	if len(values) > 1 {
		return nil, botFrameworkMalformed("more than one Authorization header")
	}
	if len(values) == 0 || strings.TrimSpace(values[0]) == "" {
		return nil, fail(ReasonMissingHeader, botFrameworkAuthorization, "")
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	// Auth schemes are case-insensitive (RFC 7235, section 2.1).
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return nil, botFrameworkMalformed("scheme is not Bearer")
	}
	token = strings.TrimLeft(token, " ")
	if len(token) > botFrameworkMaxToken {
		return nil, botFrameworkMalformed("token is too long")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" {
		return nil, botFrameworkMalformed("token is not three base64url parts")
	}
	var decoded [3][]byte
	for i, p := range parts {
		d, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, botFrameworkMalformed("token is not three base64url parts")
		}
		decoded[i] = d
	}
	var head map[string]json.RawMessage
	if err := json.Unmarshal(decoded[0], &head); err != nil || head == nil {
		return nil, botFrameworkMalformed("token header is not a JSON object")
	}
	tok := &botFrameworkToken{signingInput: parts[0] + "." + parts[1], signature: decoded[2]}
	if err := json.Unmarshal(decoded[1], &tok.claims); err != nil || tok.claims == nil {
		return nil, botFrameworkMalformed("token payload is not a JSON object")
	}
	if tok.alg, ok = botFrameworkString(head, "alg"); !ok {
		return nil, botFrameworkMalformed("token alg is not a string")
	}
	if tok.kid, ok = botFrameworkString(head, "kid"); !ok {
		return nil, botFrameworkMalformed("token kid is not a string")
	}
	_, tok.crit = head["crit"]
	return tok, nil
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

// botFrameworkAudience reports whether aud (a string, or an array of
// strings as RFC 7519 allows) names appID.
func botFrameworkAudience(aud json.RawMessage, appID string) bool {
	if aud == nil {
		return false
	}
	var one string
	if err := json.Unmarshal(aud, &one); err == nil {
		return one == appID
	}
	var many []string
	if err := json.Unmarshal(aud, &many); err == nil {
		return slices.Contains(many, appID)
	}
	return false
}

// botFrameworkTime reads a NumericDate claim: present is false when it is
// absent or null, ok is false when it is not a number in range.
func botFrameworkTime(claims map[string]json.RawMessage, name string) (t time.Time, present, ok bool) {
	raw, found := claims[name]
	if !found {
		return time.Time{}, false, true
	}
	var v *float64
	if err := json.Unmarshal(raw, &v); err != nil {
		return time.Time{}, false, false
	}
	if v == nil {
		return time.Time{}, false, true
	}
	// Up to the year 9999: beyond, the conversion to int64 could overflow.
	if *v < 0 || *v > 253402300799 {
		return time.Time{}, true, false
	}
	sec := math.Floor(*v)
	return time.Unix(int64(sec), int64((*v-sec)*1e9)), true, true
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
// is not an RSA signing key of at least botFrameworkMinKeyBits bits.
func botFrameworkParseJWK(raw json.RawMessage) (string, *botFrameworkKey) {
	var j struct {
		Kty          string    `json:"kty"`
		Use          string    `json:"use"`
		Alg          string    `json:"alg"`
		Kid          string    `json:"kid"`
		N            string    `json:"n"`
		E            string    `json:"e"`
		Endorsements *[]string `json:"endorsements"`
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return "", nil
	}
	if j.Kty != "RSA" || j.Kid == "" || (j.Use != "" && j.Use != "sig") || (j.Alg != "" && j.Alg != "RS256") {
		return "", nil
	}
	n, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.N, "="))
	if err != nil {
		return "", nil
	}
	e, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(j.E, "="))
	if err != nil || len(e) == 0 || len(e) > 4 {
		return "", nil
	}
	exp := new(big.Int).SetBytes(e).Int64()
	mod := new(big.Int).SetBytes(n)
	if exp < 3 || exp%2 == 0 || exp > math.MaxInt32 || mod.BitLen() < botFrameworkMinKeyBits {
		return "", nil
	}
	k := &botFrameworkKey{pub: &rsa.PublicKey{N: mod, E: int(exp)}}
	if j.Endorsements != nil {
		k.endorsed = true
		k.endorsements = *j.Endorsements
	}
	return j.Kid, k
}
