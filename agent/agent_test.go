package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/delivery"
)

// sleepPayload is the payload of the sleeper agent.
type sleepPayload struct {
	// Sleep is how long to work, as a time.Duration string; empty is none.
	Sleep string `json:"sleep"`
	// Fail, when set, is the text of the error the agent ends with.
	Fail string `json:"fail"`
	// RetryAfter, when set, marks the failure with agent.RetryAfter.
	RetryAfter string `json:"retry_after"`
}

// sleeper is a small, well-behaved agent: it works for the payload's sleep
// unless its context ends first, then succeeds or fails as asked.
func sleeper() agent.Agent {
	return agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		var p sleepPayload
		if len(task.Payload) > 0 {
			if err := json.Unmarshal(task.Payload, &p); err != nil {
				return nil, agent.Permanent(fmt.Errorf("sleeper: payload: %w", err))
			}
		}
		d, err := parseDuration(p.Sleep)
		if err != nil {
			return nil, agent.Permanent(fmt.Errorf("sleeper: payload sleep: %w", err))
		}
		retry, err := parseDuration(p.RetryAfter)
		if err != nil {
			return nil, agent.Permanent(fmt.Errorf("sleeper: payload retry_after: %w", err))
		}
		if err := task.Progress.Report(ctx, map[string]int64{"sleeps": 1}); err != nil {
			return nil, fmt.Errorf("sleeper: report: %w", err)
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("sleeper: %w", ctx.Err())
		case <-timer.C:
		}
		if p.Fail != "" {
			err := errors.New(p.Fail)
			if retry > 0 {
				err = agent.RetryAfter(err, retry)
			}
			return nil, err
		}
		out, err := json.Marshal(map[string]string{"slept": d.String()})
		if err != nil {
			return nil, err
		}
		return &agent.Result{Output: out, Summary: "slept " + d.String()}, nil
	})
}

// parseDuration is time.ParseDuration with "" as zero.
func parseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

// sleeperCases are the conformance cases of the sleeper agent.
var sleeperCases = agenttest.Cases{
	Payload: json.RawMessage(`{"sleep":"1m"}`),
	OK:      json.RawMessage(`{"sleep":"10ms"}`),
	Failures: []agenttest.Failure{
		{Name: "transient", Payload: json.RawMessage(`{"fail":"flaky"}`)},
		{Name: "retry_after", Payload: json.RawMessage(`{"fail":"busy","retry_after":"2s"}`), RetryAfter: 2 * time.Second},
		{Name: "bad_payload", Payload: json.RawMessage(`{"sleep":"forever"}`), Permanent: true},
		{Name: "not_an_object", Payload: json.RawMessage(`[1,2]`), Permanent: true},
	},
}

func TestConformance(t *testing.T) {
	agenttest.Run(t, func(*testing.T) agent.Agent { return sleeper() }, sleeperCases)
}

// TestConformanceNoBusyPayload runs the suite without Cases.Payload: the
// cancellation cases skip, the others still run.
func TestConformanceNoBusyPayload(t *testing.T) {
	agenttest.Run(t, func(*testing.T) agent.Agent { return sleeper() }, agenttest.Cases{})
}

// brokenAgents break one rule each; TestSuiteCatches checks that the suite
// fails them with the given message. They run in a child process, where
// TestBroken runs the suite on them.
var brokenAgents = map[string]struct {
	agent agent.Agent
	cases agenttest.Cases
	want  string
}{
	"ignores_cancel": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			if len(task.Payload) > 0 {
				time.Sleep(1500 * time.Millisecond)
			}
			return nil, ctx.Err()
		}),
		cases: agenttest.Cases{Payload: json.RawMessage(`{}`)},
		want:  "did not return within 1s of its context ending",
	},
	"succeeds_when_cancelled": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			if string(task.Payload) == `{"busy":true}` {
				<-ctx.Done()
			}
			return &agent.Result{}, nil
		}),
		cases: agenttest.Cases{Payload: json.RawMessage(`{"busy":true}`)},
		want:  "Run succeeded after its context ended",
	},
	"wrong_context_error": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			if len(task.Payload) == 0 {
				return nil, nil
			}
			<-ctx.Done()
			return nil, errors.New("stopped")
		}),
		cases: agenttest.Cases{Payload: json.RawMessage(`{}`)},
		want:  "Run = stopped, want an error matching context canceled",
	},
	"not_busy": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			return &agent.Result{}, nil
		}),
		cases: agenttest.Cases{Payload: json.RawMessage(`{}`)},
		want:  "before its context ended",
	},
	"bad_output": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			return &agent.Result{Output: json.RawMessage(`{"a":`)}, nil
		}),
		want: "want empty or valid JSON",
	},
	"target_without_channel": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			return &agent.Result{Targets: []delivery.Target{{To: "#ops"}}}, nil
		}),
		want: "want a channel",
	},
	"modifies_task": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			task.Attempt++
			return nil, nil
		}),
		want: "Run modified its Task",
	},
	"fails_ok": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			return nil, errors.New("no")
		}),
		want: "want success",
	},
	"loses_no_retry": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			if len(task.Payload) > 0 {
				return nil, errors.New("bad payload")
			}
			return nil, nil
		}),
		cases: agenttest.Cases{Failures: []agenttest.Failure{{Name: "bad", Payload: json.RawMessage(`{}`), Permanent: true}}},
		want:  "IsPermanent(bad payload) = false, want true",
	},
	"wrong_retry_delay": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			if len(task.Payload) > 0 {
				return nil, agent.RetryAfter(errors.New("busy"), time.Second)
			}
			return nil, nil
		}),
		cases: agenttest.Cases{Failures: []agenttest.Failure{{Name: "busy", Payload: json.RawMessage(`{}`), RetryAfter: time.Minute}}},
		want:  "RetryDelay(busy) = 1s, true; want 1m0s, true",
	},
	"succeeds_on_failure": {
		agent: agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
			return nil, nil
		}),
		cases: agenttest.Cases{Failures: []agenttest.Failure{{Name: "bad", Payload: json.RawMessage(`{}`)}}},
		want:  "succeeded, want an error",
	},
}

// brokenEnv names the broken agent TestBroken runs the suite on.
const brokenEnv = "AGENTTEST_BROKEN"

// TestBroken runs the suite on the broken agent named by brokenEnv; it only
// runs in the child process of TestSuiteCatches, and is meant to fail.
func TestBroken(t *testing.T) {
	name := os.Getenv(brokenEnv)
	if name == "" {
		t.Skip("runs in the child process of TestSuiteCatches only")
	}
	b := brokenAgents[name]
	agenttest.Run(t, func(*testing.T) agent.Agent { return b.agent }, b.cases)
}

// TestSuiteCatches checks that every rule of the suite can fail: each
// broken agent fails it with the expected message.
func TestSuiteCatches(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for name, b := range brokenAgents {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBroken$", "-test.v")
			cmd.Env = append(os.Environ(), brokenEnv+"="+name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed the broken agent %s:\n%s", name, out)
			}
			if !strings.Contains(string(out), b.want) {
				t.Errorf("the suite failed the broken agent %s without saying %q:\n%s", name, b.want, out)
			}
		})
	}
}
