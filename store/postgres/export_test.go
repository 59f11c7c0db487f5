package postgres

import "context"

// The push path's reads by citizen or household ref, for TestPushQueriesUseIndexes.
var PushRefQueries = map[string]string{
	"group logs":         groupLogsQuery,
	"person contribs":    personContribsQuery,
	"household contribs": householdContribsQuery,
}

// RebuildLocks rebuilds the report aggregates and returns how many advisory locks the
// rebuild's transaction held at its end (TestRebuildTakesNoMemberLocks).
func RebuildLocks(ctx context.Context, db *DB) (int, error) {
	var n int
	err := db.Write(ctx, 0, func(tx *Tx) error {
		if err := rebuildReports(ctx, tx); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&n)
	})
	return n, err
}
