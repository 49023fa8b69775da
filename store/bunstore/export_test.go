package bunstore

import (
	"context"

	"github.com/heraldhq/herald/store"
)

// ExplainRunList gives the external tests explainRunList
// (list_internal_test.go): the plan of the statement of a RunList call.
func ExplainRunList(ctx context.Context, s *Store, p *store.RunListParams) (string, error) {
	return s.explainRunList(ctx, p)
}

// ExplainStats returns the plan of the statement of Stats: on PostgreSQL
// run (EXPLAIN ANALYZE), on SQLite as planned (EXPLAIN QUERY PLAN).
func ExplainStats(ctx context.Context, s *Store) (string, error) {
	return s.explain(ctx, s.sql.Stats)
}
