package email

import (
	"regexp"
	"strings"
	"testing"
)

// msgID is RFC 5322's msg-id with a dot-atom-text on both sides.
var msgID = regexp.MustCompile("^<[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+(\\.[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+)*@[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+(\\.[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]+)*>$")

func TestMessageID(t *testing.T) {
	for _, tc := range []struct {
		key, domain, want string
	}{
		{"run-1/email/a@example.test", "example.test", "<run-1/email/a%40example.test@example.test>"},
		{"01900000-0000-7000-8000-000000000001", "example.test", "<01900000-0000-7000-8000-000000000001@example.test>"},
		{"a.b", "example.test", "<a.b@example.test>"},
		{".a..b.", "example.test", "<%2Ea.%2Eb%2E@example.test>"},
		{"100%", "example.test", "<100%25@example.test>"},
		{"a b<c>\r\n", "example.test", "<a%20b%3Cc%3E%0D%0A@example.test>"},
		{"ü", "example.test", "<%C3%BC@example.test>"},
		{"k", "", "<k@localhost>"},
		{"k", "exämple.test", "<k@ex%C3%A4mple.test>"},
		{"k", "[192.0.2.1]", "<k@%5B192.0.2.1%5D>"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got := messageID(tc.key, tc.domain)
			if got != tc.want {
				t.Errorf("messageID(%q, %q) = %q, want %q", tc.key, tc.domain, got, tc.want)
			}
			if !msgID.MatchString(got) {
				t.Errorf("messageID(%q, %q) = %q, not an RFC 5322 msg-id", tc.key, tc.domain, got)
			}
		})
	}
}

func TestMessageIDOneToOne(t *testing.T) {
	// Keys that a lossy sanitizer would map to the same Message-ID.
	keys := []string{"a@b", "a%40b", "a b", "a_b", "a-b", "a.b", "a..b", "a.%2Eb", "ab", ""}
	seen := map[string]string{}
	for _, k := range keys {
		id := messageID(k, "example.test")
		if other, ok := seen[id]; ok {
			t.Errorf("keys %q and %q both give Message-ID %q", other, k, id)
		}
		seen[id] = k
	}
}

func TestMessageIDNoKey(t *testing.T) {
	a, b := messageID("", "example.test"), messageID("", "example.test")
	if a == b {
		t.Errorf("two messages without a key share the Message-ID %q", a)
	}
	if !msgID.MatchString(a) {
		t.Errorf("messageID(\"\") = %q, not an RFC 5322 msg-id", a)
	}
}

func TestMessageIDLongKey(t *testing.T) {
	long := strings.Repeat("k", 1000)
	got := messageID(long, "example.test")
	if len(got) > 100 || !msgID.MatchString(got) {
		t.Errorf("messageID(1000 bytes) = %q, want a short msg-id", got)
	}
	if got != messageID(long, "example.test") || got == messageID(long+"x", "example.test") {
		t.Errorf("messageID of a long key is not stable and one-to-one")
	}
}

func TestFold(t *testing.T) {
	for _, tc := range []struct {
		name, line string
	}{
		{"Short", "Subject: hello"},
		{"Words", "To: " + strings.Repeat("someone@example.test, ", 20)},
		{"LongWord", "Subject: " + strings.Repeat("x", 100) + " and " + strings.Repeat("y", 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fold(tc.line)
			if unfolded := strings.ReplaceAll(got, "\r\n", ""); unfolded != tc.line {
				t.Errorf("fold(%q) unfolds to %q", tc.line, unfolded)
			}
			for l := range strings.SplitSeq(got, "\r\n") {
				if len(l) > lineLen && strings.Contains(strings.TrimPrefix(l, " "), " ") {
					t.Errorf("fold(%q) left a line of %d bytes that could be folded: %q", tc.line, len(l), l)
				}
				if l == "" || strings.TrimSpace(l) == "" {
					t.Errorf("fold(%q) made an empty line", tc.line)
				}
			}
		})
	}
}
