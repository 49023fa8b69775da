package backfill

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Channel is a conversation a Source can read.
type Channel struct {
	// ID is the source's id of the channel ("C012AB3CD").
	ID string
	// Name is its name, without a leading #.
	Name string
	// Private marks a private channel.
	Private bool
	// Archived marks an archived channel.
	Archived bool
	// Member reports whether the reading bot is a member (a bot reads
	// only the channels it is in).
	Member bool
}

// ChannelsParams selects the channels Channels lists.
type ChannelsParams struct {
	// IncludeArchived lists archived channels too.
	IncludeArchived bool
}

// Message is one message as a Source returns it.
type Message struct {
	// TS is the message's timestamp, its id within the channel
	// ("1712345678.000200").
	TS string
	// ThreadTS is the timestamp of its thread's parent; equal to TS on a
	// parent, empty outside threads.
	ThreadTS string
	// User is the author's id; empty for some bot and system messages.
	User string
	// BotID is set on messages posted by a bot.
	BotID string
	// Subtype is the source's kind of message ("channel_join",
	// "bot_message", …); empty for an ordinary message.
	Subtype string
	// Text is the message text.
	Text string
	// ReplyCount and LatestReply describe the thread of a parent message.
	ReplyCount  int
	LatestReply string
	// Raw is the message as the source sent it (JSON).
	Raw json.RawMessage
}

// HistoryParams selects one page of a channel's history.
type HistoryParams struct {
	// Channel is the channel's id. Required.
	Channel string
	// Oldest and Latest bound the messages' timestamps, both exclusive;
	// empty means unbounded.
	Oldest, Latest string
	// Cursor continues a listing: the Next of the page before.
	Cursor string
	// Limit caps the page size; zero means the source's default.
	Limit int
}

// RepliesParams selects one page of a thread's replies.
type RepliesParams struct {
	// Channel and ThreadTS name the thread. Required.
	Channel, ThreadTS string
	// Oldest and Latest bound the replies' timestamps, both exclusive;
	// empty means unbounded.
	Oldest, Latest string
	// Cursor continues a listing: the Next of the page before.
	Cursor string
	// Limit caps the page size; zero means the source's default.
	Limit int
}

// Page is one page of messages.
type Page struct {
	// Messages are the page's messages, in the source's order (Slack's
	// history is newest first; a thread's replies oldest first, the
	// parent first of all).
	Messages []Message
	// Next is the cursor of the next page; empty on the last page.
	Next string
}

// Source reads a chat workspace's history. backfill/slack implements it on
// Slack's Web API; tests use a fake. Its methods are safe for concurrent
// use, and wait out the source's rate limits themselves (honouring ctx).
type Source interface {
	// Channels lists the channels of the workspace.
	Channels(ctx context.Context, params ChannelsParams) ([]Channel, error)
	// History returns one page of a channel's top-level messages (thread
	// parents, and replies also sent to the channel).
	History(ctx context.Context, params HistoryParams) (*Page, error)
	// Replies returns one page of a thread: its parent, then its replies.
	Replies(ctx context.Context, params RepliesParams) (*Page, error)
	// UserName returns the display name of a user id.
	UserName(ctx context.Context, user string) (string, error)
}

// Errors a Source returns, matched with errors.Is. A Source's own errors
// (Slack's codes) wrap or match them.
var (
	// ErrWorkspace: the workspace cannot be read at all (its token is
	// invalid, revoked, or its account inactive): the run fails at once.
	ErrWorkspace = errors.New("backfill: workspace cannot be read")
	// ErrChannel: this channel cannot be read (the bot is not in it, it
	// does not exist): the channel fails, the other channels go on.
	ErrChannel = errors.New("backfill: channel cannot be read")
)

// Waiter is an optional capability of a Source: it reports each wait for
// a rate limit (its own limiter, or a 429's Retry-After), so that the
// agent can count them in the run's progress.
type Waiter interface {
	// OnWait sets f to be called after each wait, with how long it was.
	OnWait(f func(method string, d time.Duration))
}
