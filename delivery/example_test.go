package delivery_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/delivery"
)

// A router with one channel, used the way the scheduler uses it: one
// message per target, errors classified for retries.
func Example() {
	r := delivery.NewRouter()
	r.MustRegister("log", delivery.Func(func(ctx context.Context, m *delivery.Message) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Printf("to %s: %s\n%s\n", m.Target.To, m.Subject, m.Text)
		return nil
	}))

	err := r.Deliver(context.Background(), &delivery.Message{
		RunID:          "run-1",
		Agent:          "kpi_report",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: "log", To: "ops"},
		Subject:        "kpi_report succeeded",
		Text:           "Revenue up 3% week on week.",
		IdempotencyKey: "run-1/log/ops",
	})
	fmt.Println("err:", err)

	err = r.Deliver(context.Background(), &delivery.Message{Target: delivery.Target{Channel: "pager"}})
	fmt.Println(err)
	fmt.Println("unknown channel:", errors.Is(err, delivery.ErrUnknownChannel), "permanent:", delivery.IsPermanent(err))
	fmt.Println("channels:", r.Channels())
	// Output:
	// to ops: kpi_report succeeded
	// Revenue up 3% week on week.
	// err: <nil>
	// delivery: unknown channel "pager"
	// unknown channel: true permanent: true
	// channels: [log]
}

// How a deliverer classifies what its receiver said: a refusal for good is
// permanent, a rate limit asks to wait, anything else is retried.
func ExampleRetryAfter() {
	classify := func(status int, retryAfter time.Duration) error {
		err := fmt.Errorf("webhook: status %d", status)
		switch {
		case status == 410:
			return delivery.Permanent(err)
		case status == 429:
			return delivery.RetryAfter(err, retryAfter)
		default:
			return err
		}
	}
	for _, status := range []int{410, 429, 503} {
		err := classify(status, 30*time.Second)
		d, wait := delivery.RetryDelay(err)
		fmt.Printf("%v: permanent %t, wait %t %v\n", err, delivery.IsPermanent(err), wait, d)
	}
	// Output:
	// webhook: status 410: permanent true, wait false 0s
	// webhook: status 429: permanent false, wait true 30s
	// webhook: status 503: permanent false, wait false 0s
}
