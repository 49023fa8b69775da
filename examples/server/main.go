// Command server is Herald's bundled example server: it opens a store
// (an embedded SQLite file by default, PostgreSQL when given a postgres://
// DSN), applies the migrations, runs the scheduler with the built-in
// agents (echo, health_check, kpi_report), the static schedules and the
// delivery channels of its config file (log always; slack, teams, email and
// callback when configured), serves the config file's webhook sources at
// POST /v1/webhooks/{source}, and health and readiness endpoints.
//
// It is the reference for how the library is wired, and grows with it: the
// REST API and authentication come later.
//
// Usage:
//
//	server [-addr 127.0.0.1:8080] [-db sqlite://herald.db] [-config herald.yaml]
//
// HERALD_ADDR, HERALD_DATABASE_URL and HERALD_CONFIG set the same values; a
// flag wins over its variable. A config file (${VAR} is expanded from the
// environment):
//
//	webhooks:
//	  - {source: github, scheme: github, secrets: ["${GITHUB_SECRET}"], agent: echo, owner: ops}
//	delivery:
//	  email: {host: smtp.example.com, username: herald, password: "${SMTP_PASSWORD}", from: herald@example.com}
//	  slack: {token: "${SLACK_BOT_TOKEN}"}
//	schedules:
//	  - name: weekly_kpi_report
//	    cron: "0 1 * * 1"
//	    agent: kpi_report
//	    deliver: [{channel: slack, to: "#ops"}, {channel: email, to: admin@example.com, on: failure}]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
)

// Defaults of the server's settings.
const (
	addrDefault     = "127.0.0.1:8080"
	databaseDefault = "sqlite://herald.db"
)

// Environment variables read by the server.
const (
	envAddr     = "HERALD_ADDR"
	envDatabase = "HERALD_DATABASE_URL"
	envConfig   = "HERALD_CONFIG"
)

// config is what run needs to know.
type config struct {
	// Addr is the TCP address to listen on; port 0 picks a free port.
	Addr string
	// Database is the store's DSN: postgres://…, sqlite://…, or a path
	// ending in .db.
	Database string
	// File is the config file's path; empty means none.
	File string
	// Getenv expands ${VAR} references in the config file; nil means
	// os.Getenv.
	Getenv func(string) string
	// Ready, when set, receives the address the server listens on, once it
	// listens.
	Ready chan<- string
}

// parseConfig reads the flags in args, falling back to the environment
// (through getenv) and then to the defaults.
func parseConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	orDefault := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var cfg config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&cfg.Addr, "addr", orDefault(envAddr, addrDefault),
		"address to listen on (env "+envAddr+")")
	fs.StringVar(&cfg.Database, "db", orDefault(envDatabase, databaseDefault),
		"store DSN: sqlite://FILE, FILE.db or postgres://USER@HOST:PORT/DB (env "+envDatabase+")")
	fs.StringVar(&cfg.File, "config", getenv(envConfig),
		"config file (YAML; ${VAR} expanded from the environment) with webhook sources, delivery channels and static schedules (env "+envConfig+")")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if cfg.Addr == "" {
		return config{}, errors.New("-addr must not be empty")
	}
	if cfg.Database == "" {
		return config{}, errors.New("-db must not be empty")
	}
	return cfg, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	logger := newLogger(os.Stderr, dsnSecrets(cfg.Database)...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		level.Error(logger).Log("msg", "server failed", "err", err)
		os.Exit(1)
	}
}

// newLogger returns the server's logger: logfmt on w, info and above, with
// a timestamp and the caller, and every secret replaced by xxxxx.
func newLogger(w io.Writer, secrets ...string) log.Logger {
	var l log.Logger = log.NewLogfmtLogger(log.NewSyncWriter(w))
	l = newRedactLogger(l, secrets...)
	l = level.NewFilter(l, level.AllowInfo())
	return log.With(l, "ts", log.DefaultTimestampUTC, "caller", log.DefaultCaller)
}
