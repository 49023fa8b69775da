package backfill

import (
	"fmt"
	"strings"
	"time"
)

// Message timestamps ("1712345678.000200") are seconds and microseconds;
// they are compared as numbers, whatever their digits' count.

// tsOf is t as a message timestamp.
func tsOf(t time.Time) string {
	if t.IsZero() || t.Unix() < 0 {
		return ""
	}
	return fmt.Sprintf("%d.%06d", t.Unix(), t.Nanosecond()/1000)
}

// compareTS compares two timestamps as numbers; "" is the oldest of all.
func compareTS(a, b string) int {
	switch {
	case a == b:
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	ai, af, _ := strings.Cut(a, ".")
	bi, bf, _ := strings.Cut(b, ".")
	ai, bi = strings.TrimLeft(ai, "0"), strings.TrimLeft(bi, "0")
	if len(ai) != len(bi) {
		if len(ai) < len(bi) {
			return -1
		}
		return 1
	}
	if c := strings.Compare(ai, bi); c != 0 {
		return c
	}
	for len(af) < len(bf) {
		af += "0"
	}
	for len(bf) < len(af) {
		bf += "0"
	}
	return strings.Compare(af, bf)
}

// maxTS is the newer of two timestamps.
func maxTS(a, b string) string {
	if compareTS(a, b) >= 0 {
		return a
	}
	return b
}

// sweep is the state of one pass over a channel's history, newest first,
// kept in the channel's cursor between pages (Cursor.PageCursor): the
// bounds still to read (oldest and latest, both exclusive), and the newest
// message seen, which becomes the channel's Latest when the pass ends.
// Each page is asked for with latest set to the oldest message of the page
// before, so a resumed pass asks Slack for exactly what it had not read,
// with no cursor of Slack's to expire.
type sweep struct {
	oldest, latest, newest string
}

const sweepVersion = "v1"

func (s sweep) encode() string {
	return strings.Join([]string{sweepVersion, orDash(s.oldest), orDash(s.latest), orDash(s.newest)}, " ")
}

func parseSweep(v string) (sweep, bool) {
	f := strings.Fields(v)
	if len(f) != 4 || f[0] != sweepVersion {
		return sweep{}, false
	}
	un := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	return sweep{oldest: un(f[1]), latest: un(f[2]), newest: un(f[3])}, true
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
