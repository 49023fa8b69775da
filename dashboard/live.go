package dashboard

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// streamLifetime bounds one live stream; the browser then reconnects, so
// that no stream outlives a deployment by long.
const streamLifetime = 15 * time.Minute

// stream serves GET /live?u=PAGE: Server-Sent Events carrying the live
// part of PAGE (a path of the dashboard) whenever it changes. It renders
// that part for the viewer every LiveInterval, through the same handlers as
// the page, so it shows exactly what a reload would. An "update" event's
// data is the part's HTML; a "gone" event says the page can no longer be
// shown (signed out, deleted): the browser reloads it.
//
// Each render costs what the page's handler costs: for the overview, one
// GET /v1/summary, which the store answers in one call (on a database,
// four aggregates over the indexes of the window's runs), not the scan of
// up to nine pages of runs and schedules it once was.
func (d *Dashboard) stream(w http.ResponseWriter, r *http.Request, v *viewer) {
	u, err := url.Parse(r.URL.Query().Get("u"))
	if err != nil || !strings.HasPrefix(u.Path, d.base) || u.Host != "" || u.Scheme != "" || strings.HasPrefix(u.Path, d.base+"live") {
		http.Error(w, "u must be a page of the dashboard", http.StatusBadRequest)
		return
	}
	select {
	case <-d.done:
		http.Error(w, "the dashboard is shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write([]byte("retry: 3000\n\n")); err != nil || rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	tick := time.NewTicker(d.live)
	defer tick.Stop()
	end := time.NewTimer(streamLifetime)
	defer end.Stop()
	var last [sha256.Size]byte
	first := true
	for {
		code, part := d.livePart(r, u)
		sum := sha256.Sum256(part)
		switch {
		case code != http.StatusOK:
			_, _ = w.Write([]byte("event: gone\ndata: " + http.StatusText(code) + "\n\n"))
			_ = rc.Flush()
			return
		case first || sum != last:
			last, first = sum, false
			if writeEvent(w, "update", part) != nil || rc.Flush() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-d.done:
			return
		case <-end.C:
			return
		case <-tick.C:
		}
	}
}

// livePart renders the live part of page u as the browser of r would get
// it.
func (d *Dashboard) livePart(r *http.Request, u *url.URL) (int, []byte) {
	in := &url.URL{Path: "/" + strings.TrimPrefix(u.Path, d.base), RawQuery: u.RawQuery}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, in.String(), nil)
	if err != nil {
		return http.StatusBadRequest, nil
	}
	req.Header = r.Header.Clone()
	req.Header.Set(liveHeader, "1")
	req.Host, req.RemoteAddr, req.TLS = r.Host, r.RemoteAddr, r.TLS
	rec := &recorder{header: http.Header{}}
	d.mux.ServeHTTP(rec, req)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	return rec.code, rec.body.Bytes()
}

// writeEvent writes one Server-Sent Event; each line of data is a data
// field.
func writeEvent(w http.ResponseWriter, name string, data []byte) error {
	var b bytes.Buffer
	b.WriteString("event: " + name + "\n")
	for _, line := range bytes.Split(bytes.ReplaceAll(data, []byte("\r"), nil), []byte("\n")) {
		b.WriteString("data: ")
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}
