package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func tokenTests() []test {
	return []test{
		{"CreateListDelete", testTokenLifecycle},
		{"DuplicateNameIsConflict", testTokenDuplicate},
		{"ConcurrentCreatesOfOneNameYieldOneToken", testTokenConcurrent},
		{"CreateRejectsBadInputAndWritesNothing", testTokenBadInput},
		{"DeleteOfMissingTokenIsNotFound", testTokenDeleteMissing},
	}
}

// newToken is a token of subject named name, whose secret is its name.
func newToken(name, subject string, admin bool) *store.Token {
	h := sha256.Sum256([]byte("secret of " + name))
	return &store.Token{Name: name, Subject: subject, Admin: admin, Hash: h[:]}
}

// tokens lists the tokens of st by name.
func (fx *fixture) tokens(st store.Store) []*store.Token {
	fx.t.Helper()
	ts, err := st.TokenList(fx.ctx)
	if err != nil {
		fx.t.Fatalf("TokenList: %v", err)
	}
	return ts
}

func tokenNames(ts []*store.Token) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, " ")
}

// wantToken reports the fields of got that differ from w.
func wantToken(t *testing.T, what string, got, w *store.Token) {
	t.Helper()
	want(t, what+": Name", got.Name, w.Name)
	want(t, what+": Subject", got.Subject, w.Subject)
	want(t, what+": Admin", got.Admin, w.Admin)
	if !bytes.Equal(got.Hash, w.Hash) {
		t.Errorf("%s: Hash = %x, want %x", what, got.Hash, w.Hash)
	}
	wantTime(t, what+": CreatedAt", got.CreatedAt, w.CreatedAt)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("%s: CreatedAt is in %v, want UTC", what, got.CreatedAt.Location())
	}
}

func testTokenLifecycle(t *testing.T, fx *fixture) {
	ts := fx.st
	if got := fx.tokens(fx.st); len(got) != 0 {
		t.Fatalf("tokens of an empty store: %s", tokenNames(got))
	}
	// Names sort as bytes, whatever the database's collation.
	byName := map[string]*store.Token{}
	for i, name := range []string{"b", "a", "B", "_x", "é"} {
		in := newToken(name, "user-"+name, i%2 == 1)
		got, err := ts.TokenCreate(fx.ctx, in)
		if err != nil {
			t.Fatalf("TokenCreate(%q): %v", name, err)
		}
		w := *in
		w.Hash, w.CreatedAt = bytes.Clone(in.Hash), fx.now()
		wantToken(t, "created "+name, got, &w)
		byName[name] = &w
		got.Hash[0]++ // the caller's copy
		in.Hash[1]++
		fx.clock.Advance(time.Second)
	}
	list := fx.tokens(fx.open())
	want(t, "tokens, by name", tokenNames(list), "B _x a b é")
	for _, got := range list {
		wantToken(t, "listed "+got.Name, got, byName[got.Name])
	}
	if err := ts.TokenDelete(fx.ctx, "a"); err != nil {
		t.Fatalf("TokenDelete: %v", err)
	}
	want(t, "tokens after a delete", tokenNames(fx.tokens(fx.st)), "B _x b é")
	// The name is free again.
	again := newToken("a", "someone else", false)
	if _, err := ts.TokenCreate(fx.ctx, again); err != nil {
		t.Fatalf("TokenCreate of a deleted token's name: %v", err)
	}
	for _, got := range fx.tokens(fx.st) {
		if got.Name == "a" {
			want(t, "the new token's Subject", got.Subject, "someone else")
		}
	}
}

func testTokenDuplicate(t *testing.T, fx *fixture) {
	ts := fx.st
	first := newToken("ci", alice, false)
	if _, err := ts.TokenCreate(fx.ctx, first); err != nil {
		t.Fatalf("TokenCreate: %v", err)
	}
	_, err := ts.TokenCreate(fx.ctx, newToken("ci", bob, true))
	wantErr(t, "a second token named ci", err, store.ErrConflict)
	if err != nil {
		// The driver's own words stay inside the store.
		msg := strings.ToLower(err.Error())
		for _, leak := range []string{"unique", "duplicate key", "constraint", "sqlstate", "violat"} {
			if strings.Contains(msg, leak) {
				t.Errorf("the conflict's error %q carries the driver's message (%q)", err, leak)
			}
		}
	}
	list := fx.tokens(fx.st)
	if len(list) != 1 {
		t.Fatalf("tokens after a conflict: %s", tokenNames(list))
	}
	w := *first
	w.CreatedAt = fx.now()
	wantToken(t, "the first token, after the conflict", list[0], &w)
}

func testTokenConcurrent(t *testing.T, fx *fixture) {
	const n = 8
	handles := []store.Store{fx.st, fx.open()}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ts := handles[i%len(handles)]
		wg.Go(func() { _, errs[i] = ts.TokenCreate(fx.ctx, newToken("deploy", alice, false)) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, store.ErrConflict):
			t.Errorf("create %d: %v, want nil or ErrConflict", i, err)
		}
	}
	want(t, "creates that went through", ok, 1)
	want(t, "tokens", tokenNames(fx.tokens(fx.st)), "deploy")
}

func testTokenBadInput(t *testing.T, fx *fixture) {
	ts := fx.st
	long := strings.Repeat("x", 201)
	cases := []struct {
		name  string
		edit  func(*store.Token)
		field string
	}{
		{"empty name", func(t *store.Token) { t.Name = "" }, "name"},
		{"blank name", func(t *store.Token) { t.Name = "  " }, "name"},
		{"long name", func(t *store.Token) { t.Name = long }, "name"},
		{"empty subject", func(t *store.Token) { t.Subject = "" }, "subject"},
		{"long subject", func(t *store.Token) { t.Subject = long }, "subject"},
		{"no hash", func(t *store.Token) { t.Hash = nil }, "hash"},
		{"short hash", func(t *store.Token) { t.Hash = t.Hash[:31] }, "hash"},
		{"long hash", func(t *store.Token) { t.Hash = append(t.Hash, 0) }, "hash"},
	}
	for _, tc := range cases {
		tok := newToken("t", alice, false)
		tc.edit(tok)
		_, err := ts.TokenCreate(fx.ctx, tok)
		wantInvalid(t, tc.name, err, tc.field)
	}
	_, err := ts.TokenCreate(fx.ctx, nil)
	wantInvalid(t, "nil token", err, "token")
	// The longest name and subject are taken.
	if _, err := ts.TokenCreate(fx.ctx, newToken(long[:200], long[:200], false)); err != nil {
		t.Errorf("TokenCreate with a name and a subject of 200 bytes: %v", err)
	}
	want(t, "tokens", len(fx.tokens(fx.st)), 1)
}

func testTokenDeleteMissing(t *testing.T, fx *fixture) {
	ts := fx.st
	wantErr(t, "TokenDelete of a missing token", ts.TokenDelete(fx.ctx, "nope"), store.ErrNotFound)
	if _, err := ts.TokenCreate(fx.ctx, newToken("once", alice, false)); err != nil {
		t.Fatalf("TokenCreate: %v", err)
	}
	if err := ts.TokenDelete(fx.ctx, "once"); err != nil {
		t.Fatalf("TokenDelete: %v", err)
	}
	wantErr(t, "a second TokenDelete", ts.TokenDelete(fx.ctx, "once"), store.ErrNotFound)
}
