package agent_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/heraldhq/herald/agent"
)

func TestErrorWrappersNil(t *testing.T) {
	if err := agent.Permanent(nil); err != nil {
		t.Errorf("Permanent(nil) = %v", err)
	}
	if err := agent.RetryAfter(nil, time.Second); err != nil {
		t.Errorf("RetryAfter(nil) = %v", err)
	}
	if agent.IsPermanent(nil) {
		t.Error("IsPermanent(nil) = true")
	}
	if d, ok := agent.RetryDelay(nil); ok {
		t.Errorf("RetryDelay(nil) = %v, true", d)
	}
}

func TestErrorWrappers(t *testing.T) {
	base := &fs.PathError{Op: "open", Path: "report.csv", Err: fs.ErrNotExist}
	for _, tc := range []struct {
		name    string
		err     error
		text    string
		noRetry bool
		delay   time.Duration
		delayOK bool
	}{
		{name: "plain", err: base, text: base.Error()},
		{name: "no retry", err: agent.Permanent(base), text: base.Error(), noRetry: true},
		{name: "retry after", err: agent.RetryAfter(base, time.Minute), text: base.Error(), delay: time.Minute, delayOK: true},
		{name: "retry after zero", err: agent.RetryAfter(base, 0), text: base.Error(), delayOK: true},
		{name: "retry after negative", err: agent.RetryAfter(base, -time.Second), text: base.Error(), delayOK: true},
		{
			name: "wrapped no retry", err: fmt.Errorf("fetch: %w", agent.Permanent(base)),
			text: "fetch: " + base.Error(), noRetry: true,
		},
		{
			name: "wrapped retry after", err: fmt.Errorf("fetch: %w", agent.RetryAfter(base, time.Second)),
			text: "fetch: " + base.Error(), delay: time.Second, delayOK: true,
		},
		{
			name: "both", err: agent.RetryAfter(agent.Permanent(base), time.Second),
			text: base.Error(), noRetry: true, delay: time.Second, delayOK: true,
		},
		{
			name: "outermost delay", err: agent.RetryAfter(fmt.Errorf("again: %w", agent.RetryAfter(base, time.Hour)), time.Second),
			text: "again: " + base.Error(), delay: time.Second, delayOK: true,
		},
		{
			name: "joined", err: errors.Join(errors.New("first"), agent.Permanent(agent.RetryAfter(base, time.Second))),
			text: "first\n" + base.Error(), noRetry: true, delay: time.Second, delayOK: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.text {
				t.Errorf("Error() = %q, want %q", got, tc.text)
			}
			if !errors.Is(tc.err, fs.ErrNotExist) {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", tc.err)
			}
			if pe, ok := errors.AsType[*fs.PathError](tc.err); !ok || pe != base {
				t.Errorf("errors.As(%v, *fs.PathError) = %v, %t; want the wrapped error", tc.err, pe, ok)
			}
			if got := agent.IsPermanent(tc.err); got != tc.noRetry {
				t.Errorf("IsPermanent = %t, want %t", got, tc.noRetry)
			}
			if d, ok := agent.RetryDelay(tc.err); d != tc.delay || ok != tc.delayOK {
				t.Errorf("RetryDelay = %v, %t; want %v, %t", d, ok, tc.delay, tc.delayOK)
			}
		})
	}
}

// TestErrorWrappersKeepSentinels checks that a classified Registry error
// still matches its sentinel.
func TestErrorWrappersKeepSentinels(t *testing.T) {
	_, err := agent.NewRegistry().Lookup("missing")
	err = agent.Permanent(err)
	if !errors.Is(err, agent.ErrUnknown) || !agent.IsPermanent(err) {
		t.Errorf("Permanent(Lookup error) = %v: Is ErrUnknown %t, IsPermanent %t", err,
			errors.Is(err, agent.ErrUnknown), agent.IsPermanent(err))
	}
}
