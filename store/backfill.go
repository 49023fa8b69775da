package store

import (
	"context"
	"encoding/json"
	"time"
)

// CursorKey names one backfilled channel.
type CursorKey struct {
	Source    string
	Workspace string
	Channel   string
}

// Cursor is how far a backfill of one channel got.
type Cursor struct {
	CursorKey
	// Latest is the newest message timestamp stored; the next sweep fetches
	// what is newer.
	Latest string
	// PageCursor resumes a sweep that stopped between pages; empty when the
	// last sweep completed.
	PageCursor string
	// UpdatedAt is set by the store.
	UpdatedAt time.Time
}

// Message is one collected chat message.
type Message struct {
	// Source, Workspace, Channel and TS identify the message; TS is the
	// source's message timestamp ("1712345678.000200" on Slack). All are
	// required.
	Source    string
	Workspace string
	Channel   string
	TS        string
	// ThreadTS is the timestamp of the thread's parent, for replies.
	ThreadTS string
	// User is the author's id; UserName the resolved name.
	User     string
	UserName string
	// Text is the message text.
	Text string
	// Raw is the message as the source sent it (JSON).
	Raw json.RawMessage
	// CollectedAt is set by the store when the message is first stored.
	CollectedAt time.Time
}

// MessageListParams selects the messages of one channel.
type MessageListParams struct {
	CursorKey
	// After, when set, keeps messages with TS after it (the cursor of the
	// next page is the TS of the last message).
	After string
	// Limit caps the page size: zero means ListLimitDefault, and it is at
	// most ListLimitMax.
	Limit int
}

// CursorStore keeps backfill cursors.
type CursorStore interface {
	// CursorGet returns the cursor of a channel, or ErrNotFound.
	CursorGet(ctx context.Context, key CursorKey) (*Cursor, error)
	// CursorSet creates or replaces the cursor of a channel.
	CursorSet(ctx context.Context, c *Cursor) (*Cursor, error)
}

// MessageStore keeps collected messages.
type MessageStore interface {
	// MessageUpsert inserts or updates messages keyed by (Source, Workspace,
	// Channel, TS), all in one transaction, and returns how many were new.
	// An update replaces ThreadTS, User, UserName, Text and Raw and keeps
	// CollectedAt.
	MessageUpsert(ctx context.Context, msgs ...*Message) (int, error)
	// MessageList returns messages of one channel in ascending TS order.
	MessageList(ctx context.Context, params *MessageListParams) ([]*Message, error)
}
