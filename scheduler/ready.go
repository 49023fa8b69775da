package scheduler

import (
	"context"
	"fmt"
)

// Ready reports whether this node serves: it is started (else
// ErrNotStarted) and its store answers a ping (else the store's error,
// matching store.ErrUnavailable or the context's error).
func (s *Scheduler) Ready(ctx context.Context) error {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	if state != stateStarted {
		return ErrNotStarted
	}
	if err := s.st.Ping(ctx); err != nil {
		return fmt.Errorf("ping store: %w", err)
	}
	return nil
}

// Agents returns the names of the registered agents, sorted.
func (s *Scheduler) Agents() []string { return s.cfg.Agents.Names() }

// Channels returns the names of the delivery channels, sorted.
func (s *Scheduler) Channels() []string { return s.cfg.Delivery.Channels() }

// Policy returns the policies the scheduler enforces.
func (s *Scheduler) Policy() Policy { return s.cfg.Policy }
