package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/examples/server/agents"
)

func TestEcho(t *testing.T) {
	ctx := t.Context()
	t.Run("payload", func(t *testing.T) {
		res, err := agents.Echo(ctx, &agent.Task{Payload: json.RawMessage(`{"hello":"world"}`)})
		if err != nil || string(res.Output) != `{"hello":"world"}` || res.Summary != "echoed 17 bytes" {
			t.Errorf("Echo = %+v, %v; want the payload back", res, err)
		}
	})
	t.Run("webhook body", func(t *testing.T) {
		res, err := agents.Echo(ctx, &agent.Task{Event: &agent.Event{Body: []byte(`{"n":1}`)}})
		if err != nil || string(res.Output) != `{"n":1}` {
			t.Errorf("Echo = %+v, %v; want the body back", res, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		res, err := agents.Echo(ctx, &agent.Task{})
		if err != nil || len(res.Output) != 0 || res.Summary != "echoed an empty payload" {
			t.Errorf("Echo = %+v, %v; want an empty result", res, err)
		}
	})
	t.Run("not an object", func(t *testing.T) {
		res, err := agents.Echo(ctx, &agent.Task{Payload: json.RawMessage(`[1,2]`)})
		if err != nil || string(res.Output) != `[1,2]` {
			t.Errorf("Echo = %+v, %v; want the array back", res, err)
		}
	})
	t.Run("fail", func(t *testing.T) {
		_, err := agents.Echo(ctx, &agent.Task{Payload: json.RawMessage(`{"fail":"it broke"}`)})
		if err == nil || err.Error() != "it broke" || agent.IsPermanent(err) {
			t.Errorf("Echo = %v, want the retryable error \"it broke\"", err)
		}
	})
	t.Run("sleep", func(t *testing.T) {
		start := time.Now()
		_, err := agents.Echo(ctx, &agent.Task{Payload: json.RawMessage(`{"sleep":"50ms"}`)})
		if took := time.Since(start); err != nil || took < 50*time.Millisecond {
			t.Errorf("Echo = %v after %v, want success after 50ms", err, took)
		}
	})
	t.Run("cancel", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := agents.Echo(cctx, &agent.Task{Payload: json.RawMessage(`{"sleep":"1h"}`)})
		if took := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || took > time.Second {
			t.Errorf("Echo = %v after %v, want the context's error within 1s", err, took)
		}
	})
	t.Run("bad sleep", func(t *testing.T) {
		for _, p := range []string{`{"sleep":"soon"}`, `{"sleep":"-1s"}`} {
			_, err := agents.Echo(ctx, &agent.Task{Payload: json.RawMessage(p)})
			if !agent.IsPermanent(err) {
				t.Errorf("Echo(%s) = %v, want a no-retry error", p, err)
			}
		}
	})
}

func TestEchoConformance(t *testing.T) {
	agenttest.Run(t, func(*testing.T) agent.Agent { return agent.Func(agents.Echo) }, agenttest.Cases{
		Payload: json.RawMessage(`{"sleep":"1h"}`),
		OK:      json.RawMessage(`{"hello":"world"}`),
		Failures: []agenttest.Failure{
			{Name: "fail", Payload: json.RawMessage(`{"fail":"it broke"}`)},
			{Name: "bad sleep", Payload: json.RawMessage(`{"sleep":"soon"}`), Permanent: true},
		},
	})
}
