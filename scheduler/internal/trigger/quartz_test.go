package trigger

import (
	"cmp"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// TestQuartzBehaviour records what go-quartz's CronTrigger does by itself,
// in the zone, in the cases where Herald's semantics are fixed, and where
// this package corrects it. Each case also checks Herald's first answer for
// the same expression. Should an upgrade of go-quartz
// change one of these answers, the test says so; the corrections here may
// then be simplified.
func TestQuartzBehaviour(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		expr   string
		loc    *time.Location
		from   string
		quartz []string // go-quartz's fire times; "expired" for ErrTriggerExpired
		herald string   // Herald's first fire time; "" for none, "refused" for an error
	}{
		{
			"skipped 02:30 fires an hour early, at 01:30", "0 30 2 * * ?", ny, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T01:30:00-05:00", "2026-03-09T02:30:00-04:00"},
			"2026-03-08T03:30:00-04:00",
		},
		{
			"skipped 02:30 is lost when searched from after the gap", "0 30 2 * * ?", ny, "2026-03-08T03:10:00-04:00",
			[]string{"2026-03-09T02:30:00-04:00"},
			"2026-03-08T03:30:00-04:00",
		},
		{
			"two skipped times expire the trigger", "0 0,30 2 * * ?", ny, "2026-03-07T12:00:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00", "expired"},
			"2026-03-08T03:00:00-04:00",
		},
		{
			"every 5 minutes expires at spring-forward", "0 */5 * * * ?", ny, "2026-03-08T01:50:00-05:00",
			[]string{"2026-03-08T01:55:00-05:00", "expired"},
			"2026-03-08T01:55:00-05:00", // then 03:00 EDT
		},
		{
			"hourly over spring-forward agrees", "0 0 * * * ?", ny, "2026-03-08T00:30:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"},
			"2026-03-08T01:00:00-05:00",
		},
		{
			"repeated 01:30 fires in the first pass: agrees", "0 30 1 * * ?", ny, "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
			"2026-11-01T01:30:00-04:00",
		},
		{
			"every 5 minutes skips the second pass", "0 */5 * * * ?", ny, "2026-11-01T01:50:00-04:00",
			[]string{"2026-11-01T01:55:00-04:00", "2026-11-01T02:00:00-05:00"},
			"2026-11-01T01:55:00-04:00", // then 01:00 EST
		},
		{
			"every 5 minutes expires inside the second pass", "0 */5 * * * ?", ny, "2026-11-01T01:20:00-05:00",
			[]string{"expired"},
			"2026-11-01T01:25:00-05:00",
		},
		{
			"hourly skips the second 01:00", "0 0 * * * ?", ny, "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T02:00:00-05:00"},
			"2026-11-01T01:00:00-04:00", // then 01:00 EST
		},
		{
			"a day past the month's end runs into the next month", "0 0 0 1,30 2,3 ?", time.UTC, "2026-02-02T00:00:00Z",
			[]string{"2026-03-02T00:00:00Z", "2026-03-30T00:00:00Z"},
			"2026-03-01T00:00:00Z",
		},
		{
			"April 31 becomes May 1", "0 0 0 31 4,6 ?", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-05-01T00:00:00Z"},
			"", // never
		},
		{
			"February 29 of a common year becomes March 1", "0 0 0 29 2 ?", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-03-01T00:00:00Z"},
			"2028-02-29T00:00:00Z",
		},
		{
			"a value out of range in a list is accepted", "0 0,61 * * * ?", time.UTC, "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T01:01:00Z"},
			"refused", // minute 61
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
				got := "expired"
				if err == nil {
					got = time.Unix(0, next).In(tt.loc).Format(time.RFC3339)
				} else if !errors.Is(err, quartz.ErrTriggerExpired) {
					t.Fatalf("fire %d: %v", i, err)
				}
				if got != want {
					t.Errorf("go-quartz fire %d: %s, want %s", i, got, want)
				}
				if err != nil {
					break
				}
				prev = next
			}

			tr, err := Compile(cronIn(tt.loc.String(), tt.expr), time.Time{})
			if tt.herald == "refused" {
				if err == nil {
					t.Errorf("Herald compiles %q, want an error", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := "none"
			if next, ok := tr.Next(at(t, tt.from)); ok {
				got = next.In(tt.loc).Format(time.RFC3339)
			}
			if want := cmp.Or(tt.herald, "none"); got != want {
				t.Errorf("Herald's first fire: %s, want %s", got, want)
			}
		})
	}
}

// TestQuartzRefuses records the go-quartz checks that the translation works
// around.
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
}
