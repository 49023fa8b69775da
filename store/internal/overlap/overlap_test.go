package overlap

import (
	"testing"

	"github.com/heraldhq/herald/store"
)

func TestDecide(t *testing.T) {
	idle := Active{}
	running := Active{Running: 1}
	queued := Active{Queued: 1}
	buffered := Active{Running: 1, Held: 1}
	tests := []struct {
		policy store.OverlapPolicy
		active Active
		want   Decision
	}{
		{store.OverlapSkip, idle, Decision{}},
		{store.OverlapSkip, running, Decision{Skip: true}},
		{store.OverlapSkip, queued, Decision{Skip: true}},
		{"", running, Decision{Skip: true}},
		{store.OverlapBufferOne, idle, Decision{}},
		{store.OverlapBufferOne, running, Decision{Held: true}},
		{store.OverlapBufferOne, queued, Decision{Held: true}},
		{store.OverlapBufferOne, buffered, Decision{Skip: true}},
		{store.OverlapBufferAll, idle, Decision{}},
		{store.OverlapBufferAll, running, Decision{Held: true}},
		{store.OverlapBufferAll, buffered, Decision{Held: true}},
		{store.OverlapCancelOther, idle, Decision{}},
		{store.OverlapCancelOther, running, Decision{CancelOthers: true, Held: true}},
		{store.OverlapCancelOther, queued, Decision{CancelOthers: true}},
		{store.OverlapAllowAll, buffered, Decision{}},
	}
	for _, tt := range tests {
		if got := Decide(tt.policy, tt.active); got != tt.want {
			t.Errorf("Decide(%q, %+v) = %+v, want %+v", tt.policy, tt.active, got, tt.want)
		}
	}
}

func TestApplyChainsABatch(t *testing.T) {
	// Three ticks of a buffer_one schedule in one batch while one run is
	// running: the first is held, the next two are skipped.
	a := Active{Running: 1}
	var got []Decision
	for range 3 {
		d := Decide(store.OverlapBufferOne, a)
		a = d.Apply(a)
		got = append(got, d)
	}
	want := []Decision{{Held: true}, {Skip: true}, {Skip: true}}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tick %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	// cancel_other with a queued run: the queued one is cancelled, the new
	// one queued; a second tick then cancels the first new one.
	a = Active{Queued: 1}
	d := Decide(store.OverlapCancelOther, a)
	a = d.Apply(a)
	if a != (Active{Queued: 1}) || !d.CancelOthers || d.Held {
		t.Fatalf("cancel_other: decision %+v left %+v", d, a)
	}
}
