package main

import (
	"net/http"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/dashboard"
)

// withDashboard mounts the operator dashboard at / beside the REST API
// apiHandler (its /v1 routes, health, readiness and metrics), signing users
// in with the API's tokens. The returned function ends the dashboard's live
// streams; the server calls it when it shuts down. The session key is made
// at start, so a restart signs everyone out.
func withDashboard(apiHandler http.Handler, authn api.Authenticator, logger log.Logger) (http.Handler, func(), error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	d, err := dashboard.New(dashboard.Config{API: apiHandler, Authenticator: authn,
		Logger: log.With(logger, "component", "dashboard")})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, apiHandler)
	}
	mux.Handle("/", d)
	return mux, d.Close, nil
}
