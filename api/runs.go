package api

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// maxReason bounds a cancellation's reason.
const maxReason = 1000

func (a *API) enqueue(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	var req RunRequest
	if prob := a.decode(w, r, &req, false); prob != nil {
		writeProblem(w, prob)
		return
	}
	var errs []FieldError
	if req.Agent == "" {
		errs = append(errs, FieldError{Field: "agent", Message: "is required"})
	}
	if msg := checkPayload(req.Payload); msg != "" {
		errs = append(errs, FieldError{Field: "payload", Message: msg})
	}
	checkText(&errs, "agent", req.Agent)
	checkText(&errs, "owner", req.Owner)
	checkText(&errs, "idempotency_key", req.IdempotencyKey)
	checkTargets(&errs, req.Deliver)
	er := scheduler.EnqueueRequest{Agent: req.Agent, Payload: payloadOf(req.Payload), Targets: toTargets(req.Deliver),
		IdempotencyKey: req.IdempotencyKey, MaxAttempts: req.MaxAttempts, Owner: req.Owner,
		RunAt: parseTime(&errs, "run_at", req.RunAt), Timeout: parseDuration(&errs, "timeout", req.Timeout)}
	if len(errs) > 0 {
		writeProblem(w, invalid(errs...))
		return
	}
	if prob := ownerParam(p, req.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	if a.vault != nil && req.Agent == backfill.AgentName {
		if _, err := a.checkBackfillRun(r.Context(), cmp.Or(req.Owner, p.Subject), er.Payload); err != nil {
			a.fail(w, r, "run", err, runFields)
			return
		}
	}
	run, err := a.sched.Enqueue(r.Context(), p, er)
	if err != nil {
		a.fail(w, r, "run", err, runFields)
		return
	}
	a.writeJSON(w, r, http.StatusAccepted, &RunAccepted{RunID: run.ID, Status: string(run.Status)})
}

func (a *API) listRuns(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	q := newQuery(r, "schedule_id", "status", "agent", "kind", "owner", "since", "until", "limit", "cursor")
	params := store.RunListParams{Owner: q.str("owner", 200), Agent: q.str("agent", 200),
		CreatedFrom: q.time("since"), CreatedTo: q.time("until"), Limit: q.limit(), Cursor: q.cursor()}
	params.ScheduleID = q.str("schedule_id", 64)
	for _, s := range q.list("status", 200) {
		st := store.RunStatus(strings.TrimSpace(s))
		if !st.Valid() {
			q.errs = append(q.errs, FieldError{Field: "status", Message: "must be one or more (comma-separated) of queued, running, succeeded, failed, cancelled, timed_out, skipped"})
			break
		}
		params.Statuses = append(params.Statuses, st)
	}
	for _, s := range q.list("kind", 200) {
		k := store.RunKind(strings.TrimSpace(s))
		switch k {
		case store.RunKindSchedule, store.RunKindManual, store.RunKindWebhook, store.RunKindEnqueue:
			params.Kinds = append(params.Kinds, k)
			continue
		}
		q.errs = append(q.errs, FieldError{Field: "kind", Message: "must be one or more (comma-separated) of schedule, manual, webhook, enqueue"})
		break
	}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, params.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	out := &RunList{Runs: []*Run{}}
	if params.ScheduleID != "" && !validID(params.ScheduleID) {
		a.writeJSON(w, r, http.StatusOK, out) // no schedule has that id: no runs
		return
	}
	page, err := a.sched.ListRuns(r.Context(), p, params)
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	out.NextCursor = nextCursor(page.Next)
	for _, run := range page.Runs {
		out.Runs = append(out.Runs, runOut(run))
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

func (a *API) getRun(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "run")
	if !ok {
		return
	}
	run, err := a.sched.GetRun(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	ds, err := a.sched.RunDeliveries(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	out := &RunDetail{Run: *runOut(run), Deliveries: make([]*Delivery, len(ds))}
	for i, d := range ds {
		out.Deliveries[i] = deliveryOut(d)
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

func (a *API) cancelRun(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "run")
	if !ok {
		return
	}
	var req CancelRequest
	if prob := a.decode(w, r, &req, true); prob != nil {
		writeProblem(w, prob)
		return
	}
	if len(req.Reason) > maxReason {
		writeProblem(w, invalidField("reason", "must be at most %d bytes", maxReason))
		return
	}
	var errs []FieldError
	if checkText(&errs, "reason", req.Reason); len(errs) > 0 {
		writeProblem(w, invalid(errs...))
		return
	}
	run, err := a.sched.CancelRun(r.Context(), p, id, req.Reason)
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	a.writeJSON(w, r, http.StatusOK, runOut(run))
}
