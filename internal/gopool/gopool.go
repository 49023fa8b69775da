// Package gopool runs short-lived jobs on goroutines it keeps for reuse.
//
// A job that runs deep (through gRPC and protobuf, a database driver, an
// agent's own code) grows its goroutine's stack as deep as it goes; a
// fresh goroutine per job grows (copies) its stack again every time,
// which costs a short job a good part of its time. A Pool hands each job
// to an idle goroutine of its own when there is one, and starts one
// otherwise; a goroutine idle for a second exits.
package gopool

import (
	"sync"
	"time"
)

// idleFor is how long a Pool keeps an idle goroutine.
const idleFor = time.Second

// A Pool runs jobs on goroutines it reuses. The zero value is not usable;
// make one with New. It is safe for concurrent use.
type Pool struct {
	jobs     chan func() // unbuffered: a send succeeds only into an idle goroutine
	stop     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// New returns an empty Pool.
func New() *Pool {
	return &Pool{jobs: make(chan func()), stop: make(chan struct{})}
}

// Go runs job on an idle goroutine of p, or on a new one. It never
// blocks. Go must not be called after Close.
func (p *Pool) Go(job func()) {
	select {
	case p.jobs <- job:
	default:
		p.wg.Go(func() { p.work(job) })
	}
}

// Close makes p's idle goroutines exit, and each busy one exit when its
// job returns. It does not wait; Wait does.
func (p *Pool) Close() { p.stopOnce.Do(func() { close(p.stop) }) }

// Wait waits until every goroutine of p has exited, which they do once p
// is closed and their jobs have returned.
func (p *Pool) Wait() { p.wg.Wait() }

// work runs job, and then the jobs handed to it while idle.
func (p *Pool) work(job func()) {
	idle := time.NewTimer(idleFor)
	defer idle.Stop()
	for {
		job()
		idle.Reset(idleFor)
		select {
		case job = <-p.jobs:
		case <-idle.C:
			return
		case <-p.stop:
			return
		}
	}
}
