package plugins

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/heraldhq/herald/internal/gopool"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
)

// A session is one long-lived AgentService.Session stream between the host
// and a plugin process that carries every run of the plugin's agents: the
// host sends a start command per run, under an id of the session, and a
// cancel command when the run's context ends first; the plugin answers with
// the run's progress and then its result or error, under the same id. It
// spares each run the set-up of its own gRPC stream (HTTP/2 headers, TLS
// records, goroutines on both sides), and the commands and events of
// concurrent runs travel together, many to a gRPC message. Plugins that do
// not offer sessions in Describe (those written before them, or in other
// languages) are called with AgentService.Run, one stream per run.
//
// The plugin's side is server.Session; the host's is session, which
// agentProxy uses.

// sessionStream is the host's end of a Session stream.
type sessionStream = grpc.BidiStreamingClient[pluginpb.SessionRequest, pluginpb.SessionResponse]

// Session serves runs over one stream until the host closes it; see the
// protocol. Each run has its own goroutine and context, which ends with a
// cancel command, with the run's timeout, or when the stream ends: Session
// then cancels every run still going. (A run's context is not a child of
// the stream's, whose lock every start and end would take.)
func (s *server) Session(stream grpc.BidiStreamingServer[pluginpb.SessionRequest, pluginpb.SessionResponse]) error {
	base := context.WithoutCancel(stream.Context())
	out := newSendQueue(func(evs []*pluginpb.SessionEvent) error {
		return stream.Send(&pluginpb.SessionResponse{Events: evs})
	}, sizeOf[*pluginpb.SessionEvent])
	// A run's goroutine grows its stack as deep as gRPC and protobuf go:
	// reused, it does so once.
	workers := gopool.New()
	var (
		mu   sync.Mutex
		runs = map[uint64]context.CancelFunc{}
	)
	// Send must not be called once Session returned: end the runs, then
	// the queue.
	defer out.close()
	defer workers.Wait()
	defer func() {
		workers.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, cancel := range runs {
			cancel()
		}
	}()
	// command carries out one command: it starts a run on a worker, which
	// queues the run's events on out, or cancels a run.
	command := func(c *pluginpb.SessionCommand) {
		id := c.GetId()
		switch f := c.GetCommand().(type) {
		case *pluginpb.SessionCommand_Start:
			var runCtx context.Context
			var cancel context.CancelFunc
			if t := f.Start.GetTimeout(); t != nil {
				runCtx, cancel = context.WithTimeout(base, t.AsDuration())
			} else {
				runCtx, cancel = context.WithCancel(base)
			}
			mu.Lock()
			runs[id] = cancel
			mu.Unlock()
			workers.Go(func() {
				defer func() {
					mu.Lock()
					delete(runs, id)
					mu.Unlock()
					cancel()
				}()
				// A failed send means the stream broke, which ends the run.
				_ = s.run(runCtx, f.Start.GetRun(), func(ev *pluginpb.RunEvent) error {
					return out.push(&pluginpb.SessionEvent{Id: id, Event: ev})
				})
			})
		case *pluginpb.SessionCommand_Cancel:
			mu.Lock()
			cancel := runs[id]
			mu.Unlock()
			if cancel != nil {
				cancel()
			}
		}
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range req.GetCommands() {
			command(c)
		}
	}
}

// sizeOf is the wire size of m.
func sizeOf[M proto.Message](m M) int { return proto.Size(m) }

// session is the host's side of one Session stream: it sends the commands
// of the runs in flight and hands each run the events the plugin sends
// back for it. It is safe for concurrent use.
type session struct {
	stream sessionStream
	end    context.CancelFunc // ends the stream
	out    *sendQueue[*pluginpb.SessionCommand]

	mu    sync.Mutex
	next  uint64                 // the id of the last run started
	calls map[uint64]*sessionRun // the runs in flight, by id
	err   error                  // why the stream broke; then calls is empty
}

// sessionRun is one run in flight on a session: a mailbox of the events
// the plugin sent for it, which its caller takes in order. The session
// never waits for a caller, so a slow progress reporter holds up only its
// own run.
type sessionRun struct {
	id   uint64
	wake chan struct{} // a buffer of one: events or err arrived

	mu     sync.Mutex
	events []*pluginpb.RunEvent
	err    error // the stream broke before the run's last event
}

// openSession opens a Session stream on agents and starts reading it.
func openSession(agents pluginpb.AgentServiceClient) (*session, error) {
	ctx, end := context.WithCancel(context.Background())
	stream, err := agents.Session(ctx)
	if err != nil {
		end()
		return nil, err
	}
	s := &session{stream: stream, end: end, calls: map[uint64]*sessionRun{}}
	s.out = newSendQueue(func(cmds []*pluginpb.SessionCommand) error {
		err := stream.Send(&pluginpb.SessionRequest{Commands: cmds})
		if err != nil {
			// Send fails once the stream broke; make sure recv sees it.
			end()
		}
		return err
	}, sizeOf[*pluginpb.SessionCommand])
	go s.recv()
	return s, nil
}

// start sends the start command of req and returns its run. A run whose ctx
// has a deadline carries it as a timeout, which the plugin enforces.
func (s *session) start(ctx context.Context, req *pluginpb.RunRequest) (*sessionRun, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	s.next++
	r := &sessionRun{id: s.next, wake: make(chan struct{}, 1)}
	s.calls[r.id] = r
	s.mu.Unlock()
	start := &pluginpb.SessionStart{Run: req}
	if dl, ok := ctx.Deadline(); ok {
		start.Timeout = durationpb.New(max(0, time.Until(dl)))
	}
	if err := s.send(&pluginpb.SessionCommand{Id: r.id, Command: &pluginpb.SessionCommand_Start{Start: start}}); err != nil {
		s.forget(r)
		return nil, err
	}
	return r, nil
}

// cancel tells the plugin to cancel r, unless r has ended already. Its
// caller gives up on r: events that still come for r are dropped.
func (s *session) cancel(r *sessionRun) {
	if !s.forget(r) {
		return
	}
	// When the send fails the stream is broken, and the plugin's run ended
	// with it.
	_ = s.send(&pluginpb.SessionCommand{Id: r.id, Command: &pluginpb.SessionCommand_Cancel{Cancel: &pluginpb.SessionCancel{}}})
}

// forget removes r from the runs in flight, and reports whether it was one.
func (s *session) forget(r *sessionRun) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.calls[r.id]
	delete(s.calls, r.id)
	return ok
}

// send queues one command; it never blocks. The queue's goroutine sends
// it, with the other commands queued by then, in one message. That
// goroutine blocks only when the plugin stops reading and HTTP/2 flow
// control runs out; a plugin that stops reading fails its health check and
// is restarted, which ends the stream.
func (s *session) send(c *pluginpb.SessionCommand) error {
	return s.out.push(c)
}

// recv hands the plugin's events to their runs until the stream breaks,
// and then fails every run still in flight.
func (s *session) recv() {
	for {
		resp, err := s.stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = status.Error(codes.Unavailable, "the plugin ended the session")
			}
			s.fail(err)
			s.out.close()
			return
		}
		for _, ev := range resp.GetEvents() {
			s.deliver(ev)
		}
	}
}

// deliver hands ev to its run, unless the run ended or was cancelled.
func (s *session) deliver(ev *pluginpb.SessionEvent) {
	last := ev.GetEvent().GetProgress() == nil
	s.mu.Lock()
	r := s.calls[ev.GetId()]
	if last {
		delete(s.calls, ev.GetId())
	}
	s.mu.Unlock()
	if r != nil {
		r.mu.Lock()
		r.events = append(r.events, ev.GetEvent())
		r.mu.Unlock()
		r.notify()
	}
}

// fail records that the stream broke with err, and fails every run in
// flight with it.
func (s *session) fail(err error) {
	s.end()
	s.mu.Lock()
	s.err = err
	calls := s.calls
	s.calls = map[uint64]*sessionRun{}
	s.mu.Unlock()
	for _, r := range calls {
		r.mu.Lock()
		r.err = err
		r.mu.Unlock()
		r.notify()
	}
}

// broken reports whether the stream broke.
func (s *session) broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// close ends the stream; the runs in flight fail with a cancellation,
// which the supervisor reports as ErrUnavailable.
func (s *session) close() { s.end() }

// notify wakes r's caller.
func (r *sessionRun) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take returns the events that arrived for r since the last take, and the
// stream's error once they are all taken.
func (r *sessionRun) take() ([]*pluginpb.RunEvent, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	if len(evs) > 0 {
		return evs, nil
	}
	return nil, r.err
}
