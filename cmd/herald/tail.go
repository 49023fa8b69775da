package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/heraldhq/herald/api"
	"github.com/heraldhq/herald/store"
)

// Bounds of runs tail.
const (
	// tailIntervalDefault is how often tail asks for new runs.
	tailIntervalDefault = 2 * time.Second
	// tailWindow bounds how far back tail keeps following unfinished
	// runs' statuses, from the newest run it has seen; older runs it stops
	// following.
	tailWindow = time.Hour
	// tailMaxPages bounds the pages one poll reads.
	tailMaxPages = 20
)

// runsTail prints the runs that match the filters as they appear, and
// again each time one's status changes, until interrupted. The API has
// no stream: it polls GET /v1/runs with since set to the oldest unfinished
// run it follows (else the newest it has seen), by the server's times, so
// neither the clocks' difference nor a burst larger than a page loses a
// run.
func runsTail(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "[-n N] [-interval DUR] [the filters of runs list]")
	filters := registerRunFilters(c, f)
	var last int
	var interval time.Duration
	f.IntVar(&last, "n", 10, "first show the newest `N` runs already there (0: none)")
	f.DurationVar(&interval, "interval", tailIntervalDefault, "ask for new runs every `duration`")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	switch {
	case last < 0 || last > 1000:
		return usagef(name, "flag -n: want 0 to 1000, not %d", last)
	case interval < 10*time.Millisecond:
		return usagef(name, "flag -interval: want at least 10ms, not %s", interval)
	}
	cl, err := c.client(name)
	if err != nil {
		return err
	}
	defer cl.close()

	t := &tailer{c: c, cl: cl, filters: filters, seen: map[string]seenRun{}}
	if err := t.start(ctx, last); err != nil {
		return err
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := t.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ae *apiError
			if errors.As(err, &ae) && ae.Status < 500 && ae.Status != http.StatusTooManyRequests {
				return err
			}
			fmt.Fprintf(c.stderr, "herald: %v (retrying)\n", err)
		}
	}
}

// seenRun is what tail remembers of a run it printed.
type seenRun struct {
	status  string
	created time.Time
}

// tailer is the state of runs tail.
type tailer struct {
	c       *cli
	cl      *client
	filters *runFilters
	seen    map[string]seenRun
	newest  time.Time // the newest creation time seen; zero before any run
}

// start shows the newest n runs and marks every run there as seen.
func (t *tailer) start(ctx context.Context, n int) error {
	q := t.filters.query()
	q.Set("limit", strconv.Itoa(max(n, 1)))
	var page api.RunList
	if _, err := t.cl.get(ctx, "/v1/runs", q, &page); err != nil {
		return err
	}
	if t.c.output == "text" {
		fmt.Fprintf(t.c.stdout, "%-20s  %-12s  %-36s  %-8s  %-16s  %s\n", "TIME", "STATUS", "RUN", "KIND", "AGENT", "OWNER")
	}
	runs := page.Runs
	if n == 0 {
		runs = nil
	}
	for _, r := range slices.Backward(runs) {
		if err := t.print(r); err != nil {
			return err
		}
	}
	for _, r := range page.Runs {
		t.remember(r)
	}
	return nil
}

// poll reads the runs of the window and prints those new or changed.
func (t *tailer) poll(ctx context.Context) error {
	from := t.windowStart()
	q := t.filters.query()
	if !from.IsZero() && (t.filters.since.t.IsZero() || from.After(t.filters.since.t)) {
		q.Set("since", from.UTC().Format(time.RFC3339Nano))
	}
	q.Set("limit", "1000")
	var runs []*api.Run
	for range tailMaxPages {
		var page api.RunList
		if _, err := t.cl.get(ctx, "/v1/runs", q, &page); err != nil {
			return err
		}
		runs = append(runs, page.Runs...)
		if page.NextCursor == nil {
			break
		}
		q.Set("cursor", *page.NextCursor)
	}
	for _, r := range slices.Backward(runs) { // oldest first
		if s, ok := t.seen[r.ID]; ok && s.status == r.Status {
			continue
		}
		if err := t.print(r); err != nil {
			return err
		}
		t.remember(r)
	}
	t.forget(from)
	return nil
}

// windowStart is the creation time from which tail asks for runs: the
// oldest unfinished run it follows, no older than tailWindow before the
// newest it has seen; zero (every run) before it has seen any.
func (t *tailer) windowStart() time.Time {
	from := t.newest
	floor := t.newest.Add(-tailWindow)
	for _, s := range t.seen {
		if !store.RunStatus(s.status).Terminal() && s.created.Before(from) && !s.created.Before(floor) {
			from = s.created
		}
	}
	return from
}

// remember records r as printed.
func (t *tailer) remember(r *api.Run) {
	t.seen[r.ID] = seenRun{status: r.Status, created: r.CreatedAt}
	if r.CreatedAt.After(t.newest) {
		t.newest = r.CreatedAt
	}
}

// forget drops the runs created before from, which no poll lists again.
func (t *tailer) forget(from time.Time) {
	for id, s := range t.seen {
		if s.created.Before(from) {
			delete(t.seen, id)
		}
	}
}

// print writes one line about r.
func (t *tailer) print(r *api.Run) error {
	if t.c.output == "json" {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode output: %w", err)
		}
		_, err = t.c.stdout.Write(append(b, '\n'))
		return err
	}
	at := r.CreatedAt
	switch {
	case r.FinishedAt != nil:
		at = *r.FinishedAt
	case r.StartedAt != nil:
		at = *r.StartedAt
	}
	_, err := fmt.Fprintf(t.c.stdout, "%-20s  %-12s  %-36s  %-8s  %-16s  %s\n",
		at.UTC().Format(time.RFC3339), cell(runStatus(r)), r.ID, cell(r.Kind), cell(r.Agent), cell(r.Owner))
	return err
}
