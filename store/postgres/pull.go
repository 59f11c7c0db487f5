package postgres

import (
	"context"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// Pulls. Every pullable row holds its position (tx, seq): the id of the transaction that
// last wrote it and a number from change_seq. Writers commit in any order, so positions
// are not in commit order; what makes a cursor safe is the horizon:
//
//	horizon = pg_snapshot_xmin(pg_current_snapshot())
//
// the oldest transaction still running when the pull starts, among those that have an id
// (that have written: a transaction that only reads gets none and holds nothing back,
// TestReadOnlySnapshotDoesNotHoldPulls). Every transaction with an
// id below it has ended, so the rows it wrote are all visible to the pull's queries (which
// start later) and no row will ever again get a position below the horizon: a transaction
// still running, or one that has not started, gets an id at or above it. A pull returns
// only rows below the horizon, in (tx, seq) order, and its cursor is the last position it
// returned — below the horizon. Whatever commits later has a position above the cursor
// and is pulled next time: a late commit is never skipped. A row written again later gets
// a new, higher position and is pulled again.
//
// A row below the horizon may have been rewritten since by a transaction above it: the
// pull then does not see the old version, and the new one comes with a later pull.
//
// Read-your-writes: a phone that pushed and pulls at once must find its push, whose
// transaction may be above the horizon while an older, unrelated transaction (any
// database of the cluster) is still running. The pull therefore waits, up to
// Options.PullWait,
// for the horizon to pass the newest write of the volunteer's logs; after that it returns
// what is safe and the rest comes with the next pull.

// pullWait is the default of Options.PullWait.
const pullWait = 2 * time.Second

type syncReader struct {
	db   *DB
	now  time.Time
	xmax int64 // read with the epoch (Frontier)
}

func (r *syncReader) Now() time.Time { return r.now }

// xmaxExpr is the first transaction id not yet handed out, as of the statement's snapshot:
// every position this cluster's history has made is below it.
const xmaxExpr = `pg_snapshot_xmax(pg_current_snapshot())::text::bigint`

// Epoch reads the epoch, and the frontier with it in the same round trip.
func (r *syncReader) Epoch(ctx context.Context) (string, error) {
	var e string
	err := r.db.pool.QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'epoch'), `+xmaxExpr).Scan(&e, &r.xmax)
	return e, storageError(err)
}

// Frontier is xmaxExpr as the pull began (read with the epoch): a cursor the database
// made before then is below it.
func (r *syncReader) Frontier(ctx context.Context) (engine.Pos, error) {
	if r.xmax == 0 {
		if err := r.db.pool.QueryRow(ctx, `SELECT `+xmaxExpr).Scan(&r.xmax); err != nil {
			return engine.Pos{}, storageError(err)
		}
	}
	return engine.Pos{Tx: r.xmax}, nil
}

// subtreeRange returns the [lo, hi) range of materialised paths in the subtree of the
// unit with the given path: paths are digits and '/', and '0' sorts right after '/'.
func subtreeRange(path string) (lo, hi string) {
	return path, path[:len(path)-1] + "0"
}

// horizon returns the oldest running transaction's id: rows below it are final.
func horizon(ctx context.Context, q querier) (int64, error) {
	var h int64
	err := q.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&h)
	return h, err
}

// Changes merges, in position order, the volunteer's logs and the reference data of its
// scope changed after pos, below the horizon.
func (r *syncReader) Changes(ctx context.Context, a schema.Actor, pos engine.Pos, limit int) ([]engine.SeqChange, bool, error) {
	h, err := r.waitHorizon(ctx, a.UserID)
	if err != nil {
		return nil, false, storageError(err)
	}
	lo, hi := subtreeRange(a.UnitPath)
	n := limit + 1
	after := `(tx, seq) > ($1, $2) AND tx < $3`
	sources := []struct {
		query string
		args  []any
		scan  func(pgx.Row) (schema.Change, error)
	}{
		{`SELECT tx, seq, ` + logColumns + ` FROM logs WHERE volunteer_id = $4 AND ` + after + ` ORDER BY tx, seq LIMIT $5`,
			[]any{a.UserID, n}, func(s pgx.Row) (schema.Change, error) {
				var lr logRow
				if err := lr.scan(s); err != nil {
					return schema.Change{}, err
				}
				w := lr.wire()
				return schema.Change{Type: schema.ChangeLog, Log: &w}, nil
			}},
		{`SELECT tx, seq, ` + unitColumns + ` FROM units WHERE path >= $4 AND path < $5 AND ` + after + ` ORDER BY tx, seq LIMIT $6`,
			[]any{lo, hi, n}, func(s pgx.Row) (schema.Change, error) {
				u, err := scanUnit(s)
				return schema.Change{Type: schema.ChangeUnit, Unit: &u}, err
			}},
		{`SELECT tx, seq, id, name, unit_id, cdt_ts(created_at) FROM teams WHERE id = $4 AND ` + after + ` ORDER BY tx, seq LIMIT $5`,
			[]any{a.TeamID, n}, func(s pgx.Row) (schema.Change, error) {
				var t schema.Team
				err := s.Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt)
				return schema.Change{Type: schema.ChangeTeam, Team: &t}, err
			}},
		{`SELECT tx, seq, code, name_vi, name_en, once_per_person, active, sort FROM activity_kinds WHERE ` + after + ` ORDER BY tx, seq LIMIT $4`,
			[]any{n}, func(s pgx.Row) (schema.Change, error) {
				var k schema.Kind
				err := s.Scan(&k.Code, &k.NameVI, &k.NameEN, &k.OncePerPerson, &k.Active, &k.Sort)
				return schema.Change{Type: schema.ChangeKind, Kind: &k}, err
			}},
		{`SELECT t.tx, t.seq, t.unit_id, t.metric, t.period, t.value, t.version FROM targets t JOIN units u ON u.id = t.unit_id
			WHERE u.path >= $4 AND u.path < $5 AND (t.tx, t.seq) > ($1, $2) AND t.tx < $3 ORDER BY t.tx, t.seq LIMIT $6`,
			[]any{lo, hi, n}, func(s pgx.Row) (schema.Change, error) {
				var t schema.Target
				err := s.Scan(&t.UnitID, &t.Metric, &t.Period, &t.Value, &t.Version)
				return schema.Change{Type: schema.ChangeTarget, Target: &t}, err
			}},
	}
	// Each source gives at most limit+1 rows in position order; the first limit of the
	// merge are then the first limit overall, and a source with more means more follow.
	var all []engine.SeqChange
	more := false
	for _, src := range sources {
		args := append([]any{pos.Tx, pos.Seq, h}, src.args...)
		cs, err := r.changesOf(ctx, src.query, args, src.scan)
		if err != nil {
			return nil, false, storageError(err)
		}
		if len(cs) > limit {
			more, cs = true, cs[:limit]
		}
		all = append(all, cs...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Pos.Less(all[j].Pos) })
	if len(all) > limit {
		all, more = all[:limit], true
	}
	return all, more, nil
}

// waitHorizon returns the horizon once it has passed the volunteer's newest log write, or
// after pullWait.
func (r *syncReader) waitHorizon(ctx context.Context, volunteer int64) (int64, error) {
	h, err := horizon(ctx, r.db.pool)
	if err != nil {
		return 0, err
	}
	var newest *int64
	if err := r.db.pool.QueryRow(ctx, `SELECT max(tx) FROM logs WHERE volunteer_id = $1`, volunteer).Scan(&newest); err != nil {
		return 0, err
	}
	if newest == nil || *newest < h {
		return h, nil
	}
	deadline := time.Now().Add(r.db.opts.PullWait)
	wait := time.Millisecond
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(wait):
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
		if h, err = horizon(ctx, r.db.pool); err != nil {
			return 0, err
		}
		if *newest < h {
			return h, nil
		}
	}
	return h, nil
}

// changesOf runs one source query whose first columns are tx and seq.
func (r *syncReader) changesOf(ctx context.Context, query string, args []any, scan func(pgx.Row) (schema.Change, error)) ([]engine.SeqChange, error) {
	rows, err := r.db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.SeqChange
	for rows.Next() {
		var p engine.Pos
		c, err := scan(posScanner{rows, &p})
		if err != nil {
			return nil, err
		}
		out = append(out, engine.SeqChange{Pos: p, Change: c})
	}
	return out, rows.Err()
}

// posScanner scans the leading tx and seq columns, then hands the rest to another scan.
type posScanner struct {
	rows pgx.Rows
	pos  *engine.Pos
}

func (s posScanner) Scan(dest ...any) error {
	return s.rows.Scan(append([]any{&s.pos.Tx, &s.pos.Seq}, dest...)...)
}
