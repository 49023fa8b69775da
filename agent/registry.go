package agent

import (
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Registry maps explicit names to agents. It is safe for concurrent use.
// Create one with NewRegistry.
type Registry struct {
	mu     sync.RWMutex
	agents map[string]Agent
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{agents: make(map[string]Agent)}
}

// Register adds a under name. Names match ^[a-z0-9][a-z0-9_.-]{0,62}$; a bad
// name, a nil agent or a taken name is an error (one matching ErrDuplicate
// for a taken name), and nothing is registered.
func (r *Registry) Register(name string, a Agent) error {
	if !validName(name) {
		return fmt.Errorf("agent: register %q: name must match %s", name, namePattern)
	}
	if f, ok := a.(Func); a == nil || ok && f == nil {
		return fmt.Errorf("agent: register %q: nil agent", name)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.agents[name]; taken {
		return fmt.Errorf("%w: %q", ErrDuplicate, name)
	}
	if r.agents == nil {
		r.agents = make(map[string]Agent)
	}
	r.agents[name] = a
	return nil
}

// MustRegister is Register that panics on error, for wiring code.
func (r *Registry) MustRegister(name string, a Agent) {
	if err := r.Register(name, a); err != nil {
		panic(err)
	}
}

// Lookup returns the agent registered under name, or an error matching
// ErrUnknown that names it.
func (r *Registry) Lookup(name string) (Agent, error) {
	r.mu.RLock()
	a, ok := r.agents[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknown, name)
	}
	return a, nil
}

// Names lists the registered names, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.agents))
}

// namePattern is the rule of validName, for error messages.
const namePattern = "^[a-z0-9][a-z0-9_.-]{0,62}$"

// validName reports whether name matches namePattern.
func validName(name string) bool {
	if len(name) == 0 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '_' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}
