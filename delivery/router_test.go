package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/delivery"
)

// discard is a deliverer that drops every message.
var discard = delivery.Func(func(context.Context, *delivery.Message) error { return nil })

func TestRouterChannelNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"slack", true},
		{"x", true},
		{"7", true},
		{"ms_teams", true},
		{"http.callback-v2", true},
		{strings.Repeat("s", 63), true},
		{strings.Repeat("s", 64), false},
		{"", false},
		{"Slack", false},
		{"_slack", false},
		{".slack", false},
		{"-slack", false},
		{"slack ops", false},
		{"slack/ops", false},
		{"ślack", false},
		{"slack\x00", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			r := delivery.NewRouter()
			err := r.Register(tc.name, discard)
			if (err == nil) != tc.ok {
				t.Fatalf("Register(%q) = %v, want ok %t", tc.name, err, tc.ok)
			}
			if err != nil {
				if errors.Is(err, delivery.ErrDuplicate) {
					t.Errorf("Register(%q) = %v, want an error not matching ErrDuplicate", tc.name, err)
				}
				if len(r.Channels()) != 0 {
					t.Errorf("Channels() = %q after a refused Register, want none", r.Channels())
				}
				return
			}
			if _, err := r.Lookup(tc.name); err != nil {
				t.Errorf("Lookup(%q) = %v after Register", tc.name, err)
			}
		})
	}
}

func TestRouterRegister(t *testing.T) {
	t.Run("nil deliverer", func(t *testing.T) {
		r := delivery.NewRouter()
		for _, d := range []delivery.Deliverer{nil, delivery.Func(nil)} {
			if err := r.Register("slack", d); err == nil || !strings.Contains(err.Error(), "nil deliverer") {
				t.Errorf("Register(slack, %#v) = %v, want a nil deliverer error", d, err)
			}
		}
		if got := r.Channels(); len(got) != 0 {
			t.Errorf("Channels() = %q after refused Registers", got)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		r := delivery.NewRouter()
		var first bool
		r.MustRegister("slack", delivery.Func(func(context.Context, *delivery.Message) error {
			first = true
			return nil
		}))
		err := r.Register("slack", discard)
		if !errors.Is(err, delivery.ErrDuplicate) || !strings.Contains(err.Error(), `"slack"`) {
			t.Fatalf("second Register(slack) = %v, want ErrDuplicate naming slack", err)
		}
		if err := r.Deliver(t.Context(), &delivery.Message{Target: delivery.Target{Channel: "slack"}}); err != nil {
			t.Fatal(err)
		}
		if !first {
			t.Error("Deliver after a duplicate Register did not reach the first deliverer")
		}
	})

	t.Run("must", func(t *testing.T) {
		r := delivery.NewRouter()
		r.MustRegister("slack", discard)
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, delivery.ErrDuplicate) {
				t.Errorf("MustRegister(slack) twice panicked with %v, want ErrDuplicate", err)
			}
		}()
		r.MustRegister("slack", discard)
		t.Error("MustRegister(slack) twice did not panic")
	})
}

func TestRouterLookup(t *testing.T) {
	r := delivery.NewRouter()
	r.MustRegister("slack", discard)
	if d, err := r.Lookup("slack"); err != nil || d == nil {
		t.Fatalf("Lookup(slack) = %v, %v", d, err)
	}
	for _, name := range []string{"email", "Slack", ""} {
		d, err := r.Lookup(name)
		if !errors.Is(err, delivery.ErrUnknownChannel) || d != nil {
			t.Errorf("Lookup(%q) = %v, %v; want nil, ErrUnknownChannel", name, d, err)
		}
		if !delivery.IsPermanent(err) {
			t.Errorf("Lookup(%q) = %v, want a permanent error", name, err)
		}
		if want := fmt.Sprintf("delivery: unknown channel %q", name); err == nil || err.Error() != want {
			t.Errorf("Lookup(%q) error = %v, want %q", name, err, want)
		}
	}
}

func TestRouterDeliver(t *testing.T) {
	errDown := errors.New("slack: down")
	r := delivery.NewRouter()
	var got []string
	var mu sync.Mutex
	r.MustRegister("log", delivery.Func(func(_ context.Context, m *delivery.Message) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m.Target.To+": "+m.Subject)
		return nil
	}))
	r.MustRegister("slack", delivery.Func(func(context.Context, *delivery.Message) error { return errDown }))

	if err := r.Deliver(t.Context(), &delivery.Message{Target: delivery.Target{Channel: "log", To: "ops"}, Subject: "done"}); err != nil {
		t.Fatalf("Deliver(log) = %v", err)
	}
	if want := []string{"ops: done"}; !slices.Equal(got, want) {
		t.Errorf("log got %q, want %q", got, want)
	}

	err := r.Deliver(t.Context(), &delivery.Message{Target: delivery.Target{Channel: "slack"}})
	if err != errDown {
		t.Errorf("Deliver(slack) = %#v, want the deliverer's error unchanged", err)
	}

	err = r.Deliver(t.Context(), &delivery.Message{Target: delivery.Target{Channel: "email", To: "ops@example.com"}})
	if !errors.Is(err, delivery.ErrUnknownChannel) || !delivery.IsPermanent(err) || !strings.Contains(err.Error(), `"email"`) {
		t.Errorf("Deliver(email) = %v, want a permanent ErrUnknownChannel naming email", err)
	}
}

func TestRouterChannelsSorted(t *testing.T) {
	r := delivery.NewRouter()
	if got := r.Channels(); len(got) != 0 {
		t.Errorf("Channels() of an empty router = %q", got)
	}
	for _, name := range []string{"teams", "email", "slack", "http"} {
		r.MustRegister(name, discard)
	}
	want := []string{"email", "http", "slack", "teams"}
	if got := r.Channels(); !slices.Equal(got, want) {
		t.Errorf("Channels() = %q, want %q", got, want)
	}
}

// TestRouterConcurrent registers, looks up and delivers from many
// goroutines at once; run with -race.
func TestRouterConcurrent(t *testing.T) {
	r := delivery.NewRouter()
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("channel%02d", i)
		wg.Go(func() {
			if err := r.Register(name, discard); err != nil {
				t.Errorf("Register(%s) = %v", name, err)
			}
			if err := r.Deliver(t.Context(), &delivery.Message{Target: delivery.Target{Channel: name}}); err != nil {
				t.Errorf("Deliver(%s) = %v", name, err)
			}
			_ = r.Channels()
		})
		wg.Go(func() {
			if err := r.Register("shared", discard); err != nil && !errors.Is(err, delivery.ErrDuplicate) {
				t.Errorf("Register(shared) = %v", err)
			}
		})
	}
	wg.Wait()
	if got := len(r.Channels()); got != n+1 {
		t.Errorf("len(Channels()) = %d, want %d", got, n+1)
	}
}
