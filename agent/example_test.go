package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
)

// An agent registered under an explicit name, looked up and run the way the
// scheduler does it.
func Example() {
	reg := agent.NewRegistry()
	reg.MustRegister("greet", agent.Func(func(ctx context.Context, task *agent.Task) (*agent.Result, error) {
		var in struct{ Name string }
		if err := json.Unmarshal(task.Payload, &in); err != nil {
			return nil, agent.Permanent(fmt.Errorf("greet: payload: %w", err))
		}
		if err := task.Progress.Report(ctx, map[string]int64{"greeted": 1}); err != nil {
			return nil, err
		}
		out, err := json.Marshal(map[string]string{"greeting": "hello " + in.Name})
		if err != nil {
			return nil, err
		}
		return &agent.Result{
			Output:  out,
			Summary: "said hello to " + in.Name,
			Targets: []delivery.Target{{Channel: "log"}},
		}, nil
	}))

	a, err := reg.Lookup("greet")
	if err != nil {
		panic(err)
	}
	res, err := a.Run(context.Background(), &agent.Task{
		RunID:       "run-1",
		Agent:       "greet",
		Payload:     json.RawMessage(`{"name":"ops"}`),
		Kind:        agent.RunKindEnqueue,
		Attempt:     1,
		MaxAttempts: 3,
		Progress: agent.ReporterFunc(func(_ context.Context, counters map[string]int64) error {
			fmt.Println("progress:", counters)
			return nil
		}),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("summary:", res.Summary)
	fmt.Println("output:", string(res.Output))
	fmt.Println("targets:", res.Targets)

	_, err = reg.Lookup("missing")
	fmt.Println(err, errors.Is(err, agent.ErrUnknown))
	// Output:
	// progress: map[greeted:1]
	// summary: said hello to ops
	// output: {"greeting":"hello ops"}
	// targets: [{log  }]
	// agent: unknown agent "missing" true
}

// How a scheduler reads an agent's error: Permanent and RetryAfter keep the
// error's text and survive wrapping.
func ExampleRetryAfter() {
	errRateLimited := errors.New("rate limited")
	err := fmt.Errorf("fetch page 3: %w", agent.RetryAfter(errRateLimited, 30*time.Second))

	d, ok := agent.RetryDelay(err)
	fmt.Println(err)
	fmt.Println("retry after:", d, ok)
	fmt.Println("no retry:", agent.IsPermanent(err))
	fmt.Println("is rate limited:", errors.Is(err, errRateLimited))
	// Output:
	// fetch page 3: rate limited
	// retry after: 30s true
	// no retry: false
	// is rate limited: true
}

func ExamplePermanent() {
	err := agent.Permanent(fmt.Errorf("report: unknown metric %q", "revenu"))
	fmt.Println(err)
	fmt.Println("no retry:", agent.IsPermanent(fmt.Errorf("run: %w", err)))
	// Output:
	// report: unknown metric "revenu"
	// no retry: true
}
