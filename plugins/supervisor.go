package plugins

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/hashicorp/go-hclog"
	plugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/plugins/internal/handshake"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
)

// supervisor owns one plugin binary: it starts the process, watches it
// (exit and health checks), restarts it with backoff, and stops it.
type supervisor struct {
	spec   spec
	cfg    Config
	logger log.Logger

	mu       sync.Mutex
	cur      *instance     // nil while the plugin is down
	up       chan struct{} // closed while cur is set
	closed   bool
	restarts int
	desc     *pluginpb.DescribeResponse // of the first start

	stop chan struct{} // closed by close
	done chan struct{} // closed when loop returns
}

// instance is one running process of a plugin.
type instance struct {
	client  *plugin.Client
	rpc     plugin.ClientProtocol
	remote  *remote
	pid     int
	started time.Time
	desc    *pluginpb.DescribeResponse
}

// stop ends the instance's session, failing the runs in flight on it, and
// stops its process.
func (inst *instance) stop() {
	inst.remote.close()
	inst.client.Kill()
}

// startSupervisor starts the plugin of sp and the loop that watches it.
func startSupervisor(sp spec, cfg Config) (*supervisor, error) {
	s := &supervisor{
		spec:   sp,
		cfg:    cfg,
		logger: log.With(cfg.Logger, "plugin", sp.name),
		up:     make(chan struct{}),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	inst, err := s.start()
	if err != nil {
		return nil, err
	}
	s.desc = inst.desc
	s.cur = inst
	close(s.up)
	go s.loop()
	return s, nil
}

// start starts one process of the plugin and asks it what it serves.
func (s *supervisor) start() (*instance, error) {
	if err := s.spec.verify(); err != nil {
		return nil, err
	}
	began := time.Now()
	var proc *procRunner
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake.Config(ProtocolVersion),
		Plugins:          plugin.PluginSet{handshake.PluginName: &grpcPlugin{}},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         s.spec.mtls,
		StartTimeout:     s.cfg.StartTimeout,
		Logger:           newHCLogger(s.logger),
		Stderr:           io.Discard,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithInitialWindowSize(windowSize), grpc.WithInitialConnWindowSize(windowSize),
		},
		RunnerFunc: func(_ hclog.Logger, base *exec.Cmd, _ string) (runner.Runner, error) {
			// base carries go-plugin's environment (the host's, the magic
			// cookie, the client certificate); the plugin's own variables
			// come after it and win.
			cmd := exec.Command(s.spec.path, s.spec.args...)
			cmd.Env = append(slices.Clip(base.Env), s.spec.env...)
			cmd.SysProcAttr = sysProcAttr()
			r, err := newProcRunner(cmd, s.logger)
			proc = r
			return r, err
		},
	})
	fail := func(err error) (*instance, error) {
		client.Kill()
		return nil, fmt.Errorf("plugins: start plugin %q (%s): %w", s.spec.name, s.spec.path, err)
	}
	rpc, err := client.Client()
	if err != nil {
		return fail(err)
	}
	raw, err := rpc.Dispense(handshake.PluginName)
	if err != nil {
		return fail(err)
	}
	r := raw.(*remote)
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.StartTimeout)
	defer cancel()
	desc, err := r.plugin.Describe(ctx, &pluginpb.DescribeRequest{})
	if err != nil {
		return fail(fmt.Errorf("describe: %w", err))
	}
	if v := desc.GetProtocolVersion(); v != ProtocolVersion {
		return fail(fmt.Errorf("the plugin describes itself with protocol version %d; this host speaks %d", v, ProtocolVersion))
	}
	r.sessions = desc.GetAgentSessions()
	inst := &instance{client: client, rpc: rpc, remote: r, pid: proc.pid, started: time.Now(), desc: desc}
	level.Info(s.logger).Log("msg", "plugin started", "path", s.spec.path, "pid", inst.pid, "mtls", s.spec.mtls, "sessions", r.sessions,
		"agents", fmt.Sprint(names(desc.GetAgents())), "deliverers", fmt.Sprint(names(desc.GetDeliverers())),
		"took", time.Since(began).Round(time.Microsecond))
	return inst, nil
}

// names lists the names of cs.
func names(cs []*pluginpb.Component) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.GetName())
	}
	return out
}

// loop watches the running plugin and restarts it when it exits or fails
// its health check, until close.
func (s *supervisor) loop() {
	defer close(s.done)
	health := time.NewTicker(s.cfg.HealthInterval)
	defer health.Stop()
	failures := 0
	for {
		s.mu.Lock()
		inst := s.cur
		s.mu.Unlock()
		select {
		case <-s.stop:
			return
		case <-inst.remote.exited:
			level.Error(s.logger).Log("msg", "plugin exited; restarting it", "pid", inst.pid)
		case <-health.C:
			err := s.ping(inst)
			if err == nil {
				continue
			}
			level.Error(s.logger).Log("msg", "plugin failed its health check; restarting it", "pid", inst.pid, "err", err)
		}
		s.mu.Lock()
		s.cur = nil
		s.up = make(chan struct{})
		s.mu.Unlock()
		inst.stop()
		if time.Since(inst.started) >= StableAfter {
			failures = 0
		}
		for {
			if d := s.backoff(failures); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-s.stop:
					t.Stop()
					return
				case <-t.C:
				}
			}
			failures++
			next, err := s.start()
			if err != nil {
				level.Error(s.logger).Log("msg", "plugin restart failed", "err", err)
				select {
				case <-s.stop:
					return
				default:
				}
				continue
			}
			if !slices.Equal(names(next.desc.GetAgents()), names(s.desc.GetAgents())) ||
				!slices.Equal(names(next.desc.GetDeliverers()), names(s.desc.GetDeliverers())) {
				level.Warn(s.logger).Log("msg", "the restarted plugin serves other agents or deliverers than at its first start; only the first ones are registered")
			}
			s.mu.Lock()
			s.cur = next
			s.restarts++
			close(s.up)
			s.mu.Unlock()
			break
		}
	}
}

// backoff is the delay before the restart that follows failures restarts
// in a row: none for the first, then RestartMin doubling up to RestartMax.
func (s *supervisor) backoff(failures int) time.Duration {
	if failures == 0 {
		return 0
	}
	d := s.cfg.RestartMin
	for i := 1; i < failures && d < s.cfg.RestartMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RestartMax)
}

// ping health-checks inst within HealthTimeout.
func (s *supervisor) ping(inst *instance) error {
	done := make(chan error, 1)
	go func() { done <- inst.rpc.Ping() }()
	t := time.NewTimer(s.cfg.HealthTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
		return fmt.Errorf("no answer within %v", s.cfg.HealthTimeout)
	case <-s.stop:
		return nil
	}
}

// remote returns the running plugin's clients. While the plugin restarts,
// it waits for it up to StartTimeout, then fails with ErrUnavailable.
func (s *supervisor) remote(ctx context.Context) (*remote, error) {
	var timeout <-chan time.Time
	for {
		s.mu.Lock()
		cur, up, closed := s.cur, s.up, s.closed
		s.mu.Unlock()
		switch {
		case closed:
			return nil, fmt.Errorf("%w: plugin %q", ErrClosed, s.spec.name)
		case cur != nil:
			return cur.remote, nil
		}
		if timeout == nil {
			t := time.NewTimer(s.cfg.StartTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-up:
		case <-s.stop:
		case <-ctx.Done():
			return nil, fmt.Errorf("plugins: plugin %q: wait for restart: %w", s.spec.name, ctx.Err())
		case <-timeout:
			return nil, fmt.Errorf("%w: plugin %q is restarting", ErrUnavailable, s.spec.name)
		}
	}
}

// callError is the error of a call to the plugin that failed at the gRPC
// level: ctx's error when ctx ended, ErrUnavailable when the plugin went
// away, and a transient error otherwise.
func (s *supervisor) callError(ctx context.Context, what string, err error) error {
	if status.Code(err) == codes.DeadlineExceeded {
		// gRPC's own deadline timer may fire a moment before ctx's.
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= deadlineSlack {
			<-ctx.Done()
		}
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("plugins: plugin %q: %s: %w", s.spec.name, what, ctxErr)
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable, codes.Canceled, codes.Aborted:
			return fmt.Errorf("%w: plugin %q: %s: %s", ErrUnavailable, s.spec.name, what, st.Message())
		}
		return fmt.Errorf("plugins: plugin %q: %s: %s: %s", s.spec.name, what, st.Code(), st.Message())
	}
	return fmt.Errorf("plugins: plugin %q: %s: %w", s.spec.name, what, err)
}

// close stops the loop and the plugin process; it waits for both. It is
// safe to call twice.
func (s *supervisor) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	<-s.done
	s.mu.Lock()
	inst := s.cur
	s.cur = nil
	s.mu.Unlock()
	if inst != nil {
		inst.stop()
	}
	level.Info(s.logger).Log("msg", "plugin stopped")
}

// status returns the plugin's Status.
func (s *supervisor) status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		Name:       s.spec.name,
		Path:       s.spec.path,
		Agents:     components(s.desc.GetAgents()),
		Deliverers: components(s.desc.GetDeliverers()),
		Restarts:   s.restarts,
	}
	if s.cur != nil {
		st.Running, st.PID, st.Sessions = true, s.cur.pid, s.cur.remote.sessions
	}
	return st
}

// components returns the Components of cs.
func components(cs []*pluginpb.Component) []Component {
	out := make([]Component, 0, len(cs))
	for _, c := range cs {
		out = append(out, Component{Name: c.GetName(), Description: c.GetDescription()})
	}
	return out
}
