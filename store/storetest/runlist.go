package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// The cases of RunList's filters by agent and kind, of its bad filters,
// and of its creation-time bounds; runTests lists them.

func testRunListAgentKind(t *testing.T, fx *fixture) {
	s := fx.schedule("report", withOverlap(store.OverlapAllowAll))
	a1 := fx.enqueueRun(adhoc()) // alice, echo, enqueue
	p := adhoc()
	p.Agent = "summarize"
	a2 := fx.enqueueRun(p) // alice, summarize, enqueue
	pb := adhoc()
	pb.Owner, pb.Agent = bob, "summarize"
	b1 := fx.enqueueRun(pb)                // bob, summarize, enqueue
	s1 := fx.enqueueRun(tick(s, fx.now())) // alice, echo, schedule
	m1 := fx.enqueueRun(manual(s))         // alice, echo, manual
	ev, err := fx.st.EventAccept(fx.ctx, webhookDelivery("github", "d-1"))
	if err != nil {
		t.Fatalf("EventAccept: %v", err)
	}
	w1 := ev.Run // alice, echo, webhook
	fx.claimOne(nodeA, a1.ID)
	fx.finish(a1.ID, nodeA, store.RunFailed)

	kinds := func(k ...store.RunKind) []store.RunKind { return k }
	statuses := func(s ...store.RunStatus) []store.RunStatus { return s }
	cases := []struct {
		name   string
		params store.RunListParams
		want   []string
	}{
		{"agent", store.RunListParams{Agent: "summarize"}, []string{b1.ID, a2.ID}},
		{"another agent", store.RunListParams{Agent: agent}, []string{w1.ID, m1.ID, s1.ID, a1.ID}},
		{"unknown agent", store.RunListParams{Agent: "nobody"}, nil},
		{"kind", store.RunListParams{Kinds: kinds(store.RunKindEnqueue)}, []string{b1.ID, a2.ID, a1.ID}},
		{"kinds", store.RunListParams{Kinds: kinds(store.RunKindWebhook, store.RunKindManual)}, []string{w1.ID, m1.ID}},
		{"schedule kind", store.RunListParams{Kinds: kinds(store.RunKindSchedule)}, []string{s1.ID}},
		{"owner and agent", store.RunListParams{Owner: alice, Agent: "summarize"}, []string{a2.ID}},
		{"owner and another's agent", store.RunListParams{Owner: bob, Agent: agent}, nil},
		{"owner and kind", store.RunListParams{Owner: alice, Kinds: kinds(store.RunKindEnqueue)}, []string{a2.ID, a1.ID}},
		{"owner and status", store.RunListParams{Owner: alice, Statuses: statuses(store.RunFailed)}, []string{a1.ID}},
		{"agent and status", store.RunListParams{Agent: agent, Statuses: statuses(store.RunQueued)}, []string{w1.ID, m1.ID, s1.ID}},
		{"kind and status", store.RunListParams{Kinds: kinds(store.RunKindEnqueue), Statuses: statuses(store.RunQueued)}, []string{b1.ID, a2.ID}},
		{"agent and kind", store.RunListParams{Agent: "summarize", Kinds: kinds(store.RunKindWebhook)}, nil},
		{"schedule and kind", store.RunListParams{ScheduleID: s.ID, Kinds: kinds(store.RunKindManual)}, []string{m1.ID}},
		{"schedule and another owner", store.RunListParams{ScheduleID: s.ID, Owner: bob}, nil},
		{"every filter", store.RunListParams{Owner: alice, Agent: agent, Kinds: kinds(store.RunKindEnqueue, store.RunKindSchedule),
			Statuses: statuses(store.RunFailed), CreatedFrom: fx.now(), CreatedTo: fx.now().Add(time.Microsecond)}, []string{a1.ID}},
	}
	for _, tc := range cases {
		page, err := fx.st.RunList(fx.ctx, &tc.params)
		if err != nil {
			t.Errorf("%s: RunList: %v", tc.name, err)
			continue
		}
		got := runIDs(page.Runs)
		if len(got) == 0 {
			got = nil
		}
		wantIDs(t, tc.name, got, tc.want)
		want(t, tc.name+": Next", page.Next, "")
	}
	// The filters hold across pages.
	var got []string
	params := &store.RunListParams{Agent: agent, Kinds: kinds(store.RunKindSchedule, store.RunKindManual, store.RunKindWebhook), Limit: 2}
	for pages := 0; ; pages++ {
		if pages > 2 {
			t.Fatalf("more than 2 pages of 2 for 3 runs; so far %v", got)
		}
		page, err := fx.st.RunList(fx.ctx, params)
		if err != nil {
			t.Fatalf("RunList: %v", err)
		}
		got = append(got, runIDs(page.Runs)...)
		if page.Next == "" {
			break
		}
		params.Cursor = page.Next
	}
	wantIDs(t, "agent and kinds, page by page", got, []string{w1.ID, m1.ID, s1.ID})
}

func testRunListBadFilters(t *testing.T, fx *fixture) {
	fx.enqueueRun(adhoc())
	cases := []struct {
		name   string
		params store.RunListParams
		field  string
	}{
		{"unknown kind", store.RunListParams{Kinds: []store.RunKind{store.RunKindEnqueue, "cron"}}, "kinds[1]"},
		{"empty kind", store.RunListParams{Kinds: []store.RunKind{""}}, "kinds[0]"},
		{"unknown status", store.RunListParams{Owner: alice, Statuses: []store.RunStatus{store.RunQueued, store.RunSucceeded, "done"}}, "statuses[2]"},
	}
	for _, tc := range cases {
		page, err := fx.st.RunList(fx.ctx, &tc.params)
		wantInvalid(t, tc.name, err, tc.field)
		if page != nil {
			t.Errorf("%s: a page of %d runs with the error", tc.name, len(page.Runs))
		}
	}
}

// testRunListCreatedBounds checks that CreatedFrom and CreatedTo bound
// CreatedAt to the microsecond, whatever the millisecond, the handle and
// the order the runs were enqueued in (the clock goes back in between).
func testRunListCreatedBounds(t *testing.T, fx *fixture) {
	base := fx.now().Truncate(time.Millisecond).Add(time.Millisecond)
	other := fx.open()
	at := func(d time.Duration, st store.Store, owner string) *store.Run {
		t.Helper()
		fx.clock.Set(base.Add(d))
		p := adhoc()
		p.Owner = owner
		res, err := st.RunEnqueue(fx.ctx, p)
		if err != nil {
			t.Fatalf("RunEnqueue: %v", err)
		}
		return res[0].Run
	}
	r0 := at(-time.Microsecond, fx.st, alice)
	r1 := at(0, fx.st, alice)
	r2 := at(time.Microsecond, fx.st, bob)
	r3 := at(999*time.Microsecond, other, alice)
	r4 := at(time.Millisecond, fx.st, alice)
	r5 := at(time.Millisecond, other, alice)
	r6 := at(time.Hour, fx.st, bob)
	r7 := at(-time.Hour, other, alice) // enqueued last, created first
	for _, r := range []*store.Run{r0, r1, r2, r3, r4, r5, r6, r7} {
		if r.CreatedAt.Before(base.Add(-time.Hour)) || r.CreatedAt.After(base.Add(time.Hour)) {
			t.Fatalf("run %s created at %v, want the clock's time", r.ID, r.CreatedAt)
		}
	}
	us, ms, none := time.Microsecond, time.Millisecond, time.Time{}
	cases := []struct {
		name     string
		from, to time.Time
		owner    string
		want     []*store.Run
	}{
		{"from a millisecond's start", base, none, "", []*store.Run{r1, r2, r3, r4, r5, r6}},
		{"from a microsecond later", base.Add(us), none, "", []*store.Run{r2, r3, r4, r5, r6}},
		{"from the next millisecond", base.Add(ms), none, "", []*store.Run{r4, r5, r6}},
		{"to a millisecond's start", none, base, "", []*store.Run{r0, r7}},
		{"to a microsecond later", none, base.Add(us), "", []*store.Run{r0, r1, r7}},
		{"one millisecond", base, base.Add(ms), "", []*store.Run{r1, r2, r3}},
		{"across two milliseconds", base.Add(999 * us), base.Add(ms + us), "", []*store.Run{r3, r4, r5}},
		{"to the earlier hour", none, base.Add(-30 * time.Minute), "", []*store.Run{r7}},
		{"an hour long", base.Add(-2 * time.Hour), base.Add(-30 * time.Minute), "", []*store.Run{r7}},
		{"an owner's, from", base, none, bob, []*store.Run{r2, r6}},
		{"an owner's, to", none, base.Add(us), alice, []*store.Run{r0, r1, r7}},
		{"an owner's, between", base, base.Add(2 * ms), alice, []*store.Run{r1, r3, r4, r5}},
	}
	for _, tc := range cases {
		params := store.RunListParams{Owner: tc.owner, CreatedFrom: tc.from, CreatedTo: tc.to}
		for _, limit := range []int{0, 2} {
			params.Limit, params.Cursor = limit, ""
			var got []string
			for pages := 0; ; pages++ {
				if pages > len(tc.want)+1 {
					t.Fatalf("%s, limit %d: paging does not end; so far %v", tc.name, limit, got)
				}
				page, err := fx.st.RunList(fx.ctx, &params)
				if err != nil {
					t.Fatalf("%s: RunList: %v", tc.name, err)
				}
				got = append(got, runIDs(page.Runs)...)
				if page.Next == "" {
					break
				}
				params.Cursor = page.Next
			}
			if !slices.IsSortedFunc(got, func(a, b string) int { return strings.Compare(b, a) }) || len(slices.Compact(slices.Clone(got))) != len(got) {
				t.Errorf("%s, limit %d: %v, want descending ids, each once", tc.name, limit, got)
			}
			slices.Sort(got)
			wantIDs(t, tc.name+" (sorted)", got, sortedIDs(tc.want))
		}
	}
}

// sortedIDs returns the ids of runs, in ascending order.
func sortedIDs(runs []*store.Run) []string {
	ids := runIDs(runs)
	slices.Sort(ids)
	return ids
}
