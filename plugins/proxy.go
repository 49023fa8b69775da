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
)

// agentProxy is an agent served by a plugin.
type agentProxy struct {
	sup  *supervisor
	name string
}

var _ agent.Agent = (*agentProxy)(nil)

// Run runs task on the plugin's agent, passing its progress reports on to
// task.Progress as they arrive.
func (p *agentProxy) Run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r, err := p.sup.remote(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	what := fmt.Sprintf("run agent %q", p.name)
	stream, err := r.agents.Run(ctx, &pluginpb.RunRequest{Agent: p.name, Task: taskToPB(task)})
	if err != nil {
		return nil, p.sup.callError(ctx, what, err)
	}
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("plugins: plugin %q: %s: the plugin ended the call without a result", p.sup.spec.name, what)
		}
		if err != nil {
			return nil, p.sup.callError(ctx, what, err)
		}
		switch ev := ev.GetEvent().(type) {
		case *pluginpb.RunEvent_Progress:
			if task.Progress == nil {
				continue
			}
			if err := task.Progress.Report(ctx, ev.Progress.GetCounters()); err != nil {
				// The run is no longer ours: stop the plugin's agent.
				return nil, fmt.Errorf("plugins: plugin %q: %s: report progress: %w", p.sup.spec.name, what, err)
			}
		case *pluginpb.RunEvent_Result:
			drain(stream)
			return resultFromPB(ev.Result), nil
		case *pluginpb.RunEvent_Error:
			drain(stream)
			return nil, settle(ctx, agentErrors.decode(p.sup.spec.name, ev.Error))
		}
	}
}

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
	resp, err := r.deliverers.Deliver(ctx, &pluginpb.DeliverRequest{Deliverer: p.name, Message: messageToPB(m)})
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
