// Package agenttest is the conformance suite of Herald's agent contract:
// the behaviour the scheduler relies on from every agent.Agent, whatever it
// does and wherever it runs (in process, or behind a plugin boundary).
//
// Import it from the tests of an agent:
//
//	func TestConformance(t *testing.T) {
//		agenttest.Run(t, func(t *testing.T) agent.Agent { return newReport() }, agenttest.Cases{
//			Payload: json.RawMessage(`{"pages":1000}`),
//			OK:      json.RawMessage(`{"pages":1}`),
//			Failures: []agenttest.Failure{
//				{Name: "bad input", Payload: json.RawMessage(`{"pages":-1}`), Permanent: true},
//			},
//		})
//	}
//
// Since what an agent does depends on its payload, the caller says which
// payloads succeed, which keep the agent busy, and which fail and how.
package agenttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
)

// Prompt is how soon Run must return once its context is done.
const Prompt = time.Second

// Busy is how long Cases.Payload must keep an agent busy unless its context
// is done.
const Busy = 2 * time.Second

// OKTimeout bounds a run with Cases.OK or a Failure's payload.
const OKTimeout = time.Minute

// startDelay is how long the suite lets an agent work before it ends the
// context of a busy run.
const startDelay = 100 * time.Millisecond

// Cases are the payloads the suite runs an agent with.
type Cases struct {
	// Payload makes the agent run for at least Busy (2 s) unless its
	// context is done. Nil skips the cancellation and deadline cases.
	Payload json.RawMessage
	// OK makes the agent succeed within OKTimeout. Nil runs the agent with
	// an empty payload, which must then succeed.
	OK json.RawMessage
	// Failures make the agent fail, each in a known way.
	Failures []Failure
}

// Failure is a payload that makes an agent fail, and how the error must be
// classified.
type Failure struct {
	// Name names the subtest.
	Name string
	// Payload makes Run return an error.
	Payload json.RawMessage
	// Permanent says whether the error must satisfy agent.IsPermanent.
	Permanent bool
	// RetryAfter, when positive, is the delay agent.RetryDelay must
	// report; zero means the error must carry no RetryAfter.
	RetryAfter time.Duration
}

// Run runs the conformance suite against the agents newAgent makes, as
// subtests: OK, Concurrent, CancelBeforeRun, CancelWhileRunning, Deadline
// and Failure/<name>. Run calls newAgent from parallel subtests, once per
// subtest; it closes nothing, so newAgent registers its own t.Cleanup.
//
// Each Task the suite builds is an ad hoc (enqueue) run on its first of
// three attempts, with a Progress reporter that accepts every report.
func Run(t *testing.T, newAgent func(t *testing.T) agent.Agent, cases Cases) {
	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		task := newTask(cases.OK)
		before := snapshot(task)
		ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
		defer cancel()
		res, err := a.Run(ctx, task)
		if err != nil {
			t.Fatalf("Run(OK) = %v, want success", err)
		}
		checkResult(t, res)
		if after := snapshot(task); !reflect.DeepEqual(after, before) {
			t.Errorf("Run modified its Task:\n got %+v\nwant %+v", after, before)
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		t.Parallel()
		a := newAgent(t)
		const n = 8
		errs := make([]error, n)
		results := make([]*agent.Result, n)
		ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
		defer cancel()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { results[i], errs[i] = a.Run(ctx, newTask(cases.OK)) })
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("Run(OK) #%d of %d at once = %v, want success", i, n, errs[i])
				continue
			}
			checkResult(t, results[i])
		}
	})

	t.Run("CancelBeforeRun", func(t *testing.T) {
		t.Parallel()
		skipUnlessBusy(t, cases)
		a := newAgent(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		err := waitRun(t, ctx, a, newTask(cases.Payload), nil)
		checkContextErr(t, err, context.Canceled)
	})

	t.Run("CancelWhileRunning", func(t *testing.T) {
		t.Parallel()
		skipUnlessBusy(t, cases)
		a := newAgent(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		err := waitRun(t, ctx, a, newTask(cases.Payload), cancel)
		checkContextErr(t, err, context.Canceled)
	})

	t.Run("Deadline", func(t *testing.T) {
		t.Parallel()
		skipUnlessBusy(t, cases)
		a := newAgent(t)
		ctx, cancel := context.WithTimeout(t.Context(), startDelay)
		defer cancel()
		err := waitRun(t, ctx, a, newTask(cases.Payload), nil)
		checkContextErr(t, err, context.DeadlineExceeded)
	})

	for _, f := range cases.Failures {
		t.Run("Failure/"+f.Name, func(t *testing.T) {
			t.Parallel()
			a := newAgent(t)
			ctx, cancel := context.WithTimeout(t.Context(), OKTimeout)
			defer cancel()
			_, err := a.Run(ctx, newTask(f.Payload))
			if err == nil {
				t.Fatalf("Run(%s) succeeded, want an error", f.Payload)
			}
			if err.Error() == "" {
				t.Errorf("Run(%s) returned an error with no text", f.Payload)
			}
			if got := agent.IsPermanent(err); got != f.Permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, f.Permanent)
			}
			d, ok := agent.RetryDelay(err)
			switch {
			case f.RetryAfter > 0 && (!ok || d != f.RetryAfter):
				t.Errorf("RetryDelay(%v) = %v, %t; want %v, true", err, d, ok, f.RetryAfter)
			case f.RetryAfter <= 0 && ok:
				t.Errorf("RetryDelay(%v) = %v, true; want no RetryAfter", err, d)
			}
		})
	}
}

// skipUnlessBusy skips a test that needs Cases.Payload.
func skipUnlessBusy(t *testing.T, cases Cases) {
	t.Helper()
	if cases.Payload == nil {
		t.Skip("Cases.Payload is nil: no payload keeps this agent busy, so cancellation is not tested")
	}
}

// waitRun runs task on a under ctx and returns Run's error. When end is
// given, waitRun calls it to end ctx once the agent has had startDelay to
// get going; otherwise ctx ends by itself (it was cancelled already, or has
// a deadline). It fails the test when Run returns before ctx ends, or later
// than Prompt after.
func waitRun(t *testing.T, ctx context.Context, a agent.Agent, task *agent.Task, end context.CancelFunc) error {
	t.Helper()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := a.Run(ctx, task)
		done <- err
	}()
	early := func(err error) {
		t.Helper()
		t.Fatalf("Run(%s) returned after %v, before its context ended (err %v); Cases.Payload must keep the agent busy for at least %v",
			task.Payload, time.Since(start).Round(time.Millisecond), err, Busy)
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
	t.Errorf("Run(%s) did not return within %v of its context ending", task.Payload, Prompt)
	select {
	case err := <-done:
		t.Logf("Run returned %v after its context ended", time.Since(ended).Round(time.Millisecond))
		return err
	case <-time.After(10 * Prompt):
		t.Fatalf("Run(%s) did not return within %v of its context ending", task.Payload, 11*Prompt)
		return nil
	}
}

// checkContextErr fails the test unless err matches want.
func checkContextErr(t *testing.T, err, want error) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("Run succeeded after its context ended, want an error matching %v", want)
	case !errors.Is(err, want):
		t.Errorf("Run = %v, want an error matching %v", err, want)
	}
}

// checkResult fails the test unless res is a well-formed Result.
func checkResult(t *testing.T, res *agent.Result) {
	t.Helper()
	if res == nil {
		return
	}
	if len(res.Output) > 0 && !json.Valid(res.Output) {
		t.Errorf("Result.Output = %q, want empty or valid JSON", res.Output)
	}
	for i, target := range res.Targets {
		if target.Channel == "" {
			t.Errorf("Result.Targets[%d] = %+v, want a channel", i, target)
		}
	}
}

// newTask returns the Task of an ad hoc run with payload.
func newTask(payload json.RawMessage) *agent.Task {
	return &agent.Task{
		RunID:       "01900000-0000-7000-8000-0000000000a1",
		Owner:       "agenttest",
		Agent:       "agenttest",
		Payload:     payload,
		Kind:        agent.RunKindEnqueue,
		Attempt:     1,
		MaxAttempts: 3,
		Progress: agent.ReporterFunc(func(context.Context, map[string]int64) error {
			return nil
		}),
	}
}

// snapshot copies the comparable part of task, deeply enough to tell
// whether Run modified it.
func snapshot(task *agent.Task) agent.Task {
	s := *task
	s.Payload = bytes.Clone(task.Payload)
	s.Progress = nil
	return s
}
