package agents

import (
	"strings"
	"unicode/utf8"
)

// reasonMax is the most characters a failure reason keeps.
const reasonMax = 120

// reason shortens an error text into a reason fit for a summary line and for
// grouping: its first line, trimmed, at most reasonMax characters (with an
// ellipsis when cut). An empty text is "(no error text)".
func reason(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	line = strings.TrimSpace(line)
	if line == "" {
		return "(no error text)"
	}
	if utf8.RuneCountInString(line) <= reasonMax {
		return line
	}
	r := []rune(line)
	return strings.TrimSpace(string(r[:reasonMax-1])) + "…"
}
