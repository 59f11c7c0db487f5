package postgres

import "context"

// The push path's reads by citizen or household ref, for TestPushQueriesUseIndexes.
var PushRefQueries = map[string]string{
	"group logs":         groupLogsQuery,
	"person contribs":    personContribsQuery,
	"household contribs": householdContribsQuery,
}

// BuildLogsQuery is a build's read of its next batch of logs.
const BuildLogsQuery = buildLogsQuery

// RebuildLocks rebuilds the report aggregates and returns the most advisory locks one of
// the build's transactions held at its end (TestRebuildTakesNoMemberLocks).
func RebuildLocks(ctx context.Context, db *DB) (int, error) {
	if err := db.Write(ctx, 0, func(tx *Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
		return err
	}); err != nil {
		return 0, err
	}
	most := 0
	for done := false; !done; {
		err := db.Write(ctx, 0, func(tx *Tx) error {
			s, err := buildStep(ctx, tx, 100, false)
			if err != nil {
				return err
			}
			done = s.ready
			var n int
			err = tx.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()`).Scan(&n)
			most = max(most, n)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return most, nil
}

// SetBuild sets how many logs each transaction of db's report builds adds, and a function
// called after each of them committed.
func SetBuild(db *DB, batch int, after func(added []string)) {
	db.builder.batch, db.builder.after = batch, after
}

// SetBeforeReportRead sets a function run between a report's check that the aggregates
// are ready and its read.
func SetBeforeReportRead(db *DB, f func()) { db.beforeReportRead = f }
