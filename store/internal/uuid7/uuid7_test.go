package uuid7

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

var t0 = time.Date(2030, 3, 4, 5, 6, 7, 123456789, time.UTC)

func TestNewIsAUUIDv7OfItsTime(t *testing.T) {
	var g Generator
	for _, at := range []time.Time{t0, t0.Add(time.Microsecond), time.UnixMilli(0).UTC(), time.Date(2200, 1, 1, 0, 0, 0, 999999000, time.UTC)} {
		s := g.New(at)
		id, err := uuid.Parse(s)
		if err != nil {
			t.Fatalf("New(%v) = %q: %v", at, s, err)
		}
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Errorf("New(%v) = %q: version %d, variant %v; want 7, RFC 4122", at, s, id.Version(), id.Variant())
		}
		if got := time.Unix(id.Time().UnixTime()); got.UnixMilli() != at.UnixMilli() {
			t.Errorf("New(%v) = %q carries %v, want its millisecond", at, s, got)
		}
		if s != id.String() {
			t.Errorf("New(%v) = %q, want the canonical form %q", at, s, id.String())
		}
	}
}

func TestFloorBoundsAMillisecond(t *testing.T) {
	var g Generator
	cases := []struct {
		name string
		at   time.Time
	}{
		{"start of a millisecond", t0.Truncate(time.Millisecond)},
		{"inside", t0},
		{"last microsecond", t0.Truncate(time.Millisecond).Add(999 * time.Microsecond)},
	}
	for _, tc := range cases {
		for range 100 {
			id := g.New(tc.at)
			if lo := Floor(tc.at); id < lo {
				t.Fatalf("%s: New = %s < Floor = %s", tc.name, id, lo)
			}
			if hi := Floor(tc.at.Add(time.Millisecond)); id >= hi {
				t.Fatalf("%s: New = %s >= Floor of the next millisecond = %s", tc.name, id, hi)
			}
		}
	}
	if got := Floor(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)); got != Min {
		t.Errorf("Floor of 1900 = %s, want Min", got)
	}
	if got := Floor(time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)); got != Max {
		t.Errorf("Floor of the year 12000 = %s, want Max", got)
	}
	if Floor(t0) <= Min || Floor(t0) >= Max {
		t.Errorf("Floor(%v) = %s is not between Min and Max", t0, Floor(t0))
	}
	if _, err := uuid.Parse(Floor(t0)); err != nil {
		t.Errorf("Floor(%v) = %s: %v", t0, Floor(t0), err)
	}
}

func TestOneGeneratorIncreasesWhileTimeDoesNotGoBack(t *testing.T) {
	var g Generator
	last := ""
	at := t0
	for i := range 10000 {
		if i%1000 == 999 {
			at = at.Add(time.Microsecond) // a later microsecond of the same millisecond
		}
		id := g.New(at)
		if id <= last {
			t.Fatalf("identifier %d = %s, not above the last %s", i, id, last)
		}
		last = id
	}
	if next := g.New(at.Add(-time.Microsecond)); next <= last {
		t.Errorf("an earlier microsecond of the same millisecond: %s, want above %s", next, last)
	}
}

func TestGeneratorsOrderByMicrosecond(t *testing.T) {
	for range 100 {
		var a, b Generator
		early, late := a.New(t0), b.New(t0.Add(time.Microsecond))
		if early >= late {
			t.Fatalf("identifier of %v = %s, not below that of a microsecond later %s", t0, early, late)
		}
	}
}

func TestTimeGoingBackMakesSmallerIdentifiers(t *testing.T) {
	var g Generator
	now := g.New(t0)
	if before := g.New(t0.Add(-time.Hour)); before >= now {
		t.Errorf("identifier of an hour earlier = %s, want below %s", before, now)
	}
}
