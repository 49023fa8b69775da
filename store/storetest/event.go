package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

func eventTests() []test {
	return []test{
		{"AcceptRecordsEventAndRun", testEventAccept},
		{"AcceptedRunKeepsEveryField", testEventRunFields},
		{"AcceptOfRedeliveryWritesNothing", testEventDuplicate},
		{"AcceptRejectsBadInputAndWritesNothing", testEventBadInput},
		{"MissingEventIsNotFound", testEventNotFound},
		{"ListPagesNewestFirst", testEventList},
		{"AcceptRecordsTheRunsOwner", testEventOwner},
		{"ListFiltersByOwnerAndTime", testEventListFilters},
		{"ConcurrentAcceptsYieldOneEvent", testEventConcurrent},
		{"ConcurrentMixedAcceptsYieldOneEventEach", testEventConcurrentMixed},
	}
}

// webhookDelivery describes a webhook delivery of source with id.
func webhookDelivery(source, id string) *store.EventAcceptParams {
	return &store.EventAcceptParams{
		Source:     source,
		DeliveryID: id,
		Headers:    map[string][]string{"X-Github-Event": {"push"}, "X-Multi": {"a", "b"}},
		Body:       []byte(`{"ref":"refs/heads/main"}`),
		Run:        store.RunEnqueueParams{Owner: alice, Agent: agent, Payload: json.RawMessage(`{"ref":"refs/heads/main"}`)},
	}
}

func testEventAccept(t *testing.T, fx *fixture) {
	p := webhookDelivery("github", "d-1")
	res, err := fx.st.EventAccept(fx.ctx, p)
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	if res.Duplicate {
		t.Error("a first delivery is marked Duplicate")
	}
	if res.Event == nil || res.Run == nil || res.Event.ID == "" || res.Run.ID == "" {
		t.Fatalf("EventAccept = %+v, want an event and a run", res)
	}
	ev, err := fx.open().EventGet(fx.ctx, res.Event.ID)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	for how, e := range map[string]*store.Event{"accepted": res.Event, "read back": ev} {
		want(t, how+" Source", e.Source, "github")
		want(t, how+" DeliveryID", e.DeliveryID, "d-1")
		want(t, how+" RunID", e.RunID, res.Run.ID)
		want(t, how+" Owner", e.Owner, alice)
		wantTime(t, how+" ReceivedAt", e.ReceivedAt, fx.now())
		if !bytes.Equal(e.Body, p.Body) {
			t.Errorf("%s Body = %q, want %q", how, e.Body, p.Body)
		}
		if !reflect.DeepEqual(e.Headers, p.Headers) {
			t.Errorf("%s Headers = %v, want %v", how, e.Headers, p.Headers)
		}
	}
	for how, r := range map[string]*store.Run{"accepted": res.Run, "read back": fx.run(res.Run.ID)} {
		want(t, how+" Kind", r.Kind, store.RunKindWebhook)
		want(t, how+" EventID", r.EventID, res.Event.ID)
		want(t, how+" Status", r.Status, store.RunQueued)
		want(t, how+" Owner", r.Owner, alice)
		wantJSON(t, how+" Payload", r.Payload, p.Run.Payload)
		wantTime(t, how+" RunAt", r.RunAt, fx.now())
	}
	fx.claimOne(nodeA, res.Run.ID)
}

// testEventRunFields checks that the run of an event keeps each field
// given, and that a run due later is not claimed before its time.
func testEventRunFields(t *testing.T, fx *fixture) {
	p := webhookDelivery("stripe", "evt_1")
	p.Headers, p.Run.Payload = nil, nil
	p.Run.Targets = []store.Target{{Channel: "email", To: "ops@example.test", On: delivery.OnFailure}, {Channel: "log"}}
	p.Run.MaxAttempts, p.Run.Timeout, p.Run.RunAt = 4, 90*time.Second, fx.now().Add(time.Hour)
	res, err := fx.st.EventAccept(fx.ctx, p)
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	wantTargets := []store.Target{{Channel: "email", To: "ops@example.test", On: delivery.OnFailure}, {Channel: "log", On: delivery.OnAlways}}
	for how, r := range map[string]*store.Run{"accepted": res.Run, "read back": fx.run(res.Run.ID)} {
		if !reflect.DeepEqual(r.Targets, wantTargets) {
			t.Errorf("%s Targets = %+v, want %+v", how, r.Targets, wantTargets)
		}
		want(t, how+" MaxAttempts", r.MaxAttempts, 4)
		want(t, how+" Timeout", r.Timeout, 90*time.Second)
		want(t, how+" Attempt", r.Attempt, 1)
		wantTime(t, how+" RunAt", r.RunAt, fx.now().Add(time.Hour))
		wantTime(t, how+" CreatedAt", r.CreatedAt, fx.now())
		if len(r.Payload) != 0 || r.ScheduleID != "" || r.Held || r.CancelRequested {
			t.Errorf("%s = %+v, want no payload, schedule, hold or cancellation", how, r)
		}
	}
	if ev, err := fx.st.EventGet(fx.ctx, res.Event.ID); err != nil || ev.Headers != nil {
		t.Errorf("EventGet = %+v, %v; want no headers", ev, err)
	}
	if runs := fx.claim(nodeA, 10); len(runs) != 0 {
		t.Errorf("RunClaim before the run's time = %v, want none", runIDs(runs))
	}
}

func testEventDuplicate(t *testing.T, fx *fixture) {
	first, err := fx.st.EventAccept(fx.ctx, webhookDelivery("github", "d-1"))
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	fx.claimOne(nodeA, first.Run.ID)
	p := webhookDelivery("github", "d-1")
	p.Body = []byte(`{"other":true}`)
	again, err := fx.st.EventAccept(fx.ctx, p)
	if err != nil {
		t.Fatalf("EventAccept of a redelivery: %v", err)
	}
	want(t, "Duplicate", again.Duplicate, true)
	want(t, "event", again.Event.ID, first.Event.ID)
	want(t, "run", again.Run.ID, first.Run.ID)
	want(t, "run status (as it is now)", again.Run.Status, store.RunRunning)
	if !bytes.Equal(again.Event.Body, []byte(`{"ref":"refs/heads/main"}`)) {
		t.Errorf("duplicate's Body = %q, want the original", again.Event.Body)
	}
	other, err := fx.st.EventAccept(fx.ctx, webhookDelivery("stripe", "d-1"))
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	want(t, "same delivery id from another source: Duplicate", other.Duplicate, false)
	page, err := fx.st.EventList(fx.ctx, &store.EventListParams{})
	if err != nil {
		t.Fatalf("EventList: %v", err)
	}
	want(t, "events", len(page.Events), 2)
	want(t, "runs", len(fx.runs(store.RunListParams{})), 2)
}

func testEventBadInput(t *testing.T, fx *fixture) {
	cases := []struct {
		name  string
		edit  func(*store.EventAcceptParams)
		field string
	}{
		{"empty source", func(p *store.EventAcceptParams) { p.Source = "" }, "source"},
		{"empty delivery id", func(p *store.EventAcceptParams) { p.DeliveryID = "" }, "delivery_id"},
		{"oversized body", func(p *store.EventAcceptParams) { p.Body = make([]byte, store.MaxPayloadDefault+1) }, "body"},
		{"run without agent", func(p *store.EventAcceptParams) { p.Run.Agent = "" }, "run.agent"},
		{"run without owner", func(p *store.EventAcceptParams) { p.Run.Owner = "" }, "run.owner"},
		{"run naming a schedule", func(p *store.EventAcceptParams) { p.Run.ScheduleID = missingID }, "run.schedule_id"},
		{"run of another kind", func(p *store.EventAcceptParams) { p.Run.Kind = store.RunKindEnqueue }, "run.kind"},
		{"run with an idempotency key", func(p *store.EventAcceptParams) { p.Run.IdempotencyKey = "k" }, "run.idempotency_key"},
	}
	for _, tc := range cases {
		p := webhookDelivery("github", "d-1")
		tc.edit(p)
		_, err := fx.st.EventAccept(fx.ctx, p)
		wantInvalid(t, tc.name, err, tc.field)
	}
	page, err := fx.st.EventList(fx.ctx, &store.EventListParams{})
	if err != nil {
		t.Fatalf("EventList: %v", err)
	}
	if len(page.Events) != 0 {
		t.Errorf("refused events were written: %d", len(page.Events))
	}
	if runs := fx.runs(store.RunListParams{}); len(runs) != 0 {
		t.Errorf("runs of refused events were written: %v", runIDs(runs))
	}
}

func testEventNotFound(t *testing.T, fx *fixture) {
	_, err := fx.st.EventGet(fx.ctx, missingID)
	wantErr(t, "EventGet", err, store.ErrNotFound)
}

func testEventList(t *testing.T, fx *fixture) {
	var github []string
	for i := range 5 {
		res, err := fx.st.EventAccept(fx.ctx, webhookDelivery("github", fmt.Sprintf("d-%d", i)))
		if err != nil {
			t.Fatalf("EventAccept: %v", err)
		}
		github = append([]string{res.Event.ID}, github...) // newest first
		if _, err := fx.st.EventAccept(fx.ctx, webhookDelivery("stripe", fmt.Sprintf("d-%d", i))); err != nil {
			t.Fatalf("EventAccept: %v", err)
		}
	}
	var got []string
	params := &store.EventListParams{Source: "github", Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 2 for 5 events; so far %v", got)
		}
		page, err := fx.st.EventList(fx.ctx, params)
		if err != nil {
			t.Fatalf("EventList: %v", err)
		}
		for _, e := range page.Events {
			got = append(got, e.ID)
			want(t, "Source", e.Source, "github")
		}
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	wantIDs(t, "github events, newest first", got, github)
	page, err := fx.st.EventList(fx.ctx, &store.EventListParams{})
	if err != nil {
		t.Fatalf("EventList: %v", err)
	}
	want(t, "all events", len(page.Events), 10)
	want(t, "Next", page.Next, "")
}

func testEventConcurrent(t *testing.T, fx *fixture) {
	const n = 16
	handles := []store.Store{fx.st, fx.open()}
	start := make(chan struct{})
	results := make([]*store.EventAcceptResult, n)
	var wg sync.WaitGroup
	for i := range n {
		st := handles[i%len(handles)]
		wg.Go(func() {
			<-start
			res, err := st.EventAccept(fx.ctx, webhookDelivery("github", "same-delivery"))
			if err != nil {
				t.Errorf("goroutine %d: EventAccept: %v", i, err)
				return
			}
			results[i] = res
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	dups := 0
	for i, r := range results {
		if r.Duplicate {
			dups++
		}
		if r.Event.ID != results[0].Event.ID || r.Run.ID != results[0].Run.ID {
			t.Errorf("result %d: event %s run %s; result 0: event %s run %s", i, r.Event.ID, r.Run.ID, results[0].Event.ID, results[0].Run.ID)
		}
	}
	want(t, "results with Duplicate set", dups, n-1)
	page, err := fx.st.EventList(fx.ctx, &store.EventListParams{})
	if err != nil {
		t.Fatalf("EventList: %v", err)
	}
	want(t, "events", len(page.Events), 1)
	want(t, "runs", len(fx.runs(store.RunListParams{})), 1)
}

// testEventConcurrentMixed accepts 16 deliveries 4 times each, all at
// once: each delivery gets one event and one run, reported by all four
// accepts, three of them as duplicates.
func testEventConcurrentMixed(t *testing.T, fx *fixture) {
	const deliveries, copies = 16, 4
	handles := []store.Store{fx.st, fx.open()}
	start := make(chan struct{})
	results := make([][copies]*store.EventAcceptResult, deliveries)
	var wg sync.WaitGroup
	for d := range deliveries {
		for c := range copies {
			st := handles[(d+c)%len(handles)]
			wg.Go(func() {
				<-start
				res, err := st.EventAccept(fx.ctx, webhookDelivery("github", fmt.Sprintf("delivery-%d", d)))
				if err != nil {
					t.Errorf("delivery %d copy %d: EventAccept: %v", d, c, err)
					return
				}
				results[d][c] = res
			})
		}
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	runIDs := map[string]bool{}
	for d, rs := range results {
		dups := 0
		for c, r := range rs {
			if r.Duplicate {
				dups++
			}
			if r.Event.ID != rs[0].Event.ID || r.Run == nil || r.Run.ID != rs[0].Run.ID || r.Event.RunID != r.Run.ID {
				t.Errorf("delivery %d copy %d: event %s run %+v; copy 0: event %s run %s", d, c, r.Event.ID, r.Run, rs[0].Event.ID, rs[0].Run.ID)
			}
			want(t, fmt.Sprintf("delivery %d copy %d DeliveryID", d, c), r.Event.DeliveryID, fmt.Sprintf("delivery-%d", d))
		}
		want(t, fmt.Sprintf("delivery %d: results with Duplicate set", d), dups, copies-1)
		runIDs[rs[0].Run.ID] = true
	}
	want(t, "distinct runs", len(runIDs), deliveries)
	runs := fx.runs(store.RunListParams{})
	want(t, "runs", len(runs), deliveries)
	for _, r := range runs {
		if !runIDs[r.ID] {
			t.Errorf("run %s is no delivery's", r.ID)
		}
	}
}

// testEventOwner checks that an event keeps its run's owner, also once
// the run's history is pruned.
func testEventOwner(t *testing.T, fx *fixture) {
	p := webhookDelivery("github", "d-1")
	p.Run.Owner = bob
	res, err := fx.st.EventAccept(fx.ctx, p)
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	want(t, "accepted Owner", res.Event.Owner, bob)
	again, err := fx.st.EventAccept(fx.ctx, webhookDelivery("github", "d-1")) // alice's, this time
	if err != nil {
		t.Fatalf("EventAccept of a redelivery: %v", err)
	}
	want(t, "Owner of the redelivery's original", again.Event.Owner, bob)
	ev, err := fx.open().EventGet(fx.ctx, res.Event.ID)
	if err != nil {
		t.Fatalf("EventGet: %v", err)
	}
	want(t, "read back Owner", ev.Owner, bob)

	fx.claimOne(nodeA, res.Run.ID)
	fx.finish(res.Run.ID, nodeA, store.RunSucceeded)
	fx.clock.Advance(2 * time.Hour)
	if n, err := fx.st.RunDeleteFinished(fx.ctx, &store.RunDeleteFinishedParams{OlderThan: time.Hour}); err != nil || n != 1 {
		t.Fatalf("RunDeleteFinished = %d, %v; want 1", n, err)
	}
	ev, err = fx.st.EventGet(fx.ctx, res.Event.ID)
	if err != nil {
		t.Fatalf("EventGet after the run was pruned: %v", err)
	}
	want(t, "Owner after the run was pruned", ev.Owner, bob)
	page, err := fx.st.EventList(fx.ctx, &store.EventListParams{Owner: bob})
	if err != nil {
		t.Fatalf("EventList: %v", err)
	}
	if len(page.Events) != 1 || page.Events[0].ID != res.Event.ID || page.Events[0].Owner != bob {
		t.Errorf("bob's events after the run was pruned = %+v, want the event", page.Events)
	}
}

// testEventListFilters checks the owner and time filters of EventList,
// alone, together and with Source, across pages; ReceivedFrom and
// ReceivedTo bound ReceivedAt to the microsecond, whatever the order the
// events came in (the clock goes back in between).
func testEventListFilters(t *testing.T, fx *fixture) {
	base := fx.now().Truncate(time.Millisecond).Add(time.Millisecond)
	n := 0
	at := func(d time.Duration, source, owner string) *store.Event {
		t.Helper()
		fx.clock.Set(base.Add(d))
		n++
		p := webhookDelivery(source, fmt.Sprintf("d-%d", n))
		p.Run.Owner = owner
		res, err := fx.st.EventAccept(fx.ctx, p)
		if err != nil {
			t.Fatalf("EventAccept: %v", err)
		}
		return res.Event
	}
	us, ms, none := time.Microsecond, time.Millisecond, time.Time{}
	e0 := at(-us, "github", alice)
	e1 := at(0, "github", bob)
	e2 := at(us, "stripe", alice)
	e3 := at(ms, "github", alice)
	e4 := at(time.Hour, "stripe", bob)
	e5 := at(-time.Hour, "github", alice) // came last, received first
	cases := []struct {
		name   string
		params store.EventListParams
		want   []*store.Event
	}{
		{"owner", store.EventListParams{Owner: alice}, []*store.Event{e0, e2, e3, e5}},
		{"another owner", store.EventListParams{Owner: bob}, []*store.Event{e1, e4}},
		{"unknown owner", store.EventListParams{Owner: "carol"}, nil},
		{"owner and source", store.EventListParams{Owner: alice, Source: "github"}, []*store.Event{e0, e3, e5}},
		{"from", store.EventListParams{ReceivedFrom: base}, []*store.Event{e1, e2, e3, e4}},
		{"to", store.EventListParams{ReceivedTo: base}, []*store.Event{e0, e5}},
		{"between", store.EventListParams{ReceivedFrom: base.Add(us), ReceivedTo: base.Add(ms + us)}, []*store.Event{e2, e3}},
		{"to the earlier hour", store.EventListParams{ReceivedTo: base.Add(-30 * time.Minute)}, []*store.Event{e5}},
		{"owner, from", store.EventListParams{Owner: alice, ReceivedFrom: base}, []*store.Event{e2, e3}},
		{"source, to", store.EventListParams{Source: "stripe", ReceivedTo: base.Add(time.Hour)}, []*store.Event{e2}},
		{"every filter", store.EventListParams{Owner: bob, Source: "github", ReceivedFrom: base, ReceivedTo: base.Add(us)}, []*store.Event{e1}},
		{"no bounds", store.EventListParams{ReceivedFrom: none, ReceivedTo: none}, []*store.Event{e0, e1, e2, e3, e4, e5}},
	}
	for _, tc := range cases {
		for _, limit := range []int{0, 1} {
			params := tc.params
			params.Limit = limit
			var got []string
			for pages := 0; ; pages++ {
				if pages > len(tc.want)+1 {
					t.Fatalf("%s, limit %d: paging does not end; so far %v", tc.name, limit, got)
				}
				page, err := fx.st.EventList(fx.ctx, &params)
				if err != nil {
					t.Fatalf("%s: EventList: %v", tc.name, err)
				}
				for _, e := range page.Events {
					got = append(got, e.ID)
					if tc.params.Owner != "" && e.Owner != tc.params.Owner {
						t.Errorf("%s: event %s of %q", tc.name, e.ID, e.Owner)
					}
				}
				if page.Next == "" {
					break
				}
				params.Cursor = page.Next
			}
			if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("%s, limit %d: %v, want descending ids, each once", tc.name, limit, got)
			}
			slices.Sort(got)
			var expect []string
			for _, e := range tc.want {
				expect = append(expect, e.ID)
			}
			slices.Sort(expect)
			if !slices.Equal(got, expect) {
				t.Errorf("%s, limit %d (sorted) = %v, want %v", tc.name, limit, got, expect)
			}
		}
	}
}
