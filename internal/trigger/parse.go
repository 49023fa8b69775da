package trigger

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file parses the cron dialect described in the package documentation
// into sets of values per field, from which cron.go computes fire times.

// cronField names the fields of a 7-field expression, in order.
type cronField int

const (
	fieldSecond cronField = iota
	fieldMinute
	fieldHour
	fieldDOM
	fieldMonth
	fieldDOW
	fieldYear
)

// fieldSpec describes the values a field accepts.
type fieldSpec struct {
	name     string
	min, max int
	// names holds three-letter names of the values from min, in order.
	names string
}

func specOf(f cronField) fieldSpec {
	switch f {
	case fieldSecond:
		return fieldSpec{name: "second", min: 0, max: 59}
	case fieldMinute:
		return fieldSpec{name: "minute", min: 0, max: 59}
	case fieldHour:
		return fieldSpec{name: "hour", min: 0, max: 23}
	case fieldDOM:
		return fieldSpec{name: "day-of-month", min: 1, max: 31}
	case fieldMonth:
		return fieldSpec{name: "month", min: 1, max: 12, names: "JANFEBMARAPRMAYJUNJULAUGSEPOCTNOVDEC"}
	case fieldDOW:
		return fieldSpec{name: "day-of-week", min: 0, max: 7, names: "SUNMONTUEWEDTHUFRISAT"}
	default:
		return fieldSpec{name: "year", min: yearMin, max: yearMax}
	}
}

// The years a year field accepts.
const (
	yearMin = 1970
	yearMax = 2099
)

// maxYear is the last year a search reaches (maxSeconds falls in it).
const maxYear = 2255

// descriptorHelp lists the descriptors in error messages.
const descriptorHelp = "@hourly, @daily, @weekly, @monthly, @yearly, @every <duration>"

// dayKind says how a branch selects the days of a month.
type dayKind int

const (
	dayAll         dayKind = iota // every day
	dayOfMonth                    // the days in days
	dayLast                       // the month's last day minus n
	dayNearWeekday                // the weekday nearest to day n
	dayLastWeekday                // the month's last weekday
	dayOfWeek                     // the days of the week in days (bit 0 is Sunday)
	dayNthWeekday                 // the n-th weekday wd of the month
	dayLastOfWeek                 // the month's last weekday wd
)

// daySpec selects days within a month.
type daySpec struct {
	kind dayKind
	days uint64
	n    int
	wd   time.Weekday
}

// cronExpr is a parsed cron expression.
type cronExpr struct {
	// every is the period of @every; the other fields are unset when it is
	// not zero.
	every time.Duration

	second, minute, hour, month uint64
	// years is nil when the year is not restricted.
	years *yearSet
	// dom and dow are the day fields; at least one is used. When both are
	// restricted a day matches either (Vixie cron).
	dom, dow                     daySpec
	domRestricted, dowRestricted bool
}

// yearSet holds years from yearMin to yearMax.
type yearSet [3]uint64

func (s *yearSet) has(y int) bool {
	if s == nil {
		return true
	}
	i := y - yearMin
	if i < 0 || i > yearMax-yearMin {
		return false
	}
	return s[i/64]&(1<<(i%64)) != 0
}

// next returns the first year after y in s (s is not nil).
func (s *yearSet) next(y int) (int, bool) {
	for y = max(y+1, yearMin); y <= yearMax; y++ {
		if s.has(y) {
			return y, true
		}
	}
	return 0, false
}

// cronError names the cron expression in a validation error.
func cronError(format string, args ...any) error {
	return invalid("trigger.cron", fmt.Sprintf(format, args...))
}

// parseCron parses a cron expression of Herald's dialect.
func parseCron(text string) (*cronExpr, error) {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil, cronError("must not be empty for a cron trigger")
	}
	if strings.HasPrefix(fields[0], "@") {
		return parseDescriptor(fields)
	}
	switch len(fields) {
	case 5:
		fields = append([]string{"0"}, fields...)
	case 6, 7:
	default:
		return nil, cronError("must have 5 or 6 fields (or 7, with a year) or be a descriptor (%s): got %d fields", descriptorHelp, len(fields))
	}
	return parseFields(fields)
}

func parseDescriptor(fields []string) (*cronExpr, error) {
	name := strings.ToLower(fields[0])
	if name == "@every" {
		if len(fields) != 2 {
			return nil, cronError("@every takes one duration, as in \"@every 5m\"")
		}
		d, err := time.ParseDuration(fields[1])
		if err != nil {
			return nil, cronError("@every: %q is not a duration (use Go syntax, as in 90s, 5m or 1h30m)", fields[1])
		}
		if d < time.Second {
			return nil, cronError("@every: the duration must be at least 1s: got %s", d)
		}
		return &cronExpr{every: d}, nil
	}
	var expr string
	switch name {
	case "@yearly", "@annually":
		expr = "0 0 0 1 1 *"
	case "@monthly":
		expr = "0 0 0 1 * *"
	case "@weekly":
		expr = "0 0 0 * * 0"
	case "@daily", "@midnight":
		expr = "0 0 0 * * *"
	case "@hourly":
		expr = "0 0 * * * *"
	default:
		return nil, cronError("unknown descriptor %q: use one of %s", fields[0], descriptorHelp)
	}
	if len(fields) != 1 {
		return nil, cronError("descriptor %s takes no fields: got %q", name, strings.Join(fields[1:], " "))
	}
	return parseFields(strings.Fields(expr))
}

// parseFields parses 6 or 7 fields, seconds first.
func parseFields(fields []string) (*cronExpr, error) {
	c := &cronExpr{}
	var err error
	for _, f := range []struct {
		field cronField
		set   *uint64
	}{
		{fieldSecond, &c.second}, {fieldMinute, &c.minute}, {fieldHour, &c.hour}, {fieldMonth, &c.month},
	} {
		if *f.set, err = parseField(fields[f.field], specOf(f.field)); err != nil {
			return nil, err
		}
	}
	if len(fields) == 7 && !isAny(fields[fieldYear]) {
		if c.years, err = parseYears(fields[fieldYear]); err != nil {
			return nil, err
		}
	}
	if c.dom, err = parseDOM(fields[fieldDOM]); err != nil {
		return nil, err
	}
	if c.dow, err = parseDOW(fields[fieldDOW]); err != nil {
		return nil, err
	}
	c.domRestricted = !isAny(fields[fieldDOM])
	c.dowRestricted = !isAny(fields[fieldDOW])
	return c, nil
}

// isAny reports whether a field leaves its value unrestricted.
func isAny(field string) bool { return field == "*" || field == "?" }

// parseField parses a list field into a bit set of its values.
func parseField(field string, spec fieldSpec) (uint64, error) {
	var set uint64
	err := eachValue(field, spec, func(v int) { set |= 1 << v })
	return set, err
}

func parseYears(field string) (*yearSet, error) {
	var set yearSet
	err := eachValue(field, specOf(fieldYear), func(y int) {
		i := y - yearMin
		set[i/64] |= 1 << (i % 64)
	})
	return &set, err
}

// eachValue calls add for each value of a list field.
func eachValue(field string, spec fieldSpec, add func(int)) error {
	bad := func(format string, args ...any) error {
		return cronError("%s field %q: %s", spec.name, field, fmt.Sprintf(format, args...))
	}
	if field == "" {
		return bad("must not be empty")
	}
	for item := range strings.SplitSeq(field, ",") {
		if item == "" {
			return bad("empty list item")
		}
		base, stepText, hasStep := strings.Cut(item, "/")
		lo, hi := spec.min, spec.max
		switch {
		case base == "*" || base == "?":
		case strings.Contains(base, "-"):
			from, to, _ := strings.Cut(base, "-")
			var err error
			if lo, err = parseValue(from, spec); err != nil {
				return bad("%v", err)
			}
			if hi, err = parseValue(to, spec); err != nil {
				return bad("%v", err)
			}
			if lo > hi {
				return bad("range %s starts after it ends", base)
			}
		default:
			v, err := parseValue(base, spec)
			if err != nil {
				return bad("%v", err)
			}
			lo = v
			if !hasStep {
				hi = v
			}
		}
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > spec.max-spec.min+1 {
				return bad("step %q must be a number from 1 to %d", stepText, spec.max-spec.min+1)
			}
			step = n
		}
		for v := lo; v <= hi; v += step {
			add(v)
		}
	}
	return nil
}

// parseValue parses a number or a name of a field.
func parseValue(text string, spec fieldSpec) (int, error) {
	if n, err := strconv.Atoi(text); err == nil {
		if n < spec.min || n > spec.max {
			return 0, fmt.Errorf("value %d out of range %d-%d", n, spec.min, spec.max)
		}
		return n, nil
	}
	if len(text) == 3 && spec.names != "" {
		if i := strings.Index(spec.names, strings.ToUpper(text)); i >= 0 && i%3 == 0 {
			return spec.min + i/3, nil
		}
	}
	if spec.names != "" {
		return 0, fmt.Errorf("%q is neither a number from %d to %d nor a name such as %s", text, spec.min, spec.max, spec.names[:3])
	}
	return 0, fmt.Errorf("%q is not a number from %d to %d", text, spec.min, spec.max)
}

// parseDOM parses the day-of-month field.
func parseDOM(field string) (daySpec, error) {
	spec := specOf(fieldDOM)
	bad := func(format string, args ...any) (daySpec, error) {
		return daySpec{}, cronError("%s field %q: %s", spec.name, field, fmt.Sprintf(format, args...))
	}
	if isAny(field) {
		return daySpec{kind: dayAll}, nil
	}
	up := strings.ToUpper(field)
	if !strings.ContainsAny(up, "LW#") {
		days, err := parseField(field, spec)
		if err != nil {
			return daySpec{}, err
		}
		return daySpec{kind: dayOfMonth, days: days}, nil
	}
	if strings.ContainsAny(up, ",/#") {
		return bad("L, L-n, nW and LW must be the whole field")
	}
	switch {
	case up == "L":
		return daySpec{kind: dayLast}, nil
	case up == "LW":
		return daySpec{kind: dayLastWeekday}, nil
	case strings.HasPrefix(up, "L-"):
		n, err := strconv.Atoi(up[2:])
		if err != nil || n < 1 || n > 30 {
			return bad("L-n needs n from 1 to 30")
		}
		return daySpec{kind: dayLast, n: n}, nil
	case strings.HasSuffix(up, "W"):
		n, err := strconv.Atoi(up[:len(up)-1])
		if err != nil || n < spec.min || n > spec.max {
			return bad("nW needs a day n from 1 to 31")
		}
		return daySpec{kind: dayNearWeekday, n: n}, nil
	}
	return bad("expected L, L-n, nW or LW, or a crontab list")
}

// parseDOW parses the day-of-week field in crontab numbering (0 and 7 are
// Sunday); its day set has bit 0 for Sunday.
func parseDOW(field string) (daySpec, error) {
	spec := specOf(fieldDOW)
	bad := func(format string, args ...any) (daySpec, error) {
		return daySpec{}, cronError("%s field %q: %s", spec.name, field, fmt.Sprintf(format, args...))
	}
	if isAny(field) {
		return daySpec{kind: dayAll}, nil
	}
	up := strings.ToUpper(field)
	if day, k, ok := strings.Cut(up, "#"); ok {
		wd, err := parseValue(day, spec)
		if err != nil {
			return bad("%v", err)
		}
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > 5 {
			return bad("d#k needs k from 1 to 5")
		}
		return daySpec{kind: dayNthWeekday, wd: time.Weekday(wd % 7), n: n}, nil
	}
	if day, ok := strings.CutSuffix(up, "L"); ok && !strings.ContainsAny(day, ",-/*?") {
		if day == "" {
			return bad("L needs a day, as in 5L or FRIL (the month's last Friday)")
		}
		wd, err := parseValue(day, spec)
		if err != nil {
			return bad("%v", err)
		}
		return daySpec{kind: dayLastOfWeek, wd: time.Weekday(wd % 7)}, nil
	}
	days, err := parseField(field, spec)
	if err != nil {
		return daySpec{}, err
	}
	if days&(1<<7) != 0 {
		days = days&^(1<<7) | 1
	}
	return daySpec{kind: dayOfWeek, days: days}, nil
}
