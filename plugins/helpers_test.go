//go:build linux

package plugins_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/plugins"
)

// testLogger logs to t, so a failing test shows the plugins' logs.
func testLogger(t *testing.T) log.Logger {
	return log.NewLogfmtLogger(log.NewSyncWriter(writerFunc(func(p []byte) (int, error) {
		t.Log(strings.TrimRight(string(p), "\n"))
		return len(p), nil
	})))
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// logBuffer is a concurrency-safe buffer of log lines.
type logBuffer struct {
	ch chan string
}

func newLogBuffer() *logBuffer { return &logBuffer{ch: make(chan string, 4096)} }

func (b *logBuffer) logger() log.Logger {
	return log.NewLogfmtLogger(log.NewSyncWriter(writerFunc(func(p []byte) (int, error) {
		select {
		case b.ch <- string(bytes.TrimSpace(p)):
		default:
		}
		return len(p), nil
	})))
}

// waitFor returns the first logged line containing all of parts, or fails
// the test after d.
func (b *logBuffer) waitFor(t *testing.T, d time.Duration, parts ...string) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case line := <-b.ch:
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return line
			}
		case <-timeout:
			t.Fatalf("no log line with %q within %v", parts, d)
			return ""
		}
	}
}

// newManager starts a Manager on cfg and closes it at the end of the test;
// it fails the test when the Manager leaves a plugin process behind.
func newManager(t testing.TB, cfg plugins.Config) *plugins.Manager {
	t.Helper()
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 30 * time.Second
	}
	m, err := plugins.NewManager(cfg)
	if err != nil {
		t.Fatalf("NewManager: %v", err)
	}
	t.Cleanup(func() {
		var pids []int
		for _, st := range m.Plugins() {
			if st.Running {
				pids = append(pids, st.PID)
			}
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		for _, pid := range pids {
			if alive(pid) {
				t.Errorf("plugin process %d is alive after Close", pid)
			}
		}
	})
	return m
}

// alive reports whether process pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name in parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}

// waitGone polls until process pid is gone, or fails the test after d.
func waitGone(t *testing.T, pid int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d is still alive after %v", pid, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitFile polls until path exists with content, or fails the test after d.
func waitFile(t *testing.T, path string, d time.Duration) []byte {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			return b
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kill9 sends SIGKILL to pid.
func kill9(t testing.TB, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// atoi parses s or fails the test.
func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sha256File returns the hex SHA-256 of the file at path.
func sha256File(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}
