// Package deliverytest is the conformance suite of Herald's delivery
// contract: the behaviour the scheduler relies on from every
// delivery.Deliverer, whatever the channel and wherever it runs (in
// process, or behind a plugin boundary).
//
// Import it from the tests of a deliverer:
//
//	func TestConformance(t *testing.T) {
//		srv := newFakeReceiver(t) // an HTTP test server the test controls
//		deliverytest.Run(t, func(t *testing.T) delivery.Deliverer { return newCallback(srv.Client()) }, deliverytest.Cases{
//			To:   srv.URL + "/ok",
//			Slow: srv.URL + "/hang",
//			Failures: []deliverytest.Failure{
//				{Name: "gone", To: srv.URL + "/410", Permanent: true},
//				{Name: "unavailable", To: srv.URL + "/503"},
//			},
//			Delivered: srv.checkReceived,
//		})
//	}
//
// Since what an address means depends on the channel, the caller says which
// addresses succeed, which keep the deliverer busy, and which fail and how.
package deliverytest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
)

// Prompt is how soon Deliver must return once its context is done.
const Prompt = time.Second

// Busy is how long a delivery to Cases.Slow must take unless its context is
// done.
const Busy = 2 * time.Second

// OKTimeout bounds a delivery to Cases.To or to a Failure's address.
const OKTimeout = time.Minute

// startDelay is how long the suite lets a slow delivery work before it ends
// its context.
const startDelay = 100 * time.Millisecond

// Cases are the addresses the suite delivers to.
type Cases struct {
	// Channel is the Target.Channel of the suite's messages; empty means
	// "test".
	Channel string
	// To is an address delivery to which succeeds within OKTimeout; it may
	// be empty when the channel needs no address.
	To string
	// Slow is an address delivery to which takes at least Busy (2 s) unless
	// its context is done. Empty skips the cases that cancel a delivery in
	// flight.
	Slow string
	// Failures are addresses delivery to which fails, each in a known way.
	Failures []Failure
	// Delivered, when set, is called after each successful delivery with
	// the message delivered, so the caller can check that the receiver got
	// it; it may be called from several goroutines at once.
	Delivered func(t *testing.T, m *delivery.Message)
}

// Failure is an address delivery to which fails, and how the error must be
// classified.
type Failure struct {
	// Name names the subtest.
	Name string
	// To is the address.
	To string
	// Permanent says whether the error must satisfy delivery.IsPermanent.
	Permanent bool
	// RetryAfter, when positive, is the delay delivery.RetryDelay must
	// report; zero means the error must carry no RetryAfter.
	RetryAfter time.Duration
}

// Run runs the conformance suite against the deliverers newDeliverer
// makes, as subtests: OK, Concurrent, CancelBeforeDeliver,
// CancelWhileDelivering, Deadline and Failure/<name>. Run calls
// newDeliverer from parallel subtests, once per subtest; it closes nothing,
// so newDeliverer registers its own t.Cleanup.
//
// Each Message the suite sends is the result of a succeeded run, with a
// subject, a two-line text, a JSON output and an idempotency key unique to
// the message.
func Run(t *testing.T, newDeliverer func(t *testing.T) delivery.Deliverer, cases Cases) {
	if cases.Channel == "" {
		cases.Channel = "test"
	}

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		d := newDeliverer(t)
		m := newMessage(cases.Channel, cases.To, 1)
		before := snapshot(m)
		ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
		defer cancel()
		if err := d.Deliver(ctx, m); err != nil {
			t.Fatalf("Deliver(to %q) = %v, want success", m.Target.To, err)
		}
		if after := snapshot(m); !reflect.DeepEqual(after, before) {
			t.Errorf("Deliver modified its Message:\n got %+v\nwant %+v", after, before)
		}
		if cases.Delivered != nil {
			cases.Delivered(t, m)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		d := newDeliverer(t)
		const n = 8
		msgs := make([]*delivery.Message, n)
		errs := make([]error, n)
		ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for i := range n {
			msgs[i] = newMessage(cases.Channel, cases.To, 100+i)
			wg.Go(func() { errs[i] = d.Deliver(ctx, msgs[i]) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Deliver #%d of %d at once (to %q) = %v, want success", i, n, cases.To, err)
				continue
			}
			if cases.Delivered != nil {
				cases.Delivered(t, msgs[i])
			}
		}
	})

	t.Run("CancelBeforeDeliver", func(t *testing.T) {
		t.Parallel()
		d := newDeliverer(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := waitDeliver(t, ctx, d, newMessage(cases.Channel, cases.To, 2), nil)
		checkContextErr(t, err, context.Canceled)
	})

	t.Run("CancelWhileDelivering", func(t *testing.T) {
		t.Parallel()
		skipUnlessSlow(t, cases)
		d := newDeliverer(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := waitDeliver(t, ctx, d, newMessage(cases.Channel, cases.Slow, 3), cancel)
		checkContextErr(t, err, context.Canceled)
	})

	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		skipUnlessSlow(t, cases)
		d := newDeliverer(t)
		ctx, cancel := context.WithTimeout(t.Context(), startDelay)
		defer cancel()
		err := waitDeliver(t, ctx, d, newMessage(cases.Channel, cases.Slow, 4), nil)
		checkContextErr(t, err, context.DeadlineExceeded)
	})

	for i, f := range cases.Failures {
		t.Run("Failure/"+f.Name, func(t *testing.T) {
			t.Parallel()
			d := newDeliverer(t)
			ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
			defer cancel()
			err := d.Deliver(ctx, newMessage(cases.Channel, f.To, 200+i))
			if err == nil {
				t.Fatalf("Deliver(to %q) succeeded, want an error", f.To)
			}
			if err.Error() == "" {
				t.Errorf("Deliver(to %q) returned an error with no text", f.To)
			}
			if got := delivery.IsPermanent(err); got != f.Permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, f.Permanent)
			}
			delay, ok := delivery.RetryDelay(err)
			switch {
			case f.RetryAfter > 0 && (!ok || delay != f.RetryAfter):
				t.Errorf("RetryDelay(%v) = %v, %t; want %v, true", err, delay, ok, f.RetryAfter)
			case f.RetryAfter <= 0 && ok:
				t.Errorf("RetryDelay(%v) = %v, true; want no RetryAfter", err, delay)
			}
		})
	}
}

// skipUnlessSlow skips a test that needs Cases.Slow.
func skipUnlessSlow(t *testing.T, cases Cases) {
	t.Helper()
	if cases.Slow == "" {
		t.Skip("Cases.Slow is empty: no address keeps this deliverer busy, so cancelling a delivery in flight is not tested")
	}
}

// waitDeliver delivers m with d under ctx and returns Deliver's error. When
// end is given, waitDeliver calls it to end ctx once the delivery has had
// startDelay to get going; otherwise ctx ends by itself (it was cancelled
// already, or has a deadline). It fails the test when Deliver returns before
// ctx ends, or later than Prompt after.
func waitDeliver(t *testing.T, ctx context.Context, d delivery.Deliverer, m *delivery.Message, end context.CancelFunc) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- d.Deliver(ctx, m) }()
	early := func(err error) {
		t.Helper()
		t.Fatalf("Deliver(to %q) returned after %v, before its context ended (err %v); Cases.Slow must keep the deliverer busy for at least %v",
			m.Target.To, time.Since(start).Round(time.Millisecond), err, Busy)
	}
	if end != nil {
		select {
		case err := <-done:
			early(err)
		case <-time.After(startDelay):
		}
		end()
	}
	select {
	case err := <-done:
		if ctx.Err() == nil {
			early(err)
		}
		return err
	case <-ctx.Done():
	}
	ended := time.Now()
	select {
	case err := <-done:
		return err
	case <-time.After(Prompt):
	}
	t.Errorf("Deliver(to %q) did not return within %v of its context ending", m.Target.To, Prompt)
	select {
	case err := <-done:
		t.Logf("Deliver returned %v after its context ended", time.Since(ended).Round(time.Millisecond))
		return err
	case <-time.After(10 * Prompt):
		t.Fatalf("Deliver(to %q) did not return within %v of its context ending", m.Target.To, 11*Prompt)
		return nil
	}
}

// checkContextErr fails the test unless err matches want and is transient.
func checkContextErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("Deliver succeeded after its context ended, want an error matching %v", want)
	case !errors.Is(err, want):
		t.Errorf("Deliver = %v, want an error matching %v", err, want)
	}
	if delivery.IsPermanent(err) {
		t.Errorf("Deliver = %v, which is permanent; a context error must be transient", err)
	}
}

// newMessage returns the i-th message of the suite, to the address to of
// channel.
func newMessage(channel, to string, i int) *delivery.Message {
	runID := fmt.Sprintf("01900000-0000-7000-8000-%012x", i)
	return &delivery.Message{
		RunID:          runID,
		Owner:          "deliverytest",
		Agent:          "deliverytest",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: channel, To: to},
		Subject:        "deliverytest: run " + runID + " succeeded",
		Text:           "The run succeeded.\nThis is its summary.",
		Output:         []byte(`{"ok":true,"items":[1,2,3]}`),
		IdempotencyKey: runID + "/" + channel + "/" + to,
	}
}

// snapshot copies m deeply enough to tell whether Deliver modified it.
func snapshot(m *delivery.Message) delivery.Message {
	s := *m
	s.Output = bytes.Clone(m.Output)
	return s
}
