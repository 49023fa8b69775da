package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/api"
)

// TestBinary builds the command and runs it as a process: main wires run
// to the process's arguments, environment, output and exit status.
func TestBinary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with")
	}
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	f := newFixture(t)
	herald := func(token string, args ...string) (int, string, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), envServer+"="+f.srv.URL, envToken+"="+token)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("run %v: %v", args, err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	code, out, errOut := herald(opsToken, "schedules", "create", "-name", "b", "-agent", "echo", "-every", "1h", "-o", "json")
	var s api.Schedule
	if code != exitOK || json.Unmarshal([]byte(out), &s) != nil || s.Name != "b" {
		t.Fatalf("schedules create: exit %d, %q, %q", code, out, errOut)
	}
	if code, _, errOut := herald(opsToken, "runs", "show", missingID); code != exitNotFound || !strings.Contains(errOut, "run not found") {
		t.Errorf("runs show of a missing run: exit %d, %q; want %d", code, errOut, exitNotFound)
	}
	if code, _, _ := herald("wrong", "schedules", "list"); code != exitForbidden {
		t.Errorf("a bad token: exit %d, want %d", code, exitForbidden)
	}
	if code, _, errOut := herald(opsToken, "schedules", "list", "-nope"); code != exitUsage || !strings.Contains(errOut, "-nope") {
		t.Errorf("a bad flag: exit %d, %q; want %d", code, errOut, exitUsage)
	}
}
