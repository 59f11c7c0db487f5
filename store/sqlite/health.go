package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Room limits: below them the database counts as full for /readyz, before a write fails.
const (
	// minFreePages is the room left under the database's size cap (max_page_count).
	minFreePages = 16
	// minFreeDisk is the free space left on the data directory's disk.
	minFreeDisk = 32 << 20
)

// Retry-After of storage failures: a full disk needs a person; a busy or read-only one
// may come back by itself.
const (
	retryStorageFull = 60 * time.Second
	retryNotWritable = 10 * time.Second
)

func errStorageFull() *schema.Error {
	return &schema.Error{Code: schema.CodeStorageFull, RetryAfter: retryStorageFull,
		Message: "Máy chủ hết dung lượng lưu trữ; dữ liệu chưa được ghi, hãy gửi lại sau / the server's disk is full; nothing was stored, resend later"}
}

func errNotWritable() *schema.Error {
	return &schema.Error{Code: schema.CodeUnavailable, RetryAfter: retryNotWritable,
		Message: "Cơ sở dữ liệu tạm thời không ghi được; dữ liệu chưa được ghi, hãy gửi lại sau / the database cannot be written right now; nothing was stored, resend later"}
}

// Room is how much the database may still grow.
type Room struct {
	DBBytes   int64 // the database file's pages in use (free pages included)
	FreeBytes int64 // free pages inside the file, reused before it grows
	CapBytes  int64 // the size cap (max_page_count); 0 if none is set
	DiskFree  int64 // free bytes on the data directory's disk for this user; -1 if unknown
}

// Room measures the database's room to grow.
func (db *DB) Room(ctx context.Context) (Room, error) {
	var r Room
	var pageSize, pages, free int64
	err := db.read.QueryRowContext(ctx, `SELECT (SELECT page_size FROM pragma_page_size), (SELECT page_count FROM pragma_page_count),
		(SELECT freelist_count FROM pragma_freelist_count)`).Scan(&pageSize, &pages, &free)
	if err != nil {
		return r, err
	}
	r.DBBytes, r.FreeBytes = pages*pageSize, free*pageSize
	// max_page_count is per connection and the writer's counts; it is remembered here
	// rather than asked, so that measuring never waits for the writer.
	r.CapBytes = db.maxPages.Load() * pageSize
	r.DiskFree = diskFree(filepath.Dir(db.path))
	return r, nil
}

// checkRoom fails with CodeStorageFull when the database is at its size cap or the disk is
// nearly full: the next large write would fail.
func (db *DB) checkRoom(ctx context.Context, tx *Tx) error {
	var pages, free, max int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT page_count FROM pragma_page_count),
		(SELECT freelist_count FROM pragma_freelist_count), (SELECT max_page_count FROM pragma_max_page_count)`).Scan(&pages, &free, &max); err != nil {
		return err
	}
	if max-pages+free < minFreePages {
		e := errStorageFull()
		e.Message = fmt.Sprintf("Cơ sở dữ liệu đã đạt giới hạn kích thước (%d trang) / the database is at its size cap (%d pages)", max, max)
		return e
	}
	if d := diskFree(filepath.Dir(db.path)); d >= 0 && d < minFreeDisk {
		e := errStorageFull()
		e.Message = fmt.Sprintf("Đĩa dữ liệu còn %d MiB trống / the data disk has %d MiB free", d>>20, d>>20)
		return e
	}
	return nil
}

// SetMaxPages changes the database's size cap (PRAGMA max_page_count on the writer's
// connection; never below the pages in use). Writes refused with CodeStorageFull succeed
// again, once resent, when the cap is raised: nothing else needs restarting.
func (db *DB) SetMaxPages(ctx context.Context, n int) error {
	var got int64
	if err := db.write.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", n)).Scan(&got); err != nil {
		return storageError(err)
	}
	db.maxPages.Store(got)
	return nil
}

// OutboxStats summarises what phones report of their unsynced work (the pending_ops and
// oldest_pending_at of each push), over enrolled, not revoked devices.
type OutboxStats struct {
	DevicesPending int   // devices whose last report had unsynced ops
	PendingOps     int64 // their unsynced ops
	// OldestAge is how long the oldest unsynced op has waited (0 if none).
	OldestAge time.Duration
	// OlderThan counts the devices whose oldest unsynced op is older than each of Ages.
	OlderThan []int
}

// OutboxAges are the thresholds of OutboxStats.OlderThan.
var OutboxAges = []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

// OutboxStats reads the phones' outbox reports as of now.
func (db *DB) OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error) {
	var st OutboxStats
	var oldest *string
	args := []any{}
	q := `SELECT count(*), COALESCE(sum(pending_ops), 0), min(oldest_pending_at)`
	for _, a := range OutboxAges {
		q += `, count(*) FILTER (WHERE oldest_pending_at < ?)`
		args = append(args, now.Add(-a).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
	q += ` FROM devices WHERE revoked_at IS NULL AND pending_ops > 0`
	st.OlderThan = make([]int, len(OutboxAges))
	dest := []any{&st.DevicesPending, &st.PendingOps, &oldest}
	for i := range st.OlderThan {
		dest = append(dest, &st.OlderThan[i])
	}
	if err := db.read.QueryRowContext(ctx, q, args...).Scan(dest...); err != nil {
		return st, err
	}
	if oldest != nil {
		if t, err := time.Parse(time.RFC3339Nano, *oldest); err == nil && now.After(t) {
			st.OldestAge = now.Sub(t)
		}
	}
	return st, nil
}
