package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
	"github.com/heraldhq/herald/plugins/internal/wire"
)

// agentProxy is an agent served by a plugin.
type agentProxy struct {
	sup  *supervisor
	name string
}

var _ agent.Agent = (*agentProxy)(nil)

// Run runs task on the plugin's agent, passing its progress reports on to
// task.Progress as they arrive: over the plugin's session when it offers
// sessions, else with a Run call of its own.
func (p *agentProxy) Run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := p.sup.remote(ctx)
	if err != nil {
		return nil, err
	}
	req := &pluginpb.RunRequest{Agent: p.name, Task: wire.TaskToPB(task)}
	if r.sessions {
		return p.runSession(ctx, r, task, req)
	}
	return p.runStream(ctx, r, task, req)
}

// runSession runs req over r's session.
func (p *agentProxy) runSession(ctx context.Context, r *remote, task *agent.Task, req *pluginpb.RunRequest) (*agent.Result, error) {
	sess, err := r.session()
	if err != nil {
		return nil, p.sup.callError(ctx, p.what(), err)
	}
	run, err := sess.start(ctx, req)
	if err != nil {
		return nil, p.sup.callError(ctx, p.what(), err)
	}
	for {
		select {
		case <-ctx.Done():
			sess.cancel(run)
			return nil, p.sup.callError(ctx, p.what(), ctx.Err())
		case <-run.wake:
		}
		evs, err := run.take()
		if err != nil {
			return nil, p.sup.callError(ctx, p.what(), err)
		}
		for _, ev := range evs {
			res, last, err := p.event(ctx, task, ev)
			if err != nil && !last {
				sess.cancel(run)
			}
			if last || err != nil {
				return res, err
			}
		}
	}
}

// runStream runs req with a Run call of its own.
func (p *agentProxy) runStream(ctx context.Context, r *remote, task *agent.Task, req *pluginpb.RunRequest) (*agent.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := r.agents.Run(ctx, req)
	if err != nil {
		return nil, p.sup.callError(ctx, p.what(), err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("plugins: plugin %q: %s: the plugin ended the call without a result", p.sup.spec.name, p.what())
		}
		if err != nil {
			return nil, p.sup.callError(ctx, p.what(), err)
		}
		res, last, err := p.event(ctx, task, ev)
		if last {
			drain(stream)
		}
		if last || err != nil {
			// A failed progress report cancels the plugin's run.
			return res, err
		}
	}
}

// event handles one event of a run: it passes progress on to task.Progress
// and decodes the result or the error. last says whether the event was the
// run's last; a non-nil error of a progress event means the run is no
// longer ours (its report failed), and the plugin's agent must be stopped.
func (p *agentProxy) event(ctx context.Context, task *agent.Task, ev *pluginpb.RunEvent) (res *agent.Result, last bool, err error) {
	switch ev := ev.GetEvent().(type) {
	case *pluginpb.RunEvent_Progress:
		if task.Progress == nil {
			return nil, false, nil
		}
		if err := task.Progress.Report(ctx, ev.Progress.GetCounters()); err != nil {
			return nil, false, fmt.Errorf("plugins: plugin %q: %s: report progress: %w", p.sup.spec.name, p.what(), err)
		}
		return nil, false, nil
	case *pluginpb.RunEvent_Result:
		return wire.ResultFromPB(ev.Result), true, nil
	case *pluginpb.RunEvent_Error:
		return nil, true, settle(ctx, agentErrors.decode(p.sup.spec.name, ev.Error))
	}
	return nil, true, fmt.Errorf("plugins: plugin %q: %s: the plugin sent an empty event", p.sup.spec.name, p.what())
}

// what names a run of the agent in errors.
func (p *agentProxy) what() string { return fmt.Sprintf("run agent %q", p.name) }

// drain reads the end of a Run stream whose last event arrived, so that the
// call ends with the plugin's status rather than with a cancellation (a
// RST_STREAM the plugin would have to process).
func drain(stream interface {
	Recv() (*pluginpb.RunEvent, error)
}) {
	for {
		if _, err := stream.Recv(); err != nil {
			return
		}
	}
}

// delivererProxy is a deliverer served by a plugin.
type delivererProxy struct {
	sup  *supervisor
	name string
}

var _ delivery.Deliverer = (*delivererProxy)(nil)

// Deliver sends m with the plugin's deliverer.
func (p *delivererProxy) Deliver(ctx context.Context, m *delivery.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r, err := p.sup.remote(ctx)
	if err != nil {
		return err
	}
	resp, err := r.deliverers.Deliver(ctx, &pluginpb.DeliverRequest{Deliverer: p.name, Message: wire.MessageToPB(m)})
	if err != nil {
		return p.sup.callError(ctx, fmt.Sprintf("deliver with %q", p.name), err)
	}
	if e := resp.GetError(); e != nil {
		return settle(ctx, deliveryErrors.decode(p.sup.spec.name, e))
	}
	return nil
}

// deadlineSlack is how far ahead of the host's deadline a plugin may see
// it pass: the deadline crosses the wire as a relative timeout, so the
// plugin's copy can end a little early.
const deadlineSlack = time.Second

// settle returns err, a plugin's error, once the host agrees with it: when
// err says the deadline passed and the host's own deadline is due within
// deadlineSlack, settle waits for it, so that the caller sees ctx ended as
// its context.Context contract expects.
func settle(ctx context.Context, err error) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > deadlineSlack {
		return err
	}
	<-ctx.Done()
	return err
}
