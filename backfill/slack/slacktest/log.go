package slacktest

import (
	"net/url"
	"slices"
	"time"
)

// Request is one request the fake received.
type Request struct {
	// Seq numbers the requests from 1, in arrival order.
	Seq int
	// Method is the Web API method ("conversations.history").
	Method string
	// Params are the request's arguments, the token left out.
	Params url.Values
	// Time is the arrival time on the Workspace's Clock.
	Time time.Time
	// Status is the HTTP status answered.
	Status int
	// Error is the ok:false error code answered; empty on success.
	Error string
}

// Requests returns the requests received for method, in order; "" for all.
func (s *Server) Requests(method string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.log {
		if method == "" || r.Method == method {
			r.Params = cloneValues(r.Params)
			out = append(out, r)
		}
	}
	return out
}

// Count returns the number of requests received for method; "" for all.
func (s *Server) Count(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method]
}

// MaxInWindow returns the largest number of requests for method ("" for
// all) that arrived within any window [t, t+window): to check that a
// client kept to N requests a minute, assert MaxInWindow(m, time.Minute)
// <= N.
func (s *Server) MaxInWindow(method string, window time.Duration) int {
	var times []time.Time
	for _, r := range s.Requests(method) {
		times = append(times, r.Time)
	}
	slices.SortFunc(times, time.Time.Compare)
	best, j := 0, 0
	for i := range times {
		for j < len(times) && times[j].Before(times[i].Add(window)) {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
