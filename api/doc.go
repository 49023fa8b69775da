// Package api is Herald's REST API as one http.Handler that any Go service
// mounts: schedules, runs, manual triggers, cancellation, webhook events,
// trigger previews, the registered agents and channels, webhook endpoints,
// health, readiness and metrics.
//
// Import it to give a service that embeds the scheduler an HTTP API:
//
//	h, err := api.New(api.Config{Scheduler: s, Authenticator: tokens})
//	if err != nil { … }
//	mux.Handle("/", h)                                   // at the root, or
//	mux.Handle("/herald/", http.StripPrefix("/herald", h)) // under a prefix
//
// # Routes
//
// Under /v1, JSON in and out, with snake_case fields, RFC 3339 times (a
// schedule's fire times in its time zone, with its offset; everything else
// in UTC), durations as Go duration strings ("15m", "1.5s") and null for
// absent values:
//
//	POST   /v1/schedules                 create a schedule (201)
//	GET    /v1/schedules                 list schedules: owner, name (own; an admin all, or ?owner=)
//	GET    /v1/schedules/{id}            read one
//	PATCH  /v1/schedules/{id}            change the fields sent (JSON merge patch)
//	DELETE /v1/schedules/{id}            delete (204); its runs stay in the history
//	POST   /v1/schedules/{id}/pause      pause
//	POST   /v1/schedules/{id}/resume     resume
//	POST   /v1/schedules/{id}/run        run now (202 {"run_id"})
//	POST   /v1/runs                      enqueue ad hoc work (202 {"run_id"})
//	GET    /v1/runs                      list runs: schedule_id, status, agent, kind, since, until, owner
//	GET    /v1/runs/{id}                 a run with its delivery attempts
//	POST   /v1/runs/{id}/cancel          cancel, with a reason
//	POST   /v1/triggers/preview          the fire times of a trigger
//	GET    /v1/events                    webhook events: source, owner, since, until
//	GET    /v1/events/{id}               one event (its body and headers to admins only)
//	POST   /v1/webhooks/{source}         webhook sources (no bearer token: each verifies its own)
//	GET    /v1/agents, /v1/channels      what is registered
//	GET    /v1/openapi.json              the OpenAPI 3.1 document of all of this
//
// and at the root GET /healthz, GET /readyz and, when Config.MetricsHandler
// is set, GET /metrics. Lists take limit (at most 1,000, default 100) and
// cursor (the next_cursor of the page before); runs and events come newest
// first.
//
// # Authentication and access
//
// Every /v1 route but the webhooks and the OpenAPI document needs a bearer
// token, checked by Config.Authenticator (package api/auth has static
// tokens and JWTs). A principal is an admin or a user; a user sees and
// changes only what it owns, and another owner's records are answered 404,
// as if they did not exist. Requests are rate limited per principal.
//
// # Errors
//
// Errors are application/problem+json (RFC 9457): type, title, status,
// detail, and for invalid input errors, a list of {field, message} naming
// each field by the JSON path the client sent ("deliver[0].to"). 400
// invalid input, 401 missing or bad credentials (with WWW-Authenticate),
// 403 not allowed to the principal's role, 404 missing or not the
// principal's, 405 method, 409 conflict or limit reached, 413 body too
// large, 415 not JSON, 429 rate limited (with Retry-After), 503 when a
// retry may succeed (the store unavailable). No error carries a database
// driver's message, a secret or a request body.
package api
