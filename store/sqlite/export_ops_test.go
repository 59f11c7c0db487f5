package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// SetBackupSnapshotHook sets a function called with the read transaction whose snapshot a
// backup copied, before it ends (nil: none).
func SetBackupSnapshotHook(fn func(tx *sql.Tx)) { backupSnapshotHook = fn }

// MigrateTo applies the migrations up to version target to the database behind db: tests
// build the databases older builds made.
func MigrateTo(ctx context.Context, db *sql.DB, target int) error {
	return migrateTo(ctx, db, time.Now, target)
}

// DSN is the writer's connection string for path.
func DSN(path string) string { return dsn(path, false) }

// SetWriterQueryOnly makes the writer's connection refuse writes (SQLITE_READONLY), as a
// database on a disk that went read-only does, or accept them again.
func SetWriterQueryOnly(ctx context.Context, db *DB, on bool) error {
	v := "0"
	if on {
		v = "1"
	}
	_, err := db.write.ExecContext(ctx, "PRAGMA query_only = "+v)
	return err
}
