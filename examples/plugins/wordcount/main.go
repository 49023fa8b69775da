// Command wordcount is an example Herald agent plugin: the agent
// "wordcount" counts the words and lines of the text in its payload,
// reporting progress line by line.
//
// Its payload is {"text": "...", "pace": "250ms"}: text is required; pace,
// optional, waits that long before each line, to stand in for slow work
// (the wait ends early when the run is cancelled). Build it, and point a
// Herald host at the binary:
//
//	go build -o plugins/wordcount ./examples/plugins/wordcount
//	sha256sum plugins/wordcount
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/clock"
	"github.com/heraldhq/herald/plugins"
)

func main() {
	plugins.Serve(plugins.ServeConfig{
		Agents: map[string]agent.Agent{"wordcount": wordCount{}},
	})
}

// wordCount is the agent.
type wordCount struct{}

// Description says what the agent does, for -describe.
func (wordCount) Description() string { return "counts the words and lines of a text" }

// input is the agent's payload.
type input struct {
	Text string `json:"text"`
	Pace string `json:"pace"`
}

// output is the agent's structured result.
type output struct {
	Words int `json:"words"`
	Lines int `json:"lines"`
}

// Run counts the words of the payload's text.
func (wordCount) Run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	var in input
	if len(task.Payload) > 0 {
		if err := json.Unmarshal(task.Payload, &in); err != nil {
			return nil, agent.Permanent(fmt.Errorf("wordcount: bad payload: %w", err))
		}
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, agent.Permanent(errors.New("wordcount: the payload has no text"))
	}
	var pace time.Duration
	if in.Pace != "" {
		d, err := time.ParseDuration(in.Pace)
		if err != nil || d < 0 {
			return nil, agent.Permanent(fmt.Errorf("wordcount: bad pace %q", in.Pace))
		}
		pace = d
	}
	var out output
	for line := range strings.Lines(in.Text) {
		if err := (clock.System{}).Sleep(ctx, pace); err != nil {
			return nil, err
		}
		out.Lines++
		out.Words += len(strings.Fields(line))
		if err := task.Progress.Report(ctx, map[string]int64{"lines": int64(out.Lines), "words": int64(out.Words)}); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &agent.Result{Output: b, Summary: fmt.Sprintf("%d words in %d lines", out.Words, out.Lines)}, nil
}
