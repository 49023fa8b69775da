package memstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

// A run's life on the in-memory store: enqueued, claimed by a worker node
// under a lease, finished with a result.
func Example() {
	ctx := context.Background()
	s := memstore.New(memstore.Options{})
	defer s.Close()

	res, err := s.RunEnqueue(ctx, &store.RunEnqueueParams{
		Owner:   "ops",
		Agent:   "echo",
		Payload: []byte(`{"text":"hello"}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("enqueued:", res[0].Run.Status, "attempt", res[0].Run.Attempt)

	claimed, err := s.RunClaim(ctx, &store.RunClaimParams{Node: "node-1", Limit: 10, Lease: time.Minute})
	if err != nil {
		panic(err)
	}
	fmt.Println("claimed:", len(claimed), "run,", claimed[0].Status, "on", claimed[0].LeaseOwner)

	done, err := s.RunFinish(ctx, &store.RunFinishParams{
		ID:      claimed[0].ID,
		Node:    "node-1",
		Status:  store.RunSucceeded,
		Output:  []byte(`{"text":"hello"}`),
		Summary: "echoed",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("finished:", done[0].Status, "-", done[0].Summary)
	// Output:
	// enqueued: queued attempt 1
	// claimed: 1 run, running on node-1
	// finished: succeeded - echoed
}
