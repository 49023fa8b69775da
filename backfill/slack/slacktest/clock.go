package slacktest

import (
	"context"
	"sync"
	"time"
)

// Clock is a fake clock for tests. Its time moves only when Sleep or
// Advance moves it: Sleep returns at once, having moved the time forward
// by the wait, so code that waits on it (slack.Config.Clock) runs without
// sleeping, and a Workspace whose Now is the Clock's logs the waited-for
// times. It is safe for concurrent use.
type Clock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

// NewClock returns a Clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep returns ctx's error if ctx is done; otherwise it moves the clock
// forward by d, records d, and returns nil.
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
