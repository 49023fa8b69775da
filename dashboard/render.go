package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/log/level"

	"github.com/heraldhq/herald/api"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// pageNames are the templates that are pages; each is parsed with the
// layout and the partials.
var pageNames = []string{"signin", "overview", "schedules", "schedule", "runs", "run", "events", "event", "error"}

// pages are the parsed templates, and the versions of the static files.
type pages struct {
	set     map[string]*template.Template
	version map[string]string // file name → short hash, for cache busting
}

// parsePages parses the embedded templates.
func parsePages() (*pages, error) {
	p := &pages{set: map[string]*template.Template{}, version: map[string]string{}}
	files, err := fs.Glob(staticFS, "static/*")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := staticFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		p.version[strings.TrimPrefix(f, "static/")] = hex.EncodeToString(sum[:6])
	}
	funcs := template.FuncMap{
		"ts":     timeTag,
		"tsIn":   zonedTimeTag,
		"ago":    ago,
		"dur":    durationText,
		"pretty": prettyJSON,
		"str":    deref,
		"status": statusClass,
		"asset":  func(name string) string { return "static/" + name + "?v=" + p.version[name] },
		"words":  triggerWords,
		"typed":  triggerTyped,
		"plural": plural,
		"pct":    func(n, of int) int { return percent(n, of) },
		"hasErr": func(errs map[string]string, f string) bool { _, ok := errs[f]; return ok },
		"fieldOf": func(f *scheduleForm, name, label, value, placeholder string) *textField {
			return &textField{Name: name, Label: label, Value: value, Placeholder: placeholder, Error: f.Errors[name]}
		},
		"overlaps": func() []string { return overlaps },
		"misfires": func() []string { return misfires },
		"kinds":    func() []string { return []string{"schedule", "manual", "webhook", "enqueue"} },
		"previewView": func(pd *previewData) *view {
			if pd == nil {
				pd = &previewData{}
			}
			return &view{Data: pd}
		},
		"short":    shortID,
		"nextPage": nextPage,
	}
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html")
	if err != nil {
		return nil, fmt.Errorf("dashboard: parse templates: %w", err)
	}
	for _, name := range pageNames {
		t, err := base.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("dashboard: parse templates: %w", err)
		}
		p.set[name] = t
	}
	return p, nil
}

// view is what every page template is handed.
type view struct {
	Base    string
	Viewer  *viewer
	CSRF    string
	Zone    *time.Location
	ZoneSet bool
	Title   string
	Nav     string
	Path    string // the request's path and query, for the return of forms
	Live    string // the URL the live script follows; empty for a static page
	Refresh int    // the periodic refresh, in milliseconds
	Flash   string
	Data    any
}

// render writes the page name with data; v is nil for pages shown to
// anyone (sign-in, errors before sign-in).
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, code int, v *viewer, name string, data any) {
	d.renderView(w, r, code, &view{Viewer: v, Data: data}, name, "layout")
}

// renderView writes the template block of page name with vw.
func (d *Dashboard) renderView(w http.ResponseWriter, r *http.Request, code int, vw *view, name, block string) {
	vw.Base, vw.Zone, vw.Refresh = d.base, time.UTC, int(d.refresh/time.Millisecond)
	if vw.Viewer != nil {
		vw.CSRF, vw.Zone, vw.ZoneSet = vw.Viewer.csrf, vw.Viewer.zone, vw.Viewer.zoneSet
	}
	if vw.Path == "" {
		vw.Path = d.base + strings.TrimPrefix(r.URL.RequestURI(), "/")
	}
	var buf bytes.Buffer
	if err := d.pages.set[name].ExecuteTemplate(&buf, block, vw); err != nil {
		level.Error(d.logger).Log("msg", "render failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// errorData is the error page's data.
type errorData struct {
	Code    int
	Heading string
	Detail  string
}

func (d *Dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	v, _ := d.viewerOf(r)
	d.render(w, r, http.StatusNotFound, v, "error", &errorData{Code: 404, Heading: "Not found",
		Detail: "There is nothing here, or it is not yours to see."})
}

func (d *Dashboard) forbidden(w http.ResponseWriter, r *http.Request, v *viewer) {
	d.render(w, r, http.StatusForbidden, v, "error", &errorData{Code: 403, Heading: "Refused",
		Detail: "The form expired or came from another site, or this is not allowed to you. Go back, reload and try again."})
}

// fail answers err, an error of building a page or of an action.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var ae *apiError
	if errors.As(err, &ae) {
		switch ae.Status {
		case http.StatusUnauthorized:
			if !d.forward {
				http.SetCookie(w, d.cookie(r, sessionCookie, "", -1))
			}
			d.needSignIn(w, r)
			return
		case http.StatusNotFound:
			d.notFound(w, r)
			return
		case http.StatusForbidden, http.StatusConflict, http.StatusBadRequest, http.StatusTooManyRequests:
			d.render(w, r, ae.Status, v, "error", &errorData{Code: ae.Status, Heading: ae.Title, Detail: ae.Detail})
			return
		}
	}
	if r.Context().Err() != nil {
		return
	}
	level.Error(d.logger).Log("msg", "page failed", "path", r.URL.Path, "err", err)
	d.render(w, r, http.StatusBadGateway, v, "error", &errorData{Code: http.StatusBadGateway, Heading: "The API did not answer",
		Detail: "Herald could not build this page now. Try again in a moment."})
}

// serveStatic serves the embedded static files; a versioned URL is cached
// for a year.
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	switch {
	case strings.HasSuffix(name, ".css"):
		h.Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		h.Set("Content-Type", "image/svg+xml")
	default:
		h.Set("Content-Type", "application/octet-stream")
	}
	if r.URL.Query().Get("v") != "" {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}

// Template functions.

// textField is one text field of a form, for the "field" template.
type textField struct {
	Name, Label, Value, Placeholder, Error string
}

// nextPage is path with its cursor set to next.
func nextPage(path, next string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set("cursor", next)
	u.RawQuery = q.Encode()
	return u.String()
}

// timeValue reads a time, *time.Time or nil.
func timeValue(t any) (time.Time, bool) {
	switch x := t.(type) {
	case time.Time:
		return x, !x.IsZero()
	case *time.Time:
		if x != nil {
			return *x, !x.IsZero()
		}
	}
	return time.Time{}, false
}

// timeTag shows t in the viewer's zone, with the UTC instant on hover;
// the script reformats it in the browser's zone until it has told the
// server.
func timeTag(zone *time.Location, t any) template.HTML {
	tm, ok := timeValue(t)
	if !ok {
		return "—"
	}
	return timeHTML(tm, tm.In(zone), "l")
}

// zonedTimeTag shows t in its own zone (a schedule's), with the UTC
// instant on hover.
func zonedTimeTag(t any) template.HTML {
	tm, ok := timeValue(t)
	if !ok {
		return "—"
	}
	return timeHTML(tm, tm, "")
}

func timeHTML(tm, local time.Time, class string) template.HTML {
	u := tm.UTC()
	cls := ""
	if class != "" {
		cls = ` class="` + class + `"`
	}
	return template.HTML(`<time` + cls + ` datetime="` + u.Format(time.RFC3339) + `" title="` +
		u.Format("2006-01-02 15:04:05") + ` UTC">` + template.HTMLEscapeString(local.Format("2006-01-02 15:04:05 MST")) + `</time>`)
}

// ago says how long before now t was, roughly.
func ago(now, t any) string {
	n, ok1 := timeValue(now)
	tm, ok2 := timeValue(t)
	if !ok1 || !ok2 {
		return "—"
	}
	return roughDuration(n.Sub(tm))
}

// roughDuration writes d to two units at most.
func roughDuration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %d s", d/time.Minute, (d%time.Minute)/time.Second)
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h %d min", d/time.Hour, (d%time.Hour)/time.Minute)
	}
	return fmt.Sprintf("%d d %d h", d/(24*time.Hour), (d%(24*time.Hour))/time.Hour)
}

// durationText shows an API duration, "—" when absent.
func durationText(d *api.Duration) string {
	if d == nil {
		return "—"
	}
	return time.Duration(*d).String()
}

// prettyJSON indents raw JSON; "" for null.
func prettyJSON(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, raw, "", "  ") != nil {
		return string(raw)
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// statusClass is the CSS class of a run status.
func statusClass(s string) string {
	switch s {
	case "succeeded", "delivered":
		return "st ok"
	case "failed", "timed_out":
		return "st bad"
	case "running":
		return "st run"
	case "queued":
		return "st wait"
	}
	return "st"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func percent(n, of int) int {
	if of <= 0 {
		return 0
	}
	return (n*100 + of/2) / of
}
