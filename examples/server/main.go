// Command server is Herald's bundled example server: it opens a store
// (an embedded SQLite file by default, PostgreSQL when given a postgres://
// DSN), applies the migrations, runs the scheduler with the built-in
// agents (echo, health_check, kpi_report, retention), the static schedules
// and the delivery channels of its config file (log always; slack, teams,
// email and callback when configured), and serves the REST API of package
// api at /v1 (schedules, runs, events, trigger previews, the config file's
// webhook sources at POST /v1/webhooks/{source}), with /healthz, /readyz
// and /metrics at the root.
//
// Requests carry a bearer token: one of the config file's auth tokens, a
// JWT it accepts, or the admin token the server makes on its first start
// when the config file sets no auth. That token is printed once, with a
// curl line, and only its SHA-256 is kept in the store;
// -reset-admin-token makes a new one and revokes the old.
//
// It is the reference for how the library is wired.
//
// Usage:
//
//	server [-addr 127.0.0.1:8080] [-db sqlite://herald.db] [-config herald.yaml] [-reset-admin-token]
//
// HERALD_ADDR, HERALD_DATABASE_URL and HERALD_CONFIG set the same values.
// The address and the database are taken from the flag, else the
// variable, else the config file's listen and database, else the default.
//
// The config file is YAML; ${VAR} in a value is replaced by the
// variable's value. herald.example.yaml shows and explains every key; in
// short:
//
//	listen: 127.0.0.1:8080
//	database: sqlite://herald.db
//	auth:
//	  tokens: [{subject: ops, role: admin, token: "${HERALD_ADMIN_TOKEN}"}]
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
//
// A config file with problems is refused, with every problem listed by
// line and key ("line 12: schedules[0].deliver[0].channel: must be one of
// log, email"), and the server exits with status 2.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

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
	// File is the config file's path, for messages; empty means none.
	File string
	// Settings are the config file's, checked; zero when there is none.
	Settings fileConfig
	// ResetAdminToken makes a new generated admin token, revoking the
	// one before (-reset-admin-token).
	ResetAdminToken bool
	// Out receives what the operator must see once (a generated admin
	// token); nil means os.Stdout.
	Out io.Writer
	// Ready, when set, receives the address the server listens on, once it
	// listens.
	Ready chan<- string
}

// loadConfig reads the flags in args and the environment (through
// getenv), then the config file they name, and settles each setting:
// flag, else variable, else config file, else default. Its error is
// flag.ErrHelp for -h, a *configError listing the config file's problems,
// or another error saying what is wrong.
func loadConfig(args []string, getenv func(string) string, output io.Writer) (config, error) {
	var addr, database, file string
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&addr, "addr", getenv(envAddr),
		"address to listen on (env "+envAddr+"; else the config file's listen; default "+addrDefault+")")
	fs.StringVar(&database, "db", getenv(envDatabase),
		"store DSN: sqlite://FILE, FILE.db or postgres://USER@HOST:PORT/DB (env "+envDatabase+"; else the config file's database; default "+databaseDefault+")")
	fs.StringVar(&file, "config", getenv(envConfig),
		"config file (YAML; ${VAR} expanded from the environment; see herald.example.yaml) (env "+envConfig+")")
	var reset bool
	fs.BoolVar(&reset, "reset-admin-token", false,
		"make a new admin token, print it once and revoke the one made before (the config file's tokens are not touched)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	fs.Visit(func(f *flag.Flag) {
		if f.Value.String() == "" && f.Name != "config" {
			err = fmt.Errorf("-%s must not be empty", f.Name)
		}
	})
	if err != nil {
		return config{}, err
	}
	cfg := config{File: file, ResetAdminToken: reset}
	if file != "" {
		fc, err := loadConfigFile(file, getenv)
		if err != nil {
			return config{}, err
		}
		cfg.Settings = *fc
	}
	cfg.Addr = cmp.Or(addr, cfg.Settings.Listen, addrDefault)
	cfg.Database = cmp.Or(database, cfg.Settings.Database, databaseDefault)
	return cfg, nil
}

// secrets lists what the log must never show: the DSN's password, and
// the config file's tokens, passwords and signing secrets.
func (c config) secrets() []string {
	return append(dsnSecrets(c.Database), c.Settings.secrets()...)
}

func main() {
	cfg, err := loadConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(2)
	}
	logger := newLogger(os.Stderr, cfg.Settings.Log, cfg.secrets()...)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, logger); err != nil {
		level.Error(logger).Log("msg", "server failed", "err", err)
		os.Exit(1)
	}
}
