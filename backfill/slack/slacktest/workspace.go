// Package slacktest is a fake of the Slack Web API methods a backfill reads
// (conversations.list, conversations.history, conversations.replies,
// users.info, users.list, auth.test), served by an httptest.Server on the
// loopback interface. Tests of backfill/slack, of the backfill agent and of
// the example server import it: describe a Workspace, start it with New,
// point slack.Config.BaseURL at Server.URL, and assert on the Server's
// request log.
//
// The fake follows Slack's documented behaviour: history newest first,
// oldest and latest exclusive (unless inclusive=1), opaque cursors,
// limit defaulting to 100 (15 in NonMarketplace mode, which also caps it),
// only thread parents and thread_broadcast replies in history, a thread's
// parent then its replies oldest first, private channels visible to
// members only, ok:false error codes (invalid_auth, token_revoked,
// not_in_channel, channel_not_found, thread_not_found, user_not_found,
// invalid_cursor), and 429 with Retry-After from injected Faults or from
// enforced RateLimits. Generate builds large workspaces whose messages are
// computed on demand, for benchmarks.
package slacktest

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/clock"
)

// DefaultToken is the token a Workspace expects when its Token is empty.
const DefaultToken = "xoxb-slacktest-0000000000-token"

// Workspace is the content and the behaviour of a fake workspace. New reads
// it once; change a running Server through its methods.
type Workspace struct {
	// Token is the bot token requests must carry (form field "token" or
	// "Authorization: Bearer"); default DefaultToken. Another token is
	// answered invalid_auth, none not_authed.
	Token string
	// Channels are the workspace's channels, listed in this order.
	Channels []Channel
	// Users maps user ids to names (users.info, users.list).
	Users map[string]string
	// PageSize, when positive, caps the limit of every paginated method.
	PageSize int
	// NonMarketplace makes conversations.history and conversations.replies
	// default to, and cap, limit at 15, as Slack does for apps outside the
	// Marketplace.
	NonMarketplace bool
	// RateLimits, per method, is the number of requests accepted in any
	// minute of Clock; a request over it is answered 429 with a Retry-After
	// of the seconds until the oldest accepted one leaves the minute.
	RateLimits map[string]int
	// Faults answer chosen requests with an error instead.
	Faults []Fault
	// RepliesParentEveryPage repeats a thread's parent first on every page
	// of conversations.replies; by default only the first page has it.
	RepliesParentEveryPage bool
	// Clock is the clock of the request log and of RateLimits; default
	// clock.System. Pass the clocktest.Clock of the Source under test to
	// share its fake time.
	Clock clock.Clock
}

// Channel is a channel of a Workspace.
type Channel struct {
	// ID ("C0001") and Name ("general", without #).
	ID, Name string
	// Private channels are listed only to members (and only when
	// private_channel is among the types asked for).
	Private bool
	// Archived channels are left out when exclude_archived is set.
	Archived bool
	// Member tells whether the bot is in the channel; history and replies
	// of a public channel it is not in are answered not_in_channel, of a
	// private one channel_not_found.
	Member bool
	// Error, when set, is the code history and replies of the channel are
	// answered with.
	Error string
	// Messages are the channel's top-level messages, in any order; each
	// carries its thread's replies.
	Messages []Message

	gen *genChannel // computes the messages of a generated channel
}

// Message is a message of a Channel, or a reply in a thread.
type Message struct {
	// TS is its timestamp ("1712345678.000200"), unique in the channel.
	// Required.
	TS string
	// User is the author's id; empty for bot messages.
	User string
	// BotID marks a bot's message (use Subtype "bot_message").
	BotID string
	// Subtype: "", "channel_join", "channel_leave", "channel_topic",
	// "channel_purpose", "pinned_item", "bot_message", and on a reply
	// "thread_broadcast" (also shown in history).
	Subtype string
	// Text is the message's text.
	Text string
	// Replies make the message a thread's parent; a reply's TS must be
	// later than its parent's.
	Replies []Message
	// Raw, when set, is sent verbatim as the message's JSON (its TS and
	// thread still place it); by default the JSON is built from the fields.
	Raw json.RawMessage
}

// Fault answers requests with an error: the At-th request of Method (1 is
// the first, counting every request of the method) and the Count-1 after
// it.
type Fault struct {
	// Method is the method it applies to ("" for every method, counted
	// together).
	Method string
	// At is the number of the first request it answers (1-based); Count
	// how many consecutive requests (0 means 1).
	At, Count int
	// Status is the HTTP status (429, 500, 503…); 0 means 200 with
	// {"ok":false,"error":Code}.
	Status int
	// RetryAfter is the Retry-After header's value ("" for none).
	RetryAfter string
	// Code is the error code of the body; default "ratelimited" for 429.
	Code string
}

// RateLimit429 returns a Fault answering count requests of method, from
// the at-th, with 429 and Retry-After: retryAfter seconds (none when
// negative).
func RateLimit429(method string, at, count, retryAfter int) Fault {
	f := Fault{Method: method, At: at, Count: count, Status: 429}
	if retryAfter >= 0 {
		f.RetryAfter = fmt.Sprint(retryAfter)
	}
	return f
}

// TS formats t as a Slack timestamp ("1712345678.000200").
func TS(t time.Time) string {
	return formatTS(t.UnixMicro())
}
