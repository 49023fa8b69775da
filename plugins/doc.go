// Package plugins runs Herald agents and deliverers out of process, as
// plugin binaries, over HashiCorp go-plugin and gRPC. It has two audiences.
//
// Plugin authors write ordinary agent.Agent and delivery.Deliverer values
// and serve them from main with one call; they never see gRPC or protobuf:
//
//	func main() {
//		plugins.Serve(plugins.ServeConfig{
//			Agents:     map[string]agent.Agent{"wordcount": wordCount{}},
//			Deliverers: map[string]delivery.Deliverer{"push": push{}},
//		})
//	}
//
// Hosts start plugin binaries with a Manager and register what they serve
// beside their in-process agents and channels:
//
//	m, err := plugins.NewManager(plugins.Config{Dir: "plugins", Checksums: sums, Logger: logger})
//	if err != nil { … }
//	defer m.Close()
//	for name, a := range m.Agents() {
//		registry.MustRegister(name, a)
//	}
//	for name, d := range m.Deliverers() {
//		router.MustRegister(name, d)
//	}
//
// # What crosses the boundary
//
// Every field of agent.Task (but its Progress reporter, which becomes a
// stream of progress reports back to the host's), agent.Result and
// delivery.Message. Cancellation and deadlines cross with the call: cancel
// a run and the plugin's context ends at once, and the run's deadline is
// the plugin's. Errors cross as codes and
// come back as the same Go errors: agent.Permanent and delivery.Permanent
// stay what they were, RetryAfter keeps its delay, a context error still
// matches context.Canceled or context.DeadlineExceeded, and the text is the
// plugin's (a *RemoteError). A plugin that panics fails the call with a
// transient error naming it; the plugin keeps serving.
//
// # Supervision
//
// The Manager verifies each binary's SHA-256 when a checksum is configured
// (constant-time compare; a mismatch refuses to start it, with an error
// naming the file), starts it with go-plugin's AutoMTLS (one-time
// certificates; plugins not written in Go get plain gRPC on a local
// socket unless told otherwise, see TLSMode), routes its stderr and
// go-plugin's logs into the go-kit logger under a "plugin" key, checks its
// health, and restarts it with backoff when it crashes: calls in flight
// fail with an error matching ErrUnavailable, which the scheduler retries;
// calls made during the restart wait for it. Close stops every plugin.
//
// No plugin outlives its host, even one killed with SIGKILL: on Linux the
// host starts each plugin with a parent-death signal (SIGKILL), and on
// every system a plugin served by Serve watches its parent process and
// exits when it is gone.
//
// # Protocol
//
// The wire protocol is plugins/proto/herald/plugin/v1/plugin.proto,
// protocol version 1; plugins in other languages implement it with
// go-plugin's handshake (the proto file says how). A plugin served by Serve
// offers sessions: the host sends all its agents' runs over one long-lived
// stream per process, which costs a run far less than a call of its own.
// A plugin that does not (it need implement only Describe and Run) gets a
// Run call per run; Status.Sessions says which a plugin got. Serve's binaries also
// print what they serve as JSON when run with -describe, and explain
// themselves when run by hand.
package plugins
