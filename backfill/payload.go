package backfill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/store"
)

// DaysDefault is how far back a backfill reaches when its payload says
// neither days_to_backfill nor since.
const DaysDefault = 7

// DaysMax bounds days_to_backfill.
const DaysMax = 3650

// Payload is what a backfill run is asked to do: the JSON of its run's
// payload. Its field names are those of the admin APIs of the backfill
// services Herald replaces.
type Payload struct {
	// WorkspaceID names the workspace. Required.
	WorkspaceID string `json:"workspace_id"`
	// DaysToBackfill is how many days back messages are collected; nil
	// means DaysDefault. Messages older are never collected.
	DaysToBackfill *int `json:"days_to_backfill,omitempty"`
	// Since, instead of DaysToBackfill, is the instant from which
	// messages are collected (RFC 3339).
	Since *time.Time `json:"since,omitempty"`
	// IncludeAllChannels reads every channel of the workspace (archived
	// ones excepted); nil means true. When false, ChannelIDs says which.
	IncludeAllChannels *bool `json:"include_all_channels,omitempty"`
	// ChannelIDs are the channels to read when IncludeAllChannels is false.
	ChannelIDs []string `json:"channel_ids,omitempty"`
	// IncludeThreads follows threads, collecting their replies; nil means
	// true.
	IncludeThreads *bool `json:"include_threads,omitempty"`
}

// ParsePayload reads and checks a backfill run's payload. Its errors are
// *store.ValidationError values naming the JSON field ("days_to_backfill").
func ParsePayload(raw json.RawMessage) (*Payload, error) {
	var p Payload
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, store.Invalid("workspace_id", "is required")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return nil, store.Invalid(te.Field, "has the wrong type")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return nil, store.Invalid(strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`),
				"is not a field of a backfill payload (workspace_id, days_to_backfill, since, include_all_channels, channel_ids, include_threads)")
		}
		return nil, store.Invalid("payload", "must be a JSON object")
	}
	switch {
	case p.WorkspaceID == "":
		return nil, store.Invalid("workspace_id", "is required")
	case p.DaysToBackfill != nil && p.Since != nil:
		return nil, store.Invalid("since", "excludes days_to_backfill: give one of them")
	case p.DaysToBackfill != nil && (*p.DaysToBackfill < 1 || *p.DaysToBackfill > DaysMax):
		return nil, store.Invalid("days_to_backfill", fmt.Sprintf("must be between 1 and %d", DaysMax))
	case p.IncludeAllChannels != nil && !*p.IncludeAllChannels && len(p.ChannelIDs) == 0:
		return nil, store.Invalid("channel_ids", "is required when include_all_channels is false")
	}
	for i, id := range p.ChannelIDs {
		if id == "" || len(id) > 64 || strings.ContainsAny(id, " \t\r\n/") {
			return nil, store.Invalid(fmt.Sprintf("channel_ids[%d]", i), "must be a channel id such as C012AB3CD")
		}
	}
	return &p, nil
}

// windowStart is the oldest instant the run collects.
func (p *Payload) windowStart(now time.Time) time.Time {
	if p.Since != nil {
		return *p.Since
	}
	days := DaysDefault
	if p.DaysToBackfill != nil {
		days = *p.DaysToBackfill
	}
	return now.Add(-time.Duration(days) * 24 * time.Hour)
}

func (p *Payload) allChannels() bool { return p.IncludeAllChannels == nil || *p.IncludeAllChannels }
func (p *Payload) threads() bool     { return p.IncludeThreads == nil || *p.IncludeThreads }
