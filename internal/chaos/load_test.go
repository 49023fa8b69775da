package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// The names the node command registers (see ./node).
const (
	agentName   = "chaos"
	channelName = "record"
)

// loadApp is the application name of the test's own store sessions.
const loadApp = "herald-chaos-load"

// client is the test's way in: a store and a scheduler that is never
// started (it runs nothing), through which the test creates schedules and
// enqueues runs as an application would.
type client struct {
	st    *bunstore.Store
	sched *scheduler.Scheduler
	as    scheduler.Principal // who creates the schedules and enqueues the runs
}

func newClient(t *testing.T, dsn string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := bunstore.Open(ctx, withApp(dsn, loadApp), bunstore.Options{MaxOpenConns: 4})
	if err != nil {
		t.Fatalf("open the store (it runs the migrations): %v", err)
	}
	t.Cleanup(func() { st.Close() })
	// The agent and the channel are those of the nodes; here they only
	// make the scheduler accept the schedules and runs that name them.
	agents := agent.NewRegistry()
	agents.MustRegister(agentName, agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return nil, errors.New("the test process runs no agent")
	}))
	router := delivery.NewRouter()
	router.MustRegister(channelName, delivery.Func(func(context.Context, *delivery.Message) error {
		return delivery.Permanent(errors.New("the test process delivers nothing"))
	}))
	sched, err := scheduler.New(st, scheduler.Config{Agents: agents, Delivery: router, Node: "chaos-test-client"})
	if err != nil {
		t.Fatalf("scheduler: %v", err)
	}
	return &client{st: st, sched: sched, as: scheduler.Principal{Subject: "chaos", Admin: true}}
}

// close closes the client's store, so that its sessions end.
func (c *client) close(t *testing.T) {
	if err := c.st.Close(); err != nil {
		t.Errorf("close the test's store: %v", err)
	}
}

// createSchedules creates n schedules that fire every second, each run
// delivered to the record channel, and returns their ids.
func (c *client) createSchedules(t *testing.T, n, maxAttempts int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := make([]string, n)
	for i := range n {
		sch, err := c.sched.CreateSchedule(ctx, c.as, &store.Schedule{
			Owner:       c.as.Subject,
			Name:        fmt.Sprintf("every-second-%03d", i),
			Agent:       agentName,
			Trigger:     store.Trigger{Kind: store.TriggerCron, Cron: "* * * * * *"},
			Overlap:     store.OverlapAllowAll,
			MaxAttempts: maxAttempts,
			Targets:     []store.Target{{Channel: channelName, To: "tick"}},
		})
		if err != nil {
			t.Fatalf("create schedule %d: %v", i, err)
		}
		ids[i] = sch.ID
	}
	return ids
}

// enqueuer enqueues ad hoc runs at a steady pace.
type enqueuer struct {
	done chan struct{}
	// Read after done is closed.
	tried int
	errs  []error
}

// enqueue enqueues total ad hoc runs spread over the duration over, each
// with payload(i) and delivered to the record channel, until ctx ends.
func (c *client) enqueue(ctx context.Context, total int, over time.Duration, maxAttempts int, payload func(i int) json.RawMessage) *enqueuer {
	e := &enqueuer{done: make(chan struct{})}
	go func() {
		defer close(e.done)
		start := time.Now()
		pace := time.NewTicker(50 * time.Millisecond)
		defer pace.Stop()
		for e.tried < total {
			due := min(total, int(float64(total)*float64(time.Since(start))/float64(over))+1)
			for ; e.tried < due; e.tried++ {
				_, err := c.sched.Enqueue(ctx, c.as, scheduler.EnqueueRequest{
					Agent:       agentName,
					Payload:     payload(e.tried),
					Targets:     []store.Target{{Channel: channelName, To: "adhoc"}},
					MaxAttempts: maxAttempts,
				})
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					e.errs = append(e.errs, err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-pace.C:
			}
		}
	}()
	return e
}

// wait waits for the enqueuer to finish (failing t after deadline) and
// reports its errors; it returns how many runs it enqueued.
func (e *enqueuer) wait(t *testing.T, deadline time.Duration) int {
	t.Helper()
	select {
	case <-e.done:
	case <-time.After(deadline):
		t.Fatalf("the ad hoc runs were not all enqueued %v after the load ended", deadline)
	}
	if len(e.errs) > 0 {
		t.Errorf("enqueue failed %d times out of %d; the first: %v", len(e.errs), e.tried, e.errs[0])
	}
	return e.tried - len(e.errs)
}
