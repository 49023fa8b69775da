package main

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// configError lists every problem found in a config file. Its text names
// the file, then each problem on its own line, by line number and by the
// path of the key as the file spells it:
//
//	config file herald.yaml: 2 problems:
//	  line 12: schedules[0].deliver[0].channel: must be one of log, email (slack needs a delivery.slack section)
//	  line 30: log.format: must be logfmt or json
type configError struct {
	// File is the config file's path.
	File string
	// Problems are in the order of their lines.
	Problems []problem
}

// problem is one thing wrong in a config file.
type problem struct {
	// Path is the key's path: "workers", "auth.tokens[1].role",
	// "schedules[0].deliver[0].channel"; empty for the file as a whole.
	Path string
	// Line is the line of the key's value (of the key itself when it is
	// unknown, of its parent when it is missing); zero when unknown.
	Line int
	// Msg says what is wrong: "must be admin or user", "unknown key".
	Msg string
}

func (p problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		b.WriteString("line " + strconv.Itoa(p.Line) + ": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Error implements error.
func (e *configError) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("config file %s: %s", e.File, e.Problems[0])
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config file %s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// problems collects the problems of a config file, finding the line of
// each from the path of its key.
type problems struct {
	file string
	// lines maps the path of every key the file holds to the line of its
	// value.
	lines map[string]int
	// unset maps the path of a value to the ${VAR} references in it whose
	// variable was empty or unset: a problem of that value names them.
	unset map[string][]string
	list  []problem
}

func newProblems(file string, lines map[string]int, unset map[string][]string) *problems {
	if lines == nil {
		lines = make(map[string]int)
	}
	if unset == nil {
		unset = make(map[string][]string)
	}
	return &problems{file: file, lines: lines, unset: unset}
}

// add records that the value at path is wrong; msg says how.
func (p *problems) add(path, msg string) {
	p.at(path, p.line(path), msg)
}

// addf is add with a format.
func (p *problems) addf(path, format string, args ...any) {
	p.add(path, fmt.Sprintf(format, args...))
}

// at records a problem on a known line. When the value at path came from
// variables that were not set, msg names them.
func (p *problems) at(path string, line int, msg string) {
	if vars := p.unset[path]; len(vars) > 0 {
		msg += fmt.Sprintf(" (%s not set)", strings.Join(vars, ", "))
	}
	p.list = append(p.list, problem{Path: path, Line: line, Msg: msg})
}

// line is the line of path, or of its nearest ancestor the file holds (a
// missing key is reported on its parent's line).
func (p *problems) line(path string) int {
	for path != "" {
		if l, ok := p.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last key or index of path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// has reports whether any problem was recorded at path or below it.
func (p *problems) has(path string) bool {
	for _, q := range p.list {
		if q.Path == path || strings.HasPrefix(q.Path, path+".") || strings.HasPrefix(q.Path, path+"[") {
			return true
		}
	}
	return false
}

// err returns the problems as a *configError, sorted by line, or nil when
// there are none.
func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	list := slices.Clone(p.list)
	slices.SortStableFunc(list, func(a, b problem) int { return cmp.Compare(a.Line, b.Line) })
	return &configError{File: p.file, Problems: list}
}

// key joins a path and a key: key("", "workers") is "workers",
// key("policy", "min_interval") is "policy.min_interval".
func key(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// index joins a path and an index: index("schedules", 2) is "schedules[2]".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
