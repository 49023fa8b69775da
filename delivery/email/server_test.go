package email_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The test server's TLS modes.
const (
	serveSTARTTLS = "starttls" // plain text, STARTTLS offered
	serveTLS      = "tls"      // implicit TLS
	servePlain    = "plain"    // no TLS at all
)

// slowFor is how long the test server stalls a RCPT TO slow@…, unless it
// is closed first.
const slowFor = 5 * time.Second

// The test server's replies, by the local part of the recipient (in RCPT
// TO) or of the DATA's first recipient (data…).
var rcptReplies = map[string]*smtp.SMTPError{
	"perm":    {Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	"rcpt553": {Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "bad destination mailbox address syntax"},
	"temp":    {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"},
	"rcpt450": {Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	"rcpt452": {Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "too many recipients"},
	"rcpt421": {Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "shutting down"},
}

var dataReplies = map[string]*smtp.SMTPError{
	"data554": {Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "transaction failed: message refused"},
	"data451": {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "local error in processing"},
}

// serverConfig configures a test server.
type serverConfig struct {
	// tls is serveSTARTTLS (the default), serveTLS or servePlain.
	tls string
	// username and password, when set, are the only credentials accepted,
	// and MAIL needs them.
	username, password string
	// insecureAuth offers AUTH without TLS.
	insecureAuth bool
}

// testServer is an SMTP server on 127.0.0.1, built with go-smtp, that
// records what it receives.
type testServer struct {
	port  int
	roots *x509.CertPool // trusts the server's certificate
	cfg   serverConfig
	quit  chan struct{} // closed when the server closes; ends stalls

	mu       sync.Mutex
	mails    int // MAIL commands accepted
	auths    int // AUTH attempts
	received []*received
}

// received is a message the test server accepted.
type received struct {
	from    string
	to      []string
	tls     bool
	user    string
	raw     []byte
	message *mail.Message
}

// newServer starts a test server, closed when t ends.
func newServer(t *testing.T, cfg serverConfig) *testServer {
	t.Helper()
	if cfg.tls == "" {
		cfg.tls = serveSTARTTLS
	}
	cert, roots := newCertificate(t)
	ts := &testServer{roots: roots, cfg: cfg, quit: make(chan struct{})}

	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{ts: ts, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = cfg.insecureAuth
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = time.Minute
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := &trackingListener{Listener: l}
	var ln net.Listener = tl
	switch cfg.tls {
	case serveSTARTTLS:
		srv.TLSConfig = tlsConfig
	case serveTLS:
		ln = tls.NewListener(tl, tlsConfig)
	}
	ts.port = l.Addr().(*net.TCPAddr).Port

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		close(ts.quit)
		srv.Close()
		// Close misses a listener Serve has not taken yet (a test that
		// never dials can end first); Serve then ends on the closed one.
		_ = l.Close()
		if err := <-served; err != nil {
			t.Errorf("test server: Serve = %v", err)
		}
		conns := make(chan struct{})
		go func() { tl.conns.Wait(); close(conns) }()
		select {
		case <-conns:
		case <-time.After(10 * time.Second):
			t.Error("test server: connections still open 10 s after Close")
		}
	})
	return ts
}

// messages returns what the server has received.
func (ts *testServer) messages() []*received {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]*received(nil), ts.received...)
}

// counts returns the MAIL commands accepted and the AUTH attempts.
func (ts *testServer) counts() (mails, auths int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.mails, ts.auths
}

// session is one SMTP session of a testServer.
type session struct {
	ts   *testServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

var _ smtp.AuthSession = (*session)(nil)

func (s *session) AuthMechanisms() []string {
	if s.ts.cfg.username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain || s.ts.cfg.username == "" {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	s.ts.mu.Lock()
	s.ts.auths++
	s.ts.mu.Unlock()
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != s.ts.cfg.username || password != s.ts.cfg.password || (identity != "" && identity != username) {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.ts.cfg.username != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.ts.mu.Lock()
	s.ts.mails++
	s.ts.mu.Unlock()
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	local, _, _ := strings.Cut(to, "@")
	if local == "slow" {
		select {
		case <-s.ts.quit:
		case <-time.After(slowFor):
		}
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 7}, Message: "too slow"}
	}
	if err, ok := rcptReplies[local]; ok {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(s.to) > 0 {
		local, _, _ := strings.Cut(s.to[0], "@")
		if err, ok := dataReplies[local]; ok {
			return err
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "unparsable message: " + err.Error()}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.ts.mu.Lock()
	s.ts.received = append(s.ts.received, &received{
		from: s.from, to: s.to, tls: isTLS, user: s.user, raw: raw, message: msg,
	})
	s.ts.mu.Unlock()
	return nil
}

func (s *session) Reset() { s.from, s.to = "", nil }

func (s *session) Logout() error { return nil }

// trackingListener counts the connections it accepted that are not closed
// yet.
type trackingListener struct {
	net.Listener
	conns sync.WaitGroup
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.conns.Add(1)
	return &trackedConn{Conn: c, done: l.conns.Done}, nil
}

// trackedConn is a connection of a trackingListener.
type trackedConn struct {
	net.Conn
	once sync.Once
	done func()
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.done)
	return err
}

// newCertificate returns a self-signed certificate for 127.0.0.1 and a
// pool that trusts it.
func newCertificate(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald email test server"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, roots
}
