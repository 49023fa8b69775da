package scheduler_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/scheduler"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// A scheduler on the in-memory store: a schedule that fires every weekday at
// 09:00 New York time, and a piece of ad hoc work run at once.
func Example() {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	defer st.Close()

	agents := agent.NewRegistry()
	agents.MustRegister("greet", agent.Func(func(ctx context.Context, t *agent.Task) (*agent.Result, error) {
		return &agent.Result{Summary: "hello, " + t.Owner}, nil
	}))
	s, err := scheduler.New(st, scheduler.Config{Agents: agents})
	if err != nil {
		log.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer s.Stop(ctx)

	alice := scheduler.Principal{Subject: "alice"}
	sch, err := s.CreateSchedule(ctx, alice, &store.Schedule{
		Name:    "morning",
		Agent:   "greet",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "0 9 * * 1-5", Timezone: "America/New_York"},
	})
	if err != nil {
		log.Fatal(err)
	}
	loc, _ := time.LoadLocation("America/New_York")
	fmt.Println("next run at", sch.NextRunAt.In(loc).Format("15:04"), "New York time")

	run, err := s.Enqueue(ctx, alice, scheduler.EnqueueRequest{Agent: "greet"})
	if err != nil {
		log.Fatal(err)
	}
	for !run.Status.Terminal() {
		time.Sleep(10 * time.Millisecond)
		if run, err = s.GetRun(ctx, alice, run.ID); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println(run.Status, run.Summary)
	// Output:
	// next run at 09:00 New York time
	// succeeded hello, alice
}
