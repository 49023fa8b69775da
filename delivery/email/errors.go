package email

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/delivery"
)

const (
	// maxReplyText bounds the server's text in an error.
	maxReplyText = 300
	// lateContext is how long contextErr waits for a context whose
	// deadline has passed to say so.
	lateContext = 100 * time.Millisecond
)

var (
	// errNoStartTLS: the server does not offer STARTTLS in TLSModeSTARTTLS.
	errNoStartTLS = errors.New(`email: STARTTLS: the server does not offer STARTTLS, and TLSMode "starttls" never falls back to clear text`)
	// errNoAuth: a Username is configured but the server offers no AUTH.
	errNoAuth = errors.New("email: AUTH: the server does not offer authentication")
)

// fail turns an error of the SMTP dialogue's step op into a delivery error:
// the caller's context error when ctx has ended, whatever the network error
// was; otherwise classified by classify.
func (d *Deliverer) fail(ctx context.Context, op string, err error) error {
	if cerr := contextErr(ctx); cerr != nil {
		return fmt.Errorf("email: %s: %w", op, cerr)
	}
	return classify(op, err, d.s.timeout)
}

// contextErr is ctx.Err(), or, when ctx's deadline has passed but ctx has
// not noticed yet, the error ctx is about to have. The connection's
// deadline can fire a moment before ctx's timer for the same instant.
func contextErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(lateContext):
			return context.DeadlineExceeded // a ctx that breaks its contract
		}
	}
	return nil
}

// classify turns an error of the SMTP dialogue's step op into a delivery
// error. An SMTP reply with a 5xx code is permanent (a refused recipient,
// failed authentication, a rejected message); any other reply (4xx: try
// again later) is transient. Timeouts and network errors are transient.
// So are TLS handshake failures, a certificate the client does not trust
// among them: they are often fixed on the server's side (a renewed
// certificate) without any change here, and the scheduler bounds retries.
// None of these errors' texts holds the password: net/smtp sends it only
// inside the AUTH command, and its errors quote the server's reply.
func classify(op string, err error, timeout time.Duration) error {
	if re, ok := errors.AsType[*textproto.Error](err); ok {
		e := &replyError{op: op, reply: re}
		if re.Code >= 500 && re.Code <= 599 {
			return delivery.Permanent(e)
		}
		return e
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return fmt.Errorf("email: %s: no reply within the delivery's timeout of %v: %w", op, timeout, err)
	}
	return fmt.Errorf("email: %s: %w", op, err)
}

// replyError is an SMTP reply that failed the dialogue's step op. Its text
// is "email: RCPT TO <a@example.com>: 550 5.1.1 no such user"; errors.As
// finds the *textproto.Error, with the code, through it.
type replyError struct {
	op    string
	reply *textproto.Error
}

func (e *replyError) Error() string {
	return fmt.Sprintf("email: %s: %03d %s", e.op, e.reply.Code, replyText(e.reply.Msg))
}

func (e *replyError) Unwrap() error { return e.reply }

// replyText is a server's reply text as one line of printable text, at most
// maxReplyText bytes.
func replyText(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r)
	}), " ")
	if len(s) <= maxReplyText {
		return s
	}
	cut := maxReplyText
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
