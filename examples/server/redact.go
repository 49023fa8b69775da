package main

import (
	"fmt"
	stdlog "log"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// redacted replaces a secret in logged text.
const redacted = "xxxxx"

// dsnSummary describes a DSN for the log without its secrets: host, port
// and database of a PostgreSQL URL (no user, password or parameters), the
// file of a SQLite DSN.
func dsnSummary(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, ":")
	if !ok || strings.Contains(scheme, "/") || strings.Contains(scheme, string(filepath.Separator)) {
		return stripQuery(dsn) // a plain path
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		u, err := url.Parse(dsn)
		if err != nil {
			return scheme + "://(unparsable DSN)"
		}
		return u.Host + u.Path
	case "sqlite", "file":
		return stripQuery(strings.TrimPrefix(rest, "//"))
	}
	// Unknown scheme (or a Windows drive letter): say nothing that could
	// be a secret.
	return scheme + ":…"
}

func stripQuery(s string) string {
	s, _, _ = strings.Cut(s, "?")
	return s
}

// dsnSecrets returns the parts of dsn that must never reach a log: the
// password of a URL, the values of parameters whose name mentions a
// password, and the password of a key=value DSN. When there is any, the
// whole DSN is a secret too.
func dsnSecrets(dsn string) []string {
	var out []string
	if u, err := url.Parse(dsn); err == nil {
		if p, ok := u.User.Password(); ok {
			out = append(out, p, url.QueryEscape(p), url.PathEscape(p))
		}
		for k, vs := range u.Query() {
			if strings.Contains(strings.ToLower(k), "pass") {
				out = append(out, vs...)
			}
		}
	} else if i := strings.Index(dsn, "://"); i >= 0 {
		// Unparsable URL: the user info runs to the last @.
		if at := strings.LastIndex(dsn, "@"); at > i {
			if _, p, ok := strings.Cut(dsn[i+3:at], ":"); ok {
				out = append(out, p)
			}
		}
	}
	for _, f := range strings.Fields(dsn) {
		k, v, ok := strings.Cut(f, "=")
		if ok && strings.Contains(strings.ToLower(k), "pass") {
			out = append(out, strings.Trim(v, `'"`))
		}
	}
	out = nonEmpty(out)
	if len(out) > 0 {
		out = append([]string{dsn}, out...)
	}
	return out
}

func nonEmpty(ss []string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// redactLogger replaces secrets in the values it logs. It sits below the
// logger's context (log.With), so that the values it sees are final.
type redactLogger struct {
	next     log.Logger
	replacer *strings.Replacer
}

// newRedactLogger returns next when there is nothing to hide.
func newRedactLogger(next log.Logger, secrets ...string) log.Logger {
	secrets = nonEmpty(append([]string(nil), secrets...))
	if len(secrets) == 0 {
		return next
	}
	// strings.Replacer tries the old strings in argument order at each
	// position: put the longest first, so the whole DSN goes before its
	// password.
	var pairs []string
	for len(secrets) > 0 {
		longest := 0
		for i, s := range secrets {
			if len(s) > len(secrets[longest]) {
				longest = i
			}
		}
		pairs = append(pairs, secrets[longest], redacted)
		secrets = append(secrets[:longest], secrets[longest+1:]...)
	}
	return &redactLogger{next: next, replacer: strings.NewReplacer(pairs...)}
}

// Log implements log.Logger.
func (l *redactLogger) Log(keyvals ...any) error {
	kv := make([]any, len(keyvals))
	for i, v := range keyvals {
		switch x := v.(type) {
		case string:
			kv[i] = l.replacer.Replace(x)
		case error:
			kv[i] = l.replacer.Replace(x.Error())
		case fmt.Stringer:
			kv[i] = l.replacer.Replace(x.String())
		default:
			kv[i] = v
		}
	}
	return l.next.Log(kv...)
}

// stdlibLogger adapts logger for net/http's error log.
func stdlibLogger(logger log.Logger) *stdlog.Logger {
	return stdlog.New(log.NewStdlibAdapter(level.Error(logger)), "", 0)
}
