//go:build unix

package pgrestart

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	kitlog "github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/webhook"
)

// The work every node runs, and whose it is.
const (
	agentName = "noop"
	owner     = "ops"
)

// adminPrincipal is the principal the test enqueues as.
func adminPrincipal() scheduler.Principal { return scheduler.Principal{Subject: owner, Admin: true} }

// node is one scheduler on its own store handle (its own pool and its own
// LISTEN connection).
type node struct {
	name string
	st   *bunstore.Store
	s    *scheduler.Scheduler
}

// openNode opens a store on dsn and starts a scheduler on it whose agent
// records what it runs in ex. The scheduler is stopped and the store closed
// when the test ends, if the test has not done it.
func openNode(t *testing.T, dsn, name string, logger kitlog.Logger, ex *executions, cfg scheduler.Config) *node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{Logger: kitlog.With(logger, "store", name)})
	if err != nil {
		t.Fatalf("%s: open store: %v", name, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	agents := agent.NewRegistry()
	agents.MustRegister(agentName, ex.agent(name))
	cfg.Agents, cfg.Logger, cfg.Node = agents, logger, name
	s, err := scheduler.New(st, cfg)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	// Start's context lives as long as the node: cancelling it would stop
	// the node at once.
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("%s: start: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return &node{name: name, st: st, s: s}
}

// sinkFailure is an event the sink could not record.
type sinkFailure struct {
	at  time.Time
	err error
}

// sinkFailures keeps the sink's failures.
type sinkFailures struct {
	mu   sync.Mutex
	list []sinkFailure
}

func (f *sinkFailures) snapshot() []sinkFailure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sinkFailure(nil), f.list...)
}

// schedulerSink records webhook events through s, as a service wires it,
// and keeps its failures in failed.
func schedulerSink(s *scheduler.Scheduler, failed *sinkFailures) webhook.Sink {
	return webhook.SinkFunc(func(ctx context.Context, e *webhook.Event) (*webhook.Receipt, error) {
		res, err := s.AcceptEvent(ctx, scheduler.EventRequest{Source: e.Source, DeliveryID: e.DeliveryID,
			Headers: e.Headers, Body: e.Body, Agent: e.Agent, Owner: e.Owner})
		if err != nil {
			failed.mu.Lock()
			failed.list = append(failed.list, sinkFailure{at: time.Now(), err: err})
			failed.mu.Unlock()
			return nil, err
		}
		rc := &webhook.Receipt{EventID: res.Event.ID, Duplicate: res.Duplicate}
		if res.Run != nil {
			rc.RunID = res.Run.ID
		}
		return rc, nil
	})
}

// observer is a store handle that writes nothing: every run_due
// notification its subscribers get came through LISTEN, from another
// handle. It keeps when they came.
type observer struct {
	st     *bunstore.Store
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	due    []time.Time
	resync []time.Time
}

// openObserver opens the observer on dsn and subscribes to it; it is
// closed when the test ends.
func openObserver(t *testing.T, dsn string, logger kitlog.Logger) *observer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := bunstore.Open(ctx, dsn, bunstore.Options{Logger: kitlog.With(logger, "store", "observer")})
	if err != nil {
		t.Fatalf("observer: open store: %v", err)
	}
	sctx, stop := context.WithCancel(context.Background())
	notes, err := st.Subscribe(sctx)
	if err != nil {
		stop()
		_ = st.Close()
		t.Fatalf("observer: subscribe: %v", err)
	}
	o := &observer{st: st, cancel: stop, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		for n := range notes {
			o.mu.Lock()
			switch n.Topic {
			case store.TopicRunDue:
				o.due = append(o.due, time.Now())
			case store.TopicResync:
				o.resync = append(o.resync, time.Now())
			}
			o.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		o.cancel()
		<-o.done
		_ = o.st.Close()
	})
	return o
}

// fillPool has n of the observer's pooled connections used at once, so
// that the pool holds n connections that were used a moment ago.
func (o *observer) fillPool(ctx context.Context, n int) error {
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := o.st.DB().ExecContext(ctx, "SELECT pg_sleep(0.05)")
			errs <- err
		}()
	}
	var err error
	for range n {
		err = errors.Join(err, <-errs)
	}
	return err
}

// readAll reads run id n times at once (taking up to n pooled
// connections) and returns the errors.
func (o *observer) readAll(ctx context.Context, n int, id string) []error {
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := o.st.RunGet(ctx, id)
			errs <- err
		}()
	}
	out := make([]error, n)
	for i := range out {
		out[i] = <-errs
	}
	return out
}

// firstSince returns the first run_due and resync notifications at or
// after since (zero when none came).
func (o *observer) firstSince(since time.Time) (due, resync time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	first := func(ts []time.Time) time.Time {
		for _, at := range ts {
			if !at.Before(since) {
				return at
			}
		}
		return time.Time{}
	}
	return first(o.due), first(o.resync)
}

// execution is one attempt an agent ran.
type execution struct {
	node       string
	runID      string
	deliveryID string // of a webhook run
	attempt    int
	at         time.Time
}

// executions records the attempts the nodes' agents ran.
type executions struct {
	mu   sync.Mutex
	list []execution
}

// agentWork is how long one attempt takes.
const agentWork = 10 * time.Millisecond

// agent returns node's agent: it records the attempt, then works a moment.
func (ex *executions) agent(node string) agent.Agent {
	return agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		e := execution{node: node, runID: task.RunID, attempt: task.Attempt, at: time.Now()}
		if task.Event != nil {
			e.deliveryID = task.Event.DeliveryID
		}
		ex.mu.Lock()
		ex.list = append(ex.list, e)
		ex.mu.Unlock()
		select {
		case <-time.After(agentWork):
			return &agent.Result{Summary: "done"}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
}

func (ex *executions) snapshot() []execution {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return append([]execution(nil), ex.list...)
}

// countSince counts node's attempts started at or after since.
func (ex *executions) countSince(node string, since time.Time) int {
	n := 0
	for _, e := range ex.snapshot() {
		if e.node == node && !e.at.Before(since) {
			n++
		}
	}
	return n
}

// hookReply is the webhook handler's answer to an accepted delivery.
type hookReply struct {
	Received  bool   `json:"received"`
	EventID   string `json:"event_id"`
	RunID     string `json:"run_id"`
	Duplicate bool   `json:"duplicate"`
}

// hookResult is one webhook request and its answer.
type hookResult struct {
	delivery       string
	sent, answered time.Time
	status         int   // 0 when no answer came
	err            error // transport error, or an undecodable 200
	reply          hookReply
}

// enqueueResult is one ad hoc enqueue and its outcome.
type enqueueResult struct {
	sent, answered time.Time
	runID          string
	err            error
}

// sender posts webhooks to one source of the handler under test.
type sender struct {
	client *http.Client
	url    string
	token  string
}

// deliveryHeader carries a delivery's id (a bearer token signs none).
const deliveryHeader = "X-Delivery-Id"

// requestTimeout bounds one webhook request or enqueue.
const requestTimeout = 10 * time.Second

func (s *sender) post(delivery string) hookResult {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	res := hookResult{delivery: delivery, sent: time.Now()}
	body, _ := json.Marshal(map[string]string{"delivery": delivery})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		res.err = err
		return res
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(deliveryHeader, delivery)
	resp, err := s.client.Do(req)
	res.answered = time.Now()
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	res.status = resp.StatusCode
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		res.err = err
		return res
	}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res.reply); err != nil {
			res.err = fmt.Errorf("undecodable 200 answer %q: %w", b, err)
		}
	}
	return res
}

// load drives webhooks and ad hoc enqueues at steady rates, and keeps
// every outcome.
type load struct {
	hooks   *sender
	enqueue *scheduler.Scheduler
	prefix  string // of the delivery ids

	mu       sync.Mutex
	results  []hookResult
	enqueues []enqueueResult

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// start starts posting a webhook every hookEvery and enqueueing a run
// every enqueueEvery, each request in its own goroutine, until stopLoad.
func (l *load) start(hookEvery, enqueueEvery time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	l.tick(ctx, hookEvery, func(i int) {
		r := l.hooks.post(fmt.Sprintf("%s-%06d", l.prefix, i))
		l.mu.Lock()
		l.results = append(l.results, r)
		l.mu.Unlock()
	})
	l.tick(ctx, enqueueEvery, func(i int) { l.enqueueOne(fmt.Sprintf(`{"n":%d}`, i)) })
}

func (l *load) enqueueOne(payload string) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	r := enqueueResult{sent: time.Now()}
	run, err := l.enqueue.Enqueue(ctx, adminPrincipal(), scheduler.EnqueueRequest{Agent: agentName, Payload: json.RawMessage(payload)})
	r.answered, r.err = time.Now(), err
	if err == nil {
		r.runID = run.ID
	}
	l.mu.Lock()
	l.enqueues = append(l.enqueues, r)
	l.mu.Unlock()
}

func (l *load) tick(ctx context.Context, every time.Duration, f func(i int)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				f(i)
			}()
		}
	}()
}

// stopLoad stops sending and waits for the requests under way.
func (l *load) stopLoad() {
	if l.stop != nil {
		l.stop()
	}
	l.wg.Wait()
}

func (l *load) snapshot() ([]hookResult, []enqueueResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hookResult(nil), l.results...), append([]enqueueResult(nil), l.enqueues...)
}

// accepted counts the webhooks answered 200 that were sent at or after
// since, and the enqueues that succeeded.
func (l *load) accepted(since time.Time) (hooks, enqueues int) {
	rs, es := l.snapshot()
	for _, r := range rs {
		if r.status == http.StatusOK && !r.sent.Before(since) {
			hooks++
		}
	}
	for _, e := range es {
		if e.err == nil && !e.sent.Before(since) {
			enqueues++
		}
	}
	return hooks, enqueues
}

// waitFor polls cond every 50 ms until it holds, and logs how long that
// took, or until timeout passes; then it fails the test with what and
// cond's last word.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, detail := cond()
		if ok {
			took := time.Since(start)
			t.Logf("%s: after %v", what, took.Round(time.Millisecond))
			return took
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v (%s)", what, timeout, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// logBook keeps the records the stores and schedulers log.
type logBook struct {
	mu      sync.Mutex
	records []map[string]any
}

// Write implements io.Writer: one call is one JSON record.
func (b *logBook) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(p, &rec); err != nil {
		rec = map[string]any{"msg": strings.TrimSpace(string(p))}
	}
	b.mu.Lock()
	b.records = append(b.records, rec)
	b.mu.Unlock()
	return len(p), nil
}

// logger logs info and above into the book.
func (b *logBook) logger() kitlog.Logger {
	l := kitlog.NewJSONLogger(b)
	l = kitlog.With(l, "ts", kitlog.DefaultTimestampUTC)
	return level.NewFilter(l, level.AllowInfo())
}

// report logs the warnings and errors: each distinct message once, with
// its count, its first and last time and its first error text.
func (b *logBook) report(t *testing.T) {
	b.mu.Lock()
	recs := append([]map[string]any(nil), b.records...)
	b.mu.Unlock()
	type seen struct {
		n                         int
		first, last, err, lastErr string
	}
	byMsg := map[string]*seen{}
	var order []string
	str := func(rec map[string]any, k string) string {
		if v, ok := rec[k]; ok {
			return fmt.Sprint(v)
		}
		return ""
	}
	for _, rec := range recs {
		lv := str(rec, "level")
		if lv != "warn" && lv != "error" {
			continue
		}
		who := str(rec, "node")
		if st := str(rec, "store"); st != "" {
			who = "store " + st
		}
		key := lv + " [" + who + "] " + str(rec, "msg")
		s := byMsg[key]
		if s == nil {
			s = &seen{first: str(rec, "ts"), err: str(rec, "err")}
			byMsg[key] = s
			order = append(order, key)
		}
		s.n++
		s.last, s.lastErr = str(rec, "ts"), str(rec, "err")
	}
	sort.SliceStable(order, func(i, j int) bool { return byMsg[order[i]].first < byMsg[order[j]].first })
	var sb strings.Builder
	for _, k := range order {
		s := byMsg[k]
		fmt.Fprintf(&sb, "  %4d× %s  [%s … %s]\n", s.n, k, s.first, s.last)
		if s.err != "" {
			fmt.Fprintf(&sb, "        first err: %s\n", s.err)
		}
		if s.lastErr != "" && s.n > 1 {
			fmt.Fprintf(&sb, "        last err:  %s\n", s.lastErr)
		}
	}
	t.Logf("warnings and errors the nodes logged (%d records in all):\n%s", len(recs), sb.String())
}

// allRuns lists the runs p selects, every page.
func allRuns(ctx context.Context, st store.Store, p store.RunListParams) ([]*store.Run, error) {
	var out []*store.Run
	p.Limit = store.ListLimitMax
	for {
		page, err := st.RunList(ctx, &p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Runs...)
		if page.Next == "" {
			return out, nil
		}
		p.Cursor = page.Next
	}
}

// allEvents lists every event.
func allEvents(ctx context.Context, st store.Store) ([]*store.Event, error) {
	var out []*store.Event
	p := store.EventListParams{Limit: store.ListLimitMax}
	for {
		page, err := st.EventList(ctx, &p)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Events...)
		if page.Next == "" {
			return out, nil
		}
		p.Cursor = page.Next
	}
}
