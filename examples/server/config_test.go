package main

import (
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/go-kit/log"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
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
			name: "config file",
			args: []string{"-config", "flag.yaml"},
			env:  map[string]string{"HERALD_CONFIG": "env.yaml"},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db", File: "flag.yaml"},
		},
		{
			name: "config file from the environment",
			env:  map[string]string{"HERALD_CONFIG": "env.yaml"},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db", File: "env.yaml"},
		},
		{
			name: "empty variables are unset",
			env:  map[string]string{"HERALD_ADDR": "", "HERALD_DATABASE_URL": ""},
			want: config{Addr: "127.0.0.1:8080", Database: "sqlite://herald.db"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, func(k string) string { return tt.env[k] }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseConfig = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{
		{"-nope"},
		{"extra"},
		{"-addr", ""},
		{"-db", ""},
	} {
		if _, err := parseConfig(args, noEnv, io.Discard); err == nil {
			t.Errorf("parseConfig(%q) = nil error, want one", args)
		}
	}
	if _, err := parseConfig([]string{"-h"}, noEnv, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseConfig(-h) = %v, want flag.ErrHelp", err)
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
