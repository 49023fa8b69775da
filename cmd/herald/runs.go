package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/api"
)

// runFilters are the flags that choose runs, shared by runs list and runs
// tail.
type runFilters struct {
	schedule, status, agent, kind, owner string
	since, until                         timeFlag
}

// registerRunFilters adds the filter flags to f.
func registerRunFilters(c *cli, f *flags) *runFilters {
	r := &runFilters{since: timeFlag{now: c.now, ago: true}, until: timeFlag{now: c.now, ago: true}}
	f.StringVar(&r.schedule, "schedule", "", "only the runs of this schedule `ID`")
	f.StringVar(&r.status, "status", "", "only runs of these `statuses`, comma-separated: queued, running, succeeded, failed, cancelled, timed_out, skipped")
	f.StringVar(&r.agent, "agent", "", "only the runs of this `agent`")
	f.StringVar(&r.kind, "kind", "", "only runs of these `kinds`, comma-separated: schedule, manual, webhook, enqueue")
	f.StringVar(&r.owner, "owner", "", "only this `owner`'s runs (an admin's token)")
	f.Var(&r.since, "since", "only runs created from this `time` (RFC 3339, or a duration back from now: 1h)")
	f.Var(&r.until, "until", "only runs created before this `time` (RFC 3339, or a duration back from now)")
	return r
}

// query is the filters as the API's query parameters.
func (r *runFilters) query() url.Values {
	q := url.Values{}
	setStr(q, "schedule_id", r.schedule)
	setStr(q, "status", r.status)
	setStr(q, "agent", r.agent)
	setStr(q, "kind", r.kind)
	setStr(q, "owner", r.owner)
	r.since.set(q, "since")
	r.until.set(q, "until")
	return q
}

func runsList(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "[-schedule ID] [-status S,S] [-agent A] [-kind K] [-owner O] [-since T] [-until T] [-limit N] [-cursor C] [-all]")
	filters := registerRunFilters(c, f)
	var p paging
	cl, err := c.listClient(name, f, &p, args)
	if err != nil {
		return err
	}
	defer cl.close()
	runs, cursor, err := fetchAll(ctx, &p, cl, "/v1/runs", filters.query(), func(pg *api.RunList) ([]*api.Run, *string) { return pg.Runs, pg.NextCursor })
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(&api.RunList{Runs: runs, NextCursor: orNil(cursor)})
	}
	t := c.newTable("ID", "STATUS", "KIND", "AGENT", "OWNER", "CREATED", "STARTED", "DURATION", "ATTEMPT")
	for _, r := range runs {
		t.row(r.ID, runStatus(r), r.Kind, r.Agent, r.Owner, tm(&r.CreatedAt), tm(r.StartedAt), dur(r.Duration),
			fmt.Sprintf("%d/%d", r.Attempt, r.MaxAttempts))
	}
	if err := t.flush(); err != nil {
		return err
	}
	c.more(name, cursor)
	return nil
}

// runStatus is r's status, marked when a cancellation is pending or the
// run is held.
func runStatus(r *api.Run) string {
	s := r.Status
	if r.CancelRequested && (s == "queued" || s == "running") {
		s += " (cancelling)"
	}
	if r.Held {
		s += " (held)"
	}
	return s
}

// runArg parses the flags of a command on one run and returns the client
// and the run's id.
func (c *cli) runArg(f *flags, args []string) (*client, string, error) {
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return nil, "", err
	}
	cl, err := c.client(f.name)
	if err != nil {
		return nil, "", err
	}
	return cl, pos[0], nil
}

func runsShow(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "ID")
	cl, id, err := c.runArg(f, args)
	if err != nil {
		return err
	}
	defer cl.close()
	path := "/v1/runs/" + url.PathEscape(id)
	var r api.RunDetail
	b, err := cl.get(ctx, path, nil, &r)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeRaw(b)
	}
	progress := ""
	if len(r.Progress) > 0 {
		pb, _ := json.Marshal(r.Progress)
		progress = string(pb)
	}
	if err := c.fields(
		"ID", r.ID, "Status", runStatus(&r.Run), "Kind", r.Kind, "Schedule", str(r.ScheduleID),
		"Scheduled for", tm(r.ScheduledFor), "Event", str(r.EventID), "Owner", r.Owner, "Agent", r.Agent,
		"Payload", rawJSON(r.Payload), "Deliver", targets(r.Deliver), "Idempotency key", str(r.IdempotencyKey),
		"Attempt", fmt.Sprintf("%d of %d", r.Attempt, r.MaxAttempts), "Timeout", dur(r.Timeout),
		"Run at", tm(&r.RunAt), "Started", tm(r.StartedAt), "Finished", tm(r.FinishedAt),
		"Duration", dur(r.Duration), "Node", str(r.Node), "Error", str(r.Error), "Summary", str(r.Summary),
		"Output", rawJSON(r.Output), "Progress", progress, "Created", tm(&r.CreatedAt),
	); err != nil {
		return err
	}
	if len(r.Deliveries) == 0 {
		return nil
	}
	fmt.Fprintln(c.stdout, "\nDeliveries:")
	t := c.newTable("CHANNEL", "TO", "ATTEMPT", "STATUS", "STARTED", "FINISHED", "ERROR")
	for _, d := range r.Deliveries {
		t.row(d.Channel, d.To, fmt.Sprint(d.Attempt), d.Status, tm(&d.StartedAt), tm(d.FinishedAt), str(d.Error))
	}
	return t.flush()
}

func runsCancel(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "ID [-reason TEXT]")
	var reason string
	f.StringVar(&reason, "reason", "", "why, kept with the run (at most 1000 bytes)")
	cl, id, err := c.runArg(f, args)
	if err != nil {
		return err
	}
	defer cl.close()
	path := "/v1/runs/" + url.PathEscape(id) + "/cancel"
	b, err := cl.do(ctx, http.MethodPost, path, nil, &api.CancelRequest{Reason: reason})
	if err != nil {
		return err
	}
	var r api.Run
	if err := decodeAnswer(path, b, &r); err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeRaw(b)
	}
	fmt.Fprintf(c.stdout, "Run %s: %s\n", r.ID, runStatus(&r))
	return nil
}
