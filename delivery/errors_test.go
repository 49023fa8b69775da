package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
)

func TestErrorWrappersNil(t *testing.T) {
	if err := delivery.Permanent(nil); err != nil {
		t.Errorf("Permanent(nil) = %v", err)
	}
	if err := delivery.RetryAfter(nil, time.Second); err != nil {
		t.Errorf("RetryAfter(nil) = %v", err)
	}
	if delivery.IsPermanent(nil) {
		t.Error("IsPermanent(nil) = true")
	}
	if d, ok := delivery.RetryDelay(nil); ok {
		t.Errorf("RetryDelay(nil) = %v, true", d)
	}
}

func TestErrorWrappers(t *testing.T) {
	errGone := errors.New("410 Gone")
	base := &url.Error{Op: "Post", URL: "https://hooks.example.com/x", Err: errGone}
	for _, tc := range []struct {
		name      string
		err       error
		text      string
		permanent bool
		delay     time.Duration
		delayOK   bool
	}{
		{name: "plain", err: base, text: base.Error()},
		{name: "permanent", err: delivery.Permanent(base), text: base.Error(), permanent: true},
		{name: "retry after", err: delivery.RetryAfter(base, time.Minute), text: base.Error(), delay: time.Minute, delayOK: true},
		{name: "retry after zero", err: delivery.RetryAfter(base, 0), text: base.Error(), delayOK: true},
		{name: "retry after negative", err: delivery.RetryAfter(base, -time.Second), text: base.Error(), delayOK: true},
		{
			name: "wrapped permanent", err: fmt.Errorf("slack: %w", delivery.Permanent(base)),
			text: "slack: " + base.Error(), permanent: true,
		},
		{
			name: "wrapped retry after", err: fmt.Errorf("slack: %w", delivery.RetryAfter(base, 3*time.Second)),
			text: "slack: " + base.Error(), delay: 3 * time.Second, delayOK: true,
		},
		{
			name: "outermost delay", err: delivery.RetryAfter(fmt.Errorf("again: %w", delivery.RetryAfter(base, time.Hour)), time.Second),
			text: "again: " + base.Error(), delay: time.Second, delayOK: true,
		},
		{
			name: "joined", err: errors.Join(errors.New("first"), delivery.Permanent(base)),
			text: "first\n" + base.Error(), permanent: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if !errors.Is(tc.err, errGone) {
				t.Errorf("errors.Is(%v, errGone) = false", tc.err)
			}
			if ue, ok := errors.AsType[*url.Error](tc.err); !ok || ue != base {
				t.Errorf("errors.As(%v, *url.Error) = %v, %t; want the wrapped error", tc.err, ue, ok)
			}
			if got := delivery.IsPermanent(tc.err); got != tc.permanent {
				t.Errorf("IsPermanent = %t, want %t", got, tc.permanent)
			}
			if d, ok := delivery.RetryDelay(tc.err); d != tc.delay || ok != tc.delayOK {
				t.Errorf("RetryDelay = %v, %t; want %v, %t", d, ok, tc.delay, tc.delayOK)
			}
		})
	}
}

// TestContextErrorsAreTransient: an attempt cut short by its context is
// never permanent, however the deliverer marked it.
func TestContextErrorsAreTransient(t *testing.T) {
	for _, base := range []error{context.Canceled, context.DeadlineExceeded} {
		for _, err := range []error{
			base,
			fmt.Errorf("post: %w", base),
			delivery.Permanent(base),
			delivery.Permanent(&url.Error{Op: "Post", URL: "https://hooks.example.com/x", Err: base}),
			errors.Join(delivery.Permanent(errors.New("gone")), base),
		} {
			if delivery.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true, want false", err)
			}
			if !errors.Is(err, base) {
				t.Errorf("errors.Is(%v, %v) = false", err, base)
			}
		}
	}
}
