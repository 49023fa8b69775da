//go:build unix

package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
)

// TestE2E builds the server binary once, then runs each scenario as a
// parallel subtest that starts server processes of its own (on SQLite, and
// on PostgreSQL as a subtest) and drives them over HTTP only. The binary
// is removed once every scenario has ended.
func TestE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the server and starts processes; not with -short")
	}
	bin := buildServer(t)
	scenarios := []struct {
		name string
		run  func(t *testing.T, bin, dsn string)
	}{
		{"Endpoints", e2eEndpoints},
		{"CreateListRun", e2eCreateListRun},
		{"Interval", e2eInterval},
		{"Isolation", e2eIsolation},
		{"ScheduleLimit", e2eScheduleLimit},
		{"InvalidCron", e2eInvalidCron},
		{"Cancel", e2eCancel},
		{"RateLimit", e2eRateLimit},
		{"Webhook", e2eWebhook},
		{"SIGTERMDuringRun", e2eSIGTERMDuringRun},
		{"SIGTERMPastGrace", e2eSIGTERMPastGrace},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			onEachStore(t, func(t *testing.T, dsn string) { sc.run(t, bin, dsn) })
		})
	}
	t.Run("TwoNodes/postgres", func(t *testing.T) {
		t.Parallel()
		e2eTwoNodes(t, bin, testpg.DSN(t))
	})
	t.Run("Backfill/sqlite", func(t *testing.T) {
		t.Parallel()
		e2eBackfill(t, bin, sqliteDSN(t))
	})
	t.Run("FirstStart/sqlite", func(t *testing.T) {
		t.Parallel()
		e2eFirstStart(t, bin, sqliteDSN(t))
	})
}

// e2eEndpoints: health, readiness, metrics and the OpenAPI document need
// no token; the API refuses a request without one.
func e2eEndpoints(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("")))
	anon := srv.As("")

	var st struct{ Status string }
	anon.Do(http.MethodGet, "/healthz", "").Want(http.StatusOK).JSON(&st)
	if st.Status != "ok" {
		t.Errorf("GET /healthz status %q, want ok", st.Status)
	}
	anon.Do(http.MethodGet, "/readyz", "").Want(http.StatusOK).JSON(&st)
	if st.Status != "ready" {
		t.Errorf("GET /readyz status %q, want ready", st.Status)
	}

	var doc struct{ OpenAPI string }
	anon.Do(http.MethodGet, "/v1/openapi.json", "").Want(http.StatusOK).JSON(&doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("GET /v1/openapi.json: openapi %q, want 3.1.x", doc.OpenAPI)
	}

	resp := anon.Do(http.MethodGet, "/v1/schedules", "")
	resp.Problem(http.StatusUnauthorized)
	if h := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer") {
		t.Errorf("GET /v1/schedules without a token: WWW-Authenticate %q, want a Bearer challenge", h)
	}
	resp = srv.As("not-a-token-of-this-server").Do(http.MethodGet, "/v1/schedules", "")
	resp.Problem(http.StatusUnauthorized)
	if h := resp.Header.Get("WWW-Authenticate"); !strings.Contains(h, "invalid_token") {
		t.Errorf("GET /v1/schedules with a bad token: WWW-Authenticate %q, want error=\"invalid_token\"", h)
	}
	srv.As(e2eOpsToken).Do(http.MethodGet, "/v1/schedules", "", "X-Request-Id", "e2e-subject").Want(http.StatusOK)
	// The request's log line names its subject.
	requestLine := regexp.MustCompile(`msg=request request_id=e2e-subject .*`)
	poll(t, 5*time.Second, "the log line of request e2e-subject", func() (bool, string) {
		return requestLine.MatchString(srv.Stderr()), "none"
	})
	if line := requestLine.FindString(srv.Stderr()); !strings.Contains(line, "subject=ops") {
		t.Errorf("the log line of a request ops sent does not name ops: %s", line)
	}

	// After the requests above, so that the HTTP series have samples.
	metrics := anon.Do(http.MethodGet, "/metrics", "").Want(http.StatusOK)
	if !strings.Contains(string(metrics.Body), "herald_") {
		t.Errorf("GET /metrics has no herald_ series:\n%s", lastLines(string(metrics.Body), 30))
	}
	srv.Stop()
}

// e2eCreateListRun: create → list → run now → the run succeeds → it is in
// the history with its output.
func e2eCreateListRun(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("")))
	alice := srv.As(e2eAliceToken)

	resp := alice.Do(http.MethodPost, "/v1/schedules",
		`{"name":"report","agent":"echo","payload":{"hello":"world"},"cron":"0 9 * * *","timezone":"Europe/Paris"}`).
		Want(http.StatusCreated)
	var sch e2eSchedule
	resp.JSON(&sch)
	if sch.ID == "" || sch.Owner != "alice" || sch.Name != "report" || sch.Agent != "echo" ||
		sch.Cron == nil || *sch.Cron != "0 9 * * *" || sch.Timezone != "Europe/Paris" || sch.Paused {
		t.Errorf("created %s", resp.Body)
	}
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if len(sch.NextFireTimes) != 5 {
		t.Errorf("next_fire_times %q, want 5", sch.NextFireTimes)
	}
	var prev time.Time
	for _, s := range sch.NextFireTimes {
		ft, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Errorf("next fire time %q: %v", s, err)
			continue
		}
		// 09:00 in Paris, written with Paris's offset of that day.
		local := ft.In(paris)
		if local.Hour() != 9 || local.Minute() != 0 || local.Second() != 0 || s != local.Format(time.RFC3339) ||
			!ft.After(prev) || !prev.IsZero() && ft.Sub(prev) > 25*time.Hour {
			t.Errorf("next_fire_times %q: %q is not the next 09:00 in Paris, with its offset", sch.NextFireTimes, s)
		}
		prev = ft
	}
	// The Location header names the schedule, relative to the request's
	// URL (RFC 9110 §10.2.2).
	if loc := resp.Header.Get("Location"); loc == "" {
		t.Errorf("POST /v1/schedules: no Location header")
	} else if u, err := url.Parse(loc); err != nil {
		t.Errorf("Location %q: %v", loc, err)
	} else if got := (&url.URL{Path: "/v1/schedules"}).ResolveReference(u).Path; got != "/v1/schedules/"+sch.ID {
		t.Errorf("POST /v1/schedules: Location %q resolves to %s, want /v1/schedules/%s", loc, got, sch.ID)
	}

	if !slices.ContainsFunc(alice.Schedules(""), func(s e2eSchedule) bool { return s.ID == sch.ID }) {
		t.Errorf("GET /v1/schedules does not list %s", sch.ID)
	}

	var acc struct {
		RunID string `json:"run_id"`
	}
	alice.Do(http.MethodPost, "/v1/schedules/"+sch.ID+"/run", "").Want(http.StatusAccepted).JSON(&acc)
	if acc.RunID == "" {
		t.Fatal("POST /v1/schedules/{id}/run: no run_id")
	}
	run := alice.WaitRun(acc.RunID, "succeeded", 10*time.Second)
	if !jsonEqual(run.Output, []byte(`{"hello":"world"}`)) {
		t.Errorf("run output %s, want {\"hello\":\"world\"}", run.Output)
	}
	if run.Kind != "manual" || run.ScheduleID == nil || *run.ScheduleID != sch.ID || run.Owner != "alice" || run.Agent != "echo" {
		t.Errorf("run now: %+v, want a manual run of schedule %s owned by alice", run, sch.ID)
	}

	history := alice.Runs("?schedule_id=" + sch.ID)
	i := slices.IndexFunc(history, func(r e2eRun) bool { return r.ID == acc.RunID })
	if i < 0 {
		t.Fatalf("GET /v1/runs?schedule_id=%s does not list run %s: %v", sch.ID, acc.RunID, history)
	}
	if history[i].Status != "succeeded" || !jsonEqual(history[i].Output, []byte(`{"hello":"world"}`)) {
		t.Errorf("history: %v output %s, want succeeded with the payload", history[i], history[i].Output)
	}
	srv.Stop()
}

// e2eInterval: a schedule every 1s fires about once a second, one run per
// tick.
func e2eInterval(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("policy: {min_interval: 1s}\n")))
	alice := srv.As(e2eAliceToken)
	sch := alice.CreateSchedule(`{"name":"tick","agent":"echo","payload":{"tick":true},"every":"1s"}`)

	var runs []e2eRun
	poll(t, 15*time.Second, "3 runs of the schedule", func() (bool, string) {
		runs = alice.Runs("?schedule_id=" + sch.ID + "&kind=schedule")
		return len(runs) >= 3, fmt.Sprintf("%d runs", len(runs))
	})
	var fors []time.Time
	for _, r := range runs {
		if r.ScheduledFor == nil {
			t.Fatalf("%v of kind %s has no scheduled_for", r, r.Kind)
		}
		fors = append(fors, *r.ScheduledFor)
	}
	slices.SortFunc(fors, time.Time.Compare)
	for i := 1; i < len(fors); i++ {
		if d := fors[i].Sub(fors[i-1]); d != time.Second {
			t.Errorf("scheduled_for %v: %v then %v, %v apart; want distinct ticks 1s apart", fors, fors[i-1], fors[i], d)
		}
	}
	srv.Stop()
}

// e2eIsolation: a user sees none of another owner's schedules and runs,
// and cannot act on them; an admin can.
func e2eIsolation(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("")))
	ops, alice := srv.As(e2eOpsToken), srv.As(e2eAliceToken)

	sch := ops.CreateSchedule(`{"name":"ops-report","agent":"echo","cron":"0 9 * * *"}`)
	runID := ops.Enqueue(`{"agent":"echo","payload":{"sleep":"30s"}}`)

	for _, rq := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/schedules/" + sch.ID, ""},
		{http.MethodPatch, "/v1/schedules/" + sch.ID, `{"name":"stolen"}`},
		{http.MethodDelete, "/v1/schedules/" + sch.ID, ""},
		{http.MethodPost, "/v1/schedules/" + sch.ID + "/pause", ""},
		{http.MethodPost, "/v1/schedules/" + sch.ID + "/resume", ""},
		{http.MethodPost, "/v1/schedules/" + sch.ID + "/run", ""},
		{http.MethodGet, "/v1/runs/" + runID, ""},
		{http.MethodPost, "/v1/runs/" + runID + "/cancel", `{"reason":"mine now"}`},
	} {
		alice.Do(rq.method, rq.path, rq.body).Problem(http.StatusNotFound)
	}
	if slices.ContainsFunc(alice.Schedules(""), func(s e2eSchedule) bool { return s.ID == sch.ID }) {
		t.Errorf("alice's GET /v1/schedules lists ops's schedule %s", sch.ID)
	}
	if slices.ContainsFunc(alice.Runs(""), func(r e2eRun) bool { return r.ID == runID }) {
		t.Errorf("alice's GET /v1/runs lists ops's run %s", runID)
	}
	alice.Do(http.MethodGet, "/v1/schedules?owner=ops", "").Problem(http.StatusForbidden)
	alice.Do(http.MethodGet, "/v1/runs?owner=ops", "").Problem(http.StatusForbidden)

	// Alice's requests changed nothing.
	var got e2eSchedule
	ops.Do(http.MethodGet, "/v1/schedules/"+sch.ID, "").Want(http.StatusOK).JSON(&got)
	if got.Name != "ops-report" || got.Paused || got.Version != sch.Version {
		t.Errorf("after alice's requests the schedule is %+v, want it as created (%+v)", got, sch)
	}
	if runs := ops.Runs("?schedule_id=" + sch.ID); len(runs) != 0 {
		t.Errorf("alice's run now started runs: %v", runs)
	}

	// The admin lists and acts on them.
	if !slices.ContainsFunc(ops.Schedules(""), func(s e2eSchedule) bool { return s.ID == sch.ID }) {
		t.Errorf("ops's GET /v1/schedules does not list %s", sch.ID)
	}
	if !slices.ContainsFunc(ops.Runs(""), func(r e2eRun) bool { return r.ID == runID }) {
		t.Errorf("ops's GET /v1/runs does not list %s", runID)
	}
	ops.Do(http.MethodPatch, "/v1/schedules/"+sch.ID, `{"name":"ops-report-2"}`).Want(http.StatusOK).JSON(&got)
	if got.Name != "ops-report-2" {
		t.Errorf("PATCH name: got %q", got.Name)
	}
	ops.Do(http.MethodPost, "/v1/schedules/"+sch.ID+"/pause", "").Want(http.StatusOK).JSON(&got)
	if !got.Paused {
		t.Errorf("pause: paused false")
	}
	ops.Do(http.MethodPost, "/v1/schedules/"+sch.ID+"/resume", "").Want(http.StatusOK).JSON(&got)
	if got.Paused {
		t.Errorf("resume: paused true")
	}
	var acc struct {
		RunID string `json:"run_id"`
	}
	ops.Do(http.MethodPost, "/v1/schedules/"+sch.ID+"/run", "").Want(http.StatusAccepted).JSON(&acc)
	ops.WaitRun(acc.RunID, "succeeded", 10*time.Second)
	ops.Do(http.MethodPost, "/v1/runs/"+runID+"/cancel", `{"reason":"done"}`).Want(http.StatusOK)
	ops.WaitRun(runID, "cancelled", 10*time.Second)
	ops.Do(http.MethodDelete, "/v1/schedules/"+sch.ID, "").Want(http.StatusNoContent)
	ops.Do(http.MethodGet, "/v1/schedules/"+sch.ID, "").Problem(http.StatusNotFound)
	srv.Stop()
}

// e2eScheduleLimit: the 11th active schedule of an owner is refused with
// 409; a paused one leaves room.
func e2eScheduleLimit(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("policy: {max_schedules_per_owner: 10}\n")))
	alice := srv.As(e2eAliceToken)
	var first e2eSchedule
	for i := range 10 {
		s := alice.CreateSchedule(fmt.Sprintf(`{"name":"s%d","agent":"echo","cron":"0 9 * * *"}`, i))
		if i == 0 {
			first = s
		}
	}
	eleventh := `{"name":"s10","agent":"echo","cron":"0 9 * * *"}`
	p := alice.Do(http.MethodPost, "/v1/schedules", eleventh).Problem(http.StatusConflict)
	if !strings.Contains(p.Detail, "10") {
		t.Errorf("409 detail %q does not say the limit", p.Detail)
	}
	if n := len(alice.Schedules("")); n != 10 {
		t.Errorf("after the refusal alice has %d schedules, want 10", n)
	}
	// Other owners have their own 10.
	srv.As(e2eOpsToken).CreateSchedule(`{"name":"s0","agent":"echo","cron":"0 9 * * *"}`)
	// A paused schedule is not active: it leaves room for the 11th.
	alice.Do(http.MethodPost, "/v1/schedules/"+first.ID+"/pause", "").Want(http.StatusOK)
	alice.CreateSchedule(eleventh)
	srv.Stop()
}

// e2eInvalidCron: an invalid cron is answered 400 naming the field, and
// nothing is written.
func e2eInvalidCron(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("")))
	alice := srv.As(e2eAliceToken)
	alice.CreateSchedule(`{"name":"valid","agent":"echo","cron":"0 9 * * *"}`)
	before := alice.Schedules("")

	p := alice.Do(http.MethodPost, "/v1/schedules", `{"name":"bad","agent":"echo","cron":"61 * * * *"}`).
		Problem(http.StatusBadRequest)
	if len(p.Errors) == 0 || p.Errors[0].Field != "cron" || p.Errors[0].Message == "" {
		t.Errorf("400 errors %+v, want the first naming field cron, with a message", p.Errors)
	}
	after := alice.Schedules("")
	ids := func(ss []e2eSchedule) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID+" "+s.Name)
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(ids(before), ids(after)) {
		t.Errorf("schedules before the refused request %v, after %v", ids(before), ids(after))
	}
	srv.Stop()
}

// e2eCancel: cancelling a running run stops it, with the reason as its
// error.
func e2eCancel(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("")))
	alice := srv.As(e2eAliceToken)
	id := alice.Enqueue(`{"agent":"echo","payload":{"sleep":"30s"}}`)
	alice.WaitRun(id, "running", 10*time.Second)
	alice.Do(http.MethodPost, "/v1/runs/"+id+"/cancel", `{"reason":"no longer needed"}`).Want(http.StatusOK)
	run := alice.WaitRun(id, "cancelled", 10*time.Second)
	if run.Error == nil || *run.Error != "no longer needed" {
		t.Errorf("cancelled %v, want the error \"no longer needed\"", run)
	}
	// A run that has ended cannot be cancelled again.
	alice.Do(http.MethodPost, "/v1/runs/"+id+"/cancel", `{"reason":"again"}`).Problem(http.StatusConflict)
	srv.Stop()
}

// e2eRateLimit: a principal's requests beyond the burst are answered 429
// with Retry-After; another principal is not limited.
func e2eRateLimit(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("rate_limit: {per_second: 1, burst: 5}\n")))
	alice := srv.As(e2eAliceToken)
	start := time.Now()
	for range 5 {
		var agents struct {
			Agents []struct{ Name string } `json:"agents"`
		}
		alice.Do(http.MethodGet, "/v1/agents", "").Want(http.StatusOK).JSON(&agents)
		if !slices.ContainsFunc(agents.Agents, func(a struct{ Name string }) bool { return a.Name == "echo" }) {
			t.Errorf("GET /v1/agents = %+v, want echo among them", agents)
		}
	}
	resp := alice.Do(http.MethodGet, "/v1/agents", "")
	if elapsed := time.Since(start); elapsed >= time.Second {
		// The bucket gains a token a second: the 6th request proves
		// nothing this late.
		t.Fatalf("6 requests took %v; the 1/s refill blurs the burst", elapsed)
	}
	resp.Problem(http.StatusTooManyRequests)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("429: Retry-After %q, want a number of seconds", resp.Header.Get("Retry-After"))
	}
	srv.As(e2eOpsToken).Do(http.MethodGet, "/v1/agents", "").Want(http.StatusOK)
	srv.Stop()
}

// e2eWebhook: a signed GitHub delivery runs its agent; its replay and a
// badly signed request create nothing.
func e2eWebhook(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig(fmt.Sprintf(`webhooks:
  - {source: github, scheme: github, secrets: [%q], agent: echo, owner: ops, keep_headers: [X-GitHub-Event]}
`, e2eGitHubSecret))))
	anon, ops := srv.As(""), srv.As(e2eOpsToken)

	body := `{"action":"opened"}`
	mac := hmac.New(sha256.New, []byte(e2eGitHubSecret))
	mac.Write([]byte(body))
	signature := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	delivery := newUUID(t)
	deliver := func(signature, delivery string) *e2eResponse {
		return anon.Do(http.MethodPost, "/v1/webhooks/github", body,
			"X-GitHub-Event", "issues", "X-GitHub-Delivery", delivery, "X-Hub-Signature-256", signature)
	}
	type receipt struct {
		Received  bool   `json:"received"`
		EventID   string `json:"event_id"`
		RunID     string `json:"run_id"`
		Duplicate bool   `json:"duplicate"`
	}
	var first, again receipt
	deliver(signature, delivery).Want(http.StatusOK).JSON(&first)
	if !first.Received || first.EventID == "" || first.RunID == "" || first.Duplicate {
		t.Fatalf("first delivery: %+v, want received, an event, a run, not a duplicate", first)
	}
	run := ops.WaitRun(first.RunID, "succeeded", 10*time.Second)
	if run.Kind != "webhook" || run.EventID == nil || *run.EventID != first.EventID || run.Owner != "ops" {
		t.Errorf("webhook run %+v, want kind webhook, event %s, owner ops", run, first.EventID)
	}
	if !jsonEqual(run.Output, []byte(body)) {
		t.Errorf("webhook run output %s, want the body %s", run.Output, body)
	}

	deliver(signature, delivery).Want(http.StatusOK).JSON(&again)
	if want := (receipt{Received: true, EventID: first.EventID, RunID: first.RunID, Duplicate: true}); again != want {
		t.Errorf("replay: %+v, want %+v", again, want)
	}
	deliver("sha256="+strings.Repeat("0", 64), newUUID(t)).Want(http.StatusUnauthorized)

	var events struct {
		Events []e2eEvent `json:"events"`
	}
	ops.Do(http.MethodGet, "/v1/events?source=github", "").Want(http.StatusOK).JSON(&events)
	if len(events.Events) != 1 {
		t.Fatalf("GET /v1/events?source=github: %+v, want one event", events.Events)
	}
	if e := events.Events[0]; e.ID != first.EventID || e.DeliveryID != delivery || e.RunID == nil || *e.RunID != first.RunID ||
		e.Source != "github" || e.Owner != "ops" {
		t.Errorf("event %+v, want %s of delivery %s with run %s", e, first.EventID, delivery, first.RunID)
	}
	if runs := ops.Runs("?kind=webhook"); len(runs) != 1 {
		t.Errorf("GET /v1/runs?kind=webhook: %v, want one run", runs)
	}
	srv.Stop()
}

// newUUID returns a random UUID, as GitHub's delivery ids are.
func newUUID(t *testing.T) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// e2eSIGTERMDuringRun: a server stopped while a run executes exits 0 in
// its grace; the next process runs everything that was queued or running.
func e2eSIGTERMDuringRun(t *testing.T, bin, dsn string) {
	// One worker: the quick runs wait behind the sleeping one.
	config := writeConfig(t, e2eConfig("workers: 1\n"))
	srv := startServer(t, bin, dsn, config)
	ops := srv.As(e2eOpsToken)
	sleeper := ops.Enqueue(`{"agent":"echo","payload":{"sleep":"2s"}}`)
	ops.WaitRun(sleeper, "running", 10*time.Second)
	ids := []string{sleeper}
	for i := range 5 {
		ids = append(ids, ops.Enqueue(fmt.Sprintf(`{"agent":"echo","payload":{"n":%d}}`, i)))
	}
	var states []string
	for _, id := range ids {
		states = append(states, ops.Run(id).String())
	}
	t.Logf("at SIGTERM: %s", strings.Join(states, "; "))

	start := time.Now()
	srv.Stop()
	if d := time.Since(start); d > shutdownGrace+2*time.Second {
		t.Errorf("the server took %v to exit, more than its grace %v", d, shutdownGrace)
	}

	srv = startServer(t, bin, dsn, config)
	ops = srv.As(e2eOpsToken)
	for i, id := range ids {
		run := ops.WaitRun(id, "succeeded", 30*time.Second)
		want := fmt.Sprintf(`{"n":%d}`, i-1)
		if i == 0 {
			want = `{"sleep":"2s"}`
			t.Logf("the interrupted run: %v", run)
		}
		if !jsonEqual(run.Output, []byte(want)) {
			t.Errorf("%v: output %s, want %s", run, run.Output, want)
		}
	}
	if runs := ops.Runs(""); len(runs) != len(ids) {
		t.Errorf("after the restart there are %d runs, want the %d enqueued: %v", len(runs), len(ids), runs)
	}
	srv.Stop()
}

// e2eSIGTERMPastGrace: a run still executing when the server stops is
// cancelled and put back in the queue (at once, or when the shutdown
// grace ends); the next process runs it again at once, without waiting
// for the stopped node's lease to expire.
func e2eSIGTERMPastGrace(t *testing.T, bin, dsn string) {
	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig("node_id: first\n")))
	ops := srv.As(e2eOpsToken)
	id := ops.Enqueue(`{"agent":"echo","payload":{"sleep":"1h"}}`)
	ops.WaitRun(id, "running", 10*time.Second)
	start := time.Now()
	srv.Stop()
	if d := time.Since(start); d > shutdownGrace+3*time.Second {
		t.Errorf("the server took %v to exit, more than its grace %v", d, shutdownGrace)
	}
	if strings.Contains(srv.Stderr(), "runs not requeued") {
		t.Errorf("the stopped server did not put the run back in the queue: %s",
			regexp.MustCompile(`.*runs not requeued.*`).FindString(srv.Stderr()))
	}

	srv = startServer(t, bin, dsn, writeConfig(t, e2eConfig("node_id: second\n")))
	ops = srv.As(e2eOpsToken)
	poll(t, 15*time.Second, "the interrupted run to run again on the new node", func() (bool, string) {
		run := ops.Run(id)
		if terminal(run.Status) {
			t.Fatalf("the interrupted run ended: %v; want it queued again", run)
		}
		return run.Status == "running" && run.Node != nil && *run.Node == "second", run.String()
	})
	ops.Do(http.MethodPost, "/v1/runs/"+id+"/cancel", `{"reason":"enough"}`).Want(http.StatusOK)
	ops.WaitRun(id, "cancelled", 10*time.Second)
	srv.Stop()
}

// e2eTwoNodes: two processes on one PostgreSQL database run each tick of
// a schedule once.
func e2eTwoNodes(t *testing.T, bin, dsn string) {
	configA := writeConfig(t, e2eConfig("node_id: node-a\npolicy: {min_interval: 1s}\n"))
	configB := writeConfig(t, e2eConfig("node_id: node-b\npolicy: {min_interval: 1s}\n"))
	a := startServer(t, bin, dsn, configA)
	b := startServer(t, bin, dsn, configB)
	opsA, opsB := a.As(e2eOpsToken), b.As(e2eOpsToken)
	sch := opsA.CreateSchedule(`{"name":"tick","agent":"echo","every":"1s"}`)

	query := "?schedule_id=" + sch.ID + "&limit=1000"
	poll(t, 20*time.Second, "5 ticks", func() (bool, string) {
		n := len(opsB.Runs(query))
		return n >= 5, fmt.Sprintf("%d runs", n)
	})
	// Pause it, so that it fires no more, and let the ticks enqueued run.
	opsA.Do(http.MethodPost, "/v1/schedules/"+sch.ID+"/pause", "").Want(http.StatusOK)
	poll(t, 15*time.Second, "every tick to end", func() (bool, string) {
		for _, r := range opsA.Runs(query) {
			if !terminal(r.Status) {
				return false, r.String()
			}
		}
		return true, ""
	})
	a.Stop()
	b.Stop()

	// Each tick's agent ran once, on one node: the logs of both show
	// one attempt per run.
	attempts := map[string][]string{} // run id → nodes
	for _, n := range []struct {
		name string
		srv  *e2eServer
	}{{"node-a", a}, {"node-b", b}} {
		for _, m := range attemptLine.FindAllStringSubmatch(n.srv.Stderr(), -1) {
			attempts[m[1]] = append(attempts[m[1]], n.name)
		}
	}

	// A process started again reads the history.
	a = startServer(t, bin, dsn, configA)
	runs := a.As(e2eOpsToken).Runs(query)
	seen := map[time.Time]string{}
	nodes := map[string]int{}
	for _, r := range runs {
		if r.Kind != "schedule" || r.ScheduledFor == nil {
			t.Errorf("%v: kind %s, scheduled_for %v, want a tick", r, r.Kind, r.ScheduledFor)
			continue
		}
		if other, dup := seen[*r.ScheduledFor]; dup {
			t.Errorf("tick %v ran twice: runs %s and %s", r.ScheduledFor, other, r.ID)
		}
		seen[*r.ScheduledFor] = r.ID
		if r.Status != "succeeded" || r.Attempt != 1 {
			t.Errorf("%v, want succeeded at attempt 1", r)
		}
		switch ns := attempts[r.ID]; len(ns) {
		case 1:
			nodes[ns[0]]++
		default:
			t.Errorf("tick %v (run %s): attempts logged by %v, want one", r.ScheduledFor, r.ID, ns)
		}
	}
	if len(runs) < 5 {
		t.Errorf("%d runs after the restart, want at least 5", len(runs))
	}
	t.Logf("%d ticks, run by node: %v", len(runs), nodes)
	a.Stop()
}

// attemptLine is the log line of an attempt's end, with its run id.
var attemptLine = regexp.MustCompile(`msg="attempt ended" run_id=(\S+)`)

// adminTokenPattern finds a generated admin token.
var adminTokenPattern = regexp.MustCompile(`hrld_[A-Za-z0-9_-]+`)

// e2eFirstStart: without an auth section the server makes an admin
// token, prints it once, keeps it across restarts, and replaces it on
// -reset-admin-token.
func e2eFirstStart(t *testing.T, bin, dsn string) {
	config := writeConfig(t, "log: {level: debug}\n")

	srv := startServer(t, bin, dsn, config)
	token := printedToken(t, srv)
	srv.As(token).Do(http.MethodGet, "/v1/schedules", "").Want(http.StatusOK)
	srv.Stop()
	if strings.Contains(srv.Stderr(), token) {
		t.Errorf("the log shows the admin token")
	}

	srv = startServer(t, bin, dsn, config)
	srv.As(token).Do(http.MethodGet, "/v1/schedules", "").Want(http.StatusOK)
	srv.Stop()
	if out := srv.Stdout(); strings.Contains(out, "hrld_") {
		t.Errorf("the second start printed a token again:\n%s", out)
	}

	srv = startServer(t, bin, dsn, config, "-reset-admin-token")
	fresh := printedToken(t, srv)
	if fresh == token {
		t.Fatalf("-reset-admin-token printed the old token")
	}
	srv.As(fresh).Do(http.MethodGet, "/v1/schedules", "").Want(http.StatusOK)
	srv.As(token).Do(http.MethodGet, "/v1/schedules", "").Problem(http.StatusUnauthorized)
	srv.Stop()
	if strings.Contains(srv.Stderr(), fresh) {
		t.Errorf("the log shows the new admin token")
	}
}

// printedToken waits for srv to print a generated admin token on stdout,
// with a curl line using it, and returns it.
func printedToken(t *testing.T, srv *e2eServer) string {
	t.Helper()
	poll(t, 10*time.Second, "an admin token on stdout", func() (bool, string) {
		out := srv.Stdout()
		return strings.Contains(out, "curl") && adminTokenPattern.MatchString(out), out
	})
	out := srv.Stdout()
	tokens := adminTokenPattern.FindAllString(out, -1)
	for _, tok := range tokens[1:] {
		if tok != tokens[0] {
			t.Fatalf("stdout shows two tokens, %s and %s:\n%s", tokens[0], tok, out)
		}
	}
	curl := false
	for line := range strings.Lines(out) {
		if strings.Contains(line, "curl") && strings.Contains(line, tokens[0]) {
			curl = true
		}
	}
	if !curl {
		t.Errorf("stdout has no curl line using the token:\n%s", out)
	}
	return tokens[0]
}
