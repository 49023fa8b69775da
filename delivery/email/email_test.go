package email_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/delivery/email"
)

const (
	testFrom     = "Herald Reports <herald@example.test>"
	testUser     = "herald"
	testPassword = "correct horse battery staple"
)

// newDeliverer returns a deliverer for ts, in TLS mode mode, with the
// credentials user and password.
func newDeliverer(t *testing.T, ts *testServer, mode email.TLSMode, user, password string) *email.Deliverer {
	t.Helper()
	d, err := email.New(email.Config{
		Host:      "127.0.0.1",
		Port:      ts.port,
		Username:  user,
		Password:  password,
		From:      testFrom,
		TLSMode:   mode,
		TLSConfig: &tls.Config{RootCAs: ts.roots},
		Timeout:   10 * time.Second,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// testMessage returns a message to to with the idempotency key key.
func testMessage(to, key string) *delivery.Message {
	return &delivery.Message{
		RunID:          "01900000-0000-7000-8000-00000000abcd",
		Owner:          "team-a",
		Agent:          "kpi_report",
		Status:         delivery.StatusSucceeded,
		Target:         delivery.Target{Channel: "email", To: to},
		Subject:        "kpi_report succeeded",
		Text:           "Revenue up 3% week on week.\nSee the output.",
		Output:         []byte(`{"ok":true,"items":[1,2,3]}`),
		IdempotencyKey: key,
	}
}

// deliver delivers m with d under a one-minute timeout.
func deliver(t *testing.T, d *email.Deliverer, m *delivery.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	return d.Deliver(ctx, m)
}

// onlyMessage returns the one message ts received.
func onlyMessage(t *testing.T, ts *testServer) *received {
	t.Helper()
	got := ts.messages()
	if len(got) != 1 {
		t.Fatalf("the server received %d messages, want 1", len(got))
	}
	return got[0]
}

// mimePart is a decoded part of a multipart message.
type mimePart struct {
	contentType string
	encoding    string
	body        string // decoded, with LF line ends
}

// parts returns the parts of a multipart/alternative message.
func parts(t *testing.T, msg *mail.Message) []mimePart {
	t.Helper()
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("Content-Type %q: %v", msg.Header.Get("Content-Type"), err)
	}
	if mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", mt)
	}
	body, err := io.ReadAll(msg.Body)
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var ps []mimePart
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("NextRawPart: %v", err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		mp := mimePart{contentType: p.Header.Get("Content-Type"), encoding: p.Header.Get("Content-Transfer-Encoding")}
		decoded := raw
		if mp.encoding == "quoted-printable" {
			if decoded, err = io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw))); err != nil {
				t.Fatalf("part %s: quoted-printable: %v", mp.contentType, err)
			}
		}
		mp.body = strings.ReplaceAll(string(decoded), "\r\n", "\n")
		ps = append(ps, mp)
	}
	return ps
}

func TestDeliverMessage(t *testing.T) {
	ts := newServer(t, serverConfig{username: testUser, password: testPassword})
	d := newDeliverer(t, ts, email.TLSModeSTARTTLS, testUser, testPassword)

	m := testMessage(`"Ops, Team" <ops@example.test>, second@example.test`, "01900000/email/ops")
	m.Subject = "Rapport prêt ✓ — 週報"
	m.Text = "Done.\n<script>alert(1)</script> & more"
	m.Output = []byte(`{"ok":true,"html":"<b>bold</b>"}`)
	before := time.Now()
	if err := deliver(t, d, m); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	got := onlyMessage(t, ts)

	t.Run("Envelope", func(t *testing.T) {
		if !got.tls {
			t.Error("the message was not sent over TLS")
		}
		if got.user != testUser {
			t.Errorf("authenticated as %q, want %q", got.user, testUser)
		}
		if got.from != "herald@example.test" {
			t.Errorf("MAIL FROM %q, want herald@example.test", got.from)
		}
		if want := []string{"ops@example.test", "second@example.test"}; strings.Join(got.to, " ") != strings.Join(want, " ") {
			t.Errorf("RCPT TO %q, want %q", got.to, want)
		}
	})

	t.Run("Headers", func(t *testing.T) {
		h := got.message.Header
		from, err := mail.ParseAddress(h.Get("From"))
		if err != nil || from.Name != "Herald Reports" || from.Address != "herald@example.test" {
			t.Errorf("From %q = %v, %v; want %s", h.Get("From"), from, err, testFrom)
		}
		to, err := h.AddressList("To")
		if err != nil || len(to) != 2 || to[0].Name != "Ops, Team" || to[0].Address != "ops@example.test" || to[1].Address != "second@example.test" {
			t.Errorf("To %q = %v, %v", h.Get("To"), to, err)
		}
		var dec mime.WordDecoder
		subject, err := dec.DecodeHeader(h.Get("Subject"))
		if err != nil || subject != m.Subject {
			t.Errorf("Subject %q decodes to %q, %v; want %q", h.Get("Subject"), subject, err, m.Subject)
		}
		if !strings.HasPrefix(h.Get("Subject"), "=?utf-8?q?") {
			t.Errorf("Subject %q is not Q-encoded", h.Get("Subject"))
		}
		date, err := h.Date()
		if err != nil || date.Before(before.Add(-time.Second)) || date.After(time.Now().Add(time.Second)) {
			t.Errorf("Date %q = %v, %v; want the time of sending", h.Get("Date"), date, err)
		}
		if want := email.MessageID(m.IdempotencyKey, "example.test"); h.Get("Message-ID") != want {
			t.Errorf("Message-ID %q, want %q", h.Get("Message-ID"), want)
		}
		if h.Get("MIME-Version") != "1.0" {
			t.Errorf("MIME-Version %q, want 1.0", h.Get("MIME-Version"))
		}
		if h.Get("X-Herald-Run-ID") != m.RunID {
			t.Errorf("X-Herald-Run-ID %q, want %q", h.Get("X-Herald-Run-ID"), m.RunID)
		}
	})

	t.Run("LineEnds", func(t *testing.T) {
		if i := bytes.IndexByte(got.raw, '\n'); i >= 0 {
			for i := range got.raw {
				if got.raw[i] == '\n' && (i == 0 || got.raw[i-1] != '\r') {
					t.Fatalf("bare LF at byte %d of the message", i)
				}
			}
		}
		for line := range strings.SplitSeq(string(got.raw), "\r\n") {
			if len(line) > 998 {
				t.Errorf("line of %d bytes, more than RFC 5322's 998: %.60q…", len(line), line)
			}
		}
	})

	t.Run("Parts", func(t *testing.T) {
		ps := parts(t, got.message)
		if len(ps) != 2 {
			t.Fatalf("%d parts, want 2", len(ps))
		}
		plain, html := ps[0], ps[1]
		if plain.contentType != "text/plain; charset=utf-8" || plain.encoding != "quoted-printable" {
			t.Errorf("first part %q, %q; want text/plain; charset=utf-8, quoted-printable", plain.contentType, plain.encoding)
		}
		if html.contentType != "text/html; charset=utf-8" || html.encoding != "quoted-printable" {
			t.Errorf("second part %q, %q; want text/html; charset=utf-8, quoted-printable", html.contentType, html.encoding)
		}
		for _, want := range []string{m.Text, `"ok": true`, `"html": "<b>bold</b>"`, m.RunID} {
			if !strings.Contains(plain.body, want) {
				t.Errorf("text part does not contain %q:\n%s", want, plain.body)
			}
		}
		for _, want := range []string{
			"Done.\n&lt;script&gt;alert(1)&lt;/script&gt; &amp; more",
			"<pre>{\n  &#34;ok&#34;: true,\n  &#34;html&#34;: &#34;&lt;b&gt;bold&lt;/b&gt;&#34;\n}</pre>",
			"<title>Rapport prêt ✓ — 週報</title>",
		} {
			if !strings.Contains(html.body, want) {
				t.Errorf("html part does not contain %q:\n%s", want, html.body)
			}
		}
		for _, bad := range []string{"<script>", "<b>"} {
			if strings.Contains(html.body, bad) {
				t.Errorf("html part contains %q unescaped:\n%s", bad, html.body)
			}
		}
	})
}

func TestDeliverMessageID(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, "", "", "")
	for _, key := range []string{"run-1/email/a@example.test", "run-1/email/a@example.test", "run-2/email/a@example.test", ""} {
		if err := deliver(t, d, testMessage("a@example.test", key)); err != nil {
			t.Fatalf("Deliver(key %q) = %v", key, err)
		}
	}
	got := ts.messages()
	if len(got) != 4 {
		t.Fatalf("the server received %d messages, want 4", len(got))
	}
	ids := make([]string, len(got))
	for i, r := range got {
		ids[i] = r.message.Header.Get("Message-ID")
		if !strings.HasPrefix(ids[i], "<") || !strings.HasSuffix(ids[i], "@example.test>") {
			t.Errorf("Message-ID %q, want <…@example.test>", ids[i])
		}
	}
	if ids[0] != ids[1] {
		t.Errorf("two deliveries with the same key have Message-IDs %q and %q, want the same", ids[0], ids[1])
	}
	if ids[0] == ids[2] || ids[0] == ids[3] || ids[2] == ids[3] {
		t.Errorf("deliveries with different keys share a Message-ID: %q", ids)
	}
}

func TestDeliverHeaderInjection(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, "", "", "")
	m := testMessage("a@example.test", "k")
	m.Subject = "a\r\nBcc: x@y\nX-Evil: 1\r\n\r\nbody"
	m.RunID = "run\r\nCc: z@y"
	if err := deliver(t, d, m); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	got := onlyMessage(t, ts)
	h := got.message.Header
	for _, name := range []string{"Bcc", "Cc", "X-Evil"} {
		if v, ok := h[name]; ok {
			t.Errorf("header injection: the message has a %s header %q", name, v)
		}
	}
	if want := []string{"a@example.test"}; strings.Join(got.to, ",") != want[0] {
		t.Errorf("RCPT TO %q, want %q", got.to, want)
	}
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(h.Get("Subject"))
	if want := "a  Bcc: x@y X-Evil: 1    body"; err != nil || subject != want {
		t.Errorf("Subject %q decodes to %q, %v; want %q", h.Get("Subject"), subject, err, want)
	}
}

func TestDeliverLongSubject(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, "", "", "")
	m := testMessage("a@example.test", "k")
	m.Subject = strings.Repeat("Überprüfung der Wochenzahlen, ", 12)
	if err := deliver(t, d, m); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	got := onlyMessage(t, ts)
	var dec mime.WordDecoder
	subject, err := dec.DecodeHeader(got.message.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject decodes to %q, %v; want %q", subject, err, m.Subject)
	}
	head, _, _ := bytes.Cut(got.raw, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(head), "\r\n") {
		if len(line) > 78 {
			t.Errorf("header line of %d bytes, want it folded to 78: %q", len(line), line)
		}
	}
}

func TestDeliverImplicitTLS(t *testing.T) {
	ts := newServer(t, serverConfig{tls: serveTLS, username: testUser, password: testPassword})
	d := newDeliverer(t, ts, email.TLSModeTLS, testUser, testPassword)
	if err := deliver(t, d, testMessage("a@example.test", "k")); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if got := onlyMessage(t, ts); !got.tls || got.user != testUser {
		t.Errorf("received over TLS %t as %q, want over TLS as %q", got.tls, got.user, testUser)
	}
}

func TestDeliverPlainText(t *testing.T) {
	// TLSModeNone to a loopback relay, credentials included: net/smtp lets
	// them go in clear text to 127.0.0.1 only.
	ts := newServer(t, serverConfig{tls: servePlain, username: testUser, password: testPassword, insecureAuth: true})
	d := newDeliverer(t, ts, email.TLSModeNone, testUser, testPassword)
	if err := deliver(t, d, testMessage("a@example.test", "k")); err != nil {
		t.Fatalf("Deliver = %v", err)
	}
	if got := onlyMessage(t, ts); got.tls || got.user != testUser {
		t.Errorf("received over TLS %t as %q, want in plain text as %q", got.tls, got.user, testUser)
	}
}

func TestDeliverNoSTARTTLS(t *testing.T) {
	ts := newServer(t, serverConfig{tls: servePlain, username: testUser, password: testPassword, insecureAuth: true})
	d := newDeliverer(t, ts, email.TLSModeSTARTTLS, testUser, testPassword)
	err := deliver(t, d, testMessage("a@example.test", "k"))
	if err == nil {
		t.Fatal("Deliver succeeded without STARTTLS, want an error")
	}
	if !delivery.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false, want true", err)
	}
	if !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("Deliver = %v, want an error naming STARTTLS", err)
	}
	if mails, auths := ts.counts(); mails != 0 || auths != 0 || len(ts.messages()) != 0 {
		t.Errorf("in clear text the server saw %d AUTH, %d MAIL, %d messages; want none", auths, mails, len(ts.messages()))
	}
}

func TestDeliverUntrustedCertificate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve string
		mode  email.TLSMode
	}{
		{"STARTTLS", serveSTARTTLS, email.TLSModeSTARTTLS},
		{"TLS", serveTLS, email.TLSModeTLS},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newServer(t, serverConfig{tls: tc.serve})
			d, err := email.New(email.Config{
				Host:      "127.0.0.1",
				Port:      ts.port,
				From:      testFrom,
				TLSMode:   tc.mode,
				TLSConfig: &tls.Config{RootCAs: x509.NewCertPool()},
			})
			if err != nil {
				t.Fatal(err)
			}
			err = deliver(t, d, testMessage("a@example.test", "k"))
			if err == nil {
				t.Fatal("Deliver succeeded with a certificate it does not trust")
			}
			if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
				t.Errorf("Deliver = %v, want a *tls.CertificateVerificationError", err)
			}
			if delivery.IsPermanent(err) {
				t.Errorf("IsPermanent(%v) = true, want a TLS handshake failure transient", err)
			}
			if mails, _ := ts.counts(); mails != 0 {
				t.Errorf("the server saw %d MAIL, want none", mails)
			}
		})
	}
}

func TestDeliverAuthFailure(t *testing.T) {
	ts := newServer(t, serverConfig{username: testUser, password: testPassword})
	const wrong = "wrong-password-Zq81"
	d := newDeliverer(t, ts, email.TLSModeSTARTTLS, testUser, wrong)
	err := deliver(t, d, testMessage("a@example.test", "k"))
	if err == nil {
		t.Fatal("Deliver succeeded with a wrong password")
	}
	if !delivery.IsPermanent(err) {
		t.Errorf("IsPermanent(%v) = false, want true", err)
	}
	if want := "email: AUTH: 535 5.7.8 Authentication failed"; err.Error() != want {
		t.Errorf("Deliver = %q, want %q", err, want)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), testPassword) {
		t.Errorf("Deliver = %q, which holds the password", err)
	}
	if mails, auths := ts.counts(); mails != 0 || auths != 1 {
		t.Errorf("the server saw %d AUTH, %d MAIL; want 1 AUTH, no MAIL", auths, mails)
	}
}

func TestDeliverNoAuthOffered(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, email.TLSModeSTARTTLS, testUser, testPassword)
	err := deliver(t, d, testMessage("a@example.test", "k"))
	if !delivery.IsPermanent(err) || !strings.Contains(fmtErr(err), "AUTH") {
		t.Errorf("Deliver = %v, want a permanent error naming AUTH", err)
	}
}

func TestDeliverReplies(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, "", "", "")
	for _, tc := range []struct {
		to        string
		permanent bool
		want      string
	}{
		{"perm@example.test", true, "email: RCPT TO <perm@example.test>: 550 5.1.1 no such user"},
		{"ok@example.test, perm@example.test", true, "email: RCPT TO <perm@example.test>: 550 5.1.1 no such user"},
		{"rcpt553@example.test", true, "email: RCPT TO <rcpt553@example.test>: 553 5.1.3 bad destination mailbox address syntax"},
		{"data554@example.test", true, "email: DATA: 554 5.6.0 transaction failed: message refused"},
		{"temp@example.test", false, "email: RCPT TO <temp@example.test>: 451 4.3.0 try again later"},
		{"rcpt450@example.test", false, "email: RCPT TO <rcpt450@example.test>: 450 4.2.1 mailbox busy"},
		{"rcpt452@example.test", false, "email: RCPT TO <rcpt452@example.test>: 452 4.5.3 too many recipients"},
		{"rcpt421@example.test", false, "email: RCPT TO <rcpt421@example.test>: 421 4.3.2 shutting down"},
		{"data451@example.test", false, "email: DATA: 451 4.3.0 local error in processing"},
	} {
		t.Run(tc.to, func(t *testing.T) {
			err := deliver(t, d, testMessage(tc.to, "k"))
			if err == nil {
				t.Fatal("Deliver succeeded, want an error")
			}
			if err.Error() != tc.want {
				t.Errorf("Deliver = %q, want %q", err, tc.want)
			}
			if got := delivery.IsPermanent(err); got != tc.permanent {
				t.Errorf("IsPermanent(%v) = %t, want %t", err, got, tc.permanent)
			}
			if re, ok := errors.AsType[*textproto.Error](err); !ok || re.Code/100 != 4 && re.Code/100 != 5 {
				t.Errorf("Deliver = %v, want it to wrap the server's *textproto.Error", err)
			}
		})
	}
	if n := len(ts.messages()); n != 0 {
		t.Errorf("the server accepted %d messages, want none", n)
	}
}

func TestDeliverBadTarget(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d := newDeliverer(t, ts, "", "", "")
	for _, to := range []string{"", "not an address", "a@example.test; b@example.test", "<a@example.test"} {
		t.Run(to, func(t *testing.T) {
			err := deliver(t, d, testMessage(to, "k"))
			if !delivery.IsPermanent(err) {
				t.Fatalf("Deliver(to %q) = %v, want a permanent error", to, err)
			}
			if !strings.Contains(err.Error(), "email: target: To") || !strings.Contains(err.Error(), "email addresses") {
				t.Errorf("Deliver(to %q) = %q, want it to name To and the rule", to, err)
			}
		})
	}
	if mails, _ := ts.counts(); mails != 0 {
		t.Errorf("the server saw %d MAIL, want none", mails)
	}
}

func TestDeliverTimeout(t *testing.T) {
	ts := newServer(t, serverConfig{})
	d, err := email.New(email.Config{
		Host:      "127.0.0.1",
		Port:      ts.port,
		From:      testFrom,
		TLSConfig: &tls.Config{RootCAs: ts.roots},
		Timeout:   300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = deliver(t, d, testMessage("slow@example.test", "k"))
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("Deliver succeeded, want a timeout")
	}
	if elapsed > 300*time.Millisecond+time.Second {
		t.Errorf("Deliver returned after %v, want about 300ms (Config.Timeout)", elapsed)
	}
	if delivery.IsPermanent(err) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("Deliver = %v, want a transient error that is not the context's", err)
	}
	if !strings.Contains(err.Error(), "timeout") {
		t.Errorf("Deliver = %q, want it to say it timed out", err)
	}
}

// fmtErr is err's text, or "<nil>".
func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
