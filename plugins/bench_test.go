//go:build linux

package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/plugins"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// BenchmarkRoundTrip measures one call of a no-op agent, in process and
// through a Go plugin (AutoMTLS), reporting the p50 and p99 latency.
func BenchmarkRoundTrip(b *testing.B) {
	noop := agent.Func(func(_ context.Context, t *agent.Task) (*agent.Result, error) {
		var in struct{ Op string }
		if err := json.Unmarshal(t.Payload, &in); err != nil || in.Op != "noop" {
			return nil, fmt.Errorf("payload %s: want op noop (%v)", t.Payload, err)
		}
		return nil, nil
	})
	b.Run("in-process", func(b *testing.B) { benchCalls(b, noop) })
	b.Run("plugin", func(b *testing.B) {
		m := newManager(b, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}})
		benchCalls(b, m.Agents()["kit"])
	})
}

// benchCalls runs a no-op task on a b.N times, one after the other.
func benchCalls(b *testing.B, a agent.Agent) {
	ctx := context.Background()
	tk := task(`{"op":"noop"}`)
	tk.Progress = agent.ReporterFunc(func(context.Context, map[string]int64) error { return nil })
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		if _, err := a.Run(ctx, tk); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkStart measures the start of a Go plugin with AutoMTLS: exec,
// handshake, Describe.
func BenchmarkStart(b *testing.B) {
	cfg := plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}}
	var total time.Duration
	for range b.N {
		start := time.Now()
		m, err := plugins.NewManager(cfg)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/start")
}

// BenchmarkRestart measures the time from a plugin's SIGKILL to the first
// call the restarted plugin answers. Each iteration kills a fresh plugin
// once: a plugin killed again and again is restarted with backoff.
func BenchmarkRestart(b *testing.B) {
	tk := task(`{"op":"noop"}`)
	var total time.Duration
	for range b.N {
		b.StopTimer()
		m, err := plugins.NewManager(plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}})
		if err != nil {
			b.Fatal(err)
		}
		a := m.Agents()["kit"]
		pid := m.Plugins()[0].PID
		b.StartTimer()
		start := time.Now()
		kill9(b, pid)
		for {
			// Calls fail until the Manager sees the crash; then they wait
			// for the restart.
			if _, err := a.Run(context.Background(), tk); err == nil && m.Plugins()[0].PID != pid {
				break
			}
		}
		total += time.Since(start)
		b.StopTimer()
		m.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/1e3/float64(b.N), "ms/restart")
}

// BenchmarkEndToEnd measures runs/s of the scheduler on the in-memory
// store, with a no-op agent in process and in a plugin, as the scheduler's
// own BenchmarkEndToEnd does. Both agents do the same work: the plugin's
// (testkit's "kit") decodes the payload to find its operation, "noop", so
// the in-process one decodes it too.
func BenchmarkEndToEnd(b *testing.B) {
	var done atomic.Int64
	count := func(a agent.Agent) agent.Agent {
		return agent.Func(func(ctx context.Context, t *agent.Task) (*agent.Result, error) {
			res, err := a.Run(ctx, t)
			done.Add(1)
			return res, err
		})
	}
	noop := agent.Func(func(_ context.Context, t *agent.Task) (*agent.Result, error) {
		var in struct{ Op string }
		if err := json.Unmarshal(t.Payload, &in); err != nil || in.Op != "noop" {
			return nil, fmt.Errorf("payload %s: want op noop (%v)", t.Payload, err)
		}
		return nil, nil
	})
	b.Run("in-process", func(b *testing.B) { benchEndToEnd(b, count(noop), &done, 0) })
	b.Run("plugin", func(b *testing.B) {
		m := newManager(b, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}})
		benchEndToEnd(b, count(m.Agents()["kit"]), &done, m.Plugins()[0].PID)
	})
}

// benchEndToEnd runs b.N runs of a through a scheduler. Beside runs/s, it
// reports the CPU time each run took in this process and, when pid is
// set, in the plugin process: unlike runs/s, these hardly move when other
// work shares the machine.
func benchEndToEnd(b *testing.B, a agent.Agent, done *atomic.Int64, pid int) {
	ctx := context.Background()
	done.Store(0)
	st := memstore.New(memstore.Options{})
	defer st.Close()
	agents := agent.NewRegistry()
	agents.MustRegister("kit", a)
	s, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Stop(ctx)
	payload := json.RawMessage(`{"op":"noop"}`)
	b.ResetTimer()
	start := time.Now()
	hostCPU, pluginCPU := cpuTime(b, os.Getpid()), cpuTime(b, pid)
	for left := b.N; left > 0; {
		n := min(left, 1000)
		batch := make([]*store.RunEnqueueParams, n)
		for i := range batch {
			batch[i] = &store.RunEnqueueParams{Owner: "bench", Agent: "kit", Payload: payload}
		}
		if _, err := st.RunEnqueue(ctx, batch...); err != nil {
			b.Fatal(err)
		}
		left -= n
	}
	for done.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	if err := s.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	hostCPU, pluginCPU = cpuTime(b, os.Getpid())-hostCPU, cpuTime(b, pid)-pluginCPU
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "runs/s")
	b.ReportMetric(float64(hostCPU.Nanoseconds())/1e3/float64(b.N), "host-cpu-µs/run")
	if pid != 0 {
		b.ReportMetric(float64(pluginCPU.Nanoseconds())/1e3/float64(b.N), "plugin-cpu-µs/run")
	}
}

// cpuTime returns the CPU time process pid has used so far, summed over
// its threads from /proc; 0 for pid 0.
func cpuTime(b *testing.B, pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for _, f := range stats {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited
		}
		var ns int64
		if _, err := fmt.Sscan(string(raw), &ns); err != nil {
			b.Fatalf("%s: %v", f, err)
		}
		total += time.Duration(ns)
	}
	return total
}
