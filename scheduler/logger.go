package scheduler

import (
	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// quartzLogger writes go-quartz's logs to a go-kit logger.
type quartzLogger struct{ l log.Logger }

func (q quartzLogger) kv(msg string, args []any) []any {
	return append([]any{"msg", msg, "component", "timer"}, args...)
}

func (q quartzLogger) Trace(msg string, args ...any) {}
func (q quartzLogger) Debug(msg string, args ...any) { level.Debug(q.l).Log(q.kv(msg, args)...) }

// Info is logged at debug level: go-quartz reports its own start and stop
// at info, which says nothing the scheduler's logs do not.
func (q quartzLogger) Info(msg string, args ...any)  { level.Debug(q.l).Log(q.kv(msg, args)...) }
func (q quartzLogger) Warn(msg string, args ...any)  { level.Warn(q.l).Log(q.kv(msg, args)...) }
func (q quartzLogger) Error(msg string, args ...any) { level.Error(q.l).Log(q.kv(msg, args)...) }
