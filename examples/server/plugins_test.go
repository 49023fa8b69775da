package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfigFilePlugins(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	fc := mustParse(t, fmt.Sprintf("plugins:\n  dir: /opt/herald/plugins\n  checksums: {wordcount: %q}\n", sum), nil)
	if fc.Plugins.Dir != "/opt/herald/plugins" || fc.Plugins.Checksums["wordcount"] != sum {
		t.Errorf("plugins = %+v", fc.Plugins)
	}
	runConfigCases(t, []configCase{
		{name: "checksums without dir", text: "plugins:\n  checksums: {wordcount: " + sum + "}\n",
			want: []string{"line 2: plugins.checksums: needs plugins.dir"}},
		{name: "bad digest", text: "plugins:\n  dir: p\n  checksums:\n    wordcount: abc\n",
			want: []string{"line 4: plugins.checksums.wordcount: must be a SHA-256 digest: 64 hex digits (sha256sum FILE)"}},
		{name: "bad name", text: "plugins:\n  dir: p\n  checksums:\n    ../x: " + sum + "\n",
			want: []string{"line 4: plugins.checksums.../x: must be named after a plugin's file (letters, digits, _ . -)"}},
		{name: "unknown key", text: "plugins:\n  directory: p\n",
			want: []string{`line 2: plugins.directory: unknown key`}},
	})
}

// buildPlugins builds the example Go plugins into a new directory of t's
// and returns it.
func buildPlugins(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "../plugins/wordcount", "../plugins/jsonl")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the example plugins: %v\n%s", err, out)
	}
	return dir
}

// TestE2EPlugins starts the server with the example plugins: their agent
// and channel are listed and work, and a wrong checksum stops the start.
func TestE2EPlugins(t *testing.T) {
	bin := buildServer(t)
	dir := buildPlugins(t)
	b, err := os.ReadFile(filepath.Join(dir, "wordcount"))
	if err != nil {
		t.Fatal(err)
	}
	sum := fmt.Sprintf("%x", sha256.Sum256(b))

	t.Run("served", func(t *testing.T) {
		srv := startServer(t, bin, sqliteDSN(t), writeConfig(t, e2eConfig(fmt.Sprintf("plugins: {dir: %q, checksums: {wordcount: %q}}\n", dir, sum))))
		alice := srv.As(e2eAliceToken)
		var agents struct {
			Agents []struct{ Name string } `json:"agents"`
		}
		alice.Do(http.MethodGet, "/v1/agents", "").Want(http.StatusOK).JSON(&agents)
		if !slices.ContainsFunc(agents.Agents, func(a struct{ Name string }) bool { return a.Name == "wordcount" }) {
			t.Errorf("GET /v1/agents = %+v, want wordcount among them", agents)
		}
		var channels struct {
			Channels []struct{ Name string } `json:"channels"`
		}
		alice.Do(http.MethodGet, "/v1/channels", "").Want(http.StatusOK).JSON(&channels)
		if !slices.ContainsFunc(channels.Channels, func(c struct{ Name string }) bool { return c.Name == "jsonl" }) {
			t.Errorf("GET /v1/channels = %+v, want jsonl among them", channels)
		}
		id := alice.Enqueue(`{"agent":"wordcount","payload":{"text":"one two\nthree\n"}}`)
		run := alice.WaitRun(id, "succeeded", 30*time.Second)
		if !jsonEqual(run.Output, []byte(`{"words":3,"lines":2}`)) {
			t.Errorf("run %v output %s, want 3 words in 2 lines", run, run.Output)
		}
		srv.Stop()
	})

	t.Run("checksum mismatch", func(t *testing.T) {
		cfg := writeConfig(t, e2eConfig(fmt.Sprintf("plugins: {dir: %q, checksums: {wordcount: %q}}\n", dir, strings.Repeat("0", 64))))
		cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", sqliteDSN(t), "-config", cfg)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TMPDIR=" + os.TempDir()}
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatal("the server started with a wrong plugin checksum")
		}
		for _, want := range []string{"plugins.checksums", "checksum mismatch", filepath.Join(dir, "wordcount")} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output does not mention %q:\n%s", want, out)
			}
		}
	})
}
