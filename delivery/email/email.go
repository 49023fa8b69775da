package email

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"time"

	"github.com/heraldhq/herald/delivery"
)

// Deliverer sends messages by email over SMTP, one connection per
// delivery. It is safe for concurrent use.
type Deliverer struct {
	s *settings
}

var _ delivery.Deliverer = (*Deliverer)(nil)

// New returns a Deliverer configured by cfg, or an error naming the first
// field of cfg it refuses and why.
func New(cfg Config) (*Deliverer, error) {
	s, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Deliverer{s: s}, nil
}

// Deliver sends m to the comma-separated addresses of m.Target.To. Bad
// addresses and 5xx replies are delivery.Permanent; 4xx replies, network
// errors and timeouts are transient. When ctx is done, Deliver returns at
// once with an error that matches ctx.Err().
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("email: %w", err)
	}
	to, err := parseRecipients(m.Target.To)
	if err != nil {
		return delivery.Permanent(err)
	}
	msg, err := compose(d.s.from, to, m, time.Now())
	if err != nil {
		return delivery.Permanent(err)
	}
	return d.send(ctx, to, msg)
}

// parseRecipients parses a Target.To.
func parseRecipients(to string) ([]*mail.Address, error) {
	if to == "" {
		return nil, fmt.Errorf("email: target: To: required, a comma-separated list of email addresses")
	}
	addrs, err := mail.ParseAddressList(to)
	if err != nil || len(addrs) == 0 {
		return nil, fmt.Errorf("email: target: To %q: must be a comma-separated list of email addresses", to)
	}
	return addrs, nil
}

// send runs one SMTP dialogue that sends msg to the recipients to.
func (d *Deliverer) send(ctx context.Context, to []*mail.Address, msg []byte) error {
	deadline := time.Now().Add(d.s.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	dialer := net.Dialer{Deadline: deadline}
	conn, err := dialer.DialContext(ctx, "tcp", d.s.addr)
	if err != nil {
		return d.fail(ctx, "dial", err)
	}
	defer conn.Close()
	// Closing the connection ends whatever read or write is blocked on it,
	// so the dialogue stops as soon as ctx is done.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return d.fail(ctx, "dial", err)
	}

	var c net.Conn = conn
	if d.s.mode == TLSModeTLS {
		tc := tls.Client(conn, d.s.tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return d.fail(ctx, "TLS handshake", err)
		}
		c = tc
	}
	client, err := smtp.NewClient(c, d.s.host)
	if err != nil {
		return d.fail(ctx, "greeting", err)
	}
	defer client.Close()
	if err := client.Hello(d.s.helloName); err != nil {
		return d.fail(ctx, "EHLO", err)
	}
	if d.s.mode == TLSModeSTARTTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			return delivery.Permanent(errNoStartTLS)
		}
		if err := client.StartTLS(d.s.tlsConfig); err != nil {
			return d.fail(ctx, "STARTTLS", err)
		}
	}
	if d.s.username != "" {
		if ok, _ := client.Extension("AUTH"); !ok {
			return delivery.Permanent(errNoAuth)
		}
		if err := client.Auth(smtp.PlainAuth("", d.s.username, d.s.password, d.s.host)); err != nil {
			return d.fail(ctx, "AUTH", err)
		}
	}
	if err := client.Mail(d.s.from.Address); err != nil {
		return d.fail(ctx, "MAIL FROM", err)
	}
	for _, a := range to {
		if err := client.Rcpt(a.Address); err != nil {
			return d.fail(ctx, "RCPT TO <"+a.Address+">", err)
		}
	}
	w, err := client.Data()
	if err != nil {
		return d.fail(ctx, "DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return d.fail(ctx, "DATA", err)
	}
	if err := w.Close(); err != nil {
		return d.fail(ctx, "DATA", err)
	}
	// The server has accepted the message: a failed QUIT must not make the
	// scheduler send it again.
	_ = client.Quit()
	return nil
}
