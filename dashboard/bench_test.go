package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/dashboard"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
)

// Sizes of the benchmark's store.
const (
	benchRuns      = 100_000
	benchSchedules = 1_000
	benchDays      = 30 // the runs are spread over this many days
)

// benchDashboard is a dashboard over a store of kind ("memory" or
// "sqlite") of benchSchedules schedules and benchRuns runs (a tenth
// failed, the rest succeeded, a few queued), and the session cookie of an
// admin.
func benchDashboard(b *testing.B, kind string) (*dashboard.Dashboard, *http.Cookie, string, string) {
	b.Helper()
	now := time.Date(2026, 1, 31, 12, 0, 0, 0, time.UTC)
	// The store's clock moves as the runs are written, so that they were
	// created over benchDays days; then it stays at now.
	clk := clocktest.New(now.Add(-benchDays * 24 * time.Hour))
	var st store.Store = memstore.New(memstore.Options{Clock: clk})
	if kind == "sqlite" {
		bst, err := bunstore.Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "bench.db"),
			bunstore.Options{Clock: clk})
		if err != nil {
			b.Fatal(err)
		}
		st = bst
	}
	b.Cleanup(func() { st.Close() })
	ctx := context.Background()
	var schedIDs []string
	var schedules []*store.Schedule
	for i := range benchSchedules {
		s, err := st.ScheduleCreate(ctx, &store.Schedule{Name: fmt.Sprintf("schedule-%04d", i), Owner: fmt.Sprintf("user%d", i%10),
			Agent: fmt.Sprintf("agent%d", i%8), Trigger: store.Trigger{Kind: store.TriggerCron, Cron: fmt.Sprintf("%d %d * * *", i%60, i%24), Timezone: "Europe/Paris"}})
		if err != nil {
			b.Fatal(err)
		}
		schedIDs = append(schedIDs, s.ID)
		schedules = append(schedules, s)
	}
	step := benchDays * 24 * time.Hour / benchRuns
	params := make([]*store.RunEnqueueParams, 0, 100)
	var runID string
	for i := range benchRuns {
		at := now.Add(-time.Duration(benchRuns-i) * step)
		params = append(params, &store.RunEnqueueParams{ScheduleID: schedIDs[i%benchSchedules], ScheduledFor: at,
			Owner: fmt.Sprintf("user%d", (i%benchSchedules)%10), Agent: fmt.Sprintf("agent%d", (i%benchSchedules)%8),
			Payload: []byte(`{"n":1}`), RunAt: at})
		if len(params) == cap(params) || i == benchRuns-1 {
			clk.Set(at)
			res, err := st.RunEnqueue(ctx, params...)
			if err != nil {
				b.Fatal(err)
			}
			runID = res[len(res)-1].Run.ID
			params = params[:0]
		}
	}
	// Every run ends: a tenth failed, the rest succeeded.
	clk.Set(now)
	for {
		claimed, err := st.RunClaim(ctx, &store.RunClaimParams{Node: "bench", Limit: 1000, Lease: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if len(claimed) == 0 {
			break
		}
		var fin []*store.RunFinishParams
		for j, r := range claimed {
			status := store.RunSucceeded
			if j%10 == 0 {
				status = store.RunFailed
			}
			fin = append(fin, &store.RunFinishParams{ID: r.ID, Node: "bench", Status: status, Output: []byte(`{"ok":true}`)})
		}
		if _, err := st.RunFinish(ctx, fin...); err != nil {
			b.Fatal(err)
		}
	}
	sched, err := scheduler.New(st, scheduler.Config{})
	if err != nil {
		b.Fatal(err)
	}
	// Each schedule's next fire time, as a running scheduler keeps it.
	for _, s := range schedules {
		next := sched.NextFireTimes(s, 1)[0]
		if _, err := st.ScheduleSetTimes(ctx, &store.ScheduleSetTimesParams{ID: s.ID, NextRunAt: &next}); err != nil {
			b.Fatal(err)
		}
	}
	tokens, _ := auth.NewTokens([]auth.Token{{Subject: "ops", Admin: true, Hash: auth.HashToken(opsToken)}})
	a, err := api.New(api.Config{Scheduler: sched, Authenticator: tokens, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	d, err := dashboard.New(dashboard.Config{API: a, Authenticator: tokens, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.Close)
	// Sign in.
	rec := httptest.NewRecorder()
	d.ServeHTTP(rec, httptest.NewRequest("GET", "/signin", nil))
	pre := rec.Result().Cookies()[0]
	tok := csrfField.FindStringSubmatch(rec.Body.String())[1]
	req := httptest.NewRequest("POST", "/signin", stringsReader("csrf="+tok+"&token="+opsToken))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(pre)
	rec = httptest.NewRecorder()
	d.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == "herald_session" && c.Value != "" {
			return d, c, schedIDs[0], runID
		}
	}
	b.Fatal("no session")
	return nil, nil, "", ""
}

// BenchmarkPages renders each page with 100,000 runs and 1,000 schedules
// in the store, as an admin (who sees them all); it reports the page's
// size in bytes (page-bytes).
func BenchmarkPages(b *testing.B) {
	for _, kind := range []string{"memory", "sqlite"} {
		b.Run(kind, func(b *testing.B) { benchPages(b, kind) })
	}
}

func benchPages(b *testing.B, kind string) {
	d, session, schedID, runID := benchDashboard(b, kind)
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"schedules", "/schedules"},
		{"schedule", "/schedules/" + schedID},
		{"new-schedule", "/schedules/new"},
		{"runs", "/runs"},
		{"runs-failed-7d", "/runs?status=failed&window=168h"},
		{"run", "/runs/" + runID},
		{"events", "/events"},
	} {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				req := httptest.NewRequest("GET", p.path, nil)
				req.AddCookie(session)
				rec := httptest.NewRecorder()
				d.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", p.path, rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}
