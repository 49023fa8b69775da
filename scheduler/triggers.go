package scheduler

import (
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/internal/trigger"
	"github.com/heraldhq/herald/store"
)

// triggerCacheMax bounds the compiled triggers kept for reuse.
const triggerCacheMax = 10_000

// triggerCache shares compiled triggers between schedules with the same
// spec, so a hundred thousand schedules on a few expressions keep a few
// compiled expressions. Triggers are immutable.
type triggerCache struct {
	mu sync.Mutex
	m  map[string]*trigger.Trigger
}

func newTriggerCache() *triggerCache { return &triggerCache{m: map[string]*trigger.Trigger{}} }

// compile returns the compiled trigger of sch.
func (c *triggerCache) compile(sch *store.Schedule) (*trigger.Trigger, error) {
	spec, anchor := sch.Trigger, anchorOf(sch)
	key := fmt.Sprintf("%s|%s|%d|%d|%s|%d|%d|%d", spec.Kind, spec.Cron, spec.Interval, spec.At.UnixNano(),
		spec.Timezone, spec.StartAt.UnixNano(), spec.EndAt.UnixNano(), anchor.UnixNano())
	c.mu.Lock()
	t, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := trigger.CompileStore(spec, anchor)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= triggerCacheMax {
		clear(c.m)
	}
	c.m[key] = t
	c.mu.Unlock()
	return t, nil
}

// anchorOf is the origin of an interval trigger: its start, else the
// schedule's creation. It is zero for the other kinds, which need none (so
// they share compiled triggers).
func anchorOf(sch *store.Schedule) time.Time {
	if sch.Trigger.Kind == store.TriggerCron && !isEvery(sch.Trigger.Cron) {
		return time.Time{}
	}
	if sch.Trigger.Kind == store.TriggerOnce {
		return time.Time{}
	}
	if !sch.Trigger.StartAt.IsZero() {
		return sch.Trigger.StartAt
	}
	return sch.CreatedAt
}

func isEvery(expr string) bool {
	return len(expr) > 6 && expr[:6] == "@every"
}
