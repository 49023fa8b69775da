package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

func (a *API) preview(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	var req PreviewRequest
	if prob := a.decode(w, r, &req, false); prob != nil {
		writeProblem(w, prob)
		return
	}
	var errs []FieldError
	tr, which := triggerOf(&errs, &req.TriggerFields, nil)
	from := parseTime(&errs, "from", req.From)
	count := 10
	if req.Count != nil {
		count = *req.Count
	}
	if len(errs) > 0 {
		writeProblem(w, invalid(errs...))
		return
	}
	times, err := a.sched.PreviewTrigger(tr, from, count)
	if err != nil {
		a.fail(w, r, "trigger", err, scheduleFields.with("trigger", which).with("trigger.kind", which))
		return
	}
	if times == nil {
		times = []time.Time{}
	}
	a.writeJSON(w, r, http.StatusOK, &Preview{FireTimes: times})
}

func (a *API) agents(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	a.writeJSON(w, r, http.StatusOK, map[string][]Named{"agents": named(a.sched.Agents())})
}

func (a *API) channels(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	a.writeJSON(w, r, http.StatusOK, map[string][]Named{"channels": named(a.sched.Channels())})
}

func named(names []string) []Named {
	out := make([]Named, len(names))
	for i, n := range names {
		out[i] = Named{Name: n}
	}
	return out
}

func (a *API) healthz(w http.ResponseWriter, r *http.Request) {
	a.writeJSON(w, r, http.StatusOK, &Status{Status: "ok"})
}

func (a *API) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeoutDefault)
	defer cancel()
	if err := a.sched.Ready(ctx); err != nil {
		level.Warn(a.logger).Log("msg", "not ready", "request_id", requestID(r), "err", err)
		a.writeJSON(w, r, http.StatusServiceUnavailable, &Status{Status: "unavailable", Error: notReady(err)})
		return
	}
	a.writeJSON(w, r, http.StatusOK, &Status{Status: "ready"})
}

// notReady says why the node is not ready, in words fit for an
// unauthenticated client: the cause only, never the database's message.
func notReady(err error) string {
	switch {
	case errors.Is(err, scheduler.ErrNotStarted):
		return "scheduler not started"
	case errors.Is(err, store.ErrClosed):
		return "store closed"
	case errors.Is(err, context.DeadlineExceeded):
		return "store did not answer within " + ReadyTimeoutDefault.String()
	case errors.Is(err, context.Canceled):
		return "request cancelled"
	case errors.Is(err, store.ErrUnavailable):
		return "store unavailable"
	}
	return "store ping failed"
}
