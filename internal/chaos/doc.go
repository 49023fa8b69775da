// Package chaos holds Herald's cluster correctness tests on PostgreSQL:
// node processes (the command in ./node) run the scheduler against one
// database while the tests kill and restart them (TestChaos) or skew their
// clocks (TestClockSkew), then check from the database that every run ran
// once (or twice only where a kill explains it), that no tick was lost or
// doubled, that nothing is stuck and that PostgreSQL saw no deadlock.
//
// The tests need PostgreSQL (HERALD_TEST_POSTGRES_DSN) and take about a
// minute each; -short skips them. Nothing here is API: no package imports
// this one.
package chaos
