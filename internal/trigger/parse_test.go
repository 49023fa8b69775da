package trigger

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests' zones, whatever the machine has
)

func TestDOWTranslation(t *testing.T) {
	tests := []struct {
		field string
		days  []int // 0 is Sunday
	}{
		{"0", []int{0}},
		{"7", []int{0}},
		{"SUN", []int{0}},
		{"sun", []int{0}},
		{"Sat", []int{6}},
		{"0,7", []int{0}},
		{"1-5", []int{1, 2, 3, 4, 5}},
		{"MON-FRI", []int{1, 2, 3, 4, 5}},
		{"mon-fri", []int{1, 2, 3, 4, 5}},
		{"*/2", []int{0, 2, 4, 6}},
		{"1-7/2", []int{0, 1, 3, 5}}, // 1,3,5,7: 7 is Sunday
		{"5-7", []int{0, 5, 6}},      // Friday to Sunday
		{"6,0", []int{0, 6}},         // the weekend
		{"2/3", []int{2, 5}},
		{"SUN,WED-FRI", []int{0, 3, 4, 5}},
	}
	for _, tt := range tests {
		got, err := parseDOW(tt.field)
		if err != nil {
			t.Errorf("parseDOW(%q): %v", tt.field, err)
			continue
		}
		if want := (daySpec{kind: dayOfWeek, days: bitSet(tt.days...)}); got != want {
			t.Errorf("parseDOW(%q) = %+v, want %+v", tt.field, got, want)
		}
	}

	special := []struct {
		field string
		want  daySpec
	}{
		{"FRI#3", daySpec{kind: dayNthWeekday, wd: time.Friday, n: 3}},
		{"0#1", daySpec{kind: dayNthWeekday, wd: time.Sunday, n: 1}},
		{"7#2", daySpec{kind: dayNthWeekday, wd: time.Sunday, n: 2}},
		{"5L", daySpec{kind: dayLastOfWeek, wd: time.Friday}},
		{"satL", daySpec{kind: dayLastOfWeek, wd: time.Saturday}},
		{"7L", daySpec{kind: dayLastOfWeek, wd: time.Sunday}},
	}
	for _, tt := range special {
		got, err := parseDOW(tt.field)
		if err != nil || got != tt.want {
			t.Errorf("parseDOW(%q) = %+v, %v; want %+v", tt.field, got, err, tt.want)
		}
	}
}

func bitSet(values ...int) uint64 {
	var set uint64
	for _, v := range values {
		set |= 1 << v
	}
	return set
}

// TestBranches checks the day selections an expression is searched by:
// one per restricted day field (a day matches either, the Vixie rule), the
// day of the month when neither is restricted, and none when no date can
// match.
func TestBranches(t *testing.T) {
	all := daySpec{kind: dayAll}
	dom := func(days ...int) daySpec { return daySpec{kind: dayOfMonth, days: bitSet(days...)} }
	dow := func(days ...int) daySpec { return daySpec{kind: dayOfWeek, days: bitSet(days...)} }
	tests := []struct {
		cron string
		want []daySpec
	}{
		{"* * * * *", []daySpec{all}},
		{"*/15 9-17 * * MON-FRI", []daySpec{dow(1, 2, 3, 4, 5)}},
		{"0 0 1,15 * 1", []daySpec{dom(1, 15), dow(1)}},
		{"0 0 ? * 0", []daySpec{dow(0)}},
		{"0 0 1 * ?", []daySpec{dom(1)}},
		{"0 0 12 L * ?", []daySpec{{kind: dayLast}}},
		{"0 0 12 l-3 * ?", []daySpec{{kind: dayLast, n: 3}}},
		{"0 0 12 15w * ?", []daySpec{{kind: dayNearWeekday, n: 15}}},
		{"0 0 12 LW * *", []daySpec{{kind: dayLastWeekday}}},
		{"0 0 12 ? * FRI#3", []daySpec{{kind: dayNthWeekday, wd: time.Friday, n: 3}}},
		{"0 0 12 L * 5L", []daySpec{{kind: dayLast}, {kind: dayLastOfWeek, wd: time.Friday}}},
		{"@weekly", []daySpec{dow(0)}},
		{"@monthly", []daySpec{dom(1)}},
		{"0 0 30 2 *", nil}, // never: February 30
		{"0 0 0 ? 2 MON#5 2027,2028", nil},
		{"0 0 31 4,6 *", nil},
		{"0 0 31 4,6 1", []daySpec{dow(1)}}, // April 31 never, Mondays do
	}
	for _, tt := range tests {
		c, err := parseCron(tt.cron)
		if err != nil {
			t.Errorf("parseCron(%q): %v", tt.cron, err)
			continue
		}
		var got []daySpec
		for _, b := range newCronSchedule(c, time.UTC).branches {
			got = append(got, b.day)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: branches %+v, want %+v", tt.cron, got, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	c, err := parseCron("10 */20 9-11 * jan,Jul ? 2027,2030-2031")
	if err != nil {
		t.Fatal(err)
	}
	if c.second != bitSet(10) || c.minute != bitSet(0, 20, 40) || c.hour != bitSet(9, 10, 11) || c.month != bitSet(1, 7) {
		t.Errorf("fields %b %b %b %b", c.second, c.minute, c.hour, c.month)
	}
	for y := yearMin; y <= yearMax; y++ {
		if want := y == 2027 || y == 2030 || y == 2031; c.years.has(y) != want {
			t.Errorf("year %d: %v, want %v", y, c.years.has(y), want)
		}
	}
	if y, ok := c.years.next(2027); !ok || y != 2030 {
		t.Errorf("year after 2027: %d, %v; want 2030", y, ok)
	}
	if _, ok := c.years.next(2031); ok {
		t.Error("a year after 2031")
	}
}

// TestFiveFieldsEqualSix checks that a 5-field expression is the 6-field
// expression with a 0 seconds field in front, fire time by fire time.
func TestFiveFieldsEqualSix(t *testing.T) {
	exprs := []string{
		"* * * * *",
		"*/5 * * * *",
		"0 9 * * 1-5",
		"30 2 * * *",
		"15,45 */2 * * SUN",
		"0 0 1,15 * 1",
		"0 12 L * *",
		"0 8 ? JAN-MAR 1#1",
		"5/10 1-20/5 * * *",
		"0 0 29 2 *",
		"0 0 * * 0,7",
		"59 23 31 12 *",
	}
	zones := []string{"UTC", "America/New_York", "Australia/Lord_Howe"}
	from := time.Date(2025, 12, 28, 0, 0, 0, 0, time.UTC)
	for _, zone := range zones {
		for _, e := range exprs {
			five := mustCompile(t, Spec{Kind: KindCron, Cron: e, Timezone: zone})
			six := mustCompile(t, Spec{Kind: KindCron, Cron: "0 " + e, Timezone: zone})
			got, want := fires(five, from, 200), fires(six, from, 200)
			if len(got) == 0 || !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s %q: 5 fields give %d fire times, 6 fields %d, or they differ", zone, e, len(got), len(want))
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cron := func(expr string) Spec { return Spec{Kind: KindCron, Cron: expr} }
	tests := []struct {
		name  string
		spec  Spec
		field string
		rule  string // a part of the rule
	}{
		{"4 fields", cron("* * * *"), "trigger.cron", "must have 5 or 6 fields"},
		{"4 fields count", cron("* * * *"), "trigger.cron", "got 4 fields"},
		{"8 fields", cron("0 0 0 1 1 ? 2030 x"), "trigger.cron", "got 8 fields"},
		{"empty", cron("  "), "trigger.cron", "must not be empty"},
		{"minute 61", cron("61 * * * *"), "trigger.cron", `minute field "61": value 61 out of range 0-59`},
		{"minute 61 in a list", cron("0,61 * * * *"), "trigger.cron", "out of range 0-59"},
		{"second 60", cron("60 * * * * *"), "trigger.cron", "second field"},
		{"hour 24", cron("0 24 * * *"), "trigger.cron", "hour field"},
		{"day 0", cron("0 0 0 * *"), "trigger.cron", "day-of-month field"},
		{"day 32", cron("0 0 32 * *"), "trigger.cron", "out of range 1-31"},
		{"month 13", cron("0 0 * 13 *"), "trigger.cron", "month field"},
		{"month name", cron("0 0 * JANUARY *"), "trigger.cron", "nor a name such as JAN"},
		{"dow 8", cron("0 0 * * 8"), "trigger.cron", `day-of-week field "8": value 8 out of range 0-7`},
		{"dow name", cron("0 0 * * FUN"), "trigger.cron", "day-of-week field"},
		{"names in minutes", cron("MON * * * *"), "trigger.cron", "minute field"},
		{"step 0", cron("*/0 * * * *"), "trigger.cron", "step"},
		{"step too big", cron("*/61 * * * *"), "trigger.cron", "step"},
		{"step not a number", cron("*/x * * * *"), "trigger.cron", "step"},
		{"backward range", cron("5-1 * * * *"), "trigger.cron", "starts after it ends"},
		{"empty list item", cron("1,,2 * * * *"), "trigger.cron", "empty list item"},
		{"half range", cron("1- * * * *"), "trigger.cron", "minute field"},
		{"L in a list", cron("0 0 1,L * *"), "trigger.cron", "whole field"},
		{"L-31", cron("0 0 L-31 * *"), "trigger.cron", "L-n"},
		{"32W", cron("0 0 32W * *"), "trigger.cron", "nW"},
		{"hash in day of month", cron("0 0 1#2 * *"), "trigger.cron", "whole field"},
		{"dow hash 6", cron("0 0 * * 1#6"), "trigger.cron", "d#k"},
		{"bare L in dow", cron("0 0 * * L"), "trigger.cron", "L needs a day"},
		{"year 1969", cron("0 0 0 1 1 ? 1969"), "trigger.cron", "year field"},
		{"year 2100", cron("0 0 0 1 1 ? 2100"), "trigger.cron", "out of range 1970-2099"},
		{"unknown descriptor", cron("@fortnightly"), "trigger.cron", `unknown descriptor "@fortnightly"`},
		{"descriptor with fields", cron("@daily 5"), "trigger.cron", "takes no fields"},
		{"every without duration", cron("@every"), "trigger.cron", "@every takes one duration"},
		{"every not a duration", cron("@every soon"), "trigger.cron", "not a duration"},
		{"every -1s", cron("@every -1s"), "trigger.cron", "at least 1s"},
		{"every 10ms", cron("@every 10ms"), "trigger.cron", "at least 1s: got 10ms"},
		{"unknown zone", Spec{Kind: KindCron, Cron: "@daily", Timezone: "Mars/Base"}, "trigger.timezone", `unknown IANA time zone "Mars/Base"`},
		{"Local zone", Spec{Kind: KindCron, Cron: "@daily", Timezone: "Local"}, "trigger.timezone", "name an IANA time zone"},
		{"interval 0", Spec{Kind: KindInterval}, "trigger.interval", "at least 1s: got 0s"},
		{"interval 500ms", Spec{Kind: KindInterval, Interval: 500 * time.Millisecond}, "trigger.interval", "at least 1s"},
		{"interval negative", Spec{Kind: KindInterval, Interval: -time.Hour}, "trigger.interval", "at least 1s"},
		{"once without at", Spec{Kind: KindOnce}, "trigger.at", "must be set"},
		{"negative jitter", Spec{Kind: KindOnce, At: at, Jitter: -time.Second}, "trigger.jitter", "must not be negative"},
		{"end before start", Spec{Kind: KindOnce, At: at, StartAt: at, EndAt: at.Add(-time.Hour)}, "trigger.end_at", "after trigger.start_at"},
		{"end at start", Spec{Kind: KindOnce, At: at, StartAt: at, EndAt: at}, "trigger.end_at", "after trigger.start_at"},
		{"no kind", Spec{}, "trigger.kind", "is required"},
		{"unknown kind", Spec{Kind: "weekly"}, "trigger.kind", `unknown kind "weekly"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Compile(tt.spec, time.Time{})
			if err == nil {
				t.Fatalf("Compile(%+v) = %v, want an error", tt.spec, tr)
			}
			var ve *Error
			if !errors.As(err, &ve) {
				t.Fatalf("Compile(%+v) error %v (%T) is not an *Error", tt.spec, err, err)
			}
			if ve.Field != tt.field {
				t.Errorf("error %v names field %q, want %q", err, ve.Field, tt.field)
			}
			if !strings.Contains(ve.Rule, tt.rule) {
				t.Errorf("rule %q does not contain %q", ve.Rule, tt.rule)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	exprs := []string{
		"* * * * *",
		"? ? ? ? ?",
		"0 0 * * 7",
		"0 0 * * 0-7",
		"0-59/15 0-23 1-31 1-12 0-6",
		"0 0 1 jan-dec/3 *",
		"0 0 0 L * ?",
		"0 0 0 L-30 * ?",
		"0 0 0 1W * ?",
		"0 0 0 31W * ?",
		"0 0 0 LW * ?",
		"0 0 0 ? * 5#5",
		"0 0 0 ? * SUNL",
		"0 0 0 1 1 ? 1970-2099/7",
		"0 0 0 1 1 ? 2020", // no fire time left, but valid
		"0 0 30 2 *",       // never fires, but valid
		"@every 1s",
		"@every 1h30m",
		"@EVERY 90s",
		"@Daily",
		"  */5\t*  * * *  ",
	}
	for _, e := range exprs {
		if _, err := Compile(Spec{Kind: KindCron, Cron: e, Timezone: "Europe/Berlin"}, time.Time{}); err != nil {
			t.Errorf("Compile(%q): %v", e, err)
		}
	}
}

func mustCompile(t testing.TB, spec Spec) *Trigger {
	t.Helper()
	tr, err := Compile(spec, time.Time{})
	if err != nil {
		t.Fatalf("Compile(%+v): %v", spec, err)
	}
	return tr
}

// fires returns up to n fire times after from.
func fires(tr *Trigger, from time.Time, n int) []time.Time {
	var out []time.Time
	for len(out) < n {
		next, ok := tr.Next(from)
		if !ok {
			break
		}
		out = append(out, next)
		from = next
	}
	return out
}
