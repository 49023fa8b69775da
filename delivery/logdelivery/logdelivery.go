// Package logdelivery is Herald's development deliverer: it writes each
// message as one go-kit log line instead of sending it anywhere, so a
// schedule's results can be watched in the server's log before Slack,
// Teams or email is set up.
//
// Import it to register the channel with the scheduler's router:
//
//	router.MustRegister("log", logdelivery.New(logger))
//
// The line carries the run, the target, the status, the subject, the
// idempotency key, the text and error (each cut to MaxText bytes) and the
// size of the output. Do not use it for results that must not reach logs.
package logdelivery

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/delivery"
)

// MaxText bounds the text and the error written to the log, in bytes.
const MaxText = 2000

// Deliverer logs messages. It is safe for concurrent use when its logger
// is (go-kit's loggers made with log.NewSyncWriter are). Create one with
// New.
type Deliverer struct {
	logger log.Logger
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer writing to logger at info level; nil means a
// logger that writes nothing.
func New(logger log.Logger) *Deliverer {
	if logger == nil {
		logger = log.NewNopLogger()
	}
	return &Deliverer{logger: logger}
}

// Deliver writes m as one log line. The logger's error, when it fails to
// write, is returned as a transient error.
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("log delivery: %w", err)
	}
	kv := []any{"msg", "run result", "run_id", m.RunID, "owner", m.Owner, "agent", m.Agent,
		"status", m.Status, "channel", m.Target.Channel}
	if m.Target.To != "" {
		kv = append(kv, "to", m.Target.To)
	}
	kv = append(kv, "subject", m.Subject, "idempotency_key", m.IdempotencyKey, "text", cut(m.Text))
	if m.Error != "" {
		kv = append(kv, "error", cut(m.Error))
	}
	kv = append(kv, "output_bytes", len(m.Output))
	if err := level.Info(d.logger).Log(kv...); err != nil {
		return fmt.Errorf("log delivery: write: %w", err)
	}
	return nil
}

// cut returns s cut to MaxText bytes on a rune boundary, marked with "…"
// when cut.
func cut(s string) string {
	if len(s) <= MaxText {
		return s
	}
	n := MaxText
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
