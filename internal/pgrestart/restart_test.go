//go:build unix

package pgrestart

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	kitlog "github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/webhook"
)

// TestMain fails the package when a test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The shape of the load and of the outage.
const (
	hookEvery    = 20 * time.Millisecond // 50 webhooks a second
	enqueueEvery = 50 * time.Millisecond // 20 ad hoc runs a second
	outage       = 3500 * time.Millisecond
	// warmHooks and warmEnqueues must be accepted before the outage, and
	// again once notifications flow after it, before the load stops.
	warmHooks    = 100
	warmEnqueues = 30

	lease = 2 * time.Second
	// pollInterval is the nodes' fallback poll: the default, so that work
	// is never left for long; notifications are checked on their own.
	pollInterval = time.Second
	// settle bounds each wait for a condition.
	settle = 20 * time.Second
	// stalePool is how many pooled connections are left behind by the
	// server going away, and read on after.
	stalePool = 8
)

// TestRestartUnderLoad stops the PostgreSQL server under load for a few
// seconds and starts it again, once with a fast shutdown and once with an
// immediate one (a crash, recovered at the next start). Two scheduler nodes
// on their own store handles execute webhook runs and ad hoc runs the whole
// time. While the database is down the webhook endpoint answers 503; after
// it is back, webhooks are accepted again, every node claims work, LISTEN
// carries notifications between the nodes again, every delivery answered
// 200 (or retried after a 503) is recorded once with its run, and every run
// ends, succeeded.
func TestRestartUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the PostgreSQL restart test takes about half a minute: not in -short mode")
	}
	for _, mode := range []string{"fast", "immediate"} {
		t.Run(mode, func(t *testing.T) { testRestart(t, mode) })
	}
}

// timeline is when the outage's steps happened.
type timeline struct {
	stopBegan, down, startBegan, up time.Time
}

func testRestart(t *testing.T, mode string) {
	began := time.Now()
	c := newCluster(t)
	t.Logf("throwaway cluster on port %d ready in %v", c.port, time.Since(began).Round(time.Millisecond))
	book := &logBook{}
	logger := book.logger()
	defer book.report(t)
	ex := &executions{}
	cfg := scheduler.Config{Lease: lease, PollInterval: pollInterval, ShutdownGrace: 5 * time.Second,
		Retry: scheduler.RetryPolicy{Base: 200 * time.Millisecond, Max: 2 * time.Second}}
	a := openNode(t, c.DSN(), "node-a", logger, ex, cfg)
	b := openNode(t, c.DSN(), "node-b", logger, ex, cfg)
	obs := openObserver(t, c.DSN(), logger)

	// Webhooks go to node A; ad hoc runs are enqueued through node B.
	sinkFailed := &sinkFailures{}
	const token = "restart-test-token"
	bearer, err := webhook.NewBearer([]string{token})
	if err != nil {
		t.Fatal(err)
	}
	h, err := webhook.NewHandler(webhook.HandlerConfig{
		Sources: []webhook.Source{{Name: "restart", Verifier: bearer, Agent: agentName, Owner: owner, DeliveryIDHeader: deliveryHeader}},
		Sink:    schedulerSink(a.s, sinkFailed),
		Logger:  kitlog.With(logger, "node", "webhook handler"),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /hooks/{source}", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Timeout = requestTimeout
	t.Cleanup(client.CloseIdleConnections)
	hooks := &sender{client: client, url: srv.URL + "/hooks/restart", token: token}

	ctx := context.Background()
	var probeRuns []string
	probe := func(from, to *node, phase string) {
		t.Helper()
		ids, took := probeNotify(t, from, to)
		probeRuns = append(probeRuns, ids...)
		t.Logf("%s: an enqueue on %s reached %s's subscribers as run_due in %v", phase, from.name, to.name, took.Round(time.Millisecond))
	}
	// The probe works before the outage, or its failure after would mean
	// nothing.
	probe(a, b, "before the outage")
	probe(b, a, "before the outage")

	l := &load{hooks: hooks, enqueue: b.s, prefix: mode}
	defer l.stopLoad()
	began = time.Now()
	l.start(hookEvery, enqueueEvery)
	waitFor(t, settle, "load accepted before the outage, both nodes executing", func() (bool, string) {
		nh, ne := l.accepted(began)
		na, nb := ex.countSince(a.name, began), ex.countSince(b.name, began)
		return nh >= warmHooks && ne >= warmEnqueues && na > 0 && nb > 0,
			fmt.Sprintf("%d webhooks accepted, %d enqueues; attempts: %s %d, %s %d", nh, ne, a.name, na, b.name, nb)
	})

	// The outage. The observer's pool holds connections used a moment
	// before the server goes away (and no background work of its own uses
	// them): the first reads after meet them, and must fail as unavailable.
	if err := obs.fillPool(ctx, stalePool); err != nil {
		t.Fatalf("observer: fill the pool: %v", err)
	}
	var tl timeline
	tl.stopBegan = time.Now()
	if err := c.stop(mode); err != nil {
		t.Fatal(err)
	}
	tl.down = time.Now()
	unavailable := 0
	for _, err := range obs.readAll(ctx, stalePool, probeRuns[0]) {
		if errors.Is(err, store.ErrUnavailable) {
			unavailable++
		} else {
			t.Errorf("a read on a pooled connection after the server went away returned %v, want an error matching store.ErrUnavailable", err)
		}
	}
	t.Logf("%d reads on the pool %v after the stop began: %d unavailable",
		stalePool, time.Since(tl.stopBegan).Round(time.Millisecond), unavailable)
	waitFor(t, settle, "the outage lasts its length, with a webhook answered meanwhile", func() (bool, string) {
		rs, _ := l.snapshot()
		n := 0
		for _, r := range rs {
			if r.sent.After(tl.down) && !r.answered.IsZero() {
				n++
			}
		}
		return time.Since(tl.down) >= outage && n > 0, fmt.Sprintf("%d webhooks answered since the server stopped", n)
	})
	tl.startBegan = time.Now()
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	tl.up = time.Now()
	t.Logf("server stopped (-m %s) in %v, down for %v, started in %v",
		mode, tl.down.Sub(tl.stopBegan).Round(time.Millisecond), tl.startBegan.Sub(tl.down).Round(time.Millisecond),
		tl.up.Sub(tl.startBegan).Round(time.Millisecond))

	// Back: webhooks accepted again, enqueues succeed again, both nodes
	// claim work again.
	var firstHook, firstEnqueue time.Time
	waitFor(t, settle, "webhooks and enqueues accepted again after the restart", func() (bool, string) {
		rs, es := l.snapshot()
		for _, r := range rs {
			if r.status == http.StatusOK && !r.sent.Before(tl.startBegan) && (firstHook.IsZero() || r.answered.Before(firstHook)) {
				firstHook = r.answered
			}
		}
		for _, e := range es {
			if e.err == nil && !e.sent.Before(tl.startBegan) && (firstEnqueue.IsZero() || e.answered.Before(firstEnqueue)) {
				firstEnqueue = e.answered
			}
		}
		return !firstHook.IsZero() && !firstEnqueue.IsZero(), fmt.Sprintf("first webhook accepted at %v, first enqueue at %v", firstHook, firstEnqueue)
	})
	t.Logf("after the server was up: first webhook accepted in %v, first enqueue in %v",
		firstHook.Sub(tl.up).Round(time.Millisecond), firstEnqueue.Sub(tl.up).Round(time.Millisecond))
	// LISTEN resumed: notifications from the nodes reach a handle that
	// only listens.
	waitFor(t, settle, "notifications through LISTEN again after the restart", func() (bool, string) {
		due, _ := obs.firstSince(tl.startBegan)
		return !due.IsZero(), "no run_due notification reached the observer"
	})
	listening, resync := obs.firstSince(tl.startBegan)
	t.Logf("after the server was up: the observer's LISTEN connection was back (resync) in %v, first run_due through it in %v",
		resync.Sub(tl.up).Round(time.Millisecond), listening.Sub(tl.up).Round(time.Millisecond))
	// Load goes on with notifications flowing again.
	waitFor(t, settle, "load accepted with LISTEN back, both nodes executing", func() (bool, string) {
		nh, ne := l.accepted(listening)
		na, nb := ex.countSince(a.name, listening), ex.countSince(b.name, listening)
		return nh >= warmHooks && ne >= warmEnqueues && na > 0 && nb > 0,
			fmt.Sprintf("%d webhooks accepted, %d enqueues; attempts: %s %d, %s %d", nh, ne, a.name, na, b.name, nb)
	})
	l.stopLoad()
	t.Logf("attempts since the restart: %s %d, %s %d", a.name, ex.countSince(a.name, tl.up), b.name, ex.countSince(b.name, tl.up))

	results, enqueues := l.snapshot()
	checkAnswers(t, results, enqueues, tl)
	checkSinkFailures(t, sinkFailed.snapshot(), tl)

	// A sender retries what was refused: every delivery is then accepted.
	accepted := map[string]hookReply{} // by delivery id
	var retry []string
	for _, r := range results {
		if r.status == http.StatusOK && r.err == nil {
			accepted[r.delivery] = r.reply
		} else {
			retry = append(retry, r.delivery)
		}
	}
	redelivered := 0
	began = time.Now()
	for _, d := range retry {
		var r hookResult
		for try := 1; try <= 3; try++ {
			if r = hooks.post(d); r.status == http.StatusOK && r.err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		if r.status != http.StatusOK || r.err != nil {
			t.Errorf("delivery %s refused during the outage is refused again after it: status %d, %v", d, r.status, r.err)
			continue
		}
		if r.reply.Duplicate {
			redelivered++ // recorded although its answer was not 200
		}
		accepted[d] = r.reply
	}
	t.Logf("%d deliveries refused were sent again and accepted in %v; %d of them had been recorded already (duplicate)",
		len(retry), time.Since(began).Round(time.Millisecond), redelivered)

	// Nothing accepted is lost, nothing is recorded twice.
	qctx, cancel := context.WithTimeout(ctx, settle)
	defer cancel()
	events, err := allEvents(qctx, a.st)
	if err != nil {
		t.Fatalf("list events: %v", err)
	}
	byDelivery := map[string]*store.Event{}
	for _, e := range events {
		if byDelivery[e.DeliveryID] != nil {
			t.Errorf("delivery %s recorded twice: events %s and %s", e.DeliveryID, byDelivery[e.DeliveryID].ID, e.ID)
		}
		byDelivery[e.DeliveryID] = e
	}
	lost := 0
	for d, rep := range accepted {
		e := byDelivery[d]
		switch {
		case e == nil:
			lost++
			if lost <= 10 {
				t.Errorf("delivery %s was answered 200 (event %s, run %s) but has no event", d, rep.EventID, rep.RunID)
			}
		case e.ID != rep.EventID || e.RunID != rep.RunID:
			t.Errorf("delivery %s: answered event %s run %s, recorded event %s run %s", d, rep.EventID, rep.RunID, e.ID, e.RunID)
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d accepted deliveries have no event", lost, len(accepted))
	}
	if len(events) != len(accepted) {
		t.Errorf("%d events recorded for %d distinct deliveries sent", len(events), len(accepted))
	}

	// Every run ends, succeeded: the webhooks', the enqueued ones', the
	// probes'; and no run at all is left queued or running.
	want := map[string]string{} // run id → what asked for it
	for d, rep := range accepted {
		if rep.RunID == "" {
			t.Errorf("delivery %s accepted without a run", d)
			continue
		}
		want[rep.RunID] = "webhook " + d
	}
	adhoc := 0
	for _, e := range enqueues {
		if e.err == nil {
			want[e.runID] = "enqueue"
			adhoc++
		}
	}
	for _, id := range probeRuns {
		want[id] = "probe"
	}
	waitFor(t, settle, "every run ended", func() (bool, string) {
		open, err := allRuns(qctx, a.st, store.RunListParams{Statuses: []store.RunStatus{store.RunQueued, store.RunRunning}})
		if err != nil {
			return false, err.Error()
		}
		return len(open) == 0, fmt.Sprintf("%d runs queued or running, e.g. %s", len(open), describe(open, 3))
	})
	runs, err := allRuns(qctx, a.st, store.RunListParams{})
	if err != nil {
		t.Fatalf("list runs: %v", err)
	}
	byID := map[string]*store.Run{}
	statuses := map[store.RunStatus]int{}
	attempts := map[int]int{}
	for _, r := range runs {
		byID[r.ID] = r
		statuses[r.Status]++
		attempts[r.Attempt]++
	}
	t.Logf("runs in the database: %d (%v; by attempt %v); expected %d (%d webhook, %d enqueued, %d probes)",
		len(runs), statuses, attempts, len(want), len(accepted), adhoc, len(probeRuns))
	missing, unsuccessful := 0, 0
	for id, why := range want {
		r := byID[id]
		switch {
		case r == nil:
			missing++
			if missing <= 10 {
				t.Errorf("run %s (%s) is not in the database", id, why)
			}
		case r.Status != store.RunSucceeded:
			unsuccessful++
			if unsuccessful <= 10 {
				t.Errorf("run %s (%s) ended %s after %d attempts: %s", id, why, r.Status, r.Attempt, r.Error)
			}
		}
	}
	if missing+unsuccessful > 0 {
		t.Errorf("of %d runs accepted, %d are missing and %d did not succeed", len(want), missing, unsuccessful)
	}
	for _, r := range runs {
		if _, ok := want[r.ID]; !ok && r.Kind == store.RunKindEnqueue {
			t.Logf("run %s was enqueued although its enqueue failed (its answer was lost): %s", r.ID, r.Status)
		}
	}

	// Every run that succeeded was executed, a webhook's run with its
	// delivery.
	executed := map[string][]execution{}
	for _, e := range ex.snapshot() {
		executed[e.runID] = append(executed[e.runID], e)
	}
	again := 0
	for id, why := range want {
		es := executed[id]
		if byID[id] != nil && byID[id].Status == store.RunSucceeded && len(es) == 0 {
			t.Errorf("run %s (%s) succeeded without its agent running", id, why)
		}
		if len(es) > 1 {
			again++
			if again <= 5 {
				var how []string
				for _, e := range es {
					how = append(how, fmt.Sprintf("%s attempt %d at %s", e.node, e.attempt, e.at.Format("15:04:05.000")))
				}
				t.Logf("run %s (%s) executed %d times: %s", id, why, len(es), strings.Join(how, ", "))
			}
		}
		if d, ok := strings.CutPrefix(why, "webhook "); ok {
			for _, e := range es {
				if e.deliveryID != d {
					t.Errorf("run %s of delivery %s was handed delivery %q", id, d, e.deliveryID)
				}
			}
		}
	}
	t.Logf("%d runs were executed more than once (at least once is the promise)", again)

	// LISTEN resumed on both handles: an enqueue on one reaches the other's
	// subscribers.
	probe(a, b, "after the restart")
	probe(b, a, "after the restart")
	waitFor(t, settle, "the probes' runs ended", func() (bool, string) {
		for _, id := range probeRuns {
			r, err := a.st.RunGet(qctx, id)
			if err != nil {
				return false, err.Error()
			}
			if r.Status != store.RunSucceeded {
				return false, fmt.Sprintf("run %s is %s", id, r.Status)
			}
		}
		return true, ""
	})

	// Both nodes leave cleanly.
	for _, n := range []*node{a, b} {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		start := time.Now()
		if err := n.s.Stop(sctx); err != nil {
			t.Errorf("%s: stop: %v", n.name, err)
		}
		cancel()
		t.Logf("%s stopped in %v", n.name, time.Since(start).Round(time.Millisecond))
		if err := n.st.Close(); err != nil {
			t.Errorf("%s: close store: %v", n.name, err)
		}
	}
}

// checkAnswers checks the answers the load got: only 200 and 503; while
// the server was down, 503 and nothing else; and the enqueues that failed
// while it was down failed as unavailable.
func checkAnswers(t *testing.T, results []hookResult, enqueues []enqueueResult, tl timeline) {
	t.Helper()
	phase := func(sent, answered time.Time) string {
		switch {
		case answered.Before(tl.stopBegan):
			return "before"
		case sent.After(tl.down) && !answered.IsZero() && answered.Before(tl.startBegan):
			return "down"
		case sent.After(tl.up):
			return "after"
		default:
			return "transition"
		}
	}
	count := map[string]map[string]int{}
	add := func(p, what string) {
		if count[p] == nil {
			count[p] = map[string]int{}
		}
		count[p][what]++
	}
	bad := 0
	for _, r := range results {
		p := phase(r.sent, r.answered)
		what := fmt.Sprint(r.status)
		if r.err != nil {
			what = "no answer"
			if r.status != 0 {
				what = fmt.Sprintf("%d (bad body)", r.status)
			}
		}
		add(p, what)
		ok := r.err == nil && (r.status == http.StatusOK || r.status == http.StatusServiceUnavailable)
		if p == "down" {
			ok = r.err == nil && r.status == http.StatusServiceUnavailable
		}
		if !ok {
			bad++
			if bad <= 10 {
				t.Errorf("webhook %s sent %s the outage (%s): status %d, %v", r.delivery, phaseWord(p), r.sent.Format("15:04:05.000"), r.status, r.err)
			}
		}
		if r.status == http.StatusOK && r.err == nil && (!r.reply.Received || r.reply.Duplicate || r.reply.EventID == "" || r.reply.RunID == "") {
			t.Errorf("webhook %s: a first delivery answered %+v", r.delivery, r.reply)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d webhooks got a wrong answer", bad, len(results))
	}
	if count["down"]["503"] == 0 {
		t.Errorf("no webhook was answered 503 while the server was down (answers: %v)", count)
	}
	t.Logf("webhook answers by phase: %s", phases(count))

	ecount := map[string]map[string]int{}
	eadd := func(p, what string) {
		if ecount[p] == nil {
			ecount[p] = map[string]int{}
		}
		ecount[p][what]++
	}
	notUnavailable := 0
	for _, e := range enqueues {
		p := phase(e.sent, e.answered)
		switch {
		case e.err == nil:
			eadd(p, "ok")
		case errors.Is(e.err, store.ErrUnavailable):
			eadd(p, "unavailable")
		default:
			eadd(p, "other error")
		}
		if p == "down" && (e.err == nil || !errors.Is(e.err, store.ErrUnavailable)) {
			notUnavailable++
			if notUnavailable <= 5 {
				t.Errorf("an enqueue while the server was down returned %v, want an error matching store.ErrUnavailable", e.err)
			}
		}
		if p != "down" && e.err != nil && !errors.Is(e.err, store.ErrUnavailable) {
			t.Logf("enqueue %s the outage failed: %v", phaseWord(p), e.err)
		}
	}
	if ecount["down"]["unavailable"] == 0 {
		t.Errorf("no enqueue failed as unavailable while the server was down (outcomes: %v)", ecount)
	}
	t.Logf("enqueue outcomes by phase: %s", phases(ecount))
}

// checkSinkFailures checks that the events the sink could not record
// while the server was down failed as unavailable, and counts the others.
func checkSinkFailures(t *testing.T, failed []sinkFailure, tl timeline) {
	t.Helper()
	count := map[string]map[string]int{}
	other := 0
	for _, f := range failed {
		p := "transition"
		switch {
		case f.at.Before(tl.stopBegan):
			p = "before"
		case f.at.After(tl.down) && f.at.Before(tl.startBegan):
			p = "down"
		case f.at.After(tl.up):
			p = "after"
		}
		what := "unavailable"
		if !errors.Is(f.err, store.ErrUnavailable) {
			what = "other error"
			other++
			if other <= 5 {
				t.Logf("the sink failed %s the outage with an error that is not store.ErrUnavailable: %v", phaseWord(p), f.err)
			}
		}
		if count[p] == nil {
			count[p] = map[string]int{}
		}
		count[p][what]++
		if p == "down" && what != "unavailable" {
			t.Errorf("the sink failed while the server was down with %v, want an error matching store.ErrUnavailable", f.err)
		}
	}
	t.Logf("sink failures by phase: %s", phases(count))
}

func phaseWord(p string) string {
	switch p {
	case "before":
		return "before"
	case "down":
		return "during"
	case "after":
		return "after"
	}
	return "at the edges of"
}

func phases(count map[string]map[string]int) string {
	var parts []string
	for _, p := range []string{"before", "transition", "down", "after"} {
		var keys []string
		for k := range count[p] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, fmt.Sprintf("%s×%d", k, count[p][k]))
		}
		parts = append(parts, p+" {"+strings.Join(kv, " ")+"}")
	}
	return strings.Join(parts, ", ")
}

// describe names up to n runs with their state.
func describe(runs []*store.Run, n int) string {
	var parts []string
	for i, r := range runs {
		if i == n {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s %s attempt %d lease %s until %s run_at %s",
			r.ID, r.Kind, r.Status, r.Attempt, r.LeaseOwner, r.LeaseExpiresAt.Format("15:04:05.000"), r.RunAt.Format("15:04:05.000")))
	}
	return strings.Join(parts, "; ")
}

// probeNotify subscribes to to's store, enqueues a run through from, and
// waits for the run_due notification to reach the subscriber through the
// database. A notification sent while a listener reconnects is lost (the
// listener tells its subscribers to resync instead), so the enqueue is
// repeated every second until one arrives or the time is up. It returns
// the probe runs' ids and how long the notification took.
func probeNotify(t *testing.T, from, to *node) ([]string, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), settle)
	defer cancel()
	notes, err := to.st.Subscribe(ctx)
	if err != nil {
		t.Fatalf("subscribe to %s: %v", to.name, err)
	}
	var ids []string
	for ctx.Err() == nil {
		run, err := from.s.Enqueue(ctx, adminPrincipal(), scheduler.EnqueueRequest{Agent: agentName, Payload: json.RawMessage(`{"probe":true}`)})
		if err != nil {
			t.Fatalf("probe: enqueue on %s: %v", from.name, err)
		}
		ids = append(ids, run.ID)
		sent := time.Now()
		wait := time.NewTimer(time.Second)
	listen:
		for {
			select {
			case n, ok := <-notes:
				if !ok {
					break listen
				}
				if n.Topic == store.TopicRunDue {
					wait.Stop()
					return ids, time.Since(sent)
				}
			case <-wait.C:
				break listen
			}
		}
	}
	t.Fatalf("no run_due notification from %s reached %s's subscribers within %v", from.name, to.name, settle)
	return nil, 0
}
