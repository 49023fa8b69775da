package agents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/agent"
)

// echoPayload is what Echo understands in its payload; every other field is
// returned untouched.
type echoPayload struct {
	// Sleep makes the agent wait that long (or until cancelled) first.
	Sleep string `json:"sleep"`
	// Fail makes the agent fail with this message.
	Fail string `json:"fail"`
}

var _ agent.Agent = agent.Func(Echo)

// Echo is the "echo" agent: it returns its payload as its output (for a
// webhook run with no payload, the event's body when it is JSON). Two
// fields of a payload object are obeyed before that: "sleep" (a Go
// duration such as "2s") waits that long, or until ctx is done, and "fail"
// fails the attempt with its text as the error (a retryable one). A "sleep"
// that is not a duration fails the run without retry. A payload that is
// not an object is echoed as it is. Register it with agent.Func(Echo).
func Echo(ctx context.Context, t *agent.Task) (*agent.Result, error) {
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
			return nil, agent.Permanent(fmt.Errorf("echo: sleep %q is not a duration", p.Sleep))
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
