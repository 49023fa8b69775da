package memstore

import (
	"encoding/json"
	"maps"

	"github.com/heraldhq/herald/store"
)

// The clone functions copy records in and out of the store, so that no
// caller ever aliases the store's memory.

func cloneSchedule(s *store.Schedule) *store.Schedule {
	c := *s
	c.Payload = cloneJSON(s.Payload)
	c.Targets = cloneTargets(s.Targets)
	return &c
}

func cloneRun(r *store.Run) *store.Run {
	c := *r
	c.Payload = cloneJSON(r.Payload)
	c.Targets = cloneTargets(r.Targets)
	c.TraceContext = maps.Clone(r.TraceContext)
	c.Output = cloneJSON(r.Output)
	c.Progress = cloneProgress(r.Progress)
	return &c
}

func cloneEvent(e *store.Event) *store.Event {
	c := *e
	c.Body = cloneBytes(e.Body)
	if e.Headers != nil {
		c.Headers = make(map[string][]string, len(e.Headers))
		for k, v := range e.Headers {
			c.Headers[k] = append([]string(nil), v...)
		}
	}
	return &c
}

func cloneDelivery(d *store.Delivery) *store.Delivery {
	c := *d
	return &c
}

func cloneCursor(c *store.Cursor) *store.Cursor {
	cc := *c
	return &cc
}

func cloneMessage(m *store.Message) *store.Message {
	c := *m
	c.Raw = cloneJSON(m.Raw)
	return &c
}

func cloneJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

func cloneTargets(ts []store.Target) []store.Target {
	if len(ts) == 0 {
		return nil
	}
	return append([]store.Target(nil), ts...)
}

func cloneProgress(p map[string]int64) map[string]int64 {
	if p == nil {
		return nil
	}
	return maps.Clone(p)
}
