// Package trigger is the scheduler's fire-time math: it compiles a schedule's
// stored trigger spec (store.Trigger) into a Trigger, a pure function from a
// time to the next fire time, and checks the spec on the way.
//
// It is internal to the scheduler. Cron expressions are searched with
// go-quartz's CronTrigger; this package adds the crontab dialect (5 and 6
// fields, descriptors, @every, the Vixie day rule), the time-zone and
// daylight-saving semantics of Herald's design, start and end bounds, and
// interval and one-off triggers. Nothing here reads the clock or applies
// jitter, so every node computes the same fire times.
package trigger
