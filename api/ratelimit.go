package api

import (
	"container/list"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxPrincipalsDefault bounds the principals a limiter tracks.
const maxPrincipalsDefault = 10_000

// limiter keeps a token bucket per principal, forgetting the least recently
// seen beyond max, so that memory stays bounded however many principals
// come: a forgotten principal starts again with a full bucket, which is no
// more than a new principal gets.
type limiter struct {
	mu    sync.Mutex
	limit rate.Limit
	burst int
	max   int
	now   func() time.Time
	order *list.List // of *bucket, most recently seen first
	m     map[string]*list.Element
}

type bucket struct {
	subject string
	lim     *rate.Limiter
}

func newLimiter(cfg RateLimit, now func() time.Time) *limiter {
	l := &limiter{limit: rate.Limit(cfg.PerSecond), burst: cfg.Burst, max: cfg.MaxPrincipals, now: now,
		order: list.New(), m: map[string]*list.Element{}}
	if l.burst == 0 {
		l.burst = max(1, int(2*cfg.PerSecond))
	}
	if l.max == 0 {
		l.max = maxPrincipalsDefault
	}
	return l
}

// allow takes a token of subject's bucket; when there is none it returns
// false and how long until there is.
func (l *limiter) allow(subject string) (time.Duration, bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.m[subject]
	if ok {
		l.order.MoveToFront(e)
	} else {
		if l.order.Len() >= l.max {
			last := l.order.Back()
			l.order.Remove(last)
			delete(l.m, last.Value.(*bucket).subject)
		}
		e = l.order.PushFront(&bucket{subject: subject, lim: rate.NewLimiter(l.limit, l.burst)})
		l.m[subject] = e
	}
	lim := e.Value.(*bucket).lim
	if lim.AllowN(now, 1) {
		return 0, true
	}
	r := lim.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return wait, false
}

// size is how many principals are tracked.
func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.order.Len()
}
