package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	slackapi "github.com/slack-go/slack"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/clock"
)

// channelsPageSize is the limit of conversations.list: its pages are
// filtered after they are cut, so they can be sparse, and Tier 2 is the
// scarcest budget; Slack accepts up to 999.
const channelsPageSize = 999

// Source reads one Slack workspace through the Web API. It implements
// backfill.Source and backfill.Waiter; its methods are safe for concurrent
// use. Make one with New.
type Source struct {
	api            *slackapi.Client // holds the token; nothing else does
	baseURL        string
	clock          clock.Clock
	logger         log.Logger
	maxRetries     int
	nonMarketplace bool
	limiters       map[string]*limiter
	onWait         atomic.Pointer[func(method string, d time.Duration)]
	users          users
}

var (
	_ backfill.Source = (*Source)(nil)
	_ backfill.Waiter = (*Source)(nil)
)

// New returns a Source reading the workspace of cfg.Token.
func New(cfg Config) (*Source, error) {
	c, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &Source{
		api: slackapi.New(c.token,
			slackapi.OptionAPIURL(c.baseURL),
			slackapi.OptionHTTPClient(captureClient{client: c.httpClient}),
			// slack-go logs only in debug mode, which stays off; its
			// default logger writes to stderr, so replace it anyway.
			slackapi.OptionLog(stdlog.New(io.Discard, "", 0)),
		),
		baseURL:        c.baseURL,
		clock:          c.clock,
		logger:         c.logger,
		maxRetries:     c.maxRetries,
		nonMarketplace: c.nonMarketplace,
		limiters:       make(map[string]*limiter, len(c.rateLimits)),
		users:          users{after: c.usersListAfter},
	}
	for method, perMinute := range c.rateLimits {
		s.limiters[method] = newLimiter(method, perMinute)
	}
	return s, nil
}

// String describes s without its token.
func (s *Source) String() string {
	return fmt.Sprintf("slack.Source{BaseURL:%s Token:%s NonMarketplace:%t}", s.baseURL, redacted, s.nonMarketplace)
}

// GoString describes s without its token, for %#v.
func (s *Source) GoString() string { return s.String() }

// Format prints s without its token, whatever the verb or flags.
func (s *Source) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// OnWait sets f to be called after each wait for a rate limit: the
// method's own limiter, or a 429's Retry-After. f must be safe for
// concurrent use; nil stops the calls.
func (s *Source) OnWait(f func(method string, d time.Duration)) {
	if f == nil {
		s.onWait.Store(nil)
		return
	}
	s.onWait.Store(&f)
}

// Channels lists the workspace's public and private channels the token
// can see (a bot sees the private channels it is in), following every page
// of conversations.list; archived channels only with
// params.IncludeArchived.
func (s *Source) Channels(ctx context.Context, params backfill.ChannelsParams) ([]backfill.Channel, error) {
	var out []backfill.Channel
	cursor := ""
	for {
		p := &slackapi.GetConversationsParameters{
			Cursor:          cursor,
			ExcludeArchived: !params.IncludeArchived,
			Limit:           channelsPageSize,
			Types:           []string{"public_channel", "private_channel"},
		}
		var (
			page []slackapi.Channel
			next string
		)
		_, err := s.call(ctx, MethodConversationsList, func(ctx context.Context) error {
			var err error
			page, next, err = s.api.GetConversationsContext(ctx, p)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, ch := range page {
			if ch.IsArchived && !params.IncludeArchived {
				continue
			}
			out = append(out, backfill.Channel{
				ID:       ch.ID,
				Name:     ch.Name,
				Private:  ch.IsPrivate,
				Archived: ch.IsArchived,
				Member:   ch.IsMember,
			})
		}
		if next == "" {
			return out, nil
		}
		cursor = next
	}
}

// History returns one page of conversations.history: the channel's
// messages (thread parents and broadcast replies) newest first, strictly
// between params.Oldest and params.Latest.
func (s *Source) History(ctx context.Context, params backfill.HistoryParams) (*backfill.Page, error) {
	if params.Channel == "" {
		return nil, errors.New("slack: conversations.history: Channel is required")
	}
	p := &slackapi.GetConversationHistoryParameters{
		ChannelID: params.Channel,
		Cursor:    params.Cursor,
		Latest:    params.Latest,
		Oldest:    params.Oldest,
		Limit:     s.pageSize(params.Limit),
	}
	var resp *slackapi.GetConversationHistoryResponse
	cp, err := s.call(ctx, MethodConversationsHistory, func(ctx context.Context) error {
		var err error
		resp, err = s.api.GetConversationHistoryContext(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	msgs, err := messages(MethodConversationsHistory, resp.Messages, cp.body)
	if err != nil {
		return nil, err
	}
	return &backfill.Page{Messages: msgs, Next: resp.ResponseMetaData.NextCursor}, nil
}

// Replies returns one page of conversations.replies: the thread's parent,
// then its replies oldest first (Slack sends the parent on the first page).
func (s *Source) Replies(ctx context.Context, params backfill.RepliesParams) (*backfill.Page, error) {
	if params.Channel == "" || params.ThreadTS == "" {
		return nil, errors.New("slack: conversations.replies: Channel and ThreadTS are required")
	}
	p := &slackapi.GetConversationRepliesParameters{
		ChannelID: params.Channel,
		Timestamp: params.ThreadTS,
		Cursor:    params.Cursor,
		Latest:    params.Latest,
		Oldest:    params.Oldest,
		Limit:     s.pageSize(params.Limit),
	}
	var (
		page []slackapi.Message
		next string
	)
	cp, err := s.call(ctx, MethodConversationsReplies, func(ctx context.Context) error {
		var err error
		page, _, next, err = s.api.GetConversationRepliesContext(ctx, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	msgs, err := messages(MethodConversationsReplies, page, cp.body)
	if err != nil {
		return nil, err
	}
	return &backfill.Page{Messages: msgs, Next: next}, nil
}

// pageSize is the limit to ask for: PageSizeDefault for zero, capped at
// PageSizeMax, or at NonMarketplacePageSizeMax for non-Marketplace apps.
func (s *Source) pageSize(limit int) int {
	ceiling := PageSizeMax
	if s.nonMarketplace {
		ceiling = NonMarketplacePageSizeMax
	}
	if limit <= 0 {
		limit = PageSizeDefault
	}
	return min(limit, ceiling)
}

// messages converts slack-go's messages, adding to each its JSON as Slack
// sent it, cut from the response body.
func messages(method string, in []slackapi.Message, body []byte) ([]backfill.Message, error) {
	var raw struct {
		Messages []json.RawMessage `json:"messages"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("slack: %s: decode messages: %w", method, err)
	}
	if len(raw.Messages) != len(in) {
		return nil, fmt.Errorf("slack: %s: %d raw messages for %d decoded", method, len(raw.Messages), len(in))
	}
	out := make([]backfill.Message, len(in))
	for i, m := range in {
		out[i] = backfill.Message{
			TS:          m.Timestamp,
			ThreadTS:    m.ThreadTimestamp,
			User:        m.User,
			BotID:       m.BotID,
			Subtype:     m.SubType,
			Text:        m.Text,
			ReplyCount:  m.ReplyCount,
			LatestReply: m.LatestReply,
			Raw:         raw.Messages[i],
		}
	}
	return out, nil
}
