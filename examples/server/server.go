package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// readyTimeout bounds the store ping of a readiness probe.
const readyTimeout = 2 * time.Second

// server holds what the HTTP handlers share.
type server struct {
	store  store.Store
	logger log.Logger
}

// newServer returns the server's routes:
//
//	GET /healthz  200 {"status":"ok"} while the process is up
//	GET /readyz   200 {"status":"ready"} when the store answers a ping,
//	              503 {"status":"unavailable","error":"…"} when it does not
//	POST /v1/webhooks/{source}  the webhook sources (see webhook.Handler)
//
// Other methods on these paths get 405.
func newServer(st store.Store, logger log.Logger, sched *scheduler.Scheduler, sources []webhook.Source) (http.Handler, error) {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	s := &server{store: st, logger: logger}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	if len(sources) > 0 {
		h, err := webhook.NewHandler(webhook.HandlerConfig{Sources: sources, Sink: schedulerSink(sched),
			Logger: log.With(logger, "component", "webhook")})
		if err != nil {
			return nil, err
		}
		mux.Handle("/v1/webhooks/{source}", h)
	}
	return mux, nil
}

// statusResponse is the body of the health and readiness endpoints.
type statusResponse struct {
	Status string `json:"status"`
	Error  string `json:"error,omitempty"`
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, statusResponse{Status: "ok"})
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		level.Warn(s.logger).Log("msg", "not ready: store ping failed", "err", err)
		s.writeJSON(w, http.StatusServiceUnavailable, statusResponse{
			Status: "unavailable",
			Error:  pingError(err),
		})
		return
	}
	s.writeJSON(w, http.StatusOK, statusResponse{Status: "ready"})
}

// pingError says why a ping failed, in words fit for an unauthenticated
// client: the cause only, never the database's own message (which may name
// hosts, users or worse). The full error goes to the log.
func pingError(err error) string {
	switch {
	case errors.Is(err, store.ErrClosed):
		return "store closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "store did not answer within " + readyTimeout.String()
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.Is(err, store.ErrUnavailable):
		return "store unavailable"
	}
	return "store ping failed"
}

func (s *server) writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		level.Error(s.logger).Log("msg", "encode response", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}
