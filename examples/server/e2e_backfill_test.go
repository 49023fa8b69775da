//go:build unix

package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/backfill/slack/slacktest"
)

// e2eBackfillToken is the fake Slack workspace's bot token; it must show in
// no answer and no log line of the server.
const e2eBackfillToken = "xoxb-e2e-0000-secret-bot-token"

// e2eBackfill (SQLite: the key is made on first start): an admin registers
// a workspace of alice's with its bot token, alice runs a backfill now and
// reads its progress and the messages, schedules a nightly one, and cannot
// schedule a second; the token shows nowhere.
func e2eBackfill(t *testing.T, bin, dsn string) {
	now := time.Now()
	msg := func(ago time.Duration, user, text string) slacktest.Message {
		return slacktest.Message{TS: slacktest.TS(now.Add(-ago)), User: user, Text: text}
	}
	general := slacktest.Channel{ID: "C0GENERAL", Name: "general", Member: true, Messages: []slacktest.Message{
		msg(3*time.Hour, "U1", "good morning"),
		{TS: slacktest.TS(now.Add(-2 * time.Hour)), User: "U2", Subtype: "channel_join", Text: "<@U2> has joined"},
		{TS: slacktest.TS(now.Add(-time.Hour)), User: "U1", Text: "release at noon?", Replies: []slacktest.Message{
			msg(50*time.Minute, "U2", "yes, at noon")}},
		msg(20*24*time.Hour, "U1", "too old for the window"),
	}}
	secret := slacktest.Channel{ID: "C0SECRET", Name: "secret", Private: false, Member: false,
		Messages: []slacktest.Message{msg(time.Hour, "U2", "not for the bot")}}
	fake := slacktest.New(t, &slacktest.Workspace{Token: e2eBackfillToken, Channels: []slacktest.Channel{general, secret},
		Users: map[string]string{"U1": "ada", "U2": "grace"}})

	srv := startServer(t, bin, dsn, writeConfig(t, e2eConfig(fmt.Sprintf("backfill: {slack: {base_url: %q}}\n", fake.URL()))))
	ops, alice := srv.As(e2eOpsToken), srv.As(e2eAliceToken)
	ops.Do(http.MethodPut, "/v1/workspaces/T0ACME", fmt.Sprintf(`{"name":"Acme","bot_token":%q,"owner":"alice"}`, e2eBackfillToken)).
		Want(http.StatusCreated)

	var acc struct {
		RunID string `json:"run_id"`
	}
	alice.Do(http.MethodPost, "/v1/workspaces/T0ACME/backfill", `{"days_to_backfill":7}`).Want(http.StatusAccepted).JSON(&acc)
	run := alice.WaitRun(acc.RunID, "succeeded", 30*time.Second)
	var full struct {
		Progress map[string]int64 `json:"progress"`
		Output   struct {
			Failures []struct{ Channel string } `json:"failures"`
		} `json:"output"`
		Summary string `json:"summary"`
	}
	alice.Do(http.MethodGet, "/v1/runs/"+acc.RunID, "").Want(http.StatusOK).JSON(&full)
	p := full.Progress
	if p["channels_total"] != 2 || p["channels_processed"] != 2 || p["channels_failed"] != 1 ||
		p["messages_collected"] != 3 || p["messages_skipped"] != 1 || p["threads_followed"] != 1 {
		t.Errorf("progress %v (run %v)", p, run)
	}
	if len(full.Output.Failures) != 1 || full.Output.Failures[0].Channel != "C0SECRET" {
		t.Errorf("failures %+v, want C0SECRET's", full.Output.Failures)
	}
	var msgs struct {
		Messages []struct {
			Text     string  `json:"text"`
			UserName *string `json:"user_name"`
		} `json:"messages"`
	}
	alice.Do(http.MethodGet, "/v1/workspaces/T0ACME/messages?channel=C0GENERAL", "").Want(http.StatusOK).JSON(&msgs)
	var got []string
	for _, m := range msgs.Messages {
		name := ""
		if m.UserName != nil {
			name = *m.UserName
		}
		got = append(got, name+": "+m.Text)
	}
	if want := "ada: good morning|ada: release at noon?|grace: yes, at noon"; strings.Join(got, "|") != want {
		t.Errorf("messages %q, want %q", strings.Join(got, "|"), want)
	}

	// A nightly backfill schedule, and no second one for the workspace.
	body := `{"name":"%s","agent":"slack_backfill","cron":"0 2 * * *","payload":{"workspace_id":"T0ACME"}}`
	alice.Do(http.MethodPost, "/v1/schedules", fmt.Sprintf(body, "nightly")).Want(http.StatusCreated)
	alice.Do(http.MethodPost, "/v1/schedules", fmt.Sprintf(body, "again")).Problem(http.StatusConflict)

	for _, path := range []string{"/v1/workspaces", "/v1/workspaces/T0ACME", "/v1/runs/" + acc.RunID, "/v1/runs?agent=slack_backfill"} {
		if b := ops.Do(http.MethodGet, path, "").Want(http.StatusOK).Body; strings.Contains(string(b), e2eBackfillToken) {
			t.Errorf("GET %s shows the bot token", path)
		}
	}
	srv.Stop()
	if strings.Contains(srv.Stderr(), e2eBackfillToken) || strings.Contains(srv.Stdout(), e2eBackfillToken) {
		t.Error("the server's log shows the bot token")
	}
}
