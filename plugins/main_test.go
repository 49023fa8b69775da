//go:build linux

package plugins_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

// bin holds the binaries the tests run, built once by TestMain.
var bin struct {
	dir                                 string
	wordcount, jsonl, testkit, testhost string
}

// TestMain builds the example plugins and the test plugins once, runs the
// tests, and checks that no goroutine outlived them.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "herald-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./examples/plugins/wordcount", "./examples/plugins/jsonl",
		"./plugins/testdata/testkit", "./plugins/testdata/testhost")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build the test plugins: %v\n%s", err, out)
		return 1
	}
	bin.dir = dir
	bin.wordcount = filepath.Join(dir, "wordcount")
	bin.jsonl = filepath.Join(dir, "jsonl")
	bin.testkit = filepath.Join(dir, "testkit")
	bin.testhost = filepath.Join(dir, "testhost")
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}
