package plugins

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/go-plugin/runner"
)

// procRunner starts and stops a plugin process for go-plugin. It differs
// from go-plugin's own runner in two ways: the plugin's stdin is /dev/null
// rather than the host's, and stdout lines that come before the handshake
// line (a plugin that prints in an init function) are logged and skipped
// instead of failing the start.
type procRunner struct {
	cmd    *exec.Cmd
	logger log.Logger
	stdout io.ReadCloser
	stderr io.ReadCloser
	// pid is set by Start.
	pid int
}

var _ runner.Runner = (*procRunner)(nil)

// newProcRunner returns the runner of cmd, whose stray stdout lines go to
// logger.
func newProcRunner(cmd *exec.Cmd, logger log.Logger) (*procRunner, error) {
	cmd.Stdin = nil
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	return &procRunner{cmd: cmd, logger: logger, stdout: &handshakeReader{r: stdout, br: bufio.NewReader(stdout), logger: logger}, stderr: stderr}, nil
}

// Start starts the process.
func (r *procRunner) Start(context.Context) error {
	if err := r.cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.cmd.Path, err)
	}
	r.pid = r.cmd.Process.Pid
	level.Debug(r.logger).Log("msg", "plugin process started", "path", r.cmd.Path, "pid", r.pid)
	return nil
}

// Wait waits for the process to exit.
func (r *procRunner) Wait(context.Context) error { return r.cmd.Wait() }

// Kill kills the process; a process that is gone already is no error.
func (r *procRunner) Kill(context.Context) error {
	if r.cmd.Process == nil {
		return nil
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}

// Stdout returns the process's stdout, from the handshake line on.
func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }

// Stderr returns the process's stderr.
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }

// Name returns the binary's path.
func (r *procRunner) Name() string { return r.cmd.Path }

// ID returns the process id.
func (r *procRunner) ID() string { return strconv.Itoa(r.pid) }

// Diagnose has nothing to add.
func (r *procRunner) Diagnose(context.Context) string { return "" }

// PluginToHost returns the address unchanged: the plugin runs on this host.
func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

// HostToPlugin returns the address unchanged: the plugin runs on this host.
func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// handshakeLine matches go-plugin's handshake, "CORE|APP|NETWORK|ADDR|...".
var handshakeLine = regexp.MustCompile(`[0-9]+\|[0-9]+\|(?:unix|tcp)\|`)

// handshakeReader drops the lines of a plugin's stdout that come before the
// handshake line, logging each; text printed without a newline just before
// the handshake is cut off the handshake line.
type handshakeReader struct {
	r      io.Closer
	br     *bufio.Reader
	logger log.Logger

	mu    sync.Mutex
	found bool
	rest  []byte
}

// Read reads the stream from the handshake line on.
func (h *handshakeReader) Read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for !h.found {
		line, err := h.br.ReadString('\n')
		if loc := handshakeLine.FindStringIndex(line); loc != nil {
			if loc[0] > 0 {
				h.stray(line[:loc[0]])
			}
			h.found, h.rest = true, []byte(line[loc[0]:])
			break
		}
		if line != "" {
			h.stray(line)
		}
		if err != nil {
			return 0, err
		}
	}
	if len(h.rest) > 0 {
		n := copy(p, h.rest)
		h.rest = h.rest[n:]
		return n, nil
	}
	return h.br.Read(p)
}

// stray logs a line the plugin wrote to stdout before its handshake.
func (h *handshakeReader) stray(line string) {
	level.Warn(h.logger).Log("msg", "plugin wrote to stdout before its handshake; plugins must log to stderr", "line", truncate(line, 200))
}

// Close closes the stream.
func (h *handshakeReader) Close() error { return h.r.Close() }

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
