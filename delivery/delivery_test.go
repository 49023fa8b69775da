package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
)

// inbox is a small, well-behaved deliverer that keeps what it receives,
// once per idempotency key. Addresses: "slow" takes a minute unless
// cancelled, "gone" fails for good, "full" asks to wait 5s, "flaky" fails
// once in a while (here: always, transiently); any other address succeeds.
type inbox struct {
	mu  sync.Mutex
	got map[string]delivery.Message
}

func newInbox() *inbox { return &inbox{got: make(map[string]delivery.Message)} }

// Deliver implements delivery.Deliverer.
func (in *inbox) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("inbox: %w", err)
	}
	switch m.Target.To {
	case "slow":
		timer := time.NewTimer(time.Minute)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("inbox: %w", ctx.Err())
		case <-timer.C:
		}
	case "gone":
		return delivery.Permanent(fmt.Errorf("inbox: no mailbox %q", m.Target.To))
	case "full":
		return delivery.RetryAfter(errors.New("inbox: full"), 5*time.Second)
	case "flaky":
		return errors.New("inbox: try again")
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, dup := in.got[m.IdempotencyKey]; !dup {
		c := *m
		c.Output = append([]byte(nil), m.Output...)
		in.got[m.IdempotencyKey] = c
	}
	return nil
}

// checkDelivered is a deliverytest Delivered hook: m must be in the inbox.
func (in *inbox) checkDelivered(t *testing.T, m *delivery.Message) {
	t.Helper()
	in.mu.Lock()
	got, ok := in.got[m.IdempotencyKey]
	in.mu.Unlock()
	if !ok {
		t.Errorf("inbox has no message %q", m.IdempotencyKey)
	} else if !reflect.DeepEqual(&got, m) {
		t.Errorf("inbox has\n%+v\nwant\n%+v", got, *m)
	}
}

var _ delivery.Deliverer = (*inbox)(nil)

// inboxCases are the conformance cases of the inbox deliverer.
func inboxCases(in *inbox) deliverytest.Cases {
	return deliverytest.Cases{
		Channel: "inbox",
		To:      "ops",
		Slow:    "slow",
		Failures: []deliverytest.Failure{
			{Name: "permanent", To: "gone", Permanent: true},
			{Name: "retry_after", To: "full", RetryAfter: 5 * time.Second},
			{Name: "transient", To: "flaky"},
		},
		Delivered: in.checkDelivered,
	}
}

func TestConformance(t *testing.T) {
	in := newInbox()
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return in }, inboxCases(in))
}

// TestConformanceFunc runs the suite on the inbox adapted by Func.
func TestConformanceFunc(t *testing.T) {
	in := newInbox()
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return delivery.Func(in.Deliver) }, inboxCases(in))
}

// TestConformanceRouter runs the suite on a Router that sends to the inbox:
// a Router passes its deliverer's behaviour through unchanged.
func TestConformanceRouter(t *testing.T) {
	in := newInbox()
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer {
		r := delivery.NewRouter()
		r.MustRegister("inbox", in)
		return r
	}, inboxCases(in))
}

// TestConformanceNoSlowAddress runs the suite without Cases.Slow: the
// in-flight cancellation cases skip, the others still run.
func TestConformanceNoSlowAddress(t *testing.T) {
	in := newInbox()
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return in }, deliverytest.Cases{To: "ops", Delivered: in.checkDelivered})
}

// brokenDeliverers break one rule each; TestSuiteCatches checks that the
// suite fails them with the given message. They run in a child process,
// where TestBroken runs the suite on them.
var brokenDeliverers = map[string]struct {
	deliverer delivery.Func
	cases     deliverytest.Cases
	want      string
}{
	"ignores_cancel": {
		deliverer: func(ctx context.Context, m *delivery.Message) error {
			if m.Target.To == "slow" {
				time.Sleep(1500 * time.Millisecond)
			}
			return ctx.Err()
		},
		cases: deliverytest.Cases{Slow: "slow"},
		want:  "did not return within 1s of its context ending",
	},
	"succeeds_when_cancelled": {
		deliverer: func(ctx context.Context, m *delivery.Message) error { return nil },
		want:      "Deliver succeeded after its context ended",
	},
	"permanent_when_cancelled": {
		deliverer: func(ctx context.Context, m *delivery.Message) error {
			if ctx.Err() != nil {
				return delivery.Permanent(errors.New("cancelled"))
			}
			return nil
		},
		want: "Deliver = cancelled, which is permanent",
	},
	"not_slow": {
		deliverer: func(ctx context.Context, m *delivery.Message) error { return ctx.Err() },
		cases:     deliverytest.Cases{Slow: "slow"},
		want:      "before its context ended",
	},
	"modifies_message": {
		deliverer: func(ctx context.Context, m *delivery.Message) error {
			m.Text += "!"
			return ctx.Err()
		},
		want: "Deliver modified its Message",
	},
	"fails_ok": {
		deliverer: func(ctx context.Context, m *delivery.Message) error { return errors.New("no") },
		want:      "want success",
	},
	"transient_as_permanent": {
		deliverer: func(ctx context.Context, m *delivery.Message) error {
			if m.Target.To == "flaky" {
				return delivery.Permanent(errors.New("try again"))
			}
			return ctx.Err()
		},
		cases: deliverytest.Cases{Failures: []deliverytest.Failure{{Name: "flaky", To: "flaky"}}},
		want:  "IsPermanent(try again) = true, want false",
	},
	"wrong_retry_delay": {
		deliverer: func(ctx context.Context, m *delivery.Message) error {
			if m.Target.To == "full" {
				return errors.New("full")
			}
			return ctx.Err()
		},
		cases: deliverytest.Cases{Failures: []deliverytest.Failure{{Name: "full", To: "full", RetryAfter: time.Second}}},
		want:  "RetryDelay(full) = 0s, false; want 1s, true",
	},
	"succeeds_on_failure": {
		deliverer: func(ctx context.Context, m *delivery.Message) error { return ctx.Err() },
		cases:     deliverytest.Cases{Failures: []deliverytest.Failure{{Name: "gone", To: "gone", Permanent: true}}},
		want:      `Deliver(to "gone") succeeded, want an error`,
	},
}

// brokenEnv names the broken deliverer TestBroken runs the suite on.
const brokenEnv = "DELIVERYTEST_BROKEN"

// TestBroken runs the suite on the broken deliverer named by brokenEnv; it
// only runs in the child process of TestSuiteCatches, and is meant to fail.
func TestBroken(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs in the child process of TestSuiteCatches only")
	}
	b := brokenDeliverers[name]
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return b.deliverer }, b.cases)
}

// TestSuiteCatches checks that every rule of the suite can fail: each
// broken deliverer fails it with the expected message.
func TestSuiteCatches(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for name, b := range brokenDeliverers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBroken$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed the broken deliverer %s:\n%s", name, out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Errorf("the suite failed the broken deliverer %s without saying %q:\n%s", name, b.want, out)
			}
		})
	}
}
