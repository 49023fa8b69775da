package api_test

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/store"
)

// summaryOf reads GET /v1/summary with query as token.
func (f *fixture) summaryOf(token, query string) *api.Summary {
	f.t.Helper()
	var s api.Summary
	f.do("GET", "/v1/summary"+query, token, nil).want(f.t, 200).decode(f.t, &s)
	return &s
}

// wantCounts checks a summary's counts: every status in order, those of
// want as given, the others zero.
func wantCounts(t *testing.T, what string, s *api.Summary, want map[string]api.StatusCount) {
	t.Helper()
	var order []string
	for _, c := range s.Statuses {
		order = append(order, c.Status)
		w := want[c.Status]
		w.Status = c.Status
		if c != w {
			t.Errorf("%s: %+v, want %+v", what, c, w)
		}
	}
	if all := []string{"queued", "running", "succeeded", "failed", "timed_out", "cancelled", "skipped"}; !slices.Equal(order, all) {
		t.Errorf("%s: statuses %v, want %v", what, order, all)
	}
}

// finished sums a summary's finished runs.
func finished(s *api.Summary) (n int64) {
	for _, h := range s.Finished {
		n += h.Finished
	}
	return n
}

func TestSummary(t *testing.T) {
	f := newFixture(t)
	now := f.h.Clock.Now()
	half := f.createSchedule(aliceToken, map[string]any{"name": "half-hourly", "agent": "echo", "cron": "*/30 * * * *"})
	f.createSchedule(aliceToken, map[string]any{"name": "paused", "agent": "echo", "cron": "*/5 * * * *", "paused": true})
	quarter := f.createSchedule(bobToken, map[string]any{"name": "quarter-past", "agent": "echo", "cron": "15 * * * *", "timezone": "Asia/Kolkata"})
	// Alice's two runs end; bob's waits an hour.
	var ids []string
	for range 2 {
		var acc api.RunAccepted
		f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "echo"}).want(t, 202).decode(t, &acc)
		ids = append(ids, acc.RunID)
	}
	for _, id := range ids {
		f.h.WaitFinished(id, store.RunSucceeded)
	}
	runAt := now.Add(time.Hour).UTC()
	f.do("POST", "/v1/runs", bobToken, map[string]any{"agent": "echo", "run_at": runAt.Format(time.RFC3339Nano)}).want(t, 202)

	alice := f.summaryOf(aliceToken, "")
	wantCounts(t, "alice's", alice, map[string]api.StatusCount{"succeeded": {Since: 2, LastHour: 2}})
	if want := []api.AgentCount{{Agent: "echo", Ended: 2}}; !slices.Equal(alice.Agents, want) {
		t.Errorf("alice's agents %+v, want %+v", alice.Agents, want)
	}
	if len(alice.Finished) != 24 || alice.Finished[23].Finished != 2 || finished(alice) != 2 {
		t.Errorf("alice's finished %+v, want 2 in the last of 24 hours", alice.Finished)
	}
	if last := alice.Finished[23].From; !last.Equal(now.Truncate(time.Hour)) {
		t.Errorf("the last hour starts at %v, want %v", last, now.Truncate(time.Hour))
	}
	if !alice.Since.Equal(now.Add(-24*time.Hour)) || !alice.Now.Equal(now) {
		t.Errorf("alice's window %v to %v, want the last day to %v", alice.Since, alice.Now, now)
	}
	if alice.Queue.Queued != 0 || alice.Queue.OldestRunAt != nil {
		t.Errorf("alice's queue %+v, want empty", alice.Queue)
	}
	// Alice's one active schedule gives all ten fire times, 30 minutes apart.
	if len(alice.NextFires) != 10 {
		t.Fatalf("alice's next fires %+v, want 10", alice.NextFires)
	}
	for i, fire := range alice.NextFires {
		if fire.ScheduleID != half.ID || fire.Name != "half-hourly" || fire.Agent != "echo" {
			t.Errorf("alice's fire %d is %+v, want of half-hourly", i, fire)
		}
		if i < len(half.NextFireTimes) && !fire.At.Equal(half.NextFireTimes[i]) {
			t.Errorf("alice's fire %d at %v, want %v", i, fire.At, half.NextFireTimes[i])
		}
		if i > 0 && fire.At.Sub(alice.NextFires[i-1].At) != 30*time.Minute {
			t.Errorf("alice's fires %v and %v are not 30 minutes apart", alice.NextFires[i-1].At, fire.At)
		}
	}

	bob := f.summaryOf(bobToken, "")
	wantCounts(t, "bob's", bob, map[string]api.StatusCount{"queued": {Since: 1, LastHour: 1}})
	if len(bob.Agents) != 0 || finished(bob) != 0 {
		t.Errorf("bob's agents %+v and finished %d, want none", bob.Agents, finished(bob))
	}
	if bob.Queue.Queued != 1 || bob.Queue.OldestRunAt == nil || !bob.Queue.OldestRunAt.Equal(runAt) {
		t.Errorf("bob's queue %+v, want 1 run at %v", bob.Queue, runAt)
	}
	for _, fire := range bob.NextFires {
		if fire.ScheduleID != quarter.ID {
			t.Errorf("bob's next fires hold %+v", fire)
		}
	}
	if len(bob.NextFires) != 10 || bob.NextFires[0].At.Format("-07:00") != "+05:30" {
		t.Errorf("bob's next fires %+v, want 10 in his schedule's zone", bob.NextFires)
	}

	// The admin sees everyone's, or one owner's.
	all := f.summaryOf(opsToken, "")
	wantCounts(t, "everyone's", all, map[string]api.StatusCount{"succeeded": {Since: 2, LastHour: 2}, "queued": {Since: 1, LastHour: 1}})
	var merged []time.Time
	merged = append(append(merged, half.NextFireTimes...), quarter.NextFireTimes...)
	slices.SortFunc(merged, time.Time.Compare)
	if len(all.NextFires) != 10 {
		t.Fatalf("everyone's next fires %+v, want 10", all.NextFires)
	}
	for i, fire := range all.NextFires[:5] {
		if !fire.At.Equal(merged[i]) {
			t.Errorf("everyone's fire %d at %v, want %v", i, fire.At, merged[i])
		}
	}
	if !slices.IsSortedFunc(all.NextFires, func(a, b api.Fire) int { return a.At.Compare(b.At) }) {
		t.Errorf("everyone's next fires are not in order: %+v", all.NextFires)
	}
	byOwner := f.summaryOf(opsToken, "?owner=bob")
	wantCounts(t, "bob's, as the admin reads them", byOwner, map[string]api.StatusCount{"queued": {Since: 1, LastHour: 1}})
	if f.summaryOf(aliceToken, "?owner=alice").Statuses[2].Since != 2 {
		t.Errorf("alice naming herself does not see her runs")
	}

	// A window that starts after the runs holds none of them; the queue,
	// the hours and the fires are not of the window.
	f.h.Advance(time.Minute)
	later := f.summaryOf(opsToken, "?since="+url.QueryEscape(now.Add(time.Millisecond).Format(time.RFC3339Nano)))
	wantCounts(t, "a later window", later, nil)
	if later.Queue.Queued != 1 || len(later.NextFires) != 10 || finished(later) != 2 {
		t.Errorf("a later window: queue %+v, %d fires, %d finished; want them as before", later.Queue, len(later.NextFires), finished(later))
	}

	f.do("GET", "/v1/summary?owner=bob", aliceToken, nil).want(t, 403).problem(t)
	for _, q := range []string{
		"?since=yesterday",
		"?since=" + url.QueryEscape(now.Add(-8*24*time.Hour).Format(time.RFC3339)),
		"?since=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339)),
		"?limit=5",
	} {
		f.do("GET", "/v1/summary"+q, opsToken, nil).want(t, 400).problem(t)
	}
}
