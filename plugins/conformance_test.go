//go:build linux

package plugins_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/plugins"
)

// TestAgentConformance runs the agent contract's suite against the example
// wordcount plugin, through the plugin boundary.
func TestAgentConformance(t *testing.T) {
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.wordcount}}, Logger: testLogger(t)})
	a := m.Agents()["wordcount"]
	if a == nil {
		t.Fatalf("Agents() = %v, want wordcount", m.Agents())
	}
	agenttest.Run(t, func(*testing.T) agent.Agent { return a }, agenttest.Cases{
		Payload: json.RawMessage(`{"text":"one\ntwo three\nfour\n","pace":"1s"}`),
		OK:      json.RawMessage(`{"text":"one two\nthree\n"}`),
		Failures: []agenttest.Failure{
			{Name: "no text", Payload: json.RawMessage(`{}`), Permanent: true},
			{Name: "bad payload", Payload: json.RawMessage(`[1]`), Permanent: true},
		},
	})
}

// TestAgentConformanceTestkit runs the suite against the test plugin's
// agent, whose failures cover every error code.
func TestAgentConformanceTestkit(t *testing.T) {
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}, Logger: testLogger(t)})
	a := m.Agents()["kit"]
	agenttest.Run(t, func(*testing.T) agent.Agent { return a }, agenttest.Cases{
		Payload: json.RawMessage(`{"op":"sleep"}`),
		OK:      json.RawMessage(`{"op":"ok"}`),
		Failures: []agenttest.Failure{
			{Name: "transient", Payload: json.RawMessage(`{"op":"fail","code":"transient"}`)},
			{Name: "permanent", Payload: json.RawMessage(`{"op":"fail","code":"permanent"}`), Permanent: true},
			{Name: "retry after", Payload: json.RawMessage(`{"op":"fail","code":"retry_after"}`), RetryAfter: 1500 * time.Millisecond},
			{Name: "panic", Payload: json.RawMessage(`{"op":"panic"}`)},
		},
	})
}

// TestDelivererConformance runs the delivery contract's suite against the
// example jsonl plugin, checking that each delivered message is in its
// file.
func TestDelivererConformance(t *testing.T) {
	file := filepath.Join(t.TempDir(), "notifications.jsonl")
	m := newManager(t, plugins.Config{
		Plugins: []plugins.Plugin{{Path: bin.jsonl, Env: []string{"HERALD_JSONL_FILE=" + file}}},
		Logger:  testLogger(t),
	})
	d := m.Deliverers()["jsonl"]
	if d == nil {
		t.Fatalf("Deliverers() = %v, want jsonl", m.Deliverers())
	}
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return d }, deliverytest.Cases{
		Channel: "jsonl",
		To:      "device-1",
		Failures: []deliverytest.Failure{
			{Name: "no recipient", To: "", Permanent: true},
		},
		Delivered: func(t *testing.T, msg *delivery.Message) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				var rec struct {
					To             string `json:"to"`
					IdempotencyKey string `json:"idempotency_key"`
					Subject        string `json:"subject"`
				}
				if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
					t.Fatalf("line %q: %v", sc.Bytes(), err)
				}
				if rec.IdempotencyKey == msg.IdempotencyKey {
					if rec.To != msg.Target.To || rec.Subject != msg.Subject {
						t.Errorf("line %+v, want to %q, subject %q", rec, msg.Target.To, msg.Subject)
					}
					return
				}
			}
			t.Errorf("message %q is not in %s", msg.IdempotencyKey, file)
		},
	})
}

// TestDelivererConformanceTestkit runs the suite against the test plugin's
// deliverer, which can be kept busy and fails in every way.
func TestDelivererConformanceTestkit(t *testing.T) {
	m := newManager(t, plugins.Config{Plugins: []plugins.Plugin{{Path: bin.testkit}}, Logger: testLogger(t)})
	d := m.Deliverers()["kit"]
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return d }, deliverytest.Cases{
		Channel: "kit",
		To:      "ok",
		Slow:    "slow",
		Failures: []deliverytest.Failure{
			{Name: "transient", To: "down"},
			{Name: "permanent", To: "permanent", Permanent: true},
			{Name: "retry after", To: "retry_after", RetryAfter: 2 * time.Second},
			{Name: "panic", To: "panic"},
		},
	})
}
