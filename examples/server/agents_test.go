package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/examples/server/agents"
	"github.com/heraldhq/herald/store/memstore"
)

// The agents themselves are tested in package agents; this checks the
// server's wiring of them.
func TestBuiltinAgents(t *testing.T) {
	st := memstore.New(memstore.Options{})
	t.Cleanup(func() { st.Close() })
	reg := builtinAgents(st)
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
