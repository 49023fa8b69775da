package trigger

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests' zones, whatever the machine has

	"github.com/heraldhq/herald/store"
)

func TestDOWTranslation(t *testing.T) {
	tests := []struct {
		field, quartz string
	}{
		{"0", "1"},
		{"7", "1"},
		{"SUN", "1"},
		{"sun", "1"},
		{"Sat", "7"},
		{"0,7", "1"},
		{"1-5", "2,3,4,5,6"},
		{"MON-FRI", "2,3,4,5,6"},
		{"mon-fri", "2,3,4,5,6"},
		{"*/2", "1,3,5,7"},
		{"1-7/2", "1,2,4,6"}, // 1,3,5,7: 7 is Sunday
		{"5-7", "1,6,7"},     // Friday to Sunday
		{"6,0", "1,7"},       // the weekend
		{"2/3", "3,6"},       // 2 and 5
		{"SUN,WED-FRI", "1,4,5,6"},
	}
	for _, tt := range tests {
		_, got, err := parseDOW(tt.field)
		if err != nil {
			t.Errorf("parseDOW(%q): %v", tt.field, err)
			continue
		}
		if got != tt.quartz {
			t.Errorf("parseDOW(%q) = %q, want %q", tt.field, got, tt.quartz)
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
		got, q, err := parseDOW(tt.field)
		if err != nil || got != tt.want || q != "*" {
			t.Errorf("parseDOW(%q) = %+v, %q, %v; want %+v, \"*\"", tt.field, got, q, err, tt.want)
		}
	}
}

// TestQuartzExpressions checks what go-quartz is asked to search: seconds
// first, Quartz's day-of-week numbering, ? in the unrestricted day field,
// one trigger per day field when both are restricted, and any day for the
// L, W and # forms, whose day is picked by this package.
func TestQuartzExpressions(t *testing.T) {
	tests := []struct {
		cron string
		want []string
	}{
		{"* * * * *", []string{"0 * * * * ? *"}},
		{"*/15 9-17 * * MON-FRI", []string{"0 0,15,30,45 9,10,11,12,13,14,15,16,17 ? * 2,3,4,5,6 *"}},
		{"30 2 * * *", []string{"0 30 2 * * ? *"}},
		{"0 0 1,15 * 1", []string{"0 0 0 1,15 * ? *", "0 0 0 ? * 2 *"}},
		{"0 0 ? * 0", []string{"0 0 0 ? * 1 *"}},
		{"0 0 1 * ?", []string{"0 0 0 1 * ? *"}},
		{"0 12 * jan,Jul *", []string{"0 0 12 * 1,7 ? *"}},
		{"10 */20 * * * *", []string{"10 0,20,40 * * * ? *"}},
		{"0 0 12 L * ?", []string{"0 0 12 * * ? *"}},
		{"0 0 12 l-3 * ?", []string{"0 0 12 * * ? *"}},
		{"0 0 12 15w * ?", []string{"0 0 12 * * ? *"}},
		{"0 0 12 LW * *", []string{"0 0 12 * * ? *"}},
		{"0 0 12 ? * FRI#3", []string{"0 0 12 ? * * *"}},
		{"0 0 12 L * 5L", []string{"0 0 12 * * ? *", "0 0 12 ? * * *"}},
		{"0 0 0 1 1 ? 2027,2030-2031", []string{"0 0 0 1 1 ? 2027,2030,2031"}},
		{"@yearly", []string{"0 0 0 1 1 ? *"}},
		{"@annually", []string{"0 0 0 1 1 ? *"}},
		{"@monthly", []string{"0 0 0 1 * ? *"}},
		{"@weekly", []string{"0 0 0 ? * 1 *"}},
		{"@daily", []string{"0 0 0 * * ? *"}},
		{"@midnight", []string{"0 0 0 * * ? *"}},
		{"@hourly", []string{"0 0 * * * ? *"}},
		{"0 0 30 2 *", nil}, // never: February 30
		{"0 0 0 ? 2 MON#5 2027,2028", nil},
	}
	for _, tt := range tests {
		c, err := parseCron(tt.cron)
		if err != nil {
			t.Errorf("parseCron(%q): %v", tt.cron, err)
			continue
		}
		s, err := newCronSchedule(c, time.UTC)
		if err != nil {
			t.Errorf("newCronSchedule(%q): %v", tt.cron, err)
			continue
		}
		var got []string
		for _, b := range s.branches {
			got = append(got, b.expr)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: go-quartz expressions %q, want %q", tt.cron, got, tt.want)
		}
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
			five := mustCompile(t, store.Trigger{Kind: store.TriggerCron, Cron: e, Timezone: zone})
			six := mustCompile(t, store.Trigger{Kind: store.TriggerCron, Cron: "0 " + e, Timezone: zone})
			got, want := fires(five, from, 200), fires(six, from, 200)
			if len(got) == 0 || !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s %q: 5 fields give %d fire times, 6 fields %d, or they differ", zone, e, len(got), len(want))
			}
		}
	}
}

func TestCompileErrors(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cron := func(expr string) store.Trigger { return store.Trigger{Kind: store.TriggerCron, Cron: expr} }
	tests := []struct {
		name  string
		spec  store.Trigger
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
		{"unknown zone", store.Trigger{Kind: store.TriggerCron, Cron: "@daily", Timezone: "Mars/Base"}, "trigger.timezone", `unknown IANA time zone "Mars/Base"`},
		{"Local zone", store.Trigger{Kind: store.TriggerCron, Cron: "@daily", Timezone: "Local"}, "trigger.timezone", "name an IANA time zone"},
		{"interval 0", store.Trigger{Kind: store.TriggerInterval}, "trigger.interval", "at least 1s: got 0s"},
		{"interval 500ms", store.Trigger{Kind: store.TriggerInterval, Interval: 500 * time.Millisecond}, "trigger.interval", "at least 1s"},
		{"interval negative", store.Trigger{Kind: store.TriggerInterval, Interval: -time.Hour}, "trigger.interval", "at least 1s"},
		{"once without at", store.Trigger{Kind: store.TriggerOnce}, "trigger.at", "must be set"},
		{"negative jitter", store.Trigger{Kind: store.TriggerOnce, At: at, Jitter: -time.Second}, "trigger.jitter", "must not be negative"},
		{"end before start", store.Trigger{Kind: store.TriggerOnce, At: at, StartAt: at, EndAt: at.Add(-time.Hour)}, "trigger.end_at", "after trigger.start_at"},
		{"end at start", store.Trigger{Kind: store.TriggerOnce, At: at, StartAt: at, EndAt: at}, "trigger.end_at", "after trigger.start_at"},
		{"no kind", store.Trigger{}, "trigger.kind", "is required"},
		{"unknown kind", store.Trigger{Kind: "weekly"}, "trigger.kind", `unknown kind "weekly"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := Compile(tt.spec, time.Time{})
			if err == nil {
				t.Fatalf("Compile(%+v) = %v, want an error", tt.spec, tr)
			}
			var ve *store.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Compile(%+v) error %v (%T) is not a *store.ValidationError", tt.spec, err, err)
			}
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("error %v does not match store.ErrInvalid", err)
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
		if _, err := Compile(store.Trigger{Kind: store.TriggerCron, Cron: e, Timezone: "Europe/Berlin"}, time.Time{}); err != nil {
			t.Errorf("Compile(%q): %v", e, err)
		}
	}
}

func mustCompile(t testing.TB, spec store.Trigger) *Trigger {
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
