package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/heraldhq/herald/api"
)

func schedulesList(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "[-owner O] [-name N] [-limit N] [-cursor C] [-all]")
	var owner, schedName string
	var p paging
	f.StringVar(&owner, "owner", "", "only this `owner`'s schedules (an admin's token)")
	f.StringVar(&schedName, "name", "", "only the schedules of this `name`")
	cl, err := c.listClient(name, f, &p, args)
	if err != nil {
		return err
	}
	defer cl.close()
	q := url.Values{}
	setStr(q, "owner", owner)
	setStr(q, "name", schedName)
	schedules, cursor, err := fetchAll(ctx, &p, cl, "/v1/schedules", q, func(pg *api.ScheduleList) ([]*api.Schedule, *string) {
		return pg.Schedules, pg.NextCursor
	})
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(&api.ScheduleList{Schedules: schedules, NextCursor: orNil(cursor)})
	}
	t := c.newTable("ID", "NAME", "OWNER", "AGENT", "TRIGGER", "TIMEZONE", "STATE", "NEXT RUN", "LAST RUN")
	for _, s := range schedules {
		t.row(s.ID, s.Name, s.Owner, s.Agent, trigger(s), s.Timezone, state(s), tm(s.NextRunAt), tm(s.LastRunAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	c.more(name, cursor)
	return nil
}

// trigger says when s fires: "cron 0 9 * * 1-5", "every 15m", "at …".
func trigger(s *api.Schedule) string {
	switch {
	case s.Cron != nil:
		return "cron " + *s.Cron
	case s.Every != nil:
		return "every " + dur(s.Every)
	case s.At != nil:
		return "at " + tm(s.At)
	}
	return ""
}

// state is "active", "paused", and "static" for a schedule of the
// server's configuration.
func state(s *api.Schedule) string {
	st := "active"
	if s.Paused {
		st = "paused"
	}
	if s.Static {
		st += ",static"
	}
	return st
}

// scheduleID returns the id of the schedule arg names: arg itself when it
// is an id, else the id of the one schedule of that name (of owner, when
// set) the token sees.
func scheduleID(ctx context.Context, cl *client, cmd, arg, owner string) (string, error) {
	if isID(arg) {
		return arg, nil
	}
	q := url.Values{"name": {arg}, "limit": {"2"}}
	setStr(q, "owner", owner)
	var page api.ScheduleList
	if _, err := cl.get(ctx, "/v1/schedules", q, &page); err != nil {
		return "", err
	}
	switch len(page.Schedules) {
	case 0:
		return "", &apiError{Status: http.StatusNotFound, Problem: api.Problem{Title: "Not found",
			Status: http.StatusNotFound, Detail: fmt.Sprintf("no schedule has the id or name %q", arg)}}
	case 1:
		return page.Schedules[0].ID, nil
	}
	return "", usagef(cmd, "more than one schedule is named %q (owners %s, %s, …): give -owner or the schedule's id",
		arg, page.Schedules[0].Owner, page.Schedules[1].Owner)
}

// scheduleArg parses the flags of a command on one schedule (ID or NAME,
// -owner) and returns the client and the schedule's id.
func (c *cli) scheduleArg(ctx context.Context, f *flags, args []string) (*client, string, error) {
	var owner string
	f.StringVar(&owner, "owner", "", "the `owner` of the schedule a NAME names (an admin's token)")
	pos, err := f.parse(args, 1, 1)
	if err != nil {
		return nil, "", err
	}
	cl, err := c.client(f.name)
	if err != nil {
		return nil, "", err
	}
	id, err := scheduleID(ctx, cl, f.name, pos[0], owner)
	if err != nil {
		cl.close()
		return nil, "", err
	}
	return cl, id, nil
}

func schedulesShow(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "ID|NAME [-owner O]")
	cl, id, err := c.scheduleArg(ctx, f, args)
	if err != nil {
		return err
	}
	defer cl.close()
	var s api.Schedule
	b, err := cl.get(ctx, "/v1/schedules/"+id, nil, &s)
	if err != nil {
		return err
	}
	return c.showSchedule(b, &s)
}

// showSchedule writes a schedule the API answered: b as JSON, or s's
// fields.
func (c *cli) showSchedule(b []byte, s *api.Schedule) error {
	if c.output == "json" {
		return c.writeRaw(b)
	}
	next := make([]string, len(s.NextFireTimes))
	for i := range s.NextFireTimes {
		next[i] = tm(&s.NextFireTimes[i])
	}
	return c.fields(
		"ID", s.ID, "Name", s.Name, "Owner", s.Owner, "Agent", s.Agent,
		"Trigger", trigger(s), "Timezone", s.Timezone, "Start", tm(s.Start), "End", tm(s.End),
		"Jitter", dur(s.Jitter), "Payload", rawJSON(s.Payload), "Deliver", targets(s.Deliver),
		"Overlap", s.Overlap, "Misfire", s.Misfire, "Misfire cap", num(s.MisfireCap),
		"Timeout", dur(s.Timeout), "Max attempts", num(s.MaxAttempts), "State", state(s),
		"Next run", tm(s.NextRunAt), "Last run", tm(s.LastRunAt), "Next fire times", strings.Join(next, ", "),
		"Version", fmt.Sprint(s.Version), "Created", tm(&s.CreatedAt), "Updated", tm(&s.UpdatedAt))
}

// targetsFlag is the repeatable -deliver flag: CHANNEL[/ON]:TO.
type targetsFlag []api.Target

func (t *targetsFlag) String() string {
	if t == nil {
		return ""
	}
	return targets(*t)
}

func (t *targetsFlag) Set(s string) error {
	ch, to, ok := strings.Cut(s, ":")
	if !ok || ch == "" {
		return errors.New("want CHANNEL:TO or CHANNEL/ON:TO (slack:#ops, email/failure:admin@example.com)")
	}
	ch, on, _ := strings.Cut(ch, "/")
	switch on {
	case "", "always", "success", "failure":
	default:
		return fmt.Errorf("ON must be always, success or failure, not %q", on)
	}
	*t = append(*t, api.Target{Channel: ch, To: to, On: on})
	return nil
}

// jsonFlag is a flag holding a JSON value.
type jsonFlag struct{ raw json.RawMessage }

func (j *jsonFlag) String() string {
	if j == nil {
		return ""
	}
	return string(j.raw)
}

func (j *jsonFlag) Set(s string) error {
	if !json.Valid([]byte(s)) {
		return errors.New("not valid JSON")
	}
	j.raw = json.RawMessage(s)
	return nil
}

func schedulesCreate(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "-name N -agent A (-cron EXPR | -every DUR | -at TIME) [flags] | -f FILE [flags]")
	var (
		file, schedName, agent, owner, cron, every, at, tz, start, end, jitter string
		overlap, misfire, timeout                                              string
		misfireCap, maxAttempts                                                int
		paused                                                                 bool
		payload                                                                jsonFlag
		deliver                                                                targetsFlag
	)
	f.StringVar(&file, "f", "", "read the schedule from `FILE`, a JSON body of POST /v1/schedules; flags given too replace its fields")
	f.StringVar(&schedName, "name", "", "the schedule's `name`, unique per owner (required)")
	f.StringVar(&agent, "agent", "", "the `agent` that runs (required)")
	f.StringVar(&owner, "owner", "", "create for this `owner` (an admin's token; default the token's subject)")
	f.Var(&payload, "payload", "the `JSON` object handed to the agent")
	f.StringVar(&cron, "cron", "", "fire on this cron `expression` (5 or 6 fields, @daily, @every 10m)")
	f.StringVar(&every, "every", "", "fire every `duration` (15m)")
	f.StringVar(&at, "at", "", "fire once at this RFC 3339 `time`")
	f.StringVar(&tz, "tz", "", "read the trigger in this IANA `zone` (default UTC)")
	f.StringVar(&start, "start", "", "fire from this RFC 3339 `time`")
	f.StringVar(&end, "end", "", "fire until this RFC 3339 `time`")
	f.StringVar(&jitter, "jitter", "", "delay each fire by up to this `duration`, at random")
	f.Var(&deliver, "deliver", "deliver the result to `CHANNEL[/ON]:TO` (repeatable; ON is always, success or failure)")
	f.StringVar(&overlap, "overlap", "", "`policy` when a fire finds the last run going: skip, buffer_one, buffer_all, cancel_other, allow_all")
	f.StringVar(&misfire, "misfire", "", "`policy` for fires missed while down: skip, run_once, run_all")
	f.IntVar(&misfireCap, "misfire-cap", 0, "at most `N` missed fires run with -misfire run_all")
	f.StringVar(&timeout, "timeout", "", "bound each attempt of a run by this `duration`")
	f.IntVar(&maxAttempts, "max-attempts", 0, "at most `N` attempts per run")
	f.BoolVar(&paused, "paused", false, "create the schedule paused")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	req := &api.ScheduleRequest{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return usagef(name, "flag -f: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(req); err != nil {
			return usagef(name, "flag -f: %s is not a schedule in JSON: %v", file, err)
		}
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	strFlag := func(flagName string, v string, dst **string) {
		if set[flagName] {
			*dst = &v
		}
	}
	strFlag("name", schedName, &req.Name)
	strFlag("agent", agent, &req.Agent)
	strFlag("owner", owner, &req.Owner)
	strFlag("tz", tz, &req.Timezone)
	strFlag("start", start, &req.Start)
	strFlag("end", end, &req.End)
	strFlag("jitter", jitter, &req.Jitter)
	strFlag("overlap", overlap, &req.Overlap)
	strFlag("misfire", misfire, &req.Misfire)
	strFlag("timeout", timeout, &req.Timeout)
	if set["cron"] || set["every"] || set["at"] {
		var given []string
		for _, k := range []string{"cron", "every", "at"} {
			if set[k] {
				given = append(given, "-"+k)
			}
		}
		if len(given) > 1 {
			return usagef(name, "flags %s: give one of -cron, -every and -at", strings.Join(given, " and "))
		}
		req.Cron, req.Every, req.At = nil, nil, nil
		strFlag("cron", cron, &req.Cron)
		strFlag("every", every, &req.Every)
		strFlag("at", at, &req.At)
	}
	if set["every"] {
		if d, err := time.ParseDuration(every); err != nil || d <= 0 {
			return usagef(name, "flag -every: want a positive duration such as 15m, not %q", every)
		}
	}
	if set["at"] {
		if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
			return usagef(name, "flag -at: want an RFC 3339 time such as 2026-01-02T15:04:05Z, not %q", at)
		}
	}
	if set["payload"] {
		req.Payload = payload.raw
	}
	if set["deliver"] {
		req.Deliver = deliver
	}
	if set["misfire-cap"] {
		req.MisfireCap = &misfireCap
	}
	if set["max-attempts"] {
		req.MaxAttempts = &maxAttempts
	}
	if set["paused"] {
		req.Paused = &paused
	}
	switch {
	case req.Name == nil:
		return usagef(name, "flag -name is required")
	case req.Agent == nil:
		return usagef(name, "flag -agent is required")
	case req.Cron == nil && req.Every == nil && req.At == nil:
		return usagef(name, "one of the flags -cron, -every and -at is required")
	}
	cl, err := c.client(name)
	if err != nil {
		return err
	}
	defer cl.close()
	b, err := cl.do(ctx, http.MethodPost, "/v1/schedules", nil, req)
	if err != nil {
		return err
	}
	var s api.Schedule
	if err := decodeAnswer("/v1/schedules", b, &s); err != nil {
		return err
	}
	return c.showSchedule(b, &s)
}

// scheduleAction is a command that POSTs to /v1/schedules/{id}/verb and
// writes the schedule answered, after done's line.
func scheduleAction(verb, done string) commandFunc {
	return func(ctx context.Context, c *cli, name string, args []string) error {
		f := c.newFlags(name, "ID|NAME [-owner O]")
		cl, id, err := c.scheduleArg(ctx, f, args)
		if err != nil {
			return err
		}
		defer cl.close()
		path := "/v1/schedules/" + id + "/" + verb
		b, err := cl.do(ctx, http.MethodPost, path, nil, nil)
		if err != nil {
			return err
		}
		var s api.Schedule
		if err := decodeAnswer(path, b, &s); err != nil {
			return err
		}
		if c.output == "json" {
			return c.writeRaw(b)
		}
		fmt.Fprintf(c.stdout, "%s schedule %s (%s); next run: %s\n", done, s.Name, s.ID, cell(tm(s.NextRunAt)))
		return nil
	}
}

var (
	schedulesPause  = scheduleAction("pause", "Paused")
	schedulesResume = scheduleAction("resume", "Resumed")
)

func schedulesRun(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "ID|NAME [-owner O]")
	cl, id, err := c.scheduleArg(ctx, f, args)
	if err != nil {
		return err
	}
	defer cl.close()
	path := "/v1/schedules/" + id + "/run"
	b, err := cl.do(ctx, http.MethodPost, path, nil, nil)
	if err != nil {
		return err
	}
	var ra api.RunAccepted
	if err := decodeAnswer(path, b, &ra); err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeRaw(b)
	}
	fmt.Fprintf(c.stdout, "Run %s of schedule %s: %s\n", ra.RunID, id, ra.Status)
	return nil
}

func schedulesDelete(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "ID|NAME [-owner O]")
	cl, id, err := c.scheduleArg(ctx, f, args)
	if err != nil {
		return err
	}
	defer cl.close()
	if _, err := cl.do(ctx, http.MethodDelete, "/v1/schedules/"+id, nil, nil); err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(map[string]any{"id": id, "deleted": true})
	}
	fmt.Fprintf(c.stdout, "Deleted schedule %s; its runs stay in the history.\n", id)
	return nil
}
