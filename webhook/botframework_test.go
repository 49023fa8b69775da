package webhook_test

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/webhook"
)

const (
	bfAppID      = "5d8e2f3a-0c1b-4e6f-9a7d-2b3c4d5e6f70"
	bfServiceURL = "https://smba.trafficmanager.net/emea/"
	bfKid        = "k1"
	bfActivity   = `{"type":"message","id":"1485983408511","channelId":"msteams",` +
		`"serviceUrl":"https://smba.trafficmanager.net/emea/","text":"hello"}`
)

var bfStart = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

// bfKey is the test's signing key, and bfOtherKey one the JWKS does not
// hold; each is generated once per test binary.
var (
	bfKey      = sync.OnceValue(func() *rsa.PrivateKey { return bfGenerate() })
	bfOtherKey = sync.OnceValue(func() *rsa.PrivateKey { return bfGenerate() })
)

func bfGenerate() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

// bfNoLeaks fails t if goroutines it started outlive it.
func bfNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// bfIdP is a fake OpenID metadata and JWKS server on loopback.
type bfIdP struct {
	srv      *httptest.Server
	metaHits atomic.Int64
	jwksHits atomic.Int64

	mu       sync.Mutex
	keys     []map[string]any
	status   int    // answered to both when not zero
	jwksURI  string // overrides the jwks_uri when set
	jwksBody []byte // overrides the JWKS when set
	// jwksEndless makes the JWKS a body that never ends.
	jwksEndless bool
}

func newBFIdP(t testing.TB) *bfIdP {
	t.Helper()
	idp := &bfIdP{keys: []map[string]any{bfJWK(&bfKey().PublicKey, bfKid, []string{"msteams", "webchat"})}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/.well-known/openidconfiguration", func(w http.ResponseWriter, r *http.Request) {
		idp.metaHits.Add(1)
		idp.mu.Lock()
		status, uri := idp.status, idp.jwksURI
		idp.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if uri == "" {
			uri = idp.srv.URL + "/v1/.well-known/keys"
		}
		writeBFJSON(w, map[string]any{
			"issuer":                                webhook.BotFrameworkIssuerDefault,
			"authorization_endpoint":                "https://invalid.botframework.com",
			"jwks_uri":                              uri,
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"token_endpoint_auth_methods_supported": []string{"private_key_jwt"},
		})
	})
	mux.HandleFunc("GET /v1/.well-known/keys", func(w http.ResponseWriter, r *http.Request) {
		idp.jwksHits.Add(1)
		idp.mu.Lock()
		status, body, endless, keys := idp.status, idp.jwksBody, idp.jwksEndless, slices.Clone(idp.keys)
		idp.mu.Unlock()
		switch {
		case status != 0:
			w.WriteHeader(status)
		case endless:
			// A JSON string that never ends, until the client hangs up.
			chunk := []byte(strings.Repeat("x", 32<<10))
			if _, err := w.Write([]byte(`{"keys":[],"pad":"`)); err != nil {
				return
			}
			for r.Context().Err() == nil {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case body != nil:
			_, _ = w.Write(body)
		default:
			writeBFJSON(w, map[string]any{"keys": keys})
		}
	})
	idp.srv = httptest.NewServer(mux)
	t.Cleanup(idp.srv.Close)
	return idp
}

func (idp *bfIdP) metadataURL() string { return idp.srv.URL + "/v1/.well-known/openidconfiguration" }

func (idp *bfIdP) set(f func(idp *bfIdP)) {
	idp.mu.Lock()
	defer idp.mu.Unlock()
	f(idp)
}

func writeBFJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// bfJWK is pub as a Bot Framework JWK; nil endorsements leaves the member
// out.
func bfJWK(pub *rsa.PublicKey, kid string, endorsements []string) map[string]any {
	k := map[string]any{
		"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
		"n": base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
	if endorsements != nil {
		k["endorsements"] = endorsements
	}
	return k
}

// newBF returns a verifier of idp's keys reading clock.
func newBF(t *testing.T, idp *bfIdP, clock *clocktest.Clock, opts ...webhook.Option) *webhook.BotFramework {
	t.Helper()
	opts = append([]webhook.Option{webhook.WithClock(clock)}, opts...)
	bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: bfAppID, OpenIDMetadataURL: idp.metadataURL()}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return bf
}

// bfClaims are valid claims at now.
func bfClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss":        webhook.BotFrameworkIssuerDefault,
		"aud":        bfAppID,
		"nbf":        now.Add(-5 * time.Minute).Unix(),
		"exp":        now.Add(time.Hour).Unix(),
		"serviceurl": bfServiceURL,
	}
}

func bfB64JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// bfSign signs an RS256 token with key.
func bfSign(key *rsa.PrivateKey, header, claims map[string]any) string {
	input := bfB64JSON(header) + "." + bfB64JSON(claims)
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	if err != nil {
		panic(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// bfToken is a valid token at now, with changes applied to its claims.
func bfToken(now time.Time, change func(claims map[string]any)) string {
	claims := bfClaims(now)
	if change != nil {
		change(claims)
	}
	return bfSign(bfKey(), map[string]any{"typ": "JWT", "alg": "RS256", "kid": bfKid, "x5t": bfKid}, claims)
}

func bfAuth(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}}
}

func TestBotFrameworkAcceptsValidToken(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	clock := clocktest.New(bfStart)
	bf := newBF(t, idp, clock)

	v, err := bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.DeliveryID != "1485983408511" {
		t.Errorf("DeliveryID = %q, want the activity id 1485983408511", v.DeliveryID)
	}
	if v.Reply != nil {
		t.Errorf("Reply = %q, want none", v.Reply)
	}
}

func TestBotFrameworkAccepts(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	idp.set(func(idp *bfIdP) {
		idp.keys = append(idp.keys, bfJWK(&bfKey().PublicKey, "no-endorsements", nil))
		// The key is n and e; a certificate chain that does not parse
		// takes nothing from it.
		withX5C := bfJWK(&bfKey().PublicKey, "with-x5c", nil)
		withX5C["x5c"], withX5C["x5t"] = []string{"MIIBbm90IGEgY2VydGlmaWNhdGU="}, "bm90LWEtdGh1bWJwcmludA"
		idp.keys = append(idp.keys, withX5C)
	})
	clock := clocktest.New(bfStart)
	bf := newBF(t, idp, clock)
	now := bfStart
	tests := []struct {
		name   string
		token  string
		body   string
		wantID string
	}{
		{"expired within skew", bfToken(now, func(c map[string]any) { c["exp"] = now.Add(-4 * time.Minute).Unix() }), bfActivity, "1485983408511"},
		{"not yet valid within skew", bfToken(now, func(c map[string]any) { c["nbf"] = now.Add(4 * time.Minute).Unix() }), bfActivity, "1485983408511"},
		{"no nbf", bfToken(now, func(c map[string]any) { delete(c, "nbf") }), bfActivity, "1485983408511"},
		{"fractional times", bfToken(now, func(c map[string]any) { c["exp"] = float64(now.Unix()) + 0.5 }), bfActivity, "1485983408511"},
		{"audience array", bfToken(now, func(c map[string]any) { c["aud"] = []string{"other", bfAppID} }), bfActivity, "1485983408511"},
		{"endorsed channel webchat", bfToken(now, nil),
			`{"id":"a1","channelId":"webchat","serviceUrl":"https://smba.trafficmanager.net/emea/"}`, "a1"},
		{"no channelId", bfToken(now, nil), `{"id":"a2","serviceUrl":"https://smba.trafficmanager.net/emea/"}`, "a2"},
		{"no activity id", bfToken(now, nil), `{"channelId":"msteams","serviceUrl":"https://smba.trafficmanager.net/emea/"}`, ""},
		{"activity id in its conversation", bfToken(now, nil),
			`{"id":"a4","conversation":{"id":"a:1x2y"},"channelId":"msteams","serviceUrl":"https://smba.trafficmanager.net/emea/"}`, "a:1x2y/a4"},
		{"key without endorsements", bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": "no-endorsements"}, bfClaims(now)),
			`{"id":"a3","channelId":"slack","serviceUrl":"https://smba.trafficmanager.net/emea/"}`, "a3"},
		{"key with an unparsable certificate chain", bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": "with-x5c"}, bfClaims(now)),
			bfActivity, "1485983408511"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := bf.Verify(context.Background(), bfAuth(tt.token), []byte(tt.body))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if v.DeliveryID != tt.wantID {
				t.Errorf("DeliveryID = %q, want %q", v.DeliveryID, tt.wantID)
			}
		})
	}

	t.Run("lowercase bearer scheme", func(t *testing.T) {
		h := http.Header{"Authorization": {"bearer " + bfToken(now, nil)}}
		if _, err := bf.Verify(context.Background(), h, []byte(bfActivity)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("WithTolerance widens the skew", func(t *testing.T) {
		wide := newBF(t, idp, clock, webhook.WithTolerance(10*time.Minute))
		tok := bfToken(now, func(c map[string]any) { c["exp"] = now.Add(-9 * time.Minute).Unix() })
		if _, err := wide.Verify(context.Background(), bfAuth(tok), []byte(bfActivity)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
}

func TestBotFrameworkRejects(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	idp.set(func(idp *bfIdP) {
		idp.keys = append(idp.keys, bfJWK(&bfKey().PublicKey, "endorses-nothing", []string{}))
	})
	clock := clocktest.New(bfStart)
	bf := newBF(t, idp, clock)
	now := bfStart
	valid := bfToken(now, nil)
	parts := strings.Split(valid, ".")

	// HS256 with the public key as the HMAC secret: the classic confusion.
	pubDER, err := x509.MarshalPKIXPublicKey(&bfKey().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	hs256 := func(secret []byte) string {
		input := bfB64JSON(map[string]any{"alg": "HS256", "kid": bfKid, "typ": "JWT"}) + "." + bfB64JSON(bfClaims(now))
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	unsigned := func(alg string) string {
		return bfB64JSON(map[string]any{"alg": alg, "kid": bfKid, "typ": "JWT"}) + "." + bfB64JSON(bfClaims(now)) + "."
	}
	tamperedClaims := bfClaims(now)
	tamperedClaims["aud"] = "someone-else"
	flipped := []byte(parts[2])
	if flipped[10] == 'A' {
		flipped[10] = 'B'
	} else {
		flipped[10] = 'A'
	}

	const otherActivity = `{"id":"x","channelId":"slack","serviceUrl":"https://smba.trafficmanager.net/emea/"}`
	tests := []struct {
		name       string
		header     http.Header
		body       string
		wantReason webhook.Reason
		wantDetail string
	}{
		{"missing header", http.Header{}, bfActivity, webhook.ReasonMissingHeader, ""},
		{"empty header", http.Header{"Authorization": {"  "}}, bfActivity, webhook.ReasonMissingHeader, ""},
		{"basic scheme", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, bfActivity, webhook.ReasonMalformedHeader, "Bearer"},
		{"bare token", http.Header{"Authorization": {valid}}, bfActivity, webhook.ReasonMalformedHeader, "Bearer"},
		{"bearer without token", http.Header{"Authorization": {"Bearer"}}, bfActivity, webhook.ReasonMalformedHeader, "Bearer"},
		{"two parts", bfAuth(parts[0] + "." + parts[1]), bfActivity, webhook.ReasonMalformedHeader, "three"},
		{"four parts", bfAuth(valid + ".x"), bfActivity, webhook.ReasonMalformedHeader, "three"},
		{"not base64url", bfAuth("!!!." + parts[1] + "." + parts[2]), bfActivity, webhook.ReasonMalformedHeader, "three"},
		{"padded base64", bfAuth(parts[0] + "=." + parts[1] + "." + parts[2]), bfActivity, webhook.ReasonMalformedHeader, "three"},
		{"header not JSON", bfAuth(base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[1] + "." + parts[2]),
			bfActivity, webhook.ReasonMalformedHeader, "header"},
		{"payload not JSON", bfAuth(parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + "." + parts[2]),
			bfActivity, webhook.ReasonMalformedHeader, "payload"},
		{"too long", bfAuth(strings.Repeat("a", 20000) + "." + parts[1] + "." + parts[2]), bfActivity, webhook.ReasonMalformedHeader, "long"},
		{"two Authorization headers", http.Header{"Authorization": {"Bearer " + valid, "Bearer " + valid}},
			bfActivity, webhook.ReasonMalformedHeader, "more than one"},

		{"alg none", bfAuth(unsigned("none")), bfActivity, webhook.ReasonBadToken, "alg"},
		{"alg None", bfAuth(unsigned("None")), bfActivity, webhook.ReasonBadToken, "alg"},
		{"no alg", bfAuth(bfB64JSON(map[string]any{"kid": bfKid}) + "." + parts[1] + "." + parts[2]), bfActivity, webhook.ReasonBadToken, "alg"},
		{"HS256 with the public key PEM", bfAuth(hs256(pubPEM)), bfActivity, webhook.ReasonBadToken, "alg"},
		{"HS256 with the public key DER", bfAuth(hs256(pubDER)), bfActivity, webhook.ReasonBadToken, "alg"},
		{"RS384", bfAuth(bfB64JSON(map[string]any{"alg": "RS384", "kid": bfKid}) + "." + parts[1] + "." + parts[2]),
			bfActivity, webhook.ReasonBadToken, "alg"},
		{"crit header", bfAuth(bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": bfKid, "crit": []string{"exp"}}, bfClaims(now))),
			bfActivity, webhook.ReasonBadToken, "critical"},
		{"no kid", bfAuth(bfSign(bfKey(), map[string]any{"alg": "RS256"}, bfClaims(now))), bfActivity, webhook.ReasonBadToken, "kid"},
		{"unknown kid", bfAuth(bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": "k-unknown"}, bfClaims(now))),
			bfActivity, webhook.ReasonBadToken, "unknown kid"},
		{"signed by another key", bfAuth(bfSign(bfOtherKey(), map[string]any{"alg": "RS256", "kid": bfKid}, bfClaims(now))),
			bfActivity, webhook.ReasonBadToken, "signature"},
		{"tampered payload", bfAuth(parts[0] + "." + bfB64JSON(tamperedClaims) + "." + parts[2]), bfActivity, webhook.ReasonBadToken, "signature"},
		{"tampered signature", bfAuth(parts[0] + "." + parts[1] + "." + string(flipped)), bfActivity, webhook.ReasonBadToken, "signature"},
		{"no signature", bfAuth(parts[0] + "." + parts[1] + "."), bfActivity, webhook.ReasonBadToken, "signature"},
		{"wrong audience", bfAuth(bfToken(now, func(c map[string]any) { c["aud"] = "another-bot" })), bfActivity, webhook.ReasonBadToken, "audience"},
		{"audience array without the bot", bfAuth(bfToken(now, func(c map[string]any) { c["aud"] = []string{"a", "b"} })),
			bfActivity, webhook.ReasonBadToken, "audience"},
		{"no audience", bfAuth(bfToken(now, func(c map[string]any) { delete(c, "aud") })), bfActivity, webhook.ReasonBadToken, "audience"},
		{"wrong issuer", bfAuth(bfToken(now, func(c map[string]any) { c["iss"] = "https://api.botframework.us" })),
			bfActivity, webhook.ReasonBadToken, "issuer"},
		{"issuer of another case", bfAuth(bfToken(now, func(c map[string]any) { c["iss"] = "https://API.botframework.com" })),
			bfActivity, webhook.ReasonBadToken, "issuer"},
		{"expired beyond skew", bfAuth(bfToken(now, func(c map[string]any) { c["exp"] = now.Add(-6 * time.Minute).Unix() })),
			bfActivity, webhook.ReasonBadToken, "expired"},
		{"expired exactly at skew", bfAuth(bfToken(now, func(c map[string]any) { c["exp"] = now.Add(-5 * time.Minute).Unix() })),
			bfActivity, webhook.ReasonBadToken, "expired"},
		{"no exp", bfAuth(bfToken(now, func(c map[string]any) { delete(c, "exp") })), bfActivity, webhook.ReasonBadToken, "exp"},
		{"exp not a number", bfAuth(bfToken(now, func(c map[string]any) { c["exp"] = "tomorrow" })), bfActivity, webhook.ReasonBadToken, "exp"},
		{"exp out of range", bfAuth(bfToken(now, func(c map[string]any) { c["exp"] = 1e300 })), bfActivity, webhook.ReasonBadToken, "exp"},
		{"not yet valid beyond skew", bfAuth(bfToken(now, func(c map[string]any) { c["nbf"] = now.Add(6 * time.Minute).Unix() })),
			bfActivity, webhook.ReasonBadToken, "not yet valid"},
		{"bad serviceurl", bfAuth(bfToken(now, func(c map[string]any) { c["serviceurl"] = "https://attacker.example/" })),
			bfActivity, webhook.ReasonBadToken, "serviceurl"},
		{"serviceurl of another case", bfAuth(bfToken(now, func(c map[string]any) { c["serviceurl"] = strings.ToUpper(bfServiceURL) })),
			bfActivity, webhook.ReasonBadToken, "serviceurl"},
		{"no serviceurl claim", bfAuth(bfToken(now, func(c map[string]any) { delete(c, "serviceurl") })), bfActivity, webhook.ReasonBadToken, "serviceurl"},
		{"serviceUrl claim spelt otherwise", bfAuth(bfToken(now, func(c map[string]any) { delete(c, "serviceurl"); c["serviceUrl"] = bfServiceURL })),
			bfActivity, webhook.ReasonBadToken, "serviceurl"},
		{"activity without serviceUrl", bfAuth(valid), `{"id":"x","channelId":"msteams"}`, webhook.ReasonBadToken, "serviceUrl"},
		{"body not JSON", bfAuth(valid), `not json`, webhook.ReasonBadToken, "body"},
		{"channel not endorsed", bfAuth(valid), otherActivity, webhook.ReasonBadToken, "endorsed"},
		{"key endorsing nothing", bfAuth(bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": "endorses-nothing"}, bfClaims(now))),
			bfActivity, webhook.ReasonBadToken, "endorsed"},
		{"channelId not a string", bfAuth(valid), `{"channelId":7,"serviceUrl":"https://smba.trafficmanager.net/emea/"}`, webhook.ReasonBadToken, "channelId"},
	}
	// The activity, not the token, is at fault in these.
	bodyFaults := map[string]bool{"activity without serviceUrl": true, "body not JSON": true, "channelId not a string": true}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := bf.Verify(context.Background(), tt.header, []byte(tt.body))
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", v)
			}
			if !errors.Is(err, webhook.ErrVerification) {
				t.Fatalf("error %v does not match ErrVerification", err)
			}
			var ve *webhook.VerificationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *VerificationError", err)
			}
			if ve.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q (%v)", ve.Reason, tt.wantReason, err)
			}
			if !strings.Contains(ve.Detail, tt.wantDetail) {
				t.Errorf("Detail = %q, want it to say %q", ve.Detail, tt.wantDetail)
			}
			wantHeader := "Authorization"
			if bodyFaults[tt.name] {
				wantHeader = ""
			}
			if ve.Header != wantHeader {
				t.Errorf("Header = %q, want %q", ve.Header, wantHeader)
			}
			for _, vals := range tt.header {
				for _, val := range vals {
					for _, part := range strings.Split(strings.TrimPrefix(val, "Bearer "), ".") {
						if len(part) >= 16 && strings.Contains(err.Error(), part) {
							t.Errorf("error %q echoes the token", err)
						}
					}
				}
			}
		})
	}
	if n := idp.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (the unknown kid comes right after the first fetch)", n)
	}
}

func TestBotFrameworkCachesKeys(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	clock := clocktest.New(bfStart)
	bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{
		AppID: bfAppID, OpenIDMetadataURL: idp.metadataURL(), CacheTTL: time.Hour,
	}, webhook.WithClock(clock))
	if err != nil {
		t.Fatal(err)
	}
	tok := bfToken(bfStart, nil)
	verify := func() error {
		_, err := bf.Verify(context.Background(), bfAuth(tok), []byte(bfActivity))
		return err
	}

	// A cold cache under concurrent requests: one fetch serves them all.
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 32 {
		wg.Go(func() { errs <- verify() })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	for range 50 {
		if err := verify(); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	}
	if m, k := idp.metaHits.Load(), idp.jwksHits.Load(); m != 1 || k != 1 {
		t.Fatalf("after 82 verifications: metadata fetched %d times, JWKS %d times; want 1 and 1", m, k)
	}

	clock.Advance(59 * time.Minute)
	if err := verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if k := idp.jwksHits.Load(); k != 1 {
		t.Fatalf("JWKS fetched %d times within the TTL, want 1", k)
	}
	clock.Advance(time.Minute)
	tok = bfToken(clock.Now(), nil)
	if err := verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if m, k := idp.metaHits.Load(), idp.jwksHits.Load(); m != 2 || k != 2 {
		t.Fatalf("once the TTL passed: metadata fetched %d times, JWKS %d times; want 2 and 2", m, k)
	}
}

func TestBotFrameworkUnknownKidRefetchesAtMostOncePerMinute(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	clock := clocktest.New(bfStart)
	bf := newBF(t, idp, clock)
	verify := func(kid string) error {
		tok := bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": kid}, bfClaims(clock.Now()))
		_, err := bf.Verify(context.Background(), bfAuth(tok), []byte(bfActivity))
		return err
	}
	wantFetches := func(want int64) {
		t.Helper()
		if n := idp.jwksHits.Load(); n != want {
			t.Fatalf("JWKS fetched %d times, want %d", n, want)
		}
	}
	wantUnknownKid := func(err error) {
		t.Helper()
		var ve *webhook.VerificationError
		if !errors.As(err, &ve) || ve.Reason != webhook.ReasonBadToken || !strings.Contains(ve.Detail, "unknown kid") {
			t.Fatalf("err = %v, want bad_token: unknown kid", err)
		}
	}

	if err := verify(bfKid); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	wantFetches(1)

	// The keys rotate: k2 appears in the JWKS.
	idp.set(func(idp *bfIdP) { idp.keys = append(idp.keys, bfJWK(&bfKey().PublicKey, "k2", nil)) })
	clock.Advance(10 * time.Second)
	for range 20 {
		wantUnknownKid(verify("k2"))
		wantUnknownKid(verify("junk"))
	}
	wantFetches(1) // within a minute of the last fetch

	clock.Advance(50 * time.Second) // a minute since the fetch
	if err := verify("k2"); err != nil {
		t.Fatalf("Verify with the rotated-in key after a minute: %v", err)
	}
	wantFetches(2)

	for range 20 {
		wantUnknownKid(verify("junk"))
	}
	clock.Advance(59 * time.Second)
	wantUnknownKid(verify("junk"))
	wantFetches(2)
	clock.Advance(time.Second)
	wantUnknownKid(verify("junk"))
	wantFetches(3)
	wantUnknownKid(verify("junk"))
	wantFetches(3)
	if err := verify(bfKid); err != nil {
		t.Fatalf("Verify with a known kid: %v", err)
	}
	wantFetches(3)
}

func TestBotFrameworkUnknownKidWhileKeyServerFails(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	clock := clocktest.New(bfStart)
	bf := newBF(t, idp, clock)
	verify := func(kid string) error {
		tok := bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": kid}, bfClaims(clock.Now()))
		_, err := bf.Verify(context.Background(), bfAuth(tok), []byte(bfActivity))
		return err
	}
	if err := verify(bfKid); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	idp.set(func(idp *bfIdP) {
		idp.status = http.StatusBadGateway
		idp.keys = append(idp.keys, bfJWK(&bfKey().PublicKey, "k2", nil))
	})
	clock.Advance(time.Minute)
	for i := range 3 {
		// The refetch fails: whether k2 is a real key cannot be told, so
		// it is the verifier's trouble (503), not a bad token (401).
		err := verify("k2")
		if err == nil || errors.Is(err, webhook.ErrVerification) || !strings.Contains(err.Error(), "status 502") {
			t.Fatalf("try %d: err = %v, want the fetch failure", i, err)
		}
		if err := verify(bfKid); err != nil {
			t.Fatalf("try %d: Verify with a cached key while the key server fails: %v", i, err)
		}
	}
	if n := idp.metaHits.Load(); n != 2 {
		t.Fatalf("metadata fetched %d times, want 2 (one refetch a minute)", n)
	}
	idp.set(func(idp *bfIdP) { idp.status = 0 })
	clock.Advance(time.Minute)
	if err := verify("k2"); err != nil {
		t.Fatalf("Verify once the key server answers: %v", err)
	}
}

func TestBotFrameworkKeyFetchFailures(t *testing.T) {
	bfNoLeaks(t)
	tests := []struct {
		name  string
		setup func(idp *bfIdP)
		want  string
	}{
		{"server down", func(idp *bfIdP) { idp.srv.Close() }, "openid metadata"},
		{"metadata 500", func(idp *bfIdP) { idp.set(func(idp *bfIdP) { idp.status = http.StatusInternalServerError }) }, "status 500"},
		{"no jwks_uri", func(idp *bfIdP) { idp.set(func(idp *bfIdP) { idp.jwksURI = " " }) }, "jwks_uri"},
		{"JWKS not JSON", func(idp *bfIdP) { idp.set(func(idp *bfIdP) { idp.jwksBody = []byte("<html>") }) }, "decode"},
		{"JWKS over 1 MiB", func(idp *bfIdP) {
			idp.set(func(idp *bfIdP) {
				idp.jwksBody = []byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`)
			})
		}, "exceeds"},
		{"JWKS without end", func(idp *bfIdP) { idp.set(func(idp *bfIdP) { idp.jwksEndless = true }) }, "exceeds"},
		{"JWKS without RSA keys", func(idp *bfIdP) {
			idp.set(func(idp *bfIdP) { idp.jwksBody = []byte(`{"keys":[{"kty":"EC","kid":"k1","crv":"P-256"}]}`) })
		}, "no usable"},
		{"JWKS with a 1024-bit key", func(idp *bfIdP) {
			pub := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 1023), E: 65537}
			idp.set(func(idp *bfIdP) { idp.keys = []map[string]any{bfJWK(pub, bfKid, nil)} })
		}, "no usable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idp := newBFIdP(t)
			clock := clocktest.New(bfStart)
			bf := newBF(t, idp, clock)
			tt.setup(idp)
			v, err := bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity))
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", v)
			}
			if errors.Is(err, webhook.ErrVerification) {
				t.Fatalf("error %v matches ErrVerification; a key fetch failure is the verifier's own", err)
			}
			var ve *webhook.VerificationError
			if errors.As(err, &ve) {
				t.Fatalf("error %v is a *VerificationError", err)
			}
			if !strings.Contains(err.Error(), "fetch signing keys") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to say fetch signing keys and %q", err, tt.want)
			}
		})
	}

	t.Run("recovers once the server answers", func(t *testing.T) {
		idp := newBFIdP(t)
		clock := clocktest.New(bfStart)
		bf := newBF(t, idp, clock)
		idp.set(func(idp *bfIdP) { idp.status = http.StatusServiceUnavailable })
		if _, err := bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity)); err == nil || errors.Is(err, webhook.ErrVerification) {
			t.Fatalf("err = %v, want a fetch failure", err)
		}
		idp.set(func(idp *bfIdP) { idp.status = 0 })
		if _, err := bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})

	t.Run("http jwks_uri under https metadata", func(t *testing.T) {
		idp := newBFIdP(t)
		idp.set(func(idp *bfIdP) { idp.jwksURI = "http://" + idp.srv.Listener.Addr().String() + "/v1/.well-known/keys" })
		tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			idp.srv.Config.Handler.ServeHTTP(w, r)
		}))
		t.Cleanup(tls.Close)
		bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{
			AppID: bfAppID, OpenIDMetadataURL: tls.URL + "/v1/.well-known/openidconfiguration", HTTPClient: tls.Client(),
		}, webhook.WithClock(clocktest.New(bfStart)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity))
		if err == nil || errors.Is(err, webhook.ErrVerification) || !strings.Contains(err.Error(), "not https") {
			t.Fatalf("err = %v, want a fetch failure saying jwks_uri is not https", err)
		}
		if n := idp.jwksHits.Load(); n != 0 {
			t.Errorf("JWKS fetched %d times over http, want 0", n)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		idp := newBFIdP(t)
		bf := newBF(t, idp, clocktest.New(bfStart))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := bf.Verify(ctx, bfAuth(bfToken(bfStart, nil)), []byte(bfActivity))
		if !errors.Is(err, context.Canceled) || errors.Is(err, webhook.ErrVerification) {
			t.Fatalf("err = %v, want context.Canceled, not a verification failure", err)
		}
	})
}

func TestNewBotFrameworkRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.BotFrameworkConfig
		want string
	}{
		{"no AppID", webhook.BotFrameworkConfig{}, "AppID"},
		{"relative metadata URL", webhook.BotFrameworkConfig{AppID: bfAppID, OpenIDMetadataURL: "/keys"}, "OpenIDMetadataURL"},
		{"ftp metadata URL", webhook.BotFrameworkConfig{AppID: bfAppID, OpenIDMetadataURL: "ftp://example.com/x"}, "OpenIDMetadataURL"},
		{"empty issuer", webhook.BotFrameworkConfig{AppID: bfAppID, Issuers: []string{""}}, "Issuers"},
		{"negative TTL", webhook.BotFrameworkConfig{AppID: bfAppID, CacheTTL: -time.Second}, "CacheTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bf, err := webhook.NewBotFramework(tt.cfg)
			if err == nil {
				t.Fatalf("NewBotFramework accepted it: %+v", bf)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to name %s", err, tt.want)
			}
		})
	}
	if _, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: bfAppID}); err != nil {
		t.Errorf("NewBotFramework with only AppID: %v", err)
	}
}

func TestBotFrameworkCustomIssuers(t *testing.T) {
	bfNoLeaks(t)
	idp := newBFIdP(t)
	bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{
		AppID: bfAppID, OpenIDMetadataURL: idp.metadataURL(), Issuers: []string{"https://api.botframework.us"},
	}, webhook.WithClock(clocktest.New(bfStart)))
	if err != nil {
		t.Fatal(err)
	}
	us := bfToken(bfStart, func(c map[string]any) { c["iss"] = "https://api.botframework.us" })
	if _, err := bf.Verify(context.Background(), bfAuth(us), []byte(bfActivity)); err != nil {
		t.Fatalf("Verify with a configured issuer: %v", err)
	}
	_, err = bf.Verify(context.Background(), bfAuth(bfToken(bfStart, nil)), []byte(bfActivity))
	if !errors.Is(err, webhook.ErrVerification) || !strings.Contains(err.Error(), "issuer") {
		t.Fatalf("err = %v, want the default issuer refused when not configured", err)
	}
}

func FuzzBotFrameworkHeader(f *testing.F) {
	idp := newBFIdP(f)
	clock := clocktest.New(bfStart)
	bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: bfAppID, OpenIDMetadataURL: idp.metadataURL()},
		webhook.WithClock(clock))
	if err != nil {
		f.Fatal(err)
	}
	valid := bfToken(bfStart, nil)
	parts := strings.Split(valid, ".")
	f.Add("Bearer "+valid, []byte(bfActivity))
	f.Add("bearer "+valid, []byte(`{"serviceUrl":"https://smba.trafficmanager.net/emea/"}`))
	f.Add("Bearer "+valid, []byte(`{"channelId":"slack","serviceUrl":"https://smba.trafficmanager.net/emea/"}`))
	f.Add("Bearer "+parts[0]+"."+parts[1]+".", []byte(bfActivity))
	f.Add("Bearer "+bfB64JSON(map[string]any{"alg": "none", "kid": bfKid})+"."+parts[1]+".", []byte(bfActivity))
	f.Add("Bearer "+bfB64JSON(map[string]any{"alg": "HS256", "kid": bfKid})+"."+parts[1]+"."+parts[2], []byte(bfActivity))
	f.Add("Bearer "+bfSign(bfOtherKey(), map[string]any{"alg": "RS256", "kid": bfKid}, bfClaims(bfStart)), []byte(bfActivity))
	f.Add("Bearer "+bfSign(bfKey(), map[string]any{"alg": "RS256", "kid": "zz"}, bfClaims(bfStart)), []byte(bfActivity))
	f.Add("Bearer a.b.c", []byte(bfActivity))
	f.Add("Bearer ..", []byte("{}"))
	f.Add("Basic dXNlcjpwYXNz", []byte(bfActivity))
	f.Add("", []byte(nil))
	f.Add("Bearer e30.e30.", []byte("null"))

	pub := &bfKey().PublicKey
	f.Fuzz(func(t *testing.T, auth string, body []byte) {
		header := http.Header{}
		if auth != "" {
			header["Authorization"] = []string{auth}
		}
		v, err := bf.Verify(context.Background(), header, body)
		if err != nil {
			if !errors.Is(err, webhook.ErrVerification) {
				t.Fatalf("error %v is not a verification failure (the key server is up)", err)
			}
			return
		}
		if v == nil {
			t.Fatal("Verify returned neither a result nor an error")
		}
		// Accepted: the token must be RS256-signed by the test key.
		_, token, _ := strings.Cut(strings.TrimSpace(auth), " ")
		p := strings.Split(strings.TrimLeft(token, " "), ".")
		if len(p) != 3 {
			t.Fatalf("accepted a token of %d parts", len(p))
		}
		var head map[string]any
		hb, _ := base64.RawURLEncoding.DecodeString(p[0])
		if err := json.Unmarshal(hb, &head); err != nil || head["alg"] != "RS256" {
			t.Fatalf("accepted a token whose header is %q", hb)
		}
		sig, err := base64.RawURLEncoding.DecodeString(p[2])
		if err != nil {
			t.Fatalf("accepted a token whose signature is not base64url: %v", err)
		}
		digest := sha256.Sum256([]byte(p[0] + "." + p[1]))
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("accepted a token not signed by the test key: %v", err)
		}
	})
}

// BenchmarkBotFrameworkVerify measures Verify of a valid token whose
// signing key is cached: the work done for each activity the connector
// sends.
func BenchmarkBotFrameworkVerify(b *testing.B) {
	idp := newBFIdP(b)
	bf, err := webhook.NewBotFramework(webhook.BotFrameworkConfig{AppID: bfAppID, OpenIDMetadataURL: idp.metadataURL()},
		webhook.WithClock(clocktest.New(bfStart)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	header, body := bfAuth(bfToken(bfStart, nil)), []byte(bfActivity)
	if _, err := bf.Verify(ctx, header, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bf.Verify(ctx, header, body); err != nil {
			b.Fatal(err)
		}
	}
	if n := idp.jwksHits.Load(); n != 1 {
		b.Fatalf("JWKS fetched %d times, want 1", n)
	}
}
