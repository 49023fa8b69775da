package bunstore

import (
	"database/sql"
	"fmt"
	"time"
)

// Claims, finishes and rescues return whole runs (RETURNING *), so the
// scheduler reads a run row per run it works. bun scans such rows through
// reflection: a map lookup per column, a reflect.Append per row and the
// allocations of both were a sixth of the CPU of a process running the
// scheduler on PostgreSQL (the bench harness's continuous workload).
// scanRunRows reads them by hand instead: each column of the result is
// matched to its field once per query, and each value goes straight to
// its field. The values are those the drivers give (pgx's database/sql
// driver: strings, []byte for JSON, int64, bool, time.Time; SQLite's: the
// same with integers for booleans); NULL is the field's zero value, as
// bun's nullzero reads it.

// runFields sets the field of a runRow that a column of herald_runs (or
// the claim's row_id) is read into, by column name.
var runFields = map[string]func(r *runRow, v any) error{
	"id":               func(r *runRow, v any) error { return scanText(&r.ID, v) },
	"kind":             func(r *runRow, v any) error { return scanText(&r.Kind, v) },
	"schedule_id":      func(r *runRow, v any) error { return scanText(&r.ScheduleID, v) },
	"scheduled_for":    func(r *runRow, v any) error { return scanTime(&r.ScheduledFor, v) },
	"event_id":         func(r *runRow, v any) error { return scanText(&r.EventID, v) },
	"owner":            func(r *runRow, v any) error { return scanText(&r.Owner, v) },
	"agent":            func(r *runRow, v any) error { return scanText(&r.Agent, v) },
	"payload":          func(r *runRow, v any) error { return scanText(&r.Payload, v) },
	"targets":          func(r *runRow, v any) error { return scanText(&r.Targets, v) },
	"idempotency_key":  func(r *runRow, v any) error { return scanText(&r.IdempotencyKey, v) },
	"status":           func(r *runRow, v any) error { return scanText(&r.Status, v) },
	"held":             func(r *runRow, v any) error { return scanBool(&r.Held, v) },
	"attempt":          func(r *runRow, v any) error { return scanInt(&r.Attempt, v) },
	"max_attempts":     func(r *runRow, v any) error { return scanInt(&r.MaxAttempts, v) },
	"timeout":          func(r *runRow, v any) error { return scanInt(&r.Timeout, v) },
	"run_at":           func(r *runRow, v any) error { return scanTime(&r.RunAt, v) },
	"lease_owner":      func(r *runRow, v any) error { return scanText(&r.LeaseOwner, v) },
	"lease_expires_at": func(r *runRow, v any) error { return scanTime(&r.LeaseExpiresAt, v) },
	"cancel_requested": func(r *runRow, v any) error { return scanBool(&r.CancelRequested, v) },
	"output":           func(r *runRow, v any) error { return scanText(&r.Output, v) },
	"summary":          func(r *runRow, v any) error { return scanText(&r.Summary, v) },
	"progress":         func(r *runRow, v any) error { return scanText(&r.Progress, v) },
	"error":            func(r *runRow, v any) error { return scanText(&r.Error, v) },
	"created_at":       func(r *runRow, v any) error { return scanTime(&r.CreatedAt, v) },
	"started_at":       func(r *runRow, v any) error { return scanTime(&r.StartedAt, v) },
	"finished_at":      func(r *runRow, v any) error { return scanTime(&r.FinishedAt, v) },
	"deliver_after":    func(r *runRow, v any) error { return scanTime(&r.DeliverAfter, v) },
	"cancel_reason":    func(r *runRow, v any) error { return scanText(&r.CancelReason, v) },
	"trace_context":    func(r *runRow, v any) error { return scanText(&r.TraceContext, v) },
	"row_id":           func(r *runRow, v any) error { return scanInt(&r.RowID, v) },
}

// runColumn is the sql.Scanner of one column of a result of runs: it sets
// its field of the row being read.
type runColumn struct {
	row  **runRow
	name string
	set  func(r *runRow, v any) error
}

// Scan implements sql.Scanner.
func (c *runColumn) Scan(v any) error {
	if err := c.set(*c.row, v); err != nil {
		return fmt.Errorf("column %s: %w", c.name, err)
	}
	return nil
}

// scanRunRows reads rows of herald_runs into dest, which it empties first,
// as bun would, keeping its capacity: a caller that knows how many rows
// may come gives it room for them, as a runRow is half a kilobyte and a
// slice grown by appends allocates about twice what it ends with. A column
// that is not one of runRow's is an error.
func scanRunRows(rows *sql.Rows, dest *[]runRow) error {
	names, err := rows.Columns()
	if err != nil {
		return err
	}
	var cur *runRow
	cols := make([]runColumn, len(names))
	targets := make([]any, len(names))
	for i, name := range names {
		set := runFields[name]
		if set == nil {
			return fmt.Errorf("bunstore: scan runs: column %q is not a run's", name)
		}
		cols[i] = runColumn{row: &cur, name: name, set: set}
		targets[i] = &cols[i]
	}
	out := (*dest)[:0]
	for rows.Next() {
		out = append(out, runRow{})
		cur = &out[len(out)-1]
		if err := rows.Scan(targets...); err != nil {
			return err
		}
	}
	*dest = out
	return rows.Err()
}

func scanText(dst *string, v any) error {
	switch v := v.(type) {
	case nil:
		*dst = ""
	case string:
		*dst = v
	case []byte:
		*dst = string(v)
	default:
		return fmt.Errorf("read a text from %T", v)
	}
	return nil
}

// scanTime reads a time, which SQLite gives as integer microseconds when
// the column has no declared type (an expression's); anyTime scans with it.
func scanTime(dst *time.Time, v any) error {
	switch v := v.(type) {
	case nil:
		*dst = time.Time{}
	case time.Time:
		*dst = v
	case int64:
		*dst = time.UnixMicro(v)
	default:
		return fmt.Errorf("read a time from %T", v)
	}
	return nil
}

func scanInt[T ~int | ~int64](dst *T, v any) error {
	switch v := v.(type) {
	case nil:
		*dst = 0
	case int64:
		*dst = T(v)
	default:
		return fmt.Errorf("read an integer from %T", v)
	}
	return nil
}

// scanBool reads a boolean, which SQLite keeps as an integer.
func scanBool(dst *bool, v any) error {
	switch v := v.(type) {
	case nil:
		*dst = false
	case bool:
		*dst = v
	case int64:
		*dst = v != 0
	default:
		return fmt.Errorf("read a boolean from %T", v)
	}
	return nil
}
