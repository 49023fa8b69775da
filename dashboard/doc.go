// Package dashboard is Herald's operator web UI as one http.Handler: an
// overview of the queue and of what ran, the schedules with a form to create
// and edit them (with a live preview of their fire times), the runs with
// their detail, deliveries and progress, and the webhook events; and the
// buttons an operator needs (run now, pause, resume, delete, cancel).
//
// Import it to give a service that mounts Herald's REST API (package api) a
// dashboard beside it:
//
//	a, err := api.New(api.Config{Scheduler: s, Authenticator: tokens})
//	d, err := dashboard.New(dashboard.Config{API: a, Authenticator: tokens})
//	defer d.Close()
//	mux.Handle("/v1/", a)
//	mux.Handle("/", d)
//
// The dashboard sits on top of the REST API: every page is built from
// requests it sends to Config.API in process, as the signed-in user, so it
// shows and does exactly what the API lets that user see and do (a user
// their own schedules and runs, an admin everything; a webhook's body to
// admins only). It never reads the store.
//
// Pages are rendered on the server with html/template from templates and
// assets embedded in the binary; a small script (no build step, no
// framework) adds the live preview of a schedule's fire times, live
// updates over Server-Sent Events (with a periodic refresh when the stream
// is unavailable), and times in the viewer's zone. Pages work without it.
//
// # Signing in
//
// By default a user signs in by pasting an API token on the sign-in page;
// the dashboard checks it with Config.Authenticator and keeps it sealed
// (AES-256-GCM under Config.SessionKey) in an HttpOnly, SameSite=Strict
// session cookie, Secure when the request came over TLS (or always, with
// Config.SecureCookies). With Config.ForwardCredentials the embedding
// service authenticates the browser itself (its own cookie, or a header
// set by its proxy): each browser request is handed to Config.Authenticator
// as it came, and its headers (its cookies, its Authorization, a proxy's
// identity header) are forwarded to the API.
//
// # Security
//
// Every response carries a strict Content-Security-Policy (scripts and
// styles from the dashboard's own origin only: no inline script, no inline
// style), and every form that changes something is a POST that carries a
// CSRF token bound to the session and is refused from another site.
package dashboard
