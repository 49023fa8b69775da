package trigger

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAgainstReference compares Next with a slow, direct reading of the
// rules on random expressions, zones and times: the reference walks the
// calendar day by day, lists the wall-clock times that match, and maps each
// to instants by trying the zone's offsets around it.
func TestAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	zones := []string{
		"UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Sao_Paulo",
		"Asia/Kolkata", "Pacific/Chatham", "America/Havana", "Africa/Casablanca", "Australia/Sydney",
	}
	cases := 400
	if testing.Short() {
		cases = 60
	}
	for range cases {
		fields := []string{
			pick("0", "0", "0", "30", "0,30", "*/20", "15-16"),
			pick("*", "*/5", "0", "30", "15,45", "0-10", "5/15", "59", "*/7"),
			pick("*", "*", "*/2", "2", "1", "0-3", "9-17", "1,2,3", "23", "2/6", "0"),
			pick("*", "*", "?", "1", "15", "1,15", "31", "29", "30", "L", "L-3", "L-29", "15W", "1W", "31W", "LW", "28-31", "*/10"),
			pick("*", "*", "*", "2", "1-3", "JAN,JUL", "*/4", "2,3", "11", "3,10", "4,6,9,11"),
			pick("*", "*", "?", "1-5", "MON-FRI", "0", "7", "SAT,SUN", "*/2", "5#3", "0#5", "FRIL", "1#1", "2-3", "6L", "2#5"),
		}
		if rng.IntN(8) == 0 {
			fields = append(fields, pick("2026-2030", "2027,2029", "2030/3", "2031", "2024-2099/4"))
		}
		expr := strings.Join(fields, " ")
		zone := zones[rng.IntN(len(zones))]
		from := time.Date(2015+rng.IntN(32), time.Month(1+rng.IntN(12)), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), 0, time.UTC)
		if loc, err := time.LoadLocation(zone); err == nil && rng.IntN(2) == 0 {
			// Start within three hours of a change of the zone's offset.
			if _, end := from.In(loc).ZoneBounds(); !end.IsZero() {
				from = end.Add(time.Duration(rng.IntN(6*3600)-3*3600) * time.Second)
			}
		}

		tr, err := Compile(cronIn(zone, expr), time.Time{})
		if err != nil {
			t.Fatalf("Compile(%q): %v", expr, err)
		}
		c, err := parseCron(expr)
		if err != nil {
			t.Fatal(err)
		}
		const n = 30
		want := referenceFires(c, tr.Location(), from, n)
		got := fires(tr, from, len(want))
		if !slices.EqualFunc(got, want, time.Time.Equal) {
			t.Errorf("%s %q after %s:\n got  %s\n want %s", zone, expr, from.Format(time.RFC3339), show(got, tr.Location()), show(want, tr.Location()))
		}
		if len(want) == 0 {
			if next, ok := tr.Next(from); ok && next.Before(from.AddDate(referenceYears, 0, 0)) {
				t.Errorf("%s %q after %s: fires at %s, the reference finds nothing", zone, expr, from.Format(time.RFC3339), next)
			}
		}
	}
}

// referenceYears bounds the reference's search.
const referenceYears = 30

// referenceFires returns the first n fire times after from, or fewer when
// the search ends first.
func referenceFires(c *cronExpr, loc *time.Location, from time.Time, n int) []time.Time {
	everyHour := c.hour == allHours
	day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -2)
	end := day.AddDate(referenceYears, 0, 0)
	var out []time.Time
	var stop time.Time // the search goes on two days past the n-th fire time
	for ; day.Before(end) && (stop.IsZero() || day.Before(stop)); day = day.AddDate(0, 0, 1) {
		y, m, d := day.Date()
		if c.month&(1<<m) == 0 || !c.years.has(y) || !referenceDay(c, y, m, d, day.Weekday()) {
			continue
		}
		for h := range 24 {
			for mi := range 60 {
				for s := range 60 {
					if c.hour&(1<<h) == 0 || c.minute&(1<<mi) == 0 || c.second&(1<<s) == 0 {
						continue
					}
					wall := day.Unix() + int64(h*3600+mi*60+s)
					for _, i := range referenceInstants(loc, wall, everyHour) {
						if i > from.Unix() {
							out = append(out, time.Unix(i, 0).UTC())
						}
					}
				}
			}
		}
		if stop.IsZero() && len(out) >= n {
			stop = day.AddDate(0, 0, 2)
		}
	}
	slices.SortFunc(out, time.Time.Compare)
	out = slices.CompactFunc(out, time.Time.Equal)
	return out[:min(n, len(out))]
}

// referenceDay applies the Vixie rule to the two day fields.
func referenceDay(c *cronExpr, y int, m time.Month, d int, wd time.Weekday) bool {
	dom, dow := c.dom.match(y, m, d, wd), c.dow.match(y, m, d, wd)
	switch {
	case c.domRestricted && c.dowRestricted:
		return dom || dow
	case c.dowRestricted:
		return dow
	default:
		return dom
	}
}

// referenceInstants maps a wall-clock time to its fire instants.
func referenceInstants(loc *time.Location, wall int64, everyHour bool) []int64 {
	var valid []int64
	for _, probe := range []int64{-36, -12, 0, 12, 36} {
		off := offsetAt(loc, wall+probe*3600)
		if i := wall - off; offsetAt(loc, i) == off && !slices.Contains(valid, i) {
			valid = append(valid, i)
		}
	}
	slices.Sort(valid)
	switch {
	case everyHour: // every instant that reads wall
		return valid
	case len(valid) == 0: // in a gap: read with the offset from before it
		return []int64{wall - offsetAt(loc, wall-24*3600)}
	default: // the first instant that reads wall
		return valid[:1]
	}
}

func show(ts []time.Time, loc *time.Location) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.In(loc).Format("2006-01-02T15:04:05Z07:00 "))
	}
	return b.String()
}

// TestReferenceAgreesOnExamples keeps the reference honest on cases checked
// by hand in TestDaylightSaving.
func TestReferenceAgreesOnExamples(t *testing.T) {
	for _, tt := range []struct {
		zone, cron, from string
		want             []string
	}{
		{"America/New_York", "*/30 * * * *", "2026-11-01T00:50:00-04:00", []string{"2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00"}},
		{"America/New_York", "30 2 * * *", "2026-03-07T12:00:00-05:00", []string{"2026-03-08T03:30:00-04:00", "2026-03-09T02:30:00-04:00"}},
		{"America/New_York", "30 1 * * *", "2026-10-31T12:00:00-04:00", []string{"2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"}},
	} {
		c, err := parseCron(tt.cron)
		if err != nil {
			t.Fatal(err)
		}
		loc := mustCompile(t, Spec{Kind: KindCron, Cron: tt.cron, Timezone: tt.zone}).Location()
		got := show(referenceFires(c, loc, at(t, tt.from), len(tt.want)), loc)
		if want := strings.Join(tt.want, " ") + " "; got != want {
			t.Errorf("reference %s %q: %s, want %s", tt.zone, tt.cron, got, want)
		}
	}
}
