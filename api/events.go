package api

import (
	"net/http"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

func (a *API) listEvents(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	q := newQuery(r, "source", "owner", "since", "until", "limit", "cursor")
	params := store.EventListParams{Source: q.str("source", 63), Owner: q.str("owner", 200),
		ReceivedFrom: q.time("since"), ReceivedTo: q.time("until"), Limit: q.limit(), Cursor: q.cursor()}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, params.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	page, err := a.sched.ListEvents(r.Context(), p, params)
	if err != nil {
		a.fail(w, r, "event", err, nil)
		return
	}
	out := &EventList{Events: make([]*Event, len(page.Events)), NextCursor: nextCursor(page.Next)}
	for i, e := range page.Events {
		out.Events[i] = eventOut(e, false)
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

func (a *API) getEvent(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	id, ok := a.pathID(w, r, "event")
	if !ok {
		return
	}
	e, err := a.sched.GetEvent(r.Context(), p, id)
	if err != nil {
		a.fail(w, r, "event", err, nil)
		return
	}
	a.writeJSON(w, r, http.StatusOK, eventOut(e, p.Admin))
}
