//go:build linux

package plugins_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/agent/agenttest"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
)

// pythonEnvRequire names the variable that turns a missing Python (or a
// Python without grpc) into a failure of the Python plugin's tests; .ci/run
// sets it.
const pythonEnvRequire = "HERALD_REQUIRE_PYTHON"

// pythonInterp is the interpreter the Python plugins' shebangs name:
// Debian's, which python3-grpcio and python3-protobuf are installed for.
const pythonInterp = "/usr/bin/python3"

// pythonDir holds the Python plugin library and the example plugin.
const pythonDir = "../examples/plugins/python"

// requirePython returns the absolute path of the example Python plugin, or
// skips the test (fails it when HERALD_REQUIRE_PYTHON is set) when Debian's
// python3 cannot import grpc and protobuf.
func requirePython(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(pythonInterp, "-c", "import grpc, google.protobuf").CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("the Python plugin's tests are off: %s cannot import grpc and google.protobuf (%v: %s); "+
			"run 'apt-get install python3-grpcio python3-protobuf' to enable them",
			pythonInterp, err, strings.TrimSpace(string(out)))
		if os.Getenv(pythonEnvRequire) != "" {
			t.Fatal(msg + " (" + pythonEnvRequire + " is set: Python is required)")
		}
		t.Skip(msg)
	}
	path, err := filepath.Abs(filepath.Join(pythonDir, "summarize.py"))
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// pyNoBytecode keeps Python from writing __pycache__ directories into the
// source tree.
const pyNoBytecode = "PYTHONDONTWRITEBYTECODE=1"

// pyPlugins returns the Config.Plugins of the Python plugin at path.
func pyPlugins(path string) []plugins.Plugin {
	return []plugins.Plugin{{Path: path, Env: []string{pyNoBytecode}}}
}

// TestPythonAgentConformance runs the agent contract's suite against the
// example Python plugin, through the plugin boundary.
func TestPythonAgentConformance(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	m := newManager(t, plugins.Config{Plugins: pyPlugins(script), Logger: testLogger(t)})
	a := m.Agents()["summarize"]
	if a == nil {
		t.Fatalf("Agents() = %v, want summarize", m.Agents())
	}
	agenttest.Run(t, func(*testing.T) agent.Agent { return a }, agenttest.Cases{
		Payload: json.RawMessage(`{"text":"one\ntwo three\nfour\n","pace":1}`),
		OK:      json.RawMessage(`{"text":"one two\nthree\n"}`),
		Failures: []agenttest.Failure{
			{Name: "no text", Payload: json.RawMessage(`{}`), Permanent: true},
			{Name: "bad payload", Payload: json.RawMessage(`[1]`), Permanent: true},
			{Name: "not JSON", Payload: json.RawMessage(`{`), Permanent: true},
			{Name: "bad pace", Payload: json.RawMessage(`{"text":"a","pace":"1s"}`), Permanent: true},
		},
	})
}

// pykit is a Python test plugin whose agent fails in every way the Python
// library maps to an error code. writePykit fills in the directory it
// imports herald_plugin from.
const pykit = `#!/usr/bin/python3
import sys
sys.path.insert(0, %q)
import herald_plugin

def kit(ctx, task):
    "fails on demand"
    op = task.payload.decode()
    if op == '"sleep"':
        while True:
            ctx.sleep(0.05)
    if op == '"ok"':
        return herald_plugin.Result(output=b'{"ok":true}', summary="ok", targets=[herald_plugin.Target("kit", "ok")])
    if op == '"none"':
        return None
    if op == '"permanent"':
        raise herald_plugin.Permanent("permanent failure")
    if op == '"retry_after"':
        raise herald_plugin.RetryAfter(1.5, "busy")
    if op == '"exception"':
        raise ValueError("boom")
    if op == '"exit"':
        sys.exit(7)
    return herald_plugin.Result(output=[1, 2])

herald_plugin.serve({"pykit": kit})
`

// writePykit writes the pykit plugin to a temporary directory and returns
// its path.
func writePykit(t *testing.T) string {
	t.Helper()
	lib, err := filepath.Abs(pythonDir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pykit.py")
	if err := os.WriteFile(path, fmt.Appendf(nil, pykit, lib), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPythonAgentConformanceKit runs the suite against the pykit agent,
// whose failures cover the error codes of the Python library.
func TestPythonAgentConformanceKit(t *testing.T) {
	t.Parallel()
	requirePython(t)
	m := newManager(t, plugins.Config{Plugins: pyPlugins(writePykit(t)), Logger: testLogger(t)})
	a := m.Agents()["pykit"]
	if a == nil {
		t.Fatalf("Agents() = %v, want pykit", m.Agents())
	}
	agenttest.Run(t, func(*testing.T) agent.Agent { return a }, agenttest.Cases{
		Payload: json.RawMessage(`"sleep"`),
		OK:      json.RawMessage(`"ok"`),
		Failures: []agenttest.Failure{
			{Name: "permanent", Payload: json.RawMessage(`"permanent"`), Permanent: true},
			{Name: "retry after", Payload: json.RawMessage(`"retry_after"`), RetryAfter: 1500 * time.Millisecond},
			{Name: "exception", Payload: json.RawMessage(`"exception"`)},
			{Name: "exit", Payload: json.RawMessage(`"exit"`)},
		},
	})
	// The results keep their fields, and an exception its type.
	for _, tc := range []struct {
		op   string
		want agent.Result
	}{
		{op: "ok", want: agent.Result{Output: json.RawMessage(`{"ok":true}`), Summary: "ok", Targets: []delivery.Target{{Channel: "kit", To: "ok"}}}},
		{op: "none", want: agent.Result{}},
		{op: "list", want: agent.Result{Output: json.RawMessage(`[1, 2]`)}},
	} {
		res, err := a.Run(t.Context(), &agent.Task{RunID: "r1", Payload: json.RawMessage(`"` + tc.op + `"`), Attempt: 1, MaxAttempts: 1})
		if err != nil {
			t.Errorf("Run(%s) = %v", tc.op, err)
			continue
		}
		if string(res.Output) != string(tc.want.Output) || res.Summary != tc.want.Summary || !slices.Equal(res.Targets, tc.want.Targets) {
			t.Errorf("Run(%s) = %+v, want %+v", tc.op, res, tc.want)
		}
	}
	_, err := a.Run(t.Context(), &agent.Task{RunID: "r1", Payload: json.RawMessage(`"exception"`), Attempt: 1, MaxAttempts: 1})
	if err == nil || err.Error() != "ValueError: boom" {
		t.Errorf("Run(exception) = %v, want ValueError: boom", err)
	}
}

// TestPythonProgress checks that the Python agent's progress reaches the
// host's reporter in order, that its result is its JSON summary, and that
// the host did not use AutoMTLS for a plugin that is not a Go binary.
func TestPythonProgress(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	logs := newLogBuffer()
	m := newManager(t, plugins.Config{Plugins: pyPlugins(script), Logger: logs.logger()})
	logs.waitFor(t, 10*time.Second, "plugin=summarize", "plugin started", "mtls=false")
	st := m.Plugins()[0]
	if st.Name != "summarize" || len(st.Agents) != 1 || st.Agents[0].Description == "" {
		t.Errorf("Plugins()[0] = %+v, want summarize with its agent's description", st)
	}
	var mu sync.Mutex
	var got []map[string]int64
	tk := &agent.Task{
		RunID: "r1", Owner: "o", Agent: "summarize", Kind: agent.RunKindEnqueue, Attempt: 1, MaxAttempts: 1,
		Payload: json.RawMessage(`{"text":"a b a\nc A\n\n"}`),
		Progress: agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, c)
			return nil
		}),
	}
	res, err := m.Agents()["summarize"].Run(t.Context(), tk)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]int64{{"lines": 1, "words": 3}, {"lines": 2, "words": 5}, {"lines": 3, "words": 5}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("progress reports = %v, want %v", got, want)
	}
	var out struct {
		Words, Lines int
		Top          []string
	}
	if err := json.Unmarshal(res.Output, &out); err != nil {
		t.Fatalf("Output %q: %v", res.Output, err)
	}
	if out.Words != 5 || out.Lines != 3 || !slices.Equal(out.Top, []string{"a", "b", "c"}) || res.Summary != "5 words in 3 lines" {
		t.Errorf("Result = %+v (output %s), want 5 words in 3 lines, top a b c", res, res.Output)
	}
}

// TestPythonCancel cancels a run of the Python agent while it works: Run
// returns context.Canceled, and the agent's thread in the plugin sees the
// cancellation and stops (it logs so).
func TestPythonCancel(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	logs := newLogBuffer()
	m := newManager(t, plugins.Config{Plugins: pyPlugins(script), Logger: logs.logger()})
	running := make(chan struct{}, 1)
	tk := &agent.Task{
		RunID: "cancel-me", Owner: "o", Agent: "summarize", Kind: agent.RunKindEnqueue, Attempt: 1, MaxAttempts: 1,
		// A thousand lines, 50 ms each: the first report comes soon, the
		// end only after a minute.
		Payload: json.RawMessage(`{"text":"` + strings.Repeat(`line\n`, 1000) + `","pace":0.05}`),
		Progress: agent.ReporterFunc(func(context.Context, map[string]int64) error {
			select {
			case running <- struct{}{}:
			default:
			}
			return nil
		}),
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := m.Agents()["summarize"].Run(ctx, tk); done <- err }()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("Run returned %v before it was cancelled", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v, want context.Canceled", err)
	}
	logs.waitFor(t, 10*time.Second, "plugin=summarize", "run cancel-me cancelled after")
}

// TestPythonShutdown checks that Close stops the Python plugin through
// go-plugin's controller service (the plugin exits by itself, with status
// 0) rather than by killing it, and that no process is left.
func TestPythonShutdown(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	logs := newLogBuffer()
	m := newManager(t, plugins.Config{Plugins: pyPlugins(script), Logger: logs.logger()})
	pid := m.Plugins()[0].PID
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, 10*time.Second, "plugin=summarize", "the host asked the plugin to shut down")
	line := logs.waitFor(t, 10*time.Second, "plugin=summarize", "plugin process exited")
	if strings.Contains(line, "error=") {
		t.Errorf("the plugin did not exit by itself: %s", line)
	}
	waitGone(t, pid, 5*time.Second)
}

// pythonHandshake is the handshake line of a Python plugin.
var pythonHandshake = regexp.MustCompile(`^1\|1\|unix\|(/\S+)\|grpc$`)

// TestPythonParentDeath starts the Python plugin from a shell as a host
// stand-in, without the parent-death signal a real host sets, and kills
// the shell: the plugin notices it was orphaned, removes its socket and
// exits.
func TestPythonParentDeath(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	// The shell starts the plugin, says its pid, and waits on its stdin.
	sh := exec.Command("/bin/sh", "-c", `"$0" & echo "$!"; read _`, script)
	sh.Env = append(os.Environ(), pyNoBytecode, "HERALD_PLUGIN_MAGIC_COOKIE=b3f6d2a4e1c9785f0a6d4c2e9b1f3a57", "PLUGIN_PROTOCOL_VERSIONS=1")
	stdin, err := sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := sh.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sh.Stderr = os.Stderr
	if err := sh.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sh.Process.Kill(); sh.Wait() })
	r := bufio.NewReader(stdout)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the plugin's pid: %v", err)
	}
	pid := int(atoi(t, line))
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	line, err = r.ReadString('\n')
	if err != nil {
		t.Fatalf("read the handshake: %v", err)
	}
	hs := pythonHandshake.FindStringSubmatch(strings.TrimSpace(line))
	if hs == nil {
		t.Fatalf("handshake %q, want %s", line, pythonHandshake)
	}
	if fi, err := os.Stat(hs[1]); err != nil || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("%s is not a socket (%v)", hs[1], err)
	}
	if fi, err := os.Stat(filepath.Dir(hs[1])); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the socket's directory has mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	checkPythonHealth(t, hs[1])
	kill9(t, sh.Process.Pid)
	sh.Wait()
	waitGone(t, pid, 10*time.Second)
	if _, err := os.Stat(filepath.Dir(hs[1])); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket's directory is still there after the plugin exited (%v)", err)
	}
}

// checkPythonHealth checks the health service of the plugin listening on
// socket, as go-plugin's host does: the service "plugin" is SERVING, and an
// unknown service is NOT_FOUND.
func checkPythonHealth(t *testing.T, socket string) {
	t.Helper()
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	health := healthpb.NewHealthClient(conn)
	resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "plugin"})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Check(plugin) = %v, %v; want SERVING", resp, err)
	}
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("Check(nope) = %v, want NotFound", err)
	}
}

// TestPythonByHand runs the example Python plugin as a person would: it
// explains itself and exits 1 without the magic cookie, and prints what it
// serves with -describe.
func TestPythonByHand(t *testing.T) {
	t.Parallel()
	script := requirePython(t)
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "HERALD_PLUGIN_MAGIC_COOKIE=") })
	env = append(env, pyNoBytecode)

	cmd := exec.Command(script)
	cmd.Env = env
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("run by hand: %v, want exit status 1", err)
	}
	if stdout.Len() != 0 || !strings.Contains(stderr.String(), "is a Herald plugin") || !strings.Contains(stderr.String(), "summarize") {
		t.Errorf("run by hand: stdout %q, stderr %q; want an explanation on stderr only", stdout.String(), stderr.String())
	}

	cmd = exec.Command(script, "-describe")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("-describe: %v", err)
	}
	var d plugins.Description
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatalf("-describe printed %q: %v", out, err)
	}
	if d.ProtocolVersion != plugins.ProtocolVersion || len(d.Agents) != 1 || d.Agents[0].Name != "summarize" || d.Agents[0].Description == "" {
		t.Errorf("-describe = %+v, want protocol %d and the summarize agent", d, plugins.ProtocolVersion)
	}

	// A host that asks for AutoMTLS gets a clear refusal.
	m, err := plugins.NewManager(plugins.Config{
		Plugins:      []plugins.Plugin{{Path: script, Env: []string{pyNoBytecode}, TLS: plugins.TLSOn}},
		StartTimeout: 30 * time.Second,
	})
	if err == nil {
		m.Close()
		t.Fatal("NewManager with TLSOn started the Python plugin, want an error")
	}
}

// TestPythonPluginDir installs the example Python plugin the way the README
// says, in a plugin directory beside its library and generated code: only
// the executable script is a plugin.
func TestPythonPluginDir(t *testing.T) {
	t.Parallel()
	requirePython(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(pythonDir)); err != nil {
		t.Fatal(err)
	}
	// Everything but the plugin itself is not executable, or a directory.
	for _, f := range []string{"generate.sh"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "summarize.py"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The README's shortest Python plugin.
	if err := os.WriteFile(filepath.Join(dir, "shout.py"), []byte(shout), 0o755); err != nil {
		t.Fatal(err)
	}
	m := newManager(t, plugins.Config{Dir: dir, Logger: testLogger(t)})
	var names []string
	for _, p := range m.Plugins() {
		names = append(names, p.Name)
	}
	if !slices.Equal(names, []string{"shout", "summarize"}) {
		t.Fatalf("Plugins() = %v, want shout and summarize only", names)
	}
	for _, tc := range []struct{ agent, payload, summary string }{
		{"summarize", `{"text":"hello"}`, "1 words in 1 lines"},
		{"shout", `"hi"`, `"HI"`},
	} {
		res, err := m.Agents()[tc.agent].Run(t.Context(), &agent.Task{RunID: "r1", Payload: json.RawMessage(tc.payload), Attempt: 1, MaxAttempts: 1})
		if err != nil || res.Summary != tc.summary {
			t.Errorf("%s: Run = %+v, %v; want summary %s", tc.agent, res, err, tc.summary)
		}
	}
}

// shout is the README's shortest Python plugin.
const shout = `#!/usr/bin/python3
import herald_plugin

def shout(ctx, task):
    "shouts the payload back"
    return herald_plugin.Result(summary=task.payload.decode().upper())

herald_plugin.serve({"shout": shout})
`
