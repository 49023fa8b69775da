package dashboard_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/api/auth"
	"github.com/heraldhq/herald/dashboard"
	"github.com/heraldhq/herald/scheduler/schedulertest"
)

// pages are the pages every signed-in user can open.
var pages = []struct{ path, heading string }{
	{"/", "<h1>Overview</h1>"},
	{"/schedules", "<h1>Schedules</h1>"},
	{"/schedules/new", "<h1>New schedule</h1>"},
	{"/runs", "<h1>Runs</h1>"},
	{"/events", "<h1>Webhook events</h1>"},
}

// hostile is a name and payload that would run script if not escaped.
const hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>`

// fill gives the fixture a bit of everything: schedules of alice and bob
// (one hostile, one paused), finished, failed and running runs, progress,
// deliveries and a webhook event.
func fill(t *testing.T, f *fixture) (aliceSched, bobSched *api.Schedule, runID string) {
	t.Helper()
	aliceSched = f.createSchedule(aliceToken, map[string]any{"name": hostile, "agent": "echo", "cron": "0 9 * * 1-5",
		"timezone": "Europe/Paris", "payload": map[string]any{"note": hostile}, "deliver": []map[string]string{{"channel": "log", "to": "ops"}}})
	bobSched = f.createSchedule(bobToken, map[string]any{"name": "bob-report", "agent": "fail", "every": "15m"})
	f.apiCall(bobToken, "POST", "/v1/schedules/"+bobSched.ID+"/pause", nil, nil)
	f.createSchedule(aliceToken, map[string]any{"name": "once", "agent": "echo", "at": "2026-03-01T10:00:00Z"})
	runID = f.runNow(aliceToken, aliceSched.ID)
	f.waitRun(runID, func(r *api.RunDetail) bool { return r.Status == "succeeded" && len(r.Deliveries) > 0 })
	failed := f.runNow(bobToken, bobSched.ID)
	f.waitRun(failed, func(r *api.RunDetail) bool { return r.Status == "failed" })
	var acc api.RunAccepted
	f.apiCall(aliceToken, "POST", "/v1/runs", map[string]any{"agent": "backfill"}, &acc)
	f.waitRun(acc.RunID, func(r *api.RunDetail) bool { return r.Status == "running" && r.Progress["channels_total"] == 4 })
	req, _ := http.NewRequest("POST", f.srv.URL+"/v1/webhooks/hook", strings.NewReader(`{"secret":"`+hostile+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Delivery", "d-1")
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("webhook: %d", res.StatusCode)
	}
	return aliceSched, bobSched, acc.RunID
}

// TestOverviewIsTheViewersSummary checks the overview's figures: a user's
// are their own, an admin's everyone's.
func TestOverviewIsTheViewersSummary(t *testing.T) {
	f := newFixture(t)
	aliceSched, _, _ := fill(t, f)
	// The webhook's run of alice's ends too.
	var hooked api.RunList
	f.apiCall(aliceToken, "GET", "/v1/runs?kind=webhook", nil, &hooked)
	if len(hooked.Runs) != 1 {
		t.Fatalf("%d webhook runs, want 1", len(hooked.Runs))
	}
	f.waitRun(hooked.Runs[0].ID, func(r *api.RunDetail) bool { return r.Status == "succeeded" })
	day := func(body, status string) string {
		m := regexp.MustCompile(`status=` + status + `&amp;window=24h">(\d+)<`).FindStringSubmatch(body)
		if m == nil {
			t.Fatalf("the overview has no day count of %s", status)
		}
		return m[1]
	}
	fires := regexp.MustCompile(`<li>[^<]*<time[^>]*>[^<]*</time> <a href="/schedules/([^"]+)">`)
	for _, tc := range []struct {
		token, who, failed string
		agents             []string
		notAgents          []string
	}{
		{aliceToken, "alice", "0", []string{">echo<"}, []string{">fail<"}},
		{opsToken, "ops", "1", []string{">echo<", ">fail<", "100%"}, nil},
	} {
		_, body := f.signIn(tc.token).get("/")
		if got := day(body, "succeeded"); got != "2" {
			t.Errorf("%s: %s succeeded in the day, want 2", tc.who, got)
		}
		if got := day(body, "failed"); got != tc.failed {
			t.Errorf("%s: %s failed in the day, want %s", tc.who, got, tc.failed)
		}
		for _, w := range tc.agents {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the overview lacks %q", tc.who, w)
			}
		}
		for _, w := range tc.notAgents {
			if strings.Contains(body, w) {
				t.Errorf("%s: the overview shows %q", tc.who, w)
			}
		}
		// Bob's schedule is paused: the ten fire times are all of alice's
		// weekday schedule.
		got := fires.FindAllStringSubmatch(body, -1)
		if len(got) != 10 {
			t.Errorf("%s: %d fire times, want 10", tc.who, len(got))
		}
		for _, m := range got {
			if m[1] != aliceSched.ID {
				t.Errorf("%s: a fire time of %s, want of %s", tc.who, m[1], aliceSched.ID)
			}
		}
	}
}

func TestPagesRenderEmpty(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	for _, p := range pages {
		code, body := c.get(p.path)
		if code != http.StatusOK || !strings.Contains(body, p.heading) {
			t.Errorf("GET %s: %d, heading %q missing", p.path, code, p.heading)
		}
	}
	_, body := c.get("/schedules")
	if !strings.Contains(body, "No schedules yet") {
		t.Error("empty schedules page says nothing")
	}
	_, body = c.get("/runs")
	if !strings.Contains(body, "No runs match") {
		t.Error("empty runs page says nothing")
	}
}

func TestPagesRenderFull(t *testing.T) {
	f := newFixture(t)
	aliceSched, _, progressRun := fill(t, f)
	for _, tc := range []struct {
		token string
		who   string
	}{{aliceToken, "alice"}, {opsToken, "ops"}} {
		c := f.signIn(tc.token)
		for _, p := range pages {
			code, body := c.get(p.path)
			if code != http.StatusOK || !strings.Contains(body, p.heading) {
				t.Errorf("%s: GET %s: %d", tc.who, p.path, code)
			}
		}
		code, body := c.get("/schedules/" + aliceSched.ID)
		if code != http.StatusOK || !strings.Contains(body, "Weekdays at 09:00") || !strings.Contains(body, "CET") {
			t.Errorf("%s: schedule page: %d, want the trigger in words and the times in its zone", tc.who, code)
		}
		code, body = c.get("/runs/" + progressRun)
		if code != http.StatusOK || !strings.Contains(body, `<progress max="4" value="0">`) {
			t.Errorf("%s: run page: %d, want a progress bar", tc.who, code)
		}
	}
	ops := f.signIn(opsToken)
	_, body := ops.get("/")
	for _, want := range []string{"fail", "100%", "<svg class=\"spark\""} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	_, body = ops.get("/runs?status=failed")
	if !strings.Contains(body, "<td>bob</td>") || strings.Contains(body, `"st ok">succeeded<`) {
		t.Error("runs filter by status does not filter")
	}
	_, body = ops.get("/runs?agent=backfill&kind=enqueue")
	if !strings.Contains(body, "<td>backfill</td>") || strings.Contains(body, "<td>echo</td>") {
		t.Error("runs filter by agent and kind does not filter")
	}
	_, body = ops.get("/runs?window=all&since=2000-01-01T00:00&until=2000-01-02T00:00")
	if !strings.Contains(body, "No runs match") {
		t.Error("runs filter by time does not filter")
	}
	_, body = ops.get("/runs?schedule=" + aliceSched.ID)
	if !strings.Contains(body, "<td>echo</td>") || strings.Contains(body, "<td>fail</td>") {
		t.Error("runs filter by schedule does not filter")
	}
}

func TestEscapesHostileText(t *testing.T) {
	f := newFixture(t)
	aliceSched, _, _ := fill(t, f)
	var runs api.RunList
	f.apiCall(aliceToken, "GET", "/v1/runs?schedule_id="+aliceSched.ID, nil, &runs)
	var events api.EventList
	f.apiCall(opsToken, "GET", "/v1/events", nil, &events)
	c := f.signIn(opsToken)
	for _, path := range []string{"/", "/schedules", "/schedules/" + aliceSched.ID, "/runs", "/runs/" + runs.Runs[0].ID,
		"/events", "/events/" + events.Events[0].ID} {
		code, body := c.get(path)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s: hostile text unescaped", path)
		}
	}
	_, body := c.get("/schedules/" + aliceSched.ID)
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x") {
		t.Error("the hostile name is not shown escaped")
	}
	_, body = c.get("/events/" + events.Events[0].ID)
	if !strings.Contains(body, `{&#34;secret&#34;:&#34;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;`) {
		t.Error("the hostile webhook body is not shown escaped")
	}
}

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	res, body := c.do(req)
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") {
		t.Error("CSP allows inline")
	}
	for _, inline := range []string{"<script>", " style=", "<style", " onclick=", "javascript:"} {
		if strings.Contains(body, inline) {
			t.Errorf("page holds inline %q", inline)
		}
	}
}

func TestSignIn(t *testing.T) {
	f := newFixture(t, fixtureOptions{tls: true})
	c := f.newClient()
	req, _ := http.NewRequest("GET", f.srv.URL+"/runs?status=failed", nil)
	res, _ := c.do(req)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/signin?next=%2Fruns%3Fstatus%3Dfailed" {
		t.Fatalf("not signed in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	code, body, _ := c.signIn("hrld_wrong")
	if code != http.StatusUnauthorized || !strings.Contains(body, "not accepted") {
		t.Errorf("wrong token: %d", code)
	}
	// The sign-in form needs its own CSRF token.
	code, _, _ = c.post("/signin", url.Values{"token": {aliceToken}, "csrf": {"forged"}})
	if code != http.StatusForbidden {
		t.Errorf("forged sign-in: %d, want 403", code)
	}
	_, page := c.get("/signin")
	tok := csrfField.FindStringSubmatch(page)[1]
	req, _ = http.NewRequest("POST", f.srv.URL+"/signin", strings.NewReader(url.Values{"csrf": {tok}, "token": {aliceToken},
		"next": {"//evil.example/x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, _ = c.do(req)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Errorf("sign in with a foreign next: %d to %q, want /", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == "herald_session" {
			session = ck
		}
	}
	if session == nil || !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure (TLS) and SameSite=Strict", session)
	}
	if strings.Contains(session.Value, aliceToken) {
		t.Error("the session cookie holds the token in the clear")
	}
	code, body = c.get("/")
	if code != http.StatusOK || !strings.Contains(body, "alice") {
		t.Fatalf("signed in: %d", code)
	}
	c.csrf = csrfField.FindStringSubmatch(body)[1]
	code, _, loc := c.action("/signout", nil)
	if code != http.StatusSeeOther || loc != "/signin" {
		t.Errorf("sign out: %d to %q", code, loc)
	}
	code, _ = c.get("/")
	if code != http.StatusSeeOther {
		t.Errorf("after sign out: %d, want a redirect to sign in", code)
	}
}

func TestSessionCookieNotSecureWithoutTLS(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	_, page := c.get("/signin")
	req, _ := http.NewRequest("POST", f.srv.URL+"/signin", strings.NewReader(url.Values{
		"csrf": {csrfField.FindStringSubmatch(page)[1]}, "token": {aliceToken}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, _ := c.do(req)
	for _, ck := range res.Cookies() {
		if ck.Name == "herald_session" && (ck.Secure || !ck.HttpOnly) {
			t.Errorf("cookie over plain HTTP: %+v", ck)
		}
	}
}

func TestCSRFRefused(t *testing.T) {
	f := newFixture(t)
	s := f.createSchedule(aliceToken, map[string]any{"name": "guarded", "agent": "echo", "every": "1h"})
	alice := f.signIn(aliceToken)
	bob := f.signIn(bobToken)
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers []string
	}{
		{"no token", url.Values{}, nil},
		{"wrong token", url.Values{"csrf": {"AAAA"}}, nil},
		{"another session's token", url.Values{"csrf": {bob.csrf}}, nil},
		{"cross-site", url.Values{"csrf": {alice.csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"foreign origin", url.Values{"csrf": {alice.csrf}}, []string{"Origin", "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/schedules/" + s.ID + "/pause", "/schedules/" + s.ID + "/run", "/schedules/new"} {
				code, _, _ := alice.post(path, tc.form, tc.headers...)
				if code != http.StatusForbidden {
					t.Errorf("POST %s: %d, want 403", path, code)
				}
			}
		})
	}
	var got api.Schedule
	f.apiCall(aliceToken, "GET", "/v1/schedules/"+s.ID, nil, &got)
	var runs api.RunList
	f.apiCall(aliceToken, "GET", "/v1/runs", nil, &runs)
	if got.Paused || len(runs.Runs) != 0 {
		t.Fatal("a refused form changed something")
	}
	code, _, loc := alice.action("/schedules/"+s.ID+"/pause", nil)
	if code != http.StatusSeeOther || !strings.Contains(loc, "done=paused") {
		t.Fatalf("pause with the token: %d to %q", code, loc)
	}
	f.apiCall(aliceToken, "GET", "/v1/schedules/"+s.ID, nil, &got)
	if !got.Paused {
		t.Error("pause did not pause")
	}
}

func TestIsolation(t *testing.T) {
	f := newFixture(t)
	aliceSched, bobSched, _ := fill(t, f)
	bob := f.signIn(bobToken)
	for _, path := range []string{"/", "/schedules", "/runs", "/runs?window=all", "/events"} {
		_, body := bob.get(path)
		if strings.Contains(body, aliceSched.ID) || strings.Contains(body, "&lt;script&gt;") || strings.Contains(body, ">alice<") {
			t.Errorf("bob sees alice's records on %s", path)
		}
	}
	if code, _ := bob.get("/schedules/" + aliceSched.ID); code != http.StatusNotFound {
		t.Errorf("bob opens alice's schedule: %d, want 404", code)
	}
	for _, verb := range []string{"pause", "run", "delete"} {
		if code, _, _ := bob.action("/schedules/"+aliceSched.ID+"/"+verb, nil); code != http.StatusNotFound {
			t.Errorf("bob's %s of alice's schedule: %d, want 404", verb, code)
		}
	}
	_, body := bob.get("/schedules")
	if !strings.Contains(body, bobSched.ID) {
		t.Error("bob does not see his own schedule")
	}
	ops := f.signIn(opsToken)
	_, body = ops.get("/schedules")
	if !strings.Contains(body, aliceSched.ID) || !strings.Contains(body, bobSched.ID) {
		t.Error("the admin does not see every schedule")
	}
}

func TestEventBodyToAdminsOnly(t *testing.T) {
	f := newFixture(t)
	fill(t, f)
	var events api.EventList
	f.apiCall(opsToken, "GET", "/v1/events", nil, &events)
	path := "/events/" + events.Events[0].ID
	_, body := f.signIn(aliceToken).get(path)
	if strings.Contains(body, "secret") || !strings.Contains(body, "admins only") {
		t.Error("a user sees a webhook's body")
	}
	_, body = f.signIn(opsToken).get(path)
	if !strings.Contains(body, "secret") || !strings.Contains(body, "d-1") {
		t.Error("the admin does not see the webhook's body")
	}
}

func TestScheduleForm(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	form := url.Values{"name": {"nightly"}, "agent": {"echo"}, "kind": {"cron"}, "when": {"61 * * * *"},
		"timezone": {"Mars/Olympus"}, "payload": {`{"a":`}, "overlap": {"skip"}, "misfire": {"run_once"}}
	code, body, _ := c.action("/schedules/new", form)
	if code != http.StatusBadRequest || !strings.Contains(body, `id="payload-error"`) {
		t.Fatalf("bad payload: %d", code)
	}
	form.Set("payload", `{"a":1}`)
	code, body, _ = c.action("/schedules/new", form)
	if code != http.StatusBadRequest || !strings.Contains(body, `id="when-error"`) && !strings.Contains(body, `id="timezone-error"`) {
		t.Fatalf("bad cron: %d: %s", code, body)
	}
	if !strings.Contains(body, `value="nightly"`) {
		t.Error("the form lost what was typed")
	}
	form.Set("when", "0 2 * * *")
	form.Set("timezone", "Europe/Paris")
	form.Set("deliver", "log ops failure\n")
	code, _, loc := c.action("/schedules/new", form)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/schedules/") {
		t.Fatalf("create: %d to %q", code, loc)
	}
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/schedules/")
	var s api.Schedule
	f.apiCall(aliceToken, "GET", "/v1/schedules/"+id, nil, &s)
	if s.Name != "nightly" || deref(s.Cron) != "0 2 * * *" || len(s.Deliver) != 1 || s.Deliver[0].On != "failure" {
		t.Fatalf("created %+v", s)
	}
	// Edit: the trigger changes kind; a stale version is a conflict.
	form.Set("kind", "every")
	form.Set("when", "30m")
	form.Set("version", "1")
	code, _, _ = c.action("/schedules/"+id, form)
	if code != http.StatusSeeOther {
		t.Fatalf("edit: %d", code)
	}
	f.apiCall(aliceToken, "GET", "/v1/schedules/"+id, nil, &s)
	if s.Cron != nil || s.Every == nil || time.Duration(*s.Every) != 30*time.Minute {
		t.Fatalf("edited %+v", s)
	}
	code, body, _ = c.action("/schedules/"+id, form)
	if code != http.StatusBadRequest || !strings.Contains(body, "version") && !strings.Contains(body, "conflicts") {
		t.Errorf("stale edit: %d", code)
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func TestPreview(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	code, body, _ := c.action("/schedules/preview", url.Values{"kind": {"cron"}, "when": {"0 9 * * *"}, "timezone": {"Europe/Paris"}})
	if code != http.StatusOK || strings.Count(body, "<li>") != 5 || !strings.Contains(body, "09:00:00 CET") {
		t.Fatalf("preview: %d %s", code, body)
	}
	code, body, _ = c.action("/schedules/preview", url.Values{"kind": {"cron"}, "when": {"nope"}})
	if code != http.StatusOK || !strings.Contains(body, `class="errors"`) {
		t.Fatalf("bad preview: %d %s", code, body)
	}
	if code, _, _ := c.post("/schedules/preview", url.Values{"kind": {"cron"}, "when": {"0 9 * * *"}}); code != http.StatusForbidden {
		t.Errorf("preview without CSRF: %d", code)
	}
}

func TestButtons(t *testing.T) {
	f := newFixture(t)
	s := f.createSchedule(aliceToken, map[string]any{"name": "buttons", "agent": "slow", "every": "1h"})
	c := f.signIn(aliceToken)
	code, _, loc := c.action("/schedules/"+s.ID+"/run", nil)
	if code != http.StatusSeeOther || !strings.Contains(loc, "done=queued") {
		t.Fatalf("run now: %d to %q", code, loc)
	}
	var runs api.RunList
	f.apiCall(aliceToken, "GET", "/v1/runs", nil, &runs)
	if len(runs.Runs) != 1 {
		t.Fatalf("%d runs", len(runs.Runs))
	}
	id := runs.Runs[0].ID
	f.waitRun(id, func(r *api.RunDetail) bool { return r.Status == "running" })
	_, body := c.get("/runs/" + id)
	if !strings.Contains(body, "Cancel run") {
		t.Error("a running run has no cancel button")
	}
	code, _, _ = c.action("/runs/"+id+"/cancel", url.Values{"reason": {"enough"}})
	if code != http.StatusSeeOther {
		t.Fatalf("cancel: %d", code)
	}
	r := f.waitRun(id, func(r *api.RunDetail) bool { return r.Status == "cancelled" })
	if deref(r.Error) != "enough" {
		t.Errorf("cancel reason %q", deref(r.Error))
	}
	for _, verb := range []string{"pause", "resume"} {
		if code, _, _ := c.action("/schedules/"+s.ID+"/"+verb, nil); code != http.StatusSeeOther {
			t.Errorf("%s: %d", verb, code)
		}
	}
	code, _, loc = c.action("/schedules/"+s.ID+"/delete", nil)
	if code != http.StatusSeeOther || loc != "/schedules?done=deleted" {
		t.Errorf("delete: %d to %q", code, loc)
	}
	if code := f.apiCall(aliceToken, "GET", "/v1/schedules/"+s.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("deleted schedule: %d", code)
	}
}

func TestLiveStream(t *testing.T) {
	f := newFixture(t, fixtureOptions{live: 10 * time.Millisecond})
	s := f.createSchedule(aliceToken, map[string]any{"name": "live", "agent": "slow", "every": "1h"})
	c := f.signIn(aliceToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/live?u="+url.QueryEscape("/schedules/"+s.ID), nil)
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("live: %d %s", res.StatusCode, ct)
	}
	events := make(chan string, 16)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		var ev strings.Builder
		for sc.Scan() {
			line := sc.Text()
			if line == "" {
				if ev.Len() > 0 {
					events <- ev.String()
				}
				ev.Reset()
				continue
			}
			ev.WriteString(line + "\n")
		}
	}()
	next := func(want string) string {
		t.Helper()
		deadline := time.After(schedulertest.WaitTimeout)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("stream ended waiting for %q", want)
				}
				if strings.Contains(ev, want) {
					return ev
				}
			case <-deadline:
				t.Fatalf("no event with %q", want)
			}
		}
	}
	next("No runs yet")
	id := f.runNow(aliceToken, s.ID)
	ev := next(id[len(id)-8:])
	if !strings.HasPrefix(ev, "event: update\ndata: ") {
		t.Errorf("event %q", ev)
	}
	if !strings.Contains(ev, ">running<") {
		next(">running<")
	}
	f.release <- struct{}{}
	next(">succeeded<")
	// Deleting the schedule ends the stream with "gone".
	f.apiCall(aliceToken, "DELETE", "/v1/schedules/"+s.ID, nil, nil)
	next("event: gone")
}

func TestLiveStreamEndsOnClose(t *testing.T) {
	f := newFixture(t, fixtureOptions{live: time.Hour})
	c := f.signIn(aliceToken)
	req, _ := http.NewRequest("GET", f.srv.URL+"/live?u=%2Fruns", nil)
	res, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	done := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(res.Body).ReadString(0)
		done <- err
	}()
	f.dash.Close()
	f.dash.Close() // twice is fine
	select {
	case <-done:
	case <-time.After(schedulertest.WaitTimeout):
		t.Fatal("the stream outlived Close")
	}
	if code, _ := c.get("/live?u=%2Fruns"); code != http.StatusServiceUnavailable {
		t.Errorf("a stream after Close: %d", code)
	}
}

func TestLiveStreamRefusesForeignPages(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	for _, u := range []string{"https://evil.example/", "//evil.example/", "/live?u=/", "relative"} {
		if code, _ := c.get("/live?u=" + url.QueryEscape(u)); code != http.StatusBadRequest {
			t.Errorf("u=%s: %d", u, code)
		}
	}
}

func TestLivePartOnly(t *testing.T) {
	f := newFixture(t)
	c := f.signIn(aliceToken)
	req, _ := http.NewRequest("GET", f.srv.URL+"/runs", nil)
	req.Header.Set("X-Herald-Live", "1")
	res, body := c.do(req)
	if res.StatusCode != 200 || strings.Contains(body, "<html") || !strings.Contains(body, "No runs match") {
		t.Errorf("live part: %d %q", res.StatusCode, body)
	}
}

func TestForwardCredentials(t *testing.T) {
	f := newFixture(t)
	// The embedding service authenticates by a header its proxy sets.
	authn := api.AuthenticatorFunc(func(r *http.Request) (p schedulerPrincipal, err error) {
		switch r.Header.Get("X-User") {
		case "alice":
			return schedulerPrincipal{Subject: "alice"}, nil
		}
		return p, auth.ErrNoCredentials
	})
	a, err := api.New(api.Config{Scheduler: f.h.Scheduler, Authenticator: authn})
	if err != nil {
		t.Fatal(err)
	}
	_ = a
	d, err := dashboard.New(dashboard.Config{API: forwardingAPI{a}, Authenticator: authn, ForwardCredentials: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	s := f.createSchedule(aliceToken, map[string]any{"name": "forwarded", "agent": "echo", "every": "1h"})
	req := newRequest("GET", "/schedules")
	req.Header.Set("X-User", "alice")
	rec := serve(d, req)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), s.ID) || strings.Contains(rec.Body.String(), "Sign out") {
		t.Errorf("forwarded: %d", rec.Code)
	}
	if rec := serve(d, newRequest("GET", "/schedules")); rec.Code != http.StatusUnauthorized {
		t.Errorf("no credentials: %d", rec.Code)
	}
	if rec := serve(d, newRequest("GET", "/signin")); rec.Code != http.StatusNotFound {
		t.Errorf("sign-in page with forwarded credentials: %d", rec.Code)
	}
}

func TestNewChecksConfig(t *testing.T) {
	f := newFixture(t)
	tokens, _ := auth.NewTokens([]auth.Token{{Subject: "x", Hash: auth.HashToken("x")}})
	for _, cfg := range []dashboard.Config{
		{Authenticator: tokens},
		{API: f.api},
		{API: f.api, Authenticator: tokens, SessionKey: []byte("short")},
		{API: f.api, Authenticator: tokens, Path: "ops"},
		{API: f.api, Authenticator: tokens, LiveInterval: -1},
	} {
		if _, err := dashboard.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	f := newFixture(t)
	c := f.newClient()
	for _, name := range []string{"dashboard.css", "dashboard.js", "favicon.svg"} {
		code, body := c.get("/static/" + name)
		if code != 200 || len(body) == 0 {
			t.Errorf("%s: %d", name, code)
		}
	}
	if code, _ := c.get("/static/nope.js"); code != 404 {
		t.Errorf("missing asset: %d", code)
	}
	var _ = json.Valid
}
