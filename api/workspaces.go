package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/storekit"
)

// Workspace is a backfilled chat workspace as the API shows it. Its token
// is write-only: never shown.
type Workspace struct {
	ID        string    `json:"id"`
	Source    string    `json:"source"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	KeyID     string    `json:"key_id"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// WorkspaceRequest is the body of PUT /v1/workspaces/{id}.
type WorkspaceRequest struct {
	Name     string `json:"name"`
	BotToken string `json:"bot_token"`
	Owner    string `json:"owner"`
}

// WorkspaceList is a page of workspaces.
type WorkspaceList struct {
	Workspaces []*Workspace `json:"workspaces"`
	NextCursor *string      `json:"next_cursor"`
}

// Message is a collected message.
type Message struct {
	Channel     string          `json:"channel"`
	TS          string          `json:"ts"`
	ThreadTS    *string         `json:"thread_ts"`
	User        *string         `json:"user"`
	UserName    *string         `json:"user_name"`
	Text        string          `json:"text"`
	Raw         json.RawMessage `json:"raw"`
	CollectedAt time.Time       `json:"collected_at"`
}

// MessageList is a page of a channel's messages, oldest first.
type MessageList struct {
	Messages   []*Message `json:"messages"`
	NextCursor *string    `json:"next_cursor"`
}

// BackfillRequest is the body of POST /v1/workspaces/{id}/backfill: a
// backfill payload without its workspace_id.
type BackfillRequest struct {
	DaysToBackfill     *int       `json:"days_to_backfill"`
	Since              *time.Time `json:"since"`
	IncludeAllChannels *bool      `json:"include_all_channels"`
	ChannelIDs         []string   `json:"channel_ids"`
	IncludeThreads     *bool      `json:"include_threads"`
}

// minSince is the earliest since a messages listing bounds by: 2001-09-09,
// when Unix time reached 10 digits.
const minSince = 1_000_000_000

// workspaceID is the form of a workspace id (a Slack team id).
var workspaceID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// sourceSlack is the source of the workspaces the API registers.
const sourceSlack = "slack"

func (a *API) workspaceRoutes(authed func(string, func(http.ResponseWriter, *http.Request, scheduler.Principal))) {
	authed("PUT /v1/workspaces/{id}", a.putWorkspace)
	authed("GET /v1/workspaces", a.listWorkspaces)
	authed("GET /v1/workspaces/{id}", a.getWorkspace)
	authed("DELETE /v1/workspaces/{id}", a.deleteWorkspace)
	authed("POST /v1/workspaces/{id}/backfill", a.backfillNow)
	authed("GET /v1/workspaces/{id}/messages", a.listMessages)
}

func (a *API) workspaceOut(w *store.Workspace) *Workspace {
	return &Workspace{ID: w.ID, Source: w.Source, Name: w.Name, Owner: w.Owner, KeyID: a.vault.KeyID(w),
		CreatedAt: w.CreatedAt.UTC(), UpdatedAt: w.UpdatedAt.UTC()}
}

// workspaceOf returns workspace id if p may see it, else writes a 404.
func (a *API) workspaceOf(w http.ResponseWriter, r *http.Request, p scheduler.Principal) (*store.Workspace, bool) {
	id := r.PathValue("id")
	if !workspaceID.MatchString(id) {
		writeProblem(w, problem(http.StatusNotFound, problemNotFound, "workspace not found"))
		return nil, false
	}
	ws, err := a.vault.Get(r.Context(), id)
	if err == nil && !p.Admin && ws.Owner != p.Subject {
		err = store.ErrNotFound
	}
	if err != nil {
		a.fail(w, r, "workspace", err, nil)
		return nil, false
	}
	return ws, true
}

func (a *API) putWorkspace(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	if !p.Admin {
		writeProblem(w, problem(http.StatusForbidden, problemForbidden, "only an admin registers workspaces"))
		return
	}
	id := r.PathValue("id")
	if !workspaceID.MatchString(id) {
		writeProblem(w, invalidField("id", "must be a workspace id such as T012AB3CD (letters, digits, _ and -, at most 64)"))
		return
	}
	var req WorkspaceRequest
	if prob := a.decode(w, r, &req, false); prob != nil {
		writeProblem(w, prob)
		return
	}
	var errs []FieldError
	checkText(&errs, "name", req.Name)
	checkText(&errs, "owner", req.Owner)
	switch {
	case req.BotToken == "":
		errs = append(errs, FieldError{Field: "bot_token", Message: "is required"})
	case len(req.BotToken) > 4096 || !printable(req.BotToken):
		errs = append(errs, FieldError{Field: "bot_token", Message: "must be a token of at most 4096 printable characters"})
	}
	if len(errs) > 0 {
		writeProblem(w, invalid(errs...))
		return
	}
	owner := req.Owner
	if owner == "" {
		owner = p.Subject
	}
	_, err := a.vault.Get(r.Context(), id)
	created := errors.Is(err, store.ErrNotFound)
	if err != nil && !created {
		a.fail(w, r, "workspace", err, nil)
		return
	}
	ws, err := a.vault.Put(r.Context(), &store.Workspace{ID: id, Source: sourceSlack, Name: req.Name, Owner: owner},
		keyring.Secret(req.BotToken))
	if err != nil {
		a.fail(w, r, "workspace", err, nil)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	a.writeJSON(w, r, code, a.workspaceOut(ws))
}

// printable reports whether s is printable ASCII with no space.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func (a *API) listWorkspaces(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	q := newQuery(r, "owner", "limit", "cursor")
	params := store.WorkspaceListParams{Owner: q.str("owner", 200), Limit: q.limit(), Cursor: q.str("cursor", 64)}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	if prob := ownerParam(p, params.Owner); prob != nil {
		writeProblem(w, prob)
		return
	}
	if !p.Admin {
		params.Owner = p.Subject
	}
	page, err := a.vault.List(r.Context(), &params)
	if err != nil {
		a.fail(w, r, "workspace", err, nil)
		return
	}
	out := &WorkspaceList{Workspaces: make([]*Workspace, len(page.Workspaces)), NextCursor: nextCursor(page.Next)}
	for i, ws := range page.Workspaces {
		out.Workspaces[i] = a.workspaceOut(ws)
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

func (a *API) getWorkspace(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	if ws, ok := a.workspaceOf(w, r, p); ok {
		a.writeJSON(w, r, http.StatusOK, a.workspaceOut(ws))
	}
}

func (a *API) deleteWorkspace(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	ws, ok := a.workspaceOf(w, r, p)
	if !ok {
		return
	}
	if !p.Admin {
		writeProblem(w, problem(http.StatusForbidden, problemForbidden, "only an admin deletes workspaces"))
		return
	}
	if err := a.vault.Delete(r.Context(), ws.ID); err != nil {
		a.fail(w, r, "workspace", err, nil)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) backfillNow(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	ws, ok := a.workspaceOf(w, r, p)
	if !ok {
		return
	}
	var req BackfillRequest
	if prob := a.decode(w, r, &req, true); prob != nil {
		writeProblem(w, prob)
		return
	}
	payload, err := json.Marshal(&backfill.Payload{WorkspaceID: ws.ID, DaysToBackfill: req.DaysToBackfill, Since: req.Since,
		IncludeAllChannels: req.IncludeAllChannels, ChannelIDs: req.ChannelIDs, IncludeThreads: req.IncludeThreads})
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	if _, err := backfill.ParsePayload(payload); err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	run, err := a.sched.Enqueue(r.Context(), p, scheduler.EnqueueRequest{Agent: backfill.AgentName, Payload: payload, Owner: ws.Owner})
	if err != nil {
		a.fail(w, r, "run", err, nil)
		return
	}
	a.writeJSON(w, r, http.StatusAccepted, &RunAccepted{RunID: run.ID, Status: string(run.Status)})
}

func (a *API) listMessages(w http.ResponseWriter, r *http.Request, p scheduler.Principal) {
	ws, ok := a.workspaceOf(w, r, p)
	if !ok {
		return
	}
	q := newQuery(r, "channel", "since", "limit", "cursor")
	channel, since, limit, cursor := q.str("channel", 64), q.time("since"), q.limit(), q.str("cursor", 64)
	if channel == "" && len(q.errs) == 0 {
		q.errs = append(q.errs, FieldError{Field: "channel", Message: "is required: a channel id such as C012AB3CD"})
	}
	if prob := q.problem(); prob != nil {
		writeProblem(w, prob)
		return
	}
	after := cursor
	if after == "" && since.Unix() >= minSince {
		// Every message at or after since. Timestamps of 10 digits are
		// compared as text: an earlier since bounds nothing.
		after = fmt.Sprintf("%d.%06d", since.Unix()-1, 999999)
	}
	n := storekit.ListLimit(limit)
	// One more than the page: a next_cursor only when there is more.
	msgs, err := a.messages.MessageList(r.Context(), &store.MessageListParams{
		CursorKey: store.CursorKey{Source: ws.Source, Workspace: ws.ID, Channel: channel}, After: after, Limit: min(n+1, store.ListLimitMax)})
	if err != nil {
		a.fail(w, r, "workspace", err, nil)
		return
	}
	more := len(msgs) > n
	if more {
		msgs = msgs[:n]
	}
	out := &MessageList{Messages: make([]*Message, len(msgs))}
	for i, m := range msgs {
		out.Messages[i] = &Message{Channel: m.Channel, TS: m.TS, ThreadTS: strPtr(m.ThreadTS), User: strPtr(m.User),
			UserName: strPtr(m.UserName), Text: m.Text, Raw: jsonOrNull(m.Raw), CollectedAt: m.CollectedAt.UTC()}
	}
	if more {
		out.NextCursor = strPtr(msgs[len(msgs)-1].TS)
	}
	a.writeJSON(w, r, http.StatusOK, out)
}

// checkBackfillRun refuses a backfill run or schedule whose payload is
// invalid, or names a workspace its owner does not own (404, as if it did
// not exist).
func (a *API) checkBackfillRun(ctx context.Context, owner string, payload json.RawMessage) (*backfill.Payload, error) {
	bp, err := backfill.ParsePayload(payload)
	if err != nil {
		var ve *store.ValidationError
		if errors.As(err, &ve) {
			return nil, store.Invalid("payload."+ve.Field, ve.Rule)
		}
		return nil, err
	}
	ws, err := a.vault.Get(ctx, bp.WorkspaceID)
	if err == nil && ws.Owner != owner {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, store.Invalid("payload.workspace_id", fmt.Sprintf("names no workspace of %s", owner))
	}
	return bp, err
}

// backfillRival returns another active backfill schedule of workspace
// that comes first (created earlier) than self ("" for a schedule not yet
// written: any other), or nil. At most one active backfill schedule reads
// a workspace: creations and resumes check after they write and back out
// when they find an earlier rival, so that of two concurrent ones, on any
// nodes, exactly the later gives way.
// With anyOther set, every other active one counts, earlier or not.
func (a *API) backfillRival(ctx context.Context, owner, workspace, self string, anyOther bool) (*store.Schedule, error) {
	admin := scheduler.Principal{Subject: owner, Admin: true}
	cursor := ""
	for {
		page, err := a.sched.ListSchedules(ctx, admin, store.ScheduleListParams{Owner: owner, Cursor: cursor, Limit: store.ListLimitMax})
		if err != nil {
			return nil, err
		}
		for _, s := range page.Schedules {
			if s.ID == self || s.Paused || s.Agent != backfill.AgentName || (!anyOther && self != "" && s.ID > self) {
				continue
			}
			if bp, err := backfill.ParsePayload(s.Payload); err == nil && bp.WorkspaceID == workspace {
				return s, nil
			}
		}
		if page.Next == "" {
			return nil, nil
		}
		cursor = page.Next
	}
}

// errBackfillTaken is the 409 of a second active backfill schedule.
func errBackfillTaken(workspace string, rival *store.Schedule) *Problem {
	return problem(http.StatusConflict, problemConflict, fmt.Sprintf(
		"workspace %s already has an active backfill schedule (%s, %q): pause or delete it first", workspace, rival.ID, rival.Name))
}

// checkBackfillSchedule applies the backfill rules to a schedule about to
// be written for owner: its workspace is owner's, and (when it is to be
// active) no other active backfill schedule reads it. It returns the
// workspace, or "" for a schedule of another agent.
func (a *API) checkBackfillSchedule(ctx context.Context, owner string, sch *store.Schedule) (string, error) {
	if a.vault == nil || sch.Agent != backfill.AgentName {
		return "", nil
	}
	bp, err := a.checkBackfillRun(ctx, owner, sch.Payload)
	if err != nil {
		return "", err
	}
	if !sch.Paused {
		rival, err := a.backfillRival(ctx, owner, bp.WorkspaceID, sch.ID, true)
		if err != nil {
			return "", err
		}
		if rival != nil {
			return "", errBackfillTaken(bp.WorkspaceID, rival)
		}
	}
	return bp.WorkspaceID, nil
}

// giveWay checks, after sch was made active, that no earlier active
// backfill schedule reads its workspace (one written meanwhile through
// another request or node); when one does, undo(sch) is called and the
// 409 returned.
func (a *API) giveWay(ctx context.Context, sch *store.Schedule, workspace string, anyOther bool, undo func() error) error {
	if workspace == "" || sch.Paused {
		return nil
	}
	rival, err := a.backfillRival(ctx, sch.Owner, workspace, sch.ID, anyOther)
	if err != nil || rival == nil {
		return err
	}
	if err := undo(); err != nil {
		return err
	}
	return errBackfillTaken(workspace, rival)
}
