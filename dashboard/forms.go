package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/api"
)

// scheduleForm is the schedule form: what was typed, and what is wrong with
// it, field by field.
type scheduleForm struct {
	ID          string
	Version     int64
	Name        string
	Owner       string
	Agent       string
	Kind        string // cron, every or at
	When        string
	Timezone    string
	Start, End  string
	Jitter      string
	Timeout     string
	MaxAttempts string
	Overlap     string
	Misfire     string
	Payload     string
	Deliver     string // one target a line: channel, address, and optionally on
	Paused      bool
	Static      bool

	Agents    []string
	Errors    map[string]string
	FormError string
	Preview   *previewData
}

// Choices of the form's selects.
var (
	overlaps = []string{"skip", "buffer_one", "buffer_all", "cancel_other", "allow_all"}
	misfires = []string{"run_once", "skip", "run_all"}
)

// formOf fills the form with s.
func formOf(s *api.Schedule) *scheduleForm {
	f := &scheduleForm{ID: s.ID, Version: s.Version, Name: s.Name, Owner: s.Owner, Agent: s.Agent, Timezone: s.Timezone,
		Jitter: optDuration(s.Jitter), Timeout: optDuration(s.Timeout), Overlap: s.Overlap, Misfire: s.Misfire,
		Payload: prettyJSON(s.Payload), Paused: s.Paused, Static: s.Static}
	switch {
	case s.Cron != nil:
		f.Kind, f.When = "cron", *s.Cron
	case s.Every != nil:
		f.Kind, f.When = "every", time.Duration(*s.Every).String()
	case s.At != nil:
		f.Kind, f.When = "at", s.At.Format(time.RFC3339)
	}
	if s.Start != nil {
		f.Start = s.Start.Format(time.RFC3339)
	}
	if s.End != nil {
		f.End = s.End.Format(time.RFC3339)
	}
	if s.MaxAttempts != nil {
		f.MaxAttempts = strconv.Itoa(*s.MaxAttempts)
	}
	var lines []string
	for _, t := range s.Deliver {
		lines = append(lines, strings.TrimSpace(t.Channel+" "+t.To+" "+t.On))
	}
	f.Deliver = strings.Join(lines, "\n")
	return f
}

func optDuration(d *api.Duration) string {
	if d == nil {
		return ""
	}
	return time.Duration(*d).String()
}

// withAgents fills the form's agent choices.
func (d *Dashboard) withAgents(ctx context.Context, v *viewer, f *scheduleForm) error {
	var agents map[string][]api.Named
	if err := d.get(ctx, v, "/v1/agents", nil, &agents); err != nil {
		return err
	}
	for _, a := range agents["agents"] {
		f.Agents = append(f.Agents, a.Name)
	}
	return nil
}

// readForm reads the posted schedule form.
func readForm(r *http.Request) *scheduleForm {
	g := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	f := &scheduleForm{Name: g("name"), Owner: g("owner"), Agent: g("agent"), Kind: g("kind"), When: g("when"),
		Timezone: g("timezone"), Start: g("start"), End: g("end"), Jitter: g("jitter"), Timeout: g("timeout"),
		MaxAttempts: g("max_attempts"), Overlap: g("overlap"), Misfire: g("misfire"), Payload: g("payload"),
		Deliver: r.PostFormValue("deliver"), Paused: r.PostFormValue("paused") == "on"}
	f.Version, _ = strconv.ParseInt(g("version"), 10, 64)
	return f
}

// request is the form as an API request body: a JSON object in which an
// empty optional field is null (so that a PATCH clears it). Mistakes the
// API cannot name (JSON that does not parse, a count that is not a number)
// are f's errors.
func (f *scheduleForm) request(patch bool) map[string]any {
	f.Errors = map[string]string{}
	opt := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	req := map[string]any{"name": f.Name, "agent": f.Agent, "timezone": opt(f.Timezone), "start": opt(f.Start),
		"end": opt(f.End), "jitter": opt(f.Jitter), "timeout": opt(f.Timeout), "paused": f.Paused,
		"overlap": opt(f.Overlap), "misfire": opt(f.Misfire)}
	switch f.Kind {
	case "cron", "every", "at":
		req[f.Kind] = f.When
		if patch {
			for _, k := range []string{"cron", "every", "at"} {
				if k != f.Kind {
					req[k] = nil
				}
			}
		}
	default:
		f.Errors["when"] = "choose cron, every or at"
	}
	if f.Owner != "" && !patch {
		req["owner"] = f.Owner
	}
	if patch && f.Version > 0 {
		req["version"] = f.Version
	}
	if f.MaxAttempts != "" {
		n, err := strconv.Atoi(f.MaxAttempts)
		if err != nil {
			f.Errors["max_attempts"] = "must be a whole number"
		}
		req["max_attempts"] = n
	} else if patch {
		req["max_attempts"] = 0
	}
	if f.Payload != "" {
		if !json.Valid([]byte(f.Payload)) {
			f.Errors["payload"] = "is not valid JSON"
		}
		req["payload"] = json.RawMessage(f.Payload)
	} else {
		req["payload"] = nil
	}
	targets := []api.Target{}
	for i, line := range strings.Split(f.Deliver, "\n") {
		fs := strings.Fields(line)
		switch {
		case len(fs) == 0:
			continue
		case len(fs) > 3:
			f.Errors["deliver"] = fmt.Sprintf("line %d: write a channel, an address and optionally always, success or failure", i+1)
			continue
		}
		t := api.Target{Channel: fs[0]}
		if len(fs) > 1 {
			t.To = fs[1]
		}
		if len(fs) > 2 {
			t.On = fs[2]
		}
		targets = append(targets, t)
	}
	req["deliver"] = targets
	if _, ok := req["payload"].(json.RawMessage); ok && f.Errors["payload"] != "" {
		delete(req, "payload")
	}
	return req
}

// fieldOf is the form field of an API error's field.
var deliverField = regexp.MustCompile(`^deliver\[(\d+)\]\.?(.*)$`)

func formField(field string) (name, prefix string) {
	switch field {
	case "cron", "every", "at":
		return "when", ""
	case "name", "agent", "owner", "timezone", "start", "end", "jitter", "timeout", "max_attempts",
		"overlap", "misfire", "payload", "paused":
		return field, ""
	}
	if g := deliverField.FindStringSubmatch(field); g != nil {
		n, _ := strconv.Atoi(g[1])
		return "deliver", fmt.Sprintf("target %d: %s ", n+1, g[2])
	}
	if strings.HasPrefix(field, "deliver") {
		return "deliver", ""
	}
	return "", field + ": "
}

// takeProblem puts the API's problem into the form: each field error
// beside its field, the rest above the form. It reports false when err
// is not a problem a form shows.
func (f *scheduleForm) takeProblem(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusConflict) {
		return false
	}
	if f.Errors == nil {
		f.Errors = map[string]string{}
	}
	for _, fe := range ae.Errors {
		name, prefix := formField(fe.Field)
		if name == "" {
			f.FormError = strings.TrimSpace(f.FormError + " " + prefix + fe.Message + ".")
			continue
		}
		if f.Errors[name] == "" {
			f.Errors[name] = strings.TrimSpace(prefix + fe.Message)
		}
	}
	if len(ae.Errors) == 0 {
		f.FormError = ae.Detail
	}
	return true
}

func (d *Dashboard) createSchedule(w http.ResponseWriter, r *http.Request, v *viewer) {
	f := readForm(r)
	req := f.request(false)
	if len(f.Errors) == 0 {
		var out api.Schedule
		err := d.call(r.Context(), v, http.MethodPost, "/v1/schedules", req, &out)
		if err == nil {
			http.Redirect(w, r, d.base+"schedules/"+out.ID+"?done=created", http.StatusSeeOther)
			return
		}
		if !f.takeProblem(err) {
			d.fail(w, r, v, err)
			return
		}
	}
	d.showForm(w, r, v, f, nil)
}

func (d *Dashboard) updateSchedule(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	f := readForm(r)
	f.ID = id
	req := f.request(true)
	if len(f.Errors) == 0 {
		var out api.Schedule
		err := d.call(r.Context(), v, http.MethodPatch, "/v1/schedules/"+url.PathEscape(id), req, &out)
		if err == nil {
			http.Redirect(w, r, d.base+"schedules/"+out.ID+"?done=saved", http.StatusSeeOther)
			return
		}
		if !f.takeProblem(err) {
			d.fail(w, r, v, err)
			return
		}
	}
	var s api.Schedule
	if err := d.get(r.Context(), v, "/v1/schedules/"+url.PathEscape(id), nil, &s); err != nil {
		d.fail(w, r, v, err)
		return
	}
	d.showForm(w, r, v, f, &s)
}

// showForm renders the schedule form again with its errors.
func (d *Dashboard) showForm(w http.ResponseWriter, r *http.Request, v *viewer, f *scheduleForm, s *api.Schedule) {
	if err := d.withAgents(r.Context(), v, f); err != nil {
		d.fail(w, r, v, err)
		return
	}
	pd, err := d.previewOf(r, v, f)
	if err != nil {
		d.fail(w, r, v, err)
		return
	}
	f.Preview = pd
	title := "New schedule"
	if s != nil {
		title = s.Name
		f.Static = s.Static
	}
	vw := &view{Viewer: v, Title: title, Nav: "schedules", Data: &scheduleData{Schedule: s, Form: f}}
	d.renderView(w, r, http.StatusBadRequest, vw, "schedule", "layout")
}

// scheduleVerb serves the buttons of a schedule: pause, resume, run (now)
// and delete.
func (d *Dashboard) scheduleVerb(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, verb := r.PathValue("id"), r.PathValue("verb")
	path := "/v1/schedules/" + url.PathEscape(id)
	back := d.base + "schedules/" + url.PathEscape(id)
	var err error
	done := ""
	switch verb {
	case "pause", "resume":
		err = d.call(r.Context(), v, http.MethodPost, path+"/"+verb, nil, nil)
		done = verb + "d"
	case "run":
		var acc api.RunAccepted
		err = d.call(r.Context(), v, http.MethodPost, path+"/run", nil, &acc)
		done = "queued"
	case "delete":
		err = d.call(r.Context(), v, http.MethodDelete, path, nil, nil)
		back, done = d.base+"schedules", "deleted"
	default:
		d.notFound(w, r)
		return
	}
	if err != nil {
		d.fail(w, r, v, err)
		return
	}
	if next := r.PostFormValue("next"); next != "" && verb != "delete" {
		back = d.localPath(next)
	}
	http.Redirect(w, r, withDone(back, done), http.StatusSeeOther)
}

// withDone sets the flash of a redirect.
func withDone(path, done string) string {
	u, err := url.Parse(path)
	if err != nil {
		return path
	}
	q := u.Query()
	q.Set("done", done)
	u.RawQuery = q.Encode()
	return u.String()
}

func (d *Dashboard) cancelRun(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	body := api.CancelRequest{Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if body.Reason == "" {
		body.Reason = "cancelled from the dashboard by " + v.Subject
	}
	if err := d.call(r.Context(), v, http.MethodPost, "/v1/runs/"+url.PathEscape(id)+"/cancel", body, nil); err != nil {
		d.fail(w, r, v, err)
		return
	}
	http.Redirect(w, r, d.base+"runs/"+url.PathEscape(id)+"?done=cancelled", http.StatusSeeOther)
}

// previewData is the preview of a trigger's next fire times.
type previewData struct {
	Times  []time.Time
	Errors []string
	Asked  bool
}

// preview answers the schedule form's live preview: an HTML fragment with
// the next five fire times of the trigger typed so far, in its zone, or
// what is wrong with it.
func (d *Dashboard) preview(w http.ResponseWriter, r *http.Request, v *viewer) {
	pd, err := d.previewOf(r, v, readForm(r))
	if err != nil {
		d.fail(w, r, v, err)
		return
	}
	d.renderView(w, r, http.StatusOK, &view{Viewer: v, Data: pd}, "schedule", "preview")
}

// previewOf asks the API for the next five fire times of the form's
// trigger, in its zone, or what is wrong with it.
func (d *Dashboard) previewOf(r *http.Request, v *viewer, f *scheduleForm) (*previewData, error) {
	pd := &previewData{Asked: true}
	req := map[string]any{"count": 5}
	if f.Timezone != "" {
		req["timezone"] = f.Timezone
	}
	if f.Start != "" {
		req["start"] = f.Start
	}
	if f.End != "" {
		req["end"] = f.End
	}
	switch f.Kind {
	case "cron", "every", "at":
		req[f.Kind] = f.When
	}
	if f.When == "" {
		pd.Errors = []string{"Type when the schedule fires to see its next fire times."}
		return pd, nil
	}
	var out api.Preview
	err := d.call(r.Context(), v, http.MethodPost, "/v1/triggers/preview", req, &out)
	var ae *apiError
	switch {
	case err == nil:
		loc, lerr := time.LoadLocation(f.Timezone)
		if lerr != nil || f.Timezone == "" {
			loc = time.UTC
		}
		for _, t := range out.FireTimes {
			pd.Times = append(pd.Times, t.In(loc))
		}
	case errors.As(err, &ae) && ae.Status == http.StatusBadRequest:
		for _, fe := range ae.Errors {
			name, _ := formField(fe.Field)
			pd.Errors = append(pd.Errors, cmp.Or(name, fe.Field)+": "+fe.Message)
		}
		if len(ae.Errors) == 0 {
			pd.Errors = append(pd.Errors, ae.Detail)
		}
	default:
		return nil, err
	}
	return pd, nil
}
