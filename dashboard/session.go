package dashboard

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/scheduler"
)

// Cookie names.
const (
	sessionCookie = "herald_session"
	signInCookie  = "herald_signin" // binds the sign-in form's CSRF token
	zoneCookie    = "herald_tz"     // the viewer's time zone, set by the script
)

// maxCookie bounds a session cookie: browsers keep 4,096 bytes per cookie.
const maxCookie = 4000

// keys are the session key's derived keys: one seals sessions, one keys
// the CSRF tokens.
type keys struct {
	seal cipher.AEAD
	mac  []byte
}

func newKeys(key []byte) keys {
	derive := func(label string) []byte {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(label))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(derive("herald dashboard session"))
	if err != nil {
		panic(err) // a 32-byte key is always valid
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return keys{seal: aead, mac: derive("herald dashboard csrf")}
}

// token returns the CSRF token bound to binding.
func (k keys) token(binding string) string {
	m := hmac.New(sha256.New, k.mac)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:24])
}

// session is what a session cookie holds, sealed.
type session struct {
	Token   string `json:"t"`
	Subject string `json:"s"`
	Admin   bool   `json:"a"`
	Expires int64  `json:"e"`
}

// sealSession returns the cookie value of s.
func (k keys) sealSession(s *session) (string, error) {
	plain, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, k.seal.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(k.seal.Seal(nonce, nonce, plain, []byte(sessionCookie))), nil
}

// openSession reads a cookie value; nil when it is not one of ours or has
// expired.
func (k keys) openSession(value string, now time.Time) *session {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < k.seal.NonceSize() {
		return nil
	}
	n := k.seal.NonceSize()
	plain, err := k.seal.Open(nil, raw[:n], raw[n:], []byte(sessionCookie))
	if err != nil {
		return nil
	}
	var s session
	if json.Unmarshal(plain, &s) != nil || now.Unix() >= s.Expires || s.Subject == "" {
		return nil
	}
	return &s
}

// viewer is who is looking at a page: the principal, how to act as it on
// the API, and the CSRF token of its forms.
type viewer struct {
	scheduler.Principal
	token   string        // the API token (sign-in sessions)
	from    *http.Request // the browser's request (ForwardCredentials)
	csrf    string
	zone    *time.Location
	zoneSet bool // the zone came from the viewer's browser
}

// IsForwarded reports whether the embedding service authenticated the
// viewer (ForwardCredentials): there is then no session to sign out of.
func (v *viewer) IsForwarded() bool { return v.from != nil }

// viewerOf authenticates r: the viewer, or nil when r is not signed in.
func (d *Dashboard) viewerOf(r *http.Request) (*viewer, error) {
	var v *viewer
	if d.forward {
		p, err := d.authn.Authenticate(r)
		if err != nil {
			return nil, err
		}
		if p.Subject == "" {
			return nil, errors.New("the authenticator named no subject")
		}
		v = &viewer{Principal: p, from: r, csrf: d.keys.token("forward\x00" + p.Subject)}
	} else {
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			return nil, nil
		}
		s := d.keys.openSession(c.Value, d.now())
		if s == nil {
			return nil, nil
		}
		v = &viewer{Principal: scheduler.Principal{Subject: s.Subject, Admin: s.Admin}, token: s.Token,
			csrf: d.keys.token("session\x00" + c.Value)}
	}
	v.zone = time.UTC
	if c, err := r.Cookie(zoneCookie); err == nil {
		if name, err := url.QueryUnescape(c.Value); err == nil && name != "" && len(name) < 64 && !strings.Contains(name, "..") {
			if loc, err := time.LoadLocation(name); err == nil {
				v.zone, v.zoneSet = loc, true
			}
		}
	}
	return v, nil
}

// sameOrigin refuses a state-changing request that another site sent: by
// Sec-Fetch-Site where the browser sends it, else by Origin.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// checkCSRF reports whether r carries v's CSRF token (form field csrf, or
// header X-CSRF-Token) and comes from this site.
func checkCSRF(r *http.Request, want string) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return sameOrigin(r) && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// cookie returns a cookie of the dashboard: HttpOnly, SameSite=Strict,
// under its path, Secure on TLS.
func (d *Dashboard) cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: d.base, MaxAge: maxAge, HttpOnly: true,
		Secure: d.secure || r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// signInData is the sign-in page's data.
type signInData struct {
	CSRF  string
	Error string
	Next  string
}

func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request) {
	if d.forward {
		d.notFound(w, r)
		return
	}
	d.renderSignIn(w, r, http.StatusOK, "", r.URL.Query().Get("next"))
}

// renderSignIn renders the sign-in page with a fresh binding cookie.
func (d *Dashboard) renderSignIn(w http.ResponseWriter, r *http.Request, code int, msg, next string) {
	var b [18]byte
	_, _ = rand.Read(b[:])
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	http.SetCookie(w, d.cookie(r, signInCookie, nonce, 3600))
	d.render(w, r, code, nil, "signin", &signInData{CSRF: d.keys.token("signin\x00" + nonce), Error: msg, Next: d.localPath(next)})
}

func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	if d.forward {
		d.notFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := r.PostFormValue("next")
	c, err := r.Cookie(signInCookie)
	if err != nil || !checkCSRF(r, d.keys.token("signin\x00"+c.Value)) {
		d.renderSignIn(w, r, http.StatusForbidden, "The form expired or came from another site. Try again.", next)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	probe, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/v1/runs", nil)
	probe.Header.Set("Authorization", "Bearer "+tok)
	p, err := d.authn.Authenticate(probe)
	if tok == "" || err != nil || p.Subject == "" {
		d.renderSignIn(w, r, http.StatusUnauthorized, "That token was not accepted.", next)
		return
	}
	value, err := d.keys.sealSession(&session{Token: tok, Subject: p.Subject, Admin: p.Admin,
		Expires: d.now().Add(d.ttl).Unix()})
	if err != nil || len(value) > maxCookie {
		d.renderSignIn(w, r, http.StatusBadRequest, "That token is too long to keep in a cookie.", next)
		return
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, value, int(d.ttl/time.Second)))
	http.SetCookie(w, d.cookie(r, signInCookie, "", -1))
	http.Redirect(w, r, d.localPath(next), http.StatusSeeOther)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request) {
	v, _ := d.viewerOf(r)
	if v == nil || d.forward || !checkCSRF(r, v.csrf) {
		d.forbidden(w, r, v)
		return
	}
	http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
	http.Redirect(w, r, d.base+"signin", http.StatusSeeOther)
}

// localPath is next when it is a path of the dashboard, else its root:
// a redirect never leaves the dashboard.
func (d *Dashboard) localPath(next string) string {
	if strings.HasPrefix(next, d.base) && !strings.HasPrefix(next, "//") && !strings.Contains(next, "\\") &&
		!strings.ContainsAny(next, "\r\n") {
		return next
	}
	return d.base
}

// needSignIn answers a request that is not signed in: to the sign-in
// page for a page, 401 for the rest.
func (d *Dashboard) needSignIn(w http.ResponseWriter, r *http.Request) {
	if d.forward || r.Method != http.MethodGet || r.URL.Path == "/live" {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, d.base+"signin?next="+url.QueryEscape(d.base+strings.TrimPrefix(r.URL.RequestURI(), "/")), http.StatusSeeOther)
}

// viewed wraps h with authentication.
func (d *Dashboard) viewed(h func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := d.viewerOf(r)
		if v == nil || err != nil {
			d.needSignIn(w, r)
			return
		}
		h(w, r, v)
	})
}

// action wraps a state-changing handler with authentication, a body bound
// and the CSRF check.
func (d *Dashboard) action(h func(http.ResponseWriter, *http.Request, *viewer)) http.Handler {
	return d.viewed(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		r.Body = http.MaxBytesReader(w, r.Body, 2<<20)
		if !checkCSRF(r, v.csrf) {
			d.forbidden(w, r, v)
			return
		}
		h(w, r, v)
	})
}
