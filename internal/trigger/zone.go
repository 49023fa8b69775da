package trigger

import "time"

// segment is a stretch of time over which a zone keeps one UTC offset, so
// that wall-clock time there is the instant plus off.
type segment struct {
	// start and end bound the segment, [start, end), in Unix seconds;
	// farPast and farFuture stand for no bound.
	start, end int64
	// off is the segment's UTC offset in seconds, prevOff the offset of the
	// segment before it (off when there is none).
	off, prevOff int64
}

// Stand-ins for the unbounded ends of a segment: far enough for any
// search, near enough that adding an offset cannot overflow.
const (
	farPast   int64 = -1 << 62
	farFuture int64 = 1 << 62
)

// segmentAt returns the segment of loc that holds instant i (Unix seconds).
func segmentAt(loc *time.Location, i int64) segment {
	if loc == time.UTC {
		return segment{start: farPast, end: farFuture}
	}
	t := time.Unix(i, 0).In(loc)
	_, off := t.Zone()
	seg := segment{start: farPast, end: farFuture, off: int64(off), prevOff: int64(off)}
	start, end := t.ZoneBounds()
	if !start.IsZero() {
		seg.start = start.Unix()
		seg.prevOff = offsetAt(loc, seg.start-1)
	}
	if !end.IsZero() {
		seg.end = end.Unix()
	}
	if seg.end <= i {
		// Past the zone's last listed transition, Go derives the bounds
		// from the zone's rule year by year, and ends each year after 365
		// days: on the last day of a leap year the bound lies behind i.
		// The true end is found from the next day on.
		seg.end = nextChange(loc, i, seg.off)
	}
	return seg
}

// nextChange returns the first instant after i at which loc's offset is no
// longer off, or farFuture.
func nextChange(loc *time.Location, i, off int64) int64 {
	const day = 24 * 60 * 60
	if offsetAt(loc, i+day) == off {
		_, end := time.Unix(i+day, 0).In(loc).ZoneBounds()
		if end.IsZero() {
			return farFuture
		}
		if e := end.Unix(); e > i+day {
			return e
		}
		return nextChange(loc, i+day, off)
	}
	lo, hi := i, i+day // the offset is off at lo and differs at hi
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if offsetAt(loc, mid) == off {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// offsetAt returns the UTC offset of loc at instant i, in seconds.
func offsetAt(loc *time.Location, i int64) int64 {
	_, off := time.Unix(i, 0).In(loc).Zone()
	return int64(off)
}
