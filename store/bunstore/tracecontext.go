package bunstore

import (
	"encoding/json"
	"slices"
	"strings"
)

// A run's trace context is stored as a JSON object of strings
// ({"traceparent":"00-…"}). It is written with every run enqueued and read
// with every run claimed or recorded, and encoding/json's reflection on a
// map cost more than the rest of the row's conversion: the usual trace
// context (a few short fields of printable ASCII that JSON writes as they
// are) is written and read by hand, byte for byte what encoding/json writes
// and what it reads; anything else goes through encoding/json.

// marshalTraceContext is a run's trace context as stored: a JSON object,
// or empty (NULL) for none.
func marshalTraceContext(tc map[string]string) string {
	if len(tc) == 0 {
		return ""
	}
	if s, ok := appendTraceContext(tc); ok {
		return s
	}
	b, err := json.Marshal(tc)
	if err != nil {
		return ""
	}
	return string(b)
}

// appendTraceContext writes tc as encoding/json does (keys sorted), when
// every key and value is plain (see plainJSON); ok is false when one is
// not, or when tc has more fields than a trace context may.
func appendTraceContext(tc map[string]string) (s string, ok bool) {
	var keys [8]string
	if len(tc) > len(keys) {
		return "", false
	}
	ks := keys[:0]
	n := 1
	for k, v := range tc {
		if !plainJSON(k) || !plainJSON(v) {
			return "", false
		}
		ks = append(ks, k)
		n += len(k) + len(v) + 6 // "k":"v",
	}
	slices.Sort(ks)
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('{')
	for i, k := range ks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(k)
		b.WriteString(`":"`)
		b.WriteString(tc[k])
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), true
}

// plainJSON says that encoding/json writes s as it is between quotes:
// printable ASCII without a quote, a backslash or one of the characters
// it escapes for HTML (<, >, &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// unmarshalTraceContext reads a stored trace context; one that does not
// parse is dropped (a trace context is a hint, never worth failing a read).
func unmarshalTraceContext(s string) map[string]string {
	if s == "" {
		return nil
	}
	if tc, ok := parseTraceContext(s); ok {
		if len(tc) == 0 {
			return nil
		}
		return tc
	}
	var tc map[string]string
	if json.Unmarshal([]byte(s), &tc) != nil || len(tc) == 0 {
		return nil
	}
	return tc
}

// parseTraceContext reads a JSON object of strings without escapes
// (spaces between the tokens allowed); ok is false for anything else,
// which encoding/json then reads or refuses. A key given twice keeps its
// last value, as with encoding/json.
func parseTraceContext(s string) (tc map[string]string, ok bool) {
	p := jsonScan{s: s}
	if !p.byte('{') {
		return nil, false
	}
	tc = make(map[string]string, 2)
	if p.byte('}') {
		return tc, p.end()
	}
	for {
		k, ok := p.str()
		if !ok || !p.byte(':') {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		tc[k] = v
		if p.byte('}') {
			return tc, p.end()
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// jsonScan reads the tokens of parseTraceContext from s.
type jsonScan struct {
	s string
	i int
}

// space skips JSON whitespace.
func (p *jsonScan) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte reads c, after any whitespace.
func (p *jsonScan) byte(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, after any
// whitespace.
func (p *jsonScan) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return "", false
		}
		p.i++
	}
	return "", false
}

// end says that only whitespace is left.
func (p *jsonScan) end() bool {
	p.space()
	return p.i == len(p.s)
}
