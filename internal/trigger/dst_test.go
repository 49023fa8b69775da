package trigger

import (
	"testing"
	"time"
)

// New York in 2026: clocks spring forward on March 8 (02:00 EST becomes
// 03:00 EDT) and fall back on November 1 (02:00 EDT becomes 01:00 EST, so
// 01:00-01:59 happens twice).
func TestDaylightSaving(t *testing.T) {
	const ny = "America/New_York"
	tests := []struct {
		name       string
		zone, cron string
		from       string
		want       []string
	}{
		// A skipped wall-clock time fires once, shifted forward by the gap.
		{
			"skipped 02:30 fires at 03:30", ny, "30 2 * * *", "2026-03-07T00:00:00-05:00",
			[]string{"2026-03-07T02:30:00-05:00", "2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
		},
		{
			"shifted 02:30 is found from after the gap", ny, "30 2 * * *", "2026-03-08T03:10:00-04:00",
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"},
		},
		{
			"every skipped time is shifted", ny, "*/15 2 * * *", "2026-03-08T01:00:00-05:00",
			[]string{"2026-03-08T03:00:00-04:00", "2026-03-08T03:15:00-04:00", "2026-03-08T03:30:00-04:00", "2026-03-08T03:45:00-04:00", "2026-03-09T02:00:00-04:00"},
		},
		{
			"shifted and real 03:30 fire once", ny, "30 2,3 * * *", "2026-03-08T00:00:00-05:00",
			[]string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-09T03:30:00-04:00"},
		},
		{
			"02:30 on fall-back day happens once", ny, "30 2 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"},
		},
		// A repeated wall-clock time fires once, at its first occurrence.
		{
			"repeated 01:30 fires in the first pass", ny, "30 1 * * *", "2026-10-31T12:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"},
		},
		{
			"repeated 01:30 does not fire in the second pass", ny, "30 1 * * *", "2026-11-01T01:10:00-05:00",
			[]string{"2026-11-02T01:30:00-05:00"},
		},
		{
			"a restricted hour fires in the first pass only", ny, "*/20 1 * * *", "2026-11-01T00:00:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:20:00-04:00", "2026-11-01T01:40:00-04:00", "2026-11-02T01:00:00-05:00"},
		},
		// An expression covering every hour follows elapsed time.
		{
			"every 5 minutes over spring-forward", ny, "*/5 * * * *", "2026-03-08T01:50:00-05:00",
			[]string{"2026-03-08T01:55:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:05:00-04:00"},
		},
		{
			"every 5 minutes over fall-back", ny, "*/5 * * * *", "2026-11-01T00:50:00-04:00",
			[]string{
				"2026-11-01T00:55:00-04:00",
				"2026-11-01T01:00:00-04:00", "2026-11-01T01:05:00-04:00", "2026-11-01T01:10:00-04:00", "2026-11-01T01:15:00-04:00",
				"2026-11-01T01:20:00-04:00", "2026-11-01T01:25:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:35:00-04:00",
				"2026-11-01T01:40:00-04:00", "2026-11-01T01:45:00-04:00", "2026-11-01T01:50:00-04:00", "2026-11-01T01:55:00-04:00",
				"2026-11-01T01:00:00-05:00", "2026-11-01T01:05:00-05:00", "2026-11-01T01:10:00-05:00", "2026-11-01T01:15:00-05:00",
				"2026-11-01T01:20:00-05:00", "2026-11-01T01:25:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T01:35:00-05:00",
				"2026-11-01T01:40:00-05:00", "2026-11-01T01:45:00-05:00", "2026-11-01T01:50:00-05:00", "2026-11-01T01:55:00-05:00",
				"2026-11-01T02:00:00-05:00",
			},
		},
		{
			"every 5 minutes from inside the second pass", ny, "*/5 * * * *", "2026-11-01T01:20:00-05:00",
			[]string{"2026-11-01T01:25:00-05:00", "2026-11-01T01:30:00-05:00"},
		},
		{
			"every 5 minutes from the end of the first pass", ny, "*/5 * * * *", "2026-11-01T01:57:00-04:00",
			[]string{"2026-11-01T01:00:00-05:00"},
		},
		{
			"hourly skips 02:00 on spring-forward", ny, "0 * * * *", "2026-03-08T00:00:00-05:00",
			[]string{"2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"},
		},
		{
			"hourly fires at both 01:00 on fall-back", ny, "0 * * * *", "2026-11-01T00:00:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"},
		},
		{
			"half past every hour on spring-forward", ny, "30 * * * *", "2026-03-08T01:00:00-05:00",
			[]string{"2026-03-08T01:30:00-05:00", "2026-03-08T03:30:00-04:00"},
		},
		{
			"half past every hour on fall-back", ny, "30 * * * *", "2026-11-01T01:00:00-04:00",
			[]string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"},
		},
		{
			"@hourly covers every hour", ny, "@hourly", "2026-11-01T00:30:00-04:00",
			[]string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00"},
		},
		// Europe/Berlin: 2026-03-29 02:00 becomes 03:00, 2026-10-25 03:00 becomes 02:00.
		{
			"Berlin spring-forward", "Europe/Berlin", "30 2 * * *", "2026-03-28T12:00:00+01:00",
			[]string{"2026-03-29T03:30:00+02:00", "2026-03-30T02:30:00+02:00"},
		},
		{
			"Berlin fall-back", "Europe/Berlin", "30 2 * * *", "2026-10-24T12:00:00+02:00",
			[]string{"2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"},
		},
		// Lord Howe Island moves its clocks by 30 minutes: 2026-04-05
		// 02:00 becomes 01:30, 2026-10-04 02:00 becomes 02:30.
		{
			"half-hour gap", "Australia/Lord_Howe", "15 2 * * *", "2026-10-03T12:00:00+10:30",
			[]string{"2026-10-04T02:45:00+11:00", "2026-10-05T02:15:00+11:00"},
		},
		{
			"half-hour gap, every 15 minutes", "Australia/Lord_Howe", "*/15 * * * *", "2026-10-04T01:40:00+10:30",
			[]string{"2026-10-04T01:45:00+10:30", "2026-10-04T02:30:00+11:00"},
		},
		{
			"half-hour gap, hourly", "Australia/Lord_Howe", "0 * * * *", "2026-10-04T00:30:00+10:30",
			[]string{"2026-10-04T01:00:00+10:30", "2026-10-04T03:00:00+11:00"},
		},
		{
			"half-hour repeat", "Australia/Lord_Howe", "45 1 * * *", "2026-04-04T12:00:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30"},
		},
		{
			"half-hour repeat, every 15 minutes", "Australia/Lord_Howe", "*/15 * * * *", "2026-04-05T01:40:00+11:00",
			[]string{"2026-04-05T01:45:00+11:00", "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30"},
		},
		// Zones far in the future follow their rules: New York in 2040.
		{
			"New York 2040", ny, "30 2 * * *", "2040-03-10T12:00:00-04:00",
			[]string{"2040-03-11T03:30:00-04:00", "2040-03-12T02:30:00-04:00"},
		},
		{
			"New Year's Eve of a leap year", ny, "0 12 L * *", "2040-11-30T12:00:00-05:00",
			[]string{"2040-12-31T12:00:00-05:00", "2041-01-31T12:00:00-05:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFires(t, mustCompile(t, cronIn(tt.zone, tt.cron)), tt.from, tt.want...)
		})
	}
}

// TestOncePerDay checks that a daily job fires exactly once on every local
// day of 2026, the days of the clock changes included.
func TestOncePerDay(t *testing.T) {
	for _, zone := range []string{"America/New_York", "Europe/Berlin", "Australia/Lord_Howe"} {
		for _, cron := range []string{"30 2 * * *", "30 1 * * *", "0 0 * * *", "59 23 * * *"} {
			tr := mustCompile(t, cronIn(zone, cron))
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, tr.Location()).Add(-time.Nanosecond)
			perDay := map[string]int{}
			for _, f := range fires(tr, from, 366) {
				if f.In(tr.Location()).Year() == 2026 {
					perDay[f.In(tr.Location()).Format(time.DateOnly)]++
				}
			}
			if len(perDay) != 365 {
				t.Errorf("%s %q: fires on %d days of 2026, want 365", zone, cron, len(perDay))
			}
			for day, n := range perDay {
				if n != 1 {
					t.Errorf("%s %q: fires %d times on %s", zone, cron, n, day)
				}
			}
		}
	}
}
