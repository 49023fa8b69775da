package webhook

import (
	"net/http"
	"net/url"
	"strings"
)

// sourceWildcard is the name of the ServeMux wildcard that holds a
// source's name, as in "POST /v1/webhooks/{source}".
const sourceWildcard = "source"

// routeSource returns the name of the source r is addressed to, as the
// Handler's doc comment says, or false when r's path names none. A name it
// returns may still be malformed (a wildcard's value, or a segment holding
// percent escapes); the caller checks it.
func routeSource(r *http.Request) (string, bool) {
	pattern := patternPath(r.Pattern)
	if hasWildcard(pattern, sourceWildcard) {
		name := r.PathValue(sourceWildcard)
		return name, name != ""
	}
	mount := "/"
	if strings.HasSuffix(pattern, "/") && !strings.Contains(pattern, "{") && !rewritten(r) {
		mount = pattern
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), mount)
	if !ok || !oneSegment(rest) {
		return "", false
	}
	return rest, true
}

// patternPath returns the path of a ServeMux pattern,
// "[METHOD ][HOST]/PATH", or "" when there is none (r was not routed by a
// ServeMux).
func patternPath(pattern string) string {
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i >= 0 {
		return pattern[i:]
	}
	return ""
}

// hasWildcard reports whether the pattern path has a wildcard of that
// name, {name} or {name...}.
func hasWildcard(pattern, name string) bool {
	for seg := range strings.SplitSeq(pattern, "/") {
		if seg == "{"+name+"}" || seg == "{"+name+"...}" {
			return true
		}
	}
	return false
}

// rewritten reports whether something between the server and the handler
// (http.StripPrefix, say) changed the request's path, so that it no longer
// starts with the path of the pattern that routed it.
func rewritten(r *http.Request) bool {
	if r.RequestURI == "" {
		return false
	}
	u, err := url.ParseRequestURI(r.RequestURI)
	return err != nil || u.EscapedPath() != r.URL.EscapedPath()
}

// oneSegment reports whether the escaped path s is one segment, neither
// empty nor a dot segment, even once unescaped.
func oneSegment(s string) bool {
	if s == "" || strings.IndexByte(s, '/') >= 0 {
		return false
	}
	d, err := url.PathUnescape(s)
	return err == nil && d != "." && d != ".." && strings.IndexByte(d, '/') < 0
}
