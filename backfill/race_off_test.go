//go:build !race

package backfill_test

// raceEnabled tells whether the race detector is on (it slows the helper
// processes of TestKill9 down tenfold).
const raceEnabled = false
