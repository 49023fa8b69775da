package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

func TestScheduleLifecycle(t *testing.T) {
	f := newFixture(t)
	s := f.createSchedule(aliceToken, map[string]any{
		"name": "report", "agent": "echo", "payload": map[string]any{"k": 1},
		"cron": "0 9 * * 1-5", "timezone": "Europe/Paris",
		"deliver": []map[string]any{{"channel": "log", "on": "failure"}},
	})
	if s.ID == "" || s.Owner != "alice" || s.Static || s.Paused || *s.Cron != "0 9 * * 1-5" || s.Every != nil || s.At != nil {
		t.Fatalf("created %+v", s)
	}
	if len(s.NextFireTimes) != 5 || s.NextRunAt == nil || !s.NextRunAt.Equal(s.NextFireTimes[0]) {
		t.Fatalf("fire times %v, next run %v", s.NextFireTimes, s.NextRunAt)
	}
	// 2026-01-01 is a Thursday: 09:00 in Paris is 08:00 UTC, shown with +01:00.
	if got := s.NextFireTimes[0].Format(time.RFC3339); got != "2026-01-01T09:00:00+01:00" {
		t.Errorf("first fire time %s", got)
	}
	raw := f.do("GET", "/v1/schedules/"+s.ID, aliceToken, nil).want(t, 200)
	if !strings.Contains(string(raw.body), `"next_run_at":"2026-01-01T09:00:00+01:00"`) || !strings.Contains(string(raw.body), `"last_run_at":null`) {
		t.Errorf("body %s: want times with the zone's offset and null for absent values", raw.body)
	}

	var list api.ScheduleList
	f.do("GET", "/v1/schedules", aliceToken, nil).want(t, 200).decode(t, &list)
	if len(list.Schedules) != 1 || list.Schedules[0].ID != s.ID || list.NextCursor != nil {
		t.Fatalf("list %+v", list)
	}

	var patched api.Schedule
	f.do("PATCH", "/v1/schedules/"+s.ID, aliceToken, map[string]any{"every": "2h", "timeout": "5m"}).want(t, 200).decode(t, &patched)
	if patched.Cron != nil || patched.Every == nil || time.Duration(*patched.Every) != 2*time.Hour ||
		patched.Timeout == nil || time.Duration(*patched.Timeout) != 5*time.Minute || patched.Name != "report" ||
		patched.Version != s.Version+1 || string(patched.Payload) != `{"k":1}` {
		t.Fatalf("patched %+v", patched)
	}
	f.do("PATCH", "/v1/schedules/"+s.ID, aliceToken, map[string]any{"version": s.Version, "name": "x"}).want(t, 409).problem(t)

	var paused api.Schedule
	f.do("POST", "/v1/schedules/"+s.ID+"/pause", aliceToken, nil).want(t, 200).decode(t, &paused)
	if !paused.Paused || paused.NextRunAt != nil || len(paused.NextFireTimes) != 0 {
		t.Fatalf("paused %+v", paused)
	}
	var resumed api.Schedule
	f.do("POST", "/v1/schedules/"+s.ID+"/resume", aliceToken, nil).want(t, 200).decode(t, &resumed)
	if resumed.Paused || resumed.NextRunAt == nil {
		t.Fatalf("resumed %+v", resumed)
	}

	var acc api.RunAccepted
	f.do("POST", "/v1/schedules/"+s.ID+"/run", aliceToken, nil).want(t, 202).decode(t, &acc)
	f.h.WaitFinished(acc.RunID, store.RunSucceeded)
	var run api.RunDetail
	f.do("GET", "/v1/runs/"+acc.RunID, aliceToken, nil).want(t, 200).decode(t, &run)
	if run.Status != "succeeded" || run.Kind != "manual" || *run.ScheduleID != s.ID || string(run.Output) != `{"k":1}` ||
		*run.Summary != "echoed" || run.Duration == nil || run.StartedAt == nil || run.FinishedAt == nil || run.Deliveries == nil {
		t.Fatalf("run %+v", run)
	}
	var runs api.RunList
	f.do("GET", "/v1/runs?schedule_id="+s.ID+"&status=succeeded&kind=manual&agent=echo", aliceToken, nil).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != acc.RunID {
		t.Fatalf("runs %+v", runs)
	}

	f.do("DELETE", "/v1/schedules/"+s.ID, aliceToken, nil).want(t, 204)
	f.do("GET", "/v1/schedules/"+s.ID, aliceToken, nil).want(t, 404).problem(t)
	f.do("GET", "/v1/runs/"+acc.RunID, aliceToken, nil).want(t, 200) // the history stays
}

func TestOwnerIsolation(t *testing.T) {
	f := newFixture(t)
	s := f.createSchedule(opsToken, map[string]any{"name": "nightly", "agent": "sleep", "every": "1h"})
	var acc api.RunAccepted
	f.do("POST", "/v1/runs", opsToken, map[string]any{"agent": "sleep"}).want(t, 202).decode(t, &acc)

	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/schedules/" + s.ID},
		{"PATCH", "/v1/schedules/" + s.ID},
		{"DELETE", "/v1/schedules/" + s.ID},
		{"POST", "/v1/schedules/" + s.ID + "/pause"},
		{"POST", "/v1/schedules/" + s.ID + "/resume"},
		{"POST", "/v1/schedules/" + s.ID + "/run"},
		{"GET", "/v1/runs/" + acc.RunID},
		{"POST", "/v1/runs/" + acc.RunID + "/cancel"},
	} {
		var body any
		if c.method == "PATCH" {
			body = map[string]any{"name": "mine"}
		}
		r := f.do(c.method, c.path, aliceToken, body).want(t, 404)
		if p := r.problem(t); strings.Contains(p.Detail, s.ID) || strings.Contains(p.Detail, acc.RunID) || strings.Contains(p.Detail, "ops") {
			t.Errorf("%s %s: the problem reveals another owner's record: %s", c.method, c.path, r.body)
		}
	}
	var list api.ScheduleList
	f.do("GET", "/v1/schedules", aliceToken, nil).want(t, 200).decode(t, &list)
	if len(list.Schedules) != 0 {
		t.Errorf("alice lists %d schedules of ops", len(list.Schedules))
	}
	var runs api.RunList
	f.do("GET", "/v1/runs", aliceToken, nil).want(t, 200).decode(t, &runs)
	if len(runs.Runs) != 0 {
		t.Errorf("alice lists %d runs of ops", len(runs.Runs))
	}
	f.do("GET", "/v1/runs?owner=ops", aliceToken, nil).want(t, 403).problem(t)
	f.do("GET", "/v1/schedules?owner=ops", aliceToken, nil).want(t, 403).problem(t)
	f.do("POST", "/v1/schedules", aliceToken, map[string]any{"name": "x", "agent": "echo", "every": "1h", "owner": "ops"}).want(t, 403).problem(t)

	// The admin sees and acts on everything.
	f.do("GET", "/v1/schedules?owner=ops", opsToken, nil).want(t, 200)
	var cancelled api.Run
	f.do("POST", "/v1/runs/"+acc.RunID+"/cancel", opsToken, map[string]any{"reason": "not needed"}).want(t, 200).decode(t, &cancelled)
	got := f.h.WaitFinished(acc.RunID, store.RunCancelled)
	if got.Error != "not needed" {
		t.Errorf("cancelled run error %q, want the reason", got.Error)
	}
	f.do("POST", "/v1/runs/"+acc.RunID+"/cancel", opsToken, nil).want(t, 409).problem(t)
	f.do("DELETE", "/v1/schedules/"+s.ID, opsToken, nil).want(t, 204)
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name, header string
		challenge    string
	}{
		{"none", "", `Bearer realm="herald"`},
		{"basic", "Basic b3BzOm9wcw==", `Bearer realm="herald"`},
		{"wrong token", "Bearer hrld_wrong", `Bearer realm="herald", error="invalid_token"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", "/v1/schedules", nil)
			if c.header != "" {
				req.Header.Set("Authorization", c.header)
			}
			rec := newRecorder()
			f.api.ServeHTTP(rec, req)
			r := &response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
			r.want(t, 401).problem(t)
			if got := r.header.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, c.challenge)
			}
		})
	}
	// Open routes need no token.
	f.do("GET", "/healthz", "", nil).want(t, 200)
	f.do("GET", "/readyz", "", nil).want(t, 200)
	f.do("GET", "/v1/openapi.json", "", nil).want(t, 200)
}

func TestValidationProblems(t *testing.T) {
	f := newFixture(t, fixtureOptions{policy: scheduler.Policy{MaxActiveSchedules: 2, MinInterval: 15 * time.Minute, MaxTimeout: time.Hour}})
	base := func(kv ...any) map[string]any {
		m := map[string]any{"name": "n", "agent": "echo", "cron": "0 * * * *"}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(m, kv[i].(string))
				continue
			}
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"bad cron", base("cron", "61 * * * *"), "cron"},
		{"no trigger", base("cron", nil), "cron"},
		{"two triggers", base("every", "1h"), "cron"},
		{"bad every", base("cron", nil, "every", "often"), "every"},
		{"negative every", base("cron", nil, "every", "-1h"), "every"},
		{"too often", base("cron", "*/5 * * * *"), "cron"},
		{"too often every", base("cron", nil, "every", "1m"), "every"},
		{"bad at", base("cron", nil, "at", "tomorrow"), "at"},
		{"past at", base("cron", nil, "at", "2020-01-01T00:00:00Z"), "at"},
		{"bad zone", base("timezone", "Mars/Olympus"), "timezone"},
		{"end before start", base("start", "2026-02-01T00:00:00Z", "end", "2026-01-01T00:00:00Z"), "end"},
		{"bad jitter", base("jitter", "lots"), "jitter"},
		{"no name", base("name", nil), "name"},
		{"long name", base("name", strings.Repeat("n", 201)), "name"},
		{"no agent", base("agent", nil), "agent"},
		{"unknown agent", base("agent", "nope"), "agent"},
		{"unknown channel", base("deliver", []map[string]any{{"channel": "log"}, {"channel": "pager"}}), "deliver[1].channel"},
		{"empty channel", base("deliver", []map[string]any{{"channel": ""}}), "deliver[0].channel"},
		{"bad on", base("deliver", []map[string]any{{"channel": "log", "on": "sometimes"}}), "deliver[0].on"},
		{"bad overlap", base("overlap", "maybe"), "overlap"},
		{"bad misfire", base("misfire", "maybe"), "misfire"},
		{"timeout over policy", base("timeout", "2h"), "timeout"},
		{"negative attempts", base("max_attempts", -1), "max_attempts"},
		{"payload not object", base("payload", "text"), "payload"},
		{"unknown field", base("cronn", "x"), "cronn"},
		{"NUL in name", base("name", "a\x00b"), "name"},
		{"newline in channel", base("deliver", []map[string]any{{"channel": "log\n"}}), "deliver[0].channel"},
		{"wrong type", base("name", 5), "name"},
		{"malformed JSON", `{"name": "n",`, "body"},
		{"not an object", `[1,2]`, "body"},
		{"trailing data", `{"name":"n","agent":"echo","cron":"0 * * * *"} {}`, "body"},
		{"empty", ``, "body"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := f.do("POST", "/v1/schedules", aliceToken, c.body).want(t, 400).problem(t)
			if len(p.Errors) == 0 || p.Errors[0].Field != c.field {
				t.Fatalf("errors %+v, want field %q", p.Errors, c.field)
			}
			if strings.Contains(p.Detail, "store:") || strings.Contains(p.Detail, "create schedule") || strings.Contains(p.Detail, "trigger.") {
				t.Errorf("detail %q leaks internal names", p.Detail)
			}
		})
	}
	var list api.ScheduleList
	f.do("GET", "/v1/schedules", aliceToken, nil).want(t, 200).decode(t, &list)
	if len(list.Schedules) != 0 {
		t.Fatalf("invalid requests wrote %d schedules", len(list.Schedules))
	}

	// Conflicts and limits.
	f.createSchedule(aliceToken, base())
	r := f.do("POST", "/v1/schedules", aliceToken, base()).want(t, 409)
	if p := r.problem(t); strings.Contains(p.Detail, "store:") || strings.Contains(p.Detail, "constraint") || strings.Contains(p.Detail, "create schedule") {
		t.Errorf("conflict detail %q", p.Detail)
	}
	f.createSchedule(aliceToken, base("name", "second"))
	p := f.do("POST", "/v1/schedules", aliceToken, base("name", "third")).want(t, 409).problem(t)
	if !strings.Contains(p.Type, "limit-reached") {
		t.Errorf("third schedule: %+v", p)
	}
	f.do("POST", "/v1/schedules", aliceToken, base("name", "paused", "paused", true)).want(t, 201)
}

func TestRequestProblems(t *testing.T) {
	f := newFixture(t)
	big := `{"agent":"echo","payload":{"x":"` + strings.Repeat("a", 10<<20) + `"}}`
	f.do("POST", "/v1/runs", aliceToken, big).want(t, 413).problem(t)

	req, _ := http.NewRequest("POST", "/v1/runs", strings.NewReader(`{"agent":"echo"}`))
	req.Header.Set("Authorization", "Bearer "+aliceToken)
	req.Header.Set("Content-Type", "text/plain")
	rec := newRecorder()
	f.api.ServeHTTP(rec, req)
	(&response{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}).want(t, 415).problem(t)

	for _, q := range []string{
		"limit=100000", "limit=0", "limit=-1", "limit=abc", "limit=1e3",
		"status=done", "status=queued,nope", "kind=cron", "since=yesterday", "until=2026-13-01T00:00:00Z",
		"cursor=1'%20OR%20'1'='1", "cursor=../../etc", "bogus=1", "limit=1&limit=2",
		"agent=" + strings.Repeat("a", 300),
	} {
		t.Run(q, func(t *testing.T) {
			p := f.do("GET", "/v1/runs?"+q, aliceToken, nil).want(t, 400).problem(t)
			if len(p.Errors) == 0 {
				t.Errorf("no field errors: %+v", p)
			}
		})
	}
	for _, path := range []string{
		"/v1/events?limit=5000", "/v1/events?since=now", "/v1/events?cursor=%27%3B--", "/v1/events?source=" + strings.Repeat("s", 64),
		"/v1/events?x=1", "/v1/schedules?limit=9999", "/v1/schedules?cursor=../x", "/v1/schedules?owner=" + strings.Repeat("o", 201),
		"/v1/schedules?owner=%00", "/v1/runs?agent=a%0Ab", "/v1/events?source=%FF",
	} {
		t.Run(path, func(t *testing.T) {
			if p := f.do("GET", path, opsToken, nil).want(t, 400).problem(t); len(p.Errors) == 0 {
				t.Errorf("no field errors: %+v", p)
			}
		})
	}
	for _, path := range []string{"/v1/events?source=x'%20OR%201=1--", "/v1/schedules?name=x'%20OR%20'1'='1"} {
		f.do("GET", path, opsToken, nil).want(t, 200)
	}
	// SQL metacharacters in a filter are just values: no match, no error.
	for _, q := range []string{"agent=x'%3B%20DROP%20TABLE%20herald_runs%3B--", "schedule_id=1%20OR%201%3D1", "owner=alice'--"} {
		var runs api.RunList
		f.do("GET", "/v1/runs?"+q, opsToken, nil).want(t, 200).decode(t, &runs)
		if len(runs.Runs) != 0 {
			t.Errorf("%s: %d runs", q, len(runs.Runs))
		}
	}
	for _, path := range []string{
		"/v1/runs/not-an-id", "/v1/runs/..%2F..%2Fetc%2Fpasswd", "/v1/runs/%27%20OR%201%3D1",
		"/v1/schedules/00000000-0000-0000-0000-000000000000", "/v1/events/x", "/v1/nothing",
	} {
		f.do("GET", path, aliceToken, nil).want(t, 404).problem(t)
	}
	f.do("PUT", "/v1/runs", aliceToken, nil).want(t, 405)

	// None of it wrote anything.
	var runs api.RunList
	f.do("GET", "/v1/runs", opsToken, nil).want(t, 200).decode(t, &runs)
	var schedules api.ScheduleList
	f.do("GET", "/v1/schedules", opsToken, nil).want(t, 200).decode(t, &schedules)
	if len(runs.Runs) != 0 || len(schedules.Schedules) != 0 {
		t.Errorf("bad requests wrote %d runs and %d schedules", len(runs.Runs), len(schedules.Schedules))
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{rate: api.RateLimit{PerSecond: 1, Burst: 3}})
	for i := 0; i < 3; i++ {
		f.do("GET", "/v1/agents", aliceToken, nil).want(t, 200)
	}
	r := f.do("GET", "/v1/agents", aliceToken, nil).want(t, 429)
	r.problem(t)
	if r.header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	f.do("GET", "/v1/agents", bobToken, nil).want(t, 200) // per principal
	f.h.Clock.Advance(time.Second)
	f.do("GET", "/v1/agents", aliceToken, nil).want(t, 200)
}

func TestEnqueueAndCancel(t *testing.T) {
	f := newFixture(t)
	var acc api.RunAccepted
	f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "sleep", "idempotency_key": "k1"}).want(t, 202).decode(t, &acc)
	var again api.RunAccepted
	f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "sleep", "idempotency_key": "k1"}).want(t, 202).decode(t, &again)
	if again.RunID != acc.RunID {
		t.Fatalf("idempotency key reused: %s then %s", acc.RunID, again.RunID)
	}
	f.h.WaitRun(acc.RunID, store.RunRunning)
	var run api.Run
	f.do("POST", "/v1/runs/"+acc.RunID+"/cancel", aliceToken, map[string]any{"reason": "changed my mind"}).want(t, 200).decode(t, &run)
	done := f.h.WaitFinished(acc.RunID, store.RunCancelled)
	if done.Error != "changed my mind" {
		t.Errorf("error %q", done.Error)
	}
	p := f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "echo", "deliver": []map[string]any{{"channel": "pager"}}}).want(t, 400).problem(t)
	if p.Errors[0].Field != "deliver[0].channel" {
		t.Errorf("errors %+v", p.Errors)
	}
	f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "nope"}).want(t, 400)
	f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": "echo", "timeout": "soon"}).want(t, 400)
}

func TestPreviewAgentsChannels(t *testing.T) {
	f := newFixture(t)
	var pv api.Preview
	f.do("POST", "/v1/triggers/preview", aliceToken, map[string]any{
		"cron": "30 2 * * *", "timezone": "America/New_York", "from": "2026-03-07T12:00:00Z", "count": 3,
	}).want(t, 200).decode(t, &pv)
	want := []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"}
	if len(pv.FireTimes) != 3 {
		t.Fatalf("fire times %v", pv.FireTimes)
	}
	for i, w := range want {
		if got := pv.FireTimes[i].Format(time.RFC3339); got != w {
			t.Errorf("fire time %d: %s, want %s (the spring-forward gap shifts 02:30 to 03:30)", i, got, w)
		}
	}
	f.do("POST", "/v1/triggers/preview", aliceToken, map[string]any{"cron": "0 0 * * *", "count": 1001}).want(t, 400)
	f.do("POST", "/v1/triggers/preview", aliceToken, map[string]any{"cron": "bad"}).want(t, 400)
	var agents map[string][]api.Named
	f.do("GET", "/v1/agents", aliceToken, nil).want(t, 200).decode(t, &agents)
	if fmt.Sprint(agents["agents"]) != "[{echo} {sleep}]" {
		t.Errorf("agents %v", agents)
	}
	var channels map[string][]api.Named
	f.do("GET", "/v1/channels", aliceToken, nil).want(t, 200).decode(t, &channels)
	if fmt.Sprint(channels["channels"]) != "[{log}]" {
		t.Errorf("channels %v", channels)
	}
}

func TestWebhookSourceOfAnUnknownAgentIsRefused(t *testing.T) {
	f := newFixture(t)
	for _, src := range []webhook.Source{
		{Name: "gh", Verifier: webhook.Insecure(), Agent: "nope", Owner: "ops"},
		{Name: "gh", Verifier: webhook.Insecure(), Agent: "echo", Owner: "ops", Targets: []delivery.Target{{Channel: "pager"}}},
	} {
		_, err := api.New(api.Config{Scheduler: f.h.Scheduler, Authenticator: api.AuthenticatorFunc(func(*http.Request) (scheduler.Principal, error) {
			return scheduler.Principal{}, nil
		}), Webhooks: []webhook.Source{src}})
		if err == nil || !strings.Contains(err.Error(), "Sources[0] (gh)") {
			t.Errorf("source %+v: New = %v, want it refused", src, err)
		}
	}
}

func TestWebhookThroughTheAPI(t *testing.T) {
	f := newFixture(t, fixtureOptions{webhooks: []webhook.Source{{Name: "hook", Verifier: webhook.Insecure(), Agent: "echo",
		Owner: "alice", DeliveryIDHeader: "X-Delivery", Targets: []delivery.Target{{Channel: "log"}}}}})
	post := func() map[string]any {
		req := httptest.NewRequest("POST", "/v1/webhooks/hook", strings.NewReader(`{"x":1}`))
		req.Header.Set("X-Delivery", "d-1")
		rec := httptest.NewRecorder()
		f.api.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("webhook: %d %s", rec.Code, rec.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	first, again := post(), post()
	if first["duplicate"] != false || again["duplicate"] != true || first["run_id"] != again["run_id"] {
		t.Fatalf("first %v, again %v", first, again)
	}
	runID := first["run_id"].(string)
	f.h.WaitFinished(runID, store.RunSucceeded)
	var run api.RunDetail
	f.do("GET", "/v1/runs/"+runID, aliceToken, nil).want(t, 200).decode(t, &run)
	if run.Kind != "webhook" || len(run.Deliver) != 1 || run.Deliver[0].Channel != "log" {
		t.Errorf("run %+v: want a webhook run delivered to log", run)
	}
	var events api.EventList
	f.do("GET", "/v1/events", aliceToken, nil).want(t, 200).decode(t, &events)
	if len(events.Events) != 1 || events.Events[0].Body != nil {
		t.Fatalf("alice's events %+v: want one, without its body", events)
	}
	f.do("GET", "/v1/events", bobToken, nil).want(t, 200).decode(t, &events)
	if len(events.Events) != 0 {
		t.Errorf("bob sees %d events of alice's", len(events.Events))
	}
	id := first["event_id"].(string)
	f.do("GET", "/v1/events/"+id, bobToken, nil).want(t, 404)
	var ev api.Event
	f.do("GET", "/v1/events/"+id, opsToken, nil).want(t, 200).decode(t, &ev)
	if ev.Body == nil || *ev.Body != `{"x":1}` || *ev.BodyEncoding != "utf-8" {
		t.Errorf("the admin's event %+v: want its body", ev)
	}
}
