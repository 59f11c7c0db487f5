package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Reports on a read replica (Options.ReportURL). A report is one read-only snapshot over
// a whole subtree — a province's is the largest read the product makes: on the primary it
// takes CPU and I/O from pushes, and while it lasts VACUUM cannot remove row versions
// newer than it. (It does not hold back the pulls' horizon, pull.go: a transaction that
// writes nothing has no id.) On a hot standby it costs the primary nothing, so coverage
// and team reports (and their CSV and XLSX exports) read there, lagging the primary by
// the replication delay, usually well under a second.
//
// What stays on the primary: the check that the caller may see the unit, the report
// aggregates' upkeep (EnsureReports writes), and everything phones and reviews do.
//
// A replica that cannot answer (down, not yet started, or a query cancelled by a conflict
// with recovery) does not fail the report: it runs on the primary, with a warning, and is
// counted (ReportStats).

// replica is the report database.
type replica struct {
	pool                       *pgxpool.Pool
	onReplica, onPrimary, fell atomic.Int64
}

// openReplica connects to the report database at url and checks it is a copy of this
// deployment's database: the same citizen key (a replica of another province's database
// would report that province's people under this one's units). An unreachable replica is
// only warned about: reports fall back to the primary until it answers.
func (db *DB) openReplica(ctx context.Context, url string) error {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("postgres: report database: %w", err)
	}
	cfg.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("postgres: report database: %w", err)
	}
	var theirs, ours string
	err = pool.QueryRow(ctx, `SELECT value FROM meta WHERE key = 'citizen_key'`).Scan(&theirs)
	if err != nil {
		db.log.Warn("the report database does not answer; reports run on the primary until it does", "err", err)
	} else {
		if ours, err = db.metaValue(ctx, "citizen_key"); err != nil {
			pool.Close()
			return err
		}
		if theirs != ours {
			pool.Close()
			return errors.New("postgres: --report-database is not a copy of --database (another deployment's citizen key): " +
				"cơ sở dữ liệu báo cáo không phải bản sao của cơ sở dữ liệu chính")
		}
	}
	db.replica = &replica{pool: pool}
	return nil
}

// reportRead runs fn in a read-only snapshot, on the report database if there is one and
// it answers, and otherwise on the primary. fn only reads, so running it again elsewhere
// is safe.
//
// The snapshot must hold built aggregates: EnsureReports found them ready, but another
// process may have begun a build since (a unit moved), and a replica may not yet have
// replayed a build's end. A replica's snapshot without them is read on the primary; a
// primary's answers CodeUnavailable with the build's progress, never half-built counts.
func (db *DB) reportRead(ctx context.Context, fn func(pgx.Tx) error) error {
	if f := db.beforeReportRead; f != nil {
		f()
	}
	if r := db.replica; r != nil {
		err := readSnapshot(ctx, r.pool, fn)
		if err == nil {
			r.onReplica.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return storageError(err)
		}
		if !errors.Is(err, errNotBuilt) {
			r.fell.Add(1)
			db.log.Warn("a report could not be read on the report database; reading it on the primary", "err", err)
		}
	}
	err := readSnapshot(ctx, db.pool, fn)
	if errors.Is(err, errNotBuilt) {
		p, err := db.buildProgress(ctx)
		if err != nil {
			return err
		}
		return p.unavailable()
	}
	if err == nil && db.replica != nil {
		db.replica.onPrimary.Add(1)
	}
	return storageError(err)
}

// errNotBuilt is a report snapshot whose aggregates are stale or being built.
var errNotBuilt = errors.New("reports: the snapshot's aggregates are not built")

// readSnapshot runs fn in a REPEATABLE READ, READ ONLY transaction of pool whose
// aggregates are built (errNotBuilt otherwise).
func readSnapshot(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var state *string
	if err := tx.QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'rpt_state')`).Scan(&state); err != nil {
		return err
	}
	if state != nil {
		return errNotBuilt
	}
	return fn(tx)
}

// ReportStats counts this process's reports read on the report database and on the
// primary, and the reads the report database failed (then read on the primary). All zero
// without a report database.
type ReportStats struct {
	OnReplica, OnPrimary, ReplicaFailed int64
}

// ReportStats returns the report read counters.
func (db *DB) ReportStats() ReportStats {
	r := db.replica
	if r == nil {
		return ReportStats{}
	}
	return ReportStats{OnReplica: r.onReplica.Load(), OnPrimary: r.onPrimary.Load(), ReplicaFailed: r.fell.Load()}
}
