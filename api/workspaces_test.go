package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
)

const botToken = "xoxb-0000-super-secret-bot-token"

func TestWorkspaces(t *testing.T) {
	f := newFixture(t, fixtureOptions{backfill: true})
	put := map[string]any{"name": "Acme", "bot_token": botToken, "owner": "alice"}
	f.do("PUT", "/v1/workspaces/T0ACME", aliceToken, put).want(t, 403).problem(t)
	var ws api.Workspace
	r := f.do("PUT", "/v1/workspaces/T0ACME", opsToken, put).want(t, 201)
	r.decode(t, &ws)
	if ws.ID != "T0ACME" || ws.Owner != "alice" || ws.Source != "slack" || ws.KeyID != "k1" {
		t.Fatalf("workspace %+v", ws)
	}
	f.do("PUT", "/v1/workspaces/T0ACME", opsToken, put).want(t, 200)
	f.do("PUT", "/v1/workspaces/T0BOB", opsToken, map[string]any{"bot_token": botToken + "2", "owner": "bob"}).want(t, 201)
	for _, c := range []struct {
		body  any
		field string
	}{
		{map[string]any{"name": "x"}, "bot_token"},
		{map[string]any{"bot_token": "has space"}, "bot_token"},
		{map[string]any{"bot_token": botToken, "extra": 1}, "extra"},
	} {
		if p := f.do("PUT", "/v1/workspaces/T0ACME", opsToken, c.body).want(t, 400).problem(t); p.Errors[0].Field != c.field {
			t.Errorf("%v: errors %+v", c.body, p.Errors)
		}
	}
	f.do("PUT", "/v1/workspaces/bad%20id", opsToken, put).want(t, 400)

	// Isolation: alice sees hers only; bob's is 404 to her.
	var list api.WorkspaceList
	f.do("GET", "/v1/workspaces", aliceToken, nil).want(t, 200).decode(t, &list)
	if len(list.Workspaces) != 1 || list.Workspaces[0].ID != "T0ACME" {
		t.Fatalf("alice's workspaces %+v", list)
	}
	f.do("GET", "/v1/workspaces", opsToken, nil).want(t, 200).decode(t, &list)
	if len(list.Workspaces) != 2 {
		t.Fatalf("the admin's workspaces %+v", list)
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/workspaces/T0BOB"}, {"POST", "/v1/workspaces/T0BOB/backfill"},
		{"GET", "/v1/workspaces/T0BOB/messages?channel=C1"}, {"DELETE", "/v1/workspaces/T0BOB"},
	} {
		f.do(c.method, c.path, aliceToken, nil).want(t, 404).problem(t)
	}
	// A backfill of bob's workspace, as a run or a schedule of alice's, names no workspace of hers.
	p := f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": backfill.AgentName,
		"payload": map[string]any{"workspace_id": "T0BOB"}}).want(t, 400).problem(t)
	if p.Errors[0].Field != "payload.workspace_id" {
		t.Errorf("errors %+v", p.Errors)
	}
	p = f.do("POST", "/v1/runs", aliceToken, map[string]any{"agent": backfill.AgentName,
		"payload": map[string]any{"workspace_id": "T0ACME", "days_to_backfill": 0}}).want(t, 400).problem(t)
	if p.Errors[0].Field != "payload.days_to_backfill" {
		t.Errorf("errors %+v", p.Errors)
	}

	// Run one now: a run of alice's with the workspace in its payload.
	var acc api.RunAccepted
	f.do("POST", "/v1/workspaces/T0ACME/backfill", aliceToken, map[string]any{"days_to_backfill": 3}).want(t, 202).decode(t, &acc)
	run := f.h.WaitFinished(acc.RunID, store.RunSucceeded)
	if run.Owner != "alice" || run.Agent != backfill.AgentName || !strings.Contains(string(run.Payload), `"workspace_id":"T0ACME"`) {
		t.Errorf("backfill run %+v (payload %s)", run, run.Payload)
	}

	// One active backfill schedule per workspace.
	sched := map[string]any{"name": "nightly", "agent": backfill.AgentName, "cron": "0 2 * * *",
		"payload": map[string]any{"workspace_id": "T0ACME", "days_to_backfill": 7}}
	first := f.createSchedule(aliceToken, sched)
	sched["name"] = "again"
	p = f.do("POST", "/v1/schedules", aliceToken, sched).want(t, 409).problem(t)
	if !strings.Contains(p.Detail, "already has an active backfill schedule") {
		t.Errorf("detail %q", p.Detail)
	}
	sched["paused"] = true
	second := f.createSchedule(aliceToken, sched)
	f.do("POST", "/v1/schedules/"+second.ID+"/resume", aliceToken, nil).want(t, 409)
	if s, _ := f.h.Scheduler.GetSchedule(context.Background(), scheduler.Principal{Subject: "ops", Admin: true}, second.ID); !s.Paused {
		t.Error("the refused resume left the second schedule active")
	}
	f.do("POST", "/v1/schedules/"+first.ID+"/pause", aliceToken, nil).want(t, 200)
	f.do("POST", "/v1/schedules/"+second.ID+"/resume", aliceToken, nil).want(t, 200)

	// Messages need a channel; the token appears in no answer.
	f.do("GET", "/v1/workspaces/T0ACME/messages", aliceToken, nil).want(t, 400)
	var msgs api.MessageList
	f.do("GET", "/v1/workspaces/T0ACME/messages?channel=C1", aliceToken, nil).want(t, 200).decode(t, &msgs)
	for _, path := range []string{"/v1/workspaces", "/v1/workspaces/T0ACME", "/v1/runs/" + acc.RunID} {
		if body := string(f.do("GET", path, opsToken, nil).body); strings.Contains(body, "super-secret") {
			t.Errorf("GET %s shows the token: %s", path, body)
		}
	}
	f.do("DELETE", "/v1/workspaces/T0ACME", aliceToken, nil).want(t, 403)
	f.do("DELETE", "/v1/workspaces/T0ACME", opsToken, nil).want(t, http.StatusNoContent)
	f.do("GET", "/v1/workspaces/T0ACME", opsToken, nil).want(t, 404)
}
