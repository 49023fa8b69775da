package gopool

import (
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPool checks that a Pool runs every job, one at a time and many at
// once, and that its goroutines are gone after Close and Wait (goleak, in
// TestMain, checks that none is left).
func TestPool(t *testing.T) {
	p := New()
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); ran.Add(1) })
		wg.Wait() // one at a time (whether an idle goroutine takes the next is not asserted: it races with its return to idle)
	}
	release := make(chan struct{})
	for range 50 {
		wg.Add(1)
		p.Go(func() { defer wg.Done(); <-release; ran.Add(1) })
	}
	close(release)
	wg.Wait()
	if got := ran.Load(); got != 150 {
		t.Errorf("ran %d jobs, want 150", got)
	}
	p.Close()
	p.Close() // twice is fine
	p.Wait()
}

// TestCloseWhileBusy checks that a goroutine busy when the Pool closes
// finishes its job and then exits.
func TestCloseWhileBusy(t *testing.T) {
	p := New()
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	p.Go(func() { close(started); <-release; close(done) })
	<-started
	p.Close()
	close(release)
	p.Wait()
	select {
	case <-done:
	default:
		t.Fatal("Wait returned before the busy job ended")
	}
}
