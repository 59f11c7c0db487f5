// Package storetest chooses the store the conformance tests run on. Every store must pass
// the same tests: the sync engine's rules and convergence properties (sync/engine), the
// reports' ground truth (store/sqlite TestReportsMatchModel) and the scope walk of every
// route (server TestEveryRouteIsScoped). They run on SQLite by default and on PostgreSQL
// with CDTSYNC_TEST_STORE=postgres (make test-postgres, through scripts/pg-test.sh).
package storetest

import "os"

// Env names the environment variable that chooses the store: "sqlite" (or empty) or
// "postgres".
const Env = "CDTSYNC_TEST_STORE"

// Postgres reports whether the tests run on PostgreSQL.
func Postgres() bool { return os.Getenv(Env) == "postgres" }

// Name returns the store the tests run on.
func Name() string {
	if Postgres() {
		return "postgres"
	}
	return "sqlite"
}
