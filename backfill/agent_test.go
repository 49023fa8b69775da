package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/store"
)

// TestFullRun: a first run collects exactly the messages of
// testdata/full_run.golden, skips exactly the noise, writes no message
// twice, and keeps to the configured rate of every method, with Slack's
// parent of a thread first on the first page of its replies or on every
// page.
func TestFullRun(t *testing.T) {
	for _, tc := range []struct {
		name            string
		parentEveryPage bool
	}{
		{"parent on the first page", false},
		{"parent on every page", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := baseWorkspace()
			ws.RepliesParentEveryPage = tc.parentEveryPage
			ws.RateLimits = fakeRateLimits()
			f := newFixture(t, ws)
			written := map[string]int{}
			f.wrapSink = countingSink(written)
			r := f.mustRun(payloadDefault)

			golden(t, "full_run.golden", dump(t, f.st, allChannels, false))
			skippedBy := map[string]int64{backfill.SkippedSubtype: wantSkippedSubtype, backfill.SkippedBot: wantSkippedBot,
				backfill.SkippedShort: wantSkippedShort}
			if !maps.Equal(r.out.SkippedBy, skippedBy) || r.out.MessagesSkipped != wantSkipped {
				t.Errorf("skipped %d %v, want %d %v", r.out.MessagesSkipped, r.out.SkippedBy, wantSkipped, skippedBy)
			}
			if r.out.MessagesCollected != wantCollected || r.out.ThreadsFollowed != wantThreads {
				t.Errorf("collected %d messages, followed %d threads; want %d, %d", r.out.MessagesCollected,
					r.out.ThreadsFollowed, wantCollected, wantThreads)
			}
			if len(written) != wantCollected {
				t.Errorf("the sink received %d distinct messages, want %d", len(written), wantCollected)
			}
			for k, n := range written {
				if n != 1 {
					t.Errorf("message %s written %d times, want once", k, n)
				}
			}
			for method, perMinute := range rateLimits {
				if got := f.server.MaxInWindow(method, time.Minute); got > int(perMinute) {
					t.Errorf("%d %s requests within a minute, over the configured %g", got, method, perMinute)
				}
			}
			if got := f.server.MaxInWindow(slack.MethodConversationsHistory, time.Minute); got < 2 {
				t.Errorf("at most %d history requests within a minute: the rate limit was never approached", got)
			}
			if got := statusCount(f.server, 429); got != injected429s {
				t.Errorf("%d requests answered 429, want only the %d injected: the fake's own limits were exceeded", got, injected429s)
			}
			if tc.parentEveryPage {
				again := 0
				for _, req := range f.server.Requests(slack.MethodConversationsReplies) {
					if req.Params.Get("cursor") != "" && req.Error == "" && req.Status == 200 {
						again++
					}
				}
				if again == 0 {
					t.Fatal("no second page of replies was read: the case is not exercised")
				}
			}
		})
	}
}

// countingSink counts, per channel and ts, the messages the store
// accepted. Read written once the run is over.
func countingSink(written map[string]int) func(backfill.Sink) backfill.Sink {
	var mu sync.Mutex
	return func(next backfill.Sink) backfill.Sink {
		return backfill.SinkFunc(func(ctx context.Context, msgs []*store.Message) (int, error) {
			n, err := next.Put(ctx, msgs)
			if err == nil {
				mu.Lock()
				for _, m := range msgs {
					written[m.Channel+" "+m.TS]++
				}
				mu.Unlock()
			}
			return n, err
		})
	}
}

func statusCount(s *slacktest.Server, status int) int {
	n := 0
	for _, r := range s.Requests("") {
		if r.Status == status {
			n++
		}
	}
	return n
}

// laterWorkspace is baseWorkspace a day later: new messages, a new thread
// (one reply broadcast), a broadcast reply in an old thread, and a reply,
// not broadcast, in an old thread.
func laterWorkspace() *slacktest.Workspace {
	ws := baseWorkspace()
	ws.Faults = nil
	general := &ws.Channels[0]
	for i := range general.Messages {
		m := &general.Messages[i]
		switch m.TS {
		case ago(5 * day): // the release notes thread
			m.Replies = append(m.Replies, slacktest.Message{TS: ago(-2 * time.Hour), User: userAda,
				Subtype: "thread_broadcast", Text: "Follow-up: the notes are published"})
		case ago(2 * day): // the incident thread
			m.Replies = append(m.Replies, slacktest.Message{TS: ago(-3 * time.Hour), User: userLinus,
				Text: "A late addendum, not sent to the channel"})
		}
	}
	general.Messages = append(general.Messages,
		slacktest.Message{TS: ago(-4 * time.Hour), User: userGrace, Text: "Retro tomorrow at 10"},
		slacktest.Message{TS: ago(-5 * time.Hour), User: userLinus, Text: "New thread: 1.5 planning", Replies: []slacktest.Message{
			{TS: ago(-5*time.Hour - time.Minute), User: userAda, Text: "I will draft the scope"},
			{TS: ago(-5*time.Hour - 2*time.Minute), User: userGrace, Subtype: "thread_broadcast", Text: "Scope agreed: see the thread"},
		}},
		slacktest.Message{TS: ago(-6 * time.Hour), BotID: botCI, Subtype: "bot_message", Text: "nightly build passed"},
	)
	ws.Channels[1].Messages = append(ws.Channels[1].Messages,
		slacktest.Message{TS: ago(-7 * time.Hour), User: userAda, Text: "Chess rematch on Friday"})
	return ws
}

// TestIncremental: a run a day later, on a workspace with new messages,
// asks for nothing older than what each channel's cursor holds, reads the
// replies of new threads only, and adds exactly the new messages
// (testdata/incremental_added.golden).
//
// A new reply that is not sent to the channel, in a thread whose parent is
// older than the cursor, is not collected: nothing newer than the cursor
// shows it (Slack updates the parent's latest_reply only), and finding it
// would mean reading old history again. A broadcast reply is collected
// from the history.
func TestIncremental(t *testing.T) {
	first := newFixture(t, baseWorkspace())
	first.mustRun(payloadDefault)
	before := dump(t, first.st, allChannels, true)
	held := map[string]string{}
	for _, ch := range allChannels {
		if c := cursor(t, first.st, ch); c != nil {
			held[ch] = c.Latest
		}
	}
	for _, ch := range []string{chGeneral, chRandom, chSecret} {
		if held[ch] == "" {
			t.Fatalf("no cursor held for %s after the first run", ch)
		}
		for _, line := range dump(t, first.st, []string{ch}, false) {
			if ts := strings.Fields(line)[1]; tsCompare(ts, held[ch]) > 0 {
				t.Errorf("%s holds %s, newer than its cursor %s", ch, ts, held[ch])
			}
		}
	}

	second := newFixtureAt(t, laterWorkspace(), epoch.Add(day))
	second.st = first.st
	r := second.mustRun(payloadDefault)

	window := slacktest.TS(epoch.Add(day - backfill.DaysDefault*day))
	for _, method := range []string{slack.MethodConversationsHistory, slack.MethodConversationsReplies} {
		for _, req := range second.server.Requests(method) {
			ch, oldest := req.Params.Get("channel"), req.Params.Get("oldest")
			floor := held[ch]
			if floor == "" {
				floor = window
			}
			if tsCompare(oldest, floor) < 0 {
				t.Errorf("%s of %s asked for oldest=%q, older than the %s held", method, ch, oldest, floor)
			}
		}
	}
	var threads []string
	for _, req := range second.server.Requests(slack.MethodConversationsReplies) {
		if !slices.Contains(threads, req.Params.Get("ts")) {
			threads = append(threads, req.Params.Get("ts"))
		}
	}
	if want := []string{ago(-5 * time.Hour)}; !slices.Equal(threads, want) {
		t.Errorf("replies read for threads %v, want only %v (the one whose latest_reply is newer than the cursor)", threads, want)
	}

	after := dump(t, second.st, allChannels, true)
	for _, line := range before {
		if !slices.Contains(after, line) {
			t.Errorf("a message of the first run changed or vanished: %s", line)
		}
	}
	var added []string
	for _, line := range dump(t, second.st, allChannels, false) {
		if !slices.ContainsFunc(before, func(b string) bool { return strings.HasPrefix(b, line+" ") }) {
			added = append(added, line)
		}
	}
	golden(t, "incremental_added.golden", added)
	if r.out.MessagesCollected != int64(len(added)) || len(added) != 6 {
		t.Errorf("second run collected %d messages, %d were added; want 6", r.out.MessagesCollected, len(added))
	}
	if r.out.MessagesSkipped != 1 || r.out.SkippedBy[backfill.SkippedBot] != 1 {
		t.Errorf("second run skipped %v, want the one bot message", r.out.SkippedBy)
	}
}

// TestChannelFailures: a channel that cannot be read fails alone; a
// workspace that cannot be read fails the run at once, for good.
func TestChannelFailures(t *testing.T) {
	t.Run("not_in_channel", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.mustRun(payloadDefault)
		want := []backfill.ChannelFailure{{Channel: chOutside, Name: "outside", Error: "slack: conversations.history: not_in_channel"}}
		if !slices.Equal(r.out.Failures, want) || r.out.ChannelsFailed != 1 || r.out.ChannelsProcessed != 4 {
			t.Errorf("failures %+v (%d failed of %d processed), want %+v (1 of 4)", r.out.Failures,
				r.out.ChannelsFailed, r.out.ChannelsProcessed, want)
		}
		if !strings.Contains(r.res.Summary, chOutside+" (#outside): slack: conversations.history: not_in_channel") {
			t.Errorf("summary %q does not name the failed channel", r.res.Summary)
		}
		checkComplete(t, f.st, chGeneral, ago(time.Hour))
		checkComplete(t, f.st, chRandom, ago(30*time.Minute))
		checkComplete(t, f.st, chSecret, ago(2*time.Hour))
		if c := cursor(t, f.st, chOutside); c != nil {
			t.Errorf("cursor of the unread channel: %+v, want none", c)
		}
	})

	t.Run("channel lost mid-run", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		pages := 0
		f.afterCall = func(_ context.Context, method string, _ int) {
			if method == "history" {
				if pages++; pages == 2 {
					f.server.SetChannelError(chGeneral, "channel_not_found")
				}
			}
		}
		r := f.mustRun(payloadDefault)
		if len(r.out.Failures) != 2 || r.out.Failures[0].Channel != chGeneral ||
			r.out.Failures[0].Error != "slack: conversations.history: channel_not_found" {
			t.Errorf("failures %+v, want #general's channel_not_found, then #outside's", r.out.Failures)
		}
		checkComplete(t, f.st, chRandom, ago(30*time.Minute))
		checkComplete(t, f.st, chSecret, ago(2*time.Hour))
		if c := cursor(t, f.st, chGeneral); c == nil || c.PageCursor == "" {
			t.Errorf("cursor of #general %+v, want a sweep to resume", c)
		}
		// Once the channel can be read again, the next run ends the sweep:
		// the store is as after a run with no failure.
		f.server.SetChannelError(chGeneral, "")
		f.afterCall = nil
		f.mustRun(payloadDefault)
		golden(t, "full_run.golden", dump(t, f.st, allChannels, false))
	})

	t.Run("thread_not_found", func(t *testing.T) {
		// The incident thread, the first one read, is deleted between the
		// history page that shows it and the read of its replies: the thread
		// is skipped, the channel goes on.
		ws := baseWorkspace()
		ws.Faults = []slacktest.Fault{{Method: slack.MethodConversationsReplies, At: 1, Code: "thread_not_found"}}
		f := newFixture(t, ws)
		r := f.mustRun(payloadDefault)
		if len(r.out.Failures) != 1 || r.out.Failures[0].Channel != chOutside {
			t.Errorf("failures %+v, want #outside's only", r.out.Failures)
		}
		checkComplete(t, f.st, chGeneral, ago(time.Hour))
		const incidentReplies = 6 // collected ones
		if r.out.MessagesCollected != wantCollected-incidentReplies || r.out.ThreadsFollowed != wantThreads-1 {
			t.Errorf("collected %d, followed %d threads; want %d, %d", r.out.MessagesCollected, r.out.ThreadsFollowed,
				wantCollected-incidentReplies, wantThreads-1)
		}
		if logs := f.logs.String(); !strings.Contains(logs, "thread="+ago(2*day)) {
			t.Errorf("no log line names the skipped thread %s:\n%s", ago(2*day), logs)
		}
	})

	t.Run("invalid_auth", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		f.slackConfig = func(c *slack.Config) { c.Token = "xoxb-not-the-workspace-token" }
		r := f.run(t.Context(), payloadDefault)
		checkWorkspaceError(t, r.err, "invalid_auth")
		if n := f.server.Count(""); n != 1 {
			t.Errorf("%d requests, want 1: the run must stop at the first invalid_auth", n)
		}
		for _, ch := range allChannels {
			if c := cursor(t, f.st, ch); c != nil {
				t.Errorf("cursor %+v saved by a run that could not read the workspace", c)
			}
		}
		if strings.Contains(f.logs.String(), "xoxb-not-the-workspace-token") {
			t.Error("the invalid token appears in the logs")
		}
	})

	t.Run("token revoked mid-run", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		f.afterCall = func(_ context.Context, method string, n int) {
			if n == 6 {
				f.server.RevokeToken()
			}
		}
		r := f.run(t.Context(), payloadDefault)
		checkWorkspaceError(t, r.err, "token_revoked")
		reqs := f.server.Requests("")
		if last := reqs[len(reqs)-1]; last.Error != "token_revoked" {
			t.Errorf("last request %s answered %q: the run went on after token_revoked", last.Method, last.Error)
		}
		if n := countError(reqs, "token_revoked"); n != 1 {
			t.Errorf("%d requests answered token_revoked, want 1", n)
		}
	})
}

func countError(reqs []slacktest.Request, code string) int {
	n := 0
	for _, r := range reqs {
		if r.Error == code {
			n++
		}
	}
	return n
}

func checkWorkspaceError(t *testing.T, err error, code string) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("run succeeded, want it to fail with %s", code)
	case !errors.Is(err, backfill.ErrWorkspace):
		t.Errorf("error %q does not match backfill.ErrWorkspace", err)
	case !agent.IsPermanent(err):
		t.Errorf("error %q is not agent.Permanent", err)
	case !strings.Contains(err.Error(), code) || !strings.Contains(err.Error(), workspaceID):
		t.Errorf("error %q does not say %s of workspace %s", err, code, workspaceID)
	}
}

// checkComplete checks that channel's sweep ended, its cursor at latest.
func checkComplete(t *testing.T, st store.CursorStore, channel, latest string) {
	t.Helper()
	c := cursor(t, st, channel)
	if c == nil || c.Latest != latest || c.PageCursor != "" {
		t.Errorf("cursor of %s: %+v, want a completed sweep at %s", channel, c, latest)
	}
}

// TestNonMarketplace: Slack's limits for apps outside the Marketplace slow
// the run on the fake clock: a minute between two calls of
// conversations.history, and of conversations.replies, pages of at most
// 15 messages; the messages collected are the same.
func TestNonMarketplace(t *testing.T) {
	gen := func() *slacktest.Workspace {
		ws := slacktest.Generate(slacktest.GenerateParams{Channels: 2, Messages: 40, ThreadEvery: 10, Replies: 20,
			Users: 5, Start: epoch.Add(-2 * day), Interval: time.Minute})
		ws.Token = botToken
		return ws
	}
	channels := []string{"C0000000", "C0000001"}

	fast := newFixture(t, gen())
	fast.slackConfig = func(c *slack.Config) { c.RateLimits = nil }
	fast.agentConfig = func(c *backfill.Config) { c.PageSize = 0 }
	fast.mustRun(payloadDefault)
	if elapsed := fast.clock.Now().Sub(epoch); elapsed >= time.Minute {
		t.Errorf("a Marketplace app's run took %v of the fake clock, want under a minute", elapsed)
	}

	ws := gen()
	ws.NonMarketplace = true
	slow := newFixture(t, ws)
	slow.slackConfig = func(c *slack.Config) { c.RateLimits = nil; c.NonMarketplace = true }
	slow.agentConfig = func(c *backfill.Config) { c.PageSize = 0 }
	slow.mustRun(payloadDefault)

	calls := map[string]int{}
	for _, method := range []string{slack.MethodConversationsHistory, slack.MethodConversationsReplies} {
		reqs := slow.server.Requests(method)
		calls[method] = len(reqs)
		for i, req := range reqs {
			if req.Params.Get("limit") != "15" {
				t.Errorf("%s asked for limit=%s, want 15", method, req.Params.Get("limit"))
			}
			if i > 0 {
				if gap := req.Time.Sub(reqs[i-1].Time); gap < time.Minute {
					t.Errorf("%s request %d came %v after the one before, want at least a minute", method, i+1, gap)
				}
			}
		}
	}
	for _, method := range []string{"history", "replies"} {
		for _, n := range slow.spy.pageSizes(method) {
			if n > slack.NonMarketplacePageSizeMax {
				t.Errorf("a %s page of %d messages, want at most %d", method, n, slack.NonMarketplacePageSizeMax)
			}
		}
	}
	var slept time.Duration
	for _, d := range slow.clock.Slept() {
		slept += d
	}
	most := max(calls[slack.MethodConversationsHistory], calls[slack.MethodConversationsReplies])
	if most < 10 {
		t.Fatalf("only %v calls: the case is not exercised", calls)
	}
	if want := time.Duration(most-1) * time.Minute; slept < want {
		t.Errorf("the fake clock slept %v for %v calls, want at least %v", slept, calls, want)
	}
	if got, want := dump(t, slow.st, channels, true), dump(t, fast.st, channels, true); !slices.Equal(got, want) {
		t.Errorf("pages of 15 collected other messages than pages of 200:\n%s", lineDiff(want, got))
	}
}

// TestProgress: the progress reported on the run rises monotonically, and
// its last figures are the output's and agree with the fake's counts.
func TestProgress(t *testing.T) {
	ws := baseWorkspace()
	f := newFixture(t, ws)
	r := f.mustRun(payloadDefault)

	if len(r.progress) < 3 {
		t.Fatalf("%d progress reports, want several", len(r.progress))
	}
	for i := 1; i < len(r.progress); i++ {
		for k, v := range r.progress[i] {
			if prev := r.progress[i-1][k]; v < prev {
				t.Errorf("report %d: %s fell from %d to %d", i, k, prev, v)
			}
		}
		if r.progress[i][backfill.ProgressChannelsTotal] != r.progress[0][backfill.ProgressChannelsTotal] {
			t.Errorf("report %d: channels_total changed", i)
		}
	}

	listed := 0
	for _, c := range ws.Channels {
		if !c.Archived && (!c.Private || c.Member) {
			listed++
		}
	}
	failed := map[string]bool{}
	threads := map[string]bool{}
	for _, req := range f.server.Requests("") {
		switch {
		case req.Method == slack.MethodConversationsHistory && req.Error != "" && req.Status == 200:
			failed[req.Params.Get("channel")] = true
		case req.Method == slack.MethodConversationsReplies && req.Error == "" && req.Status == 200:
			threads[req.Params.Get("channel")+" "+req.Params.Get("ts")] = true
		}
	}
	stored := len(dump(t, f.st, allChannels, false))
	waits := int64(len(f.clock.Slept()))
	if waits < int64(statusCount(f.server, 429)) || waits <= injected429s {
		t.Errorf("%d waits on the clock for %d 429s: the limiter never waited", waits, statusCount(f.server, 429))
	}
	want := map[string]int64{
		backfill.ProgressChannelsTotal:     int64(listed),
		backfill.ProgressChannelsProcessed: int64(listed),
		backfill.ProgressChannelsFailed:    int64(len(failed)),
		backfill.ProgressMessagesCollected: int64(stored),
		backfill.ProgressMessagesSkipped:   wantSkipped,
		backfill.ProgressThreadsFollowed:   int64(len(threads)),
		backfill.ProgressRateLimitedWaits:  waits,
	}
	if got := r.last(); !maps.Equal(got, want) {
		t.Errorf("last progress %v, want %v", got, want)
	}
	out := map[string]int64{
		backfill.ProgressChannelsTotal:     r.out.ChannelsTotal,
		backfill.ProgressChannelsProcessed: r.out.ChannelsProcessed,
		backfill.ProgressChannelsFailed:    r.out.ChannelsFailed,
		backfill.ProgressMessagesCollected: r.out.MessagesCollected,
		backfill.ProgressMessagesSkipped:   r.out.MessagesSkipped,
		backfill.ProgressThreadsFollowed:   r.out.ThreadsFollowed,
		backfill.ProgressRateLimitedWaits:  r.out.RateLimitedWaits,
	}
	if !maps.Equal(out, want) {
		t.Errorf("output figures %v, want %v", out, want)
	}
}

// TestWindow: the window of days_to_backfill or since bounds what is asked
// for and collected; include_threads and include_all_channels narrow the
// run.
func TestWindow(t *testing.T) {
	checkFloor := func(t *testing.T, f *fixture, floor string) {
		t.Helper()
		hist := f.server.Requests(slack.MethodConversationsHistory)
		if len(hist) == 0 || hist[0].Params.Get("oldest") != floor {
			t.Fatalf("first history call %v, want oldest=%s", hist, floor)
		}
		for _, method := range []string{slack.MethodConversationsHistory, slack.MethodConversationsReplies} {
			for _, req := range f.server.Requests(method) {
				if tsCompare(req.Params.Get("oldest"), floor) < 0 {
					t.Errorf("%s asked for oldest=%q, before the window's %s", method, req.Params.Get("oldest"), floor)
				}
			}
		}
		for _, line := range dump(t, f.st, allChannels, false) {
			if ts := strings.Fields(line)[1]; tsCompare(ts, floor) <= 0 {
				t.Errorf("collected a message older than the window: %s", line)
			}
		}
	}

	t.Run("days_to_backfill", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.mustRun(payload(`"days_to_backfill":3`))
		checkFloor(t, f, ago(3*day))
		// In (3 days ago, now): #general 6 (a broadcast reply among them,
		// its parent older) + 6 incident replies, #random 2, #secret 1.
		if r.out.MessagesCollected != 15 {
			t.Errorf("collected %d, want 15", r.out.MessagesCollected)
		}
		if !r.out.Since.Equal(epoch.Add(-3 * day)) {
			t.Errorf("output since %v, want %v", r.out.Since, epoch.Add(-3*day))
		}
	})

	t.Run("since", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		since := epoch.Add(-2*day - time.Minute)
		r := f.mustRun(payload(`"since":"` + since.Format(time.RFC3339) + `"`))
		checkFloor(t, f, slacktest.TS(since))
		// In (2 days and a minute ago, now): #general 5 + 6 incident
		// replies, #random 2, #secret 1.
		if r.out.MessagesCollected != 14 {
			t.Errorf("collected %d, want 14", r.out.MessagesCollected)
		}
	})

	t.Run("days_to_backfill and since", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.run(t.Context(), payload(`"days_to_backfill":3,"since":"2025-05-01T00:00:00Z"`))
		var ve *store.ValidationError
		if r.err == nil || !agent.IsPermanent(r.err) || !errors.As(r.err, &ve) || ve.Field != "since" {
			t.Errorf("run = %v, want a Permanent validation error on since", r.err)
		}
		if n := f.server.Count(""); n != 0 {
			t.Errorf("%d requests made for a refused payload", n)
		}
	})

	t.Run("include_threads false", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.mustRun(payload(`"include_threads":false`))
		if n := f.server.Count(slack.MethodConversationsReplies); n != 0 || r.out.ThreadsFollowed != 0 {
			t.Errorf("%d replies requests, %d threads followed; want none", n, r.out.ThreadsFollowed)
		}
		for _, line := range dump(t, f.st, allChannels, false) {
			f := strings.Fields(line)
			if f[2] != "-" && f[2] != f[1] && !strings.Contains(line, "Reviewed: the notes") {
				t.Errorf("collected a reply that was not sent to the channel: %s", line)
			}
		}
		// #general 9 (a broadcast reply among them), #random 2, #secret 2.
		if r.out.MessagesCollected != 13 {
			t.Errorf("collected %d, want 13", r.out.MessagesCollected)
		}
	})

	t.Run("channel_ids", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.mustRun(payload(`"include_all_channels":false,"channel_ids":["C03SECRET","C04ARCHIVE","C09MISSING"]`))
		var read []string
		for _, req := range f.server.Requests(slack.MethodConversationsHistory) {
			if ch := req.Params.Get("channel"); !slices.Contains(read, ch) {
				read = append(read, ch)
			}
		}
		if want := []string{chSecret, chArchive, "C09MISSING"}; !slices.Equal(read, want) {
			t.Errorf("history read of %v, want %v", read, want)
		}
		want := []backfill.ChannelFailure{{Channel: "C09MISSING", Error: "slack: conversations.history: channel_not_found"}}
		if r.out.ChannelsTotal != 3 || !slices.Equal(r.out.Failures, want) {
			t.Errorf("channels_total %d, failures %+v; want 3, %+v", r.out.ChannelsTotal, r.out.Failures, want)
		}
		if n := len(dump(t, f.st, []string{chSecret, chArchive}, false)); n != 4 || r.out.MessagesCollected != 4 {
			t.Errorf("%d messages stored, %d collected; want 4 (#secret's 3, #archive's 1)", n, r.out.MessagesCollected)
		}
	})

	t.Run("unknown workspace", func(t *testing.T) {
		f := newFixture(t, baseWorkspace())
		r := f.run(t.Context(), `{"workspace_id":"T0OTHER"}`)
		if r.err == nil || !agent.IsPermanent(r.err) || !strings.Contains(r.err.Error(), "T0OTHER") {
			t.Errorf("run = %v, want a Permanent error naming the workspace", r.err)
		}
	})
}

// TestNoTokenAnywhere: through retries, server errors, a dead server and a
// revoked token, the bot token appears in no log line (every level, of the
// agent and of the Source), error, output or summary. (Every fixture
// checks its logs at its end, and every run its error and result.)
func TestNoTokenAnywhere(t *testing.T) {
	for _, tc := range []struct {
		name   string
		faults []slacktest.Fault
		before func(f *fixture)
		quiet  bool // nothing to log
	}{
		{name: "429s and 5xx", faults: []slacktest.Fault{
			slacktest.RateLimit429(slack.MethodConversationsList, 1, 1, 3),
			{Method: slack.MethodConversationsHistory, At: 1, Count: 2, Status: 503},
			{Method: slack.MethodConversationsReplies, At: 2, Status: 500},
			{Method: slack.MethodUsersInfo, At: 1, Status: 502},
		}},
		{name: "server errors to the end", faults: []slacktest.Fault{
			{Method: slack.MethodConversationsHistory, At: 1, Count: 100, Status: 500},
		}},
		{name: "token revoked", before: func(f *fixture) { f.server.RevokeToken() }, quiet: true},
		{name: "server down", before: func(f *fixture) { f.server.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := baseWorkspace()
			ws.Faults = tc.faults
			f := newFixture(t, ws)
			if tc.before != nil {
				tc.before(f)
			}
			r := f.run(t.Context(), payloadDefault)
			if r.err == nil && r.out.MessagesCollected == 0 {
				t.Error("the run collected nothing")
			}
			if logs := f.logs.String(); !tc.quiet && !strings.Contains(logs, "level=") {
				t.Errorf("nothing logged: the check is void:\n%s", logs)
			}
		})
	}
}

// TestWriteBatch: pages that come faster than WriteEvery are written
// WriteBatch messages at a time; pages slower than it, one at a time;
// either way the store ends as in testdata/full_run.golden.
func TestWriteBatch(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limited bool // the Source waits 10 s between two history calls
	}{
		{name: "fast source", limited: false},
		{name: "slow source", limited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ws := baseWorkspace()
			ws.Faults = nil
			f := newFixture(t, ws)
			if !tc.limited {
				f.slackConfig = func(c *slack.Config) { c.RateLimits = unlimited() }
			}
			f.agentConfig = func(c *backfill.Config) { c.WriteBatch, c.WriteEvery = 6, 5*time.Second }
			var puts []string // channel and size of each write
			f.wrapSink = func(next backfill.Sink) backfill.Sink {
				return backfill.SinkFunc(func(ctx context.Context, msgs []*store.Message) (int, error) {
					ch := "-"
					if len(msgs) > 0 {
						ch = msgs[0].Channel
					}
					puts = append(puts, fmt.Sprintf("%s:%d", ch, len(msgs)))
					return next.Put(ctx, msgs)
				})
			}
			r := f.mustRun(payloadDefault)
			golden(t, "full_run.golden", dump(t, f.st, allChannels, false))
			if r.out.MessagesCollected != wantCollected || r.out.MessagesSkipped != wantSkipped {
				t.Errorf("collected %d, skipped %d; want %d, %d", r.out.MessagesCollected, r.out.MessagesSkipped, wantCollected, wantSkipped)
			}
			pages := len(f.spy.pageSizes("history"))
			if tc.limited {
				if len(puts) != pages {
					t.Errorf("%d writes %v for %d history pages, want one a page", len(puts), puts, pages)
				}
				return
			}
			// #general's 4 pages keep 3, 9, 3 and 1 messages: written once
			// 6 or more are held, and at the channel's end.
			if want := []string{"C01GENERAL:12", "C01GENERAL:4", "C02RANDOM:4", "C03SECRET:3"}; !slices.Equal(puts, want) {
				t.Errorf("writes %v (%d history pages), want %v", puts, pages, want)
			}
		})
	}
}
