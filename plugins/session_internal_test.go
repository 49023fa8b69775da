package plugins

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestSendQueue checks that a sendQueue sends in order, sends what it
// holds before close returns, and refuses pushes after close or after a
// failed send.
func TestSendQueue(t *testing.T) {
	t.Run("order and close", func(t *testing.T) {
		var got []int
		q := newSendQueue(func(batch []int) error { got = append(got, batch...); return nil }, func(int) int { return 1 })
		var want []int
		for i := range 1000 {
			if err := q.push(i); err != nil {
				t.Fatalf("push(%d) = %v", i, err)
			}
			want = append(want, i)
		}
		q.close()
		if !slices.Equal(got, want) {
			t.Fatalf("sent %d messages out of order or not all: %v", len(got), got)
		}
		if err := q.push(1); !errors.Is(err, errClosedQueue) {
			t.Errorf("push after close = %v, want errClosedQueue", err)
		}
		q.close() // twice
	})
	t.Run("send fails", func(t *testing.T) {
		broken := errors.New("stream broken")
		sent := make(chan int, 1)
		q := newSendQueue(func(batch []int) error { sent <- batch[0]; return broken }, func(int) int { return 1 })
		if err := q.push(1); err != nil {
			t.Fatal(err)
		}
		<-sent
		deadline := time.Now().Add(10 * time.Second)
		for q.push(2) == nil {
			if time.Now().After(deadline) {
				t.Fatal("push still succeeds after a failed send")
			}
			time.Sleep(time.Millisecond)
		}
		if err := q.push(3); !errors.Is(err, broken) {
			t.Errorf("push after a failed send = %v, want %v", err, broken)
		}
		q.close()
	})
	t.Run("batch limits", func(t *testing.T) {
		// Items just over a third of the byte limit go two to a batch, one
		// over the limit goes alone, and small ones go at most
		// sendBatchMax to a batch.
		block := make(chan struct{})
		var batches [][]int
		q := newSendQueue(func(batch []int) error {
			<-block
			batches = append(batches, slices.Clone(batch))
			return nil
		}, func(n int) int { return n })
		// The first push is sent alone while the rest queue up behind it.
		third := sendBatchBytes/3 + 1
		items := []int{1, third, third, third, 2 * sendBatchBytes}
		for range sendBatchMax + 1 {
			items = append(items, 1)
		}
		for _, n := range items {
			if err := q.push(n); err != nil {
				t.Fatal(err)
			}
		}
		close(block)
		q.close()
		var sizes []int
		for _, b := range batches {
			sizes = append(sizes, len(b))
		}
		// 1 | third third | third | huge | 1 x256 | 1, or fewer batches when
		// the first push was taken with the others.
		var flat []int
		for _, b := range batches {
			total := 0
			for _, n := range b {
				total += n
			}
			if len(b) > 1 && total > sendBatchBytes || len(b) > sendBatchMax {
				t.Errorf("batch of %d items, %d bytes, exceeds the limits", len(b), total)
			}
			flat = append(flat, b...)
		}
		if !slices.Equal(flat, items) {
			t.Errorf("sent %d items, want the %d pushed, in order (batches %v)", len(flat), len(items), sizes)
		}
		if len(batches) > 7 {
			t.Errorf("%d batches of %v, want at most 7", len(batches), sizes)
		}
	})
}
