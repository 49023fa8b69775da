package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func backfillTests() []test {
	return []test{
		{"CursorSetAndGet", testBackfillCursor},
		{"CursorRejectsBadKey", testBackfillCursorBadKey},
		{"MessageUpsertCountsNewAndKeepsCollectedAt", testBackfillUpsert},
		{"MessageListOrdersByTS", testBackfillList},
		{"MessageUpsertRejectsBadInputAndWritesNothing", testBackfillBadInput},
	}
}

// generalKey names the channel most backfill tests use.
func generalKey() store.CursorKey {
	return store.CursorKey{Source: "slack", Workspace: "T01", Channel: "C-general"}
}

func testBackfillCursor(t *testing.T, fx *fixture) {
	_, err := fx.st.CursorGet(fx.ctx, generalKey())
	wantErr(t, "CursorGet before any set", err, store.ErrNotFound)
	set, err := fx.st.CursorSet(fx.ctx, &store.Cursor{CursorKey: generalKey(), Latest: "1712345678.000200", PageCursor: "page-2"})
	if err != nil {
		t.Fatalf("CursorSet: %v", err)
	}
	wantTime(t, "UpdatedAt", set.UpdatedAt, fx.now())
	got, err := fx.open().CursorGet(fx.ctx, generalKey())
	if err != nil {
		t.Fatalf("CursorGet: %v", err)
	}
	want(t, "key", got.CursorKey, generalKey())
	want(t, "Latest", got.Latest, "1712345678.000200")
	want(t, "PageCursor", got.PageCursor, "page-2")
	wantTime(t, "read back UpdatedAt", got.UpdatedAt, fx.now())

	fx.clock.Advance(time.Minute)
	if _, err := fx.st.CursorSet(fx.ctx, &store.Cursor{CursorKey: generalKey(), Latest: "1712345999.000100"}); err != nil {
		t.Fatalf("CursorSet: %v", err)
	}
	got, err = fx.st.CursorGet(fx.ctx, generalKey())
	if err != nil {
		t.Fatalf("CursorGet: %v", err)
	}
	want(t, "replaced Latest", got.Latest, "1712345999.000100")
	want(t, "replaced PageCursor", got.PageCursor, "")
	wantTime(t, "replaced UpdatedAt", got.UpdatedAt, fx.now())

	random := generalKey()
	random.Channel = "C-random"
	_, err = fx.st.CursorGet(fx.ctx, random)
	wantErr(t, "CursorGet of another channel", err, store.ErrNotFound)
}

func testBackfillCursorBadKey(t *testing.T, fx *fixture) {
	bad := generalKey()
	bad.Channel = ""
	_, err := fx.st.CursorSet(fx.ctx, &store.Cursor{CursorKey: bad, Latest: "1"})
	wantInvalid(t, "CursorSet without channel", err, "channel")
	_, err = fx.st.CursorGet(fx.ctx, store.CursorKey{Workspace: "T01", Channel: "C"})
	wantInvalid(t, "CursorGet without source", err, "source")
}

func message(key store.CursorKey, ts, text string) *store.Message {
	return &store.Message{
		Source: key.Source, Workspace: key.Workspace, Channel: key.Channel,
		TS: ts, User: "U1", UserName: "ann", Text: text,
		Raw: json.RawMessage(fmt.Sprintf(`{"ts":%q}`, ts)),
	}
}

func testBackfillUpsert(t *testing.T, fx *fixture) {
	n, err := fx.st.MessageUpsert(fx.ctx,
		message(generalKey(), "1712345678.000100", "one"),
		message(generalKey(), "1712345678.000200", "two"),
		message(generalKey(), "1712345678.000300", "three"))
	if err != nil {
		t.Fatalf("MessageUpsert: %v", err)
	}
	want(t, "new messages", n, 3)
	first := fx.now()
	fx.clock.Advance(time.Hour)
	edited := message(generalKey(), "1712345678.000200", "two, edited")
	edited.ThreadTS = "1712345678.000100"
	edited.UserName = "Ann"
	n, err = fx.open().MessageUpsert(fx.ctx,
		message(generalKey(), "1712345678.000100", "one"),
		edited,
		message(generalKey(), "1712345678.000400", "four"))
	if err != nil {
		t.Fatalf("MessageUpsert: %v", err)
	}
	want(t, "new messages on the second upsert", n, 1)
	n, err = fx.st.MessageUpsert(fx.ctx, message(generalKey(), "1712345678.000100", "one"))
	if err != nil {
		t.Fatalf("MessageUpsert: %v", err)
	}
	want(t, "new messages on a repeat", n, 0)

	msgs, err := fx.st.MessageList(fx.ctx, &store.MessageListParams{CursorKey: generalKey()})
	if err != nil {
		t.Fatalf("MessageList: %v", err)
	}
	if len(msgs) != 4 {
		t.Fatalf("MessageList = %d messages, want 4", len(msgs))
	}
	two := msgs[1]
	want(t, "TS", two.TS, "1712345678.000200")
	want(t, "updated Text", two.Text, "two, edited")
	want(t, "updated ThreadTS", two.ThreadTS, "1712345678.000100")
	want(t, "updated UserName", two.UserName, "Ann")
	wantJSON(t, "Raw", two.Raw, edited.Raw)
	wantTime(t, "CollectedAt of an updated message", two.CollectedAt, first)
	wantTime(t, "CollectedAt of a new message", msgs[3].CollectedAt, fx.now())
}

func testBackfillList(t *testing.T, fx *fixture) {
	random := generalKey()
	random.Channel = "C-random"
	if _, err := fx.st.MessageUpsert(fx.ctx,
		message(generalKey(), "1712345678.000300", "c"),
		message(generalKey(), "1712345678.000100", "a"),
		message(random, "1712345678.000150", "other channel"),
		message(generalKey(), "1712345678.000200", "b"),
		message(generalKey(), "1712345679.000000", "d"),
	); err != nil {
		t.Fatalf("MessageUpsert: %v", err)
	}
	list := func(after string, limit int) []string {
		t.Helper()
		msgs, err := fx.st.MessageList(fx.ctx, &store.MessageListParams{CursorKey: generalKey(), After: after, Limit: limit})
		if err != nil {
			t.Fatalf("MessageList: %v", err)
		}
		var texts []string
		for _, m := range msgs {
			texts = append(texts, m.Text)
		}
		return texts
	}
	wantIDs(t, "all", list("", 0), []string{"a", "b", "c", "d"})
	wantIDs(t, "first page", list("", 2), []string{"a", "b"})
	wantIDs(t, "after b", list("1712345678.000200", 2), []string{"c", "d"})
	wantIDs(t, "after the last", list("1712345679.000000", 2), nil)
	msgs, err := fx.st.MessageList(fx.ctx, &store.MessageListParams{CursorKey: random})
	if err != nil {
		t.Fatalf("MessageList: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Text != "other channel" {
		t.Errorf("messages of the other channel = %+v", msgs)
	}
}

func testBackfillBadInput(t *testing.T, fx *fixture) {
	noTS := message(generalKey(), "", "x")
	_, err := fx.st.MessageUpsert(fx.ctx, message(generalKey(), "1", "ok"), noTS)
	wantInvalid(t, "message without ts", err, "messages[1].ts")
	noChannel := message(generalKey(), "2", "x")
	noChannel.Channel = ""
	_, err = fx.st.MessageUpsert(fx.ctx, message(generalKey(), "1", "ok"), noChannel)
	wantInvalid(t, "message without channel", err, "messages[1].channel")
	badRaw := message(generalKey(), "3", "x")
	badRaw.Raw = json.RawMessage("{")
	_, err = fx.st.MessageUpsert(fx.ctx, badRaw)
	wantInvalid(t, "message with bad raw", err, "messages[0].raw")
	msgs, err := fx.st.MessageList(fx.ctx, &store.MessageListParams{CursorKey: generalKey()})
	if err != nil {
		t.Fatalf("MessageList: %v", err)
	}
	want(t, "messages after refusals", len(msgs), 0)
}
