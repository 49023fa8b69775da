package backfill_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// Sizes of BenchmarkPipeline's workspace.
const (
	benchChannels    = 10
	benchThreadEvery = 10 // every 10th top-level message is a thread's parent
	benchReplies     = 3
	benchUsers       = 500
)

// benchTotal is the number of messages BenchmarkPipeline reads:
// HERALD_BENCH_LARGE=1 for a million.
func benchTotal() int {
	if os.Getenv("HERALD_BENCH_LARGE") != "" {
		return 1_000_000
	}
	return 100_000
}

// BenchmarkPipeline measures the whole pipeline of a backfill run, from a
// Source through the filter, the names, the Sink and the cursor, into
// SQLite and PostgreSQL: msgs/s is the messages written a second; heap-MB
// and rss-MB are the peaks of HeapInuse and of the process's RSS over the
// first 10%, the next 40% and the last 50% of the run (flat means the
// memory does not grow with the run). The Source is generated in process
// (memSource) and costs nothing: the "discard" cases show what it and the
// HTTP path of slack.Source on slacktest cost with no store.
//
//	go test -run '^$' -bench Pipeline -benchtime 1x ./backfill/
//	HERALD_BENCH_LARGE=1 go test -run '^$' -bench Pipeline -benchtime 1x -timeout 1h ./backfill/
func BenchmarkPipeline(b *testing.B) {
	total := benchTotal()
	for _, tc := range []struct {
		name   string
		open   func(t testing.TB) msgStore // nil: messages discarded
		source func(b *testing.B, total int) backfill.Source
		writes int // Config.WriteConcurrency
	}{
		{name: "sqlite", open: openSQLite, source: newMemSource},
		{name: "sqlite/writes=2", open: openSQLite, source: newMemSource, writes: 2},
		{name: "postgres", open: openPostgres, source: newMemSource},
		{name: "postgres/writes=2", open: openPostgres, source: newMemSource, writes: 2},
		{name: "discard/source=mem", source: newMemSource},
		{name: "discard/source=slacktest", source: newSlacktestSource},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if os.Getenv("HERALD_BENCH_PAGE_SIZE") != "" {
				b.Logf("page size %s", os.Getenv("HERALD_BENCH_PAGE_SIZE"))
			}
			var (
				elapsed time.Duration
				cpu     time.Duration // of this process (SQLite's included, PostgreSQL's not)
				written int64
				peaks   [3]memPeak
			)
			for range b.N {
				b.StopTimer()
				src := tc.source(b, total)
				var st msgStore
				var sink backfill.Sink
				if tc.open != nil {
					st = tc.open(b)
					sink = backfill.StoreSink(st)
				} else {
					st = memstore.New(memstore.Options{})
					sink = backfill.SinkFunc(func(_ context.Context, msgs []*store.Message) (int, error) { return len(msgs), nil })
				}
				runtime.GC()
				probe := &memProbe{total: int64(total)}
				a, err := backfill.NewAgent(backfill.Config{
					Workspaces:       backfill.WorkspacesFunc(func(context.Context, string, string) (backfill.Source, error) { return src, nil }),
					Cursors:          st,
					Sink:             probe.wrap(sink),
					PageSize:         benchPageSize(),
					WriteBatch:       benchWriteBatch(),
					WriteConcurrency: tc.writes,
				})
				if err != nil {
					b.Fatal(err)
				}
				task := &agent.Task{RunID: "bench", Owner: owner, Payload: json.RawMessage(killPayload),
					Progress: agent.ReporterFunc(func(context.Context, map[string]int64) error { return nil })}
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				res, err := a.Run(context.Background(), task)
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				var out backfill.Output
				_ = json.Unmarshal(res.Output, &out)
				if out.MessagesCollected < int64(total)*9/10 {
					b.Fatalf("collected %d of %d messages", out.MessagesCollected, total)
				}
				written += out.MessagesCollected
				for i := range peaks {
					peaks[i].heap = max(peaks[i].heap, probe.peaks[i].heap)
					peaks[i].rss = max(peaks[i].rss, probe.peaks[i].rss)
				}
				if c, ok := st.(interface{ Close() error }); ok && tc.open == nil {
					_ = c.Close()
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(written)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(cpu.Seconds()*1e6/float64(written), "cpu-µs/msg")
			for i, name := range []string{"10%", "50%", "100%"} {
				b.ReportMetric(float64(peaks[i].heap)/(1<<20), "heap-MB@"+name)
				b.ReportMetric(float64(peaks[i].rss)/(1<<20), "rss-MB@"+name)
			}
		})
	}
}

// BenchmarkStoreOnly is the store's part of BenchmarkPipeline: the same
// messages, already filtered and named, written a page at a time
// (MessageUpsert, then CursorSet, as the agent does), with nothing else.
// Its msgs/s bounds the pipeline's.
func BenchmarkStoreOnly(b *testing.B) {
	total := benchTotal()
	size := benchPageSize()
	if size == 0 {
		size = backfill.PageSizeDefault
	}
	for _, tc := range []struct {
		name string
		open func(t testing.TB) msgStore
	}{{"sqlite", openSQLite}, {"postgres", openPostgres}} {
		b.Run(tc.name, func(b *testing.B) {
			var (
				elapsed, cpu time.Duration
				written      int64
			)
			for range b.N {
				b.StopTimer()
				pages := benchPages(total, size)
				st := tc.open(b)
				runtime.GC()
				b.StartTimer()
				start, cpu0 := time.Now(), cpuTime()
				for _, page := range pages {
					n, err := st.MessageUpsert(context.Background(), page...)
					if err != nil {
						b.Fatal(err)
					}
					written += int64(n)
					m := page[len(page)-1]
					if _, err := st.CursorSet(context.Background(), &store.Cursor{CursorKey: store.CursorKey{Source: m.Source,
						Workspace: m.Workspace, Channel: m.Channel}, PageCursor: "v1 - " + m.TS + " -"}); err != nil {
						b.Fatal(err)
					}
				}
				elapsed += time.Since(start)
				cpu += cpuTime() - cpu0
			}
			b.ReportMetric(float64(written)/elapsed.Seconds(), "msgs/s")
			b.ReportMetric(cpu.Seconds()*1e6/float64(written), "cpu-µs/msg")
		})
	}
}

// benchPages are the pages of messages a run of BenchmarkPipeline writes,
// of size messages each (noise left out, names set).
func benchPages(total, size int) [][]*store.Message {
	src := newMemSource(nil, total).(*memSource)
	chs, _ := src.Channels(context.Background(), backfill.ChannelsParams{})
	var pages [][]*store.Message
	var page []*store.Message
	add := func(ch string, m backfill.Message) {
		if m.Subtype != "" || m.BotID != "" {
			return
		}
		page = append(page, &store.Message{Source: "slack", Workspace: workspaceID, Channel: ch, TS: m.TS,
			ThreadTS: m.ThreadTS, User: m.User, UserName: src.names[m.User], Text: m.Text, Raw: m.Raw})
		if len(page) == size {
			pages = append(pages, page)
			page = nil
		}
	}
	for _, ch := range chs {
		for i := src.topLevel - 1; i >= 0; i-- {
			m := src.message(ch.ID, i)
			add(ch.ID, m)
			if m.ReplyCount > 0 {
				replies, _ := src.Replies(context.Background(), backfill.RepliesParams{Channel: ch.ID, ThreadTS: m.TS})
				for _, r := range replies.Messages[1:] {
					add(ch.ID, r)
				}
			}
		}
		if len(page) > 0 {
			pages = append(pages, page)
			page = nil
		}
	}
	return pages
}

// benchPageSize is HERALD_BENCH_PAGE_SIZE, or zero for the agent's
// default.
func benchPageSize() int {
	n, _ := strconv.Atoi(os.Getenv("HERALD_BENCH_PAGE_SIZE"))
	return n
}

// benchWriteBatch is HERALD_BENCH_WRITE_BATCH, or zero for the agent's
// default.
func benchWriteBatch() int {
	n, _ := strconv.Atoi(os.Getenv("HERALD_BENCH_WRITE_BATCH"))
	return n
}

// memPeak is the highest HeapInuse and RSS seen in a part of a run.
type memPeak struct{ heap, rss uint64 }

// memProbe samples the memory after every page the Sink writes, keeping
// the peaks of the run's first 10%, next 40% and last 50%.
type memProbe struct {
	total   int64
	written atomic.Int64
	mu      sync.Mutex
	peaks   [3]memPeak
}

func (p *memProbe) wrap(next backfill.Sink) backfill.Sink {
	return backfill.SinkFunc(func(ctx context.Context, msgs []*store.Message) (int, error) {
		n, err := next.Put(ctx, msgs)
		done := p.written.Add(int64(len(msgs)))
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		part := 2
		switch {
		case done <= p.total/10:
			part = 0
		case done <= p.total/2:
			part = 1
		}
		p.mu.Lock()
		pk := &p.peaks[part]
		pk.heap = max(pk.heap, ms.HeapInuse)
		pk.rss = max(pk.rss, rss())
		p.mu.Unlock()
		return n, err
	})
}

// cpuTime is the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss is the process's resident set size, from /proc (0 elsewhere).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// memSource is a Source generating a workspace in process, as fast as the
// agent asks: benchChannels channels of top-level messages a minute apart
// (every benchThreadEvery-th a thread's parent with benchReplies replies,
// 1% joins, 1% bot messages), pages cut from the bounds asked for.
type memSource struct {
	start    int64 // µs, the oldest message
	topLevel int   // per channel
	names    map[string]string
}

const benchInterval = int64(time.Minute / time.Microsecond)

func newMemSource(_ *testing.B, total int) backfill.Source {
	perChannel := total / benchChannels
	topLevel := perChannel * benchThreadEvery / (benchThreadEvery + benchReplies)
	s := &memSource{start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), topLevel: topLevel,
		names: make(map[string]string, benchUsers)}
	for u := range benchUsers {
		s.names[benchUser(u)] = fmt.Sprintf("User %d", u)
	}
	return s
}

func benchUser(u int) string { return fmt.Sprintf("U%07d", u) }

func (s *memSource) Channels(context.Context, backfill.ChannelsParams) ([]backfill.Channel, error) {
	out := make([]backfill.Channel, benchChannels)
	for i := range out {
		out[i] = backfill.Channel{ID: fmt.Sprintf("C%07d", i), Name: fmt.Sprintf("general-%d", i), Member: true}
	}
	return out, nil
}

// after returns the index of the first top-level message after ts, def
// when ts is empty.
func (s *memSource) after(ts string, def int) int {
	if ts == "" {
		return def
	}
	us := benchMicros(ts)
	if us < s.start {
		return 0
	}
	return min(int((us-s.start)/benchInterval)+1, s.topLevel)
}

func (s *memSource) History(_ context.Context, p backfill.HistoryParams) (*backfill.Page, error) {
	lo := s.after(p.Oldest, 0)          // first index in bounds
	hi := s.after(p.Latest, s.topLevel) // first index out of bounds
	if p.Latest != "" && hi > 0 && s.ts(hi-1) == benchMicros(p.Latest) {
		hi-- // latest is exclusive
	}
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	from := max(lo, hi-limit)
	page := &backfill.Page{Messages: make([]backfill.Message, 0, hi-from)}
	for i := hi - 1; i >= from; i-- {
		page.Messages = append(page.Messages, s.message(p.Channel, i))
	}
	if from > lo {
		page.Next = "more"
	}
	return page, nil
}

func (s *memSource) Replies(_ context.Context, p backfill.RepliesParams) (*backfill.Page, error) {
	i := int((benchMicros(p.ThreadTS) - s.start) / benchInterval)
	page := &backfill.Page{Messages: make([]backfill.Message, 0, benchReplies+1)}
	page.Messages = append(page.Messages, s.message(p.Channel, i))
	for j := 1; j <= benchReplies; j++ {
		ts := s.ts(i) + int64(j)*1000
		user := benchUser((i*7 + j*13) % benchUsers)
		text := "reply " + strconv.Itoa(j) + " to thread " + strconv.Itoa(i) + ": sounds good, shipping it after lunch"
		page.Messages = append(page.Messages, backfill.Message{TS: benchTS(ts), ThreadTS: benchTS(s.ts(i)), User: user,
			Text: text, Raw: benchRaw(p.Channel, benchTS(ts), user, text)})
	}
	return page, nil
}

func (s *memSource) UserName(_ context.Context, user string) (string, error) {
	return s.names[user], nil
}

func (s *memSource) ts(i int) int64 { return s.start + int64(i)*benchInterval }

func (s *memSource) message(channel string, i int) backfill.Message {
	ts := benchTS(s.ts(i))
	m := backfill.Message{TS: ts, User: benchUser((i * 7) % benchUsers)}
	switch {
	case i%benchThreadEvery == 0:
		m.Text = "thread " + strconv.Itoa(i) + ": can someone review the deploy plan before tonight?"
		m.ThreadTS, m.ReplyCount, m.LatestReply = ts, benchReplies, benchTS(s.ts(i)+benchReplies*1000)
	case i%100 == 1:
		m.Subtype, m.Text = "channel_join", "<@"+m.User+"> has joined the channel"
	case i%100 == 2:
		m.User, m.BotID, m.Subtype, m.Text = "", "B0BENCH", "bot_message", "build #"+strconv.Itoa(i)+" passed"
	default:
		m.Text = "message " + strconv.Itoa(i) + ": the build is green again, thanks for the quick fix"
	}
	m.Raw = benchRaw(channel, ts, m.User, m.Text)
	return m
}

func benchRaw(channel, ts, user, text string) json.RawMessage {
	var b bytes.Buffer
	b.Grow(192 + len(text))
	b.WriteString(`{"type":"message","user":"`)
	b.WriteString(user)
	b.WriteString(`","text":`)
	b.WriteString(strconv.Quote(text))
	b.WriteString(`,"ts":"`)
	b.WriteString(ts)
	b.WriteString(`","team":"T0BENCH","channel":"`)
	b.WriteString(channel)
	b.WriteString(`","blocks":[{"type":"rich_text","block_id":"b1","elements":[]}]}`)
	return b.Bytes()
}

func benchTS(us int64) string {
	return strconv.FormatInt(us/1_000_000, 10) + "." + fmt.Sprintf("%06d", us%1_000_000)
}

func benchMicros(ts string) int64 {
	whole, frac, _ := strings.Cut(ts, ".")
	sec, _ := strconv.ParseInt(whole, 10, 64)
	micro, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	return sec*1_000_000 + micro
}

// newSlacktestSource is slack.Source, with no rate limits, on slacktest's
// generated workspace of the same shape.
func newSlacktestSource(b *testing.B, total int) backfill.Source {
	perChannel := total / benchChannels
	p := slacktest.GenerateParams{Channels: benchChannels, Messages: perChannel * benchThreadEvery / (benchThreadEvery + benchReplies),
		ThreadEvery: benchThreadEvery, Replies: benchReplies, Users: benchUsers,
		Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	ws := slacktest.Generate(p)
	fake := slacktest.New(b, ws)
	src, err := slack.New(slack.Config{Token: fake.Token(), BaseURL: fake.URL(), HTTPClient: fake.Client(), RateLimits: unlimited()})
	if err != nil {
		b.Fatal(err)
	}
	return src
}
