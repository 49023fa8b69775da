package bunstore

import "sync"

// The claim, the finish and the plain enqueue each read or write a batch
// of runs through a []runRow that lives for one call: about half a
// kilobyte a run, so half a megabyte for a batch of a thousand. Allocated
// anew, such a buffer is a large object that the runtime zeroes, hands
// back to the operating system once collected, and faults in again for
// the next call. In a process claiming and finishing runs on PostgreSQL
// under load, zeroing and handing back memory took a tenth of the CPU;
// keeping the buffers for the next call instead halved that. A buffer in
// the pool is all zero values, so that it holds no strings of the runs it
// carried and a taken buffer reads as new.
var runRowBufs sync.Pool // of *[]runRow

// takeRunRows returns an empty []runRow with room for n runs, from the
// pool when it holds one large enough. Give it back with giveRunRows once
// nothing refers to its runs.
func takeRunRows(n int) []runRow {
	if p, ok := runRowBufs.Get().(*[]runRow); ok {
		if cap(*p) >= n {
			return (*p)[:0]
		}
		runRowBufs.Put(p)
	}
	return make([]runRow, 0, n)
}

// giveRunRows returns rows, whose runs the caller no longer reads, to the
// pool. Only rows[:len(rows)] were written since it was taken (appends and
// scans write in order), so clearing that much makes it all zero again.
func giveRunRows(rows []runRow) {
	if cap(rows) == 0 || cap(rows) > runRowBufMax {
		return
	}
	clear(rows)
	rows = rows[:0]
	runRowBufs.Put(&rows)
}

// runRowBufMax is the largest buffer kept, in runs: a batch bigger than
// any claim or finish the scheduler makes is rare enough to allocate.
const runRowBufMax = 4096
