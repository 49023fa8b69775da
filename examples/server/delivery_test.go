package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/heraldhq/herald/internal/testpg"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// mailbox is an SMTP server on loopback that keeps every message it
// receives, by recipient.
type mailbox struct {
	port int
	mu   sync.Mutex
	got  map[string][]*mail.Message
	recv chan string // a recipient, per message
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{got: map[string][]*mail.Message{}, recv: make(chan string, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailSession{mb: mb}, nil }))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.port = ln.Addr().(*net.TCPAddr).Port
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		_ = ln.Close() // in case Serve had not taken it yet, which Close misses
		if err := <-served; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("mailbox: %v", err)
		}
	})
	return mb
}

func (mb *mailbox) messages(to string) []*mail.Message {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*mail.Message(nil), mb.got[to]...)
}

// mailSession is one SMTP session of a mailbox.
type mailSession struct {
	mb *mailbox
	to []string
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(r)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(m.Body)
	if err != nil {
		return err
	}
	m.Body = strings.NewReader(string(body))
	s.mb.mu.Lock()
	for _, to := range s.to {
		s.mb.got[to] = append(s.mb.got[to], m)
	}
	s.mb.mu.Unlock()
	for _, to := range s.to {
		select {
		case s.mb.recv <- to:
		default:
		}
	}
	return nil
}
func (s *mailSession) Reset()        { s.to = nil }
func (s *mailSession) Logout() error { return nil }

// deliveryConfigFile is a static schedule whose every run fails, with an
// admin emailed on failure, a success-only address that must get nothing,
// and the log channel for every outcome.
const deliveryConfigFile = `delivery:
  email: {host: 127.0.0.1, port: ${SMTP_PORT}, tls: none, from: herald@example.test}
schedules:
  - name: nightly_backup
    cron: "* * * * * *"
    agent: echo
    payload: {fail: "disk full on /var/backups"}
    max_attempts: 1
    deliver:
      - {channel: email, to: admin@example.test, on: failure}
      - {channel: email, to: happy@example.test, on: success}
      - {channel: log}
`

func TestFailureEmailedToAdmin(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		testFailureEmailed(t, "sqlite://"+filepath.Join(t.TempDir(), "h.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		testFailureEmailed(t, testpg.DSN(t))
	})
}

// testFailureEmailed runs the server with deliveryConfigFile and checks
// that a failed run of the static schedule reaches the admin by email,
// with the error and a link-free account of the run.
func testFailureEmailed(t *testing.T, dsn string) {
	mb := newMailbox(t)
	file := filepath.Join(t.TempDir(), "herald.yaml")
	if err := os.WriteFile(file, []byte(deliveryConfigFile), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SMTP_PORT": strconv.Itoa(mb.port)}
	ready := make(chan string, 1)
	cfg := mustLoadConfig(t, env, "-addr", "127.0.0.1:0", "-db", dsn, "-config", file)
	cfg.Ready = ready
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, quiet(cfg), newLogger(&logs, logConfig{}, dsnSecrets(dsn)...)) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, logs.String())
	case <-time.After(30 * time.Second):
		t.Fatal("not listening")
	}

	select {
	case to := <-mb.recv:
		if to != "admin@example.test" {
			t.Errorf("first message to %s", to)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("no email within 15s\n%s", logs.String())
	}
	// The run's other deliveries (the log) may still be under way when the
	// email arrives: stopping now would cancel them.
	logged := func() bool {
		l := logs.String()
		return strings.Contains(l, `msg="run result"`) && strings.Contains(l, "status=failed")
	}
	for deadline := time.Now().Add(15 * time.Second); !logged() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	m := mb.messages("admin@example.test")[0]
	if s := m.Header.Get("Subject"); s != "echo: run failed" {
		t.Errorf("Subject %q", s)
	}
	body, _ := io.ReadAll(m.Body)
	for _, want := range []string{"ended failed after 1 of 1 attempt(s)", "Error: disk full on /var/backups", "Owner: system", "Schedule: "} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the email lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
		t.Errorf("the email holds a link:\n%s", body)
	}
	if n := len(mb.messages("happy@example.test")); n != 0 {
		t.Errorf("the on-success address got %d messages for failed runs", n)
	}
	if !logged() {
		t.Errorf("no log delivery of the failed run:\n%s", logs.String())
	}
}

// TestDeliveryAndScheduleConfigRefused checks that the server refuses to
// start on a config file with a problem, naming the key at fault.
func TestDeliveryAndScheduleConfigRefused(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"email without host", "delivery:\n  email: {from: a@example.test}\n", "line 2: delivery.email.host: required"},
		{"callback with a short secret", "delivery:\n  callback: {secrets: [whsec_c2hvcnQ=]}\n",
			`line 2: delivery.callback.secrets[0]: must be "whsec_" and the base64 of a 24 to 64 byte key`},
		{"slack channel without token", "delivery:\n  slack: {channel: \"#ops\"}\n",
			"line 2: delivery.slack.channel: needs token: chat.postMessage takes a bot token"},
		{"two triggers", "schedules:\n  - {name: a, agent: echo, cron: \"@daily\", interval: 1h}\n",
			"line 2: schedules[0].interval: excludes cron: a schedule fires on one of cron, interval and at"},
		{"no trigger", "schedules:\n  - {name: a, agent: echo}\n", "line 2: schedules[0]: needs one of cron, interval and at"},
		{"unknown channel", "schedules:\n  - {name: a, agent: echo, cron: \"@daily\", deliver: [{channel: pager}]}\n",
			"line 2: schedules[0].deliver[0].channel: must be one of log"},
		{"unknown agent", "schedules:\n  - {name: a, agent: nope, cron: \"@daily\"}\n",
			"line 2: schedules[0].agent: must be one of echo, health_check, kpi_report, retention"},
		{"bad cron", "schedules:\n  - {name: a, agent: echo, cron: \"61 * * * *\"}\n", "line 2: schedules[0].cron: "},
		{"unknown key", "schedules:\n  - {name: a, agent: echo, cron: \"@daily\", colour: red}\n", "line 2: schedules[0].colour: unknown key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "herald.yaml")
			if err := os.WriteFile(file, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig([]string{"-addr", "127.0.0.1:0", "-db", "sqlite://" + filepath.Join(t.TempDir(), "h.db"),
				"-config", file}, func(string) string { return "" }, io.Discard)
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				err = run(ctx, quiet(cfg), nil)
			}
			t.Log(err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

// TestStaticScheduleTakenAtStart checks that a problem only the store can
// tell (a user's schedule has the static schedule's name) is reported at
// start by the schedule's path and line, the scheduler's error kept.
func TestStaticScheduleTakenAtStart(t *testing.T) {
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "h.db")
	st, err := bunstore.Open(t.Context(), dsn, bunstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.ScheduleCreate(t.Context(), &store.Schedule{Owner: "system", Name: "nightly", Agent: "echo",
		Trigger: store.Trigger{Kind: store.TriggerCron, Cron: "@daily"}})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "herald.yaml")
	text := "schedules:\n  - {name: hourly, agent: echo, cron: \"@hourly\"}\n  - {name: nightly, agent: echo, cron: \"@daily\"}\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoadConfig(t, nil, "-addr", "127.0.0.1:0", "-db", dsn, "-config", file)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, quiet(cfg), nil)
	want := "config file " + file + ": line 3: schedules[1]: scheduler: start: static schedule \"nightly\""
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("run = %v, want an error starting %q that matches store.ErrConflict", err, want)
	}
}
