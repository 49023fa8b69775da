//go:build linux

package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/plugins"
)

// agentPaths are the two ways a host runs a plugin's agent: over the
// plugin's session, and with a Run call per run for a plugin that offers
// no sessions (as one written in another language may not). The tests of
// what crosses the boundary run on both.
var agentPaths = []struct {
	name     string
	env      []string
	sessions bool
}{
	{name: "session", sessions: true},
	{name: "run", env: []string{"TESTKIT_NO_SESSIONS=1"}},
}

// forEachPath runs f, in parallel subtests, on the test plugin's agent
// reached by each of agentPaths.
func forEachPath(t *testing.T, f func(t *testing.T, a agent.Agent)) {
	t.Helper()
	for _, p := range agentPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			m := newManager(t, plugins.Config{
				Plugins: []plugins.Plugin{{Path: bin.testkit, Env: p.env}},
				Logger:  testLogger(t),
			})
			if got := m.Plugins()[0].Sessions; got != p.sessions {
				t.Fatalf("Plugins()[0].Sessions = %t, want %t", got, p.sessions)
			}
			f(t, m.Agents()["kit"])
		})
	}
}

// TestSessionManyRuns runs many runs at once, with progress, and checks
// that each gets its own events and result back.
func TestSessionManyRuns(t *testing.T) {
	t.Parallel()
	forEachPath(t, func(t *testing.T, a agent.Agent) {
		const n = 200
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				id := fmt.Sprintf("run-%d", i)
				tk := task(`{"op":"ok"}`)
				tk.RunID = id
				if i%2 == 1 {
					// Odd runs report progress first, through their own
					// reporter.
					tk = task(fmt.Sprintf(`{"op":"progress","n":%d}`, i%7+1))
					tk.RunID = id
					var got []int64
					tk.Progress = agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
						got = append(got, c["step"])
						return nil
					})
					if _, err := a.Run(t.Context(), tk); err != nil {
						t.Errorf("%s: %v", id, err)
						return
					}
					if len(got) != i%7+1 || got[len(got)-1] != int64(i%7+1) {
						t.Errorf("%s: progress steps %v, want 1..%d", id, got, i%7+1)
					}
					return
				}
				res, err := a.Run(t.Context(), tk)
				if err != nil {
					t.Errorf("%s: %v", id, err)
					return
				}
				var out struct {
					RunID string `json:"run_id"`
				}
				if err := json.Unmarshal(res.Output, &out); err != nil || out.RunID != id {
					t.Errorf("%s: result %s (%v), want the run's own", id, res.Output, err)
				}
			})
		}
		wg.Wait()
	})
}

// TestSessionCrash kills the plugin while many runs are in flight on its
// session: every one fails with ErrUnavailable, which the scheduler
// retries, and the restarted plugin serves the next run over a new
// session.
func TestSessionCrash(t *testing.T) {
	t.Parallel()
	m, a, _ := kit(t, plugins.Config{})
	const n = 50
	running := make(chan struct{}, n)
	errs := make(chan error, n)
	for range n {
		tk := task(`{"op":"sleep"}`)
		tk.Progress = agent.ReporterFunc(func(context.Context, map[string]int64) error {
			running <- struct{}{}
			return nil
		})
		go func() { _, err := a.Run(t.Context(), tk); errs <- err }()
	}
	for range n {
		<-running
	}
	pid := m.Plugins()[0].PID
	killed := time.Now()
	kill9(t, pid)
	for range n {
		if err := <-errs; !errors.Is(err, plugins.ErrUnavailable) {
			t.Errorf("Run in flight when the plugin died = %v, want ErrUnavailable", err)
		}
	}
	if took := time.Since(killed); took > 5*time.Second {
		t.Errorf("the runs in flight failed %v after the kill, want at once", took)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := a.Run(t.Context(), task(`{"op":"ok"}`))
		if err == nil {
			break
		}
		if !errors.Is(err, plugins.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Run after the crash = %v, want success once the plugin is back", err)
		}
	}
	if st := m.Plugins()[0]; !st.Running || st.PID == pid || !st.Sessions {
		t.Errorf("after the crash, Plugins() = %+v, want a new process offering sessions", st)
	}
	waitGone(t, pid, 2*time.Second)
}

// TestSessionClose closes the Manager while runs are in flight on the
// session: they fail with ErrUnavailable, and later ones with ErrClosed.
func TestSessionClose(t *testing.T) {
	t.Parallel()
	m, a, _ := kit(t, plugins.Config{})
	running := make(chan struct{}, 1)
	tk := task(`{"op":"sleep"}`)
	tk.Progress = agent.ReporterFunc(func(context.Context, map[string]int64) error {
		running <- struct{}{}
		return nil
	})
	errs := make(chan error, 1)
	go func() { _, err := a.Run(t.Context(), tk); errs <- err }()
	<-running
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, plugins.ErrUnavailable) {
		t.Errorf("Run in flight at Close = %v, want ErrUnavailable", err)
	}
	if _, err := a.Run(t.Context(), task(`{"op":"ok"}`)); !errors.Is(err, plugins.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}
