package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/golang-jwt/jwt/v5"
	"github.com/hashicorp/go-cleanhttp"
)

const (
	// jwksMaxBytes bounds a JWKS document.
	jwksMaxBytes = 1 << 20
	// jwksMinRSABits is the smallest RSA modulus used.
	jwksMinRSABits = 2048
)

// errNoKey: no cached key may verify the token.
var errNoKey = errors.New("no cached key")

// jwks caches the keys of a JSON Web Key Set and fetches them again: every
// refreshInterval from a goroutine, and for a token whose key is unknown at
// most once per refetchInterval. Fetches are serialized; a failed fetch
// keeps the cached keys.
type jwks struct {
	url             string
	logURL          string // url without query, fragment or user info
	client          *http.Client
	refreshInterval time.Duration
	refetchInterval time.Duration
	now             func() time.Time
	logger          log.Logger

	store *jwkset.MemoryJWKSet
	kf    keyfunc.Keyfunc

	// fetching holds a token during a fetch.
	fetching chan struct{}

	mu          sync.Mutex
	fetches     uint64    // fetches done, failed or not
	lastErr     error     // of the last fetch, nil if it succeeded
	lastRefetch time.Time // of the last fetch for an unknown key

	closed    atomic.Bool
	cancel    context.CancelFunc // stops the refresh goroutine
	done      chan struct{}      // closed when it returns
	closeOnce sync.Once
}

// newJWKS fetches the keys of cfg.JWKSURL and starts refreshing them until
// ctx is done or close is called. cfg has been checked.
func newJWKS(ctx context.Context, cfg JWTConfig) (*jwks, error) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Transport: cleanhttp.DefaultTransport(), Timeout: JWTHTTPTimeoutDefault}
	}
	logURL := cfg.JWKSURL
	if u, err := url.Parse(cfg.JWKSURL); err == nil {
		logURL = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	}
	k := &jwks{
		url:             cfg.JWKSURL,
		logURL:          logURL,
		client:          client,
		refreshInterval: cfg.RefreshInterval,
		refetchInterval: cfg.RefetchInterval,
		now:             cfg.Clock.Now,
		logger:          cfg.Logger,
		store:           jwkset.NewMemoryStorage(),
		fetching:        make(chan struct{}, 1),
		done:            make(chan struct{}),
	}
	kf, err := keyfunc.New(keyfunc.Options{
		Storage:      k.store,
		UseWhitelist: []jwkset.USE{jwkset.UseSig, ""},
	})
	if err != nil {
		return nil, fmt.Errorf("auth: jwt: %w", err)
	}
	k.kf = kf

	k.fetching <- struct{}{}
	err = k.fetch(ctx)
	<-k.fetching
	if err != nil && !cfg.StartWithoutKeys {
		return nil, fmt.Errorf("auth: jwt: first fetch of the JWKS: %w", err)
	}
	loopCtx, cancel := context.WithCancel(ctx)
	k.cancel = cancel
	go k.refreshLoop(loopCtx, err != nil)
	return k, nil
}

// close stops the refresh goroutine and waits for it.
func (k *jwks) close() {
	k.closeOnce.Do(func() {
		k.closed.Store(true)
		k.cancel()
	})
	<-k.done
}

// refreshLoop fetches the keys every refreshInterval, or refetchInterval
// after a failure, until ctx is done.
func (k *jwks) refreshLoop(ctx context.Context, failed bool) {
	defer close(k.done)
	next := func(failed bool) time.Duration {
		if failed {
			return min(k.refetchInterval, k.refreshInterval)
		}
		return k.refreshInterval
	}
	timer := time.NewTimer(next(failed))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		select {
		case k.fetching <- struct{}{}:
		case <-ctx.Done():
			return
		}
		err := k.fetch(ctx)
		<-k.fetching
		timer.Reset(next(err != nil))
	}
}

// fetch replaces the cached keys with those of the JWKS. The caller holds
// a token of k.fetching.
func (k *jwks) fetch(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, JWTHTTPTimeoutDefault)
	defer cancel()
	keys, err := k.download(ctx)
	if err == nil {
		err = k.store.KeyReplaceAll(ctx, keys)
	}
	k.mu.Lock()
	k.fetches++
	k.lastErr = err
	k.mu.Unlock()
	if err != nil {
		level.Warn(k.logger).Log("msg", "jwks fetch failed", "url", k.logURL, "err", err)
		return err
	}
	level.Debug(k.logger).Log("msg", "jwks fetched", "url", k.logURL, "keys", len(keys))
	return nil
}

// download gets the JWKS and returns its usable keys, public parts only.
func (k *jwks) download(ctx context.Context) ([]jwkset.JWK, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, fmt.Errorf("get jwks: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get jwks: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("get jwks: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read jwks: %w", err)
	}
	if len(body) > jwksMaxBytes {
		return nil, fmt.Errorf("read jwks: larger than %d bytes", jwksMaxBytes)
	}
	var set jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("decode jwks: %w", err)
	}
	keys := make([]jwkset.JWK, 0, len(set.Keys))
	for i, m := range set.Keys {
		// Private: false reads public parts only, and refuses symmetric
		// keys: a JWKS must not turn into shared secrets.
		jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
		if err == nil {
			err = usableKey(jwk.Key())
		}
		if err != nil {
			level.Warn(k.logger).Log("msg", "jwks key skipped", "url", k.logURL, "index", i, "kid", m.KID, "err", err)
			continue
		}
		keys = append(keys, jwk)
	}
	if len(keys) == 0 {
		return nil, errors.New("jwks holds no usable signing key")
	}
	return keys, nil
}

// usableKey returns why key may not verify tokens, or nil.
func usableKey(key any) error {
	switch key := key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < jwksMinRSABits {
			return fmt.Errorf("rsa key of %d bits, fewer than %d", key.N.BitLen(), jwksMinRSABits)
		}
		return nil
	case *ecdsa.PublicKey, ed25519.PublicKey:
		return nil
	}
	return fmt.Errorf("unsupported key type %T", key)
}

// keyfunc returns the key that verifies a token, fetching the JWKS again
// when no cached key may and the rate limit allows.
func (k *jwks) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(tok *jwt.Token) (any, error) {
		key, err := k.lookup(ctx, tok)
		if !errors.Is(err, errNoKey) {
			return key, err
		}
		fetchErr := k.refetch(ctx)
		// Look again even when refetch fetched nothing: another request's
		// fetch may have brought the key since the first look.
		key, err = k.lookup(ctx, tok)
		switch {
		case !errors.Is(err, errNoKey):
			return key, err
		case fetchErr != nil:
			return nil, fetchErr
		}
		return nil, invalid("unknown signing key")
	}
}

// lookup returns the cached key (or keys, for a token without kid) that
// may verify tok, or errNoKey.
func (k *jwks) lookup(ctx context.Context, tok *jwt.Token) (any, error) {
	key, err := k.kf.KeyfuncCtx(ctx)(tok)
	switch {
	case errors.Is(err, jwkset.ErrKeyNotFound):
		return nil, errNoKey
	case err != nil:
		return nil, invalid("signing key not usable for token")
	}
	if set, ok := key.(jwt.VerificationKeySet); ok && len(set.Keys) == 0 {
		return nil, errNoKey
	}
	return key, nil
}

// refetch fetches the JWKS again for a token whose key is not cached,
// unless the rate limit forbids it or a fetch ended while it waited for
// the one under way. It returns ErrUnavailable when the last fetch
// failed, and nil otherwise.
func (k *jwks) refetch(ctx context.Context) error {
	k.mu.Lock()
	seen := k.fetches
	k.mu.Unlock()
	select {
	case k.fetching <- struct{}{}:
	case <-ctx.Done():
		return unavailable("signing keys unavailable")
	}
	defer func() { <-k.fetching }()

	k.mu.Lock()
	now := k.now()
	limited := k.closed.Load() || (!k.lastRefetch.IsZero() && now.Sub(k.lastRefetch) < k.refetchInterval)
	if k.fetches != seen || limited { // use the keys of the last fetch
		failed := k.lastErr != nil
		k.mu.Unlock()
		if failed {
			return unavailable("signing keys unavailable")
		}
		return nil
	}
	k.lastRefetch = now
	k.mu.Unlock()

	// The fetch serves every request waiting for it: it must not end
	// when this request does.
	if err := k.fetch(context.WithoutCancel(ctx)); err != nil {
		return unavailable("signing keys unavailable")
	}
	return nil
}
