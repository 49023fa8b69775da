package trigger

import (
	"errors"
	"time"

	"github.com/heraldhq/herald/store"
)

// CompileStore is Compile of a stored trigger: what storekit checks a
// schedule's trigger with and the scheduler fires. An *Error comes back as
// the store's *store.ValidationError naming the same field.
func CompileStore(t store.Trigger, anchor time.Time) (*Trigger, error) {
	c, err := Compile(Spec{Kind: string(t.Kind), Cron: t.Cron, Interval: t.Interval, At: t.At,
		Timezone: t.Timezone, StartAt: t.StartAt, EndAt: t.EndAt, Jitter: t.Jitter}, anchor)
	if te, ok := errors.AsType[*Error](err); ok {
		return nil, store.Invalid(te.Field, te.Rule)
	}
	return c, err
}
