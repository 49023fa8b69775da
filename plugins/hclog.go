package plugins

import (
	"bytes"
	"io"
	stdlog "log"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/go-hclog"
)

// hclogger adapts a go-kit logger to the hclog.Logger go-plugin wants, so
// that go-plugin's own logs and the plugin's stderr lines (which go-plugin
// re-logs through it) land in the host's go-kit logger. The go-kit logger
// decides what is kept: hclogger passes every level on.
type hclogger struct {
	l       log.Logger
	name    string
	implied []any
}

var _ hclog.Logger = (*hclogger)(nil)

// newHCLogger returns an hclog.Logger that logs to l.
func newHCLogger(l log.Logger) *hclogger { return &hclogger{l: l} }

// Log logs msg and args at lvl.
func (h *hclogger) Log(lvl hclog.Level, msg string, args ...any) {
	kv := make([]any, 0, 4+len(h.implied)+len(args))
	kv = append(kv, "msg", msg)
	if h.name != "" {
		kv = append(kv, "logger", h.name)
	}
	kv = append(kv, h.implied...)
	kv = append(kv, renameKeys(args)...)
	if len(kv)%2 != 0 {
		kv = append(kv, log.ErrMissingValue)
	}
	var l log.Logger
	switch {
	case lvl >= hclog.Error:
		l = level.Error(h.l)
	case lvl == hclog.Warn:
		l = level.Warn(h.l)
	case lvl == hclog.Info:
		l = level.Info(h.l)
	default:
		l = level.Debug(h.l)
	}
	_ = l.Log(kv...)
}

// renameKeys renames go-plugin's "plugin" key (the binary's path) to
// "path", since the host's logger has a "plugin" key of its own (the
// plugin's name).
func renameKeys(args []any) []any {
	out := make([]any, len(args))
	copy(out, args)
	for i := 0; i+1 < len(out); i += 2 {
		if k, ok := out[i].(string); ok && k == "plugin" {
			out[i] = "path"
		}
	}
	return out
}

// Trace logs at trace level (go-kit's debug).
func (h *hclogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }

// Debug logs at debug level.
func (h *hclogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }

// Info logs at info level.
func (h *hclogger) Info(msg string, args ...any) { h.Log(hclog.Info, msg, args...) }

// Warn logs at warn level.
func (h *hclogger) Warn(msg string, args ...any) { h.Log(hclog.Warn, msg, args...) }

// Error logs at error level.
func (h *hclogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

// IsTrace reports true: the go-kit logger filters.
func (h *hclogger) IsTrace() bool { return true }

// IsDebug reports true: the go-kit logger filters.
func (h *hclogger) IsDebug() bool { return true }

// IsInfo reports true: the go-kit logger filters.
func (h *hclogger) IsInfo() bool { return true }

// IsWarn reports true: the go-kit logger filters.
func (h *hclogger) IsWarn() bool { return true }

// IsError reports true: the go-kit logger filters.
func (h *hclogger) IsError() bool { return true }

// ImpliedArgs returns the key/value pairs of With.
func (h *hclogger) ImpliedArgs() []any { return h.implied }

// With returns a logger that adds args to every line.
func (h *hclogger) With(args ...any) hclog.Logger {
	c := *h
	c.implied = append(append([]any(nil), h.implied...), renameKeys(args)...)
	return &c
}

// Name returns the logger's name.
func (h *hclogger) Name() string { return h.name }

// Named returns a logger whose name has name appended.
func (h *hclogger) Named(name string) hclog.Logger {
	c := *h
	if c.name != "" {
		c.name += "." + name
	} else {
		c.name = name
	}
	return &c
}

// ResetNamed returns a logger named name.
func (h *hclogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

// SetLevel does nothing: the go-kit logger filters.
func (h *hclogger) SetLevel(hclog.Level) {}

// GetLevel returns hclog.Trace: every line is passed on.
func (h *hclogger) GetLevel() hclog.Level { return hclog.Trace }

// StandardLogger returns a standard library logger that logs each line at
// info level.
func (h *hclogger) StandardLogger(*hclog.StandardLoggerOptions) *stdlog.Logger {
	return stdlog.New(h.StandardWriter(nil), "", 0)
}

// StandardWriter returns a writer that logs each write at info level.
func (h *hclogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		h.Info(string(bytes.TrimRight(p, "\n")))
		return len(p), nil
	})
}

// writerFunc adapts a function to io.Writer.
type writerFunc func(p []byte) (int, error)

// Write calls f(p).
func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
