package plugins

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	plugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/handshake"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
	"github.com/heraldhq/herald/plugins/internal/wire"
)

// ProtocolVersion is the version of the plugin protocol this package
// speaks, in the handshake and in Describe. A host refuses a plugin of
// another version with an error naming both.
const ProtocolVersion = handshake.ProtocolVersion

// ServeConfig says what a plugin binary serves. Names follow the rules of
// agent.Registry and delivery.Router: ^[a-z0-9][a-z0-9_.-]{0,62}$. The host
// registers each agent under its name and each deliverer under its name as
// the channel.
type ServeConfig struct {
	// Agents are the agents the binary serves, by name.
	Agents map[string]agent.Agent
	// Deliverers are the deliverers the binary serves, by channel name.
	Deliverers map[string]delivery.Deliverer
}

// Describer is an optional interface of the agents and deliverers a plugin
// serves: its one-line description shows in -describe and in the host's
// Manager.Plugins.
type Describer interface {
	Description() string
}

// Serve serves cfg's agents and deliverers to the Herald host that started
// the binary, and returns when the host stops the plugin. Call it from main,
// and write nothing to stdout before it: stdout carries the handshake. Logs
// belong on stderr (the standard library's log package writes there), where
// the host picks them up under the plugin's name.
//
// Run by hand, the binary prints what it serves and how it is meant to be
// used, and exits with status 1; run with the single argument -describe, it
// prints what it serves as JSON and exits with status 0. A bad cfg (a bad or
// empty name, a nil agent) is reported on stderr with status 2.
//
// A served plugin exits when its host goes away, even when the host was
// killed with SIGKILL: it watches its parent process.
func Serve(cfg ServeConfig) {
	if code := serve(cfg, os.Args, os.Stdout, os.Stderr); code != 0 {
		os.Exit(code)
	}
}

// serve is Serve with its process dependencies, returning the exit status.
func serve(cfg ServeConfig, args []string, stdout, stderr io.Writer) int {
	srv, err := newServer(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "herald plugin: %v\n", err)
		return 2
	}
	self := "plugin"
	if len(args) > 0 {
		self = filepath.Base(args[0])
	}
	if len(args) == 2 && (args[1] == "-describe" || args[1] == "--describe") {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(srv.description()); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", self, err)
			return 1
		}
		return 0
	}
	if os.Getenv(handshake.MagicCookieKey) != handshake.MagicCookieValue {
		d := srv.description()
		fmt.Fprintf(stderr, "%s is a Herald plugin (protocol version %d). It is not meant to be run by hand:\n"+
			"a Herald host starts it (see plugins.Config, or the plugins section of the example server's config).\n"+
			"It serves agents %v and deliverers %v.\n"+
			"Run '%s -describe' to print this as JSON.\n",
			self, d.ProtocolVersion, d.names(d.Agents), d.names(d.Deliverers), self)
		return 1
	}
	watchParent(os.Getppid(), parentPoll, func() { os.Exit(3) })
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: handshake.Config(ProtocolVersion),
		Plugins:         plugin.PluginSet{handshake.PluginName: &grpcPlugin{server: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.InitialWindowSize(windowSize), grpc.InitialConnWindowSize(windowSize))...)
		},
	})
	return 0
}

// windowSize is the HTTP/2 flow-control window of both ends of a plugin's
// connection. Setting it turns off gRPC's bandwidth-delay probing, whose
// pings cost more than they bring on a local socket.
const windowSize = 1 << 20

// parentPoll is how often a served plugin checks that its host is alive.
// On Linux the host also asks the kernel to kill the plugin when it dies
// (Pdeathsig); the poll covers the other systems and the cases Pdeathsig
// misses.
const parentPoll = 250 * time.Millisecond

// watchParent calls exit once the process's parent is no longer ppid (the
// parent died and the process was re-parented). It does nothing when ppid
// is 1 already (no parent to watch).
func watchParent(ppid int, every time.Duration, exit func()) {
	if ppid <= 1 {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != ppid {
				exit()
				return
			}
		}
	}()
}

// namePattern is the rule for the names of served agents and deliverers.
var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// server serves a ServeConfig over gRPC.
type server struct {
	pluginpb.UnimplementedPluginServiceServer
	pluginpb.UnimplementedAgentServiceServer
	pluginpb.UnimplementedDelivererServiceServer

	agents     map[string]agent.Agent
	deliverers map[string]delivery.Deliverer
}

// newServer validates cfg and returns its server.
func newServer(cfg ServeConfig) (*server, error) {
	if len(cfg.Agents) == 0 && len(cfg.Deliverers) == 0 {
		return nil, fmt.Errorf("plugins: ServeConfig serves no agent and no deliverer")
	}
	for name, a := range cfg.Agents {
		if !namePattern.MatchString(name) {
			return nil, fmt.Errorf("plugins: agent name %q must match %s", name, namePattern)
		}
		if f, ok := a.(agent.Func); a == nil || ok && f == nil {
			return nil, fmt.Errorf("plugins: agent %q is nil", name)
		}
	}
	for name, d := range cfg.Deliverers {
		if !namePattern.MatchString(name) {
			return nil, fmt.Errorf("plugins: deliverer name %q must match %s", name, namePattern)
		}
		if f, ok := d.(delivery.Func); d == nil || ok && f == nil {
			return nil, fmt.Errorf("plugins: deliverer %q is nil", name)
		}
	}
	return &server{agents: cfg.Agents, deliverers: cfg.Deliverers}, nil
}

// Description is what a plugin serves, as -describe prints it.
type Description struct {
	// ProtocolVersion is the plugin protocol version the plugin speaks.
	ProtocolVersion int `json:"protocol_version"`
	// Agents are the agents the plugin serves, sorted by name.
	Agents []Component `json:"agents"`
	// Deliverers are the deliverers the plugin serves, sorted by name.
	Deliverers []Component `json:"deliverers"`
}

// Component is one agent or deliverer a plugin serves.
type Component struct {
	// Name is its name: the agent's name, or the deliverer's channel.
	Name string `json:"name"`
	// Description is its one-line description; it may be empty.
	Description string `json:"description,omitempty"`
}

// names lists the names of cs.
func (Description) names(cs []Component) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

// description returns what s serves.
func (s *server) description() Description {
	d := Description{ProtocolVersion: ProtocolVersion, Agents: []Component{}, Deliverers: []Component{}}
	for name, a := range s.agents {
		d.Agents = append(d.Agents, component(name, a))
	}
	for name, dl := range s.deliverers {
		d.Deliverers = append(d.Deliverers, component(name, dl))
	}
	byName := func(a, b Component) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(d.Agents, byName)
	slices.SortFunc(d.Deliverers, byName)
	return d
}

// component returns the Component of v served under name.
func component(name string, v any) Component {
	c := Component{Name: name}
	if d, ok := v.(Describer); ok {
		c.Description = d.Description()
	}
	return c
}

// Describe lists what s serves.
func (s *server) Describe(context.Context, *pluginpb.DescribeRequest) (*pluginpb.DescribeResponse, error) {
	d := s.description()
	resp := &pluginpb.DescribeResponse{ProtocolVersion: uint32(d.ProtocolVersion), AgentSessions: true}
	for _, c := range d.Agents {
		resp.Agents = append(resp.Agents, &pluginpb.Component{Name: c.Name, Description: c.Description})
	}
	for _, c := range d.Deliverers {
		resp.Deliverers = append(resp.Deliverers, &pluginpb.Component{Name: c.Name, Description: c.Description})
	}
	return resp, nil
}

// Run runs one attempt on the named agent, streaming its progress and then
// its result or error.
func (s *server) Run(req *pluginpb.RunRequest, stream grpc.ServerStreamingServer[pluginpb.RunEvent]) error {
	return s.run(stream.Context(), req, stream.Send)
}

// run runs one attempt on the named agent, sending its progress and then
// its result or error with send, which run never calls concurrently nor
// after it returned. It returns the error of the last send.
func (s *server) run(ctx context.Context, req *pluginpb.RunRequest, send func(*pluginpb.RunEvent) error) error {
	a, ok := s.agents[req.GetAgent()]
	if !ok {
		return send(&pluginpb.RunEvent{Event: &pluginpb.RunEvent_Error{
			Error: &pluginpb.Error{Code: pluginpb.ErrorCode_ERROR_CODE_PERMANENT, Message: fmt.Sprintf("plugin does not serve agent %q", req.GetAgent())},
		}})
	}
	// An agent may report from its own goroutines, or too late.
	var mu sync.Mutex
	done := false
	guarded := func(ev *pluginpb.RunEvent) error {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return fmt.Errorf("plugins: progress reported after the run returned")
		}
		return send(ev)
	}
	task := wire.TaskFromPB(req.GetTask())
	task.Progress = agent.ReporterFunc(func(_ context.Context, counters map[string]int64) error {
		return guarded(wire.ProgressToPB(counters))
	})
	res, err, internal := runAgent(ctx, a, task)
	var ev *pluginpb.RunEvent
	switch {
	case internal != nil:
		ev = &pluginpb.RunEvent{Event: &pluginpb.RunEvent_Error{Error: internal}}
	case err != nil:
		ev = &pluginpb.RunEvent{Event: &pluginpb.RunEvent_Error{Error: wire.AgentErrors.Encode(err)}}
	default:
		ev = &pluginpb.RunEvent{Event: &pluginpb.RunEvent_Result{Result: wire.ResultToPB(res)}}
	}
	err = guarded(ev)
	mu.Lock()
	done = true
	mu.Unlock()
	return err
}

// runAgent runs a, turning a panic into an internal error.
func runAgent(ctx context.Context, a agent.Agent, task *agent.Task) (res *agent.Result, err error, internal *pluginpb.Error) {
	defer func() {
		if v := recover(); v != nil {
			internal = wire.InternalError("agent %q panicked: %v\n%s", task.Agent, v, debug.Stack())
		}
	}()
	res, err = a.Run(ctx, task)
	return res, err, nil
}

// Deliver delivers one message with the named deliverer.
func (s *server) Deliver(ctx context.Context, req *pluginpb.DeliverRequest) (resp *pluginpb.DeliverResponse, _ error) {
	d, ok := s.deliverers[req.GetDeliverer()]
	if !ok {
		return &pluginpb.DeliverResponse{Error: &pluginpb.Error{
			Code: pluginpb.ErrorCode_ERROR_CODE_PERMANENT, Message: fmt.Sprintf("plugin does not serve deliverer %q", req.GetDeliverer()),
		}}, nil
	}
	defer func() {
		if v := recover(); v != nil {
			resp = &pluginpb.DeliverResponse{Error: wire.InternalError("deliverer %q panicked: %v\n%s", req.GetDeliverer(), v, debug.Stack())}
		}
	}()
	if err := d.Deliver(ctx, wire.MessageFromPB(req.GetMessage())); err != nil {
		return &pluginpb.DeliverResponse{Error: wire.DeliveryErrors.Encode(err)}, nil
	}
	return &pluginpb.DeliverResponse{}, nil
}

// grpcPlugin is the go-plugin plugin that carries Herald's services: on the
// plugin side it registers server; on the host side it dials them.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	server *server
}

// GRPCServer registers the plugin's services.
func (p *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginpb.RegisterPluginServiceServer(s, p.server)
	pluginpb.RegisterAgentServiceServer(s, p.server)
	pluginpb.RegisterDelivererServiceServer(s, p.server)
	return nil
}

// GRPCClient returns the host's clients of the plugin's services; ctx ends
// when the plugin process exits.
func (p *grpcPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &remote{
		exited:     ctx.Done(),
		plugin:     pluginpb.NewPluginServiceClient(c),
		agents:     pluginpb.NewAgentServiceClient(c),
		deliverers: pluginpb.NewDelivererServiceClient(c),
	}, nil
}

// remote is the host's side of one running plugin process.
type remote struct {
	// exited is closed when the process has exited.
	exited     <-chan struct{}
	plugin     pluginpb.PluginServiceClient
	agents     pluginpb.AgentServiceClient
	deliverers pluginpb.DelivererServiceClient
	// sessions says whether the plugin serves AgentService.Session (its
	// Describe said so); set once, before the remote is shared.
	sessions bool

	mu     sync.Mutex
	sess   *session // the open session; nil before the first run
	closed bool
}

// session returns r's open session, opening one when there is none yet or
// the last one broke.
func (r *remote) session() (*session, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, status.Error(codes.Unavailable, "the plugin is stopping")
	}
	if r.sess == nil || r.sess.broken() {
		s, err := openSession(r.agents)
		if err != nil {
			return nil, err
		}
		r.sess = s
	}
	return r.sess, nil
}

// close ends r's session, failing its runs in flight with ErrUnavailable,
// before the supervisor stops the process. It is safe to call twice.
func (r *remote) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.sess != nil {
		r.sess.close()
	}
}
