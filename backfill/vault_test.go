package backfill_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/heraldhq/herald/backfill"
	"github.com/heraldhq/herald/keyring"
	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/memstore"
)

func TestVault(t *testing.T) {
	ctx := context.Background()
	st := memstore.New(memstore.Options{})
	defer st.Close()
	k1, _ := keyring.GenerateKey("k1")
	k2, _ := keyring.GenerateKey("k2")
	const token = "xoxb-very-secret-token"
	var opened string
	open := func(w *store.Workspace, tok keyring.Secret) (backfill.Source, error) {
		opened = tok.Reveal()
		return nil, nil
	}
	old, _ := keyring.New(k1)
	v, err := backfill.NewVault(st, old, open)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Put(ctx, &store.Workspace{ID: "T1", Source: "slack", Owner: "alice"}, token); err != nil {
		t.Fatal(err)
	}
	w, _ := st.WorkspaceGet(ctx, "T1")
	if strings.Contains(string(w.Secret), token) || !strings.HasPrefix(string(w.Secret), "hk1:k1:") {
		t.Fatalf("stored secret %q: want it sealed under k1", w.Secret)
	}
	if _, err := v.Open(ctx, "alice", "T1"); err != nil || opened != token {
		t.Fatalf("Open: %v, token %q", err, opened)
	}
	if _, err := v.Open(ctx, "bob", "T1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("bob opens alice's workspace: %v, want ErrNotFound", err)
	}

	// Rotation: k2 is the primary, k1 still opens; Reseal moves the token.
	rotated, _ := keyring.New(k2, k1)
	v2, _ := backfill.NewVault(st, rotated, open)
	if _, err := v2.Open(ctx, "alice", "T1"); err != nil {
		t.Fatalf("Open under the rotated ring: %v", err)
	}
	if n, err := v2.Reseal(ctx); err != nil || n != 1 {
		t.Fatalf("Reseal: %d, %v; want 1 moved", n, err)
	}
	if n, err := v2.Reseal(ctx); err != nil || n != 0 {
		t.Fatalf("second Reseal: %d, %v; want 0 moved", n, err)
	}
	w, _ = st.WorkspaceGet(ctx, "T1")
	if !strings.HasPrefix(string(w.Secret), "hk1:k2:") {
		t.Fatalf("resealed secret %q: want it under k2", w.Secret)
	}

	// The old ring lacks k2 now: a clean error naming the key, no token.
	_, err = v.Open(ctx, "alice", "T1")
	if !errors.Is(err, keyring.ErrUnknownKey) || !strings.Contains(err.Error(), `"k2"`) {
		t.Errorf("Open with a ring that lacks k2: %v", err)
	}
	for _, e := range []error{err} {
		if strings.Contains(fmt.Sprintf("%v %+v", e, e), token) {
			t.Errorf("an error shows the token: %v", e)
		}
	}
	if _, err := v.Put(ctx, &store.Workspace{ID: "T2", Source: "slack", Owner: "alice"}, ""); err == nil {
		t.Error("Put without a token succeeded")
	}
}
