package main

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/store/memstore"
)

// The agents themselves are tested in package agents; this checks the
// server's wiring of them.
func TestBuiltinAgents(t *testing.T) {
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	reg := builtinAgents(st, retentionConfig{})
	lookup := func(name string) agent.Agent {
		t.Helper()
		a, err := reg.Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q) = %v", name, err)
		}
		return a
	}

	res, err := lookup("echo").Run(t.Context(), &agent.Task{Payload: json.RawMessage(`{"hello":"world"}`)})
	if err != nil || string(res.Output) != `{"hello":"world"}` {
		t.Errorf("echo = %+v, %v; want the payload back", res, err)
	}

	// A static schedule's run reports on every owner; a user's on its own runs.
	kpi := lookup("kpi_report")
	for owner, want := range map[string]string{"system": "every owner", "alice": "owner alice"} {
		res, err := kpi.Run(t.Context(), &agent.Task{Owner: owner})
		if err != nil || !strings.Contains(res.Summary, want) {
			t.Errorf("kpi_report of %s = %+v, %v; want a report on %s", owner, res, err, want)
		}
	}

	// The config file's checks know the names registered.
	if got := reg.Names(); !slices.Equal(got, slices.Sorted(slices.Values(builtinAgentNames))) {
		t.Errorf("registered %q, but the config file accepts %q", got, builtinAgentNames)
	}

	// Retention prunes for the static schedules' owner only.
	retention := lookup("retention")
	res, err = retention.Run(t.Context(), &agent.Task{Owner: "system"})
	if err != nil || res.Summary != "deleted 0 finished runs older than 30 days" {
		t.Errorf("retention = %+v, %v; want nothing to delete", res, err)
	}
	if _, err := retention.Run(t.Context(), &agent.Task{Owner: "alice"}); !agent.IsPermanent(err) {
		t.Errorf("retention of alice = %v, want a refusal", err)
	}
	r48, err := builtinAgents(st, retentionConfig{MaxAge: 48 * time.Hour}).Lookup("retention")
	if err != nil {
		t.Fatal(err)
	}
	res, err = r48.Run(t.Context(), &agent.Task{Owner: "system"})
	if err != nil || !strings.HasSuffix(res.Summary, "older than 2 days") {
		t.Errorf("retention with max_age 48h = %+v, %v", res, err)
	}

	health := lookup("health_check")
	res, err = health.Run(t.Context(), &agent.Task{})
	if err != nil || res.Summary != "1 of 1 healthy" {
		t.Errorf("health_check = %+v, %v; want the store healthy", res, err)
	}
	st.Close()
	_, err = health.Run(t.Context(), &agent.Task{})
	if _, ok := errors.AsType[*agents.UnhealthyError](err); !ok || !strings.Contains(err.Error(), "unhealthy: store (") {
		t.Errorf("health_check of a closed store = %v, want the store named unhealthy", err)
	}
}
