package plugins

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
)

// Sentinel errors of the plugins package; match them with errors.Is.
var (
	// ErrUnavailable: the plugin serving the agent or deliverer is not
	// running (it crashed and is being restarted, or it failed its health
	// check). Errors matching it are transient: the scheduler retries the
	// run or the delivery.
	ErrUnavailable = errors.New("plugins: plugin unavailable")
	// ErrClosed: the Manager was closed.
	ErrClosed = errors.New("plugins: manager closed")
	// ErrChecksum: a plugin binary's SHA-256 differs from the configured
	// checksum, so it was not started.
	ErrChecksum = errors.New("plugins: checksum mismatch")
	// ErrChecksumConfig: the configured checksums are not usable: one is
	// not a hex SHA-256 digest, names no plugin, or is missing when
	// checksums are required.
	ErrChecksumConfig = errors.New("plugins: checksum configuration")
)

// RemoteError is an error an agent or a deliverer returned inside its
// plugin process, brought back to the host. Its text is the plugin's error
// text. The classification crosses with it: a plugin's agent.Permanent or
// delivery.Permanent comes back wrapped the same way, its RetryAfter with
// the same delay, and a plugin's context error unwraps to the same
// context.Canceled or context.DeadlineExceeded.
type RemoteError struct {
	// Plugin names the plugin that returned the error.
	Plugin string
	// Message is the error's text in the plugin.
	Message string
	// cause is the context error the plugin's error matched, if any.
	cause error
}

// Error returns the plugin's error text.
func (e *RemoteError) Error() string { return e.Message }

// Unwrap returns context.Canceled or context.DeadlineExceeded when the
// plugin's error matched one of them, nil otherwise.
func (e *RemoteError) Unwrap() error { return e.cause }

// errorClass says how one contract (agent or delivery) marks its errors;
// wire.AgentErrors and wire.DeliveryErrors encode them.
type errorClass struct {
	permanent  func(error) error
	retryAfter func(error, time.Duration) error
}

// agentErrors and deliveryErrors are the classifications of agent.Agent
// and delivery.Deliverer errors.
var (
	agentErrors    = errorClass{agent.Permanent, agent.RetryAfter}
	deliveryErrors = errorClass{delivery.Permanent, delivery.RetryAfter}
)

// decode turns the wire form of an error that plugin returned back into a
// Go error classified as the plugin classified it.
func (c errorClass) decode(plugin string, e *pluginpb.Error) error {
	msg := e.GetMessage()
	if msg == "" {
		msg = fmt.Sprintf("plugins: plugin %q returned an error with no text", plugin)
	}
	re := &RemoteError{Plugin: plugin, Message: msg}
	var err error = re
	switch e.GetCode() {
	case pluginpb.ErrorCode_ERROR_CODE_PERMANENT:
		err = c.permanent(err)
	case pluginpb.ErrorCode_ERROR_CODE_CANCELED:
		re.cause = context.Canceled
	case pluginpb.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED:
		re.cause = context.DeadlineExceeded
	case pluginpb.ErrorCode_ERROR_CODE_INTERNAL:
		re.Message = fmt.Sprintf("plugins: plugin %q failed: %s", plugin, msg)
	}
	if d := e.GetRetryAfter(); d != nil {
		err = c.retryAfter(err, d.AsDuration())
	}
	return err
}
