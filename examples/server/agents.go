package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/agent"
)

// echoPayload is what the echo agent understands in its payload; every
// other field is returned untouched.
type echoPayload struct {
	// Sleep makes the agent wait that long (or until cancelled) first.
	Sleep string `json:"sleep"`
	// Fail makes the agent fail with this message.
	Fail string `json:"fail"`
}

// echo returns its payload as its output (for a webhook run with no
// payload, the event's body when it is JSON). It honours "sleep" and
// "fail"; the server's own tests and demos use it.
func echo(ctx context.Context, t *agent.Task) (*agent.Result, error) {
	in := t.Payload
	if len(in) == 0 && t.Event != nil && json.Valid(t.Event.Body) {
		in = t.Event.Body
	}
	var p echoPayload
	if len(in) > 0 {
		if err := json.Unmarshal(in, &p); err != nil {
			// Not an object: nothing to obey, echo it as it is.
			p = echoPayload{}
		}
	}
	if p.Sleep != "" {
		d, err := time.ParseDuration(p.Sleep)
		if err != nil || d < 0 {
			return nil, agent.NoRetry(fmt.Errorf("echo: sleep %q is not a duration", p.Sleep))
		}
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p.Fail != "" {
		return nil, errors.New(p.Fail)
	}
	summary := "echoed an empty payload"
	if len(in) > 0 {
		summary = fmt.Sprintf("echoed %d bytes", len(in))
	}
	return &agent.Result{Output: in, Summary: summary}, nil
}

// builtinAgents are the agents the server registers.
func builtinAgents() *agent.Registry {
	r := agent.NewRegistry()
	r.MustRegister("echo", agent.Func(echo))
	return r
}
