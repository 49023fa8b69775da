package scheduler_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/scheduler/schedulertest"
	"github.com/heraldhq/herald/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	ctx   = context.Background()
	admin = scheduler.Principal{Subject: "ops", Admin: true}
	alice = scheduler.Principal{Subject: "alice"}
	bob   = scheduler.Principal{Subject: "bob"}
)

// counter is an agent that counts its executions per run.
type counter struct {
	mu   sync.Mutex
	runs map[string]int
}

func newCounter() *counter { return &counter{runs: map[string]int{}} }

func (c *counter) Run(_ context.Context, t *agent.Task) (*agent.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs[t.RunID]++
	return &agent.Result{Output: json.RawMessage(`{"ok":true}`), Summary: "done"}, nil
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.runs))
	for k, v := range c.runs {
		out[k] = v
	}
	return out
}

// blocker is an agent that runs until released or cancelled.
type blocker struct {
	started chan string   // receives the run id of each start
	release chan struct{} // closed to let every run succeed
	once    sync.Once
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 100), release: make(chan struct{})}
}

func (b *blocker) Run(ctx context.Context, t *agent.Task) (*agent.Result, error) {
	b.started <- t.RunID
	select {
	case <-b.release:
		return &agent.Result{Summary: "released"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *blocker) free() { b.once.Do(func() { close(b.release) }) }

// waitStarted waits for the next start and returns its run id.
func (b *blocker) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-b.started:
		return id
	case <-time.After(schedulertest.WaitTimeout):
		t.Fatal("no run started")
		return ""
	}
}

// registry returns a registry with the named agents.
func registry(agents map[string]agent.Agent) *agent.Registry {
	r := agent.NewRegistry()
	for name, a := range agents {
		r.MustRegister(name, a)
	}
	return r
}

func okAgent() agent.Agent {
	return agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return &agent.Result{Summary: "ok"}, nil
	})
}

// cronSchedule is an active schedule of agent on expr.
func cronSchedule(name, agentName, expr string) *store.Schedule {
	return &store.Schedule{Name: name, Agent: agentName, Trigger: store.Trigger{Kind: store.TriggerCron, Cron: expr}}
}

// wantErr fails t unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// wantInvalid fails t unless err is a validation error naming field.
func wantInvalid(t *testing.T, what string, err error, field string) {
	t.Helper()
	var ve *store.ValidationError
	if !errors.As(err, &ve) {
		t.Errorf("%s: error %v, want a validation error for %s", what, err, field)
		return
	}
	if ve.Field != field {
		t.Errorf("%s: error names %q (%v), want %q", what, ve.Field, err, field)
	}
}

// recorder is a deliverer that records messages and fails as told.
type recorder struct {
	mu    sync.Mutex
	msgs  []*delivery.Message
	fails []error // returned by the first calls, in order
}

func (r *recorder) Deliver(_ context.Context, m *delivery.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	if len(r.fails) > 0 {
		err := r.fails[0]
		r.fails = r.fails[1:]
		return err
	}
	return nil
}

func (r *recorder) messages() []*delivery.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*delivery.Message(nil), r.msgs...)
}

// eventually polls cond every 5 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
