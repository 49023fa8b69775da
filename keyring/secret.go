package keyring

import (
	"fmt"
	"io"
	"log/slog"
)

// redacted stands in for a secret wherever one would be printed.
const redacted = "[redacted]"

// Secret is a plaintext secret held in memory, such as a bot token after
// Open. It prints, marshals and logs as "[redacted]", so a Secret passed to
// a logger, wrapped into an error with %v, encoded into a JSON response or
// printed by a panic does not show its value. Reveal returns the value, for
// the one place that needs it (an Authorization header, say).
//
// A Secret decodes from a JSON string as any string type does. It cannot
// stop string(s), fmt printing an unexported struct field that holds it, or
// encoding/json writing it as a map key (a string-kind key is written as
// is), so do not key maps by Secret.
type Secret string

// Reveal returns the secret's value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns `keyring.Secret("[redacted]")`.
func (s Secret) GoString() string { return `keyring.Secret("` + redacted + `")` }

// Format implements fmt.Formatter: every verb prints "[redacted]", %q
// quoted and %#v as GoString.
func (s Secret) Format(f fmt.State, verb rune) { format(f, verb, redacted, s.GoString()) }

// MarshalJSON returns "[redacted]" as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]", for encoders that use
// encoding.TextMarshaler (logfmt, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// format writes str for any verb, quoted for %q, and gostr for %#v, keeping
// the caller's width and flags. Verbs that would encode the value (%x, %d)
// print str like %s, so no verb reaches the underlying bytes.
func format(f fmt.State, verb rune, str, gostr string) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, gostr)
		return
	}
	if verb != 'q' {
		verb = 's'
	}
	_, _ = fmt.Fprintf(f, fmt.FormatString(f, verb), str)
}
