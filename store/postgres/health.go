package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

var _ engine.PullNoter = (*DB)(nil)

func hlcOf(v int64) hlc.Timestamp { return hlc.Timestamp(v) }

// pullNoteEvery is how often a device's last pull is written, per process.
const pullNoteEvery = time.Minute

// NotePull records that a device pulled, at most once a minute per device and process. It
// is best effort: a failure is ignored.
func (db *DB) NotePull(ctx context.Context, deviceRow int64, at time.Time) {
	db.pullMu.Lock()
	if db.pulled == nil {
		db.pulled = map[int64]time.Time{}
	}
	last, seen := db.pulled[deviceRow]
	if seen && at.Sub(last) < pullNoteEvery {
		db.pullMu.Unlock()
		return
	}
	if len(db.pulled) > 100_000 {
		db.pulled = map[int64]time.Time{}
	}
	db.pulled[deviceRow] = at
	db.pullMu.Unlock()
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	// Only ever forward: two servers noting pulls of one phone keep the later.
	db.pool.Exec(bg, `UPDATE devices SET last_pull_at = $1 WHERE id = $2 AND (last_pull_at IS NULL OR last_pull_at < $1)`,
		accessTime(at), deviceRow)
}

// Room is how much the database may still grow. PostgreSQL manages its own disk; the
// store reports the database's size (pg_database_size), no cap and no free-space figure:
// watch the PostgreSQL server's disk with its own monitoring.
func (db *DB) Room(ctx context.Context) (sqlite.Room, error) {
	var size int64
	err := db.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size)
	return sqlite.Room{DBBytes: size, DiskFree: -1}, storageError(err)
}

// OutboxStats reads the phones' outbox reports as of now (see the SQLite store).
func (db *DB) OutboxStats(ctx context.Context, now time.Time) (sqlite.OutboxStats, error) {
	var st sqlite.OutboxStats
	var oldest *time.Time
	args := []any{}
	q := `SELECT count(*), COALESCE(sum(pending_ops), 0), min(oldest_pending_at)`
	for _, a := range sqlite.OutboxAges {
		args = append(args, now.Add(-a).UTC())
		q += `, count(*) FILTER (WHERE oldest_pending_at < $` + strconv.Itoa(len(args)) + `)`
	}
	q += ` FROM devices WHERE revoked_at IS NULL AND pending_ops > 0`
	st.OlderThan = make([]int, len(sqlite.OutboxAges))
	dest := []any{&st.DevicesPending, &st.PendingOps, &oldest}
	for i := range st.OlderThan {
		dest = append(dest, &st.OlderThan[i])
	}
	if err := db.pool.QueryRow(ctx, q, args...).Scan(dest...); err != nil {
		return st, storageError(err)
	}
	if oldest != nil && now.After(*oldest) {
		st.OldestAge = now.Sub(*oldest)
	}
	return st, nil
}
