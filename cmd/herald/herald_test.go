package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/webhook"
)

// missingID is an id no record has.
const missingID = "0190a0a0-0000-7000-8000-000000000000"

func TestSchedules(t *testing.T) {
	f := newFixture(t)

	// create, from flags
	var created api.Schedule
	f.herald(t, "schedules", "create", "-name", "nightly", "-agent", "echo", "-cron", "0 3 * * *",
		"-tz", "Europe/Paris", "-payload", `{"k":1}`, "-deliver", "log/failure:ops", "-timeout", "5m",
		"-max-attempts", "2", "-o", "json").decode(t, &created)
	if created.ID == "" || created.Name != "nightly" || created.Owner != "ops" || str(created.Cron) != "0 3 * * *" ||
		created.Timezone != "Europe/Paris" || rawJSON(created.Payload) != `{"k":1}` || dur(created.Timeout) != "5m0s" ||
		num(created.MaxAttempts) != "2" || len(created.Deliver) != 1 || created.Deliver[0] != (api.Target{Channel: "log", To: "ops", On: "failure"}) {
		t.Fatalf("created %+v", created)
	}

	// create, from a file, a flag replacing one of its fields
	file := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(file, []byte(`{"name": "hourly", "agent": "echo", "cron": "0 * * * *", "payload": {"a": true}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out := f.herald(t, "schedules", "create", "-f", file, "-every", "15m").ok(t)
	if !strings.Contains(out, "every 15m0s") || !strings.Contains(out, "hourly") || !strings.Contains(out, `{"a":true}`) {
		t.Errorf("create -f -every: output\n%s", out)
	}

	// list, text and JSON
	out = f.herald(t, "schedules", "list").ok(t)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(out, "nightly") ||
		!strings.Contains(out, "cron 0 3 * * *") || !strings.Contains(out, "Europe/Paris") {
		t.Errorf("list: output\n%s", out)
	}
	var list api.ScheduleList
	f.herald(t, "-o", "json", "schedules", "list", "-name", "nightly").decode(t, &list)
	if len(list.Schedules) != 1 || list.Schedules[0].ID != created.ID || list.NextCursor != nil {
		t.Errorf("list -name nightly -o json: %+v", list)
	}
	f.herald(t, "schedules", "list", "-limit", "1", "-all", "-o", "json").decode(t, &list)
	if len(list.Schedules) != 2 || list.NextCursor != nil {
		t.Errorf("list -limit 1 -all: %d schedules, next %v; want 2, none", len(list.Schedules), list.NextCursor)
	}
	r := f.herald(t, "schedules", "list", "-limit", "1")
	if n := strings.Count(strings.TrimSpace(r.ok(t)), "\n"); n != 1 || !strings.Contains(r.stderr, "-cursor ") {
		t.Errorf("list -limit 1: %d rows, stderr %q; want 1 and how to read on", n, r.stderr)
	}

	// show, by id and by name
	out = f.herald(t, "schedules", "show", created.ID).ok(t)
	for _, want := range []string{"ID:", created.ID, "Trigger:", "cron 0 3 * * *", "Deliver:", "log/failure:ops", "Next fire times:"} {
		if !strings.Contains(out, want) {
			t.Errorf("show: no %q in\n%s", want, out)
		}
	}
	var shown api.Schedule
	f.herald(t, "schedules", "show", "nightly", "-o", "json").decode(t, &shown)
	if shown.ID != created.ID || len(shown.NextFireTimes) == 0 {
		t.Errorf("show nightly -o json: %+v", shown)
	}

	// pause and resume
	var paused api.Schedule
	f.herald(t, "schedules", "pause", "nightly", "-o", "json").decode(t, &paused)
	if !paused.Paused {
		t.Error("pause: the schedule is not paused")
	}
	if out := f.herald(t, "schedules", "list").ok(t); !strings.Contains(out, "paused") {
		t.Errorf("list after pause: no paused state in\n%s", out)
	}
	out = f.herald(t, "schedules", "resume", created.ID).ok(t)
	if !strings.HasPrefix(out, "Resumed schedule nightly ("+created.ID+")") {
		t.Errorf("resume: %q", out)
	}

	// run now: the run is there
	var accepted api.RunAccepted
	f.herald(t, "schedules", "run", "nightly", "-o", "json").decode(t, &accepted)
	if accepted.RunID == "" {
		t.Fatal("run: no run id")
	}
	var run api.RunDetail
	f.herald(t, "runs", "show", accepted.RunID, "-o", "json").decode(t, &run)
	if str(run.ScheduleID) != created.ID || run.Kind != "manual" {
		t.Errorf("the run of schedules run: %+v", run.Run)
	}

	// delete; then it is not found, by id (exit 3) and by name
	out = f.herald(t, "schedules", "delete", created.ID).ok(t)
	if !strings.Contains(out, "Deleted schedule "+created.ID) {
		t.Errorf("delete: %q", out)
	}
	f.herald(t, "schedules", "show", created.ID).fails(t, exitNotFound, "404 Not found: schedule not found")
	f.herald(t, "schedules", "delete", "nightly").fails(t, exitNotFound, `no schedule has the id or name "nightly"`)
	var deleted map[string]any
	f.herald(t, "schedules", "delete", "hourly", "-o", "json").decode(t, &deleted)
	if deleted["deleted"] != true {
		t.Errorf("delete -o json: %v", deleted)
	}
}

func TestRuns(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Due in an hour of the fake clock: it stays queued.
	queued, err := f.h.Scheduler.Enqueue(ctx, schedulertest.Principal, scheduler.EnqueueRequest{
		Agent: "echo", Payload: json.RawMessage(`{"n":1}`), Owner: "alice", RunAt: f.h.Clock.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}

	out := f.herald(t, "runs", "list").ok(t)
	if !strings.Contains(out, queued.ID) || !strings.Contains(out, "queued") || !strings.HasPrefix(out, "ID ") {
		t.Errorf("runs list:\n%s", out)
	}
	var list api.RunList
	f.herald(t, "runs", "list", "-status", "queued", "-owner", "alice", "-agent", "echo", "-kind", "enqueue",
		"-since", "2025-01-01T00:00:00Z", "-o", "json").decode(t, &list)
	if len(list.Runs) != 1 || list.Runs[0].ID != queued.ID {
		t.Errorf("runs list -status queued -o json: %+v", list)
	}
	f.herald(t, "runs", "list", "-status", "failed", "-o", "json").decode(t, &list)
	if len(list.Runs) != 0 {
		t.Errorf("runs list -status failed: %d runs, want 0", len(list.Runs))
	}

	out = f.herald(t, "runs", "show", queued.ID).ok(t)
	for _, want := range []string{"Status:", "queued", "Owner:", "alice", `{"n":1}`} {
		if !strings.Contains(out, want) {
			t.Errorf("runs show: no %q in\n%s", want, out)
		}
	}

	var cancelled api.Run
	f.herald(t, "runs", "cancel", queued.ID, "-reason", "not needed", "-o", "json").decode(t, &cancelled)
	if cancelled.Status != "cancelled" {
		t.Errorf("runs cancel: status %s, want cancelled", cancelled.Status)
	}
	f.herald(t, "runs", "cancel", queued.ID).fails(t, exitConflict, "409", "the run has already ended")
	f.herald(t, "runs", "show", missingID).fails(t, exitNotFound, "404 Not found: run not found")
	f.herald(t, "runs", "show", "not-an-id").fails(t, exitNotFound, "run not found")
}

func TestEvents(t *testing.T) {
	f := newFixture(t)
	rc, err := f.h.Scheduler.Accept(context.Background(), &webhook.Event{Source: "github", DeliveryID: "d-1",
		Body: []byte(`{}`), Agent: "echo", Owner: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	out := f.herald(t, "events", "list").ok(t)
	if !strings.Contains(out, "github") || !strings.Contains(out, "d-1") || !strings.Contains(out, rc.RunID) {
		t.Errorf("events list:\n%s", out)
	}
	var list api.EventList
	f.herald(t, "events", "list", "-source", "github", "-since", "2025-12-31T00:00:00Z", "-o", "json").decode(t, &list)
	if len(list.Events) != 1 || list.Events[0].DeliveryID != "d-1" || list.Events[0].Owner != "alice" {
		t.Errorf("events list -o json: %+v", list)
	}
	f.herald(t, "events", "list", "-source", "stripe", "-o", "json").decode(t, &list)
	if len(list.Events) != 0 {
		t.Errorf("events list -source stripe: %d events, want 0", len(list.Events))
	}
}

func TestPreview(t *testing.T) {
	f := newFixture(t)
	out := f.herald(t, "preview", "0 9 * * 1-5", "-tz", "Europe/Paris", "-n", "3", "-from", "2026-03-27T00:00:00Z").ok(t)
	// Friday, then Monday and Tuesday after the change to summer time.
	want := "2026-03-27T09:00:00+01:00\n2026-03-30T09:00:00+02:00\n2026-03-31T09:00:00+02:00\n"
	if out != want {
		t.Errorf("preview:\n%s\nwant\n%s", out, want)
	}
	var p api.Preview
	f.herald(t, "preview", "-every", "90m", "-n", "10", "-o", "json").decode(t, &p)
	if len(p.FireTimes) != 10 || p.FireTimes[1].Sub(p.FireTimes[0]) != 90*time.Minute {
		t.Errorf("preview -every 90m -o json: %v", p.FireTimes)
	}
	f.herald(t, "preview", "not a cron").fails(t, exitFailure, "400 Invalid input", "cron:")
}

func TestUnauthorized(t *testing.T) {
	f := newFixture(t)
	f.heraldAs(t, "wrong", "schedules", "list").fails(t, exitForbidden, "401 Missing or invalid credentials", "not valid")
	f.heraldAs(t, "", "runs", "list").fails(t, exitForbidden, "401", "HERALD_TOKEN is not set")
	// A user asking for another owner's records: 403.
	f.heraldAs(t, aliceToken, "runs", "list", "-owner", "ops").fails(t, exitForbidden, "403 Not allowed")
	// A user sees its own.
	f.heraldAs(t, aliceToken, "schedules", "list").ok(t)
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	f.herald(t, "schedules", "show", missingID).fails(t, exitNotFound, "schedule not found")
	f.herald(t, "schedules", "pause", "no-such-name").fails(t, exitNotFound, "no-such-name")
	f.herald(t, "runs", "cancel", missingID).fails(t, exitNotFound, "run not found")
	// An API mounted elsewhere: the route is not found.
	f.herald(t, "-server", f.srv.URL+"/elsewhere", "runs", "list").fails(t, exitNotFound, "no such route")
}

func TestProblemDetails(t *testing.T) {
	f := newFixture(t)
	r := f.herald(t, "schedules", "create", "-name", "x", "-agent", "nobody", "-cron", "61 * * * *")
	r.fails(t, exitFailure, "400 Invalid input")
	if !strings.Contains(r.stderr, "\n  ") {
		t.Errorf("the invalid fields are not listed one a line:\n%s", r.stderr)
	}
	f.herald(t, "schedules", "create", "-name", "dup", "-agent", "echo", "-every", "1h").ok(t)
	f.herald(t, "schedules", "create", "-name", "dup", "-agent", "echo", "-every", "1h").fails(t, exitConflict, "409 Conflict")
}

func TestUsageErrors(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"schedules"}, "missing subcommand"},
		{[]string{"schedules", "frob"}, `unknown subcommand "frob"`},
		{[]string{"schedules", "list", "-bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"schedules", "list", "-limit", "5000"}, "flag -limit"},
		{[]string{"schedules", "list", "-o", "yaml"}, "flag -o"},
		{[]string{"schedules", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"schedules", "show"}, "missing argument"},
		{[]string{"schedules", "create", "-agent", "echo", "-cron", "* * * * *"}, "flag -name is required"},
		{[]string{"schedules", "create", "-name", "n", "-cron", "* * * * *"}, "flag -agent is required"},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo"}, "-cron, -every and -at"},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo", "-cron", "* * * * *", "-every", "1h"}, "flags -cron and -every"},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo", "-every", "soon"}, "flag -every"},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo", "-at", "tomorrow"}, "flag -at"},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo", "-every", "1h", "-payload", "{"}, `invalid value "{" for flag -payload`},
		{[]string{"schedules", "create", "-name", "n", "-agent", "echo", "-every", "1h", "-deliver", "slack"}, "flag -deliver"},
		{[]string{"schedules", "create", "-f", "/nonexistent.json"}, "flag -f"},
		{[]string{"runs", "list", "-since", "yesterday"}, "flag -since"},
		{[]string{"runs", "tail", "-interval", "1ms"}, "flag -interval"},
		{[]string{"preview"}, "missing trigger"},
		{[]string{"preview", "* * * * *", "-n", "0"}, "flag -n"},
		{[]string{"-server", "ftp://x", "runs", "list"}, "flag -server"},
		{[]string{"migrate", "up"}, "flag -db is required"},
		{[]string{"migrate", "sideways"}, `unknown subcommand "sideways"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := f.herald(t, tc.args...)
			r.fails(t, exitUsage, tc.want, "Run 'herald")
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	f := newFixture(t)
	for _, args := range [][]string{{"-h"}, {"help"}, {"runs", "-h"}, {"runs", "tail", "-h"}, {"schedules", "create", "-help"}} {
		out := f.herald(t, args...).ok(t)
		if !strings.Contains(out, "Usage") && !strings.Contains(out, "usage") {
			t.Errorf("%v: no usage in\n%s", args, out)
		}
	}
	if out := f.herald(t, "schedules", "create", "-h").ok(t); !strings.Contains(out, "-deliver") || !strings.Contains(out, "-every") {
		t.Errorf("schedules create -h lists no flags:\n%s", out)
	}
	if out := f.herald(t, "version").ok(t); !strings.HasPrefix(out, "herald ") {
		t.Errorf("version: %q", out)
	}
}

func TestTail(t *testing.T) {
	for _, output := range []string{"text", "json"} {
		t.Run(output, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			old, err := f.h.Scheduler.Enqueue(ctx, schedulertest.Principal, scheduler.EnqueueRequest{
				Agent: "echo", RunAt: f.h.Clock.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}

			var stdout, stderr syncBuffer
			tailCtx, stop := context.WithCancel(ctx)
			done := make(chan int, 1)
			env := map[string]string{envServer: f.srv.URL, envToken: opsToken}
			go func() {
				done <- runEnv(tailCtx, []string{"runs", "tail", "-n", "0", "-interval", "10ms", "-o", output},
					&stdout, &stderr, func(k string) string { return env[k] })
			}()
			defer func() {
				stop()
				select {
				case code := <-done:
					if code != exitOK {
						t.Errorf("tail exited %d; stderr:\n%s", code, stderr.String())
					}
				case <-time.After(schedulertest.WaitTimeout):
					t.Error("tail did not stop when cancelled")
				}
			}()
			// tail has taken its baseline and polled once: the run made
			// now is new to it.
			waitFor(t, "tail's first poll", func() bool { return f.runLists.Load() >= 2 })

			fresh, err := f.h.Scheduler.Enqueue(ctx, schedulertest.Principal, scheduler.EnqueueRequest{
				Agent: "echo", RunAt: f.h.Clock.Now().Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the new run in tail's output", func() bool { return strings.Contains(stdout.String(), fresh.ID) })
			// Its cancellation is followed too.
			if _, err := f.h.Scheduler.CancelRun(ctx, schedulertest.Principal, fresh.ID, "test"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the cancellation in tail's output", func() bool { return strings.Contains(stdout.String(), "cancelled") })
			out := stdout.String()
			if strings.Contains(out, old.ID) {
				t.Errorf("tail -n 0 showed the run that was there before:\n%s", out)
			}
			if output == "json" {
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					var r api.Run
					if err := json.Unmarshal([]byte(line), &r); err != nil || r.ID != fresh.ID {
						t.Errorf("tail -o json line %q: %+v, %v", line, r, err)
					}
				}
			}
		})
	}
}

// TestRunReadsTheEnvironment runs run itself, which reads the process's
// environment.
func TestRunReadsTheEnvironment(t *testing.T) {
	f := newFixture(t)
	t.Setenv(envServer, f.srv.URL)
	t.Setenv(envToken, opsToken)
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"schedules", "list", "-o", "json"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var list api.ScheduleList
	if err := json.Unmarshal([]byte(stdout.String()), &list); err != nil || list.Schedules == nil {
		t.Errorf("schedules list -o json: %q, %v", stdout.String(), err)
	}
}
