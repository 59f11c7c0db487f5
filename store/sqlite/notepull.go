package sqlite

import (
	"context"
	"time"

	"github.com/cdtsync/cdtsync/sync/engine"
)

var _ engine.PullNoter = (*DB)(nil)

// pullNoteEvery is how often a device's last pull is written: a phone paging through a
// pull makes many requests, one write a minute is enough for "last synced".
const pullNoteEvery = time.Minute

// NotePull records that a device pulled, at most once a minute per device, through the
// writer; if the writer is busy it skips the note rather than slow the pull.
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
	db.pulled[deviceRow] = at
	db.pullMu.Unlock()
	stamp := engine.Time(at)
	bg := context.WithoutCancel(ctx) // the note outlives a client that hung up
	db.Write(bg, 0, func(tx *Tx) error {
		_, err := tx.ExecContext(bg, `UPDATE devices SET last_pull_at = ? WHERE id = ?`, stamp, deviceRow)
		return err
	})
}
