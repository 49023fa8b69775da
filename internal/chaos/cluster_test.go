package chaos

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver of database/sql

	"github.com/heraldhq/herald/internal/testpg"
)

// Deadlines of the harness: generous, for a loaded two-core machine.
const (
	readyDeadline = time.Minute      // a node process prints "ready"
	stopDeadline  = 45 * time.Second // a node stops after SIGTERM
	killDeadline  = 15 * time.Second // a killed process is reaped
	quietDeadline = 30 * time.Second // PostgreSQL has let go of the nodes' sessions
)

// chaosTables are the records of the node processes (see ./node).
const chaosTables = `
CREATE TABLE IF NOT EXISTS herald_chaos_execs (
    id         bigserial PRIMARY KEY,
    run_id     uuid NOT NULL,
    attempt    integer NOT NULL,
    node       text NOT NULL,
    pid        integer NOT NULL,
    started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    ended_at   timestamptz,
    outcome    text
);
CREATE INDEX IF NOT EXISTS herald_chaos_execs_run_idx ON herald_chaos_execs (run_id);
CREATE TABLE IF NOT EXISTS herald_chaos_deliveries (
    id     bigserial PRIMARY KEY,
    run_id uuid NOT NULL,
    node   text NOT NULL,
    pid    integer NOT NULL,
    target text NOT NULL,
    at     timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS herald_chaos_deliveries_run_idx ON herald_chaos_deliveries (run_id);
`

// skipUnlessCluster skips t when it cannot run: in -short mode, off unix,
// or without PostgreSQL (testpg decides whether that skips or fails).
func skipUnlessCluster(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster test with node processes, about a minute: skipped in -short mode")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the cluster tests signal processes with SIGTERM and SIGKILL: unix only")
	}
	testpg.ServerDSN(t)
}

// buildNode builds the node command into a temporary directory, without
// the race detector (the cluster runs at a realistic speed), and returns
// its path.
func buildNode(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "node")
	start := time.Now()
	cmd := exec.Command(goTool, "build", "-o", bin, "./node")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the node command: %v\n%s", err, out)
	}
	t.Logf("built the node command in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// database is the PostgreSQL database of one test.
type database struct {
	dsn string  // with the test's search_path, when it has a schema
	db  *sql.DB // the test's own handle on it
	// own says the database is the test's alone: PostgreSQL's deadlock
	// counter (per database) then counts the test's deadlocks only.
	own bool
	// offset is the database's clock minus this process's clock.
	offset time.Duration
}

// newDatabase gives t a database of its own, dropped when t ends, so that
// pg_stat_database's deadlock counter sees nothing but t's sessions (the
// test packages of a CI run share a database, and a deadlock of another
// package's test must not fail this one). When the server refuses to
// create one, it falls back to a schema of testpg, and says so.
func newDatabase(t *testing.T) *database {
	t.Helper()
	server := testpg.ServerDSN(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d := &database{}
	admin, err := sql.Open("pgx", server)
	if err != nil {
		t.Fatalf("open %s: %v", testpg.EnvDSN, err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "herald_chaos_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Logf("cannot create a database of the test's own (%v): using a schema; "+
			"the deadlock count is then the whole database's, other tests' included", err)
		d.dsn = testpg.DSN(t)
	} else {
		t.Cleanup(func() {
			defer admin.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
				t.Errorf("drop the test database: %v", err)
			}
		})
		u, err := url.Parse(server)
		if err != nil {
			t.Fatalf("%s: %v", testpg.EnvDSN, err)
		}
		u.Path = "/" + name
		d.dsn, d.own = u.String(), true
	}
	d.db, err = sql.Open("pgx", withApp(d.dsn, "herald-chaos-test"))
	if err != nil {
		t.Fatalf("open the test database: %v", err)
	}
	d.db.SetMaxOpenConns(4)
	t.Cleanup(func() { d.db.Close() })
	if _, err := d.db.ExecContext(ctx, chaosTables); err != nil {
		t.Fatalf("create the chaos tables: %v", err)
	}
	// The kill instants are taken here and compared with the records'
	// times, taken by the database: the offset between the two clocks.
	t0 := time.Now()
	var dbNow time.Time
	if err := d.db.QueryRowContext(ctx, "SELECT clock_timestamp()").Scan(&dbNow); err != nil {
		t.Fatalf("read the database's clock: %v", err)
	}
	t1 := time.Now()
	d.offset = dbNow.Sub(t0.Add(t1.Sub(t0) / 2))
	t.Logf("database %s (own database: %v); its clock is %v from this process's (±%v)",
		redact(d.dsn), d.own, d.offset.Round(time.Microsecond), t1.Sub(t0).Round(time.Microsecond))
	return d
}

// at converts an instant of this process's clock to the database's.
func (d *database) at(local time.Time) time.Time {
	if local.IsZero() {
		return local
	}
	return local.Round(0).Add(d.offset).UTC()
}

// deadlocks reads PostgreSQL's count of deadlocks in the database.
func (d *database) deadlocks(t *testing.T) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// A fresh snapshot of the statistics, not one cached by this session.
	_, _ = d.db.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()")
	var n int64
	if err := d.db.QueryRowContext(ctx,
		"SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").Scan(&n); err != nil {
		t.Fatalf("read the deadlock count: %v", err)
	}
	return n
}

// sessions describes the sessions whose application name starts with
// prefix: what each is doing and waiting for, to tell why one outlived its
// node.
func (d *database) sessions(prefix string) string {
	rows, err := d.db.Query(`SELECT application_name, pid, coalesce(state, ''), coalesce(wait_event_type, ''),
		coalesce(wait_event, ''), coalesce(now() - state_change, interval '0')::text, left(coalesce(query, ''), 200)
		FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1`, prefix+"%")
	if err != nil {
		return fmt.Sprintf("(read pg_stat_activity: %v)", err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var app, state, waitType, wait, since, query string
		var pid int
		if err := rows.Scan(&app, &pid, &state, &waitType, &wait, &since, &query); err != nil {
			return fmt.Sprintf("(read pg_stat_activity: %v)", err)
		}
		fmt.Fprintf(&b, "  %s pid %d: %s for %s, waiting on %s/%s: %s\n", app, pid, state, since, waitType, wait, query)
	}
	return b.String()
}

// waitSessionsGone polls until PostgreSQL has no session left whose
// application name starts with prefix: a session's statistics (deadlocks
// among them) are flushed when it ends.
func (d *database) waitSessionsGone(t *testing.T, prefix string) {
	t.Helper()
	deadline := time.Now().Add(quietDeadline)
	for {
		var n int
		err := d.db.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE $1",
			prefix+"%").Scan(&n)
		if err != nil {
			t.Fatalf("count the nodes' sessions: %v", err)
		}
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("PostgreSQL still has %d sessions of the nodes %v after they exited:\n%s", n, quietDeadline, d.sessions(prefix))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withApp sets the application name of a DSN's sessions.
func withApp(dsn, app string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String()
}

func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable DSN)"
	}
	return u.Redacted()
}

// nodeApp is the application name of the nodes' sessions.
const nodeApp = "herald-chaos-node"

// cluster starts, kills and stops node processes, and remembers each
// process's life.
type cluster struct {
	t      *testing.T
	bin    string
	dsn    string   // the nodes' DSN
	dir    string   // the nodes' logs
	common []string // flags of every node

	mu    sync.Mutex
	procs []*proc
}

// proc is one node process.
type proc struct {
	name string
	log  string // its stdout and stderr
	cmd  *exec.Cmd
	// stdin is the node's standard input: it exits when that ends, so it
	// never outlives the test.
	stdin  io.WriteCloser
	ready  chan struct{} // closed when it printed "ready"
	exited chan struct{} // closed when it has been reaped
	err    error         // how it exited, set before exited is closed

	// Instants of this process's clock, guarded by cluster.mu.
	readyAt time.Time // "ready" read
	killAt  time.Time // SIGKILL sent
	stopAt  time.Time // SIGTERM sent
	deadAt  time.Time // reaped
}

func newCluster(t *testing.T, bin, dsn string, common ...string) *cluster {
	c := &cluster{t: t, bin: bin, dsn: withApp(dsn, nodeApp), dir: t.TempDir(), common: common}
	t.Cleanup(c.killAll)
	return c
}

// start starts node name with the common flags and extra, and returns once
// it is ready.
func (c *cluster) start(name string, extra ...string) *proc {
	c.t.Helper()
	args := append([]string{"-dsn", c.dsn, "-node", name}, c.common...)
	args = append(args, extra...)
	p := &proc{name: name, log: filepath.Join(c.dir, name+".log"),
		ready: make(chan struct{}), exited: make(chan struct{})}
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		c.t.Fatalf("node %s: log: %v", name, err)
	}
	p.cmd = exec.Command(c.bin, args...)
	p.cmd.Stderr = logFile
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		c.t.Fatalf("node %s: %v", name, err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		c.t.Fatalf("node %s: %v", name, err)
	}
	c.mu.Lock()
	if err := p.cmd.Start(); err != nil {
		c.mu.Unlock()
		c.t.Fatalf("node %s: start: %v", name, err)
	}
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	go func() {
		defer logFile.Close()
		sc := bufio.NewScanner(stdout)
		ready := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintf(logFile, "stdout: %s\n", line)
			if line == "ready" && !ready {
				ready = true
				c.mu.Lock()
				p.readyAt = time.Now()
				c.mu.Unlock()
				close(p.ready)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		err := p.cmd.Wait()
		c.mu.Lock()
		p.err, p.deadAt = err, time.Now()
		c.mu.Unlock()
		close(p.exited)
	}()
	select {
	case <-p.ready:
	case <-p.exited:
		c.t.Fatalf("node %s exited before it was ready: %v\n%s", name, p.err, tail(p.log, 30))
	case <-time.After(readyDeadline):
		c.t.Fatalf("node %s not ready after %v\n%s", name, readyDeadline, tail(p.log, 30))
	}
	return p
}

// kill kills p with SIGKILL and waits until it is reaped.
func (c *cluster) kill(p *proc) {
	c.t.Helper()
	c.mu.Lock()
	p.killAt = time.Now()
	c.mu.Unlock()
	if err := p.cmd.Process.Kill(); err != nil {
		c.t.Errorf("kill node %s: %v", p.name, err)
	}
	select {
	case <-p.exited:
	case <-time.After(killDeadline):
		c.t.Fatalf("node %s not reaped %v after SIGKILL", p.name, killDeadline)
	}
}

// stopAll sends SIGTERM to every live node at once and waits for each to
// stop; a node that does not stop in time, or stops with an error, fails
// the test (and one that hangs is killed).
func (c *cluster) stopAll() {
	c.t.Helper()
	live := c.live()
	c.mu.Lock()
	now := time.Now()
	for _, p := range live {
		p.stopAt = now
	}
	c.mu.Unlock()
	for _, p := range live {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			c.t.Errorf("SIGTERM node %s: %v", p.name, err)
		}
	}
	deadline := time.After(stopDeadline)
	for _, p := range live {
		select {
		case <-p.exited:
			if p.err != nil {
				c.t.Errorf("node %s stopped with %v\n%s", p.name, p.err, tail(p.log, 30))
			}
		case <-deadline:
			c.t.Errorf("node %s did not stop within %v of SIGTERM; killing it\n%s", p.name, stopDeadline, tail(p.log, 30))
			c.kill(p)
		}
	}
}

// live returns the processes that have not exited.
func (c *cluster) live() []*proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*proc
	for _, p := range c.procs {
		select {
		case <-p.exited:
		default:
			out = append(out, p)
		}
	}
	return out
}

// killAll kills every process still running and closes every node's
// standard input: no node outlives the test.
func (c *cluster) killAll() {
	for _, p := range c.live() {
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(killDeadline):
			c.t.Errorf("node %s (pid %d) not reaped after SIGKILL", p.name, p.cmd.Process.Pid)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		_ = p.stdin.Close()
	}
}

// checkExits reports the processes that exited without being asked to.
func (c *cluster) checkExits() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		select {
		case <-p.exited:
			if p.killAt.IsZero() && p.stopAt.IsZero() {
				c.t.Errorf("node %s exited on its own (%v)\n%s", p.name, p.err, tail(p.log, 30))
			}
		default:
		}
	}
}

// lives returns the life of every process, keyed by node name, on the
// database's clock.
func (c *cluster) lives(d *database) map[string]life {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]life, len(c.procs))
	for _, p := range c.procs {
		l := life{name: p.name, readyAt: d.at(p.readyAt), killAt: d.at(p.killAt), stopAt: d.at(p.stopAt), deadAt: d.at(p.deadAt)}
		l.killed = !l.killAt.IsZero()
		out[p.name] = l
	}
	return out
}

// life is one node process's life, on the database's clock.
type life struct {
	name    string
	readyAt time.Time
	killed  bool
	killAt  time.Time // SIGKILL sent (zero unless killed)
	stopAt  time.Time // SIGTERM sent (zero unless stopped)
	deadAt  time.Time // reaped (zero while running)
}

// upThrough reports whether the node was ready from a to b.
func (l life) upThrough(a, b time.Time) bool {
	if l.readyAt.IsZero() || l.readyAt.After(a) {
		return false
	}
	end := l.deadAt
	if !l.killAt.IsZero() {
		end = l.killAt
	} else if !l.stopAt.IsZero() {
		end = l.stopAt
	}
	return end.IsZero() || end.After(b)
}

// logLines returns how many lines of every node's log match re, and the
// first max of them, each prefixed with its node.
func (c *cluster) logLines(re *regexp.Regexp, max int) (lines []string, n int) {
	c.mu.Lock()
	procs := append([]*proc(nil), c.procs...)
	c.mu.Unlock()
	for _, p := range procs {
		f, err := os.Open(p.log)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if !re.MatchString(sc.Text()) {
				continue
			}
			if n++; len(lines) < max {
				lines = append(lines, p.name+": "+sc.Text())
			}
		}
		f.Close()
	}
	if n > len(lines) {
		lines = append(lines, "… (more)")
	}
	return lines, n
}

// reportLogs prints the nodes' log lines about deadlocks and lost leases,
// when t has failed.
func (c *cluster) reportLogs() {
	if !c.t.Failed() {
		return
	}
	// The words of the log lines worth showing.
	kinds := []string{"deadlock", "lease lost", "not held", "level=error"}
	lines, _ := c.logLines(regexp.MustCompile(`(?i)deadlock|lease lost|not held|level=error`), 60)
	if len(lines) == 0 {
		c.t.Logf("the nodes' logs (%s) mention no deadlock, lost lease or error", c.dir)
		return
	}
	counts := make([]string, len(kinds))
	for i, k := range kinds {
		_, n := c.logLines(regexp.MustCompile("(?i)"+regexp.QuoteMeta(k)), 0)
		counts[i] = fmt.Sprintf("%q %d", k, n)
	}
	c.t.Logf("the nodes' log lines about deadlocks, lost leases and errors (%s; all logs in %s):\n%s",
		strings.Join(counts, ", "), c.dir, strings.Join(lines, "\n"))
}

// tail returns the last n lines of file path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(log %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
