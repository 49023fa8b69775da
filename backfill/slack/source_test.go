package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Unix(1_750_000_000, 0)

// fixture is a fake workspace, a fake clock it shares, and a Source
// reading it.
type fixture struct {
	server *slacktest.Server
	clock  *clocktest.Clock
	source *slack.Source
	waits  *waits
}

// waits records what OnWait reports.
type waits struct {
	mu   sync.Mutex
	list []string
}

func (w *waits) add(method string, d time.Duration) {
	w.mu.Lock()
	w.list = append(w.list, fmt.Sprintf("%s %v", method, d))
	w.mu.Unlock()
}

func (w *waits) get() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.list...)
}

func newFixture(t *testing.T, ws *slacktest.Workspace, configure ...func(*slack.Config)) *fixture {
	t.Helper()
	clock := clocktest.New(epoch)
	ws.Clock = clock
	server := slacktest.New(t, ws)
	cfg := slack.Config{
		Token:      server.Token(),
		BaseURL:    server.URL(),
		HTTPClient: server.Client(),
		Clock:      clock,
	}
	for _, f := range configure {
		f(&cfg)
	}
	source, err := slack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := &waits{}
	source.OnWait(w.add)
	return &fixture{server: server, clock: clock, source: source, waits: w}
}

func ts6(n int) string { return fmt.Sprintf("1700000%03d.000000", n) }

// workspace has a public channel C1 of ten messages (ts6(1)…ts6(10)),
// ts6(5) a thread of three replies (one broadcast), ts6(7) a bot message
// with a hand-written Raw, ts6(2) a join; a private channel C2, a private
// channel C3 the bot is not in, an archived channel C4, a public channel C5
// the bot is not in.
func workspace() *slacktest.Workspace {
	var msgs []slacktest.Message
	for i := 1; i <= 10; i++ {
		m := slacktest.Message{TS: ts6(i), User: "U1", Text: fmt.Sprint("m", i)}
		switch i {
		case 2:
			m.Subtype = "channel_join"
		case 5:
			m.Replies = []slacktest.Message{
				{TS: "1700000005.000100", User: "U2", Text: "r1"},
				{TS: "1700000005.000200", User: "U1", Text: "r2", Subtype: "thread_broadcast"},
				{TS: "1700000005.000300", User: "U3", Text: "r3"},
			}
		case 7:
			m = slacktest.Message{TS: ts6(7), User: "", BotID: "B1", Subtype: "bot_message", Text: "deployed",
				Raw: json.RawMessage(`{"type":"message", "subtype":"bot_message","bot_id":"B1","text":"deployed","ts":"1700000007.000000","x_unknown":{"a":[1, 2]}}`)}
		}
		msgs = append(msgs, m)
	}
	return &slacktest.Workspace{
		Channels: []slacktest.Channel{
			{ID: "C1", Name: "general", Member: true, Messages: msgs},
			{ID: "C2", Name: "secret", Private: true, Member: true},
			{ID: "C3", Name: "hidden", Private: true},
			{ID: "C4", Name: "old", Archived: true, Member: true},
			{ID: "C5", Name: "outside"},
		},
		Users: map[string]string{"U1": "Ann", "U2": "Bob", "U3": "Cy", "U4": "Di", "U5": "Ed"},
	}
}

func TestChannels(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pageSize int
		archived bool
		want     []backfill.Channel
		calls    int
	}{
		{"one page", 0, false, []backfill.Channel{
			{ID: "C1", Name: "general", Member: true},
			{ID: "C2", Name: "secret", Private: true, Member: true},
			{ID: "C5", Name: "outside"},
		}, 1},
		{"archived, pages of two", 2, true, []backfill.Channel{
			{ID: "C1", Name: "general", Member: true},
			{ID: "C2", Name: "secret", Private: true, Member: true},
			{ID: "C4", Name: "old", Archived: true, Member: true},
			{ID: "C5", Name: "outside"},
		}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := workspace()
			ws.PageSize = tc.pageSize
			f := newFixture(t, ws)
			got, err := f.source.Channels(context.Background(), backfill.ChannelsParams{IncludeArchived: tc.archived})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("channels:\n got %+v\nwant %+v", got, tc.want)
			}
			reqs := f.server.Requests(slack.MethodConversationsList)
			if len(reqs) != tc.calls {
				t.Fatalf("%d conversations.list calls, want %d", len(reqs), tc.calls)
			}
			p := reqs[0].Params
			if p.Get("types") != "public_channel,private_channel" || p.Get("limit") != "999" ||
				p.Has("exclude_archived") == tc.archived {
				t.Fatalf("params %v", p)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t, workspace())
	ctx := context.Background()
	var got []backfill.Message
	cursor, pages := "", 0
	for {
		page, err := f.source.History(ctx, backfill.HistoryParams{
			Channel: "C1", Oldest: ts6(1), Latest: ts6(10), Cursor: cursor, Limit: 3,
		})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, page.Messages...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	var tss []string
	for _, m := range got {
		tss = append(tss, m.TS)
	}
	want := []string{ts6(9), ts6(8), ts6(7), ts6(6), "1700000005.000200", ts6(5), ts6(4), ts6(3), ts6(2)}
	if !reflect.DeepEqual(tss, want) || pages != 3 {
		t.Fatalf("%d pages of %v, want 3 of %v", pages, tss, want)
	}
	for _, r := range f.server.Requests(slack.MethodConversationsHistory) {
		p := r.Params
		if p.Get("channel") != "C1" || p.Get("oldest") != ts6(1) || p.Get("latest") != ts6(10) ||
			p.Get("limit") != "3" || p.Get("inclusive") != "0" {
			t.Fatalf("request %d params %v", r.Seq, p)
		}
	}

	byTS := map[string]backfill.Message{}
	for _, m := range got {
		byTS[m.TS] = m
	}
	if m := byTS[ts6(5)]; m.ThreadTS != ts6(5) || m.ReplyCount != 3 || m.LatestReply != "1700000005.000300" || m.User != "U1" || m.Text != "m5" {
		t.Errorf("thread parent %+v", m)
	}
	if m := byTS["1700000005.000200"]; m.Subtype != "thread_broadcast" || m.ThreadTS != ts6(5) {
		t.Errorf("broadcast %+v", m)
	}
	if m := byTS[ts6(2)]; m.Subtype != "channel_join" {
		t.Errorf("join %+v", m)
	}
	bot := byTS[ts6(7)]
	if bot.BotID != "B1" || bot.Subtype != "bot_message" || bot.User != "" || bot.Text != "deployed" {
		t.Errorf("bot message %+v", bot)
	}
	// Raw is the message exactly as sent: spacing and unknown fields kept.
	if want := `{"type":"message", "subtype":"bot_message","bot_id":"B1","text":"deployed","ts":"1700000007.000000","x_unknown":{"a":[1, 2]}}`; string(bot.Raw) != want {
		t.Errorf("Raw = %s", bot.Raw)
	}
	for _, m := range got {
		var v struct {
			TS string `json:"ts"`
		}
		if err := json.Unmarshal(m.Raw, &v); err != nil || v.TS != m.TS {
			t.Errorf("message %s: Raw %s", m.TS, m.Raw)
		}
	}

	t.Run("default limit", func(t *testing.T) {
		if _, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"}); err != nil {
			t.Fatal(err)
		}
		reqs := f.server.Requests(slack.MethodConversationsHistory)
		if p := reqs[len(reqs)-1].Params; p.Get("limit") != fmt.Sprint(slack.PageSizeDefault) || p.Has("oldest") || p.Has("cursor") {
			t.Fatalf("params %v", p)
		}
	})
	t.Run("required channel", func(t *testing.T) {
		if _, err := f.source.History(ctx, backfill.HistoryParams{}); err == nil {
			t.Fatal("no error without a channel")
		}
	})
}

func TestReplies(t *testing.T) {
	f := newFixture(t, workspace())
	ctx := context.Background()
	var tss []string
	cursor := ""
	for {
		page, err := f.source.Replies(ctx, backfill.RepliesParams{Channel: "C1", ThreadTS: ts6(5), Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Messages {
			tss = append(tss, m.TS)
			if m.ThreadTS != ts6(5) {
				t.Errorf("message %s: ThreadTS %q", m.TS, m.ThreadTS)
			}
		}
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	want := []string{ts6(5), "1700000005.000100", "1700000005.000200", "1700000005.000300"}
	if !reflect.DeepEqual(tss, want) {
		t.Fatalf("replies %v, want %v", tss, want)
	}
	reqs := f.server.Requests(slack.MethodConversationsReplies)
	if len(reqs) != 2 || reqs[0].Params.Get("ts") != ts6(5) || reqs[1].Params.Get("cursor") == "" {
		t.Fatalf("requests %+v", reqs)
	}
	page, err := f.source.Replies(ctx, backfill.RepliesParams{Channel: "C1", ThreadTS: ts6(5), Oldest: "1700000005.000100", Latest: "1700000005.000300"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 2 || page.Messages[1].TS != "1700000005.000200" {
		t.Fatalf("bounded replies %+v", page.Messages)
	}
	_, err = f.source.Replies(ctx, backfill.RepliesParams{Channel: "C1", ThreadTS: "1699999999.000000"})
	if !errors.Is(err, backfill.ErrChannel) || !errors.Is(err, &slack.Error{Code: "thread_not_found"}) {
		t.Fatalf("unknown thread: %v", err)
	}
}

func TestUserName(t *testing.T) {
	ctx := context.Background()
	t.Run("users.info, cached", func(t *testing.T) {
		f := newFixture(t, workspace())
		for range 3 {
			for id, want := range map[string]string{"U1": "Ann", "U2": "Bob"} {
				got, err := f.source.UserName(ctx, id)
				if err != nil || got != want {
					t.Fatalf("%s: %q, %v", id, got, err)
				}
			}
		}
		if n, m := f.server.Count(slack.MethodUsersInfo), f.server.Count(slack.MethodUsersList); n != 2 || m != 0 {
			t.Fatalf("%d users.info, %d users.list calls; want 2, 0", n, m)
		}
		_, err := f.source.UserName(ctx, "U404")
		_, err2 := f.source.UserName(ctx, "U404")
		var e *slack.Error
		if !errors.As(err, &e) || e.Code != "user_not_found" || err2 == nil || f.server.Count(slack.MethodUsersInfo) != 3 {
			t.Fatalf("unknown user: %v, %v, %d calls", err, err2, f.server.Count(slack.MethodUsersInfo))
		}
		if errors.Is(err, backfill.ErrWorkspace) || errors.Is(err, backfill.ErrChannel) {
			t.Fatalf("user_not_found classified: %v", err)
		}
	})
	t.Run("users.list after N distinct users", func(t *testing.T) {
		ws := workspace()
		ws.PageSize = 2
		f := newFixture(t, ws, func(c *slack.Config) { c.UsersListAfter = 2 })
		for _, id := range []string{"U1", "U2", "U3", "U4", "U5", "U1", "U5"} {
			if _, err := f.source.UserName(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		// U1 and U2 one by one; U3 reads the directory (three pages of
		// two); U4 and U5 come from it.
		if n, m := f.server.Count(slack.MethodUsersInfo), f.server.Count(slack.MethodUsersList); n != 2 || m != 3 {
			t.Fatalf("%d users.info, %d users.list calls; want 2, 3", n, m)
		}
		if got, _ := f.source.UserName(ctx, "U4"); got != "Di" {
			t.Fatalf("U4 = %q", got)
		}
		// A user missing from the directory falls back to users.info, once.
		_, _ = f.source.UserName(ctx, "U9")
		if n, m := f.server.Count(slack.MethodUsersInfo), f.server.Count(slack.MethodUsersList); n != 3 || m != 3 {
			t.Fatalf("after a miss: %d users.info, %d users.list calls; want 3, 3", n, m)
		}
	})
	t.Run("never users.list", func(t *testing.T) {
		f := newFixture(t, workspace(), func(c *slack.Config) { c.UsersListAfter = -1 })
		for _, id := range []string{"U1", "U2", "U3", "U4", "U5"} {
			if _, err := f.source.UserName(ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		if n, m := f.server.Count(slack.MethodUsersInfo), f.server.Count(slack.MethodUsersList); n != 5 || m != 0 {
			t.Fatalf("%d users.info, %d users.list calls; want 5, 0", n, m)
		}
	})
	t.Run("concurrent lookups", func(t *testing.T) {
		f := newFixture(t, slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 1, Users: 300}),
			func(c *slack.Config) { c.UsersListAfter = 5 })
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for u := range 40 {
					id := fmt.Sprintf("U%07d", (u*7+g)%300)
					if name, err := f.source.UserName(ctx, id); err != nil || name == "" {
						t.Errorf("%s: %q %v", id, name, err)
					}
				}
			})
		}
		wg.Wait()
		if m := f.server.Count(slack.MethodUsersList); m != 2 {
			t.Fatalf("%d users.list calls, want 2 (one read of 300 users)", m)
		}
	})
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		channel   string
		setup     func(*slacktest.Workspace)
		code      string
		workspace bool
		channelE  bool
	}{
		{"not a member", "C5", nil, "not_in_channel", false, true},
		{"no such channel", "C9", nil, "channel_not_found", false, true},
		{"channel error", "C1", func(ws *slacktest.Workspace) { ws.Channels[0].Error = "is_archived" }, "is_archived", false, true},
		{"wrong token", "C1", func(ws *slacktest.Workspace) { ws.Token = "xoxb-someone-else" }, "invalid_auth", true, false},
		{"missing scope", "C1", func(ws *slacktest.Workspace) { ws.Channels[0].Error = "missing_scope" }, "missing_scope", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := workspace()
			if tc.setup != nil {
				tc.setup(ws)
			}
			f := newFixture(t, ws, func(c *slack.Config) { c.Token = slacktest.DefaultToken })
			_, err := f.source.History(ctx, backfill.HistoryParams{Channel: tc.channel})
			var e *slack.Error
			if !errors.As(err, &e) || e.Code != tc.code || e.Method != slack.MethodConversationsHistory {
				t.Fatalf("err = %v, want code %s", err, tc.code)
			}
			if want := "slack: conversations.history: " + tc.code; err.Error() != want {
				t.Fatalf("Error() = %q, want %q", err, want)
			}
			if errors.Is(err, backfill.ErrWorkspace) != tc.workspace || errors.Is(err, backfill.ErrChannel) != tc.channelE {
				t.Fatalf("classification of %v: workspace %v channel %v", err, errors.Is(err, backfill.ErrWorkspace), errors.Is(err, backfill.ErrChannel))
			}
			if n := f.server.Count(slack.MethodConversationsHistory); n != 1 {
				t.Fatalf("%d calls: an ok:false error must not be retried", n)
			}
		})
	}
	t.Run("token revoked mid-run", func(t *testing.T) {
		f := newFixture(t, workspace())
		if _, err := f.source.Channels(ctx, backfill.ChannelsParams{}); err != nil {
			t.Fatal(err)
		}
		f.server.RevokeToken()
		_, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
		if !errors.Is(err, backfill.ErrWorkspace) || !errors.Is(err, &slack.Error{Code: "token_revoked"}) {
			t.Fatalf("err = %v", err)
		}
		if _, err := f.source.UserName(ctx, "U1"); !errors.Is(err, backfill.ErrWorkspace) {
			t.Fatalf("UserName: %v", err)
		}
	})
	t.Run("5xx retried with back-off", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{{Method: slack.MethodConversationsHistory, At: 1, Count: 2, Status: 503}}
		f := newFixture(t, ws)
		if _, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"}); err != nil {
			t.Fatal(err)
		}
		// Back-off of 1 s then 2 s; the first retry also waits for its
		// Tier 3 slot (1.2 s after the first call), and only that wait is
		// a rate-limit wait.
		if got, want := f.clock.Slept(), []time.Duration{time.Second, 200 * time.Millisecond, 2 * time.Second}; !reflect.DeepEqual(got, want) {
			t.Fatalf("slept %v, want %v", got, want)
		}
		if got, want := f.waits.get(), []string{"conversations.history 200ms"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("waits reported %v, want %v", got, want)
		}
	})
	t.Run("5xx given up", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{{Method: slack.MethodConversationsHistory, At: 1, Count: 100, Status: 500}}
		f := newFixture(t, ws)
		_, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
		if err == nil || errors.Is(err, backfill.ErrChannel) || errors.Is(err, backfill.ErrWorkspace) {
			t.Fatalf("err = %v", err)
		}
		if n := f.server.Count(slack.MethodConversationsHistory); n != 4 {
			t.Fatalf("%d calls, want 4 (one and three retries)", n)
		}
	})
	t.Run("network error", func(t *testing.T) {
		ws := workspace()
		f := newFixture(t, ws)
		f.server.Close()
		_, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
		if err == nil || errors.Is(err, backfill.ErrChannel) || errors.Is(err, backfill.ErrWorkspace) {
			t.Fatalf("err = %v", err)
		}
		var backoff []time.Duration
		for _, d := range f.clock.Slept() {
			if d >= time.Second {
				backoff = append(backoff, d)
			}
		}
		if want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !reflect.DeepEqual(backoff, want) {
			t.Fatalf("back-off %v, want %v", f.clock.Slept(), want)
		}
	})
}

func TestErrorIs(t *testing.T) {
	for _, tc := range []struct {
		method, code       string
		workspace, channel bool
	}{
		{slack.MethodConversationsHistory, "invalid_auth", true, false},
		{slack.MethodConversationsList, "not_authed", true, false},
		{slack.MethodUsersInfo, "account_inactive", true, false},
		{slack.MethodConversationsReplies, "token_revoked", true, false},
		{slack.MethodConversationsHistory, "token_expired", true, false},
		{slack.MethodConversationsList, "missing_scope", true, false},
		{slack.MethodUsersList, "missing_scope", true, false},
		{slack.MethodConversationsHistory, "missing_scope", false, true},
		{slack.MethodConversationsReplies, "missing_scope", false, true},
		{slack.MethodConversationsHistory, "not_in_channel", false, true},
		{slack.MethodConversationsHistory, "channel_not_found", false, true},
		{slack.MethodConversationsReplies, "thread_not_found", false, true},
		{slack.MethodConversationsHistory, "is_archived", false, true},
		{slack.MethodConversationsHistory, "ratelimited", false, false},
		{slack.MethodUsersInfo, "user_not_found", false, false},
		{slack.MethodConversationsHistory, "internal_error", false, false},
	} {
		err := fmt.Errorf("page: %w", &slack.Error{Method: tc.method, Code: tc.code})
		if got := errors.Is(err, backfill.ErrWorkspace); got != tc.workspace {
			t.Errorf("%s %s: Is(ErrWorkspace) = %v", tc.method, tc.code, got)
		}
		if got := errors.Is(err, backfill.ErrChannel); got != tc.channel {
			t.Errorf("%s %s: Is(ErrChannel) = %v", tc.method, tc.code, got)
		}
		if !errors.Is(err, &slack.Error{Code: tc.code}) || !errors.Is(err, &slack.Error{Method: tc.method, Code: tc.code}) {
			t.Errorf("%s %s: does not match its own code", tc.method, tc.code)
		}
		if errors.Is(err, &slack.Error{Method: "other.method", Code: tc.code}) || errors.Is(err, &slack.Error{Code: "other"}) {
			t.Errorf("%s %s: matches another method or code", tc.method, tc.code)
		}
	}
	e := &slack.Error{Method: slack.MethodConversationsHistory, Code: "missing_scope", Needed: "groups:history"}
	if want := "slack: conversations.history: missing_scope (needed groups:history)"; e.Error() != want {
		t.Errorf("Error() = %q", e.Error())
	}
}

func TestRetryAfter(t *testing.T) {
	ctx := context.Background()
	t.Run("waits exactly Retry-After on the clock", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{slacktest.RateLimit429(slack.MethodConversationsHistory, 1, 1, 7)}
		f := newFixture(t, ws)
		start := time.Now()
		if _, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %v of real time", d)
		}
		if got, want := f.waits.get(), []string{"conversations.history 7s"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("waits reported %v, want %v", got, want)
		}
		reqs := f.server.Requests(slack.MethodConversationsHistory)
		if len(reqs) != 2 || reqs[0].Status != 429 || reqs[1].Status != 200 || reqs[1].Time.Sub(reqs[0].Time) != 7*time.Second {
			t.Fatalf("requests %+v", reqs)
		}
	})
	t.Run("no Retry-After waits a minute", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{slacktest.RateLimit429(slack.MethodConversationsReplies, 1, 1, -1)}
		f := newFixture(t, ws)
		if _, err := f.source.Replies(ctx, backfill.RepliesParams{Channel: "C1", ThreadTS: ts6(5)}); err != nil {
			t.Fatal(err)
		}
		if got, want := f.waits.get(), []string{"conversations.replies 1m0s"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("waits %v, want %v", got, want)
		}
	})
	t.Run("Retry-After forms", func(t *testing.T) {
		for value, want := range map[string]string{
			"0":                 "1s",
			"12":                "12s",
			"soon":              "1m0s",
			"99999999999999999": "1m0s",
			epoch.Add(30 * time.Second).UTC().Format(http.TimeFormat): "30s",
		} {
			ws := workspace()
			ws.Faults = []slacktest.Fault{{Method: slack.MethodUsersInfo, At: 1, Status: 429, RetryAfter: value}}
			f := newFixture(t, ws)
			if _, err := f.source.UserName(ctx, "U1"); err != nil {
				t.Fatal(err)
			}
			if got := f.waits.get(); !reflect.DeepEqual(got, []string{"users.info " + want}) {
				t.Errorf("Retry-After %q: waits %v, want %s", value, got, want)
			}
		}
	})
	t.Run("ok:false ratelimited is retried", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{{Method: slack.MethodConversationsList, At: 1, Code: "ratelimited"}}
		f := newFixture(t, ws)
		if _, err := f.source.Channels(ctx, backfill.ChannelsParams{}); err != nil {
			t.Fatal(err)
		}
		if n := f.server.Count(slack.MethodConversationsList); n != 2 {
			t.Fatalf("%d calls, want 2", n)
		}
	})
	t.Run("MaxRetries", func(t *testing.T) {
		ws := workspace()
		ws.Faults = []slacktest.Fault{slacktest.RateLimit429(slack.MethodConversationsHistory, 1, 100, 3)}
		f := newFixture(t, ws, func(c *slack.Config) { c.MaxRetries = 2 })
		_, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
		if !errors.Is(err, &slack.Error{Code: "ratelimited"}) || errors.Is(err, backfill.ErrChannel) || errors.Is(err, backfill.ErrWorkspace) {
			t.Fatalf("err = %v", err)
		}
		if n := f.server.Count(slack.MethodConversationsHistory); n != 3 {
			t.Fatalf("%d calls, want 3", n)
		}
		if got := len(f.waits.get()); got != 2 {
			t.Fatalf("%d waits reported, want 2", got)
		}
	})
	t.Run("the fake's own limits are never hit", func(t *testing.T) {
		// The fake refuses (429) anything over Slack's tiers; the Source
		// must keep under them without being told.
		ws := slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 2000, Users: 300})
		ws.RateLimits = map[string]int{slack.MethodConversationsHistory: 50, slack.MethodUsersInfo: 100}
		f := newFixture(t, ws, func(c *slack.Config) { c.UsersListAfter = -1 })
		cursor := ""
		for range 60 {
			p, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C0000000", Cursor: cursor, Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			cursor = p.Next
		}
		for u := range 120 {
			if _, err := f.source.UserName(ctx, fmt.Sprintf("U%07d", u)); err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range f.server.Requests("") {
			if r.Status != 200 {
				t.Fatalf("request %d (%s) answered %d", r.Seq, r.Method, r.Status)
			}
		}
	})
}

func TestRateLimits(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		method    string
		perMinute int
		call      func(*slack.Source, int) error
	}{
		{slack.MethodConversationsList, 20, func(s *slack.Source, _ int) error {
			_, err := s.Channels(ctx, backfill.ChannelsParams{})
			return err
		}},
		{slack.MethodConversationsHistory, 50, func(s *slack.Source, _ int) error {
			_, err := s.History(ctx, backfill.HistoryParams{Channel: "C0000000"})
			return err
		}},
		{slack.MethodConversationsReplies, 50, func(s *slack.Source, _ int) error {
			_, err := s.Replies(ctx, backfill.RepliesParams{Channel: "C0000000", ThreadTS: slacktest.TS(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))})
			return err
		}},
		{slack.MethodUsersInfo, 100, func(s *slack.Source, i int) error {
			_, err := s.UserName(ctx, fmt.Sprintf("U%07d", i))
			return err
		}},
	} {
		t.Run(tc.method, func(t *testing.T) {
			ws := slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 10, Users: 100})
			f := newFixture(t, ws, func(c *slack.Config) { c.UsersListAfter = -1 })
			for i := range 100 {
				if err := tc.call(f.source, i); err != nil {
					t.Fatal(err)
				}
			}
			reqs := f.server.Requests(tc.method)
			if len(reqs) != 100 {
				t.Fatalf("%d requests, want 100", len(reqs))
			}
			if n := f.server.MaxInWindow(tc.method, time.Minute); n > tc.perMinute {
				t.Fatalf("%d requests within a minute, limit %d", n, tc.perMinute)
			}
			span := reqs[99].Time.Sub(reqs[0].Time)
			if want := 99 * time.Minute / time.Duration(tc.perMinute); span < want || span > want+time.Second {
				t.Fatalf("100 requests spanned %v, want %v", span, want)
			}
			if got := len(f.waits.get()); got != 99 {
				t.Fatalf("%d waits reported, want 99", got)
			}
		})
	}
	t.Run("RateLimits override", func(t *testing.T) {
		f := newFixture(t, workspace(), func(c *slack.Config) {
			c.RateLimits = map[string]float64{slack.MethodConversationsHistory: 6}
		})
		for range 3 {
			if _, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C1"}); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := f.waits.get(), []string{"conversations.history 10s", "conversations.history 10s"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("waits %v, want %v", got, want)
		}
	})
}

func TestNonMarketplace(t *testing.T) {
	ctx := context.Background()
	ws := slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 100})
	ws.NonMarketplace = true
	f := newFixture(t, ws, func(c *slack.Config) { c.NonMarketplace = true })
	cursor := ""
	for range 3 {
		page, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C0000000", Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Messages) != 15 {
			t.Fatalf("%d messages a page, want 15", len(page.Messages))
		}
		cursor = page.Next
	}
	for range 2 {
		if _, err := f.source.Replies(ctx, backfill.RepliesParams{Channel: "C0000000", ThreadTS: "1735689600.000000"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range f.server.Requests("") {
		if r.Params.Get("limit") != "15" {
			t.Fatalf("request %d (%s) asked limit %s", r.Seq, r.Method, r.Params.Get("limit"))
		}
	}
	for _, m := range []string{slack.MethodConversationsHistory, slack.MethodConversationsReplies} {
		if n := f.server.MaxInWindow(m, time.Minute); n != 1 {
			t.Fatalf("%s: %d requests within a minute, want 1", m, n)
		}
	}
	want := []string{"conversations.history 1m0s", "conversations.history 1m0s", "conversations.replies 1m0s"}
	if got := f.waits.get(); !reflect.DeepEqual(got, want) {
		t.Fatalf("waits %v, want %v", got, want)
	}
}

func TestTokenNeverShown(t *testing.T) {
	const token = "xoxb-1111111111-2222222222-SeCrEtToKeNvAlUe"
	var logged bytes.Buffer
	ws := workspace()
	ws.Token = token
	ws.Faults = []slacktest.Fault{
		slacktest.RateLimit429(slack.MethodConversationsList, 1, 1, 1),
		{Method: slack.MethodConversationsList, At: 2, Status: 502},
	}
	logger := log.NewLogfmtLogger(log.NewSyncWriter(&logged))
	f := newFixture(t, ws, func(c *slack.Config) { c.Token = token; c.Logger = logger })
	ctx := context.Background()

	var shown []string
	show := func(v any) {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			shown = append(shown, fmt.Sprintf(verb, v))
		}
	}
	cfg := slack.Config{Token: token, BaseURL: f.server.URL(), RateLimits: map[string]float64{slack.MethodUsersInfo: 1}}
	show(cfg)
	show(&cfg)
	show(f.source)
	show(struct{ C slack.Config }{cfg})
	shown = append(shown, cfg.String(), cfg.GoString(), f.source.String())
	logger.Log("config", cfg, "source", f.source)

	if _, err := f.source.Channels(ctx, backfill.ChannelsParams{}); err != nil {
		t.Fatal(err)
	}
	_, err := f.source.History(ctx, backfill.HistoryParams{Channel: "C5"})
	show(err)
	_, err = f.source.UserName(ctx, "U404")
	show(err)
	f.server.RevokeToken()
	_, err = f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
	show(err)
	for _, bad := range []slack.Config{
		{Token: token, BaseURL: "ftp://x"},
		{Token: token, RateLimits: map[string]float64{"chat.postMessage": 1}},
		{Token: token + " "},
	} {
		_, err := slack.New(bad)
		show(err)
	}
	f.server.Close()
	_, err = f.source.History(ctx, backfill.HistoryParams{Channel: "C1"})
	show(err)

	shown = append(shown, logged.String())
	if !strings.Contains(logged.String(), "retrying") {
		t.Fatalf("expected the retries to be logged: %s", logged.String())
	}
	for _, s := range shown {
		if strings.Contains(s, token) || strings.Contains(s, "SeCrEt") || strings.Contains(strings.ToLower(s), fmt.Sprintf("%x", token)) {
			t.Fatalf("token shown in %q", s)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", cfg), "[REDACTED]") {
		t.Fatalf("%%+v of Config: %+v", cfg)
	}
}

func TestCancel(t *testing.T) {
	// The real clock: a cancelled wait must return at once.
	for _, tc := range []struct {
		name  string
		ws    func() *slacktest.Workspace
		cfg   slack.Config
		calls int
	}{
		{"Retry-After", func() *slacktest.Workspace {
			ws := workspace()
			ws.Faults = []slacktest.Fault{slacktest.RateLimit429(slack.MethodConversationsHistory, 1, 1, 3600)}
			return ws
		}, slack.Config{}, 1},
		{"limiter", workspace, slack.Config{NonMarketplace: true}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			server := slacktest.New(t, tc.ws())
			cfg := tc.cfg
			cfg.Token, cfg.BaseURL, cfg.HTTPClient = server.Token(), server.URL(), server.Client()
			source, err := slack.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			for i := 1; i < tc.calls; i++ {
				if _, err := source.History(ctx, backfill.HistoryParams{Channel: "C1"}); err != nil {
					t.Fatal(err)
				}
			}
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			_, err = source.History(ctx, backfill.HistoryParams{Channel: "C1"})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("returned after %v", d)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  slack.Config
		ok   bool
	}{
		{"defaults", slack.Config{Token: "xoxb-1"}, true},
		{"no token", slack.Config{}, false},
		{"base URL without slash", slack.Config{Token: "xoxb-1", BaseURL: "http://127.0.0.1:1/api"}, true},
		{"bad base URL", slack.Config{Token: "xoxb-1", BaseURL: "slack.com/api"}, false},
		{"base URL with a query", slack.Config{Token: "xoxb-1", BaseURL: "https://slack.com/api/?a=b"}, false},
		{"unknown method", slack.Config{Token: "xoxb-1", RateLimits: map[string]float64{"chat.postMessage": 1}}, false},
		{"zero rate", slack.Config{Token: "xoxb-1", RateLimits: map[string]float64{slack.MethodUsersInfo: 0}}, false},
		{"negative retries", slack.Config{Token: "xoxb-1", MaxRetries: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := slack.New(tc.cfg)
			if (err == nil) != tc.ok || (s != nil) != tc.ok {
				t.Fatalf("New: %v, %v", s, err)
			}
		})
	}
	if got := slack.RateLimitsDefault(true)[slack.MethodConversationsHistory]; got != 1 {
		t.Errorf("non-Marketplace history rate %v", got)
	}
	if got := slack.RateLimitsDefault(false); got[slack.MethodConversationsList] != 20 || got[slack.MethodConversationsReplies] != 50 || got[slack.MethodUsersInfo] != 100 {
		t.Errorf("default rates %v", got)
	}
}

func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	ws := slacktest.Generate(slacktest.GenerateParams{Channels: 4, Messages: 200, Users: 30})
	f := newFixture(t, ws, func(c *slack.Config) { c.UsersListAfter = 10 })
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			channel := fmt.Sprintf("C%07d", c)
			cursor, n := "", 0
			for {
				page, err := f.source.History(ctx, backfill.HistoryParams{Channel: channel, Cursor: cursor, Limit: 50})
				if err != nil {
					t.Error(err)
					return
				}
				for _, m := range page.Messages {
					n++
					if m.User != "" {
						if _, err := f.source.UserName(ctx, m.User); err != nil {
							t.Error(err)
						}
					}
				}
				if cursor = page.Next; cursor == "" {
					break
				}
			}
			if n != 200 {
				t.Errorf("%s: %d messages", channel, n)
			}
		})
	}
	wg.Wait()
}

// BenchmarkHistory reads pages of 200 messages through the Source: the
// cost of slack-go's decoding plus the second pass that cuts Raw from the
// captured body, over loopback HTTP.
func BenchmarkHistory(b *testing.B) {
	ws := slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 100_000})
	server := slacktest.New(b, ws)
	source, err := slack.New(slack.Config{
		Token: server.Token(), BaseURL: server.URL(), HTTPClient: server.Client(),
		RateLimits: map[string]float64{slack.MethodConversationsHistory: math.Inf(1)},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	cursor := ""
	b.ReportAllocs()
	for b.Loop() {
		page, err := source.History(ctx, backfill.HistoryParams{Channel: "C0000000", Cursor: cursor, Limit: 200})
		if err != nil {
			b.Fatal(err)
		}
		cursor = page.Next
	}
}
