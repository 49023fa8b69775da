package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// scheduleConfig is one static schedule of the config file's schedules:
// section. Exactly one of cron, interval and at says when it fires.
//
//	schedules:
//	  - name: weekly_kpi_report
//	    cron: "0 1 * * 1"
//	    timezone: UTC
//	    agent: kpi_report
//	    deliver: [{channel: email, to: ops@example.com, on: failure}, {channel: slack, to: "#ops"}]
type scheduleConfig struct {
	// Name is unique per owner. Required.
	Name string `yaml:"name"`
	// Owner owns the schedule and its runs; empty means the scheduler's
	// StaticOwner ("system").
	Owner string `yaml:"owner"`
	// Agent runs the task: echo, health_check, kpi_report or retention.
	// Required.
	Agent string `yaml:"agent"`
	// Payload is handed to the agent, as JSON.
	Payload any `yaml:"payload"`
	// Cron is a crontab expression (5 or 6 fields, @daily, @every 10m).
	Cron string `yaml:"cron"`
	// Interval fires every interval ("15m").
	Interval time.Duration `yaml:"interval"`
	// At fires once, at an RFC 3339 instant.
	At time.Time `yaml:"at"`
	// Timezone is the IANA zone the cron expression is read in; empty
	// means UTC.
	Timezone string `yaml:"timezone"`
	// Jitter delays each fire by up to this much.
	Jitter time.Duration `yaml:"jitter"`
	// Timeout bounds one attempt; zero means the scheduler's default
	// (10m, or policy.max_timeout when lower).
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts bounds the attempts of a run; zero means 3.
	MaxAttempts int `yaml:"max_attempts"`
	// Overlap is what a tick does while a run is still going: skip (the
	// default), buffer_one, buffer_all, cancel_other or allow_all.
	Overlap string `yaml:"overlap"`
	// Misfire is what a start does with ticks missed while no node ran:
	// skip, run_once (the default) or run_all.
	Misfire string `yaml:"misfire"`
	// Deliver are the targets of each run's result.
	Deliver []targetConfig `yaml:"deliver"`
}

// triggerKey is the key that says when c fires: cron, interval or at;
// empty when none does.
func (c scheduleConfig) triggerKey() string {
	switch {
	case c.Cron != "":
		return "cron"
	case c.Interval != 0:
		return "interval"
	case !c.At.IsZero():
		return "at"
	}
	return ""
}

// checkSchedules checks the static schedules at path: first what the
// file alone tells, then, for each schedule with no problem so far, what
// the scheduler checks when the server starts (the cron expression, the
// zone, the policy), on a scheduler of an in-memory store, one schedule at
// a time, so that every schedule's problem is reported at once.
func checkSchedules(p *problems, path string, ss []scheduleConfig, dc deliveryConfig, policy scheduler.Policy) {
	probe := newStaticProbe(dc, policy)
	defer probe.close()
	names := map[[2]string]string{} // owner, name → path
	for i, c := range ss {
		sp := index(path, i)
		owner := cmp.Or(c.Owner, scheduler.StaticOwner)
		switch {
		case c.Name == "":
			p.add(key(sp, "name"), "required")
		case len(c.Name) > maxNameBytes:
			p.addf(key(sp, "name"), "must be at most %d bytes", maxNameBytes)
		case names[[2]string{owner, c.Name}] != "":
			p.addf(key(sp, "name"), "already used by %s", names[[2]string{owner, c.Name}])
		default:
			names[[2]string{owner, c.Name}] = sp
		}
		if c.Owner != "" {
			checkName(p, key(sp, "owner"), c.Owner)
		}
		checkAgent(p, key(sp, "agent"), c.Agent, c.Owner)
		var set []string
		for _, t := range []struct {
			k  string
			on bool
		}{{"cron", c.Cron != ""}, {"interval", c.Interval != 0}, {"at", !c.At.IsZero()}} {
			if t.on {
				set = append(set, t.k)
			}
		}
		switch len(set) {
		case 0:
			p.add(sp, "needs one of cron, interval and at")
		case 1:
		default:
			p.addf(key(sp, set[1]), "excludes %s: a schedule fires on one of cron, interval and at", set[0])
		}
		if c.Interval < 0 {
			p.add(key(sp, "interval"), "must be positive")
		}
		if c.Timezone != "" {
			if _, err := time.LoadLocation(c.Timezone); err != nil {
				p.add(key(sp, "timezone"), "must be an IANA time zone such as Europe/Paris")
			}
		}
		for _, d := range []struct {
			k string
			v time.Duration
		}{{"jitter", c.Jitter}, {"timeout", c.Timeout}} {
			if d.v < 0 {
				p.add(key(sp, d.k), "must not be negative")
			}
		}
		if c.MaxAttempts < 0 {
			p.add(key(sp, "max_attempts"), "must not be negative (0 means 3)")
		}
		switch store.OverlapPolicy(c.Overlap) {
		case "", store.OverlapSkip, store.OverlapBufferOne, store.OverlapBufferAll, store.OverlapCancelOther, store.OverlapAllowAll:
		default:
			p.add(key(sp, "overlap"), "must be one of skip, buffer_one, buffer_all, cancel_other, allow_all")
		}
		switch store.MisfirePolicy(c.Misfire) {
		case "", store.MisfireSkip, store.MisfireRunOnce, store.MisfireRunAll:
		default:
			p.add(key(sp, "misfire"), "must be one of skip, run_once, run_all")
		}
		if _, err := json.Marshal(c.Payload); err != nil {
			p.add(key(sp, "payload"), "must be expressible as JSON: keys must be strings")
		}
		checkTargets(p, key(sp, "deliver"), c.Deliver, dc)
		if p.has(sp) {
			continue
		}
		sch, err := c.schedule()
		if err == nil {
			err = probe.check(sch)
		}
		if err != nil {
			addScheduleError(p, sp, c, err)
		}
	}
}

// staticProbe is a scheduler's check of static schedules without the
// scheduler: scheduler.New checks Config.Static (and starts nothing), so a
// New per schedule, on an in-memory store, with the server's agent names,
// channels and policy, checks each schedule as the server's own will.
type staticProbe struct {
	st     *memstore.Store
	agents *agent.Registry
	router *delivery.Router
	policy scheduler.Policy
}

func newStaticProbe(dc deliveryConfig, policy scheduler.Policy) *staticProbe {
	nop := func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil }
	reg := agent.NewRegistry()
	for _, name := range builtinAgentNames {
		reg.MustRegister(name, agent.Func(nop))
	}
	r := delivery.NewRouter()
	for _, ch := range dc.channels() {
		r.MustRegister(ch, delivery.Func(func(context.Context, *delivery.Message) error { return nil }))
	}
	return &staticProbe{st: memstore.New(memstore.Options{}), agents: reg, router: r, policy: policy}
}

func (pr *staticProbe) check(sch *store.Schedule) error {
	_, err := scheduler.New(pr.st, scheduler.Config{Agents: pr.agents, Delivery: pr.router, Policy: pr.policy,
		Static: []*store.Schedule{sch}})
	return err
}

func (pr *staticProbe) close() { pr.st.Close() }

// staticField finds the index of a static schedule in the field of the
// scheduler's *store.ValidationError: "Static[3].trigger.cron".
var staticField = regexp.MustCompile(`^Static\[(\d+)\]\.`)

// addScheduleError records in p, under sp (the path of c), the
// scheduler's refusal of c: a *store.ValidationError on one of its fields
// is reported at that field's key, anything else at sp.
func addScheduleError(p *problems, sp string, c scheduleConfig, err error) {
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		p.add(sp, err.Error())
		return
	}
	field := staticField.ReplaceAllString(ve.Field, "")
	if k := scheduleKey(field, c); k != "" {
		sp = key(sp, k)
	}
	p.add(sp, ve.Rule)
}

// scheduleKey maps a field of a store.Schedule, as the scheduler's errors
// name it ("trigger.cron", "targets[0].channel"), to the key of c that
// sets it ("cron", "deliver[0].channel"); empty when no key does.
func scheduleKey(field string, c scheduleConfig) string {
	switch {
	case field == "trigger" || field == "trigger.kind":
		return c.triggerKey()
	case field == "trigger.start_at" || field == "trigger.end_at" || field == "misfire_cap":
		return ""
	case strings.HasPrefix(field, "trigger."):
		return strings.TrimPrefix(field, "trigger.")
	case strings.HasPrefix(field, "targets["):
		return "deliver" + strings.TrimPrefix(field, "targets")
	}
	return field
}

// schedulerError reports an error of scheduler.New about a static
// schedule of fc by the schedule's path in the file; other errors are
// returned as they are.
func schedulerError(err error, fc *fileConfig, file string) error {
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	m := staticField.FindStringSubmatch(ve.Field)
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[1])
	if i >= len(fc.Schedules) {
		return err
	}
	p := fc.problems(file)
	addScheduleError(p, index("schedules", i), fc.Schedules[i], err)
	return p.err()
}

// startError names, in an error of the scheduler's Start about a static
// schedule ("static schedule \"name\": …"), the schedule's path and line
// in the file. The scheduler's error has no field for the name: its text
// is matched, to say where the schedule is, and the error kept whole.
func startError(err error, fc *fileConfig, file string) error {
	for i, c := range fc.Schedules {
		if strings.Contains(err.Error(), fmt.Sprintf("static schedule %q:", c.Name)) {
			sp := index("schedules", i)
			return fmt.Errorf("config file %s: line %d: %s: %w", file, fc.problems(file).line(sp), sp, err)
		}
	}
	return err
}

// statics turns the config's schedules into the scheduler's static
// schedules.
func (fc *fileConfig) statics() ([]*store.Schedule, error) {
	var out []*store.Schedule
	for i, c := range fc.Schedules {
		s, err := c.schedule()
		if err != nil {
			return nil, fmt.Errorf("schedules[%d] (%s): %w", i, c.Name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// schedule is c as a store schedule.
func (c scheduleConfig) schedule() (*store.Schedule, error) {
	trig := store.Trigger{Timezone: c.Timezone, Jitter: c.Jitter}
	switch c.triggerKey() {
	case "cron":
		trig.Kind, trig.Cron = store.TriggerCron, c.Cron
	case "interval":
		trig.Kind, trig.Interval = store.TriggerInterval, c.Interval
	case "at":
		trig.Kind, trig.At = store.TriggerOnce, c.At
	}
	s := &store.Schedule{Name: c.Name, Owner: c.Owner, Agent: c.Agent, Trigger: trig, Timeout: c.Timeout,
		MaxAttempts: c.MaxAttempts, Overlap: store.OverlapPolicy(c.Overlap), Misfire: store.MisfirePolicy(c.Misfire)}
	if c.Payload != nil {
		raw, err := json.Marshal(c.Payload)
		if err != nil {
			return nil, fmt.Errorf("payload: must be expressible as JSON (string keys only): %w", err)
		}
		s.Payload = raw
	}
	for _, t := range c.Deliver {
		s.Targets = append(s.Targets, t.target())
	}
	return s, nil
}
