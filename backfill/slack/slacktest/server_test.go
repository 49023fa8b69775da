package slacktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/clock/clocktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// answer is the part of a Web API response the tests read.
type answer struct {
	OK       bool              `json:"ok"`
	Error    string            `json:"error"`
	Messages []json.RawMessage `json:"messages"`
	HasMore  bool              `json:"has_more"`
	Channels []struct {
		ID         string `json:"id"`
		IsPrivate  bool   `json:"is_private"`
		IsArchived bool   `json:"is_archived"`
		IsMember   bool   `json:"is_member"`
	} `json:"channels"`
	Members []struct {
		ID      string `json:"id"`
		Profile struct {
			DisplayName string `json:"display_name"`
		} `json:"profile"`
	} `json:"members"`
	User struct {
		ID   string `json:"id"`
		Name string `json:"real_name"`
	} `json:"user"`
	Meta struct {
		NextCursor string `json:"next_cursor"`
	} `json:"response_metadata"`

	status     int
	retryAfter string
}

// call posts a form to the fake with its token, as slack-go does.
func call(t *testing.T, s *slacktest.Server, method string, kv ...string) answer {
	t.Helper()
	form := url.Values{"token": {s.Token()}}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Set(kv[i], kv[i+1])
	}
	return callForm(t, s, method, form)
}

func callForm(t *testing.T, s *slacktest.Server, method string, form url.Values) answer {
	t.Helper()
	resp, err := s.Client().PostForm(s.URL()+method, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a answer
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatalf("%s: %v: %s", method, err, body)
		}
	}
	a.status = resp.StatusCode
	a.retryAfter = resp.Header.Get("Retry-After")
	return a
}

// ts reads the "ts" of each message.
func ts(t *testing.T, msgs []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, m := range msgs {
		var v struct {
			TS string `json:"ts"`
		}
		if err := json.Unmarshal(m, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v.TS)
	}
	return out
}

func ts6(n int) string { return fmt.Sprintf("1700000%03d.000000", n) }

// history is a channel of ten messages, ts6(1)…ts6(10); ts6(5) is a thread
// of three replies, one a broadcast.
func historyWorkspace() *slacktest.Workspace {
	var msgs []slacktest.Message
	for i := 1; i <= 10; i++ {
		m := slacktest.Message{TS: ts6(i), User: "U1", Text: fmt.Sprint("m", i)}
		if i == 5 {
			m.Replies = []slacktest.Message{
				{TS: "1700000005.000300", User: "U3", Text: "r3"},
				{TS: "1700000005.000100", User: "U2", Text: "r1"},
				{TS: "1700000005.000200", User: "U1", Text: "r2", Subtype: "thread_broadcast"},
			}
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
		Users: map[string]string{"U1": "Ann", "U2": "Bob", "U3": "Cy"},
	}
}

func TestHistory(t *testing.T) {
	t.Run("newest first, broadcasts, no replies", func(t *testing.T) {
		s := slacktest.New(t, historyWorkspace())
		a := call(t, s, "conversations.history", "channel", "C1")
		want := []string{ts6(10), ts6(9), ts6(8), ts6(7), ts6(6), "1700000005.000200", ts6(5), ts6(4), ts6(3), ts6(2), ts6(1)}
		if got := ts(t, a.Messages); !reflect.DeepEqual(got, want) {
			t.Fatalf("ts = %v, want %v", got, want)
		}
		if a.HasMore || a.Meta.NextCursor != "" {
			t.Fatalf("has_more %v cursor %q on the only page", a.HasMore, a.Meta.NextCursor)
		}
		var parent struct {
			ThreadTS    string `json:"thread_ts"`
			ReplyCount  int    `json:"reply_count"`
			LatestReply string `json:"latest_reply"`
		}
		if err := json.Unmarshal(a.Messages[6], &parent); err != nil {
			t.Fatal(err)
		}
		if parent.ThreadTS != ts6(5) || parent.ReplyCount != 3 || parent.LatestReply != "1700000005.000300" {
			t.Fatalf("parent = %+v", parent)
		}
	})
	t.Run("bounds are exclusive unless inclusive", func(t *testing.T) {
		s := slacktest.New(t, historyWorkspace())
		a := call(t, s, "conversations.history", "channel", "C1", "oldest", ts6(3), "latest", ts6(6))
		if got, want := ts(t, a.Messages), []string{"1700000005.000200", ts6(5), ts6(4)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("exclusive: %v, want %v", got, want)
		}
		a = call(t, s, "conversations.history", "channel", "C1", "oldest", ts6(3), "latest", ts6(6), "inclusive", "1")
		if got, want := ts(t, a.Messages), []string{ts6(6), "1700000005.000200", ts6(5), ts6(4), ts6(3)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("inclusive: %v, want %v", got, want)
		}
		a = call(t, s, "conversations.history", "channel", "C1", "oldest", "1700000008")
		if got, want := ts(t, a.Messages), []string{ts6(10), ts6(9)}; !reflect.DeepEqual(got, want) {
			t.Fatalf("oldest without fraction: %v, want %v", got, want)
		}
	})
	t.Run("cursor pages cover everything once", func(t *testing.T) {
		s := slacktest.New(t, historyWorkspace())
		var got []string
		cursor, pages := "", 0
		for {
			a := call(t, s, "conversations.history", "channel", "C1", "limit", "3", "cursor", cursor, "oldest", ts6(1))
			if !a.OK {
				t.Fatalf("page %d: %s", pages, a.Error)
			}
			pages++
			got = append(got, ts(t, a.Messages)...)
			if a.HasMore != (a.Meta.NextCursor != "") {
				t.Fatalf("has_more %v with cursor %q", a.HasMore, a.Meta.NextCursor)
			}
			if a.Meta.NextCursor == "" {
				break
			}
			cursor = a.Meta.NextCursor
		}
		want := []string{ts6(10), ts6(9), ts6(8), ts6(7), ts6(6), "1700000005.000200", ts6(5), ts6(4), ts6(3), ts6(2)}
		if !reflect.DeepEqual(got, want) || pages != 4 {
			t.Fatalf("%d pages: %v, want 4: %v", pages, got, want)
		}
	})
	t.Run("limits", func(t *testing.T) {
		ws := slacktest.Generate(slacktest.GenerateParams{Channels: 1, Messages: 300})
		s := slacktest.New(t, ws)
		if n := len(call(t, s, "conversations.history", "channel", "C0000000").Messages); n != 100 {
			t.Fatalf("default limit: %d messages, want 100", n)
		}
		if n := len(call(t, s, "conversations.history", "channel", "C0000000", "limit", "250").Messages); n != 250 {
			t.Fatalf("limit 250: %d messages", n)
		}
		ws.NonMarketplace = true
		ws.PageSize = 0
		s = slacktest.New(t, ws)
		if n := len(call(t, s, "conversations.history", "channel", "C0000000").Messages); n != 15 {
			t.Fatalf("non-Marketplace default: %d messages, want 15", n)
		}
		if n := len(call(t, s, "conversations.history", "channel", "C0000000", "limit", "200").Messages); n != 15 {
			t.Fatalf("non-Marketplace cap: %d messages, want 15", n)
		}
		ws.NonMarketplace = false
		ws.PageSize = 7
		s = slacktest.New(t, ws)
		if n := len(call(t, s, "conversations.history", "channel", "C0000000", "limit", "200").Messages); n != 7 {
			t.Fatalf("PageSize 7: %d messages", n)
		}
	})
	t.Run("errors", func(t *testing.T) {
		s := slacktest.New(t, historyWorkspace())
		for _, tc := range []struct{ channel, cursor, code string }{
			{"C9", "", "channel_not_found"},
			{"C5", "", "not_in_channel"},
			{"C3", "", "channel_not_found"},
			{"C1", "bm9wZQ==", "invalid_cursor"},
		} {
			if a := call(t, s, "conversations.history", "channel", tc.channel, "cursor", tc.cursor); a.OK || a.Error != tc.code {
				t.Errorf("%s: ok %v error %q, want %q", tc.channel, a.OK, a.Error, tc.code)
			}
		}
		s.SetChannelError("C1", "channel_not_found")
		if a := call(t, s, "conversations.history", "channel", "C1"); a.Error != "channel_not_found" {
			t.Errorf("SetChannelError: %q", a.Error)
		}
	})
}

func TestReplies(t *testing.T) {
	for _, every := range []bool{false, true} {
		t.Run(fmt.Sprint("parent on every page ", every), func(t *testing.T) {
			ws := historyWorkspace()
			ws.RepliesParentEveryPage = every
			s := slacktest.New(t, ws)
			a := call(t, s, "conversations.replies", "channel", "C1", "ts", ts6(5))
			want := []string{ts6(5), "1700000005.000100", "1700000005.000200", "1700000005.000300"}
			if got := ts(t, a.Messages); !reflect.DeepEqual(got, want) {
				t.Fatalf("one page: %v, want %v", got, want)
			}
			a = call(t, s, "conversations.replies", "channel", "C1", "ts", ts6(5), "limit", "2")
			if got := ts(t, a.Messages); !reflect.DeepEqual(got, want[:2]) || !a.HasMore {
				t.Fatalf("page 1: %v (has_more %v)", got, a.HasMore)
			}
			a = call(t, s, "conversations.replies", "channel", "C1", "ts", ts6(5), "limit", "2", "cursor", a.Meta.NextCursor)
			wantPage2 := want[2:]
			if every {
				wantPage2 = []string{ts6(5), want[2]}
			}
			if got := ts(t, a.Messages); !reflect.DeepEqual(got, wantPage2) {
				t.Fatalf("page 2: %v, want %v", got, wantPage2)
			}
		})
	}
	t.Run("bounds and lone messages", func(t *testing.T) {
		s := slacktest.New(t, historyWorkspace())
		a := call(t, s, "conversations.replies", "channel", "C1", "ts", ts6(5), "oldest", "1700000005.000100")
		if got, want := ts(t, a.Messages), []string{ts6(5), "1700000005.000200", "1700000005.000300"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("oldest: %v, want %v", got, want)
		}
		a = call(t, s, "conversations.replies", "channel", "C1", "ts", ts6(4))
		if got := ts(t, a.Messages); !reflect.DeepEqual(got, []string{ts6(4)}) {
			t.Fatalf("no replies: %v", got)
		}
		if a := call(t, s, "conversations.replies", "channel", "C1", "ts", "1700000005.000100"); a.Error != "thread_not_found" {
			t.Fatalf("a reply's ts: %q", a.Error)
		}
	})
}

func TestConversationsList(t *testing.T) {
	s := slacktest.New(t, historyWorkspace())
	list := func(kv ...string) []string {
		var ids []string
		cursor := ""
		for {
			a := call(t, s, "conversations.list", append([]string{"cursor", cursor}, kv...)...)
			if !a.OK {
				t.Fatal(a.Error)
			}
			for _, c := range a.Channels {
				ids = append(ids, c.ID)
			}
			if cursor = a.Meta.NextCursor; cursor == "" {
				return ids
			}
		}
	}
	if got := list(); !reflect.DeepEqual(got, []string{"C1", "C4", "C5"}) {
		t.Errorf("default types: %v", got)
	}
	if got := list("types", "public_channel,private_channel", "limit", "2"); !reflect.DeepEqual(got, []string{"C1", "C2", "C4", "C5"}) {
		t.Errorf("with private: %v", got)
	}
	if got := list("types", "public_channel,private_channel", "exclude_archived", "true", "limit", "1"); !reflect.DeepEqual(got, []string{"C1", "C2", "C5"}) {
		t.Errorf("without archived: %v", got)
	}
	// Pages are cut before they are filtered: the page holding only C3
	// (private, not a member) is empty but not the last.
	a := call(t, s, "conversations.list", "types", "public_channel,private_channel", "limit", "1",
		"cursor", call(t, s, "conversations.list", "types", "public_channel,private_channel", "limit", "2").Meta.NextCursor)
	if len(a.Channels) != 0 || a.Meta.NextCursor == "" {
		t.Errorf("sparse page: %d channels, cursor %q", len(a.Channels), a.Meta.NextCursor)
	}
}

func TestUsers(t *testing.T) {
	ws := historyWorkspace()
	ws.PageSize = 2
	s := slacktest.New(t, ws)
	if a := call(t, s, "users.info", "user", "U2"); !a.OK || a.User.Name != "Bob" {
		t.Errorf("users.info: %+v", a)
	}
	if a := call(t, s, "users.info", "user", "U9"); a.Error != "user_not_found" {
		t.Errorf("unknown user: %q", a.Error)
	}
	var names []string
	cursor := ""
	for {
		a := call(t, s, "users.list", "cursor", cursor)
		for _, m := range a.Members {
			names = append(names, m.ID+"="+m.Profile.DisplayName)
		}
		if cursor = a.Meta.NextCursor; cursor == "" {
			break
		}
	}
	if want := []string{"U1=Ann", "U2=Bob", "U3=Cy"}; !reflect.DeepEqual(names, want) {
		t.Errorf("users.list: %v, want %v", names, want)
	}
}

func TestAuth(t *testing.T) {
	s := slacktest.New(t, historyWorkspace())
	if a := callForm(t, s, "auth.test", url.Values{}); a.Error != "not_authed" {
		t.Errorf("no token: %q", a.Error)
	}
	if a := callForm(t, s, "auth.test", url.Values{"token": {"xoxb-wrong"}}); a.Error != "invalid_auth" {
		t.Errorf("wrong token: %q", a.Error)
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"auth.test", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("bearer: %s", body)
	}
	s.RevokeToken()
	if a := call(t, s, "auth.test"); a.Error != "token_revoked" {
		t.Errorf("revoked: %q", a.Error)
	}
	for _, r := range s.Requests("") {
		if r.Params.Has("token") {
			t.Errorf("request %d logged its token", r.Seq)
		}
	}
}

func TestFaultsAndRateLimits(t *testing.T) {
	clock := clocktest.New(time.Unix(1_700_000_000, 0))
	ws := historyWorkspace()
	ws.Clock = clock
	ws.Faults = []slacktest.Fault{
		slacktest.RateLimit429("users.info", 2, 2, 7),
		{Method: "auth.test", At: 1, Status: 503},
		{Method: "conversations.list", At: 1, Code: "ratelimited"},
	}
	ws.RateLimits = map[string]int{"conversations.history": 2}
	s := slacktest.New(t, ws)

	var got []string
	for range 4 {
		a := call(t, s, "users.info", "user", "U1")
		got = append(got, fmt.Sprint(a.status, "/", a.retryAfter))
	}
	if want := []string{"200/", "429/7", "429/7", "200/"}; !reflect.DeepEqual(got, want) {
		t.Errorf("users.info: %v, want %v", got, want)
	}
	if a := call(t, s, "auth.test"); a.status != 503 {
		t.Errorf("auth.test: status %d", a.status)
	}
	if a := call(t, s, "conversations.list"); a.status != 200 || a.Error != "ratelimited" {
		t.Errorf("conversations.list: %d %q", a.status, a.Error)
	}

	for i := range 3 {
		a := call(t, s, "conversations.history", "channel", "C1")
		if (i < 2) != a.OK {
			t.Fatalf("history %d: ok %v status %d", i, a.OK, a.status)
		}
		if i == 2 && (a.status != 429 || a.retryAfter != "40") {
			t.Fatalf("history over the limit: %d, Retry-After %q", a.status, a.retryAfter)
		}
		clock.Advance(10 * time.Second)
	}
	clock.Advance(30 * time.Second) // the first accepted left the minute
	if a := call(t, s, "conversations.history", "channel", "C1"); !a.OK {
		t.Errorf("history after the window: %d", a.status)
	}
	if n := s.Count("conversations.history"); n != 4 {
		t.Errorf("Count = %d", n)
	}
	if n := s.MaxInWindow("conversations.history", time.Minute); n != 3 {
		t.Errorf("MaxInWindow = %d, want 3 (two accepted, one refused)", n)
	}
	reqs := s.Requests("users.info")
	if len(reqs) != 4 || reqs[1].Status != 429 || reqs[1].Error != "ratelimited" || reqs[0].Params.Get("user") != "U1" {
		t.Errorf("log: %+v", reqs)
	}
}

func TestGenerate(t *testing.T) {
	p := slacktest.GenerateParams{Channels: 2, Messages: 25, ThreadEvery: 5, Replies: 2, Users: 4}
	if n := p.Total(); n != 2*(25+5*2) {
		t.Fatalf("Total = %d", n)
	}
	a, b := slacktest.New(t, slacktest.Generate(p)), slacktest.New(t, slacktest.Generate(p))
	var all []json.RawMessage
	cursor := ""
	for {
		pa := call(t, a, "conversations.history", "channel", "C0000001", "limit", "10", "cursor", cursor)
		pb := call(t, b, "conversations.history", "channel", "C0000001", "limit", "10", "cursor", cursor)
		if !reflect.DeepEqual(pa.Messages, pb.Messages) {
			t.Fatal("two workspaces from the same params differ")
		}
		all = append(all, pa.Messages...)
		if cursor = pa.Meta.NextCursor; cursor == "" {
			break
		}
	}
	if len(all) != 25 {
		t.Fatalf("%d top-level messages, want 25", len(all))
	}
	var replies int
	for _, m := range all {
		var v struct {
			TS         string `json:"ts"`
			ReplyCount int    `json:"reply_count"`
			Subtype    string `json:"subtype"`
		}
		_ = json.Unmarshal(m, &v)
		if v.ReplyCount == 0 {
			continue
		}
		r := call(t, a, "conversations.replies", "channel", "C0000001", "ts", v.TS)
		if len(r.Messages) != 1+v.ReplyCount {
			t.Fatalf("thread %s: %d messages for %d replies", v.TS, len(r.Messages), v.ReplyCount)
		}
		replies += v.ReplyCount
	}
	if replies != 10 {
		t.Fatalf("%d replies, want 10", replies)
	}
}

func TestClock(t *testing.T) {
	start := time.Unix(0, 0)
	c := clocktest.New(start)
	if err := c.Sleep(context.Background(), 3*time.Second); err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); err == nil {
		t.Fatal("Sleep on a done context returned nil")
	}
	if got := c.Now().Sub(start); got != 4*time.Second {
		t.Fatalf("clock moved %v, want 4s", got)
	}
	if got := c.Slept(); !reflect.DeepEqual(got, []time.Duration{3 * time.Second}) {
		t.Fatalf("Slept = %v", got)
	}
}

// BenchmarkGeneratedHistory pages through a channel of a million-message
// workspace.
func BenchmarkGeneratedHistory(b *testing.B) {
	p := slacktest.GenerateParams{Channels: 100, Messages: 10_000, ThreadEvery: -1}
	if p.Total() != 1_000_000 {
		b.Fatal(p.Total())
	}
	s := slacktest.New(b, slacktest.Generate(p))
	form := url.Values{"token": {s.Token()}, "channel": {"C0000042"}, "limit": {"200"}}
	b.ReportAllocs()
	for b.Loop() {
		resp, err := s.Client().PostForm(s.URL()+"conversations.history", form)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
