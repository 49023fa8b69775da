package scheduler

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/go-kit/log"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/store"
)

// Defaults of Config's zero values.
const (
	// WorkersDefault is the number of runs a node executes at once.
	WorkersDefault = 100
	// LeaseDefault is how long a claimed run's lease lasts between
	// extensions; a run whose node died is rescued within about
	// LeaseDefault plus a sixth of it.
	LeaseDefault = 30 * time.Second
	// LeaseMin is the shortest lease Config accepts.
	LeaseMin = time.Second
	// PollIntervalDefault is how often idle workers look for due runs when
	// no notification woke them.
	PollIntervalDefault = time.Second
	// TimeoutDefault bounds an attempt whose run sets no timeout.
	TimeoutDefault = 10 * time.Minute
	// MaxAttemptsDefault bounds the attempts of a run that sets none.
	MaxAttemptsDefault = 3
	// RetryBaseDefault is the delay before the second attempt; each later
	// attempt waits twice as long, up to RetryMaxDefault.
	RetryBaseDefault = time.Second
	// RetryMaxDefault caps the delay between two attempts.
	RetryMaxDefault = 5 * time.Minute
	// MisfireThresholdDefault is how late a tick may be and still count as
	// on time; older ticks are misfires.
	MisfireThresholdDefault = time.Minute
	// MisfireCapDefault caps the missed ticks a run_all schedule runs.
	MisfireCapDefault = 10
	// ResyncIntervalDefault is how often a node re-reads every schedule, in
	// case a notification was lost.
	ResyncIntervalDefault = time.Minute
	// ShutdownGraceDefault is how long Stop lets running runs finish before
	// it cancels them and puts them back in the queue.
	ShutdownGraceDefault = 10 * time.Second
	// DeliveryWorkersDefault is the number of deliveries a node makes at once.
	DeliveryWorkersDefault = 8
	// DeliveryAttemptsDefault bounds the attempts of one delivery.
	DeliveryAttemptsDefault = 5
	// DeliveryWaitMaxDefault is the longest wait for a delivery's next
	// attempt that a node keeps to itself (see Config.DeliveryWaitMax). A
	// minute covers the Retry-After of a rate limit (Slack's and Teams'
	// are seconds to a minute) and the default backoff of every attempt,
	// which then come on time, without a write; the hours of a receiver
	// that is down for maintenance go to the outbox.
	DeliveryWaitMaxDefault = time.Minute
	// DeliveryTakeoverDefault is how long after a run ends another node may
	// take over deliveries the run's node has not reported done.
	DeliveryTakeoverDefault = 15 * time.Minute
	// ClaimBatchMax is the most runs one claim takes.
	ClaimBatchMax = 1000
)

// RetryPolicy says when a failed attempt is tried again: attempt n (n ≥ 1)
// is followed after a delay d = Base·2^(n-1), capped at Max, of which a
// random part up to d/2 is taken off (so nodes that failed together do not
// retry together).
type RetryPolicy struct {
	// MaxAttempts bounds the attempts of a run that sets none; zero means
	// MaxAttemptsDefault.
	MaxAttempts int
	// Base is the first delay; zero means RetryBaseDefault.
	Base time.Duration
	// Max caps a delay; zero means RetryMaxDefault.
	Max time.Duration
}

// Policy guards a shared deployment. Zero fields mean no limit.
type Policy struct {
	// MaxActiveSchedules caps the schedules an owner has that are not
	// paused; creating or resuming one more is refused with an error
	// matching store.ErrLimit. Admins are not exempt: the limit is the
	// owner's. The store checks it in the write that makes a schedule
	// active (store.ScheduleCapper), so concurrent creates and resumes
	// through any nodes cannot pass it together.
	MaxActiveSchedules int
	// MinInterval is the shortest time allowed between two fires of a
	// schedule, measured on the trigger's real next fire times (so
	// "*/5 * * * *" breaks a 15-minute minimum and "0 9 * * 1-5" does not).
	MinInterval time.Duration
	// MaxTimeout caps the timeout of a schedule or enqueued run; the
	// default timeout is lowered to it when larger.
	MaxTimeout time.Duration
}

// Config configures a Scheduler. The zero value is usable: every zero field
// means the documented default.
//
// The clock and the input limits are not here: they are the store's
// (store.SettingsReader), read once by New. The engine reads the store's
// clock for everything it schedules (fire times, misfires, retries,
// deliveries), and fails a run whose output the store's limits would
// refuse instead of the batch it would be recorded with.
type Config struct {
	// Agents finds a run's agent by name; nil means an empty registry (every
	// enqueue names an unknown agent and is refused).
	Agents *agent.Registry
	// Delivery routes results to their targets; nil means an empty router
	// (a schedule with targets is refused).
	Delivery *delivery.Router
	// Logger receives the engine's logs; nil means none.
	Logger log.Logger
	// Observer is told what the engine does (runs claimed, attempts and
	// runs ended, ticks written, deliveries made), for metrics; nil means
	// none. It is called synchronously on the engine's goroutines, outside
	// its locks: it must be quick and safe for concurrent use. See
	// Observer and the *Observed types. An Observer that is also a Tracer
	// traces the engine's work too, across nodes (see Tracer).
	Observer Observer
	// Node names this node in leases; empty means host name, process id and
	// a random suffix. Two nodes must never share a name.
	Node string
	// Workers is how many runs this node executes at once; zero means
	// WorkersDefault.
	Workers int
	// Lease is the lease of a claimed run, extended every third of it while
	// the run executes; zero means LeaseDefault. At least LeaseMin.
	Lease time.Duration
	// PollInterval is how often idle workers look for due runs without a
	// notification; zero means PollIntervalDefault.
	PollInterval time.Duration
	// ReapInterval is how often this node rescues runs whose lease expired;
	// zero means a sixth of Lease, between 100 ms and 5 s.
	ReapInterval time.Duration
	// DefaultTimeout bounds an attempt whose run sets no timeout; zero means
	// TimeoutDefault (lowered to Policy.MaxTimeout when that is smaller).
	DefaultTimeout time.Duration
	// Retry says when failed attempts are retried.
	Retry RetryPolicy
	// Policy guards a shared deployment.
	Policy Policy
	// MisfireThreshold is how late a tick may be and still run as on time;
	// zero means MisfireThresholdDefault.
	MisfireThreshold time.Duration
	// MisfireCap caps the missed ticks of a run_all schedule that sets no
	// cap; zero means MisfireCapDefault.
	MisfireCap int
	// ResyncInterval is how often every schedule is re-read; zero means
	// ResyncIntervalDefault.
	ResyncInterval time.Duration
	// ShutdownGrace is how long Stop waits for running runs before it
	// cancels them and puts them back in the queue; zero means
	// ShutdownGraceDefault. Stop's context can end the wait earlier.
	ShutdownGrace time.Duration
	// DeliveryWorkers is how many deliveries run at once; zero means
	// DeliveryWorkersDefault.
	DeliveryWorkers int
	// DeliveryAttempts bounds the attempts of one delivery; zero means
	// DeliveryAttemptsDefault. Each attempt is one call of the deliverer,
	// recorded. Delays follow Retry's Base and Max, or the receiver's
	// Retry-After (delivery.RetryAfter) when it gives one. A delivery
	// waiting for its next attempt holds no delivery worker.
	DeliveryAttempts int
	// DeliveryWaitMax is the longest wait for a delivery's next attempt
	// (a Retry-After, or the backoff) that this node keeps to itself; zero
	// means DeliveryWaitMaxDefault. A delivery that must wait longer is
	// left to the outbox: its run's DeliverAfter becomes the time of the
	// next attempt, and whichever node takes the run over then (this one
	// included) makes it.
	DeliveryWaitMax time.Duration
	// DeliveryTakeover is how long after a run ends another node may take
	// over the deliveries its own node has not reported done (the node
	// crashed, or stopped before it could make them); zero means
	// DeliveryTakeoverDefault; the runs wait in the store's outbox
	// (store.DeliveryOutbox) meanwhile. A node still retrying a
	// delivery that long may see another node make it too: keep it above
	// the longest retry sequence (DeliveryAttempts with Retry's delays).
	DeliveryTakeover time.Duration
	// Static schedules are declared in code or configuration. Start creates
	// each one that does not exist (by owner and name) and updates each one
	// that changed, marked static; users cannot edit or delete them. A
	// static schedule without an owner belongs to StaticOwner.
	Static []*store.Schedule
	// PruneStatic makes Start delete the static schedules that Static no
	// longer declares. Leave it off while nodes may run different
	// declarations (a rolling deploy, a binary that only runs workers):
	// each would delete the others' schedules.
	PruneStatic bool
}

// StaticOwner owns static schedules that name no owner.
const StaticOwner = "system"

// withDefaults checks c and returns it with its defaults filled in.
func (c Config) withDefaults() (Config, error) {
	bad := func(field, rule string) (Config, error) {
		return Config{}, fmt.Errorf("scheduler: invalid config %s: %s", field, rule)
	}
	nonNeg := []struct {
		name string
		v    time.Duration
	}{
		{"Lease", c.Lease}, {"PollInterval", c.PollInterval}, {"ReapInterval", c.ReapInterval},
		{"DefaultTimeout", c.DefaultTimeout}, {"Retry.Base", c.Retry.Base}, {"Retry.Max", c.Retry.Max},
		{"Policy.MinInterval", c.Policy.MinInterval}, {"Policy.MaxTimeout", c.Policy.MaxTimeout},
		{"MisfireThreshold", c.MisfireThreshold}, {"ResyncInterval", c.ResyncInterval}, {"ShutdownGrace", c.ShutdownGrace},
		{"DeliveryTakeover", c.DeliveryTakeover}, {"DeliveryWaitMax", c.DeliveryWaitMax},
	}
	for _, f := range nonNeg {
		if f.v < 0 {
			return bad(f.name, "must not be negative")
		}
	}
	ints := []struct {
		name string
		v    int
	}{
		{"Workers", c.Workers}, {"Retry.MaxAttempts", c.Retry.MaxAttempts}, {"Policy.MaxActiveSchedules", c.Policy.MaxActiveSchedules},
		{"MisfireCap", c.MisfireCap}, {"DeliveryWorkers", c.DeliveryWorkers}, {"DeliveryAttempts", c.DeliveryAttempts},
	}
	for _, f := range ints {
		if f.v < 0 {
			return bad(f.name, "must not be negative")
		}
	}
	if c.Agents == nil {
		c.Agents = agent.NewRegistry()
	}
	if c.Delivery == nil {
		c.Delivery = delivery.NewRouter()
	}
	if c.Logger == nil {
		c.Logger = log.NewNopLogger()
	}
	if c.Node == "" {
		c.Node = defaultNode()
	}
	if len(c.Node) > 200 {
		return bad("Node", "must be at most 200 bytes")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&c.Workers, WorkersDefault)
	def(&c.Lease, LeaseDefault)
	if c.Lease < LeaseMin {
		return bad("Lease", fmt.Sprintf("must be at least %v", LeaseMin))
	}
	def(&c.PollInterval, PollIntervalDefault)
	def(&c.ReapInterval, min(max(c.Lease/6, 100*time.Millisecond), 5*time.Second))
	def(&c.DefaultTimeout, TimeoutDefault)
	if c.Policy.MaxTimeout > 0 && c.DefaultTimeout > c.Policy.MaxTimeout {
		c.DefaultTimeout = c.Policy.MaxTimeout
	}
	defInt(&c.Retry.MaxAttempts, MaxAttemptsDefault)
	def(&c.Retry.Base, RetryBaseDefault)
	def(&c.Retry.Max, RetryMaxDefault)
	if c.Retry.Max < c.Retry.Base {
		return bad("Retry.Max", "must not be less than Retry.Base")
	}
	def(&c.MisfireThreshold, MisfireThresholdDefault)
	defInt(&c.MisfireCap, MisfireCapDefault)
	def(&c.ResyncInterval, ResyncIntervalDefault)
	def(&c.ShutdownGrace, ShutdownGraceDefault)
	defInt(&c.DeliveryWorkers, DeliveryWorkersDefault)
	defInt(&c.DeliveryAttempts, DeliveryAttemptsDefault)
	def(&c.DeliveryTakeover, DeliveryTakeoverDefault)
	def(&c.DeliveryWaitMax, DeliveryWaitMaxDefault)
	for i, s := range c.Static {
		if s == nil {
			return bad(fmt.Sprintf("Static[%d]", i), "must not be nil")
		}
		if s.Name == "" {
			return bad(fmt.Sprintf("Static[%d].Name", i), "must not be empty")
		}
		for j := range i {
			if ownerOr(c.Static[j].Owner) == ownerOr(s.Owner) && c.Static[j].Name == s.Name {
				return bad(fmt.Sprintf("Static[%d].Name", i), fmt.Sprintf("%q is declared twice", s.Name))
			}
		}
	}
	return c, nil
}

func ownerOr(owner string) string {
	if owner == "" {
		return StaticOwner
	}
	return owner
}

// defaultNode is host name, process id and a random suffix.
func defaultNode() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
