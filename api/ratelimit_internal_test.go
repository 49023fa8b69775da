package api

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterForgetsIdlePrincipals(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLimiter(RateLimit{PerSecond: 1, Burst: 1, MaxPrincipals: 3}, func() time.Time { return now })
	for i := range 1000 {
		if _, ok := l.allow(fmt.Sprint("p", i)); !ok {
			t.Fatalf("principal %d refused on its first request", i)
		}
		if n := l.size(); n > 3 {
			t.Fatalf("%d principals tracked, want at most 3", n)
		}
	}
	// The most recent keep their buckets: p999 is out of tokens.
	if wait, ok := l.allow("p999"); ok || wait != time.Second {
		t.Errorf("p999 again: ok %v, wait %v; want refused for 1s", ok, wait)
	}
	now = now.Add(time.Second)
	if _, ok := l.allow("p999"); !ok {
		t.Error("p999 refused after its bucket refilled")
	}
}
