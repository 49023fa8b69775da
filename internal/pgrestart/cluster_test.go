//go:build unix

package pgrestart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
)

// cluster is a throwaway PostgreSQL cluster in a temporary directory: its
// data directory, its Unix socket and its server log. The test that made it
// owns it: the cluster is stopped and the directory removed when the test
// ends, whatever happened.
type cluster struct {
	bin  string              // the directory of initdb, pg_ctl and postgres
	dir  string              // the temporary directory
	port int                 // the TCP port on 127.0.0.1
	cred *syscall.Credential // the OS user the server runs as; nil: this process's
}

// pgCommandTimeout bounds one initdb or pg_ctl command.
const pgCommandTimeout = 90 * time.Second

// newCluster creates a cluster (initdb) and starts it. Without the server
// binaries it skips the test, or fails it when HERALD_REQUIRE_POSTGRES is
// set.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	bin, err := serverBinDir()
	if err == nil {
		var cred *syscall.Credential
		if cred, err = serverUser(); err == nil {
			return initCluster(t, bin, cred)
		}
	}
	msg := "PostgreSQL restart test is off: " + err.Error()
	if os.Getenv(testpg.EnvRequire) != "" {
		t.Fatal(msg + " (" + testpg.EnvRequire + " is set: PostgreSQL is required)")
	}
	t.Skip(msg)
	return nil
}

func initCluster(t *testing.T, bin string, cred *syscall.Credential) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "herald-pgrestart-")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{bin: bin, dir: dir, cred: cred}
	t.Cleanup(func() { c.destroy(t) })
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatalf("hand the cluster directory to the server's user: %v", err)
		}
	}
	if c.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	if out, err := c.run("initdb", "-D", c.dataDir(), "--auth=trust", "-U", "postgres",
		"--no-locale", "-E", "UTF8", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
max_connections = 200
fsync = off
full_page_writes = off
`, c.port, c.dir)
	f, err := os.OpenFile(filepath.Join(c.dataDir(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(conf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatalf("configure the cluster: %v", err)
	}
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cluster) dataDir() string { return filepath.Join(c.dir, "data") }
func (c *cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// DSN is the cluster's postgres database as user postgres, over TCP.
func (c *cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", c.port)
}

// start starts the server on the cluster's port and waits until it accepts
// connections.
func (c *cluster) start() error {
	if out, err := c.run("pg_ctl", "start", "-D", c.dataDir(), "-l", c.logFile(), "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\nserver log:\n%s", err, out, c.logTail(40))
	}
	return nil
}

// stop stops the server in mode ("fast": connections are terminated and a
// checkpoint is written; "immediate": the server quits at once, like a
// crash, and recovers at the next start) and waits until it is gone.
func (c *cluster) stop(mode string) error {
	if out, err := c.run("pg_ctl", "stop", "-D", c.dataDir(), "-m", mode, "-w", "-t", "60", "-s"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// run runs one of the server binaries as the server's user, in the
// cluster's directory, and returns its output.
func (c *cluster) run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = []string{"PATH=" + c.bin + ":/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves the server running: whatever it inherited must not
	// keep this call waiting.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	return out.Bytes(), err
}

// postmasterPID is the running server's process id, from its lock file, or
// 0 when there is none.
func (c *cluster) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(c.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// destroy stops the server if it runs (fast, else immediate, else by
// killing it), makes sure no server process is left, and removes the
// directory.
func (c *cluster) destroy(t *testing.T) {
	if pid := c.postmasterPID(); pid > 0 && processAlive(pid) {
		if err := c.stop("fast"); err != nil {
			t.Logf("cleanup: %v; stopping the server at once", err)
			if err := c.stop("immediate"); err != nil {
				t.Logf("cleanup: %v; killing the server", err)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		deadline := time.Now().Add(15 * time.Second)
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if processAlive(pid) {
			t.Errorf("cleanup: the PostgreSQL server (pid %d) is still running", pid)
		}
	}
	if t.Failed() {
		t.Logf("server log (last lines):\n%s", c.logTail(60))
	}
	if err := os.RemoveAll(c.dir); err != nil {
		t.Errorf("cleanup: remove the cluster directory: %v", err)
	}
}

// logTail returns the last n lines of the server log.
func (c *cluster) logTail(n int) string {
	b, err := os.ReadFile(c.logFile())
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// processAlive reports whether process pid exists and is not a zombie
// waiting to be reaped.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no /proc here: the signal test is all there is
	}
	// The state follows the command name in parentheses.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// serverBinDir finds the directory holding initdb, pg_ctl and postgres:
// the one pg_config names, else the one of pg_ctl on PATH, else the newest
// of the Debian-style versioned directories.
func serverBinDir() (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	var candidates []string
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(out)))
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		candidates = append(candidates, filepath.Dir(p))
	}
	versioned, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versioned, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(versioned[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(versioned[j])))
		return vi > vj
	})
	candidates = append(candidates, versioned...)
	for _, d := range candidates {
		if d != "" && has(d) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl, postgres) found through pg_config --bindir, " +
		"PATH or /usr/lib/postgresql/*/bin; install the PostgreSQL server to run it")
}

// serverUser is the OS user the server runs as: this process's, unless it
// is root, which initdb and postgres refuse; then the postgres user.
func serverUser() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, which PostgreSQL refuses, and there is no postgres OS user to run the server as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres OS user: uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres OS user: gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
