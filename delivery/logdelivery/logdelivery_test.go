package logdelivery_test

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/deliverytest"
	"github.com/heraldhq/herald/delivery/logdelivery"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines is a concurrency-safe log buffer.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestLine(t *testing.T) {
	var out lines
	d := logdelivery.New(log.NewLogfmtLogger(&out))
	m := &delivery.Message{RunID: "r1", Owner: "alice", Agent: "echo", Status: delivery.StatusFailed,
		Target: delivery.Target{Channel: "log"}, Subject: "echo: run failed", Text: strings.Repeat("x", 3000),
		Output: []byte(`{"a":1}`), Error: "boom", IdempotencyKey: "r1-abc"}
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{"level=info", `msg="run result"`, "run_id=r1", "owner=alice", "agent=echo", "status=failed",
		"channel=log", `subject="echo: run failed"`, "idempotency_key=r1-abc", "error=boom", "output_bytes=7",
		"text=" + strings.Repeat("x", logdelivery.MaxText) + "…"} {
		if !strings.Contains(got, want) {
			t.Errorf("log line %q lacks %q", got, want)
		}
	}
	if strings.Count(got, "\n") != 1 || strings.Contains(got, " to=") {
		t.Errorf("want one line without a to: %q", got)
	}
}

func TestLoggerFails(t *testing.T) {
	d := logdelivery.New(log.LoggerFunc(func(...any) error { return errors.New("disk full") }))
	err := d.Deliver(t.Context(), &delivery.Message{RunID: "r"})
	if err == nil || delivery.IsPermanent(err) || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Deliver with a failing logger = %v, want a transient error", err)
	}
	if err := logdelivery.New(nil).Deliver(t.Context(), &delivery.Message{}); err != nil {
		t.Errorf("nil logger: %v", err)
	}
}

func TestConformance(t *testing.T) {
	var out lines
	logger := log.NewLogfmtLogger(&out)
	deliverytest.Run(t, func(*testing.T) delivery.Deliverer { return logdelivery.New(logger) }, deliverytest.Cases{
		Channel: "log",
		Delivered: func(t *testing.T, m *delivery.Message) {
			if !strings.Contains(out.String(), "idempotency_key="+m.IdempotencyKey) {
				t.Errorf("no log line for %s", m.IdempotencyKey)
			}
		},
	})
}
