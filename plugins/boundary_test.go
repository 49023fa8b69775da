//go:build linux

package plugins_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
)

// kit starts a Manager on the test plugin and returns it with its agent
// and deliverer.
func kit(t *testing.T, cfg plugins.Config) (*plugins.Manager, agent.Agent, delivery.Deliverer) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	cfg.Plugins = append(cfg.Plugins, plugins.Plugin{Path: bin.testkit})
	m := newManager(t, cfg)
	return m, m.Agents()["kit"], m.Deliverers()["kit"]
}

func task(payload string) *agent.Task {
	return &agent.Task{RunID: "r1", Owner: "o", Agent: "kit", Payload: json.RawMessage(payload), Kind: agent.RunKindEnqueue, Attempt: 1, MaxAttempts: 3}
}

// TestErrorCodes checks that each error classification survives the
// boundary, for agents and deliverers.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	_, _, d := kit(t, plugins.Config{})
	ctx := t.Context()
	forEachPath(t, func(t *testing.T, a agent.Agent) {
		for _, tc := range []struct {
			code       string
			noRetry    bool
			retryAfter time.Duration
			is         error
		}{
			{code: "transient"},
			{code: "permanent", noRetry: true},
			{code: "retry_after", retryAfter: 1500 * time.Millisecond},
			{code: "permanent_retry_after", noRetry: true, retryAfter: -1},
			{code: "canceled", is: context.Canceled},
			{code: "deadline", is: context.DeadlineExceeded},
		} {
			t.Run("agent/"+tc.code, func(t *testing.T) {
				_, err := a.Run(ctx, task(`{"op":"fail","code":"`+tc.code+`"}`))
				if err == nil {
					t.Fatal("Run succeeded, want an error")
				}
				if want := "testkit: failed as asked (" + tc.code + ")"; tc.is == nil && err.Error() != want {
					t.Errorf("error text %q, want %q", err, want)
				}
				if got := agent.IsPermanent(err); got != tc.noRetry {
					t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tc.noRetry)
				}
				d, ok := agent.RetryDelay(err)
				switch {
				case tc.retryAfter > 0 && (!ok || d != tc.retryAfter):
					t.Errorf("RetryDelay = %v, %t; want %v", d, ok, tc.retryAfter)
				case tc.retryAfter < 0 && (!ok || d != 0):
					t.Errorf("RetryDelay = %v, %t; want 0, true", d, ok)
				case tc.retryAfter == 0 && ok:
					t.Errorf("RetryDelay = %v, true; want none", d)
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("errors.Is(%v, %v) = false", err, tc.is)
				}
				var re *plugins.RemoteError
				if !errors.As(err, &re) || re.Plugin != "testkit" {
					t.Errorf("errors.As(%v, *RemoteError) = %+v, want one from plugin testkit", err, re)
				}
			})
		}
		t.Run("agent/panic", func(t *testing.T) {
			_, err := a.Run(ctx, task(`{"op":"panic"}`))
			if err == nil || agent.IsPermanent(err) || !strings.Contains(err.Error(), `plugin "testkit" failed`) || !strings.Contains(err.Error(), "asked to panic") {
				t.Errorf("Run(panic) = %v, want a transient error naming the plugin and the panic", err)
			}
		})
	})
	for _, tc := range []struct {
		to         string
		permanent  bool
		retryAfter time.Duration
	}{
		{to: "down"},
		{to: "permanent", permanent: true},
		{to: "retry_after", retryAfter: 2 * time.Second},
	} {
		t.Run("deliverer/"+tc.to, func(t *testing.T) {
			err := d.Deliver(ctx, &delivery.Message{RunID: "r1", Target: delivery.Target{Channel: "kit", To: tc.to}})
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if got := delivery.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tc.permanent)
			}
			if d, ok := delivery.RetryDelay(err); ok != (tc.retryAfter > 0) || d != tc.retryAfter {
				t.Errorf("RetryDelay(%v) = %v, %t; want %v", err, d, ok, tc.retryAfter)
			}
		})
	}
}

// TestCancelCrosses checks that cancelling a run ends the plugin's context
// within 100 ms.
func TestCancelCrosses(t *testing.T) {
	t.Parallel()
	forEachPath(t, func(t *testing.T, a agent.Agent) {
		marker := filepath.Join(t.TempDir(), "ended")
		tk := task(fmt.Sprintf(`{"op":"sleep","marker":%q}`, marker))
		// The sleep op reports progress once it runs, then blocks on its
		// context: the report says the call is in the plugin.
		running := make(chan struct{}, 1)
		tk.Progress = agent.ReporterFunc(func(context.Context, map[string]int64) error {
			running <- struct{}{}
			return nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := a.Run(ctx, tk); done <- err }()
		select {
		case <-running:
		case err := <-done:
			t.Fatalf("Run returned %v before it was cancelled", err)
		}
		cancelled := time.Now()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		ended := time.Unix(0, atoi(t, string(waitFile(t, marker, 10*time.Second))))
		if lag := ended.Sub(cancelled); lag > 100*time.Millisecond {
			t.Errorf("the plugin's context ended %v after the cancel, want within 100ms", lag)
		} else {
			t.Logf("the plugin's context ended %v after the cancel", lag)
		}
	})
}

// TestDeadlineCrosses checks that the run's deadline is the plugin's.
func TestDeadlineCrosses(t *testing.T) {
	t.Parallel()
	forEachPath(t, func(t *testing.T, a agent.Agent) {
		deadline := time.Now().Add(time.Hour)
		ctx, cancel := context.WithDeadline(t.Context(), deadline)
		defer cancel()
		res, err := a.Run(ctx, task(`{"op":"ok"}`))
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Deadline int64 `json:"deadline_unix_nano"`
		}
		if err := json.Unmarshal(res.Output, &out); err != nil {
			t.Fatal(err)
		}
		if out.Deadline == 0 {
			t.Fatal("the plugin's context has no deadline")
		}
		if diff := time.Unix(0, out.Deadline).Sub(deadline).Abs(); diff > time.Second {
			t.Errorf("the plugin's deadline is %v off the host's", diff)
		}
		if len(res.Targets) != 1 || res.Targets[0] != (delivery.Target{Channel: "kit", To: "ok"}) || res.Summary != "ok" {
			t.Errorf("Result = %+v, want summary ok and target kit/ok", res)
		}
		// A deadline that passes while the plugin works ends the call with
		// context.DeadlineExceeded.
		ctx, cancel = context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := a.Run(ctx, task(`{"op":"sleep"}`)); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run(sleep) with a deadline = %v, want context.DeadlineExceeded", err)
		}
	})
}

// TestProgressCrosses checks that progress reports reach the host's
// reporter, in order, and that a failing reporter stops the run.
func TestProgressCrosses(t *testing.T) {
	t.Parallel()
	forEachPath(t, func(t *testing.T, a agent.Agent) {
		var mu sync.Mutex
		var got []map[string]int64
		tk := task(`{"op":"progress","n":5}`)
		tk.Progress = agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
			return nil
		})
		if _, err := a.Run(t.Context(), tk); err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 {
			t.Fatalf("got %d reports, want 5: %v", len(got), got)
		}
		for i, c := range got {
			if c["step"] != int64(i+1) || c["of"] != 5 {
				t.Errorf("report %d = %v, want step %d of 5", i, c, i+1)
			}
		}
		lost := errors.New("lease lost")
		tk.Progress = agent.ReporterFunc(func(context.Context, map[string]int64) error { return lost })
		if _, err := a.Run(t.Context(), tk); !errors.Is(err, lost) {
			t.Errorf("Run with a failing reporter = %v, want %v", err, lost)
		}
	})
}

// TestChecksum checks that a binary is started only when its digest
// matches.
func TestChecksum(t *testing.T) {
	t.Parallel()
	sum := sha256File(t, bin.testkit)
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit, SHA256: sum}}})
	if m.Agents()["kit"] == nil {
		t.Fatal("the plugin with a matching checksum serves nothing")
	}
	bad := strings.Repeat("0", 64)
	_, err := plugins.NewManager(plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit, SHA256: bad}}})
	if !errors.Is(err, plugins.ErrChecksum) || !strings.Contains(err.Error(), bin.testkit) {
		t.Errorf("NewManager with a wrong checksum = %v, want ErrChecksum naming %s", err, bin.testkit)
	}
	// Through Config.Checksums and a directory.
	dir := t.TempDir()
	link := filepath.Join(dir, "kit")
	if err := os.Symlink(bin.testkit, link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = plugins.NewManager(plugins.Config{Dir: dir, Checksums: map[string]string{"kit": bad}})
	if !errors.Is(err, plugins.ErrChecksum) || !strings.Contains(err.Error(), `"kit"`) {
		t.Errorf("NewManager(dir) with a wrong checksum = %v, want ErrChecksum naming kit", err)
	}
	_, err = plugins.NewManager(plugins.Config{Dir: dir, Checksums: map[string]string{"kti": sum}})
	if err == nil || !strings.Contains(err.Error(), `"kti"`) {
		t.Errorf("NewManager with a checksum of no plugin = %v, want an error naming it", err)
	}
	_, err = plugins.NewManager(plugins.Config{Dir: dir, RequireChecksums: true})
	if err == nil || !strings.Contains(err.Error(), "no checksum") {
		t.Errorf("NewManager(RequireChecksums) without one = %v, want an error", err)
	}
	m = newManager(t, plugins.Config{Dir: dir, Checksums: map[string]string{"kit": sum}, RequireChecksums: true})
	if st := m.Plugins(); len(st) != 1 || st[0].Name != "kit" || !st[0].Running {
		t.Errorf("Plugins() = %+v, want kit running", st)
	}
}

// TestHandshakeMismatch checks that a plugin of another protocol version
// is refused with a clear error, and not left running.
func TestHandshakeMismatch(t *testing.T) {
	t.Parallel()
	_, err := plugins.NewManager(plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit, Env: []string{"TESTKIT_PROTOCOL=2"}}}})
	if err == nil {
		t.Fatal("NewManager started a plugin of protocol version 2")
	}
	for _, want := range []string{"testkit", "Plugin version: 2", "Client versions: [1]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

// TestStdoutBeforeServe checks that text a plugin prints to stdout before
// serving is logged and skipped.
func TestStdoutBeforeServe(t *testing.T) {
	t.Parallel()
	logs := newLogBuffer()
	m := newManager(t, plugins.Config{
		Plugins: []plugins.Plugin{{Path: bin.testkit, Name: "noisy", Env: []string{"TESTKIT_STDOUT_NOISE=1"}}},
		Logger:  logs.logger(),
	})
	logs.waitFor(t, 10*time.Second, "plugin=noisy", "hello from a plugin")
	if _, err := m.Agents()["kit"].Run(t.Context(), task(`{"op":"ok"}`)); err != nil {
		t.Errorf("Run on the noisy plugin: %v", err)
	}
}

// TestStartTimeout checks that a plugin that never answers is killed after
// the start timeout.
func TestStartTimeout(t *testing.T) {
	t.Parallel()
	logs := newLogBuffer()
	start := time.Now()
	_, err := plugins.NewManager(plugins.Config{
		Plugins:      []plugins.Plugin{{Path: bin.testkit, Env: []string{"TESTKIT_HANG=1"}}},
		StartTimeout: 500 * time.Millisecond,
		Logger:       logs.logger(),
	})
	if err == nil || !strings.Contains(err.Error(), "timeout") || !strings.Contains(err.Error(), "testkit") {
		t.Fatalf("NewManager with a hanging plugin = %v, want a timeout naming it", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("NewManager took %v to give up", took)
	}
	line := logs.waitFor(t, 5*time.Second, "plugin process started")
	pid := 0
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, "pid="); ok {
			pid = int(atoi(t, v))
		}
	}
	if pid == 0 {
		t.Fatalf("no pid in %q", line)
	}
	waitGone(t, pid, 5*time.Second)
}

// TestDescribe checks the binary's -describe output, and what it prints
// when run by hand.
func TestDescribe(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(bin.wordcount, "-describe").Output()
	if err != nil {
		t.Fatal(err)
	}
	var d plugins.Description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("-describe printed %q: %v", out, err)
	}
	if d.ProtocolVersion != plugins.ProtocolVersion || len(d.Agents) != 1 || d.Agents[0].Name != "wordcount" || d.Agents[0].Description == "" || len(d.Deliverers) != 0 {
		t.Errorf("-describe = %+v", d)
	}
	cmd := exec.Command(bin.jsonl)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("jsonl run by hand = %v, want exit status 1", err)
	}
	for _, want := range []string{"is a Herald plugin", "[jsonl]", "-describe"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("run by hand, it printed %q, want %q in it", stderr.String(), want)
		}
	}
}

// TestDuplicateNames checks that two plugins serving one name are refused.
func TestDuplicateNames(t *testing.T) {
	t.Parallel()
	_, err := plugins.NewManager(plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}, {Path: bin.testkit, Name: "other"}}})
	if err == nil || !strings.Contains(err.Error(), `both serve agent "kit"`) {
		t.Errorf("NewManager with two plugins serving kit = %v", err)
	}
}

// TestClosed checks calls after Close.
func TestClosed(t *testing.T) {
	t.Parallel()
	m, a, d := kit(t, plugins.Config{})
	pid := m.Plugins()[0].PID
	m.Close()
	m.Close()
	if alive(pid) {
		t.Errorf("plugin %d alive after Close", pid)
	}
	if _, err := a.Run(t.Context(), task(`{}`)); !errors.Is(err, plugins.ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
	if err := d.Deliver(t.Context(), &delivery.Message{}); !errors.Is(err, plugins.ErrClosed) {
		t.Errorf("Deliver after Close = %v, want ErrClosed", err)
	}
}
