package scheduler

import (
	"time"

	"github.com/heraldhq/herald/store"
)

// Observer is told what the engine does, for metrics and traces: the
// engine stays free of any metrics library, and a package such as
// github.com/heraldhq/herald/metrics turns observations into series.
// Observe is called synchronously on the engine's goroutines: it must be
// quick, must not block, and must be safe for concurrent use. It must not
// keep or change the records it is handed.
//
// Observer grows by new Observation types, never by new methods: an
// observer ignores the types it does not know.
type Observer interface {
	Observe(o Observation)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(o Observation)

// Observe implements Observer.
func (f ObserverFunc) Observe(o Observation) { f(o) }

// Observation is one thing the engine did: one of the *Observed types of
// this package.
type Observation interface {
	observation()
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) Observe(Observation) {}

var _ = time.Second
var _ store.RunStatus
