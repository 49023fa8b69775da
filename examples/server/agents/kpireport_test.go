package agents_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// reportNow is when the reports of the tests are made: the 7-day window is
// [2026-03-02T00:00Z, 2026-03-09T00:00Z).
var reportNow = time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)

// day returns the instant of March 2026 at day d, h:m UTC.
func day(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }

// history is a memstore holding known runs, made with a fake clock.
type history struct {
	t     *testing.T
	st    *memstore.Store
	clock *clocktest.Clock
	// names maps each schedule ID to a placeholder for the golden file.
	names map[string]string
	// self is a running kpi_report run, which the report must leave out.
	self string
}

// newHistory fills a memstore with the runs the golden files describe.
func newHistory(t *testing.T) *history {
	t.Helper()
	clock := clocktest.New(day(1, 0, 0))
	h := &history{t: t, st: memstore.New(memstore.Options{Clock: clock}), clock: clock, names: map[string]string{}}
	t.Cleanup(func() { h.st.Close() })

	backup := h.schedule("ops", "nightly_backup", "backup")
	h.finish(time.Date(2026, 2, 28, 2, 0, 0, 0, time.UTC), h.manual(backup), time.Second, store.RunSucceeded, "") // before the window
	h.finish(day(2, 0, 0), h.manual(backup), 1*time.Second, store.RunSucceeded, "")                               // its first instant
	h.finish(day(3, 2, 0), h.manual(backup), 2*time.Second, store.RunSucceeded, "")
	h.finish(day(4, 2, 0), h.manual(backup), 3*time.Second, store.RunSucceeded, "")
	h.finish(day(5, 2, 0), h.manual(backup), 4*time.Second, store.RunSucceeded, "")
	h.finish(day(6, 2, 0), h.manual(backup), 5*time.Second, store.RunSucceeded, "")
	h.finish(day(7, 2, 0), h.manual(backup), 10*time.Second, store.RunFailed, "  disk full: /var/backups\ngoroutine 1 [running]:\nmain.main()")
	h.finish(day(8, 2, 0), h.manual(backup), 30*time.Second, store.RunTimedOut, "timed out after 30s")

	digest := h.schedule("ops", "weekly_digest", "digest")
	h.finish(day(2, 6, 0), h.manual(digest), 90*time.Second, store.RunSucceeded, "")
	h.finish(day(4, 6, 0), h.manual(digest), 5*time.Second, store.RunFailed, "smtp: 421 try again later")
	h.cancelled(day(5, 6, 0), h.manual(digest))
	h.finish(day(6, 6, 0), h.manual(digest), 4*time.Second, store.RunFailed, "smtp: 421 try again later")

	crm := h.schedule("alice", "sync_crm", "crm")
	h.finish(day(3, 9, 0), h.manual(crm), 250*time.Millisecond, store.RunSucceeded, "")
	h.finish(day(4, 9, 0), h.manual(crm), 750*time.Millisecond, store.RunSucceeded, "")
	h.finish(day(5, 9, 0), h.manual(crm), 1500*time.Millisecond, store.RunFailed, "crm: "+strings.Repeat("very long error ", 10))
	h.finish(reportNow, h.manual(crm), time.Second, store.RunSucceeded, "") // the window's end: left out

	old := h.schedule("ops", "old_job", "cleanup")
	h.finish(day(3, 12, 0), h.manual(old), 2*time.Second, store.RunSucceeded, "")
	h.clock.Set(day(3, 13, 0))
	if err := h.st.ScheduleDelete(t.Context(), old.ID); err != nil {
		t.Fatal(err)
	}

	aliceEcho := store.RunEnqueueParams{Owner: "alice", Agent: "echo"}
	h.finish(day(6, 10, 0), aliceEcho, 100*time.Millisecond, store.RunSucceeded, "")
	h.finish(day(7, 10, 0), aliceEcho, 200*time.Millisecond, store.RunFailed, "it broke")
	h.finish(day(8, 8, 0), store.RunEnqueueParams{Owner: "ops", Agent: "echo"}, 300*time.Millisecond, store.RunSucceeded, "")

	h.claim(day(8, 11, 0), aliceEcho) // stays running
	h.self = h.claim(day(8, 23, 59), store.RunEnqueueParams{Owner: "ops", Agent: "kpi_report"}).ID
	// The run left in the queue comes last, since claim takes the oldest
	// due run.
	h.enqueue(day(8, 23, 0), h.manual(digest))
	if r := h.enqueue(day(8, 23, 30), store.RunEnqueueParams{ScheduleID: digest.ID, ScheduledFor: day(8, 23, 30),
		Owner: "ops", Agent: "digest"}); r.Status != store.RunSkipped {
		t.Fatalf("a tick behind a queued run is %s, want skipped", r.Status)
	}
	return h
}

// schedule creates a schedule.
func (h *history) schedule(owner, name, agentName string) *store.Schedule {
	h.t.Helper()
	s, err := h.st.ScheduleCreate(h.t.Context(), &store.Schedule{Owner: owner, Name: name, Agent: agentName,
		Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: 24 * time.Hour}})
	if err != nil {
		h.t.Fatal(err)
	}
	h.names[s.ID] = "<id of " + name + ">"
	return s
}

// manual returns the enqueue params of a "run now" of s.
func (h *history) manual(s *store.Schedule) store.RunEnqueueParams {
	return store.RunEnqueueParams{ScheduleID: s.ID, Owner: s.Owner, Agent: s.Agent}
}

// enqueue enqueues p at the instant at.
func (h *history) enqueue(at time.Time, p store.RunEnqueueParams) *store.Run {
	h.t.Helper()
	h.clock.Set(at)
	res, err := h.st.RunEnqueue(h.t.Context(), &p)
	if err != nil {
		h.t.Fatal(err)
	}
	return res[0].Run
}

// claim enqueues p at the instant at and starts it.
func (h *history) claim(at time.Time, p store.RunEnqueueParams) *store.Run {
	h.t.Helper()
	r := h.enqueue(at, p)
	claimed, err := h.st.RunClaim(h.t.Context(), &store.RunClaimParams{Node: "n1", Limit: 1, Lease: time.Hour})
	if err != nil || len(claimed) != 1 || claimed[0].ID != r.ID {
		h.t.Fatalf("claim the run of %v: %v, %v", at, claimed, err)
	}
	return r
}

// finish enqueues p at the instant at, starts it at once and ends it after
// d with status and errText.
func (h *history) finish(at time.Time, p store.RunEnqueueParams, d time.Duration, status store.RunStatus, errText string) {
	h.t.Helper()
	r := h.claim(at, p)
	h.clock.Advance(d)
	if _, err := h.st.RunFinish(h.t.Context(), &store.RunFinishParams{ID: r.ID, Node: "n1", Status: status, Error: errText}); err != nil {
		h.t.Fatal(err)
	}
}

// cancelled enqueues p at the instant at and cancels it while queued.
func (h *history) cancelled(at time.Time, p store.RunEnqueueParams) {
	h.t.Helper()
	r := h.enqueue(at, p)
	if _, err := h.st.RunCancel(h.t.Context(), &store.RunCancelParams{ID: r.ID, Reason: "not today"}); err != nil {
		h.t.Fatal(err)
	}
}

// report runs a kpi_report on st for owner with payload.
func report(t *testing.T, st agents.KPIStore, task *agent.Task) (*agent.Result, *agents.KPIReportOutput, error) {
	t.Helper()
	k, err := agents.NewKPIReport(agents.KPIReportConfig{Store: st, Clock: clocktest.New(reportNow),
		SystemOwners: []string{"system"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := k.Run(t.Context(), task)
	if err != nil {
		return nil, nil, err
	}
	var out agents.KPIReportOutput
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatalf("decode output %s: %v", res.Output, err)
	}
	return res, &out, nil
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update if the change is meant):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// group returns the group of out named name.
func group(t *testing.T, out *agents.KPIReportOutput, name, agentName string) agents.KPIGroup {
	t.Helper()
	for _, g := range out.Schedules {
		if g.Name == name && g.Agent == agentName {
			return g
		}
	}
	t.Fatalf("no group %s of agent %s in %+v", name, agentName, out.Schedules)
	return agents.KPIGroup{}
}

func TestKPIReport(t *testing.T) {
	h := newHistory(t)
	task := &agent.Task{RunID: h.self, Owner: "system", Agent: "kpi_report"}
	res, out, err := report(t, h.st, task)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}

	// The figures the golden files show, worked out by hand.
	if out.Total.Runs != 21 || out.Total.Finished != 17 || out.Total.ByStatus.Succeeded != 11 ||
		out.Total.ByStatus.Running != 1 || out.Total.Failures != 6 {
		t.Errorf("Total = %+v, want 21 runs, 17 finished, 11 succeeded, 1 running (not the report's own), 6 failures", out.Total)
	}
	if r := out.Total.SuccessRate; r == nil || *r != 0.6471 {
		t.Errorf("total success rate = %v, want 0.6471 (11 of 17)", r)
	}
	if p := out.Total.P50MS; p == nil || *p != 2000 {
		t.Errorf("total p50 = %v, want 2000 (the 9th of 17 durations)", p)
	}
	backup := group(t, out, "nightly_backup", "backup")
	if backup.Runs != 7 || backup.P50MS == nil || *backup.P50MS != 4000 || *backup.P95MS != 30000 ||
		*backup.SuccessRate != 0.7143 {
		t.Errorf("nightly_backup = %+v, want 7 runs, p50 4s, p95 30s, success 0.7143", backup)
	}
	digest := group(t, out, "weekly_digest", "digest")
	if digest.Runs != 6 || digest.Finished != 3 || *digest.P95MS != 90000 || len(digest.TopFailures) != 1 ||
		digest.TopFailures[0] != (agents.FailureReason{Reason: "smtp: 421 try again later", Count: 2}) {
		t.Errorf("weekly_digest = %+v, want 6 runs, 3 finished, p95 90s, 2 smtp failures", digest)
	}
	if g := group(t, out, "(deleted schedule)", "cleanup"); g.Runs != 1 || g.Owner != "ops" {
		t.Errorf("the deleted schedule = %+v, want its one run", g)
	}
	if !out.From.Equal(day(2, 0, 0)) || !out.To.Equal(reportNow) {
		t.Errorf("window = [%v, %v), want the 7 days before %v", out.From, out.To, reportNow)
	}

	data := res.Output
	for id, name := range h.names {
		data = bytes.ReplaceAll(data, []byte(id), []byte(name))
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	golden(t, "kpi_report.json", indented.Bytes())
	golden(t, "kpi_report.txt", []byte(res.Summary+"\n"))
}

func TestKPIReportOwner(t *testing.T) {
	h := newHistory(t)
	for name, task := range map[string]*agent.Task{
		"own runs":         {Owner: "alice"},
		"own runs by name": {Owner: "alice", Payload: json.RawMessage(`{"owner":"alice"}`)},
		"system, filtered": {Owner: "system", Payload: json.RawMessage(`{"owner":"alice"}`)},
	} {
		t.Run(name, func(t *testing.T) {
			_, out, err := report(t, h.st, task)
			if err != nil {
				t.Fatalf("Run = %v", err)
			}
			if out.Owner != "alice" || out.Total.Runs != 6 {
				t.Errorf("report of %s = owner %q, %d runs; want alice's 6 runs", task.Owner, out.Owner, out.Total.Runs)
			}
			for _, g := range out.Schedules {
				if g.Owner != "alice" {
					t.Errorf("group %+v of another owner", g)
				}
			}
		})
	}
	_, _, err := report(t, h.st, &agent.Task{Owner: "alice", Payload: json.RawMessage(`{"owner":"ops"}`)})
	if !agent.IsPermanent(err) || err == nil || !strings.Contains(err.Error(), `"owner"`) {
		t.Errorf("alice's report on ops = %v, want a no-retry error naming the field", err)
	}
	_, _, err = report(t, h.st, &agent.Task{})
	if !agent.IsPermanent(err) {
		t.Errorf("report of no owner = %v, want a no-retry error", err)
	}
}

func TestKPIReportWindow(t *testing.T) {
	h := newHistory(t)
	for payload, want := range map[string]int{
		``:                   21,
		`{}`:                 21,
		`null`:               21,
		`{"days":1}`:         5,  // of 03-08: backup, two echoes, the queued and the skipped digest
		`{"window":"1h"}`:    2,  // 23:00 and 23:30 of 03-08
		`{"days":366}`:       22, // and the backup of 02-28
		`{"window":"8784h"}`: 22,
	} {
		_, out, err := report(t, h.st, &agent.Task{Owner: "system", RunID: h.self, Payload: json.RawMessage(payload)})
		if err != nil {
			t.Errorf("Run(%s) = %v", payload, err)
			continue
		}
		if out.Total.Runs != want {
			t.Errorf("Run(%s) counted %d runs, want %d", payload, out.Total.Runs, want)
		}
	}
	for payload, field := range map[string]string{
		`{"days":0}`:                 `"days" must be a whole number of days from 1 to 366, not 0`,
		`{"days":1.5}`:               `"days" must be a whole number`,
		`{"days":367}`:               `"days" must be`,
		`{"days":"7"}`:               `"days" must be a whole number`,
		`{"window":"soon"}`:          `"window" must be a positive duration`,
		`{"window":"-1h"}`:           `"window" must be`,
		`{"window":"8785h"}`:         `"window" must be`,
		`{"window":7}`:               `"window" must be`,
		`{"days":7,"window":"168h"}`: `"days" and "window" exclude each other`,
		`{"dayz":7}`:                 `unknown field "dayz"`,
		`[7]`:                        `payload must be empty or an object`,
		`{"owner":""}`:               `"owner" must be an owner's name, not empty`,
	} {
		_, _, err := report(t, h.st, &agent.Task{Owner: "system", Payload: json.RawMessage(payload)})
		if !agent.IsPermanent(err) || !strings.Contains(err.Error(), field) {
			t.Errorf("Run(%s) = %v, want a no-retry error containing %s", payload, err, field)
		}
	}
}

// pagingStore serves RunList in pages of 5 and counts them.
type pagingStore struct {
	agents.KPIStore
	mu    sync.Mutex
	pages int
	gets  int
}

func (s *pagingStore) RunList(ctx context.Context, p *store.RunListParams) (*store.RunPage, error) {
	s.mu.Lock()
	s.pages++
	s.mu.Unlock()
	q := *p
	q.Limit = 5
	return s.KPIStore.RunList(ctx, &q)
}

func (s *pagingStore) ScheduleGet(ctx context.Context, id string) (*store.Schedule, error) {
	s.mu.Lock()
	s.gets++
	s.mu.Unlock()
	return s.KPIStore.ScheduleGet(ctx, id)
}

func TestKPIReportPages(t *testing.T) {
	h := newHistory(t)
	var counters []map[string]int64
	progress := agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
		counters = append(counters, c)
		return nil
	})
	want, _, err := report(t, h.st, &agent.Task{Owner: "system", RunID: h.self})
	if err != nil {
		t.Fatal(err)
	}
	ps := &pagingStore{KPIStore: h.st}
	got, _, err := report(t, ps, &agent.Task{Owner: "system", RunID: h.self, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Output, want.Output) || got.Summary != want.Summary {
		t.Errorf("paged report differs:\n got %s\nwant %s", got.Output, want.Output)
	}
	// 22 rows (with the report's own run) in pages of 5; 5 schedules, each looked up once.
	if ps.pages != 5 || ps.gets != 4 {
		t.Errorf("read %d pages and got %d schedules, want 5 pages and 4 schedules", ps.pages, ps.gets)
	}
	if len(counters) != 5 || counters[4]["runs_read"] != 22 {
		t.Errorf("progress = %v, want 5 reports ending at runs_read 22", counters)
	}

	failing := agent.ReporterFunc(func(context.Context, map[string]int64) error { return errors.New("lease lost") })
	if _, _, err := report(t, h.st, &agent.Task{Owner: "system", Progress: failing}); err == nil || agent.IsPermanent(err) {
		t.Errorf("Run with a failing reporter = %v, want a retryable error", err)
	}
}

// blockingStore's RunList waits for its context to end.
type blockingStore struct{ agents.KPIStore }

func (blockingStore) RunList(ctx context.Context, _ *store.RunListParams) (*store.RunPage, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// failingStore's RunList fails.
type failingStore struct{ agents.KPIStore }

func (failingStore) RunList(context.Context, *store.RunListParams) (*store.RunPage, error) {
	return nil, store.ErrUnavailable
}

func TestKPIReportErrors(t *testing.T) {
	h := newHistory(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	k, err := agents.NewKPIReport(agents.KPIReportConfig{Store: blockingStore{h.st}, SystemOwners: []string{"system"}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := k.Run(ctx, &agent.Task{Owner: "system"}); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("Run on a store that hangs = %v after %v, want the context's error within 1s", err, time.Since(start))
	}
	_, _, err = report(t, failingStore{h.st}, &agent.Task{Owner: "system"})
	if !errors.Is(err, store.ErrUnavailable) || agent.IsPermanent(err) {
		t.Errorf("Run on a failing store = %v, want a retryable error matching store.ErrUnavailable", err)
	}
	if _, err := agents.NewKPIReport(agents.KPIReportConfig{}); err == nil {
		t.Error("NewKPIReport without a store succeeded, want an error")
	}
}

func TestKPIReportEmpty(t *testing.T) {
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	res, out, err := report(t, st, &agent.Task{Owner: "alice", Payload: json.RawMessage(`{"window":"36h"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := "KPI report, 2026-03-07 12:00 to 2026-03-09 00:00 UTC (36h0m0s), owner alice\nTotal: no runs"
	if res.Summary != want || out.Total.SuccessRate != nil || out.Total.P50MS != nil || len(out.Schedules) != 0 {
		t.Errorf("empty report = %q, %s; want %q with null figures", res.Summary, res.Output, want)
	}
}

func TestKPIReportConformance(t *testing.T) {
	// kpi_report reads a store and returns: no payload keeps it busy for
	// agenttest.Busy, so Cases.Payload is nil and the cancellation cases
	// skip. TestKPIReportErrors checks that a store call in progress is cut
	// off by the context.
	agenttest.Run(t, func(t *testing.T) agent.Agent {
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { st.Close() })
		k, err := agents.NewKPIReport(agents.KPIReportConfig{Store: st})
		if err != nil {
			t.Fatal(err)
		}
		return k
	}, agenttest.Cases{
		OK: json.RawMessage(`{"days":7}`),
		Failures: []agenttest.Failure{
			{Name: "bad days", Payload: json.RawMessage(`{"days":0}`), Permanent: true},
			{Name: "bad window", Payload: json.RawMessage(`{"window":"soon"}`), Permanent: true},
			{Name: "another owner", Payload: json.RawMessage(`{"owner":"root"}`), Permanent: true},
		},
	})
}
