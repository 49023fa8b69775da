// Package pgrestart holds the PostgreSQL restart test: it starts a
// throwaway PostgreSQL cluster of its own, puts two scheduler nodes and a
// webhook endpoint on it, stops the server under load and starts it again,
// and checks that every node reconnects, that notifications flow again,
// that webhooks are refused with 503 while the database is down and
// accepted after, and that nothing accepted is lost or left stuck.
//
// It has no API: nothing imports it. The test needs the PostgreSQL server
// binaries (initdb, pg_ctl, postgres); without them it skips, or fails when
// HERALD_REQUIRE_POSTGRES is set.
package pgrestart
