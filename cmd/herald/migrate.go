package main

import (
	"context"
	"fmt"

	"github.com/heraldhq/herald/store/bunstore"
)

// migrationOut is a migration in -o json.
type migrationOut struct {
	Name    string `json:"name"`
	Comment string `json:"comment"`
	Applied bool   `json:"applied"`
	Group   int64  `json:"group,omitempty"`
}

func migrationsOut(ms []bunstore.Migration) []migrationOut {
	out := make([]migrationOut, len(ms))
	for i, m := range ms {
		out[i] = migrationOut{Name: m.Name, Comment: m.Comment, Applied: m.Applied(), Group: m.Group}
	}
	return out
}

// migrationDSN parses the flags of migrate subcommand name (-db alone)
// and returns the database's DSN, which -db or $HERALD_DATABASE_URL gives.
func (c *cli) migrationDSN(name string, args []string) (string, error) {
	f := c.newFlags(name, "-db DSN")
	f.StringVar(&c.db, "db", c.db, "the database's `DSN`: postgres://… or sqlite://path (default $"+envDB+")")
	if _, err := f.parse(args, 0, 0); err != nil {
		return "", err
	}
	if c.db == "" {
		return "", usagef(f.name, "flag -db is required (or set %s)", envDB)
	}
	return c.db, nil
}

func migrateUp(ctx context.Context, c *cli, name string, args []string) error {
	dsn, err := c.migrationDSN(name, args)
	if err != nil {
		return err
	}
	applied, err := bunstore.Migrate(ctx, dsn)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(map[string]any{"applied": migrationsOut(applied)})
	}
	if len(applied) == 0 {
		fmt.Fprintln(c.stdout, "The database is up to date: no migration to apply.")
		return nil
	}
	fmt.Fprintf(c.stdout, "Applied %d migrations (group %d):\n", len(applied), applied[0].Group)
	for _, m := range applied {
		fmt.Fprintf(c.stdout, "  %s\n", m)
	}
	return nil
}

func migrateStatus(ctx context.Context, c *cli, name string, args []string) error {
	dsn, err := c.migrationDSN(name, args)
	if err != nil {
		return err
	}
	ms, err := bunstore.MigrationStatus(ctx, dsn)
	if err != nil {
		return err
	}
	if c.output == "json" {
		return c.writeJSON(map[string]any{"migrations": migrationsOut(ms)})
	}
	t := c.newTable("MIGRATION", "NAME", "STATE")
	pending := 0
	for _, m := range ms {
		state := fmt.Sprintf("applied (group %d)", m.Group)
		if !m.Applied() {
			state = "pending"
			pending++
		}
		t.row(m.Name, m.Comment, state)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if pending > 0 {
		fmt.Fprintf(c.stdout, "%d of %d migrations pending: run 'herald migrate up'.\n", pending, len(ms))
	}
	return nil
}
