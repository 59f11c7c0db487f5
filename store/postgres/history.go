package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// A database's history. Positions are the transaction ids of the cluster that wrote the
// rows (pull.go), and a phone's cursor is one of them. Two things an operator does to a
// database break that, and both need a new epoch, so that every phone starts over and
// offers again what the database no longer has:
//
//   - A restore to an earlier point (point-in-time recovery, a snapshot): the database
//     forgets what it acknowledged after that point, and its transaction ids count again
//     from there, so a phone's cursor may point into a history that is gone. PostgreSQL
//     cannot tell this from a failover (both start a new timeline), so Open only warns
//     when the timeline changed, and `cdtsync restore --database …` (NewHistory) starts the
//     new history.
//   - A logical copy (pg_dump | pg_restore) into another cluster: the rows keep the ids of
//     the old cluster, which are usually above the new cluster's. New writes would then get
//     positions below rows already there, and rows above the horizon would never be
//     pulled. Open finds this itself: the cluster's identity (its system identifier) is
//     recorded in meta, and when it changed, rows whose tx is past every id this cluster
//     has handed out are re-based to tx 0 and the database gets a new epoch.
//
// A physical standby promoted after a failover, or pg_upgrade, keeps the transaction ids:
// nothing is re-based and no phone starts over.

// pullableTables are the tables whose rows carry a position (tx, seq).
var pullableTables = []string{"units", "activity_kinds", "teams", "logs", "targets"}

// cluster is what identifies the history a database is in: the PostgreSQL cluster's
// system identifier and its timeline.
type cluster struct {
	system   string
	timeline int64
}

// currentCluster reads the cluster's identity: pg_control_system() and the timeline of the
// current WAL file's name.
func currentCluster(ctx context.Context, q querier) (cluster, error) {
	var (
		c   cluster
		wal string
	)
	if err := q.QueryRow(ctx, `SELECT system_identifier::text, pg_walfile_name(pg_current_wal_lsn()) FROM pg_control_system()`).
		Scan(&c.system, &wal); err != nil {
		return c, err
	}
	if len(wal) < 8 {
		return c, fmt.Errorf("postgres: WAL file name %q", wal)
	}
	tl, err := strconv.ParseInt(wal[:8], 16, 64)
	c.timeline = tl
	return c, err
}

// HistoryReport tells what a check or a new history did.
type HistoryReport struct {
	// Rebased is the number of rows written by another cluster whose position was set
	// to tx 0.
	Rebased int64
	// Epoch is the database's epoch now; PreviousEpoch the one before, if it changed.
	Epoch, PreviousEpoch string
}

// checkHistory compares the cluster the database was last opened in with the current one
// (see above), under the migration lock, so that servers starting together do it once.
func (db *DB) checkHistory(ctx context.Context) error {
	return withMigrateLock(ctx, db.pool, func(conn *pgxpool.Conn) error { return db.checkHistoryLocked(ctx, conn) })
}

func (db *DB) checkHistoryLocked(ctx context.Context, conn *pgxpool.Conn) error {
	now, err := currentCluster(ctx, conn)
	if err != nil {
		// A managed service may refuse the control functions: nothing is lost but the check.
		db.log.Warn("cannot read the PostgreSQL cluster's identity; a copy of this database into another cluster will not be detected", "err", err)
		return nil
	}
	var was cluster
	var system, timeline *string
	if err := conn.QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'cluster_system'),
		(SELECT value FROM meta WHERE key = 'cluster_timeline')`).Scan(&system, &timeline); err != nil {
		return storageError(err)
	}
	if system != nil {
		was.system = *system
	}
	if timeline != nil {
		was.timeline, _ = strconv.ParseInt(*timeline, 10, 64)
	}
	err = pgx.BeginTxFunc(ctx, conn, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		switch {
		case was.system != now.system:
			// A new database, one from before this check, a copy, or pg_upgrade: only a
			// copy has rows past this cluster's ids, and only then does anything change.
			r, err := newHistory(ctx, tx, false)
			if err != nil {
				return err
			}
			if r.Rebased > 0 {
				db.log.Warn("this database was copied from another PostgreSQL cluster: its positions are re-based and it has a new epoch; phones pull afresh and offer again what the copy lacks",
					"rows", r.Rebased, "epoch", r.Epoch, "previous_epoch", r.PreviousEpoch)
			}
		case was.timeline != now.timeline:
			db.log.Warn("PostgreSQL's timeline changed: a failover, or a restore to an earlier point. After a failover with synchronous replication nothing is lost and nothing is to be done; after a restore to an earlier point, run `cdtsync restore --database …` so that phones pull afresh and offer again what the database lost",
				"was", was.timeline, "now", now.timeline)
		default:
			return nil
		}
		return recordCluster(ctx, tx, now)
	})
	return storageError(err)
}

func recordCluster(ctx context.Context, tx pgx.Tx, c cluster) error {
	_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('cluster_system', $1), ('cluster_timeline', $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, c.system, strconv.FormatInt(c.timeline, 10))
	return err
}

// NewHistory starts a new history for a database restored with PostgreSQL's tools (to an
// earlier point, or copied): a new epoch, so every phone starts over and offers again what
// the database lost, and the rows of another cluster, if any, re-based below every
// position this one will make. Servers may be running: their next pulls start phones over.
func (db *DB) NewHistory(ctx context.Context) (HistoryReport, error) {
	var r HistoryReport
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		var err error
		if r, err = newHistory(ctx, tx, true); err != nil {
			return err
		}
		c, err := currentCluster(ctx, tx)
		if err != nil {
			return nil // not recorded; Open warned already
		}
		return recordCluster(ctx, tx, c)
	})
	return r, storageError(err)
}

// newHistory re-bases the rows whose tx is not below the snapshot's xmax — which no
// transaction of this cluster that the snapshot sees can have written — to tx 0, and
// gives the database a new epoch if it re-based any, or if always. tx must be REPEATABLE
// READ: its one snapshot is what the rows are compared with.
func newHistory(ctx context.Context, tx pgx.Tx, always bool) (HistoryReport, error) {
	var (
		r    HistoryReport
		xmax int64
	)
	if err := tx.QueryRow(ctx, `SELECT `+xmaxExpr+`, (SELECT value FROM meta WHERE key = 'epoch')`).
		Scan(&xmax, &r.Epoch); err != nil {
		return r, err
	}
	for _, t := range pullableTables {
		tag, err := tx.Exec(ctx, `UPDATE `+t+` SET tx = 0 WHERE tx >= $1`, xmax)
		if err != nil {
			return r, err
		}
		r.Rebased += tag.RowsAffected()
	}
	if r.Rebased == 0 && !always {
		return r, nil
	}
	r.PreviousEpoch, r.Epoch = r.Epoch, randomHex(8)
	_, err := tx.Exec(ctx, `UPDATE meta SET value = $1 WHERE key = 'epoch'`, r.Epoch)
	return r, err
}
