package scheduler

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func TestMessageText(t *testing.T) {
	start := time.Date(2026, 12, 1, 9, 0, 1, 0, time.UTC)
	for _, tc := range []struct {
		name string
		run  store.Run
		want string
	}{
		{name: "succeeded", run: store.Run{Status: store.RunSucceeded, Summary: "3 rows"}, want: "3 rows"},
		{name: "failed tick", run: store.Run{ID: "r1", Agent: "backup", Owner: "ops", Status: store.RunFailed, Attempt: 3, MaxAttempts: 3,
			Error: "disk full", Kind: store.RunKindSchedule, ScheduleID: "s1", ScheduledFor: start.Add(-time.Second),
			StartedAt: start, FinishedAt: start.Add(1500 * time.Millisecond)},
			want: "Run r1 of agent backup ended failed after 3 of 3 attempt(s).\n" +
				"Error: disk full\nOwner: ops\nSchedule: s1, tick 2026-12-01T09:00:00Z\n" +
				"Started 2026-12-01T09:00:01Z, finished 2026-12-01T09:00:02Z (1.5s)."},
		{name: "timed out, manual", run: store.Run{ID: "r2", Agent: "report", Owner: "alice", Status: store.RunTimedOut, Attempt: 1, MaxAttempts: 3,
			Error: "attempt timed out after 10m0s", Kind: store.RunKindManual, ScheduleID: "s2", StartedAt: start, FinishedAt: start.Add(10 * time.Minute)},
			want: "Run r2 of agent report ended timed_out after 1 of 3 attempt(s).\n" +
				"Error: attempt timed out after 10m0s\nOwner: alice\nSchedule: s2 (manual)\n" +
				"Started 2026-12-01T09:00:01Z, finished 2026-12-01T09:10:01Z (10m0s)."},
		{name: "cancelled before start", run: store.Run{ID: "r3", Agent: "echo", Owner: "bob", Status: store.RunCancelled, MaxAttempts: 1,
			Kind: store.RunKindEnqueue, FinishedAt: start},
			want: "Run r3 of agent echo ended cancelled after 0 of 1 attempt(s).\nOwner: bob\nTrigger: enqueue\n" +
				"Ended 2026-12-01T09:00:01Z without starting."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := message(&deliveryJob{run: &tc.run, target: store.Target{Channel: "email", To: "admin@example.test"}})
			if m.Text != tc.want {
				t.Errorf("text\n got %q\nwant %q", m.Text, tc.want)
			}
			if m.Subject != tc.run.Agent+": run "+string(tc.run.Status) || m.Error != tc.run.Error {
				t.Errorf("subject %q, error %q", m.Subject, m.Error)
			}
		})
	}
}
