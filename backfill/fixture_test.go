package backfill_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// botToken is the fake workspace's token: no log line, error, output or
// summary may show it.
const botToken = "xoxb-7777777777-SECRET-bot-token-do-not-log"

// The fixture's workspace and owner.
const (
	workspaceID = "T0HERALD"
	owner       = "alice"
)

// epoch is the fake clock's start: the time of the first run.
var epoch = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// ago is the timestamp of a message posted d before epoch; a negative d is
// after it.
func ago(d time.Duration) string { return slacktest.TS(epoch.Add(-d)) }

// Users of the fixture's workspace; userGone is not in its directory
// (users.info answers user_not_found).
const (
	userAda   = "U0ADA"
	userGrace = "U0GRACE"
	userLinus = "U0LINUS"
	userGone  = "U0GONE"
	botCI     = "B0CI"
)

// Channels of the fixture's workspace.
const (
	chGeneral = "C01GENERAL" // public, multi-page, threads, noise
	chRandom  = "C02RANDOM"  // public, a bot's thread
	chSecret  = "C03SECRET"  // private, the bot a member
	chArchive = "C04ARCHIVE" // archived: never read unless asked for by id
	chOutside = "C05OUTSIDE" // public, the bot not in it: not_in_channel
	chHidden  = "C06HIDDEN"  // private, the bot not in it: not even listed
)

var allChannels = []string{chGeneral, chRandom, chSecret, chArchive, chOutside, chHidden}

// The figures of a full run of baseWorkspace with fixture's settings
// (default window, Filter{MinLength: 3}), counted by hand.
const (
	wantCollected      = 23
	wantSkippedSubtype = 4 // join, topic, leave in #general; a pin in #random
	wantSkippedBot     = 4 // a bot post and a bot reply in #general; a bot reply and a bot thread parent in #random
	wantSkippedShort   = 3 // "ok" and, in threads, "+1" and "ok"
	wantSkipped        = wantSkippedSubtype + wantSkippedBot + wantSkippedShort
	wantThreads        = 5
)

// baseWorkspace is the fixture's workspace: several channels (archived,
// private, one the bot is not in), histories of several pages at page size
// 4, threads (one with a thread_broadcast reply, one of two pages, one
// whose parent is a bot's), noise, short messages, a user who left, and 429
// bursts with and without Retry-After.
func baseWorkspace() *slacktest.Workspace {
	return &slacktest.Workspace{
		Token: botToken,
		Users: map[string]string{userAda: "Ada Lovelace", userGrace: "Grace Hopper", userLinus: "Linus Torvalds"},
		Channels: []slacktest.Channel{
			{ID: chGeneral, Name: "general", Member: true, Messages: []slacktest.Message{
				{TS: ago(10 * day), User: userAda, Text: "Too old: outside the seven-day window"},
				{TS: ago(8 * day), User: userGrace, Text: "An old thread, outside the window", Replies: []slacktest.Message{
					{TS: ago(8*day - time.Minute), User: userAda, Text: "An old reply"},
				}},
				{TS: ago(6 * day), User: userAda, Text: "Kick-off: welcome to #general"},
				{TS: ago(6*day - time.Hour), User: userGrace, Subtype: "channel_join", Text: "<@U0GRACE> has joined the channel"},
				{TS: ago(5 * day), User: userGrace, Text: "Who can review the release notes?", Replies: []slacktest.Message{
					{TS: ago(5*day - 1*time.Minute), User: userAda, Text: "I can, send them over"},
					// Broadcast two days later: in the history, a page before its parent.
					{TS: ago(3*day - 30*time.Minute), User: userLinus, Subtype: "thread_broadcast", Text: "Reviewed: the notes look good to ship"},
					{TS: ago(5*day - 3*time.Minute), BotID: botCI, Subtype: "bot_message", Text: "CI passed on the release branch"},
					{TS: ago(5*day - 4*time.Minute), User: userGrace, Text: "ok"},
				}},
				{TS: ago(4 * day), User: userAda, Subtype: "channel_topic", Text: "set the channel topic: releases"},
				{TS: ago(4*day - time.Hour), User: userLinus, Text: "Deploy window opens at 14:00"},
				{TS: ago(3 * day), BotID: botCI, Subtype: "bot_message", Text: "build #42 passed"},
				{TS: ago(3*day - time.Hour), User: userAda, Text: "ok"},
				{TS: ago(2 * day), User: userGrace, Text: "Incident review: the queue stalled overnight", Replies: []slacktest.Message{
					{TS: ago(2*day - 1*time.Minute), User: userAda, Text: "It started at 02:10"},
					{TS: ago(2*day - 2*time.Minute), User: userLinus, Text: "The lease sweeper was stuck"},
					{TS: ago(2*day - 3*time.Minute), User: userGone, Text: "I restarted it"},
					{TS: ago(2*day - 4*time.Minute), User: userGrace, Text: "Thanks, writing it up"},
					{TS: ago(2*day - 5*time.Minute), User: userAda, Text: "The postmortem draft is linked"},
					{TS: ago(2*day - 6*time.Minute), User: userLinus, Text: "+1"},
					{TS: ago(2*day - 7*time.Minute), User: userGrace, Text: "Closing this thread"},
				}},
				{TS: ago(2*day - time.Hour), User: userGone, Text: "A message by someone who left the workspace"},
				{TS: ago(1 * day), User: userLinus, Subtype: "channel_leave", Text: "<@U0LINUS> has left the channel"},
				{TS: ago(12 * time.Hour), User: userGrace, Text: "Lunch at noon?"},
				{TS: ago(6 * time.Hour), User: userLinus, Text: "Release 1.4 is out"},
				{TS: ago(1 * time.Hour), User: userAda, Text: "Thanks, all"},
			}},
			{ID: chRandom, Name: "random", Member: true, Messages: []slacktest.Message{
				{TS: ago(3 * day), User: userGrace, Text: "Anyone up for chess tonight?", Replies: []slacktest.Message{
					{TS: ago(3*day - 10*time.Minute), User: userLinus, Text: "Count me in"},
					{TS: ago(3*day - 20*time.Minute), BotID: botCI, Subtype: "bot_message", Text: "Reminder set for 20:00"},
				}},
				{TS: ago(2 * day), User: userAda, Subtype: "pinned_item", Text: "pinned a message"},
				{TS: ago(1 * day), BotID: botCI, Subtype: "bot_message", Text: "Stand-up reminder: post your notes", Replies: []slacktest.Message{
					{TS: ago(1*day - 5*time.Minute), User: userGrace, Text: "Stand-up notes: all green"},
				}},
				{TS: ago(30 * time.Minute), User: userLinus, Text: "Chess results: Grace wins"},
			}},
			{ID: chSecret, Name: "secret", Private: true, Member: true, Messages: []slacktest.Message{
				{TS: ago(4 * day), User: userAda, Text: "Salary bands: draft attached", Replies: []slacktest.Message{
					{TS: ago(4*day - 5*time.Minute), User: userGrace, Text: "Reviewed, two comments"},
				}},
				{TS: ago(2 * time.Hour), User: userGrace, Text: "Final bands approved"},
			}},
			{ID: chArchive, Name: "archive", Archived: true, Member: true, Messages: []slacktest.Message{
				{TS: ago(2 * day), User: userAda, Text: "An archived announcement"},
			}},
			{ID: chOutside, Name: "outside", Member: false, Messages: []slacktest.Message{
				{TS: ago(1 * day), User: userLinus, Text: "The bot is not in this channel"},
			}},
			{ID: chHidden, Name: "hidden", Private: true, Member: false, Messages: []slacktest.Message{
				{TS: ago(1 * day), User: userGrace, Text: "A private channel the bot is not in"},
			}},
		},
		Faults: []slacktest.Fault{
			slacktest.RateLimit429(slack.MethodConversationsHistory, 2, 2, 7),
			slacktest.RateLimit429(slack.MethodConversationsReplies, 3, 1, 20),
			slacktest.RateLimit429(slack.MethodUsersInfo, 2, 1, -1), // no Retry-After: slack.RetryAfterDefault
		},
	}
}

// injected429s is the number of 429s baseWorkspace's Faults answer.
const injected429s = 4

// rateLimits are the fixture's Source's limits (requests a minute), which
// the fake enforces too: a request over them would be answered 429.
var rateLimits = map[string]float64{
	slack.MethodConversationsList:    5,
	slack.MethodConversationsHistory: 6,
	slack.MethodConversationsReplies: 6,
	slack.MethodUsersInfo:            20,
	slack.MethodUsersList:            5,
}

func fakeRateLimits() map[string]int {
	m := make(map[string]int, len(rateLimits))
	for k, v := range rateLimits {
		m[k] = int(v)
	}
	return m
}

// msgStore is the part of a store the agent uses.
type msgStore interface {
	store.CursorStore
	store.MessageStore
}

// fixture is a fake workspace on a fake clock, a store, and a backfill
// agent reading the one into the other, logging to a buffer.
type fixture struct {
	t      *testing.T
	ws     *slacktest.Workspace
	server *slacktest.Server
	clock  *clocktest.Clock
	st     msgStore
	logs   *logBuffer
	logger log.Logger

	// Set by a test before run.
	slackConfig func(*slack.Config)    // changes the Source's config
	agentConfig func(*backfill.Config) // changes the agent's config
	wrapSink    func(backfill.Sink) backfill.Sink
	onReport    func(counters map[string]int64)                 // after each progress report is recorded
	afterCall   func(ctx context.Context, method string, n int) // after the n-th call of the Source (counted from 1 in each run, all methods) returns

	spy *spy // the Source of the last run
}

// newFixture starts ws (its Clock a fake clock at epoch) and returns a
// fixture on a fresh memstore.
func newFixture(t *testing.T, ws *slacktest.Workspace) *fixture {
	t.Helper()
	return newFixtureAt(t, ws, epoch)
}

func newFixtureAt(t *testing.T, ws *slacktest.Workspace, now time.Time) *fixture {
	t.Helper()
	clock := clocktest.New(now)
	ws.Clock = clock
	if ws.Token == "" {
		ws.Token = botToken
	}
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { _ = st.Close() })
	logs := &logBuffer{}
	f := &fixture{t: t, ws: ws, server: slacktest.New(t, ws), clock: clock, st: st, logs: logs,
		logger: log.NewLogfmtLogger(logs)}
	t.Cleanup(func() {
		if s := logs.String(); strings.Contains(s, botToken) {
			t.Errorf("the bot token appears in the logs:\n%s", s)
		}
	})
	return f
}

// source makes the Source of a run on the fixture's fake.
func (f *fixture) source() (*slack.Source, error) {
	cfg := slack.Config{
		Token:      f.server.Token(),
		BaseURL:    f.server.URL(),
		HTTPClient: f.server.Client(),
		Clock:      f.clock,
		Logger:     log.With(f.logger, "component", "slack"),
		RateLimits: rateLimits,
	}
	if f.slackConfig != nil {
		f.slackConfig(&cfg)
	}
	return slack.New(cfg)
}

// agent returns the backfill agent of the fixture.
func (f *fixture) agent() *backfill.Agent {
	f.t.Helper()
	sink := backfill.StoreSink(f.st)
	if f.wrapSink != nil {
		sink = f.wrapSink(sink)
	}
	cfg := backfill.Config{
		Workspaces: backfill.WorkspacesFunc(func(ctx context.Context, o, id string) (backfill.Source, error) {
			if o != owner || id != workspaceID {
				return nil, fmt.Errorf("workspace %q of %q: %w", id, o, store.ErrNotFound)
			}
			src, err := f.source()
			if err != nil {
				return nil, err
			}
			f.spy = &spy{Source: src, after: f.afterCall}
			return f.spy, nil
		}),
		Cursors:  f.st,
		Sink:     sink,
		PageSize: 4,
		Filter:   backfill.Filter{MinLength: 3},
		Clock:    f.clock,
		Logger:   log.With(f.logger, "component", "backfill"),
	}
	if f.agentConfig != nil {
		f.agentConfig(&cfg)
	}
	a, err := backfill.NewAgent(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return a
}

// result is what a run returned and reported.
type result struct {
	res      *agent.Result
	err      error
	out      *backfill.Output // nil when the run failed
	progress []map[string]int64
}

// last is the last progress report.
func (r *result) last() map[string]int64 {
	if len(r.progress) == 0 {
		return nil
	}
	return r.progress[len(r.progress)-1]
}

// run runs the agent once with payload and checks that the bot token
// appears nowhere in what it returned.
func (f *fixture) run(ctx context.Context, payload string) *result {
	f.t.Helper()
	r := &result{}
	var mu sync.Mutex
	task := &agent.Task{RunID: "run-1", Owner: owner, Agent: backfill.AgentName, Payload: json.RawMessage(payload),
		Kind: agent.RunKindEnqueue, Attempt: 1, MaxAttempts: 3,
		Progress: agent.ReporterFunc(func(_ context.Context, counters map[string]int64) error {
			mu.Lock()
			r.progress = append(r.progress, cloneCounters(counters))
			mu.Unlock()
			if f.onReport != nil {
				f.onReport(counters)
			}
			return nil
		})}
	r.res, r.err = f.agent().Run(ctx, task)
	if r.err != nil {
		if strings.Contains(r.err.Error(), botToken) || strings.Contains(fmt.Sprintf("%+v %#v", r.err, r.err), botToken) {
			f.t.Errorf("the bot token appears in the run's error: %v", r.err)
		}
		return r
	}
	if strings.Contains(string(r.res.Output), botToken) || strings.Contains(r.res.Summary, botToken) {
		f.t.Errorf("the bot token appears in the run's result: %s / %s", r.res.Output, r.res.Summary)
	}
	r.out = &backfill.Output{}
	if err := json.Unmarshal(r.res.Output, r.out); err != nil {
		f.t.Fatalf("output %s: %v", r.res.Output, err)
	}
	return r
}

// mustRun runs the agent and fails the test unless the run succeeds.
func (f *fixture) mustRun(payload string) *result {
	f.t.Helper()
	r := f.run(f.t.Context(), payload)
	if r.err != nil {
		f.t.Fatalf("run %s: %v", payload, r.err)
	}
	return r
}

func cloneCounters(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

const payloadDefault = `{"workspace_id":"` + workspaceID + `"}`

func payload(extra string) string {
	return `{"workspace_id":"` + workspaceID + `",` + extra + `}`
}

// spy is a Source that records its pages and calls, and lets a test act
// after a given call.
type spy struct {
	backfill.Source
	after func(ctx context.Context, method string, n int)

	mu    sync.Mutex
	calls int
	pages map[string][]int // per method ("history", "replies"), the size of each page
}

var _ backfill.Waiter = (*spy)(nil)

func (s *spy) OnWait(f func(string, time.Duration)) {
	if w, ok := s.Source.(backfill.Waiter); ok {
		w.OnWait(f)
	}
}

func (s *spy) called(ctx context.Context, method string, size int) {
	s.mu.Lock()
	s.calls++
	n := s.calls
	if size >= 0 {
		if s.pages == nil {
			s.pages = map[string][]int{}
		}
		s.pages[method] = append(s.pages[method], size)
	}
	s.mu.Unlock()
	if s.after != nil {
		s.after(ctx, method, n)
	}
}

func (s *spy) pageSizes(method string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.pages[method]...)
}

func (s *spy) Channels(ctx context.Context, p backfill.ChannelsParams) ([]backfill.Channel, error) {
	chs, err := s.Source.Channels(ctx, p)
	if err == nil {
		s.called(ctx, "channels", -1)
	}
	return chs, err
}

func (s *spy) History(ctx context.Context, p backfill.HistoryParams) (*backfill.Page, error) {
	page, err := s.Source.History(ctx, p)
	if err == nil {
		s.called(ctx, "history", len(page.Messages))
	}
	return page, err
}

func (s *spy) Replies(ctx context.Context, p backfill.RepliesParams) (*backfill.Page, error) {
	page, err := s.Source.Replies(ctx, p)
	if err == nil {
		s.called(ctx, "replies", len(page.Messages))
	}
	return page, err
}

func (s *spy) UserName(ctx context.Context, user string) (string, error) {
	name, err := s.Source.UserName(ctx, user)
	s.called(ctx, "user", -1)
	return name, err
}

// logBuffer is a bytes.Buffer safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// dump returns the messages of channels in st, one line each ("channel ts
// thread_ts user user_name text"), by channel then ts; withRaw adds the
// message's JSON.
func dump(t testing.TB, st store.MessageStore, channels []string, withRaw bool) []string {
	t.Helper()
	var lines []string
	for _, ch := range channels {
		after := ""
		for {
			page, err := st.MessageList(context.Background(), &store.MessageListParams{
				CursorKey: store.CursorKey{Source: "slack", Workspace: workspaceID, Channel: ch},
				After:     after, Limit: store.ListLimitMax})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range page {
				line := fmt.Sprintf("%s %s %s %s %q %q", ch, m.TS, dash(m.ThreadTS), dash(m.User), m.UserName, m.Text)
				if withRaw {
					line += " " + string(m.Raw)
				}
				lines = append(lines, line)
			}
			if len(page) < store.ListLimitMax {
				break
			}
			after = page[len(page)-1].TS
		}
	}
	return lines
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// golden compares lines with the file testdata/name, or rewrites it with
// -update.
func golden(t *testing.T, name string, lines []string) {
	t.Helper()
	path := "testdata/" + name
	got := strings.Join(lines, "\n") + "\n"
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("messages differ from %s (-update rewrites it):\n%s", path, lineDiff(strings.Split(string(want), "\n"), strings.Split(got, "\n")))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got []string) string {
	in := func(s []string) map[string]int {
		m := map[string]int{}
		for _, l := range s {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range want {
		if g[l] == 0 {
			fmt.Fprintf(&b, "- %s\n", l)
		} else {
			g[l]--
		}
	}
	for _, l := range got {
		if w[l] == 0 {
			fmt.Fprintf(&b, "+ %s\n", l)
		} else {
			w[l]--
		}
	}
	return b.String()
}

// cursor returns the cursor of channel, or nil.
func cursor(t testing.TB, st store.CursorStore, channel string) *store.Cursor {
	t.Helper()
	c, err := st.CursorGet(context.Background(), store.CursorKey{Source: "slack", Workspace: workspaceID, Channel: channel})
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tsCompare compares two Slack timestamps of the same form as numbers.
func tsCompare(a, b string) int {
	pa, pb := tsFloat(a), tsFloat(b)
	switch {
	case pa < pb:
		return -1
	case pa > pb:
		return 1
	}
	return 0
}

func tsFloat(s string) float64 {
	if s == "" {
		return math.Inf(-1)
	}
	whole, frac, _ := strings.Cut(s, ".")
	sec, _ := strconv.ParseInt(whole, 10, 64)
	micro, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return float64(sec)*1e6 + float64(micro)
}
