package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
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
	// WriteBatchDefault is how many messages a write to the Sink holds at
	// most when pages come faster than WriteEveryDefault.
	WriteBatchDefault = 1000
	// WriteEveryDefault is how long read messages wait at most for their
	// write to the Sink.
	WriteEveryDefault = time.Second
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
	// WriteBatch and WriteEvery group the pages of a channel into fewer
	// writes when the Source is faster than the Sink: the agent writes
	// the messages it holds, and then saves the channel's cursor, once it
	// holds WriteBatch messages, once WriteEvery has passed since its last
	// write, and at the channel's end. A Source slower than a page per
	// WriteEvery (Slack's rate limits) gets a write per page. A run that
	// stops reads again what it had not written. Zero means
	// WriteBatchDefault and WriteEveryDefault.
	WriteBatch int
	WriteEvery time.Duration
	// WriteConcurrency is how many writes to the Sink of one channel may
	// be under way at once; the channel's cursor is still saved in order,
	// once every write before it is done. Above 1 the Sink must be safe
	// for concurrent use (StoreSink is): PostgreSQL then writes faster;
	// SQLite, which has one writer, does not. Zero means 1.
	WriteConcurrency int
	// Clock is the clock; nil means clock.System.
	Clock clock.Clock
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
	case cfg.PageSize < 0 || cfg.ProgressEvery < 0 || cfg.Filter.MinLength < 0 || cfg.WriteBatch < 0 || cfg.WriteEvery < 0 ||
		cfg.WriteConcurrency < 0:
		return nil, errors.New("backfill: Config: PageSize, ProgressEvery, WriteBatch, WriteEvery, WriteConcurrency and Filter.MinLength must not be negative")
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
	if cfg.WriteBatch == 0 {
		cfg.WriteBatch = WriteBatchDefault
	}
	if cfg.WriteEvery == 0 {
		cfg.WriteEvery = WriteEveryDefault
	}
	if cfg.WriteConcurrency == 0 {
		cfg.WriteConcurrency = 1
	}
	cfg.Clock = clock.OrSystem(cfg.Clock)
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
// after every page it writes (see Config.WriteBatch). A channel that cannot be read fails alone (its error
// in the output); a workspace that cannot be read fails the run at once,
// with no retry. A cancelled run stops between pages; the next run resumes
// where it stopped.
func (a *Agent) Run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	p, err := ParsePayload(task.Payload)
	if err != nil {
		return nil, agent.Permanent(fmt.Errorf("backfill: payload: %w", err))
	}
	src, err := a.cfg.Workspaces.Open(ctx, task.Owner, p.WorkspaceID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, agent.Permanent(fmt.Errorf("backfill: workspace %q: not found", p.WorkspaceID))
		}
		return nil, fmt.Errorf("backfill: workspace %q: %w", p.WorkspaceID, err)
	}
	now := a.cfg.Clock.Now()
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
		return agent.Permanent(err)
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
// than that; it writes what it read and saves the cursor after each page,
// or each batch of pages (Config.WriteBatch).
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
	// The messages read and not yet written, and their figures, which
	// join the run's once the Sink has them and the cursor is saved: a
	// page read again after a stop counts once.
	var (
		msgs    []*store.Message
		pg      tally
		written = r.a.cfg.Clock.Now()
		w       writes
	)
	defer w.abandon(cs, &r.out)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := r.src.History(ctx, HistoryParams{Channel: ch.ID, Oldest: sw.oldest, Latest: sw.latest,
			Cursor: slackCursor, Limit: r.a.cfg.PageSize})
		if err != nil {
			return err
		}
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
			if err := r.keep(ctx, ch, m, &msgs, &pg); err != nil {
				return err
			}
			if r.p.threads() && m.ReplyCount > 0 && m.ThreadTS == m.TS && (held == "" || compareTS(m.LatestReply, held) > 0) {
				if err := r.thread(ctx, ch, m.TS, floor, broadcasts, &msgs, &pg); err != nil {
					return err
				}
			}
		}
		end := page.Next == ""
		slackCursor = ""
		switch {
		case end:
			cur.Latest, cur.PageCursor = maxTS(held, sw.newest), ""
		case oldestSeen == "":
			slackCursor = page.Next // an empty page with more behind: Slack's cursor, same bounds
		default:
			sw.latest = oldestSeen
			cur.PageCursor = sw.encode()
		}
		if now := r.a.cfg.Clock.Now(); end || len(msgs) >= r.a.cfg.WriteBatch || now.Sub(written) >= r.a.cfg.WriteEvery {
			w.start(ctx, r.a.cfg.Sink, msgs, pg, *cur)
			msgs, pg, written = nil, tally{}, now
			limit := r.a.cfg.WriteConcurrency
			if end {
				limit = 1
			}
			for len(w.queue) >= limit {
				if err := w.finish(cs, &r.out); err != nil {
					return err
				}
			}
		}
		if end {
			level.Info(r.a.cfg.Logger).Log("msg", "channel read", "run_id", r.task.RunID, "workspace", r.p.WorkspaceID, "channel", ch.ID)
			return nil
		}
		r.report(ctx, false)
	}
}

// writes are a channel's writes under way, oldest first.
type writes struct {
	queue  []*write
	broken bool // a write or a cursor's save failed: no later cursor may be saved
}

// write is one write to the Sink, and the cursor to save once it and the
// writes before it are done.
type write struct {
	ctx     context.Context
	release context.CancelFunc
	pg      tally
	cur     store.Cursor
	done    chan struct{} // closed when Put returned
	n       int
	err     error
}

// saveTimeout bounds a write, and the save of its cursor, once the run's
// context has ended.
const saveTimeout = 10 * time.Second

// start writes msgs in a goroutine of its own. A write once started is not
// cut short when ctx ends (for saveTimeout more): its messages are then
// either written with their cursor saved, or not written, never written
// with the outcome unknown.
func (ws *writes) start(ctx context.Context, sink Sink, msgs []*store.Message, pg tally, cur store.Cursor) {
	wctx, release := lingering(ctx, saveTimeout)
	w := &write{ctx: wctx, release: release, pg: pg, cur: cur, done: make(chan struct{})}
	ws.queue = append(ws.queue, w)
	go func() {
		defer close(w.done)
		w.n, w.err = sink.Put(wctx, msgs)
	}()
}

// finish waits for the oldest write, adds it to out and saves its cursor.
func (ws *writes) finish(cs store.CursorStore, out *Output) error {
	w := ws.queue[0]
	ws.queue = ws.queue[1:]
	defer w.release()
	<-w.done
	if w.err != nil {
		ws.broken = true
		return fmt.Errorf("write messages: %w", w.err)
	}
	out.MessagesCollected += int64(w.n)
	if _, err := cs.CursorSet(w.ctx, &w.cur); err != nil {
		ws.broken = true
		return fmt.Errorf("save cursor: %w", err)
	}
	w.pg.addTo(out)
	return nil
}

// abandon waits for the writes still under way when a channel stopped
// early (its context ended, or a read or a write failed). Those done with
// every write before them have their cursors saved still, so that their
// pages are not read again; the messages of the others count as collected
// (the next run finds them stored) and their pages are read again.
func (ws *writes) abandon(cs store.CursorStore, out *Output) {
	for len(ws.queue) > 0 {
		if w := ws.queue[0]; ws.broken {
			ws.queue = ws.queue[1:]
			<-w.done
			w.release()
			if w.err == nil {
				out.MessagesCollected += int64(w.n)
			}
			continue
		}
		_ = ws.finish(cs, out) // on failure, the pages are read again
	}
}

// lingering returns a context with ctx's values that ends d after ctx
// does (or when released).
func lingering(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var (
		mu    sync.Mutex
		timer *time.Timer
	)
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		timer = time.AfterFunc(d, cancel)
		mu.Unlock()
	})
	return lctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// tally is what one page of a channel's history added to the run's
// figures.
type tally struct {
	skipped   int64
	skippedBy map[string]int64
	threads   int64
}

func (t *tally) skip(why string) {
	if t.skippedBy == nil {
		t.skippedBy = map[string]int64{}
	}
	t.skipped++
	t.skippedBy[why]++
}

func (t *tally) add(o *tally) {
	for why, n := range o.skippedBy {
		if t.skippedBy == nil {
			t.skippedBy = map[string]int64{}
		}
		t.skippedBy[why] += n
	}
	t.skipped += o.skipped
	t.threads += o.threads
}

func (t *tally) addTo(out *Output) {
	out.MessagesSkipped += t.skipped
	for why, n := range t.skippedBy {
		out.SkippedBy[why] += n
	}
	out.ThreadsFollowed += t.threads
}

// thread reads the replies of the thread of parent newer than floor into
// msgs. The parent itself, first of the first page (of every page, for
// some sources), and the replies sent to the channel too (read from the
// history) are not taken twice.
//
// A thread that cannot be read while its channel can (Slack's
// thread_not_found: the thread was deleted after the page that showed its
// parent) is skipped, with a warning: a channel would otherwise fail for
// good on a thread that no longer exists.
func (r *run) thread(ctx context.Context, ch Channel, parent, floor string, broadcasts map[string]bool, msgs *[]*store.Message, pg *tally) error {
	var (
		replies []*store.Message
		th      tally
	)
	cursor := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := r.src.Replies(ctx, RepliesParams{Channel: ch.ID, ThreadTS: parent, Oldest: floor, Latest: r.start,
			Cursor: cursor, Limit: r.a.cfg.PageSize})
		if err != nil {
			return r.threadFailed(ctx, ch, parent, err)
		}
		for i := range page.Messages {
			m := &page.Messages[i]
			if m.TS == parent || broadcasts[m.TS] || m.Subtype == subtypeBroadcast ||
				compareTS(m.TS, floor) <= 0 || compareTS(m.TS, r.start) >= 0 {
				continue
			}
			if err := r.keep(ctx, ch, m, &replies, &th); err != nil {
				return err
			}
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	*msgs = append(*msgs, replies...)
	th.threads++
	pg.add(&th)
	return nil
}

// subtypeBroadcast is the subtype of a thread's reply also sent to the
// channel. The history shows it (the run reads it there, or the next run
// does when it is newer than this one's start), so a thread's replies
// leave it out: after a resumed sweep, the history page that showed it may
// belong to the run before.
const subtypeBroadcast = "thread_broadcast"

// threadFailed decides what a thread's error means: when the channel can no
// longer be read, or for any error but ErrChannel, the error; when only the
// thread cannot (one history call tells), nil: the thread is skipped.
func (r *run) threadFailed(ctx context.Context, ch Channel, parent string, err error) error {
	if !errors.Is(err, ErrChannel) || ctx.Err() != nil {
		return err
	}
	if _, herr := r.src.History(ctx, HistoryParams{Channel: ch.ID, Latest: r.start, Limit: 1}); herr != nil {
		return herr
	}
	level.Warn(r.a.cfg.Logger).Log("msg", "thread not read, skipped", "run_id", r.task.RunID, "workspace", r.p.WorkspaceID,
		"channel", ch.ID, "thread", parent, "err", err)
	return nil
}

// keep adds m to msgs unless the filter drops it, with its author's name.
func (r *run) keep(ctx context.Context, ch Channel, m *Message, msgs *[]*store.Message, pg *tally) error {
	if why := r.a.cfg.Filter.skip(m); why != "" {
		pg.skip(why)
		return nil
	}
	name := ""
	if m.User != "" {
		n, err := r.src.UserName(ctx, m.User)
		switch {
		case ctx.Err() != nil:
			// A name may come from a cache, error or not, after ctx ended:
			// the run stops with ctx's error all the same.
			return ctx.Err()
		case errors.Is(err, ErrWorkspace):
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
	t := r.a.cfg.Clock.Now()
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
