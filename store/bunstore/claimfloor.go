package bunstore

import (
	"sync"
	"time"
)

// claimFloorFor is how long claims on PostgreSQL may start their scan at
// the floor before one scans from the start again (claimFloor).
const claimFloorFor = time.Second

// claimFloor is where a claim on PostgreSQL starts its walk of the due
// runs (herald_runs_due_idx, in RunAt order): at the oldest RunAt the
// store's previous claim took, rather than at the index's start.
//
// Why: a claimed run leaves its entry in that index until VACUUM removes
// it, and new runs enter it at the end, so its start fills with the
// entries of every run claimed since the last VACUUM. A claim from the
// start walks all of them (PostgreSQL skips each one marked dead, but
// reads its page). With autovacuum off, or on a table whose history makes
// its thresholds large, that was a quarter of the claim's time over an
// 80,000-run round of the bench harness.
//
// Why it is sound: a claim takes the oldest due runs it can lock, so when
// it took a run due at T, every due run before T that it could see was
// taken or locked by another claimer. What it could not see appears only
// through a write that makes a run due: an insert, a requeue, a rescue, a
// held run let go. Each of those sends TopicRunDue once it has committed,
// and the store lowers the floor when it publishes or receives one: to
// the oldest RunAt the write made due when the write knew it (a plain
// enqueue, of this process or another: the notification carries it),
// else to none, so that the next claim starts from the beginning. A claim
// under way meanwhile sets no floor from what it saw (gen). What no
// notification covers (a notification lost, a run another claimer had
// locked and then gave back) waits at most claimFloorFor: every claim
// scans from the start once that long has passed since the last one that
// did.
type claimFloor struct {
	// span is claimFloorFor, but in tests that must not depend on how
	// fast the machine runs them (zero: claimFloorFor).
	span time.Duration

	mu sync.Mutex
	at time.Time // the floor; zero: none
	// fullAt is when the last claim that scanned from the start began.
	fullAt time.Time
	// gen counts the lowerings: a claim sets the floor only when none
	// happened while it was under way.
	gen uint64
}

// begin returns the floor a claim starting now uses (nil: from the
// start, which it records as the last scan from the start), and the count
// of lowerings end needs.
func (f *claimFloor) begin(now time.Time) (floor any, gen uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	span := f.span
	if span == 0 {
		span = claimFloorFor
	}
	if f.at.IsZero() || now.Sub(f.fullAt) >= span {
		f.fullAt = now
		return nil, f.gen
	}
	return f.at, f.gen
}

// end records a claim that began with gen (begin's) and took runs whose
// oldest RunAt is oldest (zero when it took none).
func (f *claimFloor) end(gen uint64, oldest time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gen == f.gen && !oldest.IsZero() {
		f.at = oldest
	}
}

// lower makes the floor no later than from, before which no run became
// due: a zero from (not known) makes the next claim scan from the start.
// A claim under way sets no floor from what it saw, which may not hold the
// runs that became due.
func (f *claimFloor) lower(from time.Time) {
	f.mu.Lock()
	f.gen++
	if from.IsZero() || (!f.at.IsZero() && from.Before(f.at)) {
		f.at = from
	}
	f.mu.Unlock()
}

// oldestRunAt is the oldest RunAt of rows, zero when there are none or
// one's is zero (not known).
func oldestRunAt(rows []runRow) time.Time {
	var oldest time.Time
	for i := range rows {
		if i == 0 || rows[i].RunAt.Before(oldest) {
			oldest = rows[i].RunAt
		}
	}
	return oldest
}
