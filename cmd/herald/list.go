package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// paging holds the flags of a list: the page size, where to start, and
// whether to follow the pages to the end.
type paging struct {
	limit  int
	cursor string
	all    bool
}

// register adds -limit, -cursor and -all to f.
func (p *paging) register(f *flags) {
	f.IntVar(&p.limit, "limit", 0, "at most `N` per page, 1 to 1000 (default the server's, 100)")
	f.StringVar(&p.cursor, "cursor", "", "start at the page of this `cursor` (the next_cursor of the page before)")
	f.BoolVar(&p.all, "all", false, "follow the pages to the end")
}

// check refuses a bad -limit.
func (p *paging) check(cmd string) error {
	if p.limit < 0 || p.limit > 1000 {
		return usagef(cmd, "flag -limit: want 1 to 1000, not %d", p.limit)
	}
	return nil
}

// fetch reads the pages of path from p.cursor: one, or with p.all every
// one to the end, handing each answer to add, which returns the page's
// next cursor. It returns the cursor after the last page read ("" at the
// end).
func (p *paging) fetch(ctx context.Context, cl *client, path string, q url.Values, add func(b []byte) (*string, error)) (string, error) {
	if p.limit > 0 {
		q.Set("limit", strconv.Itoa(p.limit))
	}
	cursor := p.cursor
	for {
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		b, err := cl.do(ctx, "GET", path, q, nil)
		if err != nil {
			return "", err
		}
		next, err := add(b)
		if err != nil {
			return "", err
		}
		cursor = str(next)
		if cursor == "" || !p.all {
			return cursor, nil
		}
	}
}

// listClient registers p's flags on f, parses args (no positional
// ones), checks p and returns the API client of list command name.
func (c *cli) listClient(name string, f *flags, p *paging, args []string) (*client, error) {
	p.register(f)
	if _, err := f.parse(args, 0, 0); err != nil {
		return nil, err
	}
	if err := p.check(name); err != nil {
		return nil, err
	}
	return c.client(name)
}

// fetchAll reads the pages of the list route path as p.fetch does, each
// decoded as a P whose items and next cursor page returns, and returns
// their items together (never nil, so that JSON shows []) and the cursor
// after the last page read.
func fetchAll[P, E any](ctx context.Context, p *paging, cl *client, path string, q url.Values, page func(*P) ([]E, *string)) ([]E, string, error) {
	all := []E{}
	cursor, err := p.fetch(ctx, cl, path, q, func(b []byte) (*string, error) {
		var pg P
		if err := decodeAnswer(path, b, &pg); err != nil {
			return nil, err
		}
		items, next := page(&pg)
		all = append(all, items...)
		return next, nil
	})
	return all, cursor, err
}

// orNil is &s, or nil when s is empty.
func orNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// more tells, after a text list, how to read the next page.
func (c *cli) more(cmd, cursor string) {
	if cursor != "" {
		fmt.Fprintf(c.stderr, "More: herald %s -cursor %s (or -all)\n", cmd, cursor)
	}
}

// setStr sets q's key to v unless v is empty.
func setStr(q url.Values, key, v string) {
	if v != "" {
		q.Set(key, v)
	}
}

// timeFlag is a flag that takes an RFC 3339 time or, when ago is set, a
// duration back from now ("1h").
type timeFlag struct {
	now func() time.Time
	ago bool
	t   time.Time
}

func (f *timeFlag) String() string {
	if f == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339)
}

func (f *timeFlag) Set(s string) error {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		f.t = t
		return nil
	}
	if f.ago {
		if d, err := time.ParseDuration(s); err == nil && d >= 0 {
			f.t = f.now().Add(-d)
			return nil
		}
		return fmt.Errorf("want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration back from now (1h)")
	}
	return fmt.Errorf("want an RFC 3339 time such as 2026-01-02T15:04:05Z")
}

// set puts the time in q under key, if given.
func (f *timeFlag) set(q url.Values, key string) {
	if !f.t.IsZero() {
		q.Set(key, f.t.UTC().Format(time.RFC3339Nano))
	}
}

// isID reports whether s is an id of the API (a UUID).
func isID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
