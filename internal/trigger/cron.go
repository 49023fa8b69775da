package trigger

import (
	"math/bits"
	"time"
)

// How a cron trigger finds its fire times.
//
// The calendar search runs on wall-clock times read as UTC, so that it never
// meets a daylight-saving change: a branch (below) finds the next wall-clock
// time whose fields match, field by field from the year down to the second,
// from the sets parsed out of the expression. cronSchedule.next then maps
// those wall-clock times to instants in the trigger's zone, with Herald's
// fixed semantics:
//
//   - a wall-clock time skipped by a spring-forward gap fires once, shifted
//     forward by the gap (02:30 becomes 03:30);
//   - a wall-clock time that occurs twice fires once, at its first
//     occurrence;
//   - an expression whose hour field covers every hour follows elapsed time
//     instead: every instant whose wall-clock reading matches fires, so it
//     fires in both passes of a repeated hour and not at all inside a
//     skipped one.
//
// go-quartz's CronTrigger is not asked: in the zone it gets these cases
// wrong, and even on the wall clock it misreads dates past a month's end and
// skips fire times of the L, W and # forms (see quartz_test.go).

// cronSchedule is a compiled cron expression in a time zone.
type cronSchedule struct {
	loc *time.Location
	// branches select the wall-clock times; a time matches if it matches
	// any branch. There are two when both day fields are restricted (Vixie
	// cron), none when no date can ever match (February 30).
	branches []*branch
	// everyHour is set when the hour field covers every hour.
	everyHour bool
}

// branch is one day selection of an expression, with the other fields.
type branch struct {
	second, minute, hour, month uint64
	years                       *yearSet
	day                         daySpec
}

const allHours = 1<<24 - 1

// Bounds of the wall-clock times searched, in Unix seconds.
const (
	minSeconds int64 = 0             // 1970-01-01
	maxSeconds int64 = 9_000_000_000 // 2255-03-14
)

// maxRounds bounds the segments one search visits: a search jumps to the
// segment of the next matching wall-clock time, so it needs a few.
const maxRounds = 10000

func newCronSchedule(c *cronExpr, loc *time.Location) *cronSchedule {
	s := &cronSchedule{loc: loc, everyHour: c.hour == allHours}
	var days []daySpec
	switch {
	case c.domRestricted && c.dowRestricted:
		days = []daySpec{c.dom, c.dow}
	case c.dowRestricted:
		days = []daySpec{c.dow}
	default:
		days = []daySpec{c.dom}
	}
	for _, d := range days {
		b := &branch{second: c.second, minute: c.minute, hour: c.hour, month: c.month, years: c.years, day: d}
		// A branch that no date matches (February 30) is left out: its
		// search would run to the end of time.
		if b.feasible() {
			s.branches = append(s.branches, b)
		}
	}
	return s
}

// next returns the first fire time after a, in Unix seconds.
func (s *cronSchedule) next(a int64) (int64, bool) {
	if len(s.branches) == 0 {
		return 0, false
	}
	if a < minSeconds-1 {
		a = minSeconds - 1
	}
	// Each round moves a to the end of a segment or further; the bound on
	// rounds only guards against a zone that misreports its segments.
	for range maxRounds {
		if a >= maxSeconds {
			return 0, false
		}
		seg := segmentAt(s.loc, a+1)
		var (
			best  int64
			found bool
		)
		// Instants of this segment whose wall-clock time matches. When
		// the segment begins by repeating wall-clock times, their first
		// occurrences were in the previous segment.
		from := max(a+1, seg.start)
		if !s.everyHour && seg.prevOff > seg.off {
			from = max(from, seg.start+seg.prevOff-seg.off)
		}
		lo, hi := from+seg.off, seg.end+seg.off
		w, ok := s.nextWall(lo)
		if ok && w < hi {
			best, found = w-seg.off, true
		}
		// Wall-clock times skipped by the gap that opens this segment,
		// shifted forward by the gap.
		if !s.everyHour && seg.prevOff < seg.off {
			glo, ghi := max(a+1, seg.start)+seg.prevOff, seg.start+seg.off
			if glo < ghi {
				if g, gok := s.nextWall(glo); gok && g < ghi && (!found || g-seg.prevOff < best) {
					best, found = g-seg.prevOff, true
				}
			}
		}
		if found {
			return best, true
		}
		if seg.end >= maxSeconds {
			return 0, false
		}
		if !ok {
			// No wall-clock time from lo on matches. Only the repeated
			// hour after a fall-back can still bring an earlier one.
			if !s.everyHour || seg.end+offsetAt(s.loc, seg.end) >= lo {
				return 0, false
			}
			a = seg.end - 1
			continue
		}
		// Move on to the segment of w. Offsets differ by far less than
		// three days, so no instant before w-off-72h reads w or later.
		a = max(seg.end, w-seg.off-72*3600) - 1
	}
	return 0, false
}

// nextWall returns the first wall-clock time at or after w that matches.
func (s *cronSchedule) nextWall(w int64) (int64, bool) {
	var (
		best  int64
		found bool
	)
	for _, b := range s.branches {
		if n, ok := b.next(w - 1); ok && (!found || n < best) {
			best, found = n, true
		}
	}
	return best, found
}

// next returns the first wall-clock time after w that matches the branch.
// It moves field by field, from the year down to the second: a field that
// cannot match from where the search stands sends it to the start of the
// next value of the field above.
func (b *branch) next(w int64) (int64, bool) {
	if w+1 >= maxSeconds {
		return 0, false
	}
	t := time.Unix(w+1, 0).UTC()
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	// Each round either returns or moves to a later day, month or year;
	// a feasible branch matches a day within 28 years.
	for {
		if y > maxYear {
			return 0, false
		}
		if !b.years.has(y) {
			ny, ok := b.years.next(y)
			if !ok {
				return 0, false
			}
			y, m, d, hh, mm, ss = ny, time.January, 1, 0, 0, 0
		}
		nm, ok := nextBit(b.month, int(m))
		if !ok {
			y, m, d, hh, mm, ss = y+1, time.January, 1, 0, 0, 0
			continue
		}
		if time.Month(nm) != m {
			m, d, hh, mm, ss = time.Month(nm), 1, 0, 0, 0
		}
		nd, ok := b.day.next(y, m, d)
		if !ok {
			y, m, d, hh, mm, ss = nextMonth(y, m)
			continue
		}
		if nd != d {
			d, hh, mm, ss = nd, 0, 0, 0
		}
		if ok = b.clock(&hh, &mm, &ss); !ok {
			y, m, d, hh, mm, ss = nextDay(y, m, d)
			continue
		}
		r := time.Date(y, m, d, hh, mm, ss, 0, time.UTC).Unix()
		if r >= maxSeconds {
			return 0, false
		}
		return r, true
	}
}

// clock moves hh:mm:ss to the first time of day at or after it that
// matches the branch's hour, minute and second fields; false when none is
// left in the day.
func (b *branch) clock(hh, mm, ss *int) bool {
	for *hh < 24 {
		h, ok := nextBit(b.hour, *hh)
		if !ok {
			return false
		}
		if h != *hh {
			*hh, *mm, *ss = h, 0, 0
		}
		for *mm < 60 {
			mi, ok := nextBit(b.minute, *mm)
			if !ok {
				break
			}
			if mi != *mm {
				*mm, *ss = mi, 0
			}
			if s, ok := nextBit(b.second, *ss); ok {
				*ss = s
				return true
			}
			*mm, *ss = *mm+1, 0
		}
		*hh, *mm, *ss = *hh+1, 0, 0
	}
	return false
}

// nextBit returns the smallest value in set at or above from.
func nextBit(set uint64, from int) (int, bool) {
	if from > 63 {
		return 0, false
	}
	rest := set >> from
	if rest == 0 {
		return 0, false
	}
	return from + bits.TrailingZeros64(rest), true
}

// nextMonth returns the start of the month after month m of year y.
func nextMonth(y int, m time.Month) (int, time.Month, int, int, int, int) {
	if m == time.December {
		return y + 1, time.January, 1, 0, 0, 0
	}
	return y, m + 1, 1, 0, 0, 0
}

// nextDay returns the start of the day after day d of month m of year y.
func nextDay(y int, m time.Month, d int) (int, time.Month, int, int, int, int) {
	if d >= daysIn(y, m) {
		return nextMonth(y, m)
	}
	return y, m, d + 1, 0, 0, 0
}

// next returns the first day from d on, within month m of year y, that s
// selects.
func (s *daySpec) next(y int, m time.Month, d int) (int, bool) {
	last := daysIn(y, m)
	if d > last {
		return 0, false
	}
	switch s.kind {
	case dayAll:
		return d, true
	case dayOfMonth:
		n, ok := nextBit(s.days, d)
		return n, ok && n <= last
	case dayOfWeek:
		wd := int(weekday(y, m, d))
		for k := range 7 {
			if s.days&(1<<((wd+k)%7)) != 0 {
				return d + k, d+k <= last
			}
		}
		return 0, false
	default:
		sd, ok := s.dayIn(y, m)
		return sd, ok && sd >= d
	}
}

// match reports whether wall-clock time w matches the branch.
func (b *branch) match(w int64) bool {
	t := time.Unix(w, 0).UTC()
	y, m, d := t.Date()
	hh, mm, ss := t.Clock()
	return b.second&(1<<ss) != 0 && b.minute&(1<<mm) != 0 && b.hour&(1<<hh) != 0 &&
		b.month&(1<<m) != 0 && b.years.has(y) && b.day.match(y, m, d, t.Weekday())
}

// feasible reports whether some date matches the branch. Only day
// selections that some months lack need a look at the calendar.
func (b *branch) feasible() bool {
	switch b.day.kind {
	case dayOfMonth:
		if b.day.days&(1<<29-2) != 0 { // a day from 1 to 28
			return true
		}
	case dayLast:
		if b.day.n <= 27 {
			return true
		}
	case dayNthWeekday:
		if b.day.n <= 4 {
			return true
		}
	default:
		return true
	}
	// Without a year field, the 28 years from 2000 hold every calendar.
	first, last := 2000, 2027
	if b.years != nil {
		first, last = yearMin, yearMax
	}
	for y := first; y <= last; y++ {
		if !b.years.has(y) {
			continue
		}
		for m := time.January; m <= time.December; m++ {
			if b.month&(1<<m) == 0 {
				continue
			}
			for d := 1; d <= daysIn(y, m); d++ {
				if b.day.match(y, m, d, weekday(y, m, d)) {
					return true
				}
			}
		}
	}
	return false
}

// match reports whether the day d of month m of year y, a wd, is selected.
func (s *daySpec) match(y int, m time.Month, d int, wd time.Weekday) bool {
	switch s.kind {
	case dayAll:
		return true
	case dayOfMonth:
		return s.days&(1<<d) != 0
	case dayOfWeek:
		return s.days&(1<<wd) != 0
	default:
		sd, ok := s.dayIn(y, m)
		return ok && d == sd
	}
}

// dayIn returns the day a once selection picks in month m of year y; ok is
// false when the month has none.
func (s *daySpec) dayIn(y int, m time.Month) (day int, ok bool) {
	last := daysIn(y, m)
	switch s.kind {
	case dayLast:
		day = last - s.n
	case dayNearWeekday:
		day = nearestWeekday(y, m, s.n)
	case dayLastWeekday:
		day = nearestWeekday(y, m, last)
	case dayNthWeekday:
		first := 1 + (int(s.wd)-int(weekday(y, m, 1))+7)%7
		day = first + 7*(s.n-1)
	case dayLastOfWeek:
		day = last - (int(weekday(y, m, last))-int(s.wd)+7)%7
	}
	return day, day >= 1 && day <= last
}

// nearestWeekday returns the weekday (Monday to Friday) nearest to day n of
// a month, within the month; a day past the month's end means its last day.
func nearestWeekday(y int, m time.Month, n int) int {
	last := daysIn(y, m)
	n = min(n, last)
	switch weekday(y, m, n) {
	case time.Saturday:
		if n > 1 {
			return n - 1
		}
		return n + 2
	case time.Sunday:
		if n < last {
			return n + 1
		}
		return n - 2
	}
	return n
}

func daysIn(y int, m time.Month) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func weekday(y int, m time.Month, d int) time.Weekday {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()
}
