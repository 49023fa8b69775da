package bunstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/store"
	"github.com/heraldhq/herald/store/bunstore"
)

// TestMigrationBackfillsEventOwners takes a database back to before
// migration 20261206000002 (events without an owner), with an event whose
// run is there and one whose run was pruned, and opens it again: the
// migration gives the first event its run's owner, the second an empty
// one.
func TestMigrationBackfillsEventOwners(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC)
		st, err := bunstore.Open(ctx, dsn, bunstore.Options{Now: func() time.Time { return clock }})
		if err != nil {
			t.Fatal(err)
		}
		accept := func(id, owner string) *store.EventAcceptResult {
			t.Helper()
			res, err := st.EventAccept(ctx, &store.EventAcceptParams{Source: "github", DeliveryID: id,
				Run: store.RunEnqueueParams{Owner: owner, Agent: "echo"}})
			if err != nil {
				t.Fatalf("EventAccept: %v", err)
			}
			return res
		}
		kept, pruned := accept("d-1", "alice"), accept("d-2", "bob")
		db := st.DB()
		for _, q := range []string{
			"DELETE FROM herald_runs WHERE id = '" + pruned.Run.ID + "'",
			"DROP INDEX herald_events_owner_idx",
			"ALTER TABLE herald_events DROP COLUMN owner",
			"DELETE FROM herald_migrations WHERE name = '20261206000002'",
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		st = open(t, dsn)
		for _, want := range []struct {
			ev    *store.Event
			owner string
		}{{kept.Event, "alice"}, {pruned.Event, ""}} {
			got, err := st.EventGet(ctx, want.ev.ID)
			if err != nil {
				t.Fatalf("EventGet: %v", err)
			}
			if got.Owner != want.owner {
				t.Errorf("event %s: owner %q after the migration, want %q", got.DeliveryID, got.Owner, want.owner)
			}
		}
		page, err := st.EventList(ctx, &store.EventListParams{Owner: "alice"})
		if err != nil || len(page.Events) != 1 || page.Events[0].ID != kept.Event.ID {
			t.Errorf("alice's events after the migration: %+v, %v; want the first event", page, err)
		}
	})
}
