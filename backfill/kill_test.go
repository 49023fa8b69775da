package backfill_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun/driver/sqliteshim"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/backfill/slack"
	"github.com/heraldhq/herald/backfill/slack/slacktest"
	"github.com/heraldhq/herald/store/bunstore"
	"github.com/heraldhq/herald/store/memstore"
)

// The environment of the helper process of TestKill9: the test binary,
// run with envKillChild set, runs the agent instead of the tests.
const (
	envKillChild = "HERALD_BACKFILL_KILLTEST_CHILD" // the SQLite file
	envKillURL   = "HERALD_BACKFILL_KILLTEST_URL"   // the Web API's base URL
	envKillToken = "HERALD_BACKFILL_KILLTEST_TOKEN" // the bot token
)

// killPayload is the run of TestKill9: a fixed window, so that the
// child's wall clock does not matter.
const killPayload = `{"workspace_id":"` + workspaceID + `","since":"2024-12-31T00:00:00Z"}`

// killChild is the helper process: it runs the backfill agent once on the
// SQLite file and Slack URL of its environment, prints the run's output
// and returns its exit code.
func killChild() int {
	ctx := context.Background()
	st, err := bunstore.Open(ctx, "sqlite://"+os.Getenv(envKillChild), bunstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open store:", err)
		return 2
	}
	defer st.Close()
	a, err := backfill.NewAgent(backfill.Config{
		Workspaces: backfill.WorkspacesFunc(func(context.Context, string, string) (backfill.Source, error) {
			return slack.New(slack.Config{Token: os.Getenv(envKillToken), BaseURL: os.Getenv(envKillURL), RateLimits: unlimited()})
		}),
		Cursors:  st,
		Sink:     backfill.StoreSink(st),
		PageSize: 100,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	res, err := a.Run(ctx, &agent.Task{RunID: "kill", Owner: owner, Payload: json.RawMessage(killPayload),
		Progress: agent.ReporterFunc(func(context.Context, map[string]int64) error { return nil })})
	if err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		return 1
	}
	fmt.Println(string(res.Output))
	return 0
}

// unlimited removes every rate limit of a Source.
func unlimited() map[string]float64 {
	m := slack.RateLimitsDefault(false)
	for k := range m {
		m[k] = math.Inf(1)
	}
	return m
}

// TestKill9: a process running the agent, killed with SIGKILL mid-way,
// then run again to the end, leaves its SQLite file as an uninterrupted run
// leaves a store. In "between writes" the kill comes while the child waits
// for a history page (the fake holds the request), so what it wrote is
// known; in "anywhere" it comes as soon as a third of the messages are in,
// whatever the child is doing.
func TestKill9(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGKILL")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	for _, tc := range []struct {
		name     string
		messages int // per channel
		gateAt   int // the history request held; 0 for none
	}{
		{name: "between writes", messages: 300, gateAt: 7},
		{name: "anywhere", messages: 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if raceEnabled && tc.gateAt == 0 {
				tc.messages /= 4
			}
			params := slacktest.GenerateParams{Channels: 4, Messages: tc.messages, Users: 30,
				Start: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
			ws := slacktest.Generate(params)
			ws.Token = botToken
			fake := slacktest.New(t, ws)
			channels := []string{"C0000000", "C0000001", "C0000002", "C0000003"}

			// The uninterrupted run.
			ref := memstore.New(memstore.Options{})
			t.Cleanup(func() { _ = ref.Close() })
			refAgent, err := backfill.NewAgent(backfill.Config{
				Workspaces: backfill.WorkspacesFunc(func(context.Context, string, string) (backfill.Source, error) {
					return slack.New(slack.Config{Token: botToken, BaseURL: fake.URL(), HTTPClient: fake.Client(), RateLimits: unlimited()})
				}),
				Cursors: ref, Sink: backfill.StoreSink(ref), PageSize: 100,
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := refAgent.Run(t.Context(), &agent.Task{RunID: "ref", Owner: owner, Payload: json.RawMessage(killPayload)})
			if err != nil {
				t.Fatal(err)
			}
			var refOut backfill.Output
			_ = json.Unmarshal(res.Output, &refOut)
			want := dump(t, ref, channels, true)
			if int64(len(want)) != refOut.MessagesCollected || len(want) < params.Total()/2 {
				t.Fatalf("uninterrupted run: %d stored, %d collected of %d", len(want), refOut.MessagesCollected, params.Total())
			}

			t.Logf("uninterrupted run: %d messages", len(want))
			g := newGate(t, fake, tc.gateAt)
			path := filepath.Join(t.TempDir(), "herald.db")
			child := startChild(t, path, g.url())
			if tc.gateAt > 0 {
				select {
				case <-g.held:
				case err := <-child.done:
					t.Fatalf("the child ended (%v) before it reached the held request:\n%s", err, child.stderr.String())
				case <-time.After(time.Minute):
					t.Fatal("the child never reached the held request")
				}
			}
			deadline := time.Now().Add(time.Minute)
			var before int
			for {
				before = countMessages(t, path)
				if tc.gateAt > 0 && before > 0 || tc.gateAt == 0 && before > len(want)/3 {
					break
				}
				select {
				case err := <-child.done:
					t.Fatalf("the child ended (%v) before it could be killed (%d messages in):\n%s", err, before, child.stderr.String())
				case <-time.After(2 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatalf("after a minute, %d messages in", before)
				}
			}
			if err := child.cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			err = <-child.done
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child ended with %v, want killed by SIGKILL", err)
			}
			g.open()
			killedAt := countMessages(t, path)
			if tc.gateAt > 0 && killedAt != before {
				t.Errorf("%d messages when the child was held, %d after it was killed", before, killedAt)
			}

			t.Logf("killed; starting again")
			again := startChild(t, path, g.url())
			if err := <-again.done; err != nil {
				t.Fatalf("second child: %v\n%s", err, again.stderr.String())
			}
			var out backfill.Output
			if err := json.Unmarshal(again.stdout.Bytes(), &out); err != nil {
				t.Fatalf("second child's output %q: %v", again.stdout.String(), err)
			}
			st, err := bunstore.Open(t.Context(), "sqlite://"+path, bunstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if got := dump(t, st, channels, true); !slices.Equal(got, want) {
				t.Errorf("killed and resumed, the SQLite file differs from an uninterrupted run (%d messages, want %d):\n%.3000s",
					len(got), len(want), lineDiff(want, got))
			}
			if int(out.MessagesCollected)+killedAt != len(want) {
				t.Errorf("%d messages before the kill + %d collected after = %d, want %d", killedAt, out.MessagesCollected,
					killedAt+int(out.MessagesCollected), len(want))
			}
			t.Logf("killed with %d of %d messages in", killedAt, len(want))
		})
	}
}

// child is a running helper process.
type child struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
	done           chan error // receives the process's end
}

func startChild(t *testing.T, path, url string) *child {
	t.Helper()
	c := &child{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(os.Args[0])
	c.cmd.Env = append(os.Environ(), envKillChild+"="+path, envKillURL+"="+url, envKillToken+"="+botToken)
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.done <- c.cmd.Wait() }()
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			_ = c.cmd.Process.Kill()
		}
	})
	return c
}

// countMessages counts the messages in the SQLite file at path (0 before
// its tables exist).
func countMessages(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open(sqliteshim.ShimName, "file:"+path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM herald_messages").Scan(&n); err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0
		}
		t.Fatal(err)
	}
	return n
}

// gate is a proxy in front of the fake that holds the at-th
// conversations.history request until the client goes away, and passes
// every request once opened.
type gate struct {
	base   string
	held   chan struct{} // closed when the request is held
	opened chan struct{}

	once    sync.Once
	history atomic.Int64
}

func newGate(t *testing.T, fake *slacktest.Server, at int) *gate {
	t.Helper()
	target := strings.TrimSuffix(fake.URL(), "/api/")
	client := fake.Client()
	g := &gate{held: make(chan struct{}), opened: make(chan struct{})}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if at > 0 && strings.HasSuffix(r.URL.Path, "/"+slack.MethodConversationsHistory) && g.history.Add(1) == int64(at) {
			close(g.held)
			select {
			case <-r.Context().Done():
				return
			case <-g.opened:
			}
		}
		// Forward the request whole, and the answer whole.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		req, err := http.NewRequest(r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, err := io.ReadAll(resp.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(ts.Close)
	g.base = ts.URL
	t.Cleanup(g.open) // before ts.Close: a held request returns
	return g
}

func (g *gate) url() string { return g.base + "/api/" }

func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }
