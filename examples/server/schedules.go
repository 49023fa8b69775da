package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/store"
)

// scheduleConfig is one static schedule of the config file's schedules:
// section. Exactly one of cron, interval and at says when it fires.
//
//	schedules:
//	  - name: weekly_kpi_report
//	    cron: "0 1 * * 1"
//	    timezone: UTC
//	    agent: kpi_report
//	    deliver: [{channel: email, to: ops@example.com}, {channel: slack, to: "#ops", on: failure}]
type scheduleConfig struct {
	// Name is unique per owner. Required.
	Name string `yaml:"name"`
	// Owner owns the schedule and its runs; empty means the scheduler's
	// StaticOwner ("system").
	Owner string `yaml:"owner"`
	// Agent runs the task. Required.
	Agent string `yaml:"agent"`
	// Payload is handed to the agent, as JSON.
	Payload any `yaml:"payload"`
	// Cron is a crontab expression (5 or 6 fields, @daily, @every 10m).
	Cron string `yaml:"cron"`
	// Interval fires every interval ("15m").
	Interval time.Duration `yaml:"interval"`
	// At fires once, at an RFC 3339 instant.
	At time.Time `yaml:"at"`
	// Timezone is the IANA zone the cron expression is read in.
	Timezone string `yaml:"timezone"`
	// Jitter delays each fire by up to this much.
	Jitter time.Duration `yaml:"jitter"`
	// Timeout bounds one attempt; MaxAttempts bounds the attempts of a run.
	Timeout     time.Duration `yaml:"timeout"`
	MaxAttempts int           `yaml:"max_attempts"`
	// Overlap (skip, buffer_one, buffer_all, cancel_other, allow_all) and
	// Misfire (skip, run_once, run_all) are the schedule's policies.
	Overlap string `yaml:"overlap"`
	Misfire string `yaml:"misfire"`
	// Deliver are the targets of each run's result.
	Deliver []targetConfig `yaml:"deliver"`
}

// targetConfig is a delivery target: a channel of the delivery: section
// (or log), an address in it, and which outcomes it receives (always,
// success or failure).
type targetConfig struct {
	Channel string `yaml:"channel"`
	To      string `yaml:"to"`
	On      string `yaml:"on"`
}

// statics turns the config's schedules into the scheduler's static
// schedules. The scheduler checks the rest (the cron expression, the zone,
// the agent, the channels) when it starts, naming the schedule.
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
	n := 0
	if c.Cron != "" {
		trig.Kind, trig.Cron = store.TriggerCron, c.Cron
		n++
	}
	if c.Interval != 0 {
		trig.Kind, trig.Interval = store.TriggerInterval, c.Interval
		n++
	}
	if !c.At.IsZero() {
		trig.Kind, trig.At = store.TriggerOnce, c.At
		n++
	}
	if n != 1 {
		return nil, errors.New("cron, interval, at: exactly one is required")
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
		s.Targets = append(s.Targets, store.Target{Channel: t.Channel, To: t.To, On: store.DeliverOn(t.On)})
	}
	return s, nil
}
