package slacktest

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock"
)

// Server is a running fake Web API. Its methods are safe for concurrent
// use.
type Server struct {
	srv             *httptest.Server
	token           string
	clock           clock.Clock
	pageSize        int
	nonMarketplace  bool
	rateLimits      map[string]int
	faults          []Fault
	parentEveryPage bool
	userIDs         []string // sorted
	users           map[string]string

	mu       sync.Mutex
	revoked  bool
	channels []*channel
	byID     map[string]*channel
	log      []Request
	counts   map[string]int
	accepted map[string][]time.Time // per method, RateLimits' window
}

type channel struct {
	id, name                  string
	private, archived, member bool
	err                       string
	tl                        timeline
}

// New starts a fake serving ws on the loopback interface, and closes it
// when the test ends. A nil ws is an empty workspace. New fails the test
// if ws is inconsistent (see NewServer).
func New(t testing.TB, ws *Workspace) *Server {
	t.Helper()
	s, err := NewServer(ws)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewServer starts a fake serving ws on the loopback interface, for use
// outside a test (an example, a demo); Close stops it. It fails if ws is
// inconsistent: a bad or repeated TS, a reply not later than its parent, a
// Raw that is not a JSON object, an empty or repeated channel id.
func NewServer(ws *Workspace) (*Server, error) {
	if ws == nil {
		ws = &Workspace{}
	}
	s := &Server{
		token:           ws.Token,
		clock:           clock.OrSystem(ws.Clock),
		pageSize:        ws.PageSize,
		nonMarketplace:  ws.NonMarketplace,
		rateLimits:      maps.Clone(ws.RateLimits),
		faults:          slices.Clone(ws.Faults),
		parentEveryPage: ws.RepliesParentEveryPage,
		users:           maps.Clone(ws.Users),
		byID:            make(map[string]*channel, len(ws.Channels)),
		counts:          make(map[string]int),
		accepted:        make(map[string][]time.Time),
	}
	if s.token == "" {
		s.token = DefaultToken
	}
	s.userIDs = slices.Sorted(maps.Keys(s.users))
	for _, c := range ws.Channels {
		if c.ID == "" || s.byID[c.ID] != nil {
			return nil, fmt.Errorf("slacktest: channel id %q empty or repeated", c.ID)
		}
		ch := &channel{id: c.ID, name: c.Name, private: c.Private, archived: c.Archived, member: c.Member, err: c.Error}
		if c.gen != nil {
			ch.tl = c.gen
		} else {
			tl, err := newStaticTimeline(c.Messages)
			if err != nil {
				return nil, fmt.Errorf("slacktest: channel %s: %w", c.ID, err)
			}
			ch.tl = tl
		}
		s.channels = append(s.channels, ch)
		s.byID[c.ID] = ch
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	return s, nil
}

// Close stops the fake; it is safe to call twice.
func (s *Server) Close() { s.srv.Close() }

// URL returns the base URL of the fake's Web API, ending in "/api/" (for
// slack.Config.BaseURL).
func (s *Server) URL() string { return s.srv.URL + "/api/" }

// Client returns an HTTP client for the fake (its idle connections are
// closed with it).
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Token returns the token the fake expects.
func (s *Server) Token() string { return s.token }

// RevokeToken makes every later request fail with token_revoked.
func (s *Server) RevokeToken() {
	s.mu.Lock()
	s.revoked = true
	s.mu.Unlock()
}

// SetChannelError makes history and replies of channel answer code from now
// on ("" to stop).
func (s *Server) SetChannelError(channel, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.byID[channel]; ch != nil {
		ch.err = code
	}
}

// response is an answer of the fake.
type response struct {
	status     int
	retryAfter string
	html       bool
	body       []byte
	code       string // ok:false error code
}

func fail(code string) response {
	return response{status: http.StatusOK, code: code,
		body: fmt.Appendf(nil, `{"ok":false,"error":%q}`, code)}
}

func okJSON(v any) response {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return response{status: http.StatusOK, body: b}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token := r.Form.Get("token")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && bearer != "" {
		token = bearer
	}
	params := make(url.Values, len(r.Form))
	for k, v := range r.Form {
		if k != "token" {
			params[k] = slices.Clone(v)
		}
	}

	s.mu.Lock()
	now := s.clock.Now()
	s.counts[method]++
	s.counts[""]++
	s.log = append(s.log, Request{Seq: len(s.log) + 1, Method: method, Params: params, Time: now})
	resp := s.answer(method, token, params, now)
	entry := &s.log[len(s.log)-1]
	entry.Status, entry.Error = resp.status, resp.code
	s.mu.Unlock()

	if resp.retryAfter != "" {
		w.Header().Set("Retry-After", resp.retryAfter)
	}
	if resp.html {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
}

// answer computes the response to one request; s.mu is held.
func (s *Server) answer(method, token string, form url.Values, now time.Time) response {
	for _, f := range s.faults {
		if f.Method != "" && f.Method != method {
			continue
		}
		n := s.counts[f.Method]
		if n < f.At || n >= f.At+max(f.Count, 1) {
			continue
		}
		return faultResponse(f)
	}
	if lim, ok := s.rateLimits[method]; ok && lim > 0 {
		acc := s.accepted[method]
		cut := now.Add(-time.Minute)
		for len(acc) > 0 && !acc[0].After(cut) {
			acc = acc[1:]
		}
		if len(acc) >= lim {
			s.accepted[method] = acc
			wait := acc[0].Add(time.Minute).Sub(now)
			secs := max(int64(math.Ceil(wait.Seconds())), 1)
			return faultResponse(Fault{Status: http.StatusTooManyRequests, RetryAfter: strconv.FormatInt(secs, 10)})
		}
		s.accepted[method] = append(acc, now)
	}
	switch {
	case token == "":
		return fail("not_authed")
	case token != s.token:
		return fail("invalid_auth")
	case s.revoked:
		return fail("token_revoked")
	}
	switch method {
	case "auth.test":
		return okJSON(map[string]any{"ok": true, "url": "https://slacktest.slack.com/", "team": "slacktest",
			"user": "backfill", "team_id": teamID, "user_id": "U0BACKFILL", "bot_id": "B0BACKFILL"})
	case "conversations.list":
		return s.conversationsList(form)
	case "conversations.history":
		return s.conversationsHistory(form)
	case "conversations.replies":
		return s.conversationsReplies(form)
	case "users.info":
		return s.usersInfo(form)
	case "users.list":
		return s.usersList(form)
	}
	return fail("unknown_method")
}

func faultResponse(f Fault) response {
	r := response{status: f.Status, retryAfter: f.RetryAfter, code: f.Code}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.code == "" && r.status == http.StatusTooManyRequests {
		r.code = "ratelimited"
	}
	switch {
	case r.status >= 500:
		r.html = true
		r.body = fmt.Appendf(nil, "<html><body>%d %s</body></html>", r.status, http.StatusText(r.status))
	case r.code != "":
		r.body = fmt.Appendf(nil, `{"ok":false,"error":%q}`, r.code)
	default:
		r.body = []byte(`{"ok":false}`)
	}
	return r
}

// limit reads the limit argument: def when absent or not positive, at most
// ceiling, and at most the Workspace's PageSize.
func (s *Server) limit(form url.Values, def, ceiling int) (int, bool) {
	n := def
	if v := form.Get("limit"); v != "" {
		l, err := strconv.Atoi(v)
		if err != nil {
			return 0, false
		}
		if l > 0 {
			n = l
		}
	}
	n = min(n, ceiling)
	if s.pageSize > 0 {
		n = min(n, s.pageSize)
	}
	return n, true
}

func truthy(v string) bool { return v == "1" || v == "true" }

func encodeCursor(prefix string, v int64) string {
	return base64.StdEncoding.EncodeToString([]byte(prefix + ":" + strconv.FormatInt(v, 10)))
}

func decodeCursor(prefix, cursor string) (int64, bool) {
	b, err := base64.StdEncoding.DecodeString(cursor)
	if err != nil {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), prefix+":")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n >= 0
}

type wireChannel struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	NameNormalized string    `json:"name_normalized"`
	Created        int64     `json:"created"`
	IsChannel      bool      `json:"is_channel"`
	IsGroup        bool      `json:"is_group"`
	IsIM           bool      `json:"is_im"`
	IsMpIM         bool      `json:"is_mpim"`
	IsPrivate      bool      `json:"is_private"`
	IsArchived     bool      `json:"is_archived"`
	IsGeneral      bool      `json:"is_general"`
	IsMember       bool      `json:"is_member"`
	IsShared       bool      `json:"is_shared"`
	NumMembers     int       `json:"num_members"`
	Topic          wireTopic `json:"topic"`
	Purpose        wireTopic `json:"purpose"`
}

type wireTopic struct {
	Value   string `json:"value"`
	Creator string `json:"creator"`
	LastSet int64  `json:"last_set"`
}

type metadata struct {
	NextCursor string `json:"next_cursor"`
}

func (s *Server) conversationsList(form url.Values) response {
	types := map[string]bool{}
	for t := range strings.SplitSeq(cmp.Or(form.Get("types"), "public_channel"), ",") {
		switch t = strings.TrimSpace(t); t {
		case "public_channel", "private_channel", "mpim", "im":
			types[t] = true
		default:
			return fail("invalid_types")
		}
	}
	limit, ok := s.limit(form, 100, 999)
	if !ok {
		return fail("invalid_limit")
	}
	var offset int64
	if c := form.Get("cursor"); c != "" {
		if offset, ok = decodeCursor("channel", c); !ok || offset > int64(len(s.channels)) {
			return fail("invalid_cursor")
		}
	}
	// Like Slack, cut the page first and filter it after: pages can be
	// sparse, even empty, with more to come.
	end := min(int(offset)+limit, len(s.channels))
	out := []wireChannel{}
	for _, ch := range s.channels[offset:end] {
		kind := "public_channel"
		if ch.private {
			kind = "private_channel"
		}
		if !types[kind] || ch.private && !ch.member || ch.archived && truthy(form.Get("exclude_archived")) {
			continue
		}
		out = append(out, wireChannel{ID: ch.id, Name: ch.name, NameNormalized: ch.name, IsChannel: !ch.private,
			IsGroup: ch.private, IsPrivate: ch.private, IsArchived: ch.archived, IsMember: ch.member,
			NumMembers: 1})
	}
	var next string
	if end < len(s.channels) {
		next = encodeCursor("channel", int64(end))
	}
	return okJSON(struct {
		OK       bool          `json:"ok"`
		Channels []wireChannel `json:"channels"`
		Meta     metadata      `json:"response_metadata"`
	}{true, out, metadata{next}})
}

// readable returns the channel named by form, or the error code of reading
// it.
func (s *Server) readable(form url.Values) (*channel, string) {
	ch := s.byID[form.Get("channel")]
	switch {
	case ch == nil, ch.private && !ch.member && ch.err == "":
		// A private channel is invisible to non-members.
		return nil, "channel_not_found"
	case ch.err != "":
		return nil, ch.err
	case !ch.member:
		return nil, "not_in_channel"
	}
	return ch, ""
}

// bounds reads oldest and latest as microseconds (-1 and MaxInt64 when
// absent).
func bounds(form url.Values) (oldest, latest int64, code string) {
	oldest, latest = -1, math.MaxInt64
	var err error
	if v := form.Get("oldest"); v != "" {
		if oldest, err = parseTS(v); err != nil {
			return 0, 0, "invalid_ts_oldest"
		}
	}
	if v := form.Get("latest"); v != "" {
		if latest, err = parseTS(v); err != nil {
			return 0, 0, "invalid_ts_latest"
		}
	}
	return oldest, latest, ""
}

// inBounds reports whether ts is between oldest and latest.
func inBounds(ts, oldest, latest int64, inclusive bool) bool {
	if inclusive {
		return ts >= oldest && ts <= latest
	}
	return ts > oldest && ts < latest
}

func (s *Server) messageLimits(def int) (int, int) {
	if s.nonMarketplace {
		return 15, 15
	}
	return def, 999
}

func (s *Server) conversationsHistory(form url.Values) response {
	ch, code := s.readable(form)
	if code != "" {
		return fail(code)
	}
	oldest, latest, code := bounds(form)
	if code != "" {
		return fail(code)
	}
	inclusive := truthy(form.Get("inclusive"))
	def, ceiling := s.messageLimits(100)
	limit, ok := s.limit(form, def, ceiling)
	if !ok {
		return fail("invalid_limit")
	}
	tl := ch.tl
	n := tl.len()
	lo := sort.Search(n, func(i int) bool { t := tl.ts(i); return t > oldest || inclusive && t == oldest })
	hi := sort.Search(n, func(i int) bool { t := tl.ts(i); return t > latest || !inclusive && t == latest })
	if c := form.Get("cursor"); c != "" {
		next, ok := decodeCursor("next_ts", c)
		if !ok {
			return fail("invalid_cursor")
		}
		hi = min(hi, sort.Search(n, func(i int) bool { return tl.ts(i) > next }))
	}
	start := max(lo, hi-limit)
	var b bytes.Buffer
	b.WriteString(`{"ok":true,"messages":[`)
	for i := hi - 1; i >= start; i-- {
		if i < hi-1 {
			b.WriteByte(',')
		}
		b.Write(tl.message(i))
	}
	hasMore := start > lo
	fmt.Fprintf(&b, `],"has_more":%t,"pin_count":0`, hasMore)
	if hasMore {
		fmt.Fprintf(&b, `,"response_metadata":{"next_cursor":%q}`, encodeCursor("next_ts", tl.ts(start-1)))
	}
	b.WriteByte('}')
	return response{status: http.StatusOK, body: b.Bytes()}
}

func (s *Server) conversationsReplies(form url.Values) response {
	ch, code := s.readable(form)
	if code != "" {
		return fail(code)
	}
	ts, err := parseTS(form.Get("ts"))
	if err != nil {
		return fail("thread_not_found")
	}
	parent, replies, ok := ch.tl.thread(ts)
	if !ok {
		return fail("thread_not_found")
	}
	oldest, latest, code := bounds(form)
	if code != "" {
		return fail(code)
	}
	inclusive := truthy(form.Get("inclusive"))
	def, ceiling := s.messageLimits(1000)
	limit, ok := s.limit(form, def, ceiling)
	if !ok {
		return fail("invalid_limit")
	}
	from := int64(-1)
	first := true
	if c := form.Get("cursor"); c != "" {
		if from, ok = decodeCursor("next_ts", c); !ok {
			return fail("invalid_cursor")
		}
		first = false
	}
	page := make([][]byte, 0, min(limit, len(replies)+1))
	if first || s.parentEveryPage {
		page = append(page, parent.json)
	}
	var next string
	for _, r := range replies {
		if r.ts < from || !inBounds(r.ts, oldest, latest, inclusive) {
			continue
		}
		if len(page) >= limit {
			next = encodeCursor("next_ts", r.ts)
			break
		}
		page = append(page, r.json)
	}
	var b bytes.Buffer
	b.WriteString(`{"ok":true,"messages":[`)
	b.Write(bytes.Join(page, []byte(",")))
	fmt.Fprintf(&b, `],"has_more":%t`, next != "")
	if next != "" {
		fmt.Fprintf(&b, `,"response_metadata":{"next_cursor":%q}`, next)
	}
	b.WriteByte('}')
	return response{status: http.StatusOK, body: b.Bytes()}
}

type wireUser struct {
	ID       string      `json:"id"`
	TeamID   string      `json:"team_id"`
	Name     string      `json:"name"`
	Deleted  bool        `json:"deleted"`
	RealName string      `json:"real_name"`
	IsBot    bool        `json:"is_bot"`
	Profile  wireProfile `json:"profile"`
}

type wireProfile struct {
	RealName    string `json:"real_name"`
	DisplayName string `json:"display_name"`
}

func (s *Server) user(id string) wireUser {
	name := s.users[id]
	handle := strings.ToLower(strings.ReplaceAll(name, " ", "."))
	return wireUser{ID: id, TeamID: teamID, Name: handle, RealName: name,
		Profile: wireProfile{RealName: name, DisplayName: name}}
}

func (s *Server) usersInfo(form url.Values) response {
	id := form.Get("user")
	if _, ok := s.users[id]; !ok {
		return fail("user_not_found")
	}
	return okJSON(struct {
		OK   bool     `json:"ok"`
		User wireUser `json:"user"`
	}{true, s.user(id)})
}

func (s *Server) usersList(form url.Values) response {
	limit, ok := s.limit(form, len(s.userIDs), math.MaxInt)
	if !ok {
		return fail("invalid_limit")
	}
	limit = max(limit, 1)
	var offset int64
	if c := form.Get("cursor"); c != "" {
		if offset, ok = decodeCursor("user", c); !ok || offset > int64(len(s.userIDs)) {
			return fail("invalid_cursor")
		}
	}
	end := min(int(offset)+limit, len(s.userIDs))
	members := make([]wireUser, 0, end-int(offset))
	for _, id := range s.userIDs[offset:end] {
		members = append(members, s.user(id))
	}
	var next string
	if end < len(s.userIDs) {
		next = encodeCursor("user", int64(end))
	}
	return okJSON(struct {
		OK      bool       `json:"ok"`
		Members []wireUser `json:"members"`
		CacheTS int64      `json:"cache_ts"`
		Meta    metadata   `json:"response_metadata"`
	}{true, members, 0, metadata{next}})
}
