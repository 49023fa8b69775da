package slacktest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"time"
)

// GenerateParams sizes a generated workspace. Zero values mean the
// defaults.
type GenerateParams struct {
	// Channels is the number of channels (public, the bot a member);
	// default 10.
	Channels int
	// Messages is the number of top-level messages per channel; default
	// 1000.
	Messages int
	// ThreadEvery makes every ThreadEvery-th top-level message (the 0th,
	// the ThreadEvery-th, …) a thread's parent; default 10, negative for
	// no threads.
	ThreadEvery int
	// Replies is the number of replies per thread; default 3.
	Replies int
	// Users is the number of users (U0000000, U0000001, …); default 50.
	Users int
	// Start is the time of every channel's oldest message; default
	// 2025-01-01T00:00:00Z.
	Start time.Time
	// Interval separates a channel's top-level messages; default one
	// minute. A thread's replies fall between its parent and the next
	// message.
	Interval time.Duration
}

func (p GenerateParams) withDefaults() GenerateParams {
	if p.Channels <= 0 {
		p.Channels = 10
	}
	if p.Messages <= 0 {
		p.Messages = 1000
	}
	if p.ThreadEvery == 0 {
		p.ThreadEvery = 10
	}
	if p.Replies <= 0 {
		p.Replies = 3
	}
	if p.Users <= 0 {
		p.Users = 50
	}
	if p.Start.IsZero() {
		p.Start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if p.Interval <= 0 {
		p.Interval = time.Minute
	}
	return p
}

// Total returns the number of messages a generated workspace holds, replies
// included.
func (p GenerateParams) Total() int {
	p = p.withDefaults()
	perChannel := p.Messages
	if p.ThreadEvery > 0 {
		perChannel += (p.Messages + p.ThreadEvery - 1) / p.ThreadEvery * p.Replies
	}
	return p.Channels * perChannel
}

// Generate returns a workspace of p.Channels channels ("C0000000",
// "general-0", …) of p.Messages top-level messages each, with threads,
// about 1% channel_join and 1% bot_message messages, and p.Users users.
// The same p always gives the same workspace. Messages are computed when a
// request reads them, not stored: a million messages cost no memory.
//
// Generate panics if Interval is too short to hold a thread's replies
// (one microsecond apart).
func Generate(p GenerateParams) *Workspace {
	p = p.withDefaults()
	step := p.Interval.Microseconds() / int64(p.Replies+1)
	if step < 1 {
		panic(fmt.Sprintf("slacktest: Generate: Interval %v too short for %d replies", p.Interval, p.Replies))
	}
	ws := &Workspace{Users: make(map[string]string, p.Users)}
	for u := range p.Users {
		ws.Users[userID(u)] = fmt.Sprintf("User %d", u)
	}
	ws.Channels = make([]Channel, p.Channels)
	for c := range p.Channels {
		ws.Channels[c] = Channel{
			ID:     fmt.Sprintf("C%07d", c),
			Name:   fmt.Sprintf("general-%d", c),
			Member: true,
			gen: &genChannel{
				p:        p,
				channel:  c,
				start:    p.Start.UnixMicro(),
				interval: p.Interval.Microseconds(),
				step:     step,
			},
		}
	}
	return ws
}

func userID(u int) string { return fmt.Sprintf("U%07d", u) }

// genChannel computes a generated channel's messages.
type genChannel struct {
	p        GenerateParams
	channel  int
	start    int64 // µs
	interval int64 // µs between top-level messages
	step     int64 // µs between a thread's replies
}

var words = []string{
	"deploy finished", "can someone review this?", "lunch?", "the build is red again",
	"LGTM", "shipping it", "see the runbook", "on call today", "thanks!", "rolling back",
}

func (g *genChannel) len() int { return g.p.Messages }

func (g *genChannel) ts(i int) int64 { return g.start + int64(i)*g.interval }

func (g *genChannel) isParent(i int) bool {
	return g.p.ThreadEvery > 0 && i%g.p.ThreadEvery == 0
}

func (g *genChannel) hash(i, j int) uint32 {
	h := fnv.New32a()
	_, _ = fmt.Fprintf(h, "%d/%d/%d", g.channel, i, j)
	return h.Sum32()
}

func (g *genChannel) user(i, j int) string {
	return userID(int(g.hash(i, j) % uint32(g.p.Users)))
}

func (g *genChannel) message(i int) []byte {
	ts := formatTS(g.ts(i))
	w := wireMessage{TS: ts, User: g.user(i, 0)}
	switch {
	case g.isParent(i):
		w.Text = fmt.Sprintf("thread %d: %s", i, words[g.hash(i, 0)%uint32(len(words))])
		w.ThreadTS = ts
		w.ReplyCount = g.p.Replies
		w.LatestReply = formatTS(g.ts(i) + int64(g.p.Replies)*g.step)
		for j := 1; j <= g.p.Replies; j++ {
			if u := g.user(i, j); !slices.Contains(w.ReplyUsers, u) {
				w.ReplyUsers = append(w.ReplyUsers, u)
			}
		}
		w.ReplyUsersCount = len(w.ReplyUsers)
	case i%100 == 1:
		w.Subtype = "channel_join"
		w.Text = "<@" + w.User + "> has joined the channel"
	case i%100 == 2:
		w.User = ""
		w.Subtype = "bot_message"
		w.BotID = "B0SLACKTEST"
		w.Text = fmt.Sprintf("build #%d passed", i)
	default:
		w.Text = fmt.Sprintf("message %d: %s", i, words[g.hash(i, 0)%uint32(len(words))])
	}
	return marshal(w)
}

func (g *genChannel) thread(ts int64) (entry, []entry, bool) {
	off := ts - g.start
	if off < 0 || off%g.interval != 0 || off/g.interval >= int64(g.p.Messages) {
		return entry{}, nil, false
	}
	i := int(off / g.interval)
	parent := entry{ts: ts, json: g.message(i)}
	if !g.isParent(i) {
		return parent, nil, true
	}
	parentTS := formatTS(ts)
	parentUser := g.user(i, 0)
	replies := make([]entry, g.p.Replies)
	for j := 1; j <= g.p.Replies; j++ {
		rts := ts + int64(j)*g.step
		replies[j-1] = entry{ts: rts, json: marshal(wireMessage{
			TS:           formatTS(rts),
			User:         g.user(i, j),
			Text:         fmt.Sprintf("reply %d to thread %d", j, i),
			ThreadTS:     parentTS,
			ParentUserID: parentUser,
		})}
	}
	return parent, replies, true
}
