package slacktest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// parseTS reads a Slack timestamp ("1712345678.000200", "1712345678",
// "1712345678.5") as microseconds since the epoch.
func parseTS(s string) (int64, error) {
	secPart, fracPart, _ := strings.Cut(s, ".")
	sec, err := strconv.ParseInt(secPart, 10, 64)
	if err != nil || sec < 0 || sec > 1<<40 || len(fracPart) > 6 {
		return 0, fmt.Errorf("bad timestamp %q", s)
	}
	var micro int64
	if fracPart != "" {
		micro, err = strconv.ParseInt((fracPart + "000000")[:6], 10, 64)
		if err != nil || micro < 0 {
			return 0, fmt.Errorf("bad timestamp %q", s)
		}
	}
	return sec*1_000_000 + micro, nil
}

// formatTS writes microseconds since the epoch as a Slack timestamp.
func formatTS(micros int64) string {
	return fmt.Sprintf("%d.%06d", micros/1_000_000, micros%1_000_000)
}

// entry is one message as the fake serves it.
type entry struct {
	ts   int64
	json []byte
}

// timeline is a channel's messages as the fake reads them: its history
// (thread parents, other top-level messages and broadcast replies) in
// ascending ts order, and its threads.
type timeline interface {
	// len is the number of history messages.
	len() int
	// ts and message return the i-th history message's ts and JSON.
	ts(i int) int64
	message(i int) []byte
	// thread returns the top-level message at ts and its replies in
	// ascending order; ok is false when no top-level message has that ts.
	thread(ts int64) (parent entry, replies []entry, ok bool)
}

// wireMessage is the JSON of a message, as Slack writes it.
type wireMessage struct {
	Type            string   `json:"type"`
	Subtype         string   `json:"subtype,omitempty"`
	User            string   `json:"user,omitempty"`
	BotID           string   `json:"bot_id,omitempty"`
	Username        string   `json:"username,omitempty"`
	Text            string   `json:"text"`
	TS              string   `json:"ts"`
	ThreadTS        string   `json:"thread_ts,omitempty"`
	ReplyCount      int      `json:"reply_count,omitempty"`
	ReplyUsersCount int      `json:"reply_users_count,omitempty"`
	LatestReply     string   `json:"latest_reply,omitempty"`
	ReplyUsers      []string `json:"reply_users,omitempty"`
	ParentUserID    string   `json:"parent_user_id,omitempty"`
	Team            string   `json:"team,omitempty"`
}

const teamID = "T0SLACKTEST"

func marshal(w wireMessage) []byte {
	w.Type = "message"
	if w.User != "" {
		w.Team = teamID
	}
	if w.BotID != "" && w.User == "" {
		w.Username = "bot " + w.BotID
	}
	b, err := json.Marshal(w)
	if err != nil {
		panic(err) // a struct of strings and ints always marshals
	}
	return b
}

// staticTimeline holds a Channel's Messages.
type staticTimeline struct {
	history []entry
	threads map[int64]*staticThread
}

type staticThread struct {
	parent  entry
	replies []entry
}

func (t *staticTimeline) len() int             { return len(t.history) }
func (t *staticTimeline) ts(i int) int64       { return t.history[i].ts }
func (t *staticTimeline) message(i int) []byte { return t.history[i].json }

func (t *staticTimeline) thread(ts int64) (entry, []entry, bool) {
	th, ok := t.threads[ts]
	if !ok {
		return entry{}, nil, false
	}
	return th.parent, th.replies, true
}

// newStaticTimeline indexes a channel's messages.
func newStaticTimeline(msgs []Message) (*staticTimeline, error) {
	t := &staticTimeline{threads: make(map[int64]*staticThread, len(msgs))}
	seen := make(map[int64]bool)
	for _, m := range msgs {
		ts, err := parseTS(m.TS)
		if err != nil {
			return nil, err
		}
		if seen[ts] {
			return nil, fmt.Errorf("two messages at ts %s", m.TS)
		}
		seen[ts] = true
		if m.Subtype == "thread_broadcast" {
			return nil, fmt.Errorf("message %s: thread_broadcast is a reply's subtype", m.TS)
		}
		th := &staticThread{}
		var users []string
		for _, r := range m.Replies {
			rts, err := parseTS(r.TS)
			if err != nil {
				return nil, err
			}
			if rts <= ts {
				return nil, fmt.Errorf("reply %s is not later than its parent %s", r.TS, m.TS)
			}
			if seen[rts] {
				return nil, fmt.Errorf("two messages at ts %s", r.TS)
			}
			if len(r.Replies) > 0 {
				return nil, fmt.Errorf("reply %s has replies", r.TS)
			}
			seen[rts] = true
			if r.User != "" && !slices.Contains(users, r.User) {
				users = append(users, r.User)
			}
			w := fields(r)
			w.ThreadTS = m.TS
			w.ParentUserID = m.User
			body, err := raw(r, w)
			if err != nil {
				return nil, err
			}
			e := entry{ts: rts, json: body}
			th.replies = append(th.replies, e)
			if r.Subtype == "thread_broadcast" {
				t.history = append(t.history, e)
			}
		}
		slices.SortFunc(th.replies, func(a, b entry) int { return cmp.Compare(a.ts, b.ts) })
		w := fields(m)
		if len(th.replies) > 0 {
			w.ThreadTS = m.TS
			w.ReplyCount = len(th.replies)
			w.ReplyUsers = users
			w.ReplyUsersCount = len(users)
			w.LatestReply = formatTS(th.replies[len(th.replies)-1].ts)
		}
		body, err := raw(m, w)
		if err != nil {
			return nil, err
		}
		th.parent = entry{ts: ts, json: body}
		t.threads[ts] = th
		t.history = append(t.history, th.parent)
	}
	slices.SortFunc(t.history, func(a, b entry) int { return cmp.Compare(a.ts, b.ts) })
	return t, nil
}

func fields(m Message) wireMessage {
	return wireMessage{Subtype: m.Subtype, User: m.User, BotID: m.BotID, Text: m.Text, TS: m.TS}
}

// raw is m.Raw when set, else w's JSON.
func raw(m Message, w wireMessage) ([]byte, error) {
	if m.Raw == nil {
		return marshal(w), nil
	}
	if !json.Valid(m.Raw) || !strings.HasPrefix(strings.TrimSpace(string(m.Raw)), "{") {
		return nil, errors.New("message " + m.TS + ": Raw is not a JSON object")
	}
	return slices.Clone(m.Raw), nil
}
