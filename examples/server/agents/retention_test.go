package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// runBook is a memstore whose runs are made at known instants.
type runBook struct {
	t     *testing.T
	st    *memstore.Store
	clock *clocktest.Clock
}

func newRunBook(t *testing.T) *runBook {
	t.Helper()
	clock := clocktest.New(day(1, 0, 0))
	b := &runBook{t: t, st: memstore.New(memstore.Options{Clock: clock}), clock: clock}
	t.Cleanup(func() { b.st.Close() })
	return b
}

// enqueue enqueues n ad hoc runs of owner.
func (b *runBook) enqueue(n int, owner string) []string {
	b.t.Helper()
	var ids []string
	for range n {
		res, err := b.st.RunEnqueue(b.t.Context(), &store.RunEnqueueParams{Owner: owner, Agent: "echo"})
		if err != nil {
			b.t.Fatal(err)
		}
		ids = append(ids, res[0].Run.ID)
	}
	return ids
}

// claim enqueues n runs and starts them.
func (b *runBook) claim(n int) []string {
	b.t.Helper()
	ids := b.enqueue(n, "alice")
	claimed, err := b.st.RunClaim(b.t.Context(), &store.RunClaimParams{Node: "n1", Limit: n, Lease: 1000 * time.Hour})
	if err != nil || len(claimed) != n {
		b.t.Fatalf("claim %d runs: %d, %v", n, len(claimed), err)
	}
	return ids
}

// finish enqueues n runs, starts them and ends them with status, now.
func (b *runBook) finish(n int, status store.RunStatus) []string {
	b.t.Helper()
	ids := b.claim(n)
	for _, id := range ids {
		if _, err := b.st.RunFinish(b.t.Context(), &store.RunFinishParams{ID: id, Node: "n1", Status: status}); err != nil {
			b.t.Fatal(err)
		}
	}
	return ids
}

// left returns the IDs of the runs the store still holds, sorted.
func (b *runBook) left() []string {
	b.t.Helper()
	page, err := b.st.RunList(b.t.Context(), &store.RunListParams{Limit: store.ListLimitMax})
	if err != nil {
		b.t.Fatal(err)
	}
	var ids []string
	for _, r := range page.Runs {
		ids = append(ids, r.ID)
	}
	slices.Sort(ids)
	return ids
}

// newRetention returns a Retention of cfg, failing the test on error.
func newRetention(t *testing.T, cfg agents.RetentionConfig) *agents.Retention {
	t.Helper()
	r, err := agents.NewRetention(cfg)
	if err != nil {
		t.Fatalf("NewRetention: %v", err)
	}
	return r
}

// systemTask is the task of a static schedule's run, recording the
// progress it is told.
func systemTask(progress *[]int64) *agent.Task {
	return &agent.Task{Owner: "system", Agent: "retention", Progress: agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
		*progress = append(*progress, c["runs_deleted"])
		return nil
	})}
}

func TestRetention(t *testing.T) {
	t.Run("deletes the old finished runs in batches", func(t *testing.T) {
		b := newRunBook(t)
		old := append(b.finish(5, store.RunSucceeded), b.finish(2, store.RunFailed)...)
		running := b.claim(1)
		b.clock.Advance(31 * 24 * time.Hour)
		recent := b.finish(2, store.RunSucceeded)
		queued := b.enqueue(1, "bob")

		var progress []int64
		r := newRetention(t, agents.RetentionConfig{Store: b.st, Batch: 3, SystemOwners: []string{"system"}})
		res, err := r.Run(t.Context(), systemTask(&progress))
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
		var out agents.RetentionOutput
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatal(err)
		}
		if want := (agents.RetentionOutput{Deleted: len(old), MaxAge: "720h0m0s", Batches: 3}); out != want {
			t.Errorf("Output = %+v, want %+v", out, want)
		}
		if want := "deleted 7 finished runs older than 30 days"; res.Summary != want {
			t.Errorf("Summary = %q, want %q", res.Summary, want)
		}
		if want := []int64{3, 6, 7}; !slices.Equal(progress, want) {
			t.Errorf("progress %v, want %v", progress, want)
		}
		want := slices.Sorted(slices.Values(slices.Concat(running, queued, recent)))
		if got := b.left(); !slices.Equal(got, want) {
			t.Errorf("runs left %v, want the running, the queued and the recent ones %v", got, want)
		}

		// Nothing is old enough any more.
		res, err = r.Run(t.Context(), systemTask(&progress))
		if err != nil || res.Summary != "deleted 0 finished runs older than 30 days" {
			t.Errorf("second Run = %+v, %v; want nothing deleted", res, err)
		}
	})

	t.Run("a configured age", func(t *testing.T) {
		b := newRunBook(t)
		b.finish(2, store.RunSucceeded)
		b.clock.Advance(36 * time.Hour)
		kept := b.finish(1, store.RunSucceeded)
		b.clock.Advance(time.Hour)
		var progress []int64
		r := newRetention(t, agents.RetentionConfig{Store: b.st, MaxAge: 36 * time.Hour, SystemOwners: []string{"system"}})
		res, err := r.Run(t.Context(), systemTask(&progress))
		if err != nil || res.Summary != "deleted 2 finished runs older than 36h0m0s" {
			t.Errorf("Run = %+v, %v; want 2 runs deleted", res, err)
		}
		if got := b.left(); !slices.Equal(got, kept) {
			t.Errorf("runs left %v, want %v", got, kept)
		}
	})

	t.Run("a batch that ends exactly", func(t *testing.T) {
		b := newRunBook(t)
		b.finish(4, store.RunSucceeded)
		b.clock.Advance(31 * 24 * time.Hour)
		var progress []int64
		r := newRetention(t, agents.RetentionConfig{Store: b.st, Batch: 2, SystemOwners: []string{"system"}})
		if _, err := r.Run(t.Context(), systemTask(&progress)); err != nil {
			t.Fatal(err)
		}
		if want := []int64{2, 4, 4}; !slices.Equal(progress, want) {
			t.Errorf("progress %v, want %v (a last, empty batch)", progress, want)
		}
	})

	t.Run("stops between batches when cancelled", func(t *testing.T) {
		b := newRunBook(t)
		b.finish(5, store.RunSucceeded)
		b.clock.Advance(31 * 24 * time.Hour)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		st := &cancelStore{RetentionStore: b.st, cancel: cancel}
		var progress []int64
		r := newRetention(t, agents.RetentionConfig{Store: st, Batch: 2, SystemOwners: []string{"system"}})
		_, err := r.Run(ctx, systemTask(&progress))
		if !errors.Is(err, context.Canceled) || agent.IsPermanent(err) {
			t.Errorf("Run = %v, want the context's error", err)
		}
		if st.calls != 1 {
			t.Errorf("%d batches, want 1: the cancel came during the first", st.calls)
		}
		if n := len(b.left()); n != 3 {
			t.Errorf("%d runs left, want 3: the first batch stays deleted", n)
		}
		if err == nil || !strings.Contains(err.Error(), "after deleting 2 runs") {
			t.Errorf("error %v does not say how many runs were deleted", err)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		r := newRetention(t, agents.RetentionConfig{Store: newRunBook(t).st, SystemOwners: []string{"system"}})
		for _, tc := range []struct {
			name  string
			task  agent.Task
			error string
		}{
			{"another owner", agent.Task{Owner: "alice"}, `a run of owner "alice" may not`},
			{"no owner", agent.Task{}, `a run of owner "" may not`},
			{"an age in the payload", agent.Task{Owner: "system", Payload: json.RawMessage(`{"max_age":"1h"}`)}, "takes no payload"},
			{"a list", agent.Task{Owner: "system", Payload: json.RawMessage(`[]`)}, "takes no payload"},
		} {
			_, err := r.Run(t.Context(), &tc.task)
			if !agent.IsPermanent(err) || !strings.Contains(err.Error(), tc.error) {
				t.Errorf("%s: Run = %v, want a no-retry error with %q", tc.name, err, tc.error)
			}
		}
		for _, payload := range []string{"", "null", "{}", " { } "} {
			if _, err := r.Run(t.Context(), &agent.Task{Owner: "system", Payload: json.RawMessage(payload)}); err != nil {
				t.Errorf("payload %q: Run = %v, want success", payload, err)
			}
		}
	})

	t.Run("store errors are retried", func(t *testing.T) {
		r := newRetention(t, agents.RetentionConfig{Store: failStore{}, SystemOwners: []string{"system"}})
		_, err := r.Run(t.Context(), &agent.Task{Owner: "system"})
		if !errors.Is(err, store.ErrUnavailable) || agent.IsPermanent(err) {
			t.Errorf("Run = %v, want a retryable error matching store.ErrUnavailable", err)
		}
	})
}

func TestNewRetentionRefuses(t *testing.T) {
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	for _, tc := range []struct {
		name string
		cfg  agents.RetentionConfig
		want string
	}{
		{"no store", agents.RetentionConfig{}, "no Store"},
		{"negative age", agents.RetentionConfig{Store: st, MaxAge: -time.Hour}, "MaxAge -1h0m0s is negative"},
		{"negative batch", agents.RetentionConfig{Store: st, Batch: -1}, "Batch -1 is negative"},
	} {
		if _, err := agents.NewRetention(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewRetention = %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

// cancelStore cancels its context during the first call.
type cancelStore struct {
	agents.RetentionStore
	cancel context.CancelFunc
	calls  int
}

func (s *cancelStore) RunDeleteFinished(ctx context.Context, p *store.RunDeleteFinishedParams) (int, error) {
	s.calls++
	n, err := s.RetentionStore.RunDeleteFinished(ctx, p)
	s.cancel()
	return n, err
}

// failStore is a store that cannot be reached.
type failStore struct{}

func (failStore) RunDeleteFinished(context.Context, *store.RunDeleteFinishedParams) (int, error) {
	return 0, fmt.Errorf("delete finished runs: %w", store.ErrUnavailable)
}

// endlessStore always has a full batch to delete, a little later: a run
// on it ends only when its context does.
type endlessStore struct{}

func (endlessStore) RunDeleteFinished(ctx context.Context, p *store.RunDeleteFinishedParams) (int, error) {
	select {
	case <-time.After(time.Millisecond):
		return p.Limit, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func TestRetentionConformance(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agent.Agent {
		// The suite's tasks are of owner "agenttest". Cancel and deadline
		// cases need a run that keeps going, the store error a store that
		// fails; the others a store with nothing to delete.
		var st agents.RetentionStore
		switch name := t.Name(); {
		case strings.Contains(name, "Cancel") || strings.Contains(name, "Deadline"):
			st = endlessStore{}
		case strings.Contains(name, "store-unavailable"):
			st = failStore{}
		default:
			mem := memstore.New(memstore.Options{})
			t.Cleanup(func() { mem.Close() })
			st = mem
		}
		return newRetention(t, agents.RetentionConfig{Store: st, SystemOwners: []string{"agenttest"}})
	}, agenttest.Cases{
		Payload: json.RawMessage(`{}`),
		OK:      json.RawMessage(`null`),
		Failures: []agenttest.Failure{
			{Name: "payload", Payload: json.RawMessage(`{"max_age":"1h"}`), Permanent: true},
			{Name: "store-unavailable"},
		},
	})
}
