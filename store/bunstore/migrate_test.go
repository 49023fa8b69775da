package bunstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/clock/clocktest"
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
		clock := clocktest.New(time.Date(2030, 3, 4, 5, 6, 7, 0, time.UTC))
		st, err := bunstore.Open(ctx, dsn, bunstore.Options{Clock: clock})
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

// TestMigrationTrimsTheListIndexes checks the runs' listing indexes after
// every migration, as a database first migrated before 20261207000001
// also has them: the three of that migration, partial where it says, and
// none of the six it drops; on PostgreSQL, narrowed as 20261209000001
// says (which makes the agent's partial there too).
func TestMigrationTrimsTheListIndexes(t *testing.T) {
	eachBackend(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st := open(t, dsn)
		q := "SELECT name, sql AS def FROM sqlite_master WHERE type = 'index' AND tbl_name = 'herald_runs' AND sql IS NOT NULL"
		if st.Dialect() == bunstore.DialectPostgres {
			q = "SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'herald_runs'"
		}
		var rows []struct {
			Name string `bun:"name"`
			Def  string `bun:"def"`
		}
		if err := st.DB().NewRaw(q).Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		defs := map[string]string{}
		for _, r := range rows {
			defs[r.Name] = r.Def
		}
		for _, gone := range []string{"herald_runs_owner_status_idx", "herald_runs_owner_agent_idx", "herald_runs_owner_kind_idx"} {
			if def, ok := defs[gone]; ok {
				t.Errorf("%s is still there: %s", gone, def)
			}
		}
		for name, partial := range map[string]string{
			"herald_runs_status_idx": "succeeded",
			"herald_runs_agent_idx":  "",
			"herald_runs_kind_idx":   "schedule",
		} {
			def, ok := defs[name]
			switch {
			case !ok:
				t.Errorf("%s is missing", name)
			case !strings.Contains(def, "owner"):
				t.Errorf("%s does not carry the owner: %s", name, def)
			case partial != "" && !strings.Contains(def, partial):
				t.Errorf("%s is not partial on %s: %s", name, partial, def)
			case partial == "" && strings.Contains(strings.ToUpper(def), "WHERE") && st.Dialect() != bunstore.DialectPostgres:
				t.Errorf("%s is partial: %s", name, def)
			}
		}
		if st.Dialect() != bunstore.DialectPostgres {
			return
		}
		// 20261209000001 keeps the running runs out of the listing
		// indexes, and the enqueued ones out of the kind's, to spare the
		// claim and the finish their writes.
		for name, out := range map[string][]string{
			"herald_runs_owner_idx":  {"running"},
			"herald_runs_status_idx": {"running"},
			"herald_runs_agent_idx":  {"running"},
			"herald_runs_kind_idx":   {"running", "enqueue"},
		} {
			for _, o := range out {
				if def := defs[name]; !strings.Contains(def, "'"+o+"'") {
					t.Errorf("%s does not leave out %s: %s", name, o, def)
				}
			}
		}
		for _, gone := range []string{"herald_runs_owner_idx_new", "herald_runs_status_idx_new", "herald_runs_agent_idx_new", "herald_runs_kind_idx_new"} {
			if def, ok := defs[gone]; ok {
				t.Errorf("%s is still there: %s", gone, def)
			}
		}
	})
}
