package api

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

// nextFireTimes is how many fire times a schedule shows.
const nextFireTimes = 5

// showSchedule shows sch with its next fire times.
func (a *API) showSchedule(sch *store.Schedule) *Schedule {
	return scheduleOut(sch, a.sched.NextFireTimes(sch, nextFireTimes))
}

// ownerParam checks an owner a request names: a user may name only
// itself.
func ownerParam(p scheduler.Principal, owner string) *Problem {
	if owner != "" && owner != p.Subject && !p.Admin {
		return problem(http.StatusForbidden, problemForbidden, "only an admin acts for another owner")
	}
	return nil
}

// pathID is the {id} of the route, or false (and a 404 written) when it
// is not an id this API hands out.
func (a *API) pathID(w http.ResponseWriter, r *http.Request, rec what) (string, bool) {
	id := r.PathValue("id")
	if !validID(id) {
		writeProblem(w, problem(http.StatusNotFound, problemNotFound, string(rec)+" not found"))
		return "", false
	}
	return id, true
}

func (a *API) createSchedule(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	var req ScheduleRequest
	if prob := a.decode(w, r, &req, false); prob != nil {
		writeProblem(w, prob)
		return
	}
	if req.Version != nil {
		writeProblem(w, invalidField("version", "is set by the server; send it in a PATCH only"))
		return
	}
	sch, fields, prob := scheduleOf(&req)
	if prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, sch.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	workspace, err := a.checkBackfillSchedule(r.Context(), cmp.Or(sch.Owner, p.Subject), sch)
	if err != nil {
		a.fail(w, r, "schedule", err, fields)
		return
	}
	out, err := a.sched.CreateSchedule(r.Context(), p, sch)
	if err == nil {
		err = a.giveWay(r.Context(), out, workspace, false, func() error { return a.sched.DeleteSchedule(r.Context(), p, out.ID) })
	}
	if err != nil {
		a.fail(w, r, "schedule", err, fields)
		return
	}
	w.Header().Set("Location", "schedules/"+out.ID) // relative to /v1/schedules, wherever the API is mounted
	a.writeJSON(w, r, http.StatusCreated, a.showSchedule(out))
}

func (a *API) listSchedules(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	q := newQuery(r, "owner", "name", "limit", "cursor")
	params := store.ScheduleListParams{Owner: q.str("owner", 200), Name: q.str("name", 200), Limit: q.limit(), Cursor: q.cursor()}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, params.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	page, err := a.sched.ListSchedules(r.Context(), p, params)
	if err != nil {
		a.fail(w, r, "schedule", err, nil)
		return
	}
	out := &ScheduleList{Schedules: make([]*Schedule, len(page.Schedules)), NextCursor: nextCursor(page.Next)}
	for i, sch := range page.Schedules {
		out.Schedules[i] = a.showSchedule(sch)
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

func (a *API) getSchedule(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "schedule")
	if !ok {
		return
	}
	sch, err := a.sched.GetSchedule(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "schedule", err, nil)
		return
	}
	a.writeJSON(w, r, http.StatusOK, a.showSchedule(sch))
}

// triggerKeys are the fields of which a schedule has exactly one.
var triggerKeys = []string{"cron", "every", "at"}

func (a *API) patchSchedule(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "schedule")
	if !ok {
		return
	}
	body, prob := a.readBody(w, r)
	if prob == nil {
		prob = checkJSONType(r)
	}
	var keys map[string]json.RawMessage
	if prob == nil {
		prob = decodeJSON(body, &keys)
	}
	if prob == nil {
		prob = decodeJSON(body, &ScheduleRequest{}) // unknown fields and types, before any read
	}
	if prob != nil {
		writeProblem(w, prob)
		return
	}
	if _, ok := keys["owner"]; ok {
		writeProblem(w, invalidField("owner", "cannot be changed"))
		return
	}
	cur, err := a.sched.GetSchedule(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "schedule", err, nil)
		return
	}
	req := scheduleRequestOf(cur)
	for _, k := range triggerKeys {
		if _, ok := keys[k]; ok {
			req.Cron, req.Every, req.At = nil, nil, nil
			break
		}
	}
	if _, ok := keys["payload"]; ok {
		req.Payload = nil
	}
	if prob := decodeJSON(bytes.TrimSpace(body), req); prob != nil {
		writeProblem(w, prob)
		return
	}
	sch, fields, prob := scheduleOf(req)
	if prob != nil {
		writeProblem(w, prob)
		return
	}
	sch.ID = id
	if _, err := a.checkBackfillSchedule(r.Context(), cur.Owner, sch); err != nil {
		a.fail(w, r, "schedule", err, fields)
		return
	}
	out, err := a.sched.UpdateSchedule(r.Context(), p, sch)
	if err != nil {
		a.fail(w, r, "schedule", err, fields)
		return
	}
	a.writeJSON(w, r, http.StatusOK, a.showSchedule(out))
}

func (a *API) deleteSchedule(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "schedule")
	if !ok {
		return
	}
	if err := a.sched.DeleteSchedule(r.Context(), p, id); err != nil {
		a.fail(w, r, "schedule", err, nil)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// scheduleAction serves the POST /v1/schedules/{id}/… routes that change
// a schedule and answer it.
func (a *API) scheduleAction(act func(context.Context, scheduler.Principal, string) (*store.Schedule, error)) func(http.ResponseWriter, *http.Request, scheduler.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
		id, ok := a.pathID(w, r, "schedule")
		if !ok {
			return
		}
		if prob := a.decode(w, r, &struct{}{}, true); prob != nil {
			writeProblem(w, prob)
			return
		}
		sch, err := act(r.Context(), p, id)
		if err == nil && !sch.Paused && a.vault != nil && sch.Agent == backfill.AgentName {
			// Resumed: its workspace must still be its owner's, and the
			// only one active backfill schedule's.
			undo := func() error {
				_, err := a.sched.PauseSchedule(r.Context(), p, sch.ID)
				return err
			}
			bp, cerr := a.checkBackfillRun(r.Context(), sch.Owner, sch.Payload)
			if cerr == nil {
				err = a.giveWay(r.Context(), sch, bp.WorkspaceID, true, undo)
			} else if err = undo(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			a.fail(w, r, "schedule", err, nil)
			return
		}
		a.writeJSON(w, r, http.StatusOK, a.showSchedule(sch))
	}
}

func (a *API) runSchedule(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "schedule")
	if !ok {
		return
	}
	if prob := a.decode(w, r, &struct{}{}, true); prob != nil {
		writeProblem(w, prob)
		return
	}
	run, err := a.sched.RunNow(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "schedule", err, nil)
		return
	}
	a.writeJSON(w, r, http.StatusAccepted, &RunAccepted{RunID: run.ID, Status: string(run.Status)})
}
