package delivery

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
)

// Router maps channel names to deliverers. It is safe for concurrent use.
// Create one with NewRouter. A Router is itself a Deliverer.
type Router struct {
	mu       sync.RWMutex
	channels map[string]Deliverer
}

var _ Deliverer = (*Router)(nil)

// NewRouter returns an empty Router.
func NewRouter() *Router {
	return &Router{channels: make(map[string]Deliverer)}
}

// Register registers d for channel. Channel names match
// ^[a-z0-9][a-z0-9_.-]{0,62}$; a bad name, a nil deliverer or a taken name is
// an error (one matching ErrDuplicate for a taken name), and nothing is
// registered.
func (r *Router) Register(channel string, d Deliverer) error {
	if !validName(channel) {
		return fmt.Errorf("delivery: handle %q: channel name must match %s", channel, namePattern)
	}
	if f, ok := d.(Func); d == nil || ok && f == nil {
		return fmt.Errorf("delivery: handle %q: nil deliverer", channel)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.channels[channel]; taken {
		return fmt.Errorf("%w: %q", ErrDuplicate, channel)
	}
	if r.channels == nil {
		r.channels = make(map[string]Deliverer)
	}
	r.channels[channel] = d
	return nil
}

// MustRegister is Register that panics on error, for wiring code.
func (r *Router) MustRegister(channel string, d Deliverer) {
	if err := r.Register(channel, d); err != nil {
		panic(err)
	}
}

// Lookup returns the deliverer of channel, or a permanent error matching
// ErrUnknownChannel that names the channel.
func (r *Router) Lookup(channel string) (Deliverer, error) {
	r.mu.RLock()
	d, ok := r.channels[channel]
	r.mu.RUnlock()
	if !ok {
		return nil, Permanent(fmt.Errorf("%w %q", ErrUnknownChannel, channel))
	}
	return d, nil
}

// Deliver sends m to the deliverer of m.Target.Channel and returns its error
// unchanged. An unknown channel is a permanent error matching
// ErrUnknownChannel.
func (r *Router) Deliver(ctx context.Context, m *Message) error {
	d, err := r.Lookup(m.Target.Channel)
	if err != nil {
		return err
	}
	return d.Deliver(ctx, m)
}

// Channels lists the registered channels, sorted.
func (r *Router) Channels() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Sorted(maps.Keys(r.channels))
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
