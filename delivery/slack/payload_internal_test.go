package slack

import (
	"testing"

	"github.com/heraldhq/herald/delivery"
)

func TestFit(t *testing.T) {
	tests := []struct {
		name   string
		s      string
		limit  int
		escape bool
		want   string
	}{
		{"empty", "", 10, true, ""},
		{"escaped", "a&b<c>d", 100, true, "a&amp;b&lt;c&gt;d"},
		{"plain is not escaped", "a&b<c>d", 100, false, "a&b<c>d"},
		{"plain keeps entities as they are", "&amp;", 100, false, "&amp;"},
		{"exactly the limit", "abc", 3, false, "abc"},
		{"cut", "abcdef", 4, false, "abc…"},
		{"cut never splits an escape", "ab&cd", 6, true, "ab…"},
		{"an escape that fits", "ab&cd", 8, true, "ab&amp;…"},
		{"escapes count towards the limit", "<<", 8, true, "&lt;&lt;"},
		{"white space before the cut dropped", "ab  cdef", 5, false, "ab…"},
		{"a new line before the cut dropped", "ab\ncdef", 4, false, "ab…"},
		{"surrogate pairs count twice", "😀😀😀", 4, false, "😀…"},
		{"surrogate pairs that fit", "😀😀", 4, false, "😀😀"},
		{"accented letters count once", "éééé", 4, false, "éééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fit(tt.s, tt.limit, tt.escape); got != tt.want {
				t.Errorf("fit(%q, %d, %t) = %q, want %q", tt.s, tt.limit, tt.escape, got, tt.want)
			}
		})
	}
}

func TestNewPayloadWithoutSubjectOrText(t *testing.T) {
	p := newPayload(&delivery.Message{RunID: "r1", Status: delivery.StatusFailed})
	if len(p.Blocks) != 1 || p.Blocks[0].Type != "header" || p.Blocks[0].Text.Text != "herald: run r1 failed" {
		t.Errorf("blocks = %+v, want one header naming the run and its status", p.Blocks)
	}
	if p.Text != "herald: run r1 failed" {
		t.Errorf("text = %q, want the header's text", p.Text)
	}
}
