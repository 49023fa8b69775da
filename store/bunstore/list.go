package bunstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/internal/uuid7"
	"github.com/heraldhq/herald/store/storekit"
)

// Listings. RunList and EventList read one page, newest first, by walking
// an index in id order from the page's cursor down and stopping at the
// page's end: a page costs about its size, not the size of the history,
// as long as most of the entries the walk reads pass the other filters.
// The runs' indexes are the owner's and the schedule's (of the first
// migration) and those of 20261207000001: the status (of the runs not
// succeeded), the agent and the kind (of the runs not fired by a
// schedule), each carrying the owner, which a user's listing checks there.
// That migration says which listings those leave unbounded, and why. On
// PostgreSQL, 20261209000001 keeps the running runs out of the owner's,
// the status's, the agent's and the kind's indexes (and the enqueued runs
// out of the kind's), to spare the claim and the finish their writes:
// runListPG reads the running runs from herald_runs_lease_idx.
// The events' are by source and owner (20261206000002).
//
// Bounds on a creation time become bounds on the id: a run's or an
// event's id carries its creation time to the millisecond (uuid7), so the
// records created in [from, to) lie between two ids, which any of the
// walks can seek to (idSpan). The bounds on the time itself stay in the
// statement, to the microsecond.
//
// The statements bind their arguments by name; bun writes them into the
// text, as each dialect spells them. Each filter is written
// "(?any_x OR x = ?x)": TRUE in any_x turns it off.
// PostgreSQL's planner folds the constant TRUE or FALSE away, so one
// statement gives it every filter that is on, and it picks the index by
// its statistics. SQLite folds nothing: a filter it may seek an index by
// must be a plain condition, so it has one statement per index, which
// names that index and states its columns plainly (runWalk and eventWalk
// pick it), and keeps the other filters as they are.

// idSlack widens the id bounds of a span of creation times. The ids of
// runs and events written before their ids came from their creation times
// (before migration 20261206000001) were made from the same clock within
// microseconds of them; a minute either way takes them in.
const idSlack = time.Minute

// idSpan returns the ids [lo, hi) between which lie the records created
// in [from, to) (a zero time is no bound) that come after a page ending at
// cursor (newest first: their ids are less than the cursor).
func idSpan(from, to time.Time, cursor string) (lo, hi string, err error) {
	lo, hi = uuid7.Min, uuid7.Max
	if !from.IsZero() {
		lo = uuid7.Floor(from.Add(-idSlack))
	}
	if !to.IsZero() {
		// Below the first id of the millisecond after to's (and the slack).
		hi = uuid7.Floor(to.Add(idSlack + time.Millisecond))
	}
	if cursor != "" {
		if !validID(cursor) {
			return "", "", store.Invalid("cursor", "must be the Next of a previous page")
		}
		hi = min(hi, strings.ToLower(cursor))
	}
	return lo, hi, nil
}

// runListFilters are the conditions of every RunList statement: the
// filters, each off when its any_ argument is TRUE, and the span of ids.
const runListFilters = `(?any_owner OR owner = ?owner)
	AND (?any_schedule OR schedule_id = ?schedule_id)
	AND (?any_status OR status IN (?statuses))
	AND (?any_agent OR agent = ?agent)
	AND (?any_kind OR kind IN (?kinds))
	AND (?any_created_from OR created_at >= ?created_from)
	AND (?any_created_to OR created_at < ?created_to)
	AND id >= ?id_from AND id < ?id_to`

// runListPG is RunList on PostgreSQL. The page's ids are picked first,
// from the index alone where it holds every filter: the planner then
// walks the index of the filters (an index-only scan) rather than the
// primary key or the index of one filter, whose walk it costs by the
// filters' selectivities as if they were independent. When they are not
// (an owner whose runs never have an agent that others' runs often
// have), such a walk reads the whole history for an empty page. It states
// kind IS NOT NULL, which every run meets and herald_runs_status_idx's
// condition names on PostgreSQL (see migration 20261207000001).
//
// The ids come in two parts, each a page at most, merged: the runs not
// running, which the listing indexes hold (their conditions say status <>
// 'running', which the part states so that the planner may walk them),
// and the running runs, few, all in herald_runs_lease_idx (migration
// 20261209000001).
const runListPG = `SELECT * FROM herald_runs WHERE id = ANY(ARRAY(
	SELECT id FROM (
		(SELECT id FROM herald_runs WHERE status <> 'running' AND kind IS NOT NULL AND ` + runListFilters + `
		ORDER BY id DESC LIMIT ?limit)
		UNION ALL
		(SELECT id FROM herald_runs WHERE status = 'running' AND ` + runListFilters + `
		ORDER BY id DESC LIMIT ?limit)
	) AS page
	ORDER BY id DESC LIMIT ?limit))
ORDER BY id DESC`

// runListWalk names the index a RunList statement on SQLite walks.
type runListWalk int

const (
	walkRuns     runListWalk = iota // the primary key
	walkSchedule                    // herald_runs_schedule_idx
	walkOwner                       // herald_runs_owner_idx
	walkStatus                      // herald_runs_status_idx
	walkAgent                       // herald_runs_agent_idx
	walkKind                        // herald_runs_kind_idx
)

// runListSQLite is RunList on SQLite, by the index walked: each statement
// names its index (without statistics, SQLite's planner would rather seek
// the index of one column and the span of ids than that of two columns)
// and states that index's leading column plainly, and a partial index's
// condition as the index does, then every filter. The owner, which the
// status, agent and kind indexes carry, is checked before the run's row
// is read.
var runListSQLite = [...]string{
	walkRuns: `SELECT * FROM herald_runs WHERE ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkSchedule: `SELECT * FROM herald_runs INDEXED BY herald_runs_schedule_idx
WHERE schedule_id = ?schedule_id AND ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkOwner: `SELECT * FROM herald_runs INDEXED BY herald_runs_owner_idx
WHERE owner = ?owner AND ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkStatus: `SELECT * FROM herald_runs INDEXED BY herald_runs_status_idx
WHERE status IN (?statuses) AND status <> 'succeeded' AND ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkAgent: `SELECT * FROM herald_runs INDEXED BY herald_runs_agent_idx
WHERE agent = ?agent AND ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkKind: `SELECT * FROM herald_runs INDEXED BY herald_runs_kind_idx
WHERE kind IN (?kinds) AND kind <> 'schedule' AND ` + runListFilters + `
ORDER BY id DESC LIMIT ?limit`,
}

// runWalk picks the index a listing walks on SQLite, which has no
// statistics to choose by: a schedule's runs, else a status's, an agent's
// or a kind's (checking the owner in the index), else the owner's. A
// status or a kind is walked when it is alone in its list and in its
// index (not succeeded, not schedule), and so is a list of statuses of
// runs under way (queued, running), which are few: their entries are read
// and sorted. A longer list is a filter only, which the walk meets often
// enough, and so are succeeded and schedule, which most runs are.
func runWalk(p *store.RunListParams) runListWalk {
	switch {
	case p.ScheduleID != "":
		return walkSchedule
	case len(p.Statuses) == 1 && p.Statuses[0] != store.RunSucceeded || underWay(p.Statuses):
		return walkStatus
	case p.Agent != "":
		return walkAgent
	case len(p.Kinds) == 1 && p.Kinds[0] != store.RunKindSchedule:
		return walkKind
	case p.Owner != "":
		return walkOwner
	}
	return walkRuns
}

// underWay reports whether statuses are queued or running, all of them.
func underWay(statuses []store.RunStatus) bool {
	for _, st := range statuses {
		if st != store.RunQueued && st != store.RunRunning {
			return false
		}
	}
	return len(statuses) > 0
}

// runListArgs are the named arguments of the RunList statements. A list
// that is off holds one placeholder, so that its IN is well formed.
type runListArgs struct {
	AnyOwner       bool                 `bun:"any_owner"`
	Owner          string               `bun:"owner"`
	AnySchedule    bool                 `bun:"any_schedule"`
	ScheduleID     string               `bun:"schedule_id"`
	AnyStatus      bool                 `bun:"any_status"`
	Statuses       schema.QueryAppender `bun:"statuses"`
	AnyAgent       bool                 `bun:"any_agent"`
	Agent          string               `bun:"agent"`
	AnyKind        bool                 `bun:"any_kind"`
	Kinds          schema.QueryAppender `bun:"kinds"`
	AnyCreatedFrom bool                 `bun:"any_created_from"`
	CreatedFrom    time.Time            `bun:"created_from"`
	AnyCreatedTo   bool                 `bun:"any_created_to"`
	CreatedTo      time.Time            `bun:"created_to"`
	IDFrom         string               `bun:"id_from"`
	IDTo           string               `bun:"id_to"`
	Limit          int                  `bun:"limit"`
}

// RunList implements store.RunStore.
func (s *Store) RunList(ctx context.Context, p *store.RunListParams) (*store.RunPage, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	q, args, err := s.runListQuery(p)
	switch {
	case err != nil:
		return nil, err
	case q == "":
		return &store.RunPage{}, nil
	}
	var rows []runRow
	if err := s.db.NewRaw(q, args).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("list runs: %w", translate(err))
	}
	page := &store.RunPage{}
	if limit := args.Limit - 1; len(rows) > limit {
		rows = rows[:limit]
		page.Next = rows[limit-1].ID
	}
	page.Runs = runs(rows)
	return page, nil
}

// runListQuery returns the statement of a RunList call and its arguments,
// which ask for one run more than the page holds; no statement when
// nothing can match.
func (s *Store) runListQuery(p *store.RunListParams) (string, *runListArgs, error) {
	if err := storekit.CheckRunList(p); err != nil {
		return "", nil, fmt.Errorf("list runs: %w", err)
	}
	if p == nil {
		p = &store.RunListParams{}
	}
	if p.ScheduleID != "" && !validID(p.ScheduleID) {
		return "", nil, nil
	}
	from, to := store.Timestamp(p.CreatedFrom), store.Timestamp(p.CreatedTo)
	lo, hi, err := idSpan(from, to, p.Cursor)
	if err != nil {
		return "", nil, fmt.Errorf("list runs: %w", err)
	}
	args := &runListArgs{
		AnyOwner: p.Owner == "", Owner: p.Owner,
		AnySchedule: p.ScheduleID == "", ScheduleID: orString(p.ScheduleID, uuid7.Min),
		AnyStatus: len(p.Statuses) == 0, Statuses: bun.List(orList(p.Statuses, store.RunQueued)),
		AnyAgent: p.Agent == "", Agent: p.Agent,
		AnyKind: len(p.Kinds) == 0, Kinds: bun.List(orList(p.Kinds, store.RunKindEnqueue)),
		AnyCreatedFrom: from.IsZero(), CreatedFrom: from,
		AnyCreatedTo: to.IsZero(), CreatedTo: to,
		IDFrom: lo, IDTo: hi, Limit: storekit.ListLimit(p.Limit) + 1,
	}
	if s.pg() {
		return runListPG, args, nil
	}
	return runListSQLite[runWalk(p)], args, nil
}

// eventListFilters are the conditions of every EventList statement, as
// runListFilters are RunList's.
const eventListFilters = `(?any_source OR source = ?source)
	AND (?any_owner OR owner = ?owner)
	AND (?any_received_from OR received_at >= ?received_from)
	AND (?any_received_to OR received_at < ?received_to)
	AND id >= ?id_from AND id < ?id_to`

// eventListPG is EventList on PostgreSQL, whose page's ids are picked
// first, as runListPG's are.
const eventListPG = `SELECT * FROM herald_events WHERE id = ANY(ARRAY(
	SELECT id FROM herald_events WHERE ` + eventListFilters + `
	ORDER BY id DESC LIMIT ?limit))
ORDER BY id DESC`

// eventListWalk names the index an EventList statement on SQLite walks.
type eventListWalk int

const (
	walkEvents      eventListWalk = iota // the primary key
	walkEventOwner                       // herald_events_owner_idx
	walkEventSource                      // herald_events_source_idx
)

// eventListSQLite is EventList on SQLite, by the index walked, named as
// runListSQLite's are.
var eventListSQLite = [...]string{
	walkEvents: `SELECT * FROM herald_events WHERE ` + eventListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkEventOwner: `SELECT * FROM herald_events INDEXED BY herald_events_owner_idx
WHERE owner = ?owner AND ` + eventListFilters + `
ORDER BY id DESC LIMIT ?limit`,
	walkEventSource: `SELECT * FROM herald_events INDEXED BY herald_events_source_idx
WHERE source = ?source AND ` + eventListFilters + `
ORDER BY id DESC LIMIT ?limit`,
}

// eventWalk picks the index an event listing walks on SQLite: the
// owner's (a user's listing names it), else the source's.
func eventWalk(p *store.EventListParams) eventListWalk {
	switch {
	case p.Owner != "":
		return walkEventOwner
	case p.Source != "":
		return walkEventSource
	}
	return walkEvents
}

// eventListArgs are the named arguments of the EventList statements.
type eventListArgs struct {
	AnySource       bool      `bun:"any_source"`
	Source          string    `bun:"source"`
	AnyOwner        bool      `bun:"any_owner"`
	Owner           string    `bun:"owner"`
	AnyReceivedFrom bool      `bun:"any_received_from"`
	ReceivedFrom    time.Time `bun:"received_from"`
	AnyReceivedTo   bool      `bun:"any_received_to"`
	ReceivedTo      time.Time `bun:"received_to"`
	IDFrom          string    `bun:"id_from"`
	IDTo            string    `bun:"id_to"`
	Limit           int       `bun:"limit"`
}

// EventList implements store.EventStore.
func (s *Store) EventList(ctx context.Context, p *store.EventListParams) (*store.EventPage, error) {
	if s.isClosed() {
		return nil, store.ErrClosed
	}
	if p == nil {
		p = &store.EventListParams{}
	}
	from, to := store.Timestamp(p.ReceivedFrom), store.Timestamp(p.ReceivedTo)
	lo, hi, err := idSpan(from, to, p.Cursor)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	limit := storekit.ListLimit(p.Limit)
	args := &eventListArgs{
		AnySource: p.Source == "", Source: p.Source,
		AnyOwner: p.Owner == "", Owner: p.Owner,
		AnyReceivedFrom: from.IsZero(), ReceivedFrom: from,
		AnyReceivedTo: to.IsZero(), ReceivedTo: to,
		IDFrom: lo, IDTo: hi, Limit: limit + 1,
	}
	q := eventListPG
	if !s.pg() {
		q = eventListSQLite[eventWalk(p)]
	}
	var rows []eventRow
	if err := s.db.NewRaw(q, args).Scan(ctx, &rows); err != nil {
		return nil, fmt.Errorf("list events: %w", translate(err))
	}
	page := &store.EventPage{}
	if len(rows) > limit {
		rows = rows[:limit]
		page.Next = rows[limit-1].ID
	}
	page.Events = make([]*store.Event, len(rows))
	for i := range rows {
		page.Events[i] = rows[i].event()
	}
	return page, nil
}

// orString is s, or placeholder when s is empty.
func orString(s, placeholder string) string {
	if s == "" {
		return placeholder
	}
	return s
}

// orList is l, or a list of placeholder when l is empty.
func orList[T any](l []T, placeholder T) []T {
	if len(l) == 0 {
		return []T{placeholder}
	}
	return l
}
