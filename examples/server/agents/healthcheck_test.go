package agents_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/store/memstore"
)

// healthy is a check that passes.
func healthy(context.Context) error { return nil }

// hang is a check that answers only when its context ends.
func hang(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// newHealthCheck returns a HealthCheck of cfg, failing the test on error.
func newHealthCheck(t *testing.T, cfg agents.HealthCheckConfig) *agents.HealthCheck {
	t.Helper()
	h, err := agents.NewHealthCheck(cfg)
	if err != nil {
		t.Fatalf("NewHealthCheck: %v", err)
	}
	return h
}

// decodeHealth decodes a HealthReport.
func decodeHealth(t *testing.T, data []byte) *agents.HealthReport {
	t.Helper()
	var rep agents.HealthReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("decode output %s: %v", data, err)
	}
	return &rep
}

func TestHealthCheck(t *testing.T) {
	t.Run("all healthy", func(t *testing.T) {
		st := memstore.New(memstore.Options{})
		t.Cleanup(func() { st.Close() })
		h := newHealthCheck(t, agents.HealthCheckConfig{Checks: []agents.Check{
			{Name: "store", Func: st.Ping}, {Name: "plugin a", Func: healthy},
		}})
		res, err := h.Run(t.Context(), &agent.Task{})
		if err != nil {
			t.Fatalf("Run = %v, want success", err)
		}
		if res.Summary != "2 of 2 healthy" {
			t.Errorf("Summary = %q, want %q", res.Summary, "2 of 2 healthy")
		}
		rep := decodeHealth(t, res.Output)
		if !rep.Healthy || len(rep.Checks) != 2 || rep.Checks[0].Name != "store" || !rep.Checks[0].Healthy ||
			rep.Checks[1].Name != "plugin a" || !rep.Checks[1].Healthy || rep.Checks[0].Error != "" {
			t.Errorf("Output = %s, want both checks healthy, in order", res.Output)
		}
		if strings.Contains(string(res.Output), `"error"`) || !strings.Contains(string(res.Output), `"duration_ms":`) {
			t.Errorf("Output = %s, want a duration_ms and no error per check", res.Output)
		}
	})

	t.Run("one failing", func(t *testing.T) {
		st := memstore.New(memstore.Options{})
		st.Close() // Ping now fails with store.ErrClosed
		h := newHealthCheck(t, agents.HealthCheckConfig{Checks: []agents.Check{
			{Name: "plugin a", Func: healthy}, {Name: "store", Func: st.Ping}, {Name: "plugin b", Func: healthy},
		}})
		res, err := h.Run(t.Context(), &agent.Task{})
		if res != nil {
			t.Errorf("Run returned a result with its error: %+v", res)
		}
		want := "health check: 2 of 3 healthy; unhealthy: store (ping: store: closed)"
		if err == nil || err.Error() != want {
			t.Fatalf("Run = %v, want %q", err, want)
		}
		if agent.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want a retryable error", err)
		}
		ue, ok := errors.AsType[*agents.UnhealthyError](err)
		if !ok {
			t.Fatalf("Run = %T, want an *UnhealthyError", err)
		}
		rep := ue.Report
		if rep.Healthy || len(rep.Checks) != 3 || rep.Checks[1].Name != "store" || rep.Checks[1].Healthy ||
			rep.Checks[1].Error != "ping: store: closed" || !rep.Checks[0].Healthy || !rep.Checks[2].Healthy {
			t.Errorf("Report = %+v, want store unhealthy and the plugins healthy", rep)
		}
	})

	t.Run("hanging check times out", func(t *testing.T) {
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		h := newHealthCheck(t, agents.HealthCheckConfig{Timeout: 50 * time.Millisecond, Checks: []agents.Check{
			{Name: "store", Func: healthy},
			{Name: "slow", Func: hang},
			// deaf ignores its context: the agent must not wait for it.
			{Name: "deaf", Func: func(context.Context) error { <-release; return nil }},
		}})
		start := time.Now()
		_, err := h.Run(t.Context(), &agent.Task{})
		if took := time.Since(start); took > time.Second {
			t.Errorf("Run took %v, want it cut off after the 50ms timeout", took)
		}
		want := "health check: 1 of 3 healthy; unhealthy: slow (no answer within 50ms), deaf (no answer within 50ms)"
		if err == nil || err.Error() != want {
			t.Fatalf("Run = %v, want %q", err, want)
		}
		ue, _ := errors.AsType[*agents.UnhealthyError](err)
		if d := ue.Report.Checks[1].DurationMS; d < 50 || d > 1000 {
			t.Errorf("duration_ms of the hanging check = %d, want about 50", d)
		}
	})

	t.Run("panicking check", func(t *testing.T) {
		h := newHealthCheck(t, agents.HealthCheckConfig{Checks: []agents.Check{
			{Name: "plugin a", Func: func(context.Context) error { panic("boom") }},
		}})
		_, err := h.Run(t.Context(), &agent.Task{})
		if want := "health check: 0 of 1 healthy; unhealthy: plugin a (check panicked: boom)"; err == nil || err.Error() != want {
			t.Errorf("Run = %v, want %q", err, want)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		h := newHealthCheck(t, agents.HealthCheckConfig{Timeout: time.Minute, Checks: []agents.Check{{Name: "slow", Func: hang}}})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		start := time.Now()
		res, err := h.Run(ctx, &agent.Task{})
		if took := time.Since(start); !errors.Is(err, context.Canceled) || res != nil || took > time.Second {
			t.Errorf("Run = %v, %v after %v; want context.Canceled within 1s", res, err, took)
		}
	})

	t.Run("payload selects checks", func(t *testing.T) {
		h := newHealthCheck(t, agents.HealthCheckConfig{Checks: []agents.Check{
			{Name: "store", Func: healthy}, {Name: "broken", Func: func(context.Context) error { return errors.New("down") }},
		}})
		res, err := h.Run(t.Context(), &agent.Task{Payload: json.RawMessage(`{"checks":["store","store"]}`)})
		if err != nil || res.Summary != "1 of 1 healthy" {
			t.Errorf("Run({checks: [store]}) = %+v, %v; want only the store checked", res, err)
		}
		for _, p := range []string{`{"checks":["nope"]}`, `{"checks":[]}`, `{"check":["store"]}`, `[1]`, `{"checks":"store"}`} {
			_, err := h.Run(t.Context(), &agent.Task{Payload: json.RawMessage(p)})
			if !agent.IsPermanent(err) {
				t.Errorf("Run(%s) = %v, want a no-retry error", p, err)
			}
		}
		_, err = h.Run(t.Context(), &agent.Task{Payload: json.RawMessage(`{"checks":["nope"]}`)})
		if err == nil || !strings.Contains(err.Error(), `unknown check "nope" (known: store, broken)`) {
			t.Errorf("Run(unknown check) = %v, want it named with the known ones", err)
		}
	})
}

func TestNewHealthCheckRefuses(t *testing.T) {
	for name, cfg := range map[string]agents.HealthCheckConfig{
		"no checks":        {},
		"unnamed":          {Checks: []agents.Check{{Func: healthy}}},
		"duplicate":        {Checks: []agents.Check{{Name: "a", Func: healthy}, {Name: "a", Func: healthy}}},
		"nil func":         {Checks: []agents.Check{{Name: "a"}}},
		"negative timeout": {Checks: []agents.Check{{Name: "a", Func: healthy}}, Timeout: -time.Second},
	} {
		if _, err := agents.NewHealthCheck(cfg); err == nil {
			t.Errorf("NewHealthCheck(%s) succeeded, want an error", name)
		}
	}
}

func TestHealthCheckConformance(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agent.Agent {
		return newHealthCheck(t, agents.HealthCheckConfig{Checks: []agents.Check{
			{Name: "ok", Func: healthy},
			// busy answers after agenttest.Busy and a bit, unless its context ends.
			{Name: "busy", Func: func(ctx context.Context) error {
				timer := time.NewTimer(agenttest.Busy + 500*time.Millisecond)
				defer timer.Stop()
				select {
				case <-timer.C:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}},
			{Name: "broken", Func: func(context.Context) error { return errors.New("down") }},
		}})
	}, agenttest.Cases{
		Payload: json.RawMessage(`{"checks":["ok","busy"]}`),
		OK:      json.RawMessage(`{"checks":["ok"]}`),
		Failures: []agenttest.Failure{
			{Name: "unhealthy", Payload: json.RawMessage(`{"checks":["ok","broken"]}`)},
			{Name: "unknown check", Payload: json.RawMessage(`{"checks":["nope"]}`), Permanent: true},
		},
	})
}
