package plugins

import (
	"cmp"
	"errors"
	"runtime"
	"sync"
)

// sendQueue sends the messages of one side of a Session from a goroutine
// of its own, batching what was queued meanwhile into one gRPC message.
// Senders only queue: gRPC's SendMsg is not safe for concurrent use, its
// marshalling runs deep enough to grow the stack of every short-lived
// goroutine that calls it (one per run on the host), and each gRPC message
// costs both sides a good deal more than an item of a batch.
type sendQueue[T any] struct {
	send  func([]T) error // sends one batch as one message
	size  func(T) int     // the wire size of an item
	ready chan struct{}   // a buffer of one: items were queued or the queue closed
	done  chan struct{}   // closed when loop returned

	mu     sync.Mutex
	queue  []T
	spare  []T // the last batch sent, reused
	closed bool
	err    error // why loop stopped
}

// Limits of one batch. A gRPC message is at most 4 MiB by default; an item
// larger than sendBatchBytes goes alone.
const (
	sendBatchMax   = 256
	sendBatchBytes = 1 << 20
)

// newSendQueue starts sending with send; size is the wire size of an item.
// Stop it with close.
func newSendQueue[T any](send func([]T) error, size func(T) int) *sendQueue[T] {
	q := &sendQueue[T]{send: send, size: size, ready: make(chan struct{}, 1), done: make(chan struct{})}
	go q.loop()
	return q
}

// push queues m; it fails when sending failed or the queue is closed.
func (q *sendQueue[T]) push(m T) error {
	q.mu.Lock()
	if q.err != nil || q.closed {
		err := cmp.Or(q.err, errClosedQueue)
		q.mu.Unlock()
		return err
	}
	q.queue = append(q.queue, m)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return nil
}

// close stops q once it has sent what it holds, and waits for it. A send
// blocked by flow control holds close up until the stream ends. It is safe
// to call twice.
func (q *sendQueue[T]) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	<-q.done
}

// errClosedQueue is the error of a push to a closed sendQueue.
var errClosedQueue = errors.New("plugins: the stream is closed")

// loop sends the queued items, in batches, until q closes or a send fails.
func (q *sendQueue[T]) loop() {
	defer close(q.done)
	for range q.ready {
		// Let the goroutines that are ready to run queue first: the runs
		// of a claim start together, and their commands (or the events
		// of the runs that end together) then go in one message rather
		// than nearly one message each. When no other goroutine is
		// ready, this costs nothing.
		runtime.Gosched()
		q.mu.Lock()
		queued, closed := q.queue, q.closed
		q.queue = q.spare[:0]
		q.mu.Unlock()
		for rest := queued; len(rest) > 0; {
			n, bytes := 1, q.size(rest[0])
			for n < len(rest) && n < sendBatchMax {
				bytes += q.size(rest[n])
				if bytes > sendBatchBytes {
					break
				}
				n++
			}
			if err := q.send(rest[:n]); err != nil {
				q.stop(err)
				return
			}
			rest = rest[n:]
		}
		clear(queued) // let the items go
		q.mu.Lock()
		q.spare = queued[:0]
		q.mu.Unlock()
		if closed {
			// Nothing was pushed after close.
			q.stop(errClosedQueue)
			return
		}
	}
}

// stop records why q stopped; later pushes fail with err.
func (q *sendQueue[T]) stop(err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil {
		q.err = err
	}
	q.queue = nil
}
