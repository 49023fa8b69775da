package email

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/heraldhq/herald/delivery"
)

const (
	// lineLen is the length header lines are folded at, where they can be.
	lineLen = 78
	// maxIDLeft bounds the left-hand side of a Message-ID; a longer one is
	// replaced by a hash of the idempotency key.
	maxIDLeft = 200
)

// htmlBody is the HTML part. html/template escapes every value.
var htmlBody = template.Must(template.New("html").Parse(`<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{{.Subject}}</title>
</head>
<body>
{{- if .Text}}
<p style="white-space: pre-wrap">{{.Text}}</p>
{{- end}}
{{- if .Error}}
<p><strong>Error:</strong></p>
<pre>{{.Error}}</pre>
{{- end}}
{{- if .Output}}
<p><strong>Output:</strong></p>
<pre>{{.Output}}</pre>
{{- end}}
<hr>
<p style="color: #666666; font-size: smaller">Herald run {{.RunID}} ({{.Agent}}, {{.Status}})</p>
</body>
</html>
`))

// body is what the two parts show.
type body struct {
	Subject, Text, Error, Output string
	RunID, Agent, Status         string
}

// compose returns m as an RFC 5322 message from from to to, dated now,
// with CRLF line ends.
func compose(from *mail.Address, to []*mail.Address, m *delivery.Message, now time.Time) ([]byte, error) {
	b := body{
		Subject: m.Subject,
		Text:    m.Text,
		Error:   m.Error,
		Output:  prettyJSON(m.Output),
		RunID:   m.RunID,
		Agent:   m.Agent,
		Status:  m.Status,
	}
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	if err := writePart(mw, "text/plain; charset=utf-8", func(w io.Writer) error {
		_, err := io.WriteString(w, plainText(b))
		return err
	}); err != nil {
		return nil, fmt.Errorf("email: compose the text part: %w", err)
	}
	if err := writePart(mw, "text/html; charset=utf-8", func(w io.Writer) error {
		return htmlBody.Execute(w, b)
	}); err != nil {
		return nil, fmt.Errorf("email: compose the html part: %w", err)
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("email: compose: %w", err)
	}

	recipients := make([]string, len(to))
	for i, a := range to {
		recipients[i] = a.String()
	}
	var msg bytes.Buffer
	header := func(name, value string) {
		msg.WriteString(fold(name + ": " + value))
		msg.WriteString("\r\n")
	}
	header("Date", now.Format(time.RFC1123Z))
	header("From", from.String())
	header("To", strings.Join(recipients, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", headerText(m.Subject)))
	header("Message-ID", messageID(m.IdempotencyKey, domainOf(from.Address)))
	header("MIME-Version", "1.0")
	header("Auto-Submitted", "auto-generated")
	header("X-Herald-Run-ID", mime.QEncoding.Encode("utf-8", headerText(m.RunID)))
	header("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": mw.Boundary()}))
	msg.WriteString("\r\n")
	msg.Write(parts.Bytes())
	return msg.Bytes(), nil
}

// writePart writes one quoted-printable part of the content type ct to mw,
// its content written by write.
func writePart(mw *multipart.Writer, ct string, write func(io.Writer) error) error {
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {ct},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return err
	}
	qw := quotedprintable.NewWriter(pw)
	if err := write(qw); err != nil {
		return err
	}
	return qw.Close()
}

// plainText is the text part. The quoted-printable writer turns its line
// ends into CRLF.
func plainText(b body) string {
	var s strings.Builder
	if b.Text != "" {
		s.WriteString(b.Text)
		s.WriteString("\n\n")
	}
	if b.Error != "" {
		s.WriteString("Error: ")
		s.WriteString(b.Error)
		s.WriteString("\n\n")
	}
	if b.Output != "" {
		s.WriteString("Output:\n")
		s.WriteString(b.Output)
		s.WriteString("\n\n")
	}
	fmt.Fprintf(&s, "-- \nHerald run %s (%s, %s)\n", b.RunID, b.Agent, b.Status)
	return s.String()
}

// prettyJSON indents a run's JSON output; output that is not valid JSON is
// returned as it is.
func prettyJSON(output json.RawMessage) string {
	if len(output) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, output, "", "  "); err != nil {
		return string(output)
	}
	return buf.String()
}

// headerText makes s safe in a header's value: control characters, CR and
// LF among them, become spaces, so s cannot end the header and start
// another.
func headerText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fold folds a header line at spaces so that its lines are no longer than
// lineLen where it can.
func fold(line string) string {
	if len(line) <= lineLen {
		return line
	}
	var s strings.Builder
	start := 0 // start of the current output line in line
	last := -1 // the last space after start, a place to fold
	for i := 0; i < len(line); i++ {
		if line[i] == ' ' && i > start {
			if i-start > lineLen && last > start {
				s.WriteString(line[start:last])
				s.WriteString("\r\n")
				start = last
			}
			last = i
		}
	}
	if len(line)-start > lineLen && last > start {
		s.WriteString(line[start:last])
		s.WriteString("\r\n")
		start = last
	}
	s.WriteString(line[start:])
	return s.String()
}

// messageID is the Message-ID of a message with the idempotency key key,
// sent from domain: the same key gives the same Message-ID, so receivers
// can deduplicate a retried delivery. Without a key it is random.
func messageID(key, domain string) string {
	left := idText(key)
	switch {
	case key == "":
		var r [16]byte
		rand.Read(r[:])
		left = "herald." + hex.EncodeToString(r[:])
	case len(left) > maxIDLeft:
		sum := sha256.Sum256([]byte(key))
		left = "herald.sha256." + hex.EncodeToString(sum[:])
	}
	if domain = idText(domain); domain == "" {
		domain = "localhost"
	}
	return "<" + left + "@" + domain + ">"
}

// idText encodes s as an RFC 5322 dot-atom-text, one-to-one: bytes outside
// atext, "%" itself, and dots that would lead, trail or follow a dot
// become %XX.
func idText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && i > 0 && i < len(s)-1 && s[i-1] != '.':
			b.WriteByte(c)
		case c != '%' && c != '.' && isAtext(c):
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// isAtext reports whether c is an RFC 5322 atext character.
func isAtext(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// domainOf is the part of an email address after its last "@".
func domainOf(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}
