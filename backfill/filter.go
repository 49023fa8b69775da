package backfill

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// NoiseSubtypesDefault are the message subtypes Filter drops by default:
// joins, leaves, topic, purpose and name changes, pins.
var NoiseSubtypesDefault = []string{"channel_join", "channel_leave", "group_join", "group_leave",
	"channel_topic", "channel_purpose", "channel_name", "group_topic", "group_purpose", "group_name",
	"pinned_item", "unpinned_item"}

// Filter drops the messages that are noise. The zero value drops the
// NoiseSubtypesDefault subtypes and bot messages, and keeps messages of any
// length.
type Filter struct {
	// Subtypes are the subtypes dropped; nil means NoiseSubtypesDefault,
	// and an empty, non-nil slice drops none.
	Subtypes []string
	// KeepBots keeps the messages of bots (a bot_id, or subtype
	// bot_message), which are dropped by default.
	KeepBots bool
	// MinLength drops messages whose text, trimmed, is shorter than this
	// many characters; zero keeps every length.
	MinLength int
}

// Reasons a Filter drops a message, the keys of the skipped counts.
const (
	SkippedSubtype = "subtype"
	SkippedBot     = "bot"
	SkippedShort   = "short"
)

// skip says why m is noise, or "" when it is kept.
func (f *Filter) skip(m *Message) string {
	subtypes := f.Subtypes
	if subtypes == nil {
		subtypes = NoiseSubtypesDefault
	}
	switch {
	case m.Subtype != "" && slices.Contains(subtypes, m.Subtype):
		return SkippedSubtype
	case !f.KeepBots && (m.BotID != "" || m.Subtype == "bot_message"):
		return SkippedBot
	case f.MinLength > 0 && utf8.RuneCountInString(strings.TrimSpace(m.Text)) < f.MinLength:
		return SkippedShort
	}
	return ""
}
