package bunstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// TestMessageUpsertBatches covers what the conformance suite does not: a
// key twice in one batch, a field emptied by an update, and large batches
// mixing new and known keys, on a pool of one connection.
func TestMessageUpsertBatches(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		st, err := bunstore.Open(context.Background(), dsn, bunstore.Options{MaxOpenConns: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		msg := func(ts, text, thread string) *store.Message {
			return &store.Message{Source: "slack", Workspace: "T1", Channel: "C1", TS: ts, ThreadTS: thread,
				User: "U1", Text: text, Raw: json.RawMessage(fmt.Sprintf(`{"ts":%q}`, ts))}
		}
		upsert := func(want int, msgs ...*store.Message) {
			t.Helper()
			n, err := st.MessageUpsert(ctx, msgs...)
			if err != nil {
				t.Fatalf("MessageUpsert: %v", err)
			}
			if n != want {
				t.Errorf("MessageUpsert = %d new, want %d", n, want)
			}
		}
		list := func() map[string]*store.Message {
			t.Helper()
			out := map[string]*store.Message{}
			after := ""
			for {
				page, err := st.MessageList(ctx, &store.MessageListParams{
					CursorKey: store.CursorKey{Source: "slack", Workspace: "T1", Channel: "C1"}, After: after, Limit: 1000})
				if err != nil {
					t.Fatalf("MessageList: %v", err)
				}
				if len(page) == 0 {
					return out
				}
				for _, m := range page {
					out[m.TS] = m
				}
				after = page[len(page)-1].TS
			}
		}

		upsert(2, msg("1", "first", "0"), msg("2", "two", ""), msg("1", "last", ""))
		got := list()
		if m := got["1"]; len(got) != 2 || m.Text != "last" || m.ThreadTS != "" {
			t.Fatalf("after a key twice in a batch: %d messages, 1 = %+v", len(got), m)
		}
		upsert(0, msg("2", "", "1"))
		if m := list()["2"]; m.Text != "" || m.ThreadTS != "1" {
			t.Errorf("after emptying Text: %+v", m)
		}

		var batch []*store.Message
		for i := range 1500 {
			batch = append(batch, msg(fmt.Sprintf("%05d", i), fmt.Sprintf("m%d", i), ""))
		}
		upsert(1500, batch...)
		for i := range batch {
			if i%3 == 0 {
				batch[i] = msg(fmt.Sprintf("%05d", i), fmt.Sprintf("edited %d", i), "")
			} else {
				batch[i] = msg(fmt.Sprintf("%05d", 1500+i), "new", "")
			}
		}
		upsert(1000, batch...)
		got = list()
		if len(got) != 2+2500 {
			t.Errorf("%d messages, want %d", len(got), 2+2500)
		}
		if m := got["00003"]; m == nil || m.Text != "edited 3" {
			t.Errorf("message 00003 = %+v, want edited", m)
		}
		if m := got["00004"]; m == nil || m.Text != "m4" {
			t.Errorf("message 00004 = %+v, want unchanged", m)
		}
	})
}
