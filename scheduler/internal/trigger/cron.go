package trigger

import (
	"fmt"
	"strings"
	"time"

	"github.com/reugn/go-quartz/quartz"
)

// How a cron trigger finds its fire times.
//
// go-quartz's CronTrigger does the calendar search: given a wall-clock time
// it finds the next wall-clock time that matches the expression. It is given
// wall-clock times read as UTC, so that it never meets a daylight-saving
// change. This file maps those wall-clock times to instants in the trigger's
// zone, with Herald's fixed semantics:
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
// go-quartz in the zone itself gets these cases wrong (see quartz_test.go):
// it fires a skipped 02:30 at 01:30, expires after the first time it meets a
// gap or a repeated hour, and skips the second pass of a repeated hour.
//
// Even on the wall clock, go-quartz has calendar slips: it reads a day past
// the month's end as a day of the next month (February 30 becomes March 2);
// searching days of the week under a restricted month field, it enters a
// month at the day-of-month it had reached in the month before, skipping
// the matching days before it; and its L, W and # day forms skip fire
// times. So each of its answers is checked here: the search resumes at the
// start of the next month after a misread date and at the first day passed,
// and the L, W and # days, at most one a month, are computed here while
// go-quartz searches the other fields.

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

// branch is one day selection of an expression, with the go-quartz trigger
// that searches it.
type branch struct {
	quartz                      *quartz.CronTrigger
	expr                        string // the go-quartz expression
	second, minute, hour, month uint64
	years                       *yearSet
	day                         daySpec
}

const allHours = 1<<24 - 1

// Bounds of the wall-clock times searched, in Unix seconds. go-quartz works
// in Unix nanoseconds, which end in 2262.
const (
	minSeconds int64 = 0             // 1970-01-01
	maxSeconds int64 = 9_000_000_000 // 2255-03-14
)

// maxRounds bounds the segments one search visits: a search jumps to the
// segment of the next matching wall-clock time, so it needs a few.
const maxRounds = 10000

// maxRetries bounds the go-quartz calls of one branch search. A search needs
// more than one only after go-quartz misread an impossible date, which
// happens at most a few times in a row for a feasible branch.
const maxRetries = 1000

func newCronSchedule(c *cronExpr, loc *time.Location) (*cronSchedule, error) {
	s := &cronSchedule{loc: loc, everyHour: c.hour == allHours}
	type side struct {
		day      daySpec
		dom, dow string
	}
	var sides []side
	switch {
	case c.domRestricted && c.dowRestricted:
		sides = []side{{c.dom, c.quartzDOM, "?"}, {c.dow, "?", c.quartzDOW}}
	case c.dowRestricted:
		sides = []side{{c.dow, "?", c.quartzDOW}}
	default:
		sides = []side{{c.dom, c.quartzDOM, "?"}}
	}
	for _, sd := range sides {
		b := &branch{second: c.second, minute: c.minute, hour: c.hour, month: c.month, years: c.years, day: sd.day}
		expr := strings.Join([]string{
			quartzList(c.second, 0, 59), quartzList(c.minute, 0, 59), quartzList(c.hour, 0, 23),
			sd.dom, quartzList(c.month, 1, 12), sd.dow, c.years.quartzList(),
		}, " ")
		q, err := quartz.NewCronTriggerWithLoc(expr, time.UTC)
		if err != nil {
			return nil, cronError("go-quartz refused it as %q: %v", expr, err)
		}
		b.quartz, b.expr = q, expr
		// A branch that no date matches (February 30) is left out:
		// searching it would only run through the retries.
		if b.feasible() {
			s.branches = append(s.branches, b)
		}
	}
	return s, nil
}

// quartzList writes a bit set of values from lo to hi as a go-quartz field.
func quartzList(set uint64, lo, hi int) string {
	if full := uint64(1)<<(hi+1) - 1<<lo; set&full == full {
		return "*"
	}
	return joinBits(set, 0)
}

// quartzList writes the year field.
func (s *yearSet) quartzList() string {
	if s == nil {
		return "*"
	}
	var b strings.Builder
	for y := yearMin; y <= yearMax; y++ {
		if s.has(y) {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, y)
		}
	}
	return b.String()
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
func (b *branch) next(w int64) (int64, bool) {
	for range maxRetries {
		if w >= maxSeconds {
			return 0, false
		}
		ns, err := b.quartz.NextFireTime(w * int64(time.Second))
		if err != nil {
			return 0, false // the years of the expression are over
		}
		r := ns / int64(time.Second)
		if r <= w {
			return 0, false
		}
		var done bool
		if w, done = b.check(w, r); done {
			return w, true
		}
	}
	return 0, false
}

// check takes go-quartz's answer r to a search after w. It returns the
// branch's next time and true, or a new point to search after and false.
func (b *branch) check(w, r int64) (int64, bool) {
	y, m, d := time.Unix(r, 0).UTC().Date()
	switch {
	case b.day.kind == dayOfWeek:
		// With a restricted month field, go-quartz enters a month at the
		// day it had reached in the month before, passing the matching
		// days before it. Resume at the first one it passed.
		from := 1
		if wy, wm, wd := time.Unix(w, 0).UTC().Date(); wy == y && wm == m {
			from = wd + 1
		}
		wd := weekday(y, m, from)
		for dd := from; dd < d; dd++ {
			if b.day.days&(1<<wd) != 0 {
				return startOfDay(y, m, dd) - 1, false
			}
			wd = (wd + 1) % 7
		}
	case b.day.once():
		// go-quartz searched any day: go on from the selected day, later
		// in the month, or from the next month.
		sd, ok := b.day.dayIn(y, m)
		switch {
		case ok && sd > d:
			return startOfDay(y, m, sd) - 1, false
		case !ok || sd < d:
			return startOfDay(y, m+1, 1) - 1, false
		}
	}
	if b.match(r) {
		return r, true
	}
	// go-quartz read a day past the end of a month as a day of the next
	// month; nothing matches before the next month begins.
	if ms := startOfDay(y, m, 1); ms > w {
		if b.match(ms) {
			return ms, true
		}
		return ms, false
	}
	return r, false
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

// once reports whether s selects at most one day a month: the L, W and #
// forms.
func (s *daySpec) once() bool {
	return s.kind != dayAll && s.kind != dayOfMonth && s.kind != dayOfWeek
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

// startOfDay returns the wall-clock time (read as UTC) at which day d of
// month m of year y begins; days and months out of range carry over.
func startOfDay(y int, m time.Month, d int) int64 {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix()
}
