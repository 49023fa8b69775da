package agent_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/agent"
)

// nop is an agent that does nothing.
var nop = agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) { return nil, nil })

func TestRegistryNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"echo", true},
		{"a", true},
		{"0", true},
		{"kpi_report", true},
		{"slack.backfill-v2", true},
		{"9lives", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"", false},
		{"Echo", false},
		{"_echo", false},
		{".echo", false},
		{"-echo", false},
		{"echo agent", false},
		{"echo/agent", false},
		{"échø", false},
		{"echo\n", false},
	} {
		t.Run(fmt.Sprintf("%q", tc.name), func(t *testing.T) {
			r := agent.NewRegistry()
			err := r.Register(tc.name, nop)
			if (err == nil) != tc.ok {
				t.Fatalf("Register(%q) = %v, want ok %t", tc.name, err, tc.ok)
			}
			if err != nil {
				if errors.Is(err, agent.ErrDuplicate) {
					t.Errorf("Register(%q) = %v, want an error not matching ErrDuplicate", tc.name, err)
				}
				if len(r.Names()) != 0 {
					t.Errorf("Names() = %q after a refused Register, want none", r.Names())
				}
				return
			}
			if _, err := r.Lookup(tc.name); err != nil {
				t.Errorf("Lookup(%q) = %v after Register", tc.name, err)
			}
		})
	}
}

func TestRegistryRegister(t *testing.T) {
	t.Run("nil agent", func(t *testing.T) {
		r := agent.NewRegistry()
		for _, a := range []agent.Agent{nil, agent.Func(nil)} {
			if err := r.Register("echo", a); err == nil || !strings.Contains(err.Error(), "nil agent") {
				t.Errorf("Register(echo, %#v) = %v, want a nil agent error", a, err)
			}
		}
		if _, err := r.Lookup("echo"); !errors.Is(err, agent.ErrUnknown) {
			t.Errorf("Lookup(echo) = %v after refused registrations, want ErrUnknown", err)
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		r := agent.NewRegistry()
		first := agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
			return &agent.Result{Summary: "first"}, nil
		})
		if err := r.Register("echo", first); err != nil {
			t.Fatal(err)
		}
		err := r.Register("echo", nop)
		if !errors.Is(err, agent.ErrDuplicate) || !strings.Contains(err.Error(), `"echo"`) {
			t.Fatalf("second Register(echo) = %v, want ErrDuplicate naming echo", err)
		}
		a, err := r.Lookup("echo")
		if err != nil {
			t.Fatal(err)
		}
		if res, _ := a.Run(t.Context(), &agent.Task{}); res == nil || res.Summary != "first" {
			t.Errorf("Lookup(echo) after a duplicate Register is not the first agent: Run = %+v", res)
		}
	})

	t.Run("must", func(t *testing.T) {
		r := agent.NewRegistry()
		r.MustRegister("echo", nop)
		defer func() {
			err, _ := recover().(error)
			if !errors.Is(err, agent.ErrDuplicate) {
				t.Errorf("MustRegister(echo) twice panicked with %v, want ErrDuplicate", err)
			}
		}()
		r.MustRegister("echo", nop)
		t.Error("MustRegister(echo) twice did not panic")
	})
}

func TestRegistryLookup(t *testing.T) {
	r := agent.NewRegistry()
	r.MustRegister("echo", nop)
	a, err := r.Lookup("echo")
	if err != nil || a == nil {
		t.Fatalf("Lookup(echo) = %v, %v", a, err)
	}
	for _, name := range []string{"missing", "Echo", ""} {
		a, err := r.Lookup(name)
		if !errors.Is(err, agent.ErrUnknown) || a != nil {
			t.Errorf("Lookup(%q) = %v, %v; want nil, ErrUnknown", name, a, err)
		}
		if want := fmt.Sprintf("agent: unknown agent %q", name); err == nil || err.Error() != want {
			t.Errorf("Lookup(%q) error = %v, want %q", name, err, want)
		}
	}
}

func TestRegistryNamesSorted(t *testing.T) {
	r := agent.NewRegistry()
	if got := r.Names(); len(got) != 0 {
		t.Errorf("Names() of an empty registry = %q", got)
	}
	for _, name := range []string{"slack", "echo", "kpi_report", "backfill"} {
		r.MustRegister(name, nop)
	}
	want := []string{"backfill", "echo", "kpi_report", "slack"}
	if got := r.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

// TestRegistryConcurrent registers and looks up from many goroutines at
// once; run with -race.
func TestRegistryConcurrent(t *testing.T) {
	r := agent.NewRegistry()
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		name := fmt.Sprintf("agent%02d", i)
		wg.Go(func() {
			if err := r.Register(name, nop); err != nil {
				t.Errorf("Register(%s) = %v", name, err)
			}
			if _, err := r.Lookup(name); err != nil {
				t.Errorf("Lookup(%s) = %v", name, err)
			}
			_ = r.Names()
		})
		wg.Go(func() {
			if err := r.Register("shared", nop); err != nil && !errors.Is(err, agent.ErrDuplicate) {
				t.Errorf("Register(shared) = %v", err)
			}
		})
	}
	wg.Wait()
	if got := len(r.Names()); got != n+1 {
		t.Errorf("len(Names()) = %d, want %d", got, n+1)
	}
}
