package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/clock/clocktest"
	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store/bunstore"
)

// TestResume: a run cancelled anywhere (after any call of the Source, or
// between two pages), then run again, leaves the store as one uninterrupted
// run does; no message is written twice, and the two runs' figures add up
// to the uninterrupted run's.
func TestResume(t *testing.T) {
	ref := newFixture(t, baseWorkspace())
	ref.mustRun(payloadDefault)
	want := dump(t, ref.st, allChannels, true)
	if len(want) != wantCollected {
		t.Fatalf("the uninterrupted run stored %d messages, want %d", len(want), wantCollected)
	}
	calls := ref.spy.calls

	stores := []struct {
		name    string
		open    func(t testing.TB) msgStore
		cuts    []int // the calls after which to cancel; nil for all
		batched bool  // a Source with no limits: pages written WriteBatch messages at a time
		writes  int   // WriteConcurrency
	}{
		{name: "memstore"},
		{name: "memstore, batched", batched: true},
		{name: "memstore, batched, 2 writes at once", batched: true, writes: 2},
		{name: "sqlite", open: openSQLite, cuts: []int{2, calls / 3, calls / 2, calls - 2}},
		{name: "postgres", open: openPostgres, cuts: []int{3, calls / 2}},
		{name: "postgres, batched, 2 writes at once", open: openPostgres, cuts: []int{calls / 3, calls / 2}, batched: true, writes: 2},
	}
	for _, sc := range stores {
		t.Run(sc.name, func(t *testing.T) {
			cuts := sc.cuts
			if cuts == nil {
				for cut := 1; cut < calls; cut++ {
					cuts = append(cuts, cut)
				}
			}
			for _, cut := range cuts {
				t.Run(fmt.Sprintf("cancel after call %d of %d", cut, calls), func(t *testing.T) {
					f := newFixture(t, baseWorkspace())
					if sc.open != nil {
						f.st = sc.open(t)
					}
					if sc.batched {
						f.slackConfig = func(c *slack.Config) { c.RateLimits = unlimited() }
						f.agentConfig = func(c *backfill.Config) { c.WriteBatch, c.WriteConcurrency = 3, sc.writes }
					}
					ctx, cancel := context.WithCancel(t.Context())
					defer cancel()
					f.afterCall = func(_ context.Context, _ string, n int) {
						if n == cut {
							cancel()
						}
					}
					checkResumed(t, f, ctx, want)
				})
			}
		})
	}

	t.Run("cancel between pages", func(t *testing.T) {
		for pages := 1; ; pages++ {
			f := newFixture(t, baseWorkspace())
			// A report after every page: the agent's clock moves a
			// millisecond a reading.
			f.agentConfig = func(c *backfill.Config) {
				c.ProgressEvery = time.Millisecond
				c.Clock = steppingClock{f.clock}
			}
			ctx, cancel := context.WithCancel(t.Context())
			reports := 0
			f.onReport = func(map[string]int64) {
				if reports++; reports == pages+1 { // the first report is before any page
					cancel()
				}
			}
			if !checkResumed(t, f, ctx, want) {
				cancel()
				if pages < 5 {
					t.Errorf("the run ended after %d reports: too few to cut", pages)
				}
				return
			}
			cancel()
		}
	})
}

// checkResumed runs f's agent under ctx, which is to be cancelled during
// the run, then again to the end, and checks the store holds want, no
// message was written twice and the figures add up. It reports false when
// the first run ended before ctx was cancelled.
func checkResumed(t *testing.T, f *fixture, ctx context.Context, want []string) bool {
	t.Helper()
	written := map[string]int{}
	f.wrapSink = countingSink(written)
	first := f.run(ctx, payloadDefault)
	if first.err == nil {
		return false
	}
	if !errors.Is(first.err, context.Canceled) {
		t.Fatalf("cancelled run = %v, want context.Canceled", first.err)
	}
	f.afterCall, f.onReport = nil, nil
	second := f.mustRun(payloadDefault)
	if got := dump(t, f.st, allChannels, true); !slices.Equal(got, want) {
		t.Errorf("after a cancelled run and a second one, the store differs from an uninterrupted run's:\n%s", lineDiff(want, got))
	}
	for k, n := range written {
		if n != 1 {
			t.Errorf("message %s written %d times, want once", k, n)
		}
	}
	last := first.last()
	sums := map[string][2]int64{
		backfill.ProgressMessagesCollected: {last[backfill.ProgressMessagesCollected] + second.out.MessagesCollected, wantCollected},
		backfill.ProgressMessagesSkipped:   {last[backfill.ProgressMessagesSkipped] + second.out.MessagesSkipped, wantSkipped},
		backfill.ProgressThreadsFollowed:   {last[backfill.ProgressThreadsFollowed] + second.out.ThreadsFollowed, wantThreads},
	}
	for k, v := range sums {
		if v[0] != v[1] {
			t.Errorf("%s: the two runs sum to %d, want %d (first run's last report %v, second run's output %+v)",
				k, v[0], v[1], last, *second.out)
		}
	}
	return true
}

func openSQLite(t testing.TB) msgStore {
	t.Helper()
	st, err := bunstore.Open(t.Context(), "sqlite://"+filepath.Join(t.TempDir(), "herald.db"), bunstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func openPostgres(t testing.TB) msgStore {
	t.Helper()
	st, err := bunstore.Open(t.Context(), testpg.DSN(t), bunstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// steppingClock is a fake clock that moves a millisecond at every reading.
type steppingClock struct{ *clocktest.Clock }

// Now moves the clock a millisecond and returns its time.
func (c steppingClock) Now() time.Time {
	c.Advance(time.Millisecond)
	return c.Clock.Now()
}
