package clocktest_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock/clocktest"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClockMovesOnlyWhenTold(t *testing.T) {
	c := clocktest.New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
	c.Advance(time.Minute)
	if got, want := c.Now(), start.Add(time.Minute); !got.Equal(want) {
		t.Errorf("after Advance(1m), Now() = %v, want %v", got, want)
	}
	c.Advance(-2 * time.Minute)
	if got, want := c.Now(), start.Add(-time.Minute); !got.Equal(want) {
		t.Errorf("after Advance(-2m), Now() = %v, want %v", got, want)
	}
	at := start.Add(24 * time.Hour)
	c.Set(at)
	if got := c.Now(); !got.Equal(at) {
		t.Errorf("after Set, Now() = %v, want %v", got, at)
	}
}

func TestSleepAdvancesAndRecords(t *testing.T) {
	c := clocktest.New(start)
	ctx := t.Context()
	for _, d := range []time.Duration{time.Second, 0, -time.Second, time.Minute} {
		if err := c.Sleep(ctx, d); err != nil {
			t.Fatalf("Sleep(%v) = %v", d, err)
		}
	}
	if got, want := c.Now(), start.Add(time.Minute+time.Second); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v (only positive waits move the clock)", got, want)
	}
	if got, want := c.Slept(), []time.Duration{time.Second, 0, -time.Second, time.Minute}; !slices.Equal(got, want) {
		t.Errorf("Slept() = %v, want %v", got, want)
	}
}

func TestSleepOnADoneContext(t *testing.T) {
	c := clocktest.New(start)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if got := c.Now(); !got.Equal(start) {
		t.Errorf("Now() = %v, want %v: a refused sleep does not move the clock", got, start)
	}
	if got := c.Slept(); len(got) != 0 {
		t.Errorf("Slept() = %v, want none", got)
	}
}
