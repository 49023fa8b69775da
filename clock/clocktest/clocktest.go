// Package clocktest is a fake clock.Clock for tests: its time stands still
// until the test moves it, and Sleep moves it forward instead of waiting,
// so that code waiting on it runs at once and deterministically.
//
// Import it from tests of code that takes a clock.Clock: a store's Options,
// the scheduler's harness (scheduler/schedulertest), the Slack source of
// the backfill.
package clocktest

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/clock"
)

// Clock is a fake clock that stands still until moved: by Advance, Set, or
// Sleep, which returns at once having moved the time forward by the wait.
// It is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

var _ clock.Clock = (*Clock)(nil)

// New returns a clock that reads start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d (backward when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Sleep returns ctx's error if ctx is done; otherwise it moves the clock
// forward by d (when d is positive), records d, and returns nil.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	c.slept = append(c.slept, d)
	return nil
}

// Slept returns the waits Sleep was asked for, in order.
func (c *Clock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
