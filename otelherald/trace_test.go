package otelherald_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/httppost"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/otelherald"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/webhook"
)

// incoming is the trace context of the webhook's sender.
const (
	incomingTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	incoming      = "00-" + incomingTrace + "-00f067aa0ba902b7-01"
)

// TestTraceAcrossNodes: a webhook accepted by node A (which executes
// nothing) and executed by node B, on one database, is one trace: the
// request's span (continuing the sender's traceparent), the enqueue, the
// attempts on B, the first failed and retried, each its own span with its
// claim's duration, and the delivery, whose outgoing request carries the traceparent
// of its span to a loopback receiver.
func TestTraceAcrossNodes(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testTraceAcrossNodes(t, "sqlite://"+filepath.Join(t.TempDir(), "herald.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testTraceAcrossNodes(t, testpg.DSN(t))
	})
}

func testTraceAcrossNodes(t *testing.T, dsn string) {
	ctx := t.Context()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	// The loopback receiver of the delivery.
	got := make(chan http.Header, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}))
	t.Cleanup(recv.Close)
	client := httppost.New(httppost.Options{})
	deliver := delivery.Func(func(ctx context.Context, m *delivery.Message) error {
		_, err := client.Post(ctx, &httppost.Request{What: "test delivery", URL: recv.URL, Body: []byte(`{}`)})
		return err
	})

	var tries atomic.Int32
	flaky := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		if tries.Add(1) == 1 {
			return nil, errors.New("first attempt fails")
		}
		return &agent.Result{Summary: "ok"}, nil
	})
	node := func(name string) (*scheduler.Scheduler, *otelherald.Observer) {
		st, err := bunstore.Open(ctx, dsn, bunstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		obs, err := otelherald.New(otelherald.Config{TracerProvider: tp})
		if err != nil {
			t.Fatal(err)
		}
		agents := agent.NewRegistry()
		agents.MustRegister("flaky", flaky)
		router := delivery.NewRouter()
		router.MustRegister("loopback", deliver)
		s, err := scheduler.New(st, scheduler.Config{Node: name, Agents: agents, Delivery: router, Observer: obs,
			Retry: scheduler.RetryPolicy{MaxAttempts: 2, Base: time.Millisecond, Max: time.Millisecond}, PollInterval: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s, obs
	}
	a, obsA := node("node-a") // accepts the webhook, never started: executes nothing
	b, _ := node("node-b")
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Stop(context.Background()) })

	h, err := webhook.NewHandler(webhook.HandlerConfig{Sink: a, Sources: []webhook.Source{{
		Name: "github", Verifier: webhook.Insecure(), Agent: "flaky", Owner: "ops",
		Targets: []delivery.Target{{Channel: "loopback"}},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /v1/webhooks/{source}", h)
	srv := httptest.NewServer(obsA.Middleware(mux))
	t.Cleanup(srv.Close)

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v1/webhooks/github", strings.NewReader(`{"secret":"s3cr3t"}`))
	req.Header.Set("Traceparent", incoming)
	req.Header.Set("X-Request-Id", "d-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}

	var header http.Header
	select {
	case header = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the delivery never reached the receiver")
	}

	// Wait for the delivery's span to end (it ends once the attempt is
	// recorded, after the receiver answered).
	spans := waitSpans(t, rec, func(s []sdktrace.ReadOnlySpan) bool { return len(named(s, "deliver loopback")) == 1 })

	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		if s.SpanContext().TraceID().String() != incomingTrace {
			t.Errorf("span %q is in trace %s, not the webhook's %s", s.Name(), s.SpanContext().TraceID(), incomingTrace)
		}
		byName[s.Name()] = append(byName[s.Name()], s)
		for _, kv := range s.Attributes() {
			if strings.Contains(kv.Value.Emit(), "s3cr3t") {
				t.Errorf("span %q attribute %s carries the payload", s.Name(), kv.Key)
			}
		}
	}
	server := one(t, byName, "POST /v1/webhooks/{source}")
	enq := one(t, byName, "enqueue flaky")
	if enq.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Errorf("the enqueue's parent is %s, want the request's span %s", enq.Parent().SpanID(), server.SpanContext().SpanID())
	}
	if server.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("the request's span does not continue the incoming traceparent: parent %s", server.Parent().SpanID())
	}
	procs := byName["process flaky"]
	if len(procs) != 2 {
		t.Fatalf("%d process spans, want 2 (one per attempt)", len(procs))
	}
	seen := map[int64]string{}
	for _, p := range procs {
		if p.Parent().SpanID() != enq.SpanContext().SpanID() {
			t.Errorf("an attempt's parent is %s, want the enqueue %s", p.Parent().SpanID(), enq.SpanContext().SpanID())
		}
		if len(p.Links()) != 1 || p.Links()[0].SpanContext.SpanID() != enq.SpanContext().SpanID() {
			t.Errorf("an attempt does not link to the enqueue: %v", p.Links())
		}
		att := attr(p, "herald.run.attempt")
		seen[att.AsInt64()] = attr(p, "herald.attempt.outcome").AsString()
		if d := attr(p, "herald.claim.duration"); d.Type() != attribute.FLOAT64 || d.AsFloat64() <= 0 {
			t.Errorf("attempt %d: herald.claim.duration is %v, want the claim's positive duration in seconds", att.AsInt64(), d.Emit())
		}
		if attr(p, "messaging.client.id").AsString() != "node-b" {
			t.Errorf("attempt %d ran on %q, want node-b", att.AsInt64(), attr(p, "messaging.client.id").AsString())
		}
	}
	if seen[1] != "retry" || seen[2] != "succeeded" {
		t.Errorf("attempt outcomes %v, want 1: retry, 2: succeeded", seen)
	}
	for name := range byName {
		if strings.HasPrefix(name, "claim ") {
			t.Errorf("a span %q: claims have no spans of their own", name)
		}
	}
	d := one(t, byName, "deliver loopback")
	want := "00-" + incomingTrace + "-" + d.SpanContext().SpanID().String() + "-01"
	if tp := header.Get("Traceparent"); tp != want {
		t.Errorf("the delivery's request carried traceparent %q, want %q", tp, want)
	}
}

// waitSpans polls rec, with a deadline, until done says its ended spans
// are complete.
func waitSpans(t *testing.T, rec *tracetest.SpanRecorder, done func([]sdktrace.ReadOnlySpan) bool) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := rec.Ended()
		if done(s) {
			return s
		}
		if time.Now().After(deadline) {
			var names []string
			for _, x := range s {
				names = append(names, x.Name())
			}
			t.Fatalf("spans never complete; ended: %v", names)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// named are the spans called name.
func named(spans []sdktrace.ReadOnlySpan, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

// one is the only span called name.
func one(t *testing.T, by map[string][]sdktrace.ReadOnlySpan, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	if len(by[name]) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(by[name]), name)
	}
	return by[name][0]
}

// attr is s's attribute key, the zero Value when it has none.
func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// TestUnrecordedEnqueueInsideAnAttempt: an agent's enqueue whose span is
// not sampled, made under its attempt's span, ends nothing; the attempt's
// span ends with the attempt, with its attributes.
func TestUnrecordedEnqueueInsideAnAttempt(t *testing.T) {
	ctx := t.Context()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sampleNamed("process noop")))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	obs, err := otelherald.New(otelherald.Config{TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	r := &store.Run{ID: "r1", Agent: "noop", Kind: store.RunKindEnqueue, Attempt: 1, MaxAttempts: 1}
	actx := obs.Start(ctx, scheduler.AttemptWork{Run: r, Node: "n"})
	w := scheduler.EnqueueWork{Kind: store.RunKindEnqueue, Agent: "noop"}
	ectx := obs.Start(actx, w)
	if tc := obs.TraceContext(ectx); !strings.HasSuffix(tc["traceparent"], "-00") {
		t.Errorf("the unsampled enqueue's trace context is %v, want a traceparent not sampled", tc)
	}
	obs.Observe(&scheduler.EnqueueObserved{Work: w, Run: &store.Run{ID: "r2", Agent: "noop"}, Context: ectx})
	if ended := rec.Ended(); len(ended) != 0 {
		t.Fatalf("the unsampled enqueue ended %q, want nothing", ended[0].Name())
	}
	obs.Observe(&scheduler.AttemptObserved{Run: r, Attempt: 1, Outcome: scheduler.AttemptSucceeded, Context: actx})
	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != "process noop" {
		t.Fatalf("%d spans ended, want the attempt's", len(ended))
	}
	for key, want := range map[string]string{"herald.attempt.outcome": "succeeded", "messaging.message.id": "r1",
		"messaging.operation.type": "process", "messaging.destination.name": "noop"} {
		if got := attr(ended[0], key).Emit(); got != want {
			t.Errorf("the attempt's %s is %q, want %q", key, got, want)
		}
	}
}

// sampleNamed samples the spans called name and no other.
type sampleNamed string

func (s sampleNamed) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	d := sdktrace.Drop
	if p.Name == string(s) {
		d = sdktrace.RecordAndSample
	}
	return sdktrace.SamplingResult{Decision: d, Tracestate: trace.SpanContextFromContext(p.ParentContext).TraceState()}
}

func (s sampleNamed) Description() string { return "sampleNamed(" + string(s) + ")" }
