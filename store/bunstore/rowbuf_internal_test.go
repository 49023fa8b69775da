package bunstore

import (
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

// TestRunRowBufsComeBackEmpty: a buffer taken from the pool is empty and
// holds nothing of the runs it carried before, over its whole capacity,
// whatever size its last user filled it to. The pool may drop a buffer
// (it does at random under the race detector), so the test fills and
// gives back many and checks every one it takes.
func TestRunRowBufsComeBackEmpty(t *testing.T) {
	for i := range 50 {
		n := 1 + i%7
		rows := takeRunRows(n)
		if len(rows) != 0 || cap(rows) < n {
			t.Fatalf("takeRunRows(%d): len %d, cap %d; want an empty buffer with room for %d", n, len(rows), cap(rows), n)
		}
		for j := range rows[:cap(rows)] {
			if !reflect.ValueOf(rows[:cap(rows)][j]).IsZero() {
				t.Fatalf("takeRunRows(%d): row %d of its capacity holds %+v, want a zero row", n, j, rows[:cap(rows)][j])
			}
		}
		for j := range n {
			rows = append(rows, runRow{ID: "run", Owner: "owner", Payload: `{"n":1}`, Attempt: j + 1, RunAt: time.Unix(int64(j), 0)})
		}
		giveRunRows(rows)
	}
	// Asking for more than a pooled buffer holds gets a new one.
	if rows := takeRunRows(runRowBufMax + 1); cap(rows) < runRowBufMax+1 || len(rows) != 0 {
		t.Fatalf("takeRunRows(%d): len %d, cap %d", runRowBufMax+1, len(rows), cap(rows))
	}
	// A buffer bigger than the pool keeps is left to the collector: the
	// next buffer taken is never it, though the pool hands back the buffer
	// given last when it kept it.
	for range 10 {
		giveRunRows(make([]runRow, 1, runRowBufMax+1))
		if rows := takeRunRows(1); cap(rows) > runRowBufMax {
			t.Fatalf("takeRunRows(1) after an oversized buffer was given back: cap %d, want at most %d", cap(rows), runRowBufMax)
		}
	}
}

// TestInOrder: the rows a batch statement changed are lined up with the
// ids asked for, whatever order they come back in; an id with no row is
// nil and named by a *store.LeaseLostError, and so is the second entry of
// an id asked for twice.
func TestInOrder(t *testing.T) {
	row := func(id string) runRow { return runRow{ID: id, Status: string(store.RunSucceeded)} }
	ids := func(runs []*store.Run) []string {
		out := make([]string, len(runs))
		for i, r := range runs {
			if r != nil {
				out[i] = r.ID
			}
		}
		return out
	}
	for _, c := range []struct {
		name string
		ask  []string
		done []runRow
		want []string // "" where nil
		lost []string
	}{
		{"in order", []string{"a", "b", "c"}, []runRow{row("a"), row("b"), row("c")}, []string{"a", "b", "c"}, nil},
		{"out of order", []string{"a", "b", "c"}, []runRow{row("c"), row("a"), row("b")}, []string{"a", "b", "c"}, nil},
		{"one missing", []string{"a", "b", "c"}, []runRow{row("a"), row("c")}, []string{"a", "", "c"}, []string{"b"}},
		{"asked twice", []string{"a", "b", "a"}, []runRow{row("a"), row("b")}, []string{"a", "b", ""}, []string{"a"}},
		{"same length, one foreign", []string{"a", "b"}, []runRow{row("a"), row("x")}, []string{"a", ""}, []string{"b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := inOrder(c.ask, c.done)
			if g := ids(got); !slices.Equal(g, c.want) {
				t.Errorf("inOrder(%v) = %q, want %q", c.ask, g, c.want)
			}
			var lle *store.LeaseLostError
			switch {
			case c.lost == nil && err != nil:
				t.Errorf("inOrder(%v): %v, want no error", c.ask, err)
			case c.lost != nil && (!errors.As(err, &lle) || !slices.Equal(lle.RunIDs, c.lost)):
				t.Errorf("inOrder(%v): %v, want a LeaseLostError naming %q", c.ask, err, c.lost)
			}
		})
	}
}
