package webhook

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// topLevelString returns the value of the body's top-level JSON member
// key when it is a string, as topLevelStrings does.
func topLevelString(body []byte, key string) string {
	var out [1]string
	topLevelStrings(body, []string{key}, out[:])
	return out[0]
}

// topLevelStrings sets out[i], for each of keys, to the value of the
// body's top-level JSON member of exactly that name when it is a string,
// and to "" when it is absent or not a string. As with encoding/json, the
// last of duplicate members counts. A body that is not a JSON object (a
// form, say) yields only "". out must be as long as keys.
//
// It reads no deeper than the top level and keeps nothing of body: the
// verifiers use it to find a delivery id in a body of any size, after the
// signature has been checked.
func topLevelStrings(body []byte, keys []string, out []string) {
	clear(out)
	var rawBuf [4][]byte
	raw := rawBuf[:0]
	if len(keys) > len(rawBuf) {
		raw = make([][]byte, 0, len(keys))
	}
	raw = raw[:len(keys)]
	if !topLevelValues(body, keys, raw) {
		return
	}
	for i, r := range raw {
		out[i] = jsonString(r)
	}
}

// topLevelRaw returns the raw JSON of the body's top-level member key (the
// last one when there are several), or nil when the body is no valid JSON
// object or has no such member.
func topLevelRaw(body []byte, key string) []byte {
	var raw [1][]byte
	if !topLevelValues(body, []string{key}, raw[:]) {
		return nil
	}
	return raw[0]
}

// topLevelValues sets raw[i] to the raw JSON of the body's top-level
// member keys[i], and reports whether body is one well-formed JSON object.
func topLevelValues(body []byte, keys []string, raw [][]byte) bool {
	clear(raw)
	s := jsonScanner{b: body}
	s.space()
	if !s.take('{') {
		return false
	}
	s.space()
	if !s.take('}') {
		for {
			s.space()
			if s.peek() != '"' {
				return false
			}
			key, ok := s.str()
			if !ok {
				return false
			}
			s.space()
			if !s.take(':') {
				return false
			}
			s.space()
			start := s.i
			if !s.value() {
				return false
			}
			for i, k := range keys {
				if jsonKeyIs(key, k) {
					raw[i] = body[start:s.i]
				}
			}
			s.space()
			if s.take(',') {
				continue
			}
			if s.take('}') {
				break
			}
			return false
		}
	}
	s.space()
	return s.i == len(body)
}

// jsonKeyIs reports whether the quoted JSON string key decodes to k.
func jsonKeyIs(key []byte, k string) bool {
	inner := key[1 : len(key)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return string(inner) == k
	}
	return jsonString(key) == k
}

// jsonString decodes raw when it is a JSON string, else returns "".
func jsonString(raw []byte) string {
	if len(raw) < 2 || raw[0] != '"' {
		return ""
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') < 0 && utf8.Valid(inner) && !hasControl(inner) {
		return string(inner)
	}
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	return v
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// jsonScanner walks a JSON text without building values. It checks only
// what it needs to find the top-level members; values below are skipped
// by matching brackets.
type jsonScanner struct {
	b []byte
	i int
}

func (s *jsonScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *jsonScanner) take(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jsonScanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads the string that starts at s.i and returns it with its quotes.
func (s *jsonScanner) str() ([]byte, bool) {
	start := s.i
	i := start + 1
	for {
		j := bytes.IndexByte(s.b[i:], '"')
		if j < 0 {
			s.i = len(s.b)
			return nil, false
		}
		i += j
		// The quote is escaped when an odd run of backslashes precedes it.
		n := 0
		for k := i - 1; k > start && s.b[k] == '\\'; k-- {
			n++
		}
		i++
		if n%2 == 0 {
			s.i = i
			return s.b[start:i], true
		}
	}
}

// value skips the value that starts at s.i.
func (s *jsonScanner) value() bool {
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{', '[':
		depth := 0
		for {
			j := bytes.IndexAny(s.b[s.i:], `"{}[]`)
			if j < 0 {
				s.i = len(s.b)
				return false
			}
			s.i += j
			switch s.b[s.i] {
			case '"':
				if _, ok := s.str(); !ok {
					return false
				}
				continue
			case '{', '[':
				depth++
			default:
				depth--
			}
			s.i++
			if depth == 0 {
				return true
			}
		}
	default: // a number, true, false or null
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.i > start
			}
			s.i++
		}
		return s.i > start
	}
}
