package clock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock"
)

func TestSystemSleep(t *testing.T) {
	var c clock.Clock = clock.System{}
	before := c.Now()
	if err := c.Sleep(t.Context(), time.Millisecond); err != nil {
		t.Fatalf("Sleep(1ms) = %v", err)
	}
	if took := time.Since(before); took < time.Millisecond {
		t.Errorf("Sleep(1ms) returned after %v", took)
	}
	if err := c.Sleep(t.Context(), 0); err != nil {
		t.Errorf("Sleep(0) = %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(1h) on a cancelled context = %v, want context.Canceled", err)
	}
	if err := c.Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a cancelled context = %v, want context.Canceled", err)
	}
}

func TestOrSystem(t *testing.T) {
	if got := clock.OrSystem(nil); got != (clock.System{}) {
		t.Errorf("OrSystem(nil) = %#v, want clock.System{}", got)
	}
	c := fixed{}
	if got := clock.OrSystem(c); got != clock.Clock(c) {
		t.Errorf("OrSystem(c) = %#v, want c", got)
	}
}

type fixed struct{ clock.System }

func (fixed) Now() time.Time { return time.Unix(0, 0) }
