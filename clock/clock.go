// Package clock is Herald's one notion of time: the Clock interface that
// every package reads the time from and waits on, and System, the wall
// clock.
//
// Import it to give Herald a clock: a store takes one in its Options
// (store/memstore, store/bunstore) and the scheduler reads the store's, so
// that the engine and its store cannot disagree about the time. Tests pass
// the fake of clock/clocktest, whose time moves only when told, so that
// nothing waits for a tick.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and waits. Implementations are safe for concurrent
// use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Sleep waits for d, or until ctx is done, and returns ctx's error if
	// ctx ended the wait (nil otherwise). A d of zero or less does not
	// wait.
	Sleep(ctx context.Context, d time.Duration) error
}

// System is the wall clock: Now is time.Now and Sleep waits on a real
// timer. Its zero value is ready to use; code that must tell the wall
// clock from a fake compares with it (c == clock.System{}).
type System struct{}

var _ Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// Sleep waits for d on a timer, or until ctx is done.
func (System) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// OrSystem returns c, or System when c is nil: the default of every
// optional Clock in Herald's configurations.
func OrSystem(c Clock) Clock {
	if c == nil {
		return System{}
	}
	return c
}
