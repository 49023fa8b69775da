// Command jsonl is an example Herald deliverer plugin, standing in for push
// notifications: the deliverer "jsonl" appends each message as one JSON
// line to a file. The address (Target.To) is the recipient, such as a
// device or a user id; the file is $HERALD_JSONL_FILE, or
// notifications.jsonl in the plugin's working directory.
//
//	go build -o plugins/jsonl ./examples/plugins/jsonl
//	sha256sum plugins/jsonl
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
)

func main() {
	file := os.Getenv("HERALD_JSONL_FILE")
	if file == "" {
		file = "notifications.jsonl"
	}
	plugins.Serve(plugins.ServeConfig{
		Deliverers: map[string]delivery.Deliverer{"jsonl": &jsonLines{file: file}},
	})
}

// jsonLines appends messages to a file, one JSON object a line.
type jsonLines struct {
	file string
	mu   sync.Mutex // one line at a time
}

// Description says what the deliverer does, for -describe.
func (j *jsonLines) Description() string { return "appends each message as a JSON line to a file" }

// record is one line of the file.
type record struct {
	Time           time.Time       `json:"time"`
	To             string          `json:"to"`
	RunID          string          `json:"run_id"`
	Agent          string          `json:"agent"`
	Status         string          `json:"status"`
	Subject        string          `json:"subject"`
	Text           string          `json:"text"`
	Output         json.RawMessage `json:"output,omitempty"`
	Error          string          `json:"error,omitempty"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// Deliver appends m to the file.
func (j *jsonLines) Deliver(ctx context.Context, m *delivery.Message) error {
	if m.Target.To == "" {
		return delivery.Permanent(errors.New("jsonl: the target has no recipient"))
	}
	line, err := json.Marshal(record{
		Time: time.Now().UTC(), To: m.Target.To, RunID: m.RunID, Agent: m.Agent, Status: m.Status,
		Subject: m.Subject, Text: m.Text, Output: m.Output, Error: m.Error, IdempotencyKey: m.IdempotencyKey,
	})
	if err != nil {
		return delivery.Permanent(fmt.Errorf("jsonl: %w", err))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(j.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("jsonl: %w", err)
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("jsonl: %w", err)
	}
	return f.Close()
}
