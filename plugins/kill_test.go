//go:build linux

package plugins_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// newScheduler starts a scheduler on the in-memory store with m's agents
// and deliverers, retrying fast.
func newScheduler(t testing.TB, m *plugins.Manager) *scheduler.Scheduler {
	t.Helper()
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	agents := agent.NewRegistry()
	for name, a := range m.Agents() {
		agents.MustRegister(name, a)
	}
	router := delivery.NewRouter()
	for name, d := range m.Deliverers() {
		if err := router.Register(name, d); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scheduler.New(st, scheduler.Config{
		Agents:       agents,
		Delivery:     router,
		PollInterval: 20 * time.Millisecond,
		Retry:        scheduler.RetryPolicy{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return s
}

var admin = scheduler.Principal{Subject: "test", Admin: true}

// waitRun polls until run id ends, or fails the test after d.
func waitRun(t *testing.T, s *scheduler.Scheduler, id string, d time.Duration) *store.Run {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		run, err := s.GetRun(t.Context(), admin, id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status.Terminal() {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s is still %s after %v", id, run.Status, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKillPluginDuringRun kills the plugin with SIGKILL while it runs an
// attempt: the attempt fails, the Manager restarts the plugin, and the
// scheduler's retry succeeds on the new process.
func TestKillPluginDuringRun(t *testing.T) {
	t.Parallel()
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}, Logger: testLogger(t)})
	s := newScheduler(t, m)
	marker := filepath.Join(t.TempDir(), "pid")
	run, err := s.Enqueue(t.Context(), admin, scheduler.EnqueueRequest{
		Agent:       "kit",
		Payload:     json.RawMessage(fmt.Sprintf(`{"op":"first-blocks","marker":%q}`, marker)),
		MaxAttempts: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	pid := int(atoi(t, string(waitFile(t, marker, 30*time.Second))))
	if st := m.Plugins()[0]; st.PID != pid {
		t.Fatalf("the agent runs in process %d, the Manager knows %d", pid, st.PID)
	}
	kill9(t, pid)
	done := waitRun(t, s, run.ID, 30*time.Second)
	if done.Status != store.RunSucceeded || done.Attempt < 2 {
		t.Fatalf("run = %s after attempt %d (%s), want succeeded on attempt 2 or later", done.Status, done.Attempt, done.Error)
	}
	st := m.Plugins()[0]
	if !st.Running || st.PID == pid || st.Restarts != 1 {
		t.Errorf("after the kill, Plugins() = %+v, want running again as a new process, restarted once", st)
	}
	waitGone(t, pid, 2*time.Second)
}

// TestProgressReachesStore runs the plugin's agent through the scheduler
// and finds its progress and result on the run, and its delivery done.
func TestProgressReachesStore(t *testing.T) {
	t.Parallel()
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}, Logger: testLogger(t)})
	s := newScheduler(t, m)
	run, err := s.Enqueue(t.Context(), admin, scheduler.EnqueueRequest{
		Agent:   "kit",
		Payload: json.RawMessage(`{"op":"progress","n":3}`),
		Targets: []store.Target{{Channel: "kit", To: "ok"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := waitRun(t, s, run.ID, 30*time.Second)
	if done.Status != store.RunSucceeded || done.Summary != "done" {
		t.Fatalf("run = %s %q (%s), want succeeded", done.Status, done.Summary, done.Error)
	}
	if done.Progress["step"] != 3 || done.Progress["of"] != 3 {
		t.Errorf("run progress = %v, want step 3 of 3", done.Progress)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ds, err := s.RunDeliveries(t.Context(), admin, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 1 && ds[0].Status == store.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %+v, want one delivered", ds)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestKillHost kills a host process with SIGKILL: its plugin exits within
// two seconds.
func TestKillHost(t *testing.T) {
	t.Parallel()
	host := exec.Command(bin.testhost, bin.testkit)
	stdout, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = os.Stderr
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Process.Kill(); host.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read the host's output: %v", err)
	}
	pidText, ok := strings.CutPrefix(strings.TrimSpace(line), "pid ")
	if !ok {
		t.Fatalf("the host printed %q, want pid N", line)
	}
	pid := int(atoi(t, pidText))
	if !alive(pid) {
		t.Fatalf("plugin %d is not running", pid)
	}
	kill9(t, host.Process.Pid)
	host.Wait()
	waitGone(t, pid, 2*time.Second)
}
