package wire

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
)

// ErrorClass says how one contract (agent or delivery) marks its errors.
type ErrorClass struct {
	IsPermanent func(error) bool
	RetryDelay  func(error) (time.Duration, bool)
}

// AgentErrors and DeliveryErrors are the classifications of agent.Agent
// and delivery.Deliverer errors.
var (
	AgentErrors    = ErrorClass{agent.IsPermanent, agent.RetryDelay}
	DeliveryErrors = ErrorClass{delivery.IsPermanent, delivery.RetryDelay}
)

// Encode turns an agent's or deliverer's error into its wire form.
func (c ErrorClass) Encode(err error) *pluginpb.Error {
	e := &pluginpb.Error{Code: pluginpb.ErrorCode_ERROR_CODE_TRANSIENT, Message: err.Error()}
	switch {
	case c.IsPermanent(err):
		e.Code = pluginpb.ErrorCode_ERROR_CODE_PERMANENT
	case errors.Is(err, context.Canceled):
		e.Code = pluginpb.ErrorCode_ERROR_CODE_CANCELED
	case errors.Is(err, context.DeadlineExceeded):
		e.Code = pluginpb.ErrorCode_ERROR_CODE_DEADLINE_EXCEEDED
	}
	if d, ok := c.RetryDelay(err); ok {
		e.RetryAfter = durationpb.New(d)
	}
	return e
}

// InternalError is the wire form of a failure of the plugin machinery
// itself (a panic, an unknown name).
func InternalError(format string, args ...any) *pluginpb.Error {
	return &pluginpb.Error{Code: pluginpb.ErrorCode_ERROR_CODE_INTERNAL, Message: fmt.Sprintf(format, args...)}
}
