package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// The config file is decoded in two steps: yaml.v3 parses it into a
// yaml.Node tree, then a decoder walks the tree beside the config's Go
// structs, key by key. Walking it ourselves, rather than letting yaml.v3
// decode into the structs, is what lets every problem be reported by the
// path of its key as the file spells it (with its line), and every problem
// at once: yaml.v3 reports type errors by line only (several keys share a
// line in a flow mapping such as {name: a, cron: x}) and stops at the
// first unknown key.

var (
	durationType = reflect.TypeFor[time.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// decodeYAML parses src and decodes it into out, a pointer to a struct
// whose fields carry yaml tags (",inline" for embedded structs, "-" to
// skip). Every ${VAR} in a value is first replaced by getenv(VAR). It
// records in p the problems found, the line of every path decoded and the
// unset variables of each value. A syntax error is returned as an error:
// nothing else can be reported then.
func decodeYAML(src []byte, getenv func(string) string, out any, p *problems) error {
	dec := yaml.NewDecoder(strings.NewReader(protectRefs(string(src))))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file
		}
		return err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		p.at("", more.Line, "holds more than one YAML document (---)")
	}
	d := &decoder{p: p, unset: map[*yaml.Node][]string{}, expanded: map[*yaml.Node]bool{}}
	expandNode(&doc, getenv, d.unset, d.expanded)
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil
		}
		root = root.Content[0]
	}
	if isNull(root) {
		return nil // only comments
	}
	d.decode("", root, reflect.ValueOf(out).Elem())
	return nil
}

// decoder walks a yaml.Node tree beside a Go value.
type decoder struct {
	p *problems
	// unset maps nodes to the variables they referenced that were unset,
	// until decode moves them to p.unset under their path.
	unset map[*yaml.Node][]string
	// expanded holds the nodes whose value came from a variable.
	expanded map[*yaml.Node]bool
}

// decode decodes n into v, which is settable. A null leaves v as it is.
func (d *decoder) decode(path string, n *yaml.Node, v reflect.Value) {
	n = deref(n)
	d.p.lines[path] = n.Line
	if vars := d.unset[n]; len(vars) > 0 {
		d.p.unset[path] = vars
	}
	if d.expanded[n] && n.Style&quotedStyles != 0 && v.Kind() != reflect.String {
		// port: "${SMTP_PORT}": read the variable's value as if unquoted.
		c := *n
		c.Style, c.Tag = 0, ""
		n = &c
	}
	if isNull(n) {
		return
	}
	switch {
	case v.Type() == durationType:
		d.duration(path, n, v)
		return
	case v.Type() == timeType:
		d.time(path, n, v)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
	case reflect.Struct:
		d.mapping(path, n, v)
	case reflect.Slice:
		d.sequence(path, n, v)
	case reflect.Map:
		d.dict(path, n, v)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.p.at(path, n.Line, "cannot be read: "+err.Error())
			return
		}
		v.Set(reflect.ValueOf(&x).Elem())
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.p.at(path, n.Line, "must be a string")
			return
		}
		v.SetString(n.Value)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.p.at(path, n.Line, "must be a whole number"+got(n))
			return
		}
		v.SetInt(i)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.p.at(path, n.Line, "must be true or false"+got(n))
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		var f float64
		tag := n.ShortTag()
		if n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&f) != nil ||
			math.IsNaN(f) || math.IsInf(f, 0) {
			d.p.at(path, n.Line, "must be a number"+got(n))
			return
		}
		v.SetFloat(f)
	default:
		panic(fmt.Sprintf("config: no decoding of %s", v.Type()))
	}
}

// duration decodes a Go duration ("15m", "1h30m"); 0 is accepted too.
func (d *decoder) duration(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.ScalarNode {
		if n.ShortTag() == "!!int" && n.Value == "0" {
			v.SetInt(0)
			return
		}
		if dur, err := time.ParseDuration(n.Value); err == nil {
			v.SetInt(int64(dur))
			return
		}
	}
	msg := "must be a duration such as 15m or 1h30m"
	if n.Kind == yaml.ScalarNode && strings.HasSuffix(n.Value, "d") {
		msg += " (in hours: 720h for 30 days)"
	}
	d.p.at(path, n.Line, msg+got(n))
}

// time decodes an RFC 3339 instant.
func (d *decoder) time(path string, n *yaml.Node, v reflect.Value) {
	var t time.Time
	if n.Kind == yaml.ScalarNode {
		if err := n.Decode(&t); err == nil {
			v.Set(reflect.ValueOf(t))
			return
		}
		if t, err := time.Parse(time.RFC3339, n.Value); err == nil {
			v.Set(reflect.ValueOf(t))
			return
		}
	}
	d.p.at(path, n.Line, "must be a time such as 2026-01-31T09:00:00Z"+got(n))
}

// got quotes a scalar's value for an error; nothing for a mapping or a
// list. Only the values of numbers, durations and times are quoted, never
// those of strings (which may be secrets).
func got(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return ", not a mapping"
	case yaml.SequenceNode:
		return ", not a list"
	}
	return fmt.Sprintf(", not %q", n.Value)
}

// dict decodes a mapping of free keys into the map v, whose keys are
// strings: each value is decoded at the path path.KEY.
func (d *decoder) dict(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.at(path, n.Line, "must be a mapping")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			d.p.at(path, k.Line, "must have names as keys")
			continue
		}
		kp := key(path, k.Value)
		if v.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.p.at(kp, k.Line, "is set twice")
			continue
		}
		e := reflect.New(v.Type().Elem()).Elem()
		d.decode(kp, n.Content[i+1], e)
		v.SetMapIndex(reflect.ValueOf(k.Value), e)
	}
}

// sequence decodes a list into the slice v.
func (d *decoder) sequence(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.SequenceNode {
		d.p.at(path, n.Line, "must be a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.decode(index(path, i), item, s.Index(i))
	}
	v.Set(s)
}

// field is a key of a struct: its name in the file and where it is.
type field struct {
	key   string
	index []int
}

// fieldsOf lists the keys of struct type t, those of its ",inline"
// embedded structs included.
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if opts == "inline" {
			for _, sub := range fieldsOf(f.Type) {
				out = append(out, field{key: sub.key, index: append([]int{i}, sub.index...)})
			}
			continue
		}
		if name == "" {
			panic(fmt.Sprintf("config: field %s.%s has no yaml key", t, f.Name))
		}
		out = append(out, field{key: name, index: []int{i}})
	}
	return out
}

// mapping decodes a mapping into the struct v, refusing unknown keys.
func (d *decoder) mapping(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.p.at(path, n.Line, "must be a mapping of keys to values"+got(n))
		return
	}
	fields := fieldsOf(v.Type())
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	for _, kv := range d.pairs(path, n, true) {
		k, val := kv[0], kv[1]
		i := slices.Index(keys, k.Value)
		if i < 0 {
			msg := "unknown key"
			if s := suggest(k.Value, keys); s != "" {
				msg += "; did you mean " + s + "?"
			}
			d.p.at(key(path, k.Value), k.Line, msg)
			continue
		}
		d.decode(key(path, k.Value), val, v.FieldByIndex(fields[i].index))
	}
}

// pairs returns the key and value nodes of mapping n, with the keys of
// merged mappings (<<: *anchor) that n does not set itself. A key set
// twice is reported (when report is set) and its first value kept.
func (d *decoder) pairs(path string, n *yaml.Node, report bool) [][2]*yaml.Node {
	var own, merged [][2]*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.p.at(path, k.Line, "keys must be names")
			continue
		}
		if k.ShortTag() == "!!merge" {
			for _, m := range mergeSources(val) {
				merged = append(merged, d.pairs(path, m, false)...)
			}
			continue
		}
		if line, dup := seen[k.Value]; dup {
			if report {
				d.p.at(key(path, k.Value), k.Line, fmt.Sprintf("set twice (first on line %d)", line))
			}
			continue
		}
		seen[k.Value] = k.Line
		own = append(own, [2]*yaml.Node{k, val})
	}
	for _, kv := range merged {
		if _, ok := seen[kv[0].Value]; !ok {
			seen[kv[0].Value] = kv[0].Line
			own = append(own, kv)
		}
	}
	return own
}

// mergeSources returns the mappings a merge key's value names: an alias
// of one, or a list of them.
func mergeSources(n *yaml.Node) []*yaml.Node {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{n}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range n.Content {
			if c = deref(c); c.Kind == yaml.MappingNode {
				out = append(out, c)
			}
		}
		return out
	}
	return nil
}

// deref follows an alias to its anchored node.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is an empty value ("key:", "key: ~", null).
func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// suggest returns the key of keys nearest to k when it is a likely typo
// of it (at most two edits away), else "".
func suggest(k string, keys []string) string {
	best, bestDist := "", 3
	for _, c := range keys {
		if d := editDistance(k, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// References to variables are replaced after parsing, so that a value is
// never read as YAML (a secret holding "#", ": " or a quote stays whole).
// So that a reference parses anywhere, a flow mapping included ({port:
// ${PORT}}, where "{" would open a mapping), protectRefs first turns each
// ${NAME} of the text into refOpen NAME refClose, characters of Unicode's
// private use area that YAML reads as plain text and no config holds;
// expandNode then replaces them in the values.
const (
	refOpen  = "\uE000"
	refClose = "\uE001"
)

// protectRefs turns each ${NAME} of src into refOpen NAME refClose, but
// for $${, the escape of a literal ${, which it leaves alone.
func protectRefs(src string) string {
	if !strings.Contains(src, "${") {
		return src
	}
	var b strings.Builder
	for {
		i := strings.Index(src, "${")
		if i < 0 {
			b.WriteString(src)
			return b.String()
		}
		end := strings.IndexByte(src[i:], '}')
		switch {
		case i > 0 && src[i-1] == '$':
			b.WriteString(src[:i+2]) // $${: escaped
			src = src[i+2:]
		case end < 0 || !isEnvName(src[i+2:i+end]):
			b.WriteString(src[:i+2])
			src = src[i+2:]
		default:
			b.WriteString(src[:i] + refOpen + src[i+2:i+end] + refClose)
			src = src[i+end+1:]
		}
	}
}

// expandNode replaces the references under n: in values, by getenv(NAME),
// recording in unset the names each node referenced whose variable was
// empty or unset, and $${ by ${; in keys, back to ${NAME}. It returns the
// values it changed. A plain value that changed is resolved again
// (workers: ${WORKERS} is a number); a quoted one stays a string, but
// for a number, a duration or a time (port: "${SMTP_PORT}").
func expandNode(n *yaml.Node, getenv func(string) string, unset map[*yaml.Node][]string, changed map[*yaml.Node]bool) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			expandNode(c, getenv, unset, changed)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && strings.Contains(k.Value, refOpen) {
				k.Value = strings.NewReplacer(refOpen, "${", refClose, "}").Replace(k.Value)
			}
			expandNode(n.Content[i+1], getenv, unset, changed)
		}
	case yaml.ScalarNode:
		v, vars := expand(n.Value, getenv)
		if v == n.Value {
			return
		}
		n.Value = v
		changed[n] = true
		if len(vars) > 0 {
			unset[n] = vars
		}
		if n.Style&(quotedStyles|yaml.TaggedStyle) == 0 {
			n.Tag = "" // resolve again from the new value
		}
	}
}

// quotedStyles are the styles of a scalar that is a string whatever it
// holds.
const quotedStyles = yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle

// expand replaces each reference of s (see protectRefs) by getenv(NAME)
// and each $${ by ${, and returns the references whose value was empty,
// as "${NAME}".
func expand(s string, getenv func(string) string) (string, []string) {
	if !strings.Contains(s, refOpen) && !strings.Contains(s, "$${") {
		return s, nil
	}
	s = strings.ReplaceAll(s, "$${", "${")
	var b strings.Builder
	var unset []string
	for {
		i := strings.Index(s, refOpen)
		end := strings.Index(s, refClose)
		if i < 0 || end < i {
			b.WriteString(s)
			return b.String(), unset
		}
		name := s[i+len(refOpen) : end]
		v := getenv(name)
		if v == "" {
			unset = append(unset, "${"+name+"}")
		}
		b.WriteString(s[:i] + v)
		s = s[end+len(refClose):]
	}
}

// isEnvName reports whether s is a variable's name: letters, digits and
// underscores, not starting with a digit.
func isEnvName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
