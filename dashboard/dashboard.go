package dashboard

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/clock"
)

// Defaults of Config's zero values.
const (
	// SessionTTLDefault is how long a sign-in lasts.
	SessionTTLDefault = 12 * time.Hour
	// LiveIntervalDefault is how often a live stream asks the API whether
	// what its page shows has changed.
	LiveIntervalDefault = 2 * time.Second
	// RefreshIntervalDefault is how often a page refreshes its live part
	// when its browser cannot hold a live stream.
	RefreshIntervalDefault = 15 * time.Second
	// SessionKeySize is the size of Config.SessionKey in bytes.
	SessionKeySize = 32
)

// Config configures the dashboard.
type Config struct {
	// API is the REST API handler (an *api.API, or the same wrapped), with
	// its /v1 routes at its root. The dashboard sends it every request it
	// makes, in process. Required.
	API http.Handler
	// Authenticator is the API's authenticator. On the sign-in page it
	// checks the token a user pastes; with ForwardCredentials it
	// authenticates each browser request. Required.
	Authenticator api.Authenticator
	// ForwardCredentials, when set, replaces the sign-in page with the
	// embedding service's own authentication: each browser request is
	// authenticated by Authenticator as it came, and its headers (but those
	// of its body and connection) are forwarded to the API. A request it refuses is
	// answered 401.
	ForwardCredentials bool
	// SessionKey seals the session cookies and keys the CSRF tokens:
	// SessionKeySize random bytes, the same on every node behind one
	// address. Nil means a random key made by New: sessions then end when
	// the process does.
	SessionKey []byte
	// SessionTTL is how long a sign-in lasts; zero means
	// SessionTTLDefault.
	SessionTTL time.Duration
	// SecureCookies sets Secure on every cookie, for a dashboard behind a
	// proxy that terminates TLS; otherwise cookies are Secure when the
	// request came over TLS.
	SecureCookies bool
	// Path is where the dashboard is mounted ("/", or "/ops/" under
	// http.StripPrefix("/ops", d)); its links and cookies are under it.
	// Empty means "/".
	Path string
	// LiveInterval is how often a live stream asks the API for changes;
	// zero means LiveIntervalDefault.
	LiveInterval time.Duration
	// RefreshInterval is how often a page refreshes when its browser cannot
	// hold a live stream; zero means RefreshIntervalDefault.
	RefreshInterval time.Duration
	// Logger receives the errors answered 5xx; nil means none.
	Logger log.Logger
	// Clock is the clock of sessions and of the pages' time windows; nil
	// means clock.System.
	Clock clock.Clock
}

// Dashboard is the operator web UI: an http.Handler. Create it with New and
// stop its live streams with Close.
type Dashboard struct {
	api      http.Handler
	authn    api.Authenticator
	forward  bool
	keys     keys
	ttl      time.Duration
	secure   bool
	base     string
	live     time.Duration
	refresh  time.Duration
	logger   log.Logger
	now      func() time.Time
	pages    *pages
	mux      *http.ServeMux
	done     chan struct{}
	closeOne sync.Once
}

var _ http.Handler = (*Dashboard)(nil)

// New checks cfg and returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.API == nil {
		return nil, errors.New("dashboard: Config.API is required")
	}
	if cfg.Authenticator == nil {
		return nil, errors.New("dashboard: Config.Authenticator is required")
	}
	if cfg.SessionKey != nil && len(cfg.SessionKey) != SessionKeySize {
		return nil, errors.New("dashboard: Config.SessionKey must be 32 bytes")
	}
	if cfg.SessionTTL < 0 || cfg.LiveInterval < 0 || cfg.RefreshInterval < 0 {
		return nil, errors.New("dashboard: Config: durations must not be negative")
	}
	base := cfg.Path
	if base == "" {
		base = "/"
	}
	if !strings.HasPrefix(base, "/") || !strings.HasSuffix(base, "/") || strings.Contains(base, "//") {
		return nil, errors.New(`dashboard: Config.Path must begin and end with "/"`)
	}
	key := cfg.SessionKey
	if key == nil {
		key = make([]byte, SessionKeySize)
		if _, err := rand.Read(key); err != nil {
			return nil, errors.New("dashboard: make a session key: " + err.Error())
		}
	}
	d := &Dashboard{api: cfg.API, authn: cfg.Authenticator, forward: cfg.ForwardCredentials,
		keys: newKeys(key), ttl: cfg.SessionTTL, secure: cfg.SecureCookies, base: base,
		live: cfg.LiveInterval, refresh: cfg.RefreshInterval, logger: cfg.Logger, now: clock.OrSystem(cfg.Clock).Now,
		mux: http.NewServeMux(), done: make(chan struct{})}
	if d.ttl == 0 {
		d.ttl = SessionTTLDefault
	}
	if d.live == 0 {
		d.live = LiveIntervalDefault
	}
	if d.refresh == 0 {
		d.refresh = RefreshIntervalDefault
	}
	if d.logger == nil {
		d.logger = log.NewNopLogger()
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	d.pages = p
	d.routes()
	return d, nil
}

// Close ends the live streams under way (their browsers reconnect, to
// another node or after a restart) and refuses new ones. It is safe to call
// twice. Hand it to http.Server.RegisterOnShutdown, so that a shutdown does
// not wait for the streams.
func (d *Dashboard) Close() {
	d.closeOne.Do(func() { close(d.done) })
}

// routes registers every route.
func (d *Dashboard) routes() {
	m := d.mux
	m.HandleFunc("GET /static/{file}", serveStatic)
	m.HandleFunc("GET /signin", d.signInPage)
	m.HandleFunc("POST /signin", d.signIn)
	m.HandleFunc("POST /signout", d.signOut)

	m.Handle("GET /{$}", d.page(d.overview))
	m.Handle("GET /schedules", d.page(d.schedules))
	m.Handle("GET /schedules/new", d.page(d.newSchedule))
	m.Handle("POST /schedules/new", d.action(d.createSchedule))
	m.Handle("POST /schedules/preview", d.action(d.preview))
	m.Handle("GET /schedules/{id}", d.page(d.schedule))
	m.Handle("POST /schedules/{id}", d.action(d.updateSchedule))
	m.Handle("POST /schedules/{id}/{verb}", d.action(d.scheduleVerb))
	m.Handle("GET /runs", d.page(d.runs))
	m.Handle("GET /runs/{id}", d.page(d.run))
	m.Handle("POST /runs/{id}/cancel", d.action(d.cancelRun))
	m.Handle("GET /events", d.page(d.events))
	m.Handle("GET /events/{id}", d.page(d.event))
	m.Handle("GET /live", d.viewed(d.stream))
}

// contentSecurityPolicy allows the dashboard's own scripts, styles and
// requests, and nothing inline.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler: it sets the security headers and
// routes the request.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if _, pattern := d.mux.Handler(r); pattern == "" {
		d.notFound(w, r)
		return
	}
	d.mux.ServeHTTP(w, r)
}
