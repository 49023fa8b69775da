// Command herald is the operator's command for Herald: it migrates a
// store's database before the nodes start, and is a client of the REST API
// of package api for listing, creating, pausing, triggering and deleting
// schedules, following and cancelling runs, listing webhook events and
// previewing triggers.
//
// Install it with
//
//	go install github.com/heraldhq/herald/cmd/herald@latest
//
// Usage:
//
//	herald migrate up|status [-db DSN]
//	herald schedules list [-owner O] [-name N] [-limit N] [-cursor C] [-all]
//	herald schedules show ID|NAME
//	herald schedules create -name N -agent A (-cron EXPR | -every DUR | -at TIME) [-tz ZONE] [-payload JSON]
//	                        [-deliver CHANNEL[/ON]:TO]... [-overlap P] [-misfire P] [-timeout DUR] [-paused] [-f FILE]
//	herald schedules pause|resume|run|delete ID|NAME
//	herald runs list [-schedule ID] [-status S,S] [-agent A] [-kind K] [-owner O] [-since T] [-until T] [-all]
//	herald runs show ID
//	herald runs cancel ID [-reason TEXT]
//	herald runs tail [the filters of runs list] [-interval DUR]
//	herald events list [-source S] [-owner O] [-since T] [-until T] [-all]
//	herald preview 'CRON' [-tz ZONE] [-n 10] [-from TIME]
//	herald preview -every DUR | -at TIME [...]
//	herald version
//
// Every API command takes -server URL (default $HERALD_SERVER, else
// http://127.0.0.1:8080, the example server's address; a URL with a path
// reaches an API mounted under it), -o text|json and -request-timeout DUR (each
// request; default 30s), before or after the command's words. The bearer
// token is read from $HERALD_TOKEN, never from a flag, so that it stays out
// of shell histories and process lists. migrate reads -db, default
// $HERALD_DATABASE_URL: a DSN as package bunstore reads it (postgres://…,
// sqlite://path). Times (-since, -until, -at, -from) are RFC 3339, or for
// -since and -until a duration back from now ("1h").
//
// Output is aligned text by default; -o json writes the API's JSON answer
// (a list with -all: every page in one list), and runs tail writes one
// JSON object per line. Errors go to standard error, with the API's
// problem details (RFC 9457): its title, detail and each invalid field.
//
// Exit status:
//
//	0  success
//	1  failure: an error answer of the API (400, 409, 429, 5xx…), the
//	   server or database unreachable, an unreadable answer
//	2  usage: an unknown command or flag, a bad flag value, a missing
//	   argument (nothing was sent)
//	3  not found: the API answered 404 (no such schedule, run or route)
//	4  not allowed: the API answered 401 (no or bad token) or 403
//	5  conflict: the API answered 409 (a name in use, a run already ended)
//
// A NAME in place of an ID is looked up among the schedules the token
// sees: with more than one of that name (an admin's view of several
// owners) the command refuses and asks for -owner or the ID.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
