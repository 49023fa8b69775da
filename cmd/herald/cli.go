package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// Exit statuses; the package comment documents them.
const (
	exitOK        = 0
	exitFailure   = 1
	exitUsage     = 2
	exitNotFound  = 3
	exitForbidden = 4
	exitConflict  = 5
)

// Defaults of the common flags.
const (
	serverDefault  = "http://127.0.0.1:8080"
	timeoutDefault = 30 * time.Second
)

// Environment variables the command reads.
const (
	envServer = "HERALD_SERVER"
	envToken  = "HERALD_TOKEN"
	envDB     = "HERALD_DATABASE_URL"
)

// run runs the command line args (without the program's name), writing
// its output to stdout and its errors to stderr, and returns the exit
// status. It reads the environment of the process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runEnv(ctx, args, stdout, stderr, os.Getenv)
}

// runEnv is run with the environment read through getenv.
func runEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now,
		server: getenv(envServer), output: "text", timeout: timeoutDefault, db: getenv(envDB)}
	if c.server == "" {
		c.server = serverDefault
	}
	return c.exit(c.dispatch(ctx, args))
}

// cli is one invocation of the command: where it writes, what it reads,
// and the common flags' values.
type cli struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	now            func() time.Time

	server  string
	output  string
	timeout time.Duration
	db      string
}

// usageError is a command line the command refuses before doing anything.
type usageError struct {
	cmd string // "schedules create"; "" for the top level
	msg string
}

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error of cmd.
func usagef(cmd, format string, args ...any) error {
	return &usageError{cmd: cmd, msg: fmt.Sprintf(format, args...)}
}

// exit reports err and returns its exit status.
func (c *cli) exit(err error) int {
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var ae *apiError
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		name := strings.TrimSpace("herald " + ue.cmd)
		fmt.Fprintf(c.stderr, "%s: %s\nRun '%s -h' for usage.\n", name, ue.msg, name)
		return exitUsage
	case errors.As(err, &ae):
		fmt.Fprintf(c.stderr, "herald: %s\n", ae.report())
		if ae.Status == http.StatusUnauthorized && c.getenv(envToken) == "" {
			fmt.Fprintf(c.stderr, "herald: %s is not set: set it to a token of the server\n", envToken)
		}
		switch ae.Status {
		case http.StatusNotFound:
			return exitNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			return exitForbidden
		case http.StatusConflict:
			return exitConflict
		}
		return exitFailure
	}
	fmt.Fprintf(c.stderr, "herald: %v\n", err)
	return exitFailure
}

// topUsage is the help of the command as a whole.
const topUsage = `herald is the operator's command for Herald.

Usage:

  herald [common flags] <command> [arguments] [flags]

Commands:

  migrate up|status            apply or show the store's migrations (-db DSN)
  schedules list|show|create|pause|resume|run|delete
  runs list|show|cancel|tail
  events list
  preview 'CRON'               the next fire times of a trigger
  version                      the command's version

Common flags (before or after the command):

  -server URL    the API (default $HERALD_SERVER, else ` + serverDefault + `)
  -o text|json   output format (default text)
  -request-timeout DUR  bound of each request (default 30s)

The token is read from $HERALD_TOKEN. Run 'herald <command> -h' for a
command's flags. Exit status: 0 success, 1 failure, 2 usage error, 3 not
found, 4 unauthorized or forbidden, 5 conflict.
`

// dispatch parses the common flags before the command and runs it.
func (c *cli) dispatch(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("herald", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.commonFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(c.stdout, topUsage)
			return err
		}
		return usagef("", "%v", err)
	}
	args = fs.Args()
	if len(args) == 0 {
		fmt.Fprint(c.stderr, topUsage)
		return usagef("", "no command given")
	}
	group, rest := args[0], args[1:]
	subs, ok := commands[group]
	if !ok {
		if group == "help" {
			fmt.Fprint(c.stdout, topUsage)
			return nil
		}
		return usagef("", "unknown command %q: want migrate, schedules, runs, events, preview or version", group)
	}
	if cmd, ok := subs[""]; ok { // a command of one word
		return cmd(ctx, c, group, rest)
	}
	if len(rest) == 0 || strings.HasPrefix(rest[0], "-") && rest[0] != "-h" && rest[0] != "-help" {
		return usagef(group, "missing subcommand: want one of %s", subNames(subs))
	}
	if rest[0] == "-h" || rest[0] == "-help" || rest[0] == "help" {
		fmt.Fprintf(c.stdout, "Usage: herald %s <%s> [arguments] [flags]\n\nRun 'herald %s <subcommand> -h' for its flags.\n",
			group, subNames(subs), group)
		return flag.ErrHelp
	}
	cmd, ok := subs[rest[0]]
	if !ok {
		return usagef(group, "unknown subcommand %q: want one of %s", rest[0], subNames(subs))
	}
	return cmd(ctx, c, group+" "+rest[0], rest[1:])
}

// commandFunc runs a command; name is its words ("runs tail").
type commandFunc func(ctx context.Context, c *cli, name string, args []string) error

// commands are the commands by their words; a command of one word is
// under "".
var commands = map[string]map[string]commandFunc{
	"migrate": {"up": migrateUp, "status": migrateStatus},
	"schedules": {"list": schedulesList, "show": schedulesShow, "create": schedulesCreate,
		"pause": schedulesPause, "resume": schedulesResume, "run": schedulesRun, "delete": schedulesDelete},
	"runs":    {"list": runsList, "show": runsShow, "cancel": runsCancel, "tail": runsTail},
	"events":  {"list": eventsList},
	"preview": {"": preview},
	"version": {"": version},
}

// subNames lists the subcommands of a group, in a fixed order.
func subNames(subs map[string]commandFunc) string {
	order := []string{"up", "status", "list", "show", "create", "pause", "resume", "run", "delete", "cancel", "tail"}
	var names []string
	for _, n := range order {
		if _, ok := subs[n]; ok {
			names = append(names, n)
		}
	}
	return strings.Join(names, "|")
}

// commonFlags registers the flags every command takes, on c's values.
func (c *cli) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.server, "server", c.server, "the API's `URL` (default $"+envServer+", else "+serverDefault+")")
	fs.StringVar(&c.output, "o", c.output, "output `format`: text or json")
	fs.DurationVar(&c.timeout, "request-timeout", c.timeout, "bound of each request")
}

// flags is a command's flag set, with the common flags.
type flags struct {
	*flag.FlagSet
	c        *cli
	name     string // the command's words
	synopsis string // its arguments: "ID [-reason TEXT]"
}

// newFlags returns the flag set of command name.
func (c *cli) newFlags(name, synopsis string) *flags {
	fs := flag.NewFlagSet("herald "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if strings.HasPrefix(name, "migrate") {
		fs.StringVar(&c.output, "o", c.output, "output `format`: text or json")
	} else {
		c.commonFlags(fs)
	}
	return &flags{FlagSet: fs, c: c, name: name, synopsis: synopsis}
}

// parse parses args, flags and positional arguments in any order (an
// argument after "--" is positional even if it starts with "-"), and
// checks that there are from min to max positional arguments and that the
// common flags' values are sane.
func (f *flags) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := f.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				f.usage()
				return nil, err
			}
			return nil, usagef(f.name, "%v", err)
		}
		rest := f.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		return nil, usagef(f.name, "missing argument: usage: herald %s %s", f.name, f.synopsis)
	case len(pos) > max:
		return nil, usagef(f.name, "unexpected argument %q: usage: herald %s %s", pos[max], f.name, f.synopsis)
	}
	if f.c.output != "text" && f.c.output != "json" {
		return nil, usagef(f.name, "flag -o: want text or json, not %q", f.c.output)
	}
	if f.c.timeout <= 0 {
		return nil, usagef(f.name, "flag -request-timeout: must be positive")
	}
	return pos, nil
}

// usage writes the command's help to stdout.
func (f *flags) usage() {
	w := f.c.stdout
	fmt.Fprintf(w, "Usage: herald %s %s\n\nFlags:\n", f.name, f.synopsis)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// client returns the API client of the common flags.
func (c *cli) client(cmd string) (*client, error) {
	u, err := url.Parse(c.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef(cmd, "flag -server: want an http:// or https:// URL, not %q", c.server)
	}
	return newClient(u, c.getenv(envToken), c.timeout, userAgent()), nil
}

// userAgent names the command and its version in requests.
func userAgent() string { return "herald-cli/" + buildVersion() }

// buildVersion is the module version the command was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func version(ctx context.Context, c *cli, name string, args []string) error {
	f := c.newFlags(name, "")
	if _, err := f.parse(args, 0, 0); err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(map[string]string{"version": buildVersion()})
	}
	fmt.Fprintln(c.stdout, "herald", buildVersion())
	return nil
}
