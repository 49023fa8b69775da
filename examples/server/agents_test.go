package main

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
)

func TestEcho(t *testing.T) {
	ctx := context.Background()
	res, err := echo(ctx, &agent.Task{Payload: json.RawMessage(`{"hello":"world"}`)})
	if err != nil || string(res.Output) != `{"hello":"world"}` {
		t.Errorf("payload: %v %v", res, err)
	}
	res, err = echo(ctx, &agent.Task{Event: &agent.Event{Body: []byte(`{"n":1}`)}})
	if err != nil || string(res.Output) != `{"n":1}` {
		t.Errorf("webhook body: %v %v", res, err)
	}
	_, err = echo(ctx, &agent.Task{Payload: json.RawMessage(`{"fail":"it broke"}`)})
	if err == nil || err.Error() != "it broke" {
		t.Errorf("fail: %v", err)
	}
	start := time.Now()
	if _, err := echo(ctx, &agent.Task{Payload: json.RawMessage(`{"sleep":"50ms"}`)}); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("sleep: %v after %v", err, time.Since(start))
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = echo(cctx, &agent.Task{Payload: json.RawMessage(`{"sleep":"1h"}`)})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("cancelled sleep: %v after %v", err, time.Since(start))
	}
	_, err = echo(ctx, &agent.Task{Payload: json.RawMessage(`{"sleep":"soon"}`)})
	if !agent.IsNoRetry(err) {
		t.Errorf("bad sleep: %v, want a no-retry error", err)
	}
}
