package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
)

func workspaceTests() []test {
	return []test{
		{"PutGetListDelete", testWorkspaceLifecycle},
		{"PutReplacesAndKeepsCreatedAt", testWorkspaceReplace},
		{"ListPagesByOwner", testWorkspacePages},
		{"PutRejectsBadInputAndWritesNothing", testWorkspaceBadInput},
	}
}

func testWorkspaceLifecycle(t *testing.T, fx *fixture) {
	ws := fx.st
	in := &store.Workspace{ID: "T012AB3CD", Source: "slack", Name: "Acme", Owner: "alice", Secret: []byte("hk1:k1:sealed")}
	got, err := ws.WorkspacePut(fx.ctx, in)
	if err != nil {
		t.Fatalf("WorkspacePut: %v", err)
	}
	in.Secret[0] = 'X' // the caller's copy
	for what, w := range map[string]*store.Workspace{"put": got, "got": mustWorkspace(t, fx, ws, "T012AB3CD")} {
		want(t, what+": ID", w.ID, "T012AB3CD")
		want(t, what+": Source", w.Source, "slack")
		want(t, what+": Name", w.Name, "Acme")
		want(t, what+": Owner", w.Owner, "alice")
		if !bytes.Equal(w.Secret, []byte("hk1:k1:sealed")) {
			t.Errorf("%s: Secret = %q", what, w.Secret)
		}
		wantTime(t, what+": CreatedAt", w.CreatedAt, fx.now())
		wantTime(t, what+": UpdatedAt", w.UpdatedAt, fx.now())
	}
	if err := ws.WorkspaceDelete(fx.ctx, "T012AB3CD"); err != nil {
		t.Fatalf("WorkspaceDelete: %v", err)
	}
	if _, err := ws.WorkspaceGet(fx.ctx, "T012AB3CD"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("WorkspaceGet after delete: %v, want ErrNotFound", err)
	}
	if err := ws.WorkspaceDelete(fx.ctx, "T012AB3CD"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second WorkspaceDelete: %v, want ErrNotFound", err)
	}
}

func mustWorkspace(t *testing.T, fx *fixture, ws store.WorkspaceStore, id string) *store.Workspace {
	t.Helper()
	w, err := ws.WorkspaceGet(fx.ctx, id)
	if err != nil {
		t.Fatalf("WorkspaceGet(%q): %v", id, err)
	}
	return w
}

func testWorkspaceReplace(t *testing.T, fx *fixture) {
	ws := fx.st
	if _, err := ws.WorkspacePut(fx.ctx, &store.Workspace{ID: "T1", Source: "slack", Owner: "alice", Secret: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	created := fx.now()
	fx.clock.Advance(time.Minute)
	got, err := ws.WorkspacePut(fx.ctx, &store.Workspace{ID: "T1", Source: "slack", Name: "new", Owner: "bob", Secret: []byte("b")})
	if err != nil {
		t.Fatal(err)
	}
	w := mustWorkspace(t, fx, ws, "T1")
	for what, w := range map[string]*store.Workspace{"put": got, "got": w} {
		want(t, what+": Name", w.Name, "new")
		want(t, what+": Owner", w.Owner, "bob")
		want(t, what+": Secret", string(w.Secret), "b")
		wantTime(t, what+": CreatedAt", w.CreatedAt, created)
		wantTime(t, what+": UpdatedAt", w.UpdatedAt, fx.now())
	}
}

func testWorkspacePages(t *testing.T, fx *fixture) {
	ws := fx.st
	for _, id := range []string{"T5", "T1", "T3", "T2", "T4"} {
		owner := "alice"
		if id == "T3" {
			owner = "bob"
		}
		if _, err := ws.WorkspacePut(fx.ctx, &store.Workspace{ID: id, Source: "slack", Owner: owner, Secret: []byte("s")}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for {
		page, err := ws.WorkspaceList(fx.ctx, &store.WorkspaceListParams{Owner: "alice", Cursor: cursor, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range page.Workspaces {
			ids = append(ids, w.ID)
		}
		if page.Next == "" {
			break
		}
		cursor = page.Next
	}
	want(t, "alice's workspaces, page by page", strings.Join(ids, " "), "T1 T2 T4 T5")
	page, err := ws.WorkspaceList(fx.ctx, &store.WorkspaceListParams{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "every workspace", len(page.Workspaces), 5)
}

func testWorkspaceBadInput(t *testing.T, fx *fixture) {
	ws := fx.st
	for _, c := range []struct {
		w     store.Workspace
		field string
	}{
		{store.Workspace{Source: "slack", Owner: "a", Secret: []byte("s")}, "id"},
		{store.Workspace{ID: strings.Repeat("t", 201), Source: "slack", Owner: "a", Secret: []byte("s")}, "id"},
		{store.Workspace{ID: "T", Owner: "a", Secret: []byte("s")}, "source"},
		{store.Workspace{ID: "T", Source: "slack", Secret: []byte("s")}, "owner"},
		{store.Workspace{ID: "T", Source: "slack", Owner: "a"}, "secret"},
	} {
		_, err := ws.WorkspacePut(fx.ctx, &c.w)
		var ve *store.ValidationError
		if !errors.As(err, &ve) || ve.Field != c.field {
			t.Errorf("WorkspacePut(%+v): %v, want a validation error on %s", c.w, err, c.field)
		}
	}
	page, err := ws.WorkspaceList(fx.ctx, &store.WorkspaceListParams{})
	if err != nil {
		t.Fatal(err)
	}
	want(t, "workspaces written", len(page.Workspaces), 0)
}
