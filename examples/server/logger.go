package main

import (
	"io"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// logConfig is the log: section.
type logConfig struct {
	// Format is logfmt (the default) or json.
	Format string `yaml:"format"`
	// Level is the lowest level logged: debug, info (the default), warn
	// or error.
	Level string `yaml:"level"`
}

func (c logConfig) check(p *problems, path string) {
	switch c.Format {
	case "", "logfmt", "json":
	default:
		p.add(key(path, "format"), "must be logfmt or json")
	}
	switch c.Level {
	case "", "debug", "info", "warn", "error":
	default:
		p.add(key(path, "level"), "must be debug, info, warn or error")
	}
}

// newLogger returns the server's logger: on w, in c's format, from c's
// level up (info when unset), with a timestamp and the caller, and every
// secret replaced by xxxxx. c is checked already: an unknown format is
// logfmt, an unknown level info.
func newLogger(w io.Writer, c logConfig, secrets ...string) log.Logger {
	var l log.Logger
	if c.Format == "json" {
		l = log.NewJSONLogger(log.NewSyncWriter(w))
	} else {
		l = log.NewLogfmtLogger(log.NewSyncWriter(w))
	}
	l = newRedactLogger(l, secrets...)
	allow := level.AllowInfo()
	switch c.Level {
	case "debug":
		allow = level.AllowDebug()
	case "warn":
		allow = level.AllowWarn()
	case "error":
		allow = level.AllowError()
	}
	l = level.NewFilter(l, allow)
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
}
