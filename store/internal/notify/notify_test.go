package notify

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func recv(t *testing.T, ch <-chan store.Notification) store.Notification {
	t.Helper()
	select {
	case n, ok := <-ch:
		if !ok {
			t.Fatal("channel closed")
		}
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("no notification within 5s")
	}
	return store.Notification{}
}

func TestPublishReachesEverySubscriberInOrder(t *testing.T) {
	h := New(0)
	defer h.Close()
	ctx := t.Context()
	a, _ := h.Subscribe(ctx)
	b, _ := h.Subscribe(ctx)
	for i := range 3 {
		h.Publish(store.Notification{Topic: store.TopicSchedule, Version: int64(i)})
	}
	for _, ch := range []<-chan store.Notification{a, b} {
		for i := range 3 {
			if n := recv(t, ch); n.Version != int64(i) {
				t.Fatalf("got version %d, want %d", n.Version, i)
			}
		}
	}
}

func TestSlowSubscriberGetsResync(t *testing.T) {
	h := New(4)
	defer h.Close()
	ch, _ := h.Subscribe(t.Context())
	for i := range 100 {
		h.Publish(store.Notification{Topic: store.TopicRunDue, Version: int64(i)})
	}
	// The pump may have taken the first one before the queue overflowed;
	// somewhere before the tail a resync must appear.
	sawResync := false
	for !sawResync {
		n := recv(t, ch)
		sawResync = n.Topic == store.TopicResync
		if !sawResync && n.Version >= 99 {
			t.Fatalf("reached the tail without a resync")
		}
	}
}

func TestCancelAndCloseEndSubscriptions(t *testing.T) {
	h := New(0)
	ctx, cancel := context.WithCancel(context.Background())
	ch, _ := h.Subscribe(ctx)
	cancel()
	for range ch {
	}
	ch2, _ := h.Subscribe(context.Background())
	h.Close()
	h.Close()
	for range ch2 {
	}
	if _, err := h.Subscribe(context.Background()); err != store.ErrClosed {
		t.Fatalf("subscribe after close: %v, want ErrClosed", err)
	}
}
