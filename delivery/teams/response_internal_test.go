package teams

import "testing"

func TestEmbeddedStatus(t *testing.T) {
	tests := []struct {
		body   string
		want   int
		wantOK bool
	}{
		{"Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0", 429, true},
		{"returned HTTP error 413", 413, true},
		{"returned HTTP error 5000 with", 0, false},
		{"returned HTTP error 42", 0, false},
		{"returned HTTP error abc", 0, false},
		{"returned an error", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := embeddedStatus([]byte(tt.body))
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("embeddedStatus(%q) = %d, %t; want %d, %t", tt.body, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestFit(t *testing.T) {
	tests := []struct {
		s     string
		limit int
		want  string
	}{
		{"", 10, ""},
		{"abc", 3, "abc"},
		{"abcdefgh", 6, "abc…"}, // the ellipsis is 3 bytes
		{"ab  cdefgh", 7, "ab…"},
		{"ééé", 6, "ééé"},
		{"éééé", 7, "éé…"},
		{"éééé", 6, "é…"},
	}
	for _, tt := range tests {
		if got := fit(tt.s, tt.limit); got != tt.want {
			t.Errorf("fit(%q, %d) = %q, want %q", tt.s, tt.limit, got, tt.want)
		}
	}
}
