package dashboard

import (
	"cmp"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/api"
)

// Sizes of what the pages ask the API for.
const (
	listPage        = 50   // rows of a list page
	scanPage        = 1000 // the API's largest page
	recentRuns      = 10   // runs on a schedule's page
	maxFailureRates = 20   // agents on the overview
)

// statuses are the run statuses in the order the pages show them.
var statuses = []string{"queued", "running", "succeeded", "failed", "timed_out", "cancelled", "skipped"}

// flashes are the messages an action's redirect can ask for (?done=…):
// fixed texts, so that a link cannot make the dashboard say anything else.
var flashes = map[string]string{
	"created":   "Schedule created.",
	"saved":     "Schedule saved.",
	"paused":    "Schedule paused.",
	"resumed":   "Schedule resumed.",
	"queued":    "Run queued.",
	"deleted":   "Schedule deleted.",
	"cancelled": "Cancellation requested.",
}

// pageOut is what a page builder returns.
type pageOut struct {
	name, title, nav string
	live             bool // the page has a live part
	code             int
	data             any
}

// builder builds a page for v.
type builder func(r *http.Request, v *viewer) (*pageOut, error)

// liveHeader asks a page for its live part only.
const liveHeader = "X-Herald-Live"

// page serves a page built by b.
func (d *Dashboard) page(b builder) http.Handler {
	return d.viewed(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		out, err := b(r, v)
		if err != nil {
			d.fail(w, r, v, err)
			return
		}
		vw := &view{Viewer: v, Title: out.title, Nav: out.nav, Data: out.data, Flash: flashes[r.URL.Query().Get("done")]}
		vw.Path = d.base + trimSlash(r.URL.RequestURI())
		block := "layout"
		if out.live {
			vw.Live = d.base + "live?u=" + url.QueryEscape(vw.Path)
			if r.Header.Get(liveHeader) == "1" {
				block = "live"
			}
		}
		d.renderView(w, r, cmp.Or(out.code, http.StatusOK), vw, out.name, block)
	})
}

func trimSlash(s string) string {
	if len(s) > 0 && s[0] == '/' {
		return s[1:]
	}
	return s
}

// Overview.

type statusCount struct {
	Status string
	Hour   int64
	Day    int64
}

type agentRate struct {
	Agent          string
	Failed, Ended  int64
	FailurePercent int
}

type bar struct {
	X, Y, H int
	N       int64
	From    time.Time
}

type overviewData struct {
	Now          time.Time
	Counts       []statusCount
	Queued       int64
	OldestQueued *time.Time
	Agents       []agentRate
	Next         []api.Fire
	Bars         []bar
	BarMax       int64
	Finished     int64
}

// overview shows the summary of the viewer's runs (GET /v1/summary, whose
// window is the last day by the API's clock): one request, counted by the
// store.
func (d *Dashboard) overview(r *http.Request, v *viewer) (*pageOut, error) {
	var sum api.Summary
	if err := d.get(r.Context(), v, "/v1/summary", nil, &sum); err != nil {
		return nil, err
	}
	data := &overviewData{Now: d.now().UTC(), Queued: sum.Queue.Queued, OldestQueued: sum.Queue.OldestRunAt, Next: sum.NextFires}
	for _, c := range sum.Statuses {
		data.Counts = append(data.Counts, statusCount{Status: c.Status, Hour: c.LastHour, Day: c.Since})
	}
	for _, a := range sum.Agents {
		data.Agents = append(data.Agents, agentRate{Agent: a.Agent, Failed: a.Failed, Ended: a.Ended,
			FailurePercent: percent(int(a.Failed), int(a.Ended))})
	}
	slices.SortFunc(data.Agents, func(a, b agentRate) int {
		return cmp.Or(cmp.Compare(b.FailurePercent, a.FailurePercent), cmp.Compare(b.Failed, a.Failed), cmp.Compare(a.Agent, b.Agent))
	})
	data.Agents = data.Agents[:min(len(data.Agents), maxFailureRates)]
	data.BarMax = 1
	for _, h := range sum.Finished {
		data.BarMax = max(data.BarMax, h.Finished)
		data.Finished += h.Finished
	}
	for i, h := range sum.Finished {
		height := int(h.Finished * 38 / data.BarMax)
		if h.Finished > 0 && height == 0 {
			height = 1
		}
		data.Bars = append(data.Bars, bar{X: i * 10, Y: 40 - height, H: height, N: h.Finished, From: h.From})
	}
	return &pageOut{name: "overview", title: "Overview", nav: "overview", live: true, data: data}, nil
}

// Schedules.

type scheduleRow struct {
	*api.Schedule
	LastStatus string
}

type schedulesData struct {
	Rows   []scheduleRow
	Owner  string
	Next   string
	Cursor string
}

func (d *Dashboard) schedules(r *http.Request, v *viewer) (*pageOut, error) {
	ctx, q := r.Context(), r.URL.Query()
	data := &schedulesData{Owner: q.Get("owner"), Cursor: q.Get("cursor")}
	aq := url.Values{"limit": {"50"}}
	if data.Owner != "" && v.Admin {
		aq.Set("owner", data.Owner)
	}
	if data.Cursor != "" {
		aq.Set("cursor", data.Cursor)
	}
	var list api.ScheduleList
	if err := d.get(ctx, v, "/v1/schedules", aq, &list); err != nil {
		return nil, err
	}
	data.Next = deref(list.NextCursor)
	// The last run of each schedule, from the day's newest runs.
	var recent api.RunList
	rq := url.Values{"limit": {"1000"}, "since": {d.now().UTC().Add(-24 * time.Hour).Format(time.RFC3339Nano)}}
	if err := d.get(ctx, v, "/v1/runs", rq, &recent); err != nil {
		return nil, err
	}
	last := map[string]string{}
	for _, run := range recent.Runs {
		if run.ScheduleID != nil {
			if _, ok := last[*run.ScheduleID]; !ok {
				last[*run.ScheduleID] = run.Status
			}
		}
	}
	for _, s := range list.Schedules {
		inZone(s)
		data.Rows = append(data.Rows, scheduleRow{Schedule: s, LastStatus: last[s.ID]})
	}
	return &pageOut{name: "schedules", title: "Schedules", nav: "schedules", live: true, data: data}, nil
}

type scheduleData struct {
	Schedule *api.Schedule // nil for a new one
	Form     *scheduleForm
	Runs     []*api.Run
}

func (d *Dashboard) schedule(r *http.Request, v *viewer) (*pageOut, error) {
	ctx, id := r.Context(), r.PathValue("id")
	var s api.Schedule
	if err := d.get(ctx, v, "/v1/schedules/"+url.PathEscape(id), nil, &s); err != nil {
		return nil, err
	}
	var runs api.RunList
	if err := d.get(ctx, v, "/v1/runs", url.Values{"schedule_id": {id}, "limit": {"10"}}, &runs); err != nil {
		return nil, err
	}
	inZone(&s)
	f := formOf(&s)
	if err := d.withAgents(ctx, v, f); err != nil {
		return nil, err
	}
	f.Preview = &previewData{Times: s.NextFireTimes}
	return &pageOut{name: "schedule", title: s.Name, nav: "schedules", live: true,
		data: &scheduleData{Schedule: &s, Form: f, Runs: runs.Runs}}, nil
}

func (d *Dashboard) newSchedule(r *http.Request, v *viewer) (*pageOut, error) {
	f := &scheduleForm{Kind: "cron", Timezone: "UTC", Overlap: "skip", Misfire: "run_once", MaxAttempts: "1"}
	if err := d.withAgents(r.Context(), v, f); err != nil {
		return nil, err
	}
	return &pageOut{name: "schedule", title: "New schedule", nav: "schedules", data: &scheduleData{Form: f}}, nil
}

// inZone puts a schedule's fire times in its zone, so that they show
// its name ("CET"), not an offset.
func inZone(s *api.Schedule) {
	loc, err := time.LoadLocation(s.Timezone)
	if err != nil {
		return
	}
	for i, t := range s.NextFireTimes {
		s.NextFireTimes[i] = t.In(loc)
	}
}

// Runs.

type runsFilter struct {
	Status, Agent, Schedule, Kind, Window, Owner, Since, Until string
}

type runsData struct {
	Filter   runsFilter
	Runs     []*api.Run
	Next     string
	Agents   []string
	Statuses []string
	Windows  [][2]string
	Error    string
}

// windows are the time filters of the runs page: value and label.
var windows = [][2]string{{"1h", "Last hour"}, {"24h", "Last day"}, {"168h", "Last 7 days"}, {"720h", "Last 30 days"}, {"all", "Any time"}}

func (d *Dashboard) runs(r *http.Request, v *viewer) (*pageOut, error) {
	ctx, q := r.Context(), r.URL.Query()
	f := runsFilter{Status: q.Get("status"), Agent: q.Get("agent"), Schedule: q.Get("schedule"), Kind: q.Get("kind"),
		Window: cmp.Or(q.Get("window"), "24h"), Owner: q.Get("owner"), Since: q.Get("since"), Until: q.Get("until")}
	data := &runsData{Filter: f, Statuses: statuses, Windows: windows}
	aq := url.Values{"limit": {"50"}}
	set := func(k, val string) {
		if val != "" {
			aq.Set(k, val)
		}
	}
	set("status", f.Status)
	set("agent", f.Agent)
	set("schedule_id", f.Schedule)
	set("kind", f.Kind)
	set("cursor", q.Get("cursor"))
	if v.Admin {
		set("owner", f.Owner)
	}
	since, until, msg := timeFilter(f, d.now(), v.zone)
	if !since.IsZero() {
		aq.Set("since", since.UTC().Format(time.RFC3339Nano))
	}
	if !until.IsZero() {
		aq.Set("until", until.UTC().Format(time.RFC3339Nano))
	}
	data.Error = msg
	var list api.RunList
	err := d.get(ctx, v, "/v1/runs", aq, &list)
	if ae := (*apiError)(nil); errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		data.Error, err = ae.Detail, nil
	}
	if err != nil {
		return nil, err
	}
	data.Runs, data.Next = list.Runs, deref(list.NextCursor)
	var agents map[string][]api.Named
	if err := d.get(ctx, v, "/v1/agents", nil, &agents); err != nil {
		return nil, err
	}
	for _, a := range agents["agents"] {
		data.Agents = append(data.Agents, a.Name)
	}
	return &pageOut{name: "runs", title: "Runs", nav: "runs", live: true, data: data}, nil
}

// timeFilter reads the runs page's time filter: explicit since and until
// (datetime-local, in the viewer's zone) win over the window.
func timeFilter(f runsFilter, now time.Time, zone *time.Location) (since, until time.Time, msg string) {
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
			if t, err := time.ParseInLocation(layout, s, zone); err == nil {
				return t
			}
		}
		msg = "Times must look like 2026-01-31T14:05."
		return time.Time{}
	}
	since, until = parse(f.Since), parse(f.Until)
	if since.IsZero() && until.IsZero() && f.Window != "all" {
		w, err := time.ParseDuration(f.Window)
		if err != nil || w <= 0 {
			w = 24 * time.Hour
		}
		since = now.Add(-w)
	}
	return since, until, msg
}

type runData struct {
	Run  *api.RunDetail
	Now  time.Time
	Bars []progressBar
}

// progressBar is a counter of a run's progress with its total, when the
// agent reports one (channels_processed of channels_total).
type progressBar struct {
	Label       string
	Value, Max  int64
	Indefinite  bool
	PercentText string
}

func (d *Dashboard) run(r *http.Request, v *viewer) (*pageOut, error) {
	var run api.RunDetail
	if err := d.get(r.Context(), v, "/v1/runs/"+url.PathEscape(r.PathValue("id")), nil, &run); err != nil {
		return nil, err
	}
	data := &runData{Run: &run, Now: d.now()}
	for key, val := range run.Progress {
		base, ok := strings.CutSuffix(key, "_processed")
		if !ok {
			continue
		}
		total, ok := run.Progress[base+"_total"]
		b := progressBar{Label: base + " processed", Value: val, Max: total, Indefinite: !ok || total <= 0}
		if !b.Indefinite {
			b.PercentText = strconv.Itoa(percent(int(val), int(total))) + "%"
		}
		data.Bars = append(data.Bars, b)
	}
	slices.SortFunc(data.Bars, func(a, b progressBar) int { return cmp.Compare(a.Label, b.Label) })
	return &pageOut{name: "run", title: "Run " + shortID(run.ID), nav: "runs", live: true, data: data}, nil
}

// Events.

type eventsData struct {
	Events []*api.Event
	Source string
	Next   string
}

func (d *Dashboard) events(r *http.Request, v *viewer) (*pageOut, error) {
	q := r.URL.Query()
	data := &eventsData{Source: q.Get("source")}
	aq := url.Values{"limit": {"50"}}
	if data.Source != "" {
		aq.Set("source", data.Source)
	}
	if c := q.Get("cursor"); c != "" {
		aq.Set("cursor", c)
	}
	var list api.EventList
	if err := d.get(r.Context(), v, "/v1/events", aq, &list); err != nil {
		return nil, err
	}
	data.Events, data.Next = list.Events, deref(list.NextCursor)
	return &pageOut{name: "events", title: "Webhook events", nav: "events", live: true, data: data}, nil
}

func (d *Dashboard) event(r *http.Request, v *viewer) (*pageOut, error) {
	var e api.Event
	if err := d.get(r.Context(), v, "/v1/events/"+url.PathEscape(r.PathValue("id")), nil, &e); err != nil {
		return nil, err
	}
	return &pageOut{name: "event", title: "Event " + shortID(e.ID), nav: "events", data: &e}, nil
}
