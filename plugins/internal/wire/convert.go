// Package wire converts between Herald's types and their wire form in the
// plugin protocol: tasks, results, messages, progress and errors. Every
// conversion copies: neither side keeps a reference to the other's memory.
// The plugins package and the test plugins use it.
package wire

import (
	"maps"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/heraldhq/herald/agent"
	"github.com/heraldhq/herald/delivery"
	"github.com/heraldhq/herald/plugins/internal/pluginpb"
)

// TaskToPB returns the wire form of t (without its Progress reporter).
func TaskToPB(t *agent.Task) *pluginpb.Task {
	p := &pluginpb.Task{
		RunId:        t.RunID,
		Owner:        t.Owner,
		Agent:        t.Agent,
		ScheduleId:   t.ScheduleID,
		Payload:      t.Payload,
		Trigger:      string(t.Kind),
		ScheduledFor: timeToPB(t.ScheduledFor),
		Attempt:      int32(t.Attempt),
		MaxAttempts:  int32(t.MaxAttempts),
	}
	if e := t.Event; e != nil {
		p.Event = &pluginpb.Event{
			Id:         e.ID,
			Source:     e.Source,
			DeliveryId: e.DeliveryID,
			Body:       e.Body,
			ReceivedAt: timeToPB(e.ReceivedAt),
		}
		if len(e.Headers) > 0 {
			p.Event.Headers = make(map[string]*pluginpb.HeaderValues, len(e.Headers))
			for k, v := range e.Headers {
				p.Event.Headers[k] = &pluginpb.HeaderValues{Values: v}
			}
		}
	}
	return p
}

// TaskFromPB returns the Task of p, with no Progress reporter.
func TaskFromPB(p *pluginpb.Task) *agent.Task {
	t := &agent.Task{
		RunID:        p.GetRunId(),
		Owner:        p.GetOwner(),
		Agent:        p.GetAgent(),
		ScheduleID:   p.GetScheduleId(),
		Payload:      p.GetPayload(),
		Kind:         agent.RunKind(p.GetTrigger()),
		ScheduledFor: timeFromPB(p.GetScheduledFor()),
		Attempt:      int(p.GetAttempt()),
		MaxAttempts:  int(p.GetMaxAttempts()),
	}
	if e := p.GetEvent(); e != nil {
		t.Event = &agent.Event{
			ID:         e.GetId(),
			Source:     e.GetSource(),
			DeliveryID: e.GetDeliveryId(),
			Body:       e.GetBody(),
			ReceivedAt: timeFromPB(e.GetReceivedAt()),
		}
		if len(e.GetHeaders()) > 0 {
			t.Event.Headers = make(map[string][]string, len(e.GetHeaders()))
			for k, v := range e.GetHeaders() {
				t.Event.Headers[k] = v.GetValues()
			}
		}
	}
	return t
}

// ResultToPB returns the wire form of r; nil is an empty result.
func ResultToPB(r *agent.Result) *pluginpb.Result {
	if r == nil {
		return &pluginpb.Result{}
	}
	p := &pluginpb.Result{Output: r.Output, Summary: r.Summary}
	for _, t := range r.Targets {
		p.Targets = append(p.Targets, &pluginpb.Target{Channel: t.Channel, To: t.To})
	}
	return p
}

// ResultFromPB returns the Result of p.
func ResultFromPB(p *pluginpb.Result) *agent.Result {
	r := &agent.Result{Summary: p.GetSummary()}
	if len(p.GetOutput()) > 0 {
		r.Output = p.GetOutput()
	}
	for _, t := range p.GetTargets() {
		r.Targets = append(r.Targets, delivery.Target{Channel: t.GetChannel(), To: t.GetTo()})
	}
	return r
}

// MessageToPB returns the wire form of m.
func MessageToPB(m *delivery.Message) *pluginpb.Message {
	return &pluginpb.Message{
		RunId:          m.RunID,
		Owner:          m.Owner,
		Agent:          m.Agent,
		Status:         m.Status,
		Target:         &pluginpb.Target{Channel: m.Target.Channel, To: m.Target.To},
		Subject:        m.Subject,
		Text:           m.Text,
		Output:         m.Output,
		Error:          m.Error,
		IdempotencyKey: m.IdempotencyKey,
	}
}

// MessageFromPB returns the Message of p.
func MessageFromPB(p *pluginpb.Message) *delivery.Message {
	m := &delivery.Message{
		RunID:          p.GetRunId(),
		Owner:          p.GetOwner(),
		Agent:          p.GetAgent(),
		Status:         p.GetStatus(),
		Target:         delivery.Target{Channel: p.GetTarget().GetChannel(), To: p.GetTarget().GetTo()},
		Subject:        p.GetSubject(),
		Text:           p.GetText(),
		Error:          p.GetError(),
		IdempotencyKey: p.GetIdempotencyKey(),
	}
	if len(p.GetOutput()) > 0 {
		m.Output = p.GetOutput()
	}
	return m
}

// ProgressToPB returns the wire form of a progress report.
func ProgressToPB(counters map[string]int64) *pluginpb.RunEvent {
	return &pluginpb.RunEvent{Event: &pluginpb.RunEvent_Progress{
		Progress: &pluginpb.Progress{Counters: maps.Clone(counters)},
	}}
}

// timeToPB returns the wire form of t; the zero time is unset.
func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

// timeFromPB returns the time of p; unset is the zero time.
func timeFromPB(p *timestamppb.Timestamp) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.AsTime()
}
