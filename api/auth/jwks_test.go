package auth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/scheduler"
)

func rsaKey(t *testing.T, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func edKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// jwk returns the public JWK of key (a private key, or a secret) under kid.
func jwk(t *testing.T, kid string, alg jwkset.ALG, key any) jwkset.JWKMarshal {
	t.Helper()
	opts := jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}}
	if signer, ok := key.(crypto.Signer); ok {
		key = signer.Public()
	} else {
		opts.Marshal.Private = true // a symmetric key
	}
	k, err := jwkset.NewJWKFromKey(key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return k.Marshal()
}

// jwksServer serves a JWKS on loopback, counting its requests.
type jwksServer struct {
	*httptest.Server
	hits   atomic.Int64
	body   atomic.Pointer[[]byte]
	status atomic.Int64 // when not 0, answered instead of the JWKS
}

func newJWKSServer(t *testing.T, keys ...jwkset.JWKMarshal) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if code := s.status.Load(); code != 0 {
			http.Error(w, "down", int(code))
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// serve makes the server answer keys from now on.
func (s *jwksServer) serve(t *testing.T, keys ...jwkset.JWKMarshal) {
	t.Helper()
	b, err := json.Marshal(jwkset.JWKSMarshal{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	s.body.Store(&b)
}

func (s *jwksServer) wantHits(t *testing.T, want int64) {
	t.Helper()
	if got := s.hits.Load(); got != want {
		t.Fatalf("JWKS fetched %d times, want %d", got, want)
	}
}

// jwksConfig returns a configuration for srv.
func jwksConfig(srv *jwksServer, clk *clocktest.Clock) auth.JWTConfig {
	return auth.JWTConfig{
		JWKSURL:    srv.URL + "/jwks.json",
		Issuer:     testIssuer,
		Audience:   testAudience,
		HTTPClient: srv.Client(),
		Clock:      clk,
	}
}

func newJWKSAuth(t *testing.T, cfg auth.JWTConfig) *auth.JWT {
	t.Helper()
	j, err := auth.NewJWT(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func pemPublic(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// TestJWTJWKS checks tokens against keys of a JWKS: RSA, ECDSA and Ed25519
// signatures, and every refusal.
func TestJWTJWKS(t *testing.T) {
	rsa1, rsaOther, ec1, ed1 := rsaKey(t, 2048), rsaKey(t, 2048), ecKey(t), edKey(t)
	srv := newJWKSServer(t,
		jwk(t, "rsa1", jwkset.AlgRS256, rsa1),
		jwk(t, "ps1", "", rsa1),
		jwk(t, "ec1", jwkset.AlgES256, ec1),
		jwk(t, "ed1", jwkset.AlgEdDSA, ed1),
	)
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))
	srv.wantHits(t, 1)

	now := clk.Now()
	valid := validClaims(now)
	with := func(f func(jwt.MapClaims)) jwt.MapClaims { return edit(valid, f) }
	admin := with(func(c jwt.MapClaims) { c["role"] = "admin" })
	alice := scheduler.Principal{Subject: "alice"}
	root := scheduler.Principal{Subject: "alice", Admin: true}
	der, err := x509.MarshalPKIXPublicKey(&rsa1.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		token  string
		want   scheduler.Principal
		reason string // of the ErrInvalidToken wanted
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", valid), alice, ""},
		{"RS256 admin", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", admin), root, ""},
		{"RS256 admin in array", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["role"] = []string{"user", "admin"} })), root, ""},
		{"PS256", sign(t, jwt.SigningMethodPS256, rsa1, "ps1", valid), alice, ""},
		{"ES256", sign(t, jwt.SigningMethodES256, ec1, "ec1", admin), root, ""},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, ed1, "ed1", valid), alice, ""},
		{"no kid", sign(t, jwt.SigningMethodES256, ec1, "", valid), alice, ""},

		{"alg none", unsigned(t, "none", "rsa1", valid), scheduler.Principal{}, "algorithm none not allowed"},
		{"alg none without kid", unsigned(t, "none", "", admin), scheduler.Principal{}, "algorithm none not allowed"},
		{"wrong signature, same kid", sign(t, jwt.SigningMethodRS256, rsaOther, "rsa1", valid), scheduler.Principal{}, "signature invalid"},
		{"tampered claims", tamper(t, sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", valid)), scheduler.Principal{}, "signature invalid"},
		{"HS256 with the RSA public key as PEM", sign(t, jwt.SigningMethodHS256, pemPublic(t, &rsa1.PublicKey), "rsa1", admin), scheduler.Principal{}, "algorithm not allowed"},
		{"HS256 with the RSA public key as DER", sign(t, jwt.SigningMethodHS256, der, "rsa1", admin), scheduler.Principal{}, "algorithm not allowed"},
		{"HS256 with the EC public key", sign(t, jwt.SigningMethodHS256, pemPublic(t, &ec1.PublicKey), "ec1", admin), scheduler.Principal{}, "algorithm not allowed"},
		{"RS256 kid of the EC key", sign(t, jwt.SigningMethodRS256, rsa1, "ec1", valid), scheduler.Principal{}, "signing key not usable for token"},
		{"ES256 signed by RSA kid", sign(t, jwt.SigningMethodES256, ecKey(t), "rsa1", valid), scheduler.Principal{}, "signing key not usable for token"},
		{"ES384 by a key not in the JWKS", signES384(t, valid), scheduler.Principal{}, "unknown signing key"},
		{"expired", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() })), scheduler.Principal{}, "token expired"},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() })), scheduler.Principal{}, "token not yet valid"},
		{"missing exp", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", with(func(c jwt.MapClaims) { delete(c, "exp") })), scheduler.Principal{}, "missing exp claim"},
		{"wrong issuer", sign(t, jwt.SigningMethodES256, ec1, "ec1", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.test" })), scheduler.Principal{}, "wrong issuer"},
		{"wrong audience", sign(t, jwt.SigningMethodEdDSA, ed1, "ed1", with(func(c jwt.MapClaims) { c["aud"] = "other" })), scheduler.Principal{}, "wrong audience"},
		{"role not allowed", sign(t, jwt.SigningMethodRS256, rsa1, "rsa1", with(func(c jwt.MapClaims) { c["role"] = "root" })), scheduler.Principal{}, "role not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := j.Authenticate(request("Bearer " + tc.token))
			if tc.reason != "" {
				checkRefusal(t, err, auth.ErrInvalidToken, tc.reason, tc.token)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p != tc.want {
				t.Fatalf("principal = %+v, want %+v", p, tc.want)
			}
		})
	}
}

// signES384 signs claims with a P-384 key that the JWKS does not hold.
func signES384(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sign(t, jwt.SigningMethodES384, k, "p384", claims)
}

// TestJWTUnknownKID checks that a token naming a key the JWKS does not hold
// is refused, and that such tokens fetch the JWKS again at most once per
// RefetchInterval.
func TestJWTUnknownKID(t *testing.T) {
	key := rsaKey(t, 2048)
	srv := newJWKSServer(t, jwk(t, "k1", jwkset.AlgRS256, key))
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))
	srv.wantHits(t, 1)

	for i := range 20 {
		token := sign(t, jwt.SigningMethodRS256, key, "k-unknown", validClaims(clk.Now()))
		_, err := j.Authenticate(request("Bearer " + token))
		checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key", token)
		if i == 10 {
			clk.Advance(30 * time.Second)
		}
	}
	srv.wantHits(t, 2) // the first fetch, and one for the unknown kid

	clk.Advance(31 * time.Second) // a minute after the refetch
	token := sign(t, jwt.SigningMethodRS256, key, "k-unknown", validClaims(clk.Now()))
	_, err := j.Authenticate(request("Bearer " + token))
	checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key", token)
	srv.wantHits(t, 3)

	// Known keys are never fetched.
	for range 5 {
		if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodRS256, key, "k1", validClaims(clk.Now())))); err != nil {
			t.Fatal(err)
		}
	}
	srv.wantHits(t, 3)
}

// TestJWTKeyRotation checks that a token signed by a key the JWKS started
// to serve after the last fetch is accepted, the unknown kid causing a
// fetch.
func TestJWTKeyRotation(t *testing.T) {
	oldKey, newKey := rsaKey(t, 2048), ecKey(t)
	srv := newJWKSServer(t, jwk(t, "2030-01", jwkset.AlgRS256, oldKey))
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))

	newToken := sign(t, jwt.SigningMethodES256, newKey, "2030-03", validClaims(clk.Now()))
	oldToken := sign(t, jwt.SigningMethodRS256, oldKey, "2030-01", validClaims(clk.Now()))
	_, err := j.Authenticate(request("Bearer " + newToken))
	checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key")
	srv.wantHits(t, 2)

	srv.serve(t, jwk(t, "2030-01", jwkset.AlgRS256, oldKey), jwk(t, "2030-03", jwkset.AlgES256, newKey))
	clk.Advance(time.Minute)
	for _, token := range []string{newToken, oldToken, newToken} {
		if p, err := j.Authenticate(request("Bearer " + token)); err != nil || p.Subject != "alice" {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
	}
	srv.wantHits(t, 3)

	// The old key withdrawn: its tokens are refused once a fetch drops it.
	srv.serve(t, jwk(t, "2030-03", jwkset.AlgES256, newKey))
	clk.Advance(time.Minute)
	_, err = j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, newKey, "2030-04", validClaims(clk.Now()))))
	checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key")
	_, err = j.Authenticate(request("Bearer " + oldToken))
	checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key")
	srv.wantHits(t, 4)
}

// TestJWTJWKSDownAtStart checks that NewJWT fails when the JWKS cannot be
// fetched, unless StartWithoutKeys is set.
func TestJWTJWKSDownAtStart(t *testing.T) {
	key := ecKey(t)
	for _, tc := range []struct {
		name  string
		setup func(*testing.T, *jwksServer)
	}{
		{"server closed", func(_ *testing.T, s *jwksServer) { s.Close() }},
		{"server error", func(_ *testing.T, s *jwksServer) { s.status.Store(http.StatusInternalServerError) }},
		{"not a JWKS", func(_ *testing.T, s *jwksServer) { b := []byte("<html>"); s.body.Store(&b) }},
		{"no key", func(t *testing.T, s *jwksServer) { s.serve(t) }},
		{"no usable key", func(t *testing.T, s *jwksServer) { s.serve(t, jwk(t, "oct", jwkset.AlgHS256, testSecret)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, jwk(t, "k", jwkset.AlgES256, key))
			tc.setup(t, srv)
			j, err := auth.NewJWT(t.Context(), jwksConfig(srv, newClock()))
			if err == nil {
				j.Close()
				t.Fatal("NewJWT succeeded without keys")
			}
			if !strings.Contains(err.Error(), "first fetch of the JWKS") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

func TestJWTStartWithoutKeys(t *testing.T) {
	key := ecKey(t)
	srv := newJWKSServer(t, jwk(t, "k", jwkset.AlgES256, key))
	srv.status.Store(http.StatusServiceUnavailable)
	clk := newClock()
	cfg := jwksConfig(srv, clk)
	cfg.StartWithoutKeys = true
	j := newJWKSAuth(t, cfg)
	srv.wantHits(t, 1)

	token := sign(t, jwt.SigningMethodES256, key, "k", validClaims(clk.Now()))
	noKid := sign(t, jwt.SigningMethodES256, key, "", validClaims(clk.Now()))
	for _, tok := range []string{token, noKid, token} {
		_, err := j.Authenticate(request("Bearer " + tok))
		checkRefusal(t, err, auth.ErrUnavailable, "signing keys unavailable", tok)
	}
	srv.wantHits(t, 2) // one refetch, then rate limited

	srv.status.Store(0)
	clk.Advance(time.Minute)
	if p, err := j.Authenticate(request("Bearer " + token)); err != nil || p.Subject != "alice" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	srv.wantHits(t, 3)
}

// TestJWTJWKSDownLater checks that cached keys keep working while the
// JWKS cannot be fetched, and that an unknown kid is then unavailable.
func TestJWTJWKSDownLater(t *testing.T) {
	key := rsaKey(t, 2048)
	srv := newJWKSServer(t, jwk(t, "k", jwkset.AlgRS256, key))
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))
	srv.status.Store(http.StatusBadGateway)

	if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodRS256, key, "k", validClaims(clk.Now())))); err != nil {
		t.Fatalf("cached key refused: %v", err)
	}
	unknown := sign(t, jwt.SigningMethodRS256, key, "k2", validClaims(clk.Now()))
	for range 3 {
		_, err := j.Authenticate(request("Bearer " + unknown))
		checkRefusal(t, err, auth.ErrUnavailable, "signing keys unavailable", unknown)
	}
	srv.wantHits(t, 2)
	if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodRS256, key, "k", validClaims(clk.Now())))); err != nil {
		t.Fatalf("cached key refused after a failed fetch: %v", err)
	}
}

// TestJWTJWKSSkipsKeys checks that symmetric keys and short RSA keys of a
// JWKS are never used.
func TestJWTJWKSSkipsKeys(t *testing.T) {
	good, short := ecKey(t), rsaKey(t, 1024)
	secret := []byte("a-symmetric-key-published-in-the-jwks!!")
	srv := newJWKSServer(t,
		jwk(t, "oct", jwkset.AlgHS256, secret),
		jwk(t, "short", jwkset.AlgRS256, short),
		jwk(t, "good", jwkset.AlgES256, good),
	)
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))
	for _, tc := range []struct {
		name, token, reason string
	}{
		{"HS256 with the JWKS secret", sign(t, jwt.SigningMethodHS256, secret, "oct", validClaims(clk.Now())), "algorithm not allowed"},
		{"RS256 kid of the symmetric key", sign(t, jwt.SigningMethodRS256, short, "oct", validClaims(clk.Now())), "unknown signing key"},
		{"1024-bit RSA key", sign(t, jwt.SigningMethodRS256, short, "short", validClaims(clk.Now())), "unknown signing key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := j.Authenticate(request("Bearer " + tc.token))
			checkRefusal(t, err, auth.ErrInvalidToken, tc.reason, tc.token)
		})
	}
	if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, good, "good", validClaims(clk.Now())))); err != nil {
		t.Fatal(err)
	}
}

// TestJWTClose checks that Close may be called twice, and after the
// context of NewJWT is done; goleak in TestMain checks that the refresh
// goroutine is gone.
func TestJWTClose(t *testing.T) {
	key := ecKey(t)
	srv := newJWKSServer(t, jwk(t, "k", jwkset.AlgES256, key))
	clk := newClock()
	for _, cancelFirst := range []bool{false, true} {
		ctx, cancel := context.WithCancel(t.Context())
		j, err := auth.NewJWT(ctx, jwksConfig(srv, clk))
		if err != nil {
			t.Fatal(err)
		}
		if cancelFirst {
			cancel()
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		cancel()
		// Cached keys still work, and an unknown kid fetches nothing.
		if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, key, "k", validClaims(clk.Now())))); err != nil {
			t.Fatal(err)
		}
		hits := srv.hits.Load()
		_, err = j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, key, "other", validClaims(clk.Now()))))
		checkRefusal(t, err, auth.ErrInvalidToken, "unknown signing key")
		srv.wantHits(t, hits)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestJWTPeriodicRefresh checks, on a fake clock, that the JWKS is fetched
// every RefreshInterval, sooner after a failure, and never after Close.
func TestJWTPeriodicRefresh(t *testing.T) {
	k1, k2 := ecKey(t), ecKey(t)
	set := func(keys ...jwkset.JWKMarshal) []byte {
		b, err := json.Marshal(jwkset.JWKSMarshal{Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, second := set(jwk(t, "k1", jwkset.AlgES256, k1)), set(jwk(t, "k1", jwkset.AlgES256, k1), jwk(t, "k2", jwkset.AlgES256, k2))
	synctest.Test(t, func(t *testing.T) {
		var hits atomic.Int64
		var fail atomic.Bool
		var body atomic.Pointer[[]byte]
		body.Store(&first)
		// No network: the transport answers in memory.
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			hits.Add(1)
			if fail.Load() {
				return nil, errors.New("connection refused")
			}
			return &http.Response{
				StatusCode: http.StatusOK,
				Header:     http.Header{"Content-Type": {"application/json"}},
				Body:       io.NopCloser(bytes.NewReader(*body.Load())),
				Request:    r,
			}, nil
		})}
		j, err := auth.NewJWT(t.Context(), auth.JWTConfig{
			JWKSURL: "https://idp.test/.well-known/jwks.json", Issuer: testIssuer, Audience: testAudience,
			HTTPClient: client, RefreshInterval: time.Hour, RefetchInterval: time.Minute,
		})
		if err != nil {
			t.Fatal(err)
		}
		check := func(want int64) {
			t.Helper()
			synctest.Wait()
			if got := hits.Load(); got != want {
				t.Fatalf("JWKS fetched %d times, want %d", got, want)
			}
		}
		check(1)
		time.Sleep(time.Hour - time.Second)
		check(1)
		body.Store(&second)
		time.Sleep(2 * time.Second)
		check(2)
		// k2 came with the refresh: no fetch for it.
		if _, err := j.Authenticate(request("Bearer " + sign(t, jwt.SigningMethodES256, k2, "k2", validClaims(time.Now())))); err != nil {
			t.Fatal(err)
		}
		check(2)

		fail.Store(true)
		time.Sleep(time.Hour)
		check(3)
		time.Sleep(time.Minute) // a failed fetch is retried sooner
		check(4)
		fail.Store(false)
		time.Sleep(time.Minute)
		check(5)
		time.Sleep(time.Minute)
		check(5)

		j.Close()
		time.Sleep(3 * time.Hour)
		check(5)
	})
}

// TestJWTKeyRotationConcurrent checks that requests arriving together with
// a new key are all accepted, with one fetch among them.
func TestJWTKeyRotationConcurrent(t *testing.T) {
	oldKey, newKey := ecKey(t), ecKey(t)
	srv := newJWKSServer(t, jwk(t, "old", jwkset.AlgES256, oldKey))
	clk := newClock()
	j := newJWKSAuth(t, jwksConfig(srv, clk))
	srv.serve(t, jwk(t, "old", jwkset.AlgES256, oldKey), jwk(t, "new", jwkset.AlgES256, newKey))

	token := sign(t, jwt.SigningMethodES256, newKey, "new", validClaims(clk.Now()))
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := j.Authenticate(request("Bearer " + token))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	srv.wantHits(t, 2)
}
