package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/store"
)

// AgentName is the name the backfill agent is registered under.
const AgentName = "slack_backfill"

// Defaults of Config's zero values.
const (
	// PageSizeDefault is the page size asked of the Source (which may cap
	// it: 15 for Slack apps outside the Marketplace).
	PageSizeDefault = 200
	// ProgressEveryDefault is how often progress is reported while a
	// channel is read.
	ProgressEveryDefault = time.Second
)

// Workspaces opens the Source of a workspace for a run.
type Workspaces interface {
	// Open returns the Source of workspace id for a run owned by owner.
	// A workspace that does not exist, or that owner does not own, is an
	// error matching store.ErrNotFound.
	Open(ctx context.Context, owner, id string) (Source, error)
}

// WorkspacesFunc adapts a function to Workspaces.
type WorkspacesFunc func(ctx context.Context, owner, id string) (Source, error)

// Open implements Workspaces.
func (f WorkspacesFunc) Open(ctx context.Context, owner, id string) (Source, error) {
	return f(ctx, owner, id)
}

// Config configures the backfill agent.
type Config struct {
	// Workspaces opens each run's Source. Required.
	Workspaces Workspaces
	// Cursors keeps each channel's progress. Required.
	Cursors store.CursorStore
	// Sink receives the messages. Required: StoreSink(st) keeps them in
	// Herald's store.
	Sink Sink
	// SourceName is the Source field of the messages and cursors; empty
	// means "slack".
	SourceName string
	// Filter drops noise; the zero value drops joins, leaves, topic and
	// purpose changes, pins and bot messages.
	Filter Filter
	// PageSize is the page size asked of the Source; zero means
	// PageSizeDefault.
	PageSize int
	// ProgressEvery is how often progress is reported while a channel is
	// read (and at each channel's end); zero means ProgressEveryDefault.
	ProgressEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives a line per channel; nil means none.
	Logger log.Logger
}

// Agent is the backfill agent: an agent.Agent whose run collects one
// workspace's history (see Payload). Create it with NewAgent.
type Agent struct {
	cfg Config
}

var _ agent.Agent = (*Agent)(nil)

// NewAgent checks cfg and returns the agent.
func NewAgent(cfg Config) (*Agent, error) {
	switch {
	case cfg.Workspaces == nil:
		return nil, errors.New("backfill: Config.Workspaces is required")
	case cfg.Cursors == nil:
		return nil, errors.New("backfill: Config.Cursors is required")
	case cfg.Sink == nil:
		return nil, errors.New("backfill: Config.Sink is required (StoreSink keeps the messages in Herald's store)")
	case cfg.PageSize < 0 || cfg.ProgressEvery < 0 || cfg.Filter.MinLength < 0:
		return nil, errors.New("backfill: Config: PageSize, ProgressEvery and Filter.MinLength must not be negative")
	}
	if cfg.SourceName == "" {
		cfg.SourceName = "slack"
	}
	if cfg.PageSize == 0 {
		cfg.PageSize = PageSizeDefault
	}
	if cfg.ProgressEvery == 0 {
		cfg.ProgressEvery = ProgressEveryDefault
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	return &Agent{cfg: cfg}, nil
}

// Progress counters of a backfill run, reported as it goes and kept in its
// output.
const (
	ProgressChannelsTotal     = "channels_total"
	ProgressChannelsProcessed = "channels_processed"
	ProgressChannelsFailed    = "channels_failed"
	ProgressMessagesCollected = "messages_collected"
	ProgressMessagesSkipped   = "messages_skipped"
	ProgressThreadsFollowed   = "threads_followed"
	ProgressRateLimitedWaits  = "rate_limited_waits"
)

// Output is a backfill run's structured result.
type Output struct {
	WorkspaceID string `json:"workspace_id"`
	// Since is the oldest instant collected.
	Since             time.Time        `json:"since"`
	ChannelsTotal     int64            `json:"channels_total"`
	ChannelsProcessed int64            `json:"channels_processed"`
	ChannelsFailed    int64            `json:"channels_failed"`
	MessagesCollected int64            `json:"messages_collected"`
	MessagesSkipped   int64            `json:"messages_skipped"`
	SkippedBy         map[string]int64 `json:"skipped_by"`
	ThreadsFollowed   int64            `json:"threads_followed"`
	RateLimitedWaits  int64            `json:"rate_limited_waits"`
	// Failures are the channels that could not be read, and why.
	Failures []ChannelFailure `json:"failures"`
}

// ChannelFailure is a channel a run could not read.
type ChannelFailure struct {
	Channel string `json:"channel"`
	Name    string `json:"name,omitempty"`
	Error   string `json:"error"`
}

// Run implements agent.Agent: it collects the workspace's messages since
// the window's start, channel by channel, and saves each channel's cursor
// after every page. A channel that cannot be read fails alone (its error
// in the output); a workspace that cannot be read fails the run at once,
// with no retry. A cancelled run stops between pages; the next run resumes
// where it stopped.
func (a *Agent) Run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	p, err := ParsePayload(task.Payload)
	if err != nil {
		return nil, agent.NoRetry(fmt.Errorf("backfill: payload: %w", err))
	}
	src, err := a.cfg.Workspaces.Open(ctx, task.Owner, p.WorkspaceID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, agent.NoRetry(fmt.Errorf("backfill: workspace %q: not found", p.WorkspaceID))
		}
		return nil, fmt.Errorf("backfill: workspace %q: %w", p.WorkspaceID, err)
	}
	now := a.cfg.Now()
	r := &run{a: a, task: task, src: src, p: p, start: tsOf(now), window: tsOf(p.windowStart(now)),
		out: Output{WorkspaceID: p.WorkspaceID, Since: p.windowStart(now).UTC(), SkippedBy: map[string]int64{}, Failures: []ChannelFailure{}}}
	if w, ok := src.(Waiter); ok {
		w.OnWait(func(string, time.Duration) { r.waits.Add(1) })
	}
	channels, err := r.channels(ctx)
	if err != nil {
		return nil, r.fail(err)
	}
	r.out.ChannelsTotal = int64(len(channels))
	r.report(ctx, true)
	for _, ch := range channels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		err := r.channel(ctx, ch)
		switch {
		case err == nil:
		case errors.Is(err, ErrChannel):
			r.out.ChannelsFailed++
			r.out.Failures = append(r.out.Failures, ChannelFailure{Channel: ch.ID, Name: ch.Name, Error: err.Error()})
			level.Warn(a.cfg.Logger).Log("msg", "channel not read", "run_id", task.RunID, "workspace", p.WorkspaceID,
				"channel", ch.ID, "err", err)
		default:
			r.report(ctx, true)
			return nil, r.fail(fmt.Errorf("channel %s: %w", ch.ID, err))
		}
		r.out.ChannelsProcessed++
		r.report(ctx, true)
	}
	r.out.RateLimitedWaits = r.waits.Load()
	out, err := json.Marshal(&r.out)
	if err != nil {
		return nil, err
	}
	return &agent.Result{Output: out, Summary: r.summary()}, nil
}

// run is the state of one backfill run.
type run struct {
	a      *Agent
	task   *agent.Task
	src    Source
	p      *Payload
	start  string // the run's start: the newest timestamp it reads
	window string // the window's start: the oldest timestamp it reads
	out    Output
	waits  atomic.Int64
	last   time.Time // of the last progress report
}

// fail makes err the run's error: a workspace that cannot be read, or a
// context ended, is final; anything else may pass with a retry (the
// cursors are saved: the retry resumes).
func (r *run) fail(err error) error {
	err = fmt.Errorf("backfill: workspace %s: %w", r.p.WorkspaceID, err)
	if errors.Is(err, ErrWorkspace) {
		return agent.NoRetry(err)
	}
	return err
}

// channels returns the channels the run reads.
func (r *run) channels(ctx context.Context) ([]Channel, error) {
	if r.p.allChannels() {
		return r.src.Channels(ctx, ChannelsParams{})
	}
	all, err := r.src.Channels(ctx, ChannelsParams{IncludeArchived: true})
	if err != nil {
		return nil, err
	}
	byID := make(map[string]Channel, len(all))
	for _, c := range all {
		byID[c.ID] = c
	}
	out := make([]Channel, 0, len(r.p.ChannelIDs))
	for _, id := range r.p.ChannelIDs {
		c, ok := byID[id]
		if !ok {
			c = Channel{ID: id} // reading it says why it cannot be read
		}
		out = append(out, c)
	}
	return out, nil
}

// channel reads one channel's history since the later of the window's
// start and the newest message held, and the threads with replies newer
// than that; it saves the cursor after each page.
func (r *run) channel(ctx context.Context, ch Channel) error {
	cs := r.a.cfg.Cursors
	key := store.CursorKey{Source: r.a.cfg.SourceName, Workspace: r.p.WorkspaceID, Channel: ch.ID}
	cur, err := cs.CursorGet(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		cur = &store.Cursor{CursorKey: key}
	case err != nil:
		return fmt.Errorf("read cursor: %w", err)
	}
	held := cur.Latest
	floor := maxTS(r.window, held) // nothing older is asked for
	sw, resumed := parseSweep(cur.PageCursor)
	if !resumed {
		sw = sweep{oldest: floor, latest: r.start}
	}
	sw.oldest = maxTS(sw.oldest, r.window)
	broadcasts := map[string]bool{} // thread replies also in the history, handled there
	slackCursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := r.src.History(ctx, HistoryParams{Channel: ch.ID, Oldest: sw.oldest, Latest: sw.latest,
			Cursor: slackCursor, Limit: r.a.cfg.PageSize})
		if err != nil {
			return err
		}
		var msgs []*store.Message
		oldestSeen := ""
		for i := range page.Messages {
			m := &page.Messages[i]
			if compareTS(m.TS, sw.oldest) <= 0 || (sw.latest != "" && compareTS(m.TS, sw.latest) >= 0) {
				continue // outside the bounds asked for
			}
			if oldestSeen == "" || compareTS(m.TS, oldestSeen) < 0 {
				oldestSeen = m.TS
			}
			sw.newest = maxTS(sw.newest, m.TS)
			if m.ThreadTS != "" && m.ThreadTS != m.TS {
				broadcasts[m.TS] = true
			}
			if err := r.keep(ctx, ch, m, &msgs); err != nil {
				return err
			}
			if r.p.threads() && m.ReplyCount > 0 && m.ThreadTS == m.TS && (held == "" || compareTS(m.LatestReply, held) > 0) {
				if err := r.thread(ctx, ch, m.TS, floor, broadcasts, &msgs); err != nil {
					return err
				}
			}
		}
		n, err := r.a.cfg.Sink.Put(ctx, msgs)
		if err != nil {
			return fmt.Errorf("write messages: %w", err)
		}
		r.out.MessagesCollected += int64(n)
		slackCursor = ""
		switch {
		case page.Next == "":
			cur.Latest, cur.PageCursor = maxTS(held, sw.newest), ""
			if _, err := cs.CursorSet(ctx, cur); err != nil {
				return fmt.Errorf("save cursor: %w", err)
			}
			level.Info(r.a.cfg.Logger).Log("msg", "channel read", "run_id", r.task.RunID, "workspace", r.p.WorkspaceID, "channel", ch.ID)
			return nil
		case oldestSeen == "":
			slackCursor = page.Next // an empty page with more behind: Slack's cursor, same bounds
		default:
			sw.latest = oldestSeen
			cur.PageCursor = sw.encode()
			if _, err := cs.CursorSet(ctx, cur); err != nil {
				return fmt.Errorf("save cursor: %w", err)
			}
		}
		r.report(ctx, false)
	}
}

// thread reads the replies of the thread of parent newer than floor into
// msgs. The parent itself, first of every page, and the replies sent to
// the channel too (read from the history) are not taken twice.
func (r *run) thread(ctx context.Context, ch Channel, parent, floor string, broadcasts map[string]bool, msgs *[]*store.Message) error {
	r.out.ThreadsFollowed++
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := r.src.Replies(ctx, RepliesParams{Channel: ch.ID, ThreadTS: parent, Oldest: floor, Latest: r.start,
			Cursor: cursor, Limit: r.a.cfg.PageSize})
		if err != nil {
			return err
		}
		for i := range page.Messages {
			m := &page.Messages[i]
			if m.TS == parent || broadcasts[m.TS] || compareTS(m.TS, floor) <= 0 || compareTS(m.TS, r.start) >= 0 {
				continue
			}
			if err := r.keep(ctx, ch, m, msgs); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		cursor = page.Next
	}
}

// keep adds m to msgs unless the filter drops it, with its author's name.
func (r *run) keep(ctx context.Context, ch Channel, m *Message, msgs *[]*store.Message) error {
	if why := r.a.cfg.Filter.skip(m); why != "" {
		r.out.MessagesSkipped++
		r.out.SkippedBy[why]++
		return nil
	}
	name := ""
	if m.User != "" {
		n, err := r.src.UserName(ctx, m.User)
		switch {
		case errors.Is(err, ErrWorkspace), ctx.Err() != nil:
			return err
		case err != nil:
			level.Debug(r.a.cfg.Logger).Log("msg", "user name not resolved", "user", m.User, "err", err)
		default:
			name = n
		}
	}
	*msgs = append(*msgs, &store.Message{Source: r.a.cfg.SourceName, Workspace: r.p.WorkspaceID, Channel: ch.ID,
		TS: m.TS, ThreadTS: m.ThreadTS, User: m.User, UserName: name, Text: m.Text, Raw: m.Raw})
	return nil
}

// report records the progress counters, at most every ProgressEvery
// unless now is set.
func (r *run) report(ctx context.Context, now bool) {
	t := r.a.cfg.Now()
	if !now && t.Sub(r.last) < r.a.cfg.ProgressEvery {
		return
	}
	r.last = t
	if r.task.Progress == nil {
		return
	}
	err := r.task.Progress.Report(ctx, map[string]int64{
		ProgressChannelsTotal:     r.out.ChannelsTotal,
		ProgressChannelsProcessed: r.out.ChannelsProcessed,
		ProgressChannelsFailed:    r.out.ChannelsFailed,
		ProgressMessagesCollected: r.out.MessagesCollected,
		ProgressMessagesSkipped:   r.out.MessagesSkipped,
		ProgressThreadsFollowed:   r.out.ThreadsFollowed,
		ProgressRateLimitedWaits:  r.waits.Load(),
	})
	if err != nil {
		level.Debug(r.a.cfg.Logger).Log("msg", "progress not recorded", "run_id", r.task.RunID, "err", err)
	}
}

// summary is the run's readable result.
func (r *run) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "collected %d new messages from %d of %d channels of workspace %s (%d skipped as noise, %d threads followed)",
		r.out.MessagesCollected, r.out.ChannelsProcessed-r.out.ChannelsFailed, r.out.ChannelsTotal, r.p.WorkspaceID,
		r.out.MessagesSkipped, r.out.ThreadsFollowed)
	if len(r.out.Failures) > 0 {
		b.WriteString("; not read: ")
		for i, f := range r.out.Failures {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Channel)
			if f.Name != "" {
				b.WriteString(" (#" + f.Name + ")")
			}
			b.WriteString(": " + f.Error)
		}
	}
	return b.String()
}
