package main

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-kit/log"
)

// mustLoadConfig is loadConfig of args with the environment env, failing
// the test on error.
func mustLoadConfig(t *testing.T, env map[string]string, args ...string) config {
	t.Helper()
	cfg, err := loadConfig(args, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatalf("loadConfig(%q): %v", args, err)
	}
	return cfg
}

// writeFile writes text to a file of a temporary directory and returns
// its path.
func writeFile(t *testing.T, text string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestLoadConfig(t *testing.T) {
	file := "listen: 127.0.0.1:7000\ndatabase: file.db\n"
	tests := []struct {
		name string
		args []string
		env  map[string]string
		file string // the config file's text, when -config names one
		want config
	}{
		{
			name: "defaults",
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db"},
		},
		{
			name: "environment",
			env:  map[string]string{"HERALD_ADDR": ":9000", "HERALD_DATABASE_URL": "postgres://db/herald"},
			want: config{Addr: ":9000", Database: "postgres://db/herald"},
		},
		{
			name: "flags win over the environment",
			args: []string{"-addr", "127.0.0.1:0", "-db", "other.db"},
			env:  map[string]string{"HERALD_ADDR": ":9000", "HERALD_DATABASE_URL": "postgres://db/herald"},
			want: config{Addr: "127.0.0.1:0", Database: "other.db"},
		},
		{
			name: "empty variables are unset",
			env:  map[string]string{"HERALD_ADDR": "", "HERALD_DATABASE_URL": ""},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db"},
		},
		{
			name: "the config file wins over the defaults",
			file: file,
			want: config{Addr: "127.0.0.1:7000", Database: "file.db"},
		},
		{
			name: "the environment wins over the config file",
			file: file,
			env:  map[string]string{"HERALD_ADDR": ":9000"},
			want: config{Addr: ":9000", Database: "file.db"},
		},
		{
			name: "flags win over the config file",
			file: file,
			args: []string{"-db", "other.db"},
			want: config{Addr: "127.0.0.1:7000", Database: "other.db"},
		},
		{
			name: "the config file's values from the environment",
			file: "listen: ${LISTEN}\ndatabase: ${DB}\n",
			env:  map[string]string{"LISTEN": ":7070", "DB": "postgres://db/h"},
			want: config{Addr: ":7070", Database: "postgres://db/h"},
		},
		{
			name: "config file from the environment",
			file: "workers: 3\n",
			env:  map[string]string{"HERALD_CONFIG": "<file>"},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			args := tt.args
			var path string
			if tt.file != "" {
				path = writeFile(t, tt.file)
				if env["HERALD_CONFIG"] == "<file>" {
					env["HERALD_CONFIG"] = path
				} else {
					args = append([]string{"-config", path}, args...)
				}
			}
			got := mustLoadConfig(t, env, args...)
			if got.File != path {
				t.Errorf("File = %q, want %q", got.File, path)
			}
			if got.Addr != tt.want.Addr || got.Database != tt.want.Database {
				t.Errorf("loadConfig = addr %q, database %q; want %q, %q", got.Addr, got.Database, tt.want.Addr, tt.want.Database)
			}
		})
	}
}

func TestLoadConfigErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-nope"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-addr", ""}, "-addr must not be empty"},
		{[]string{"-db", ""}, "-db must not be empty"},
		{[]string{"-config", "/nonexistent/herald.yaml"}, "config file: open /nonexistent/herald.yaml"},
	} {
		if _, err := loadConfig(tc.args, noEnv, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("loadConfig(%q) = %v, want an error with %q", tc.args, err, tc.want)
		}
	}
	if _, err := loadConfig([]string{"-h"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("loadConfig(-h) = %v, want flag.ErrHelp", err)
	}
	_, err := loadConfig([]string{"-config", writeFile(t, "workers: many\n")}, noEnv, io.Discard)
	if _, ok := errors.AsType[*configError](err); !ok || !strings.Contains(err.Error(), "line 1: workers: must be a whole number") {
		t.Errorf("loadConfig of a bad file = %v, want a *configError naming workers", err)
	}
}

func TestDSNSummary(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"sqlite://herald.db", "herald.db"},
		{"sqlite:///var/lib/herald/h.db?_busy_timeout=5000", "/var/lib/herald/h.db"},
		{"sqlite:h.db", "h.db"},
		{"file:h.db?mode=rwc", "h.db"},
		{"herald.db", "herald.db"},
		{"./data/herald.db", "./data/herald.db"},
		{"postgres://herald:hunter2@db.internal:5432/herald?sslmode=disable", "db.internal:5432/herald"},
		{"postgresql://db.internal/herald?password=hunter2", "db.internal/herald"},
		{"postgres://herald:hunter2@db:5432/x%zz", "postgres://(unparsable DSN)"},
		{"mysql://root:hunter2@db/herald", "mysql:…"},
	}
	for _, tt := range tests {
		if got := dsnSummary(tt.dsn); got != tt.want {
			t.Errorf("dsnSummary(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
		if strings.Contains(dsnSummary(tt.dsn), "hunter2") {
			t.Errorf("dsnSummary(%q) shows the password", tt.dsn)
		}
	}
}

func TestRedactLogger(t *testing.T) {
	tests := []struct {
		dsn    string
		logged []any
	}{
		{"postgres://herald:hunter2@db:5432/herald", []any{"dsn", "postgres://herald:hunter2@db:5432/herald"}},
		{"postgres://herald:hunter2@db:5432/herald", []any{"err", errors.New("auth failed for hunter2")}},
		{"postgres://herald:hunt%2Fer2@db/herald", []any{"msg", "password hunt/er2 or hunt%2Fer2"}},
		{"postgres://db/herald?sslpassword=hunter2", []any{"msg", "key hunter2"}},
		{"host=db user=herald password=hunter2 dbname=herald", []any{"msg", "password=hunter2"}},
		{"postgres://herald:hunter2@db:5432/x%zz", []any{"err", "parse postgres://herald:hunter2@db:5432/x%zz: bad escape"}},
	}
	for _, tt := range tests {
		var b strings.Builder
		l := newRedactLogger(log.NewLogfmtLogger(&b), dsnSecrets(tt.dsn)...)
		if err := l.Log(tt.logged...); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(b.String(), "hunter2") || strings.Contains(b.String(), "hunt") {
			t.Errorf("DSN %q: logged %q", tt.dsn, b.String())
		}
		if !strings.Contains(b.String(), redacted) {
			t.Errorf("DSN %q: logged %q, want %s in it", tt.dsn, b.String(), redacted)
		}
	}

	// Nothing to hide: the logger is unchanged.
	next := log.NewNopLogger()
	if l := newRedactLogger(next, dsnSecrets("sqlite://herald.db")...); l != next {
		t.Errorf("newRedactLogger with no secrets wraps the logger")
	}
}
