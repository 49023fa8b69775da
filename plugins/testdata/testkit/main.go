// Command testkit is the plugin the plugins package's tests run: an agent
// and a deliverer, both named "kit", whose behaviour the payload or the
// address chooses, and environment knobs that make the binary misbehave.
//
//	TESTKIT_STDOUT_NOISE=1  print to stdout before serving
//	TESTKIT_HANG=1          never serve
//	TESTKIT_PROTOCOL=N      serve protocol version N instead of 1
//	TESTKIT_NO_SESSIONS=1   serve the agent as a plugin written against the
//	                        protocol by hand would: Describe and Run only, no
//	                        sessions and no deliverer (the host falls back to
//	                        a Run call per run)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins"
	"github.com/heraldhq/herald/plugins/internal/handshake"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
	"github.com/heraldhq/herald/plugins/internal/wire"
)

func main() {
	if os.Getenv("TESTKIT_STDOUT_NOISE") != "" {
		fmt.Println("hello from a plugin that prints in main")
		fmt.Print("and without a newline: ")
	}
	if os.Getenv("TESTKIT_HANG") != "" {
		select {}
	}
	if v := os.Getenv("TESTKIT_PROTOCOL"); v != "" {
		n, _ := strconv.Atoi(v)
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: handshake.Config(uint(n)),
			Plugins:         plugin.PluginSet{handshake.PluginName: empty{}},
			GRPCServer:      plugin.DefaultGRPCServer,
		})
		return
	}
	if os.Getenv("TESTKIT_NO_SESSIONS") != "" {
		plugin.Serve(&plugin.ServeConfig{
			HandshakeConfig: handshake.Config(plugins.ProtocolVersion),
			Plugins:         plugin.PluginSet{handshake.PluginName: runOnly{}},
			GRPCServer:      plugin.DefaultGRPCServer,
		})
		return
	}
	plugins.Serve(plugins.ServeConfig{
		Agents:     map[string]agent.Agent{"kit": agent.Func(run)},
		Deliverers: map[string]delivery.Deliverer{"kit": delivery.Func(deliver)},
	})
}

// input is the agent's payload.
type input struct {
	// Op is what to do: noop, ok, sleep, progress, fail, panic, first-blocks.
	Op string `json:"op"`
	// Marker is a file the agent writes: sleep writes the time its context
	// ended (Unix nanoseconds); first-blocks writes its pid on attempt 1.
	Marker string `json:"marker"`
	// N is the number of progress reports.
	N int `json:"n"`
	// Code is the failure: permanent, transient, retry_after, canceled,
	// deadline, permanent_retry_after.
	Code string `json:"code"`
}

// run is the agent "kit".
func run(ctx context.Context, task *agent.Task) (*agent.Result, error) {
	var in input
	if err := json.Unmarshal(task.Payload, &in); err != nil && len(task.Payload) > 0 {
		return nil, agent.Permanent(err)
	}
	switch in.Op {
	case "noop":
		return nil, nil
	case "", "ok":
		out := map[string]any{"pid": os.Getpid(), "attempt": task.Attempt, "run_id": task.RunID}
		if d, ok := ctx.Deadline(); ok {
			out["deadline_unix_nano"] = d.UnixNano()
		}
		b, _ := json.Marshal(out)
		return &agent.Result{Output: b, Summary: "ok", Targets: []delivery.Target{{Channel: "kit", To: "ok"}}}, nil
	case "sleep":
		// The report tells the host the plugin is running the task.
		if err := task.Progress.Report(ctx, map[string]int64{"sleeping": 1}); err != nil {
			return nil, err
		}
		<-ctx.Done()
		ended := time.Now()
		if in.Marker != "" {
			_ = os.WriteFile(in.Marker, []byte(strconv.FormatInt(ended.UnixNano(), 10)), 0o600)
		}
		return nil, ctx.Err()
	case "progress":
		for i := 1; i <= in.N; i++ {
			if err := task.Progress.Report(ctx, map[string]int64{"step": int64(i), "of": int64(in.N)}); err != nil {
				return nil, err
			}
		}
		return &agent.Result{Summary: "done"}, nil
	case "first-blocks":
		if task.Attempt == 1 {
			if err := os.WriteFile(in.Marker, []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
				return nil, err
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &agent.Result{Summary: fmt.Sprintf("attempt %d ok", task.Attempt)}, nil
	case "panic":
		panic("testkit: asked to panic")
	case "fail":
		return nil, failure(in.Code)
	}
	return nil, agent.Permanent(fmt.Errorf("testkit: unknown op %q", in.Op))
}

// failure returns the agent error named code.
func failure(code string) error {
	base := errors.New("testkit: failed as asked (" + code + ")")
	switch code {
	case "permanent":
		return agent.Permanent(base)
	case "retry_after":
		return agent.RetryAfter(base, 1500*time.Millisecond)
	case "permanent_retry_after":
		return agent.RetryAfter(agent.Permanent(base), 0)
	case "canceled":
		return fmt.Errorf("testkit: %w", context.Canceled)
	case "deadline":
		return fmt.Errorf("testkit: %w", context.DeadlineExceeded)
	}
	return base
}

// deliver is the deliverer "kit"; the address chooses what it does.
func deliver(ctx context.Context, m *delivery.Message) error {
	switch m.Target.To {
	case "", "ok":
		return ctx.Err()
	case "slow":
		<-ctx.Done()
		return ctx.Err()
	case "permanent":
		return delivery.Permanent(errors.New("testkit: gone"))
	case "retry_after":
		return delivery.RetryAfter(errors.New("testkit: slow down"), 2*time.Second)
	case "panic":
		panic("testkit: asked to panic")
	}
	return errors.New("testkit: unavailable")
}

// empty is a go-plugin plugin that serves nothing, for TESTKIT_PROTOCOL.
type empty struct{ plugin.NetRPCUnsupportedPlugin }

func (empty) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error { return nil }
func (empty) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

// runOnly is a go-plugin plugin that serves the agent "kit" with
// PluginService.Describe and AgentService.Run alone, for
// TESTKIT_NO_SESSIONS: it does not offer sessions, as a plugin written in
// another language before them would not.
type runOnly struct{ plugin.NetRPCUnsupportedPlugin }

func (runOnly) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServiceServer(s, runOnlyServer{})
	pluginpb.RegisterAgentServiceServer(s, runOnlyServer{})
	return nil
}

func (runOnly) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

type runOnlyServer struct {
	pluginpb.UnimplementedPluginServiceServer
	pluginpb.UnimplementedAgentServiceServer
}

func (runOnlyServer) Describe(context.Context, *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	return &pluginpb.DescribeResponse{
		ProtocolVersion: plugins.ProtocolVersion,
		Agents:          []*pluginpb.Component{{Name: "kit"}},
	}, nil
}

func (runOnlyServer) Run(req *pluginpb.RunRequest, stream grpc.ServerStreamingServer[pluginpb.RunEvent]) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = stream.Send(&pluginpb.RunEvent{Event: &pluginpb.RunEvent_Error{Error: wire.InternalError("panic: %v", v)}})
		}
	}()
	task := wire.TaskFromPB(req.GetTask())
	task.Progress = agent.ReporterFunc(func(_ context.Context, c map[string]int64) error {
		return stream.Send(wire.ProgressToPB(c))
	})
	res, err := run(stream.Context(), task)
	if err != nil {
		return stream.Send(&pluginpb.RunEvent{Event: &pluginpb.RunEvent_Error{Error: wire.AgentErrors.Encode(err)}})
	}
	return stream.Send(&pluginpb.RunEvent{Event: &pluginpb.RunEvent_Result{Result: wire.ResultToPB(res)}})
}
