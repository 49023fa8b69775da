package trigger

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// at parses an RFC 3339 time.
func at(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkFires compares the fire times of tr after from with want, given as
// RFC 3339 times, and checks that each is shown with want's offset in the
// trigger's zone. An empty want expects no fire time at all.
func checkFires(t *testing.T, tr *Trigger, from string, want ...string) {
	t.Helper()
	got := fires(tr, at(t, from), len(want)+1)
	if len(want) == 0 {
		if len(got) != 0 {
			t.Errorf("after %s: fires at %s, want none", from, got[0].In(tr.Location()).Format(time.RFC3339))
		}
		return
	}
	for i, w := range want {
		if i >= len(got) {
			t.Errorf("after %s: fire %d: none, want %s", from, i, w)
			return
		}
		if g := got[i].In(tr.Location()).Format(time.RFC3339); g != w {
			t.Errorf("after %s: fire %d: %s, want %s", from, i, g, w)
			return
		}
		if got[i].Location() != time.UTC {
			t.Errorf("fire %d is in %s, want UTC", i, got[i].Location())
		}
	}
}

func cronIn(zone, expr string) Spec {
	return Spec{Kind: KindCron, Cron: expr, Timezone: zone}
}

func TestCron(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		from string
		want []string
	}{
		{
			"every minute", cronIn("", "* * * * *"), "2026-01-01T00:00:30Z",
			[]string{"2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z"},
		},
		{
			"strictly after", cronIn("", "0 9 * * *"), "2026-01-01T09:00:00Z",
			[]string{"2026-01-02T09:00:00Z"},
		},
		{
			"just before", cronIn("", "0 9 * * *"), "2026-01-01T08:59:59.999Z",
			[]string{"2026-01-01T09:00:00Z"},
		},
		{
			"seconds", cronIn("", "*/20 * * * * *"), "2026-01-01T00:00:05Z",
			[]string{"2026-01-01T00:00:20Z", "2026-01-01T00:00:40Z", "2026-01-01T00:01:00Z"},
		},
		{
			"weekdays", cronIn("", "0 9 * * 1-5"), "2026-01-02T10:00:00Z", // a Friday
			[]string{"2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "2026-01-07T09:00:00Z", "2026-01-08T09:00:00Z", "2026-01-09T09:00:00Z", "2026-01-12T09:00:00Z"},
		},
		{
			"Vixie: the 1st, the 15th and Mondays", cronIn("", "0 0 1,15 * 1"), "2025-12-31T00:00:00Z",
			[]string{
				"2026-01-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-15T00:00:00Z",
				"2026-01-19T00:00:00Z", "2026-01-26T00:00:00Z", "2026-02-01T00:00:00Z", "2026-02-02T00:00:00Z",
				"2026-02-09T00:00:00Z", "2026-02-15T00:00:00Z", "2026-02-16T00:00:00Z", "2026-02-23T00:00:00Z",
				"2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z",
			},
		},
		{
			"Vixie: a Monday the 15th fires once", cronIn("", "0 0 15 * MON"), "2026-06-08T00:00:00Z",
			[]string{"2026-06-15T00:00:00Z", "2026-06-22T00:00:00Z"},
		},
		{
			"day of month only", cronIn("", "0 0 13 * *"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"},
		},
		{
			"day of month with ?", cronIn("", "0 0 13 * ?"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"},
		},
		{
			"day of week with ?", cronIn("", "0 0 ? * FRI"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"},
		},
		{"Sunday as 0", cronIn("", "0 0 * * 0"), "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"Sunday as 7", cronIn("", "0 0 * * 7"), "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{"Sunday as SUN", cronIn("", "0 0 * * sun"), "2026-01-01T00:00:00Z", []string{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"}},
		{
			"weekend range over 7", cronIn("", "0 0 * * 6-7"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-10T00:00:00Z"},
		},
		{
			"day-of-week step", cronIn("", "0 0 * * */3"), "2026-01-01T00:00:00Z", // Sun, Wed, Sat
			[]string{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-10T00:00:00Z"},
		},
		{
			"month names", cronIn("", "0 0 1 mar,SEP *"), "2026-01-01T00:00:00Z",
			[]string{"2026-03-01T00:00:00Z", "2026-09-01T00:00:00Z", "2027-03-01T00:00:00Z"},
		},
		{
			"range with step", cronIn("", "1-30/10 0 * * *"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:01:00Z", "2026-01-01T00:11:00Z", "2026-01-01T00:21:00Z", "2026-01-02T00:01:00Z"},
		},
		{
			"value with step", cronIn("", "5/20 0 * * *"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-01T00:05:00Z", "2026-01-01T00:25:00Z", "2026-01-01T00:45:00Z", "2026-01-02T00:05:00Z"},
		},
		{
			"the 31st skips short months", cronIn("", "0 0 31 * *"), "2026-01-31T00:00:00Z",
			[]string{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z", "2026-08-31T00:00:00Z"},
		},
		{
			"February 29", cronIn("", "0 0 29 2 *"), "2026-01-01T00:00:00Z",
			[]string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"},
		},
		{
			"the 1st and 30th of February and March", cronIn("", "0 0 1,30 2,3 *"), "2026-02-02T00:00:00Z",
			[]string{"2026-03-01T00:00:00Z", "2026-03-30T00:00:00Z", "2027-02-01T00:00:00Z"},
		},
		{"February 30 never fires", cronIn("", "0 0 30 2 *"), "2026-01-01T00:00:00Z", nil},
		{"the 31st of short months never fires", cronIn("", "0 0 31 4,6,9,11 *"), "2026-01-01T00:00:00Z", nil},
		{
			"year", cronIn("", "0 0 12 1 1 ? 2027,2029"), "2026-06-01T00:00:00Z",
			[]string{"2027-01-01T12:00:00Z", "2029-01-01T12:00:00Z"},
		},
		{"year in the past", cronIn("", "0 0 12 1 1 ? 2020"), "2026-06-01T00:00:00Z", nil},
		{"fifth Monday of February in years without one", cronIn("", "0 0 0 ? 2 MON#5 2027,2028"), "2026-01-01T00:00:00Z", nil},
		{
			"last day", cronIn("", "0 0 12 L * ?"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-31T12:00:00Z", "2026-02-28T12:00:00Z", "2026-03-31T12:00:00Z", "2026-04-30T12:00:00Z"},
		},
		{
			"two days before the last", cronIn("", "0 0 12 L-2 * ?"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-29T12:00:00Z", "2026-02-26T12:00:00Z", "2026-03-29T12:00:00Z"},
		},
		{
			"L-30 fires in 31-day months", cronIn("", "0 0 0 L-30 * ?"), "2026-01-01T00:00:00Z",
			[]string{"2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z", "2026-07-01T00:00:00Z"},
		},
		{
			"nearest weekday", cronIn("", "0 0 0 15W * ?"), "2026-01-01T00:00:00Z", // Feb 15 is a Sunday, Mar 15 too, Aug 15 a Saturday
			[]string{"2026-01-15T00:00:00Z", "2026-02-16T00:00:00Z", "2026-03-16T00:00:00Z", "2026-04-15T00:00:00Z"},
		},
		{
			"nearest weekday to the 1st stays in the month", cronIn("", "0 0 0 1W * ?"), "2026-01-01T00:00:00Z", // Feb 1 and Mar 1 are Sundays, Aug 1 a Saturday
			[]string{"2026-02-02T00:00:00Z", "2026-03-02T00:00:00Z", "2026-04-01T00:00:00Z"},
		},
		{
			"nearest weekday to the 31st", cronIn("", "0 0 0 31W * ?"), "2026-01-01T00:00:00Z", // Jan 31 is a Saturday, Feb has 28 days
			[]string{"2026-01-30T00:00:00Z", "2026-02-27T00:00:00Z", "2026-03-31T00:00:00Z"},
		},
		{
			"last weekday", cronIn("", "0 0 0 LW * ?"), "2026-05-01T00:00:00Z", // May 31 is a Sunday
			[]string{"2026-05-29T00:00:00Z", "2026-06-30T00:00:00Z", "2026-07-31T00:00:00Z"},
		},
		{
			"third Friday", cronIn("", "0 0 0 ? * FRI#3"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-16T00:00:00Z", "2026-02-20T00:00:00Z", "2026-03-20T00:00:00Z"},
		},
		{
			"fifth Friday", cronIn("", "0 0 0 ? * 5#5"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-30T00:00:00Z", "2026-05-29T00:00:00Z", "2026-07-31T00:00:00Z"},
		},
		{
			"last Sunday as 7L", cronIn("", "0 0 0 ? * 7L"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-25T00:00:00Z", "2026-02-22T00:00:00Z", "2026-03-29T00:00:00Z"},
		},
		{
			"last day or last Friday", cronIn("", "0 0 0 L * 5L"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-30T00:00:00Z", "2026-01-31T00:00:00Z", "2026-02-27T00:00:00Z", "2026-02-28T00:00:00Z"},
		},
		{"@yearly", cronIn("", "@yearly"), "2026-03-01T00:00:00Z", []string{"2027-01-01T00:00:00Z", "2028-01-01T00:00:00Z"}},
		{"@annually", cronIn("", "@annually"), "2026-03-01T00:00:00Z", []string{"2027-01-01T00:00:00Z"}},
		{"@monthly", cronIn("", "@monthly"), "2026-03-01T00:00:00Z", []string{"2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z"}},
		{"@weekly", cronIn("", "@weekly"), "2026-03-01T00:00:00Z", []string{"2026-03-08T00:00:00Z", "2026-03-15T00:00:00Z"}},
		{"@daily", cronIn("", "@daily"), "2026-03-01T00:00:00Z", []string{"2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"}},
		{"@midnight", cronIn("", "@midnight"), "2026-03-01T00:00:00Z", []string{"2026-03-02T00:00:00Z"}},
		{"@hourly", cronIn("", "@hourly"), "2026-03-01T00:00:00Z", []string{"2026-03-01T01:00:00Z", "2026-03-01T02:00:00Z"}},
		{
			"@daily in Tokyo", cronIn("Asia/Tokyo", "@daily"), "2026-03-01T00:00:00Z",
			[]string{"2026-03-02T00:00:00+09:00", "2026-03-03T00:00:00+09:00"},
		},
		{
			"09:00 in New York", cronIn("America/New_York", "0 9 * * *"), "2026-03-06T00:00:00Z",
			[]string{"2026-03-06T09:00:00-05:00", "2026-03-07T09:00:00-05:00", "2026-03-08T09:00:00-04:00", "2026-03-09T09:00:00-04:00"},
		},
		{
			"half-hour zone", cronIn("Asia/Kolkata", "0 9 * * *"), "2026-03-06T00:00:00Z",
			[]string{"2026-03-06T09:00:00+05:30", "2026-03-07T09:00:00+05:30"},
		},
		{
			"Monday in Sydney is Sunday in UTC", cronIn("Australia/Sydney", "0 8 * * MON"), "2026-01-01T00:00:00Z",
			[]string{"2026-01-05T08:00:00+11:00", "2026-01-12T08:00:00+11:00"},
		},
		{
			"a day that Samoa skipped", cronIn("Pacific/Apia", "0 12 * * *"), "2011-12-29T00:00:00-10:00",
			[]string{"2011-12-29T12:00:00-10:00", "2011-12-31T12:00:00+14:00", "2012-01-01T12:00:00+14:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFires(t, mustCompile(t, tt.spec), tt.from, tt.want...)
		})
	}
}

func TestInterval(t *testing.T) {
	anchor := at(t, "2026-01-01T10:00:00Z")
	tests := []struct {
		name   string
		spec   Spec
		anchor time.Time
		from   string
		want   []string
	}{
		{
			"before the anchor fires at the anchor", Spec{Kind: KindInterval, Interval: time.Hour}, anchor,
			"2025-06-01T00:00:00Z", []string{"2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"},
		},
		{
			"at the anchor", Spec{Kind: KindInterval, Interval: time.Hour}, anchor,
			"2026-01-01T10:00:00Z", []string{"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"},
		},
		{
			"anchored, not aligned to the clock", Spec{Kind: KindInterval, Interval: 25 * time.Minute}, anchor.Add(7 * time.Second),
			"2026-01-02T00:00:00Z", []string{"2026-01-02T00:10:07Z", "2026-01-02T00:35:07Z"},
		},
		{
			"far from the anchor", Spec{Kind: KindInterval, Interval: 7 * time.Second}, anchor,
			"2036-01-01T10:00:00Z", []string{"2036-01-01T10:00:05Z", "2036-01-01T10:00:12Z"}, // 315,532,800 s is 7k+2
		},
		{
			"zone changes nothing", Spec{Kind: KindInterval, Interval: time.Hour, Timezone: "America/New_York"}, at(t, "2026-11-01T04:30:00Z"),
			"2026-11-01T01:00:00-04:00", []string{"2026-11-01T01:30:00-04:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:30:00-05:00"},
		},
		{
			"@every", Spec{Kind: KindCron, Cron: "@every 90m"}, anchor,
			"2026-01-01T12:00:00Z", []string{"2026-01-01T13:00:00Z", "2026-01-01T14:30:00Z"},
		},
		{
			"@every from the start", Spec{Kind: KindCron, Cron: "@every 1h", StartAt: anchor.Add(30 * time.Minute)}, anchor.Add(30 * time.Minute),
			"2026-01-01T00:00:00Z", []string{"2026-01-01T10:30:00Z", "2026-01-01T11:30:00Z"},
		},
		{
			"start after the anchor", Spec{Kind: KindInterval, Interval: time.Hour, StartAt: at(t, "2026-01-01T12:15:00Z")}, anchor,
			"2026-01-01T00:00:00Z", []string{"2026-01-01T13:00:00Z", "2026-01-01T14:00:00Z"},
		},
		{
			"start on a fire time", Spec{Kind: KindInterval, Interval: time.Hour, StartAt: at(t, "2026-01-01T12:00:00Z")}, anchor,
			"2026-01-01T00:00:00Z", []string{"2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z"},
		},
		{
			"end inclusive", Spec{Kind: KindInterval, Interval: time.Hour, EndAt: at(t, "2026-01-01T12:00:00Z")}, anchor,
			"2026-01-01T00:00:00Z", []string{"2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"},
		},
		{
			"zero anchor means the start", Spec{Kind: KindInterval, Interval: time.Hour, StartAt: at(t, "2026-01-01T12:15:00Z")}, time.Time{},
			"2026-01-01T00:00:00Z", []string{"2026-01-01T12:15:00Z", "2026-01-01T13:15:00Z"},
		},
		{
			"zero anchor and no start mean the epoch", Spec{Kind: KindInterval, Interval: time.Hour}, time.Time{},
			"2026-01-01T12:15:00Z", []string{"2026-01-01T13:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Compile(tt.spec, tt.anchor)
			if err != nil {
				t.Fatal(err)
			}
			checkFires(t, tr, tt.from, tt.want...)
		})
	}
}

func TestOnce(t *testing.T) {
	fire := at(t, "2026-05-01T12:00:00Z")
	tests := []struct {
		name string
		spec Spec
		from string
		want []string
	}{
		{"before", Spec{Kind: KindOnce, At: fire}, "2026-01-01T00:00:00Z", []string{"2026-05-01T12:00:00Z"}},
		{"shown in its zone", Spec{Kind: KindOnce, At: fire, Timezone: "Europe/Paris"}, "2026-01-01T00:00:00Z", []string{"2026-05-01T14:00:00+02:00"}},
		{"at", Spec{Kind: KindOnce, At: fire}, "2026-05-01T12:00:00Z", nil},
		{"passed", Spec{Kind: KindOnce, At: fire}, "2026-06-01T00:00:00Z", nil},
		{"within bounds", Spec{Kind: KindOnce, At: fire, StartAt: fire, EndAt: fire.Add(time.Hour)}, "2026-01-01T00:00:00Z", []string{"2026-05-01T12:00:00Z"}},
		{"before the start", Spec{Kind: KindOnce, At: fire, StartAt: fire.Add(time.Second)}, "2026-01-01T00:00:00Z", nil},
		{"after the end", Spec{Kind: KindOnce, At: fire, EndAt: fire.Add(-time.Second)}, "2026-01-01T00:00:00Z", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFires(t, mustCompile(t, tt.spec), tt.from, tt.want...)
		})
	}
}

func TestCronBounds(t *testing.T) {
	start, end := at(t, "2026-01-01T09:00:00Z"), at(t, "2026-01-03T09:00:00Z")
	tests := []struct {
		name string
		spec Spec
		from string
		want []string
	}{
		{
			"start and end inclusive", Spec{Kind: KindCron, Cron: "0 9 * * *", StartAt: start, EndAt: end}, "2025-12-01T00:00:00Z",
			[]string{"2026-01-01T09:00:00Z", "2026-01-02T09:00:00Z", "2026-01-03T09:00:00Z"},
		},
		{
			"start between fire times", Spec{Kind: KindCron, Cron: "0 9 * * *", StartAt: start.Add(time.Second)}, "2025-12-01T00:00:00Z",
			[]string{"2026-01-02T09:00:00Z"},
		},
		{
			"start with a fraction", Spec{Kind: KindCron, Cron: "* * * * * *", StartAt: start.Add(time.Millisecond)}, "2025-12-01T00:00:00Z",
			[]string{"2026-01-01T09:00:01Z"},
		},
		{
			"after is past the start", Spec{Kind: KindCron, Cron: "0 9 * * *", StartAt: start}, "2026-01-05T00:00:00Z",
			[]string{"2026-01-05T09:00:00Z"},
		},
		{
			"nothing after the end", Spec{Kind: KindCron, Cron: "0 9 * * *", EndAt: end}, "2026-01-03T09:00:00Z", nil,
		},
		{
			"end between fire times", Spec{Kind: KindCron, Cron: "0 9 * * *", EndAt: end.Add(-time.Second)}, "2026-01-01T10:00:00Z",
			[]string{"2026-01-02T09:00:00Z"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFires(t, mustCompile(t, tt.spec), tt.from, tt.want...)
		})
	}
}

func TestLocation(t *testing.T) {
	if loc := mustCompile(t, cronIn("", "@daily")).Location(); loc != time.UTC {
		t.Errorf("no zone: Location() = %v, want UTC", loc)
	}
	if loc := mustCompile(t, cronIn("Europe/Berlin", "@daily")).Location(); loc.String() != "Europe/Berlin" {
		t.Errorf("Location() = %v, want Europe/Berlin", loc)
	}
	if loc := mustCompile(t, Spec{Kind: KindInterval, Interval: time.Minute, Timezone: "Asia/Tokyo"}).Location(); loc.String() != "Asia/Tokyo" {
		t.Errorf("Location() = %v, want Asia/Tokyo", loc)
	}
}

func TestNextFromZeroTime(t *testing.T) {
	tr := mustCompile(t, cronIn("America/New_York", "0 0 1 1 *"))
	next, ok := tr.Next(time.Time{})
	if want := at(t, "1970-01-01T05:00:00Z"); !ok || !next.Equal(want) {
		t.Errorf("Next(zero) = %v, %v; want %v (fire times start in 1970)", next, ok, want)
	}
}

// TestConcurrentNext shares one Trigger between goroutines; run with -race.
func TestConcurrentNext(t *testing.T) {
	tr := mustCompile(t, cronIn("America/New_York", "0 0 1,15 * 1"))
	from := at(t, "2026-01-01T00:00:00Z")
	want := fires(tr, from, 50)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if got := fires(tr, from, 50); !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Error("concurrent fire times differ")
			}
		})
	}
	wg.Wait()
}

func TestMinGap(t *testing.T) {
	from := at(t, "2026-01-01T00:00:00Z")
	tests := []struct {
		name  string
		spec  Spec
		n     int
		want  time.Duration
		atMin bool // want is a lower bound
		none  bool
	}{
		{name: "every 5 minutes", spec: cronIn("", "*/5 * * * *"), n: 1000, want: 5 * time.Minute},
		{name: "every 5 minutes across fall-back", spec: cronIn("America/New_York", "*/5 * * * *"), n: 1000, want: 5 * time.Minute},
		{name: "weekdays at 09:00", spec: cronIn("", "0 9 * * 1-5"), n: 1000, want: 24 * time.Hour},
		{name: "weekdays at 09:00 in New York", spec: cronIn("America/New_York", "0 9 * * 1-5"), n: 1000, want: 24 * time.Hour},
		{name: "monthly", spec: cronIn("", "0 0 1 * *"), n: 1000, want: 28 * 24 * time.Hour, atMin: true},
		{name: "Vixie", spec: cronIn("", "0 0 1,15 * 1"), n: 1000, want: 24 * time.Hour},
		{name: "gap-shifted times", spec: cronIn("America/New_York", "0,30 2 * * *"), n: 1000, want: 30 * time.Minute},
		{name: "interval", spec: Spec{Kind: KindInterval, Interval: time.Hour}, n: 1000, want: time.Hour},
		{name: "@every", spec: cronIn("", "@every 45s"), n: 1000, want: 45 * time.Second},
		{name: "once", spec: Spec{Kind: KindOnce, At: from.Add(time.Hour)}, n: 1000, none: true},
		{name: "one fire before the end", spec: Spec{Kind: KindInterval, Interval: time.Hour, EndAt: from.Add(30 * time.Minute)}, n: 1000, none: true},
		{name: "one fire left", spec: cronIn("", "0 0 0 1 1 ? 2026,2020"), n: 1000, none: true},
		{name: "never", spec: cronIn("", "0 0 30 2 *"), n: 1000, none: true},
		{name: "n of 1", spec: cronIn("", "* * * * *"), n: 1, none: true},
		{name: "n of 2", spec: cronIn("", "0,20 * * * *"), n: 2, want: 20 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Compile(tt.spec, from)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := tr.MinGap(from.Add(-time.Nanosecond), tt.n)
			switch {
			case tt.none:
				if ok || got != 0 {
					t.Errorf("MinGap = %v, %v; want 0, false", got, ok)
				}
			case !ok:
				t.Errorf("MinGap = %v, false; want %v", got, tt.want)
			case tt.atMin && got < tt.want, !tt.atMin && got != tt.want:
				t.Errorf("MinGap = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestMinGapIsFast(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing")
	}
	tr := mustCompile(t, cronIn("America/New_York", "*/5 9-17 * * MON-FRI"))
	start := time.Now()
	if _, ok := tr.MinGap(at(t, "2026-01-01T00:00:00Z"), 1000); !ok {
		t.Fatal("no gap")
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("MinGap over 1000 fire times took %v, want well under 50ms", d)
	}
}

func BenchmarkNext(b *testing.B) {
	for _, expr := range []string{"*/5 * * * *", "0 9 * * 1-5", "30 2 * * *", "0 0 1,15 * 1", "0 0 L * *"} {
		b.Run(expr, func(b *testing.B) {
			tr := mustCompile(b, cronIn("America/New_York", expr))
			from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Spread the starting points over two years.
				if _, ok := tr.Next(from.Add(time.Duration(i%10000) * 104 * time.Minute)); !ok {
					b.Fatal("no fire time")
				}
			}
		})
	}
}

func BenchmarkMinGap(b *testing.B) {
	tr := mustCompile(b, cronIn("America/New_York", "0 9 * * 1-5"))
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		tr.MinGap(from, 1000)
	}
}
