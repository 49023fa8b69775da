package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/store"
)

// Defaults of RetentionConfig.
const (
	// RetentionMaxAgeDefault is how long a finished run is kept when
	// RetentionConfig.MaxAge is zero: 30 days.
	RetentionMaxAgeDefault = 30 * 24 * time.Hour
	// RetentionBatchDefault is how many runs one delete removes when
	// RetentionConfig.Batch is zero.
	RetentionBatchDefault = 500
)

// RetentionStore is what Retention deletes from: the run history. A
// store.Store is one.
type RetentionStore interface {
	// RunDeleteFinished deletes up to Limit runs that ended more than
	// OlderThan ago (see store.RunStore).
	RunDeleteFinished(ctx context.Context, params *store.RunDeleteFinishedParams) (int, error)
}

var _ RetentionStore = store.Store(nil)

// RetentionConfig configures NewRetention.
type RetentionConfig struct {
	// Store is pruned. Required.
	Store RetentionStore
	// MaxAge is how long the history of a finished run is kept; zero means
	// RetentionMaxAgeDefault. Not negative.
	MaxAge time.Duration
	// Batch is how many runs one call of RunDeleteFinished deletes; zero
	// means RetentionBatchDefault. Each batch is a transaction of its
	// own: a cancelled run keeps what it deleted.
	Batch int
	// SystemOwners are the owners whose runs may prune. The history is
	// every owner's, so a run of any other owner fails without retry.
	// None by default: list the owner of the server's static schedules.
	SystemOwners []string
}

// Retention is the "retention" agent: it deletes the finished runs (and
// their deliveries) that ended more than MaxAge ago, batch by batch, until
// none is left; the runs whose results are still to be delivered stay
// (see store.RunStore's RunDeleteFinished). Create it with NewRetention;
// it is safe for concurrent use.
//
// It takes no payload (an empty one, null or {}): the age is the
// operator's to configure, not a schedule's. Its Output is a
// RetentionOutput and its Summary reads "deleted 1200 finished runs older
// than 30 days". Between batches it reports progress ("runs_deleted") and
// stops when ctx is done, returning ctx's error: the batches done stay
// done, and the next run goes on from there. Errors of the store are
// retryable; a payload or an owner it refuses fails the run without retry.
type Retention struct {
	st     RetentionStore
	maxAge time.Duration
	batch  int
	system map[string]bool
}

var _ agent.Agent = (*Retention)(nil)

// NewRetention returns a Retention of cfg, or an error when cfg is invalid
// (no store, a negative age or batch).
func NewRetention(cfg RetentionConfig) (*Retention, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("agents: retention: no Store")
	case cfg.MaxAge < 0:
		return nil, fmt.Errorf("agents: retention: MaxAge %v is negative", cfg.MaxAge)
	case cfg.Batch < 0:
		return nil, fmt.Errorf("agents: retention: Batch %d is negative", cfg.Batch)
	}
	r := &Retention{st: cfg.Store, maxAge: cfg.MaxAge, batch: cfg.Batch, system: make(map[string]bool)}
	if r.maxAge == 0 {
		r.maxAge = RetentionMaxAgeDefault
	}
	if r.batch == 0 {
		r.batch = RetentionBatchDefault
	}
	for _, o := range cfg.SystemOwners {
		r.system[o] = true
	}
	return r, nil
}

// RetentionOutput is the Output of Retention.
type RetentionOutput struct {
	// Deleted counts the runs deleted.
	Deleted int `json:"deleted"`
	// MaxAge is the age beyond which finished runs were deleted, as a Go
	// duration ("720h0m0s").
	MaxAge string `json:"max_age"`
	// Batches counts the calls to the store, the last one included (which
	// deleted less than a batch).
	Batches int `json:"batches"`
}

// Run implements agent.Agent.
func (r *Retention) Run(ctx context.Context, t *agent.Task) (*agent.Result, error) {
	if p := bytes.TrimSpace(t.Payload); len(p) > 0 && !bytes.Equal(p, []byte("null")) {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(p, &fields); err != nil || len(fields) > 0 {
			return nil, agent.Permanent(errors.New("retention: takes no payload: its max_age is configured on the server"))
		}
	}
	if !r.system[t.Owner] {
		return nil, agent.Permanent(fmt.Errorf("retention: deletes every owner's history: a run of owner %q may not", t.Owner))
	}
	out := &RetentionOutput{MaxAge: r.maxAge.String()}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("retention: stopped after deleting %d runs: %w", out.Deleted, err)
		}
		n, err := r.st.RunDeleteFinished(ctx, &store.RunDeleteFinishedParams{OlderThan: r.maxAge, Limit: r.batch})
		out.Deleted += n
		if err != nil {
			return nil, fmt.Errorf("retention: delete finished runs (%d deleted before): %w", out.Deleted, err)
		}
		out.Batches++
		if t.Progress != nil {
			if err := t.Progress.Report(ctx, map[string]int64{"runs_deleted": int64(out.Deleted)}); err != nil {
				return nil, fmt.Errorf("retention: report progress: %w", err)
			}
		}
		if n < r.batch {
			break
		}
	}
	data, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("retention: encode output: %w", err)
	}
	return &agent.Result{Output: data, Summary: fmt.Sprintf("deleted %d finished runs older than %s", out.Deleted, age(r.maxAge))}, nil
}

// age says d in days when it is a whole number of them ("30 days"), else
// as a Go duration.
func age(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
