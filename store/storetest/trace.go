package storetest

import (
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/heraldhq/herald/store"
)

// traceContext is a W3C trace context as a tracer's propagator writes it.
func traceContext() map[string]string {
	return map[string]string{
		"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate":  "vendor=opaque",
	}
}

// testRunTraceContext: the trace context of an enqueue is kept with the
// run, and read back by every read of it (get, claim, finish), whichever
// way the run was written (one run, a batch, a tick, a webhook's).
func testRunTraceContext(t *testing.T, fx *fixture) {
	tc := traceContext()
	one := adhoc()
	one.TraceContext = tc
	r := fx.enqueueRun(one)
	wantTrace(t, "enqueued", r.TraceContext, tc)
	wantTrace(t, "read back", fx.run(r.ID).TraceContext, tc)

	a, b := adhoc(), adhoc()
	a.TraceContext = tc
	res := fx.enqueue(a, b)
	wantTrace(t, "batch entry with a trace", fx.run(res[0].Run.ID).TraceContext, tc)
	wantTrace(t, "batch entry without", fx.run(res[1].Run.ID).TraceContext, nil)

	sch := fx.schedule("traced")
	tick := &store.RunEnqueueParams{ScheduleID: sch.ID, ScheduledFor: fx.now(), Owner: sch.Owner, Agent: sch.Agent, TraceContext: tc}
	tr := fx.enqueueRun(tick)
	wantTrace(t, "tick", fx.run(tr.ID).TraceContext, tc)

	ev := webhookDelivery("github", "traced-1")
	ev.Run.TraceContext = tc
	acc, err := fx.st.EventAccept(fx.ctx, ev)
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	wantTrace(t, "webhook run", fx.run(acc.Run.ID).TraceContext, tc)

	claimed := fx.claimOne("node-a", r.ID)
	wantTrace(t, "claimed", claimed.TraceContext, tc)
	done := fx.finish(r.ID, "node-a", store.RunSucceeded)
	wantTrace(t, "finished", done.TraceContext, tc)

	// The caller's map is copied, not kept.
	tc["traceparent"] = "changed"
	wantTrace(t, "after the caller's change", fx.run(r.ID).TraceContext, traceContext())
}

// testRunTraceContextBounds: a trace context over its bounds is refused,
// and nothing is written.
func testRunTraceContextBounds(t *testing.T, fx *fixture) {
	big := adhoc()
	big.TraceContext = map[string]string{"traceparent": strings.Repeat("x", store.TraceContextMax)}
	many := adhoc()
	many.TraceContext = map[string]string{}
	for i := range store.TraceContextFieldsMax + 1 {
		many.TraceContext[string(rune('a'+i))] = "v"
	}
	empty := adhoc()
	empty.TraceContext = map[string]string{"": "v"}
	for name, p := range map[string]*store.RunEnqueueParams{"too long": big, "too many fields": many, "empty key": empty} {
		if _, err := fx.st.RunEnqueue(fx.ctx, p); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("RunEnqueue with a trace context %s: err = %v, want ErrInvalid", name, err)
		}
	}
	if got := fx.runs(store.RunListParams{}); len(got) != 0 {
		t.Errorf("refused enqueues wrote %d runs", len(got))
	}
}

func wantTrace(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s TraceContext = %v, want %v", what, got, want)
	}
}
