package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

const testConfig = `webhooks:
  - {source: github, scheme: github, secrets: ["${TEST_GITHUB_SECRET}"], agent: echo, owner: ops}
  - {source: plain, scheme: insecure, agent: echo, owner: ops, delivery_id_header: X-Request-Id}
`

func TestWebhooksEndToEnd(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testWebhooks(t, "sqlite://"+filepath.Join(t.TempDir(), "h.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testWebhooks(t, testpg.DSN(t))
	})
}

// testWebhooks serves a config file's sources and checks that a signed
// delivery becomes a run of echo that succeeds with the body as output.
func testWebhooks(t *testing.T, dsn string) {
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TEST_GITHUB_SECRET": "s3cret"}
	ready := make(chan string, 1)
	cfg := config{Addr: "127.0.0.1:0", Database: dsn, File: file, Getenv: func(k string) string { return env[k] }, Ready: ready}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, newLogger(&logs, "s3cret")) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("not listening")
	}

	body := `{"action":"opened","number":7}`
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(body))
	post := func(source, sig, id string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/webhooks/"+source, strings.NewReader(body))
		if sig != "" {
			req.Header.Set("X-Hub-Signature-256", sig)
		}
		req.Header.Set("X-GitHub-Delivery", id)
		req.Header.Set("X-Request-Id", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return resp.StatusCode, out
	}
	status, out := post("github", "sha256="+hex.EncodeToString(mac.Sum(nil)), "gh-1")
	if status != http.StatusOK || out["received"] != true {
		t.Fatalf("signed delivery: %d %v\n%s", status, out, logs.String())
	}
	if status, _ := post("github", "sha256="+strings.Repeat("0", 64), "gh-2"); status != http.StatusUnauthorized {
		t.Errorf("forged delivery: %d, want 401", status)
	}
	if status, out := post("plain", "", "p-1"); status != http.StatusOK || out["duplicate"] != false {
		t.Errorf("insecure source: %d %v", status, out)
	}
	if status, out := post("plain", "", "p-1"); status != http.StatusOK || out["duplicate"] != true {
		t.Errorf("insecure source, same id: %d %v, want a duplicate", status, out)
	}

	st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runID := out["run_id"].(string)
	var r *store.Run
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, err = st.RunGet(context.Background(), runID); err == nil && r.Status.Terminal() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not finished: %+v %v", runID, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.Status != store.RunSucceeded || string(r.Output) != body || r.Kind != store.RunKindWebhook {
		t.Errorf("webhook run: %s %s output %s", r.Kind, r.Status, r.Output)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the secret reached the log")
	}
}

func TestConfigFileIsChecked(t *testing.T) {
	cases := map[string]string{
		"unknown key":    "webhooks:\n  - {source: a, scheme: github, secrets: [x], agent: echo, owner: ops, colour: red}\n",
		"unknown scheme": "webhooks:\n  - {source: a, scheme: carrier-pigeon, secrets: [x], agent: echo, owner: ops}\n",
		"empty secret":   "webhooks:\n  - {source: a, scheme: github, secrets: [\"${UNSET}\"], agent: echo, owner: ops}\n",
		"no secrets":     "webhooks:\n  - {source: a, scheme: stripe, agent: echo, owner: ops}\n",
		"bad encoding":   "webhooks:\n  - {source: a, scheme: hmac, secrets: [x], encoding: rot13, agent: echo, owner: ops}\n",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			fc, err := loadConfigFile(file, func(string) string { return "" })
			if err == nil {
				_, err = fc.sources()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			t.Log(err)
		})
	}
}
