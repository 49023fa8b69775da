package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/heraldhq/herald/api"
)

// table writes aligned columns to stdout.
type table struct{ w *tabwriter.Writer }

// newTable starts a table with a header row.
func (c *cli) newTable(header ...string) *table {
	t := &table{w: tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

// row writes one row; each cell is cleaned of tabs and line breaks, which
// would break the columns.
func (t *table) row(cells ...string) {
	for i, s := range cells {
		cells[i] = cell(s)
	}
	fmt.Fprintln(t.w, strings.Join(cells, "\t"))
}

// flush writes the table out.
func (t *table) flush() error { return t.w.Flush() }

// cell is s fit for a column: control characters as spaces, "-" for
// empty.
func cell(s string) string {
	if s == "" {
		return "-"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// writeJSON writes v as indented JSON.
func (c *cli) writeJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode output: %w", err)
	}
	_, err = c.stdout.Write(append(b, '\n'))
	return err
}

// writeRaw writes an answer of the API as indented JSON.
func (c *cli) writeRaw(b []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return fmt.Errorf("the answer is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := c.stdout.Write(buf.Bytes())
	return err
}

// fields writes "key: value" lines, aligned.
func (c *cli) fields(kv ...string) error {
	w := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(w, "%s:\t%s\n", kv[i], cell(kv[i+1]))
	}
	return w.Flush()
}

// tm formats a time of the API for a person, "" for none.
func tm(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// str is *s, "" for none.
func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// dur formats a duration of the API, "" for none.
func dur(d *api.Duration) string {
	if d == nil {
		return ""
	}
	return time.Duration(*d).String()
}

// num formats *n, "" for none.
func num(n *int) string {
	if n == nil {
		return ""
	}
	return fmt.Sprint(*n)
}

// rawJSON is a JSON value on one line, "" for null.
func rawJSON(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// targets formats delivery targets as the -deliver flag reads them.
func targets(ts []api.Target) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		ch := t.Channel
		if t.On != "" && t.On != "always" {
			ch += "/" + t.On
		}
		out[i] = ch + ":" + t.To
	}
	return strings.Join(out, ", ")
}
