package slack

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiter spaces the calls of one method: a token bucket of burst 1 (so no
// window of a minute ever holds more than the method's budget), and a pause
// set by a 429's Retry-After that every caller of the method waits out.
type limiter struct {
	method string
	bucket *rate.Limiter

	mu          sync.Mutex
	pausedUntil time.Time
}

func newLimiter(method string, perMinute float64) *limiter {
	limit := rate.Limit(perMinute / 60)
	if math.IsInf(perMinute, 1) {
		limit = rate.Inf
	}
	return &limiter{method: method, bucket: rate.NewLimiter(limit, 1)}
}

// pause makes the method's callers wait until t.
func (l *limiter) pause(t time.Time) {
	l.mu.Lock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
	}
	l.mu.Unlock()
}

// wait returns when a call of the method may be made, or with ctx's error.
// It waits on s's clock, first for a pause, then for the bucket, and
// reports each wait.
func (s *Source) wait(ctx context.Context, l *limiter) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.clock.Now()
	l.mu.Lock()
	until := l.pausedUntil
	l.mu.Unlock()
	if d := until.Sub(now); d > 0 {
		if err := s.clock.Sleep(ctx, d); err != nil {
			return err
		}
		s.waited(l.method, d, "retry_after")
		now = s.clock.Now()
	}
	r := l.bucket.ReserveN(now, 1)
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	// rate computes in floating point and truncates to the nanosecond;
	// waiting whole milliseconds keeps every call at or after its slot.
	d = (d + time.Millisecond - 1).Truncate(time.Millisecond)
	if err := s.clock.Sleep(ctx, d); err != nil {
		r.CancelAt(s.clock.Now())
		return err
	}
	s.waited(l.method, d, "rate_limit")
	return nil
}
