package bunstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/heraldhq/herald/store"
)

// TestGroupCommit: SQLite claims and finishes that wait for the writer
// commit together; one whose caller gave up while it waited fails alone
// and changes nothing, and the others still commit.
func TestGroupCommit(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 8
	ps := make([]*store.RunEnqueueParams, n)
	for i := range ps {
		ps[i] = &store.RunEnqueueParams{Owner: "o", Agent: "a"}
	}
	if _, err := s.RunEnqueue(ctx, ps...); err != nil {
		t.Fatal(err)
	}

	// waitPending holds until k writes are queued behind the writer.
	waitPending := func(k int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; {
			s.groupMu.Lock()
			got := len(s.pending)
			s.groupMu.Unlock()
			if got == k {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", got, k)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// n claimers queue behind the writer; the last one's caller gives up.
	if err := s.lockWrites(ctx); err != nil {
		t.Fatal(err)
	}
	gaveUp, cancel := context.WithCancel(ctx)
	claimed := make([][]*store.Run, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		c := ctx
		if i == n-1 {
			c = gaveUp
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			claimed[i], errs[i] = s.RunClaim(c, &store.RunClaimParams{Node: "node", Limit: 1, Lease: time.Minute})
		}()
	}
	waitPending(n)
	cancel()
	s.unlockWrites()
	wg.Wait()

	seen := map[string]bool{}
	for i := range n - 1 {
		if errs[i] != nil || len(claimed[i]) != 1 {
			t.Fatalf("claim %d: %d runs, %v", i, len(claimed[i]), errs[i])
		}
		r := claimed[i][0]
		if seen[r.ID] || r.Status != store.RunRunning || r.LeaseOwner != "node" || r.StartedAt.IsZero() {
			t.Fatalf("claim %d: %+v (seen before: %v)", i, r, seen[r.ID])
		}
		seen[r.ID] = true
		got, err := s.RunGet(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != r.Status || got.LeaseOwner != r.LeaseOwner || !got.LeaseExpiresAt.Equal(r.LeaseExpiresAt) || !got.StartedAt.Equal(r.StartedAt) {
			t.Fatalf("claim %d returned %+v, the store holds %+v", i, r, got)
		}
	}
	if !errors.Is(errs[n-1], context.Canceled) || len(claimed[n-1]) != 0 {
		t.Fatalf("claim whose caller gave up: %d runs, %v; want context.Canceled", len(claimed[n-1]), errs[n-1])
	}
	page, err := s.RunList(ctx, &store.RunListParams{Statuses: []store.RunStatus{store.RunQueued}})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Runs) != 1 {
		t.Fatalf("%d runs still queued, want 1", len(page.Runs))
	}

	// The finishes queue too: one names a run its node does not hold.
	if err := s.lockWrites(ctx); err != nil {
		t.Fatal(err)
	}
	finished := make([][]*store.Run, n-1)
	for i := range n - 1 {
		node := "node"
		if i == 0 {
			node = "other"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			finished[i], errs[i] = s.RunFinish(ctx, &store.RunFinishParams{ID: claimed[i][0].ID, Node: node, Status: store.RunSucceeded, Summary: "done"})
		}()
	}
	waitPending(n - 1)
	s.unlockWrites()
	wg.Wait()
	if !errors.Is(errs[0], store.ErrLeaseLost) {
		t.Fatalf("finish by a node that does not hold the run: %v, want ErrLeaseLost", errs[0])
	}
	for i := 1; i < n-1; i++ {
		if errs[i] != nil || len(finished[i]) != 1 || finished[i][0].Status != store.RunSucceeded || finished[i][0].Summary != "done" {
			t.Fatalf("finish %d: %+v, %v", i, finished[i], errs[i])
		}
	}
	if got, err := s.RunGet(ctx, claimed[0][0].ID); err != nil || got.Status != store.RunRunning {
		t.Fatalf("run finished by the wrong node: %+v, %v", got, err)
	}
}

// TestGroupWritesRunOnce: no write of a group runs twice. One that fails
// after writing fails its group: nothing of the group is kept, and every
// write of it returns the error. A write runs to its end once begun, even
// when its caller gives up while it runs.
func TestGroupWritesRunOnce(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.RunEnqueue(ctx, &store.RunEnqueueParams{Owner: "o", Agent: "a"}, &store.RunEnqueueParams{Owner: "o", Agent: "b"},
		&store.RunEnqueueParams{Owner: "o", Agent: "c"})
	if err != nil {
		t.Fatal(err)
	}
	// group queues one write per run while the test holds the writer; the
	// write of run i calls write(i, ctx, tx) with a context of its own.
	group := func(write func(i int, giveUp context.CancelFunc, ctx context.Context, tx bun.Tx) error) []error {
		t.Helper()
		errs := make([]error, len(runs))
		if err := s.lockWrites(ctx); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range runs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// The caller that ran the group sees a write's panic.
				defer func() {
					if p := recover(); p != nil {
						errs[i] = fmt.Errorf("panic: %v", p)
					}
				}()
				c, cancel := context.WithCancel(ctx)
				defer cancel()
				errs[i] = s.writeGrouped(c, func(ctx context.Context, tx bun.Tx) error { return write(i, cancel, ctx, tx) })
			}()
		}
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
			s.groupMu.Lock()
			queued := len(s.pending)
			s.groupMu.Unlock()
			if queued == len(runs) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d writes queued, want %d", queued, len(runs))
			}
		}
		s.unlockWrites()
		wg.Wait()
		return errs
	}
	summaries := func() []string {
		t.Helper()
		out := make([]string, len(runs))
		for i, r := range runs {
			got, err := s.RunGet(ctx, r.Run.ID)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = got.Summary
		}
		return out
	}

	failed := errors.New("this write fails after writing")
	var calls [3]int
	errs := group(func(i int, _ context.CancelFunc, ctx context.Context, tx bun.Tx) error {
		calls[i]++
		if _, err := tx.ExecContext(ctx, "UPDATE herald_runs SET summary = 'written' WHERE id = ?", runs[i].Run.ID); err != nil {
			return err
		}
		if i == 1 {
			return failed
		}
		return nil
	})
	for i, err := range errs {
		if !errors.Is(err, failed) || calls[i] > 1 {
			t.Errorf("write %d of a failed group: ran %d times, returned %v; want at most once, %v", i, calls[i], err, failed)
		}
	}
	if calls[1] != 1 {
		t.Errorf("the failing write ran %d times; want once", calls[1])
	}
	if got := summaries(); !slices.Equal(got, []string{"", "", ""}) {
		t.Errorf("a failed group left summaries %q; want none written", got)
	}

	// Each write's caller gives up while its write runs: every write still
	// ends, commits and reports success.
	errs = group(func(i int, giveUp context.CancelFunc, ctx context.Context, tx bun.Tx) error {
		giveUp()
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "UPDATE herald_runs SET summary = 'kept' WHERE id = ?", runs[i].Run.ID)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("write %d, whose caller gave up while it ran: %v; want it done", i, err)
		}
	}
	if got := summaries(); !slices.Equal(got, []string{"kept", "kept", "kept"}) {
		t.Errorf("summaries %q; want every write kept", got)
	}

	// A write that panics after writing: nothing of the group is kept, and
	// no write is reported done.
	errs = group(func(i int, _ context.CancelFunc, ctx context.Context, tx bun.Tx) error {
		if _, err := tx.ExecContext(ctx, "UPDATE herald_runs SET summary = 'after the panic' WHERE id = ?", runs[i].Run.ID); err != nil {
			return err
		}
		if i == 1 {
			panic("a bug")
		}
		return nil
	})
	for i, err := range errs {
		if err == nil || !strings.Contains(err.Error(), "panic") {
			t.Errorf("write %d of a group whose write panicked: %v; want an error naming the panic", i, err)
		}
	}
	if got := summaries(); !slices.Equal(got, []string{"kept", "kept", "kept"}) {
		t.Errorf("a group whose write panicked left summaries %q; want them as they were", got)
	}
}

// TestWriterWaitEndsWithContext: a write waiting for this process's SQLite
// writer gives up when its context ends.
func TestWriterWaitEndsWithContext(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "wait.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.lockWrites(ctx); err != nil {
		t.Fatal(err)
	}
	defer s.unlockWrites()
	gaveUp, cancel := context.WithCancel(ctx)
	done := make(chan error, 3)
	var ran atomic.Bool
	go func() {
		done <- s.writeGrouped(gaveUp, func(context.Context, bun.Tx) error {
			ran.Store(true)
			return nil
		})
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.groupMu.Lock()
		queued := len(s.pending)
		s.groupMu.Unlock()
		if queued == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the grouped write did not queue")
		}
	}
	go func() {
		_, err := s.ScheduleCreate(gaveUp, &store.Schedule{Owner: "o", Name: "s", Agent: "a",
			Trigger: store.Trigger{Kind: store.TriggerInterval, Interval: time.Minute}})
		done <- err
	}()
	go func() {
		done <- s.write(gaveUp, func() error { return errors.New("ran without the writer") })
	}()
	cancel()
	for range 3 {
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("a write whose context ended while it waited for the writer: %v, want context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a write whose context ended still waits for the writer")
		}
	}
	s.groupMu.Lock()
	left := len(s.pending)
	s.groupMu.Unlock()
	if left != 0 || ran.Load() {
		t.Errorf("a grouped write whose caller gave up: %d writes still queued, ran %v; want none, false", left, ran.Load())
	}
}
