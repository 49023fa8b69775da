package metrics_test

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/metrics"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store/memstore"
)

// A node's metrics on the service's own registry: the scheduler reports to
// them as its Observer, and the REST API's middleware calls ObserveHTTP.
func Example() {
	st := memstore.New(memstore.Options{})
	defer st.Close()

	reg := prometheus.NewRegistry() // the service's registry, never the global one
	m, err := metrics.New(metrics.Config{
		Registerer: reg,
		Stats:      st, // queue and schedule gauges, read at each scrape
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	agents := agent.NewRegistry()
	agents.MustRegister("echo", agent.Func(func(context.Context, *agent.Task) (*agent.Result, error) {
		return &agent.Result{Summary: "hello"}, nil
	}))
	done := make(chan struct{})
	s, err := scheduler.New(st, scheduler.Config{Agents: agents, Observer: scheduler.ObserverFunc(func(o scheduler.Observation) {
		m.Observe(o)
		if _, ok := o.(*scheduler.RunEndObserved); ok {
			close(done)
		}
	})})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Start(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop(context.Background())
	if _, err := s.Enqueue(context.Background(), scheduler.Principal{Subject: "ops", Admin: true},
		scheduler.EnqueueRequest{Agent: "echo"}); err != nil {
		fmt.Println(err)
		return
	}
	<-done

	m.ObserveHTTP("GET /v1/runs/{id}", 200, 12*time.Millisecond)

	n, _ := testutil.GatherAndCount(reg, "herald_runs_ended_total", "herald_http_requests_total")
	fmt.Println("series:", n)
	out, _ := testutil.GatherAndFormat(reg, expfmt.TypeTextPlain, "herald_runs_ended_total")
	fmt.Print(string(out))
	// Output:
	// series: 2
	// # HELP herald_runs_ended_total Runs that ended for good on this node, by agent and final status.
	// # TYPE herald_runs_ended_total counter
	// herald_runs_ended_total{agent="echo",status="succeeded"} 1
}
