package plugins

import (
	"fmt"
	"maps"
	"strings"
	"sync"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/handshake"
)

// Manager runs plugin binaries for a host: it discovers them, verifies
// their checksums, starts them, hands back what they serve as agent.Agent
// and delivery.Deliverer values, health-checks them, restarts those that
// crash, and stops them all on Close. Create one with NewManager. It is
// safe for concurrent use.
type Manager struct {
	plugins    []*supervisor
	agents     map[string]agent.Agent
	deliverers map[string]delivery.Deliverer
	closeOnce  sync.Once
}

// Status is the state of one plugin.
type Status struct {
	// Name is the plugin's name.
	Name string
	// Path is the binary's absolute path.
	Path string
	// Agents and Deliverers are what the plugin serves, sorted by name.
	Agents, Deliverers []Component
	// Running says whether a process of the plugin is up; PID is its id.
	Running bool
	PID     int
	// Restarts counts the restarts since the Manager started the plugin.
	Restarts int
	// Sessions says whether the running process offers sessions, so that
	// its agents' runs share one stream; a plugin that does not (one
	// written against the protocol by hand, before sessions) gets a Run
	// call per run, which costs more.
	Sessions bool
}

// NewManager starts every plugin of cfg and returns once each has answered
// its handshake and said what it serves. It fails, with every plugin
// stopped again, when cfg is invalid, a checksum differs (an error matching
// ErrChecksum that names the file), a plugin does not start within
// StartTimeout or speaks another protocol version, or two plugins serve the
// same agent or channel name.
func NewManager(cfg Config) (*Manager, error) {
	cfg = cfg.withDefaults()
	specs, err := cfg.specs()
	if err != nil {
		return nil, err
	}
	for _, sp := range specs {
		for _, kv := range sp.env {
			k, _, _ := strings.Cut(kv, "=")
			if strings.HasPrefix(k, "PLUGIN_") || k == handshake.MagicCookieKey {
				return nil, fmt.Errorf("plugins: plugin %q: Env may not set %s, which go-plugin sets", sp.name, k)
			}
		}
	}
	m := &Manager{agents: map[string]agent.Agent{}, deliverers: map[string]delivery.Deliverer{}}
	agentOwner, channelOwner := map[string]string{}, map[string]string{}
	for _, sp := range specs {
		s, err := startSupervisor(sp, cfg)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.plugins = append(m.plugins, s)
		for _, c := range s.desc.GetAgents() {
			name := c.GetName()
			if other, taken := agentOwner[name]; taken {
				m.Close()
				return nil, fmt.Errorf("plugins: plugins %q and %q both serve agent %q", other, sp.name, name)
			}
			agentOwner[name] = sp.name
			m.agents[name] = &agentProxy{sup: s, name: name}
		}
		for _, c := range s.desc.GetDeliverers() {
			name := c.GetName()
			if other, taken := channelOwner[name]; taken {
				m.Close()
				return nil, fmt.Errorf("plugins: plugins %q and %q both serve deliverer %q", other, sp.name, name)
			}
			channelOwner[name] = sp.name
			m.deliverers[name] = &delivererProxy{sup: s, name: name}
		}
	}
	return m, nil
}

// Agents returns the agents the plugins serve, by name, to register with
// an agent.Registry. Each forwards Run to its plugin; while the plugin
// restarts, Run waits for it (up to StartTimeout) and then fails with an
// error matching ErrUnavailable, which the scheduler retries.
func (m *Manager) Agents() map[string]agent.Agent { return maps.Clone(m.agents) }

// Deliverers returns the deliverers the plugins serve, by channel name, to
// register with a delivery.Router.
func (m *Manager) Deliverers() map[string]delivery.Deliverer { return maps.Clone(m.deliverers) }

// Plugins returns the state of every plugin, in the order they started.
func (m *Manager) Plugins() []Status {
	out := make([]Status, 0, len(m.plugins))
	for _, s := range m.plugins {
		out = append(out, s.status())
	}
	return out
}

// Close stops every plugin and waits for their processes to exit: each is
// asked to shut down, and killed after two seconds. Calls in flight fail
// with an error matching ErrUnavailable, later ones with ErrClosed. Close
// is safe to call twice; it returns nil.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		var wg sync.WaitGroup
		for _, s := range m.plugins {
			wg.Go(s.close)
		}
		wg.Wait()
	})
	return nil
}
