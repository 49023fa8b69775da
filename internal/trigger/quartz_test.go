package trigger

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// TestQuartzBehaviour records what go-quartz's CronTrigger does by itself in
// the cases where Herald's semantics differ, next to Herald's answer for the
// same schedule: why this package computes cron fire times itself. Should an
// upgrade of go-quartz change one of its answers, this test says so.
func TestQuartzBehaviour(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	const expired = "expired" // go-quartz's ErrTriggerExpired
	tests := []struct {
		name   string
		expr   string // for go-quartz
		loc    *time.Location
		from   string
		quartz []string
		cron   string   // Herald's expression, when it is not expr
		herald []string // Herald's fire times; nil for none
	}{
		// Daylight saving, go-quartz in the zone.
		{
			name: "skipped 02:30 fires an hour early, at 01:30", expr: "0 30 2 * * ?", loc: ny, from: "2026-03-07T12:00:00-05:00",
			quartz: []string{"2026-03-08T01:30:00-05:00", "2026-03-09T02:30:00-04:00"},
			herald: []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
		},
		{
			name: "skipped 02:30 is lost when searched from after the gap", expr: "0 30 2 * * ?", loc: ny, from: "2026-03-08T03:10:00-04:00",
			quartz: []string{"2026-03-09T02:30:00-04:00"},
			herald: []string{"2026-03-08T03:30:00-04:00"},
		},
		{
			name: "two skipped times expire the trigger", expr: "0 0,30 2 * * ?", loc: ny, from: "2026-03-07T12:00:00-05:00",
			quartz: []string{"2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00", expired},
			herald: []string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:00:00-04:00"},
		},
		{
			name: "every 5 minutes expires at spring-forward", expr: "0 */5 * * * ?", loc: ny, from: "2026-03-08T01:50:00-05:00",
			quartz: []string{"2026-03-08T01:55:00-05:00", expired},
			herald: []string{"2026-03-08T01:55:00-05:00", "2026-03-08T03:00:00-04:00"},
		},
		{
			name: "hourly over spring-forward agrees", expr: "0 0 * * * ?", loc: ny, from: "2026-03-08T00:30:00-05:00",
			quartz: []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"},
			herald: []string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"},
		},
		{
			name: "repeated 01:30 fires in the first pass: agrees", expr: "0 30 1 * * ?", loc: ny, from: "2026-10-31T12:00:00-04:00",
			quartz: []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
			herald: []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
		},
		{
			name: "every 5 minutes skips the second pass", expr: "0 */5 * * * ?", loc: ny, from: "2026-11-01T01:50:00-04:00",
			quartz: []string{"2026-11-01T01:55:00-04:00", "2026-11-01T02:00:00-05:00"},
			herald: []string{"2026-11-01T01:55:00-04:00", "2026-11-01T01:00:00-05:00"},
		},
		{
			name: "every 5 minutes expires inside the second pass", expr: "0 */5 * * * ?", loc: ny, from: "2026-11-01T01:20:00-05:00",
			quartz: []string{expired},
			herald: []string{"2026-11-01T01:25:00-05:00"},
		},
		{
			name: "hourly skips the second 01:00", expr: "0 0 * * * ?", loc: ny, from: "2026-11-01T00:30:00-04:00",
			quartz: []string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00"},
			herald: []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"},
		},
		// The calendar, go-quartz in UTC.
		{
			name: "a day past the month's end runs into the next month", expr: "0 0 0 1,30 2,3 ?", loc: time.UTC, from: "2026-02-02T00:00:00Z",
			quartz: []string{"2026-03-02T00:00:00Z", "2026-03-30T00:00:00Z"},
			herald: []string{"2026-03-01T00:00:00Z", "2026-03-30T00:00:00Z"},
		},
		{
			name: "April 31 becomes May 1", expr: "0 0 0 31 4,6 ?", loc: time.UTC, from: "2026-01-01T00:00:00Z",
			quartz: []string{"2026-05-01T00:00:00Z"},
			herald: nil,
		},
		{
			name: "February 29 of a common year becomes March 1", expr: "0 0 0 29 2 ?", loc: time.UTC, from: "2026-01-01T00:00:00Z",
			quartz: []string{"2026-03-01T00:00:00Z"},
			herald: []string{"2028-02-29T00:00:00Z"},
		},
		{
			name: "a moved nearest weekday fires once a day at most", expr: "0 0/30 0 15W * ?", loc: time.UTC, from: "2026-02-01T00:00:00Z", // Feb 15 is a Sunday
			quartz: []string{"2026-02-16T00:00:00Z", "2026-03-16T00:00:00Z"},
			herald: []string{"2026-02-16T00:00:00Z", "2026-02-16T00:30:00Z"},
		},
		{
			name: "a fifth Sunday in February is missed", expr: "0 0 0 ? 2 1#5", loc: time.UTC, from: "2021-03-16T00:00:00Z",
			quartz: []string{"2060-02-29T00:00:00Z"},
			cron:   "0 0 0 ? 2 0#5",
			herald: []string{"2032-02-29T00:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct, err := quartz.NewCronTriggerWithLoc(tt.expr, tt.loc)
			if err != nil {
				t.Fatal(err)
			}
			prev := at(t, tt.from).UnixNano()
			for i, want := range tt.quartz {
				next, err := ct.NextFireTime(prev)
				got := expired
				if err == nil {
					got = time.Unix(0, next).In(tt.loc).Format(time.RFC3339)
				} else if !errors.Is(err, quartz.ErrTriggerExpired) {
					t.Fatalf("go-quartz fire %d: %v", i, err)
				}
				if got != want {
					t.Errorf("go-quartz fire %d: %s, want %s", i, got, want)
				}
				if err != nil {
					break
				}
				prev = next
			}

			tr := mustCompile(t, cronIn(tt.loc.String(), cmp.Or(tt.cron, tt.expr)))
			var got []string
			for _, f := range fires(tr, at(t, tt.from), max(len(tt.herald), 1)) {
				got = append(got, f.In(tt.loc).Format(time.RFC3339))
			}
			if !slices.Equal(got, tt.herald) {
				t.Errorf("Herald: %q, want %q", got, tt.herald)
			}
		})
	}
}

// TestQuartzRefuses records go-quartz's refusals of Herald's dialect, and a
// check it lacks.
func TestQuartzRefuses(t *testing.T) {
	for expr, want := range map[string]string{
		"*/5 * * * *":    "invalid expression length", // crontab's 5 fields
		"0 0 0 1,15 * 2": "day field set twice",       // both day fields
		"@midnight":      "invalid expression length", // no such descriptor
	} {
		_, err := quartz.NewCronTriggerWithLoc(expr, time.UTC)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("go-quartz on %q: %v, want an error with %q", expr, err, want)
		}
	}
	// A value out of range inside a list passes; Herald refuses it.
	if _, err := quartz.NewCronTriggerWithLoc("0 0,61 * * * ?", time.UTC); err != nil {
		t.Errorf("go-quartz now refuses minute 61 in a list: %v", err)
	}
	if _, err := Compile(cronIn("", "0 0,61 * * * ?"), time.Time{}); err == nil {
		t.Error("Herald accepts minute 61 in a list")
	}
}
