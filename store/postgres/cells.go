package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/report"
)

// Report cells as a base and deltas. A write that changes report figures appends, per
// cell it changes, one row to rpt_cell_deltas: the change, in report.Cell's binary form
// with figures that may be negative. Nobody updates a cell in a write's path, so writes of
// one province do not queue on that province's cells. Every figure a report reads from a
// cell is a sum (report.Scan), so a report reads a cell's base and its deltas and adds
// them up. The compactor folds deltas into their cells now and then, in its own short
// transactions; one process compacts at a time (an advisory lock), and a report reads
// cells and deltas in one snapshot, so it sees each delta exactly once.

// cellDelta is a change to a cell, gathered in memory (report.Delta's twin, whose figures
// it can hand over as a cell).
type cellDelta struct {
	kinds map[string]*[report.NumVariants]report.Sums
	pairs map[pairKey]int64
}

type pairKey struct {
	m, v int
	prev report.Day
}

func (d *cellDelta) AddSums(kind string, v int, s report.Sums, sign int64) {
	if d.kinds == nil {
		d.kinds = map[string]*[report.NumVariants]report.Sums{}
	}
	k := d.kinds[kind]
	if k == nil {
		k = &[report.NumVariants]report.Sums{}
		d.kinds[kind] = k
	}
	k[v].Logs += sign * s.Logs
	k[v].Attendees += sign * s.Attendees
	k[v].Incomplete += sign * s.Incomplete
}

func (d *cellDelta) AddPair(m, v int, prev report.Day, n int64) {
	if d.pairs == nil {
		d.pairs = map[pairKey]int64{}
	}
	k := pairKey{m, v, prev}
	d.pairs[k] += n
	if d.pairs[k] == 0 {
		delete(d.pairs, k)
	}
}

func (d *cellDelta) Empty() bool {
	if len(d.pairs) > 0 {
		return false
	}
	for _, k := range d.kinds {
		for _, s := range k {
			if s != (report.Sums{}) {
				return false
			}
		}
	}
	return true
}

// Cell returns the delta as a cell whose figures may be negative.
func (d *cellDelta) Cell() report.Cell {
	var c report.Cell
	for kind, s := range d.kinds {
		if s[report.All] == (report.Sums{}) && s[report.Approved] == (report.Sums{}) {
			continue
		}
		c.Kinds = append(c.Kinds, report.KindSums{Kind: kind, V: *s})
	}
	sort.Slice(c.Kinds, func(i, j int) bool { return c.Kinds[i].Kind < c.Kinds[j].Kind })
	for k, n := range d.pairs {
		c.Pairs[k.m][k.v] = append(c.Pairs[k.m][k.v], report.Pair{Prev: k.prev, N: n})
	}
	for m := range c.Pairs {
		for v := range c.Pairs[m] {
			ps := c.Pairs[m][v]
			sort.Slice(ps, func(i, j int) bool { return ps[i].Prev < ps[j].Prev })
		}
	}
	return c
}

// addCellTo adds an encoded cell (a base or a delta) to a report.Delta.
func addCellTo(d *report.Delta, data []byte) error {
	c, err := report.DecodeCell(data)
	if err != nil {
		return err
	}
	for _, k := range c.Kinds {
		for v := range k.V {
			d.AddSums(k.Kind, v, k.V[v], 1)
		}
	}
	for m := range c.Pairs {
		for v := range c.Pairs[m] {
			for _, p := range c.Pairs[m][v] {
				d.AddPair(m, v, p.Prev, p.N)
			}
		}
	}
	return nil
}

// compactLock is the advisory lock of the compactor (outside the write classes: the
// compactor takes nothing else but the reports lock, shared, first).
var compactLock = lockKey(6, "compact")

// compactBatch is how many deltas one compaction transaction folds at most.
const compactBatch = 20000

// Compact folds pending cell deltas into their cells, a batch per transaction, until none
// is left or another process is compacting. It returns how many it folded.
func (db *DB) Compact(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := db.Write(ctx, 0, func(tx *Tx) error {
			if err := tx.takeShared(ctx, lockReports); err != nil {
				return err
			}
			var got bool
			if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, compactLock).Scan(&got); err != nil || !got {
				return err
			}
			var err error
			n, err = compact(ctx, tx, compactBatch)
			return err
		})
		total += n
		if err != nil || n < compactBatch {
			return total, err
		}
	}
}

// compactAll folds every delta, in tx (a rebuild, which holds the reports lock).
func compactAll(ctx context.Context, tx *Tx) error {
	for {
		n, err := compact(ctx, tx, compactBatch)
		if err != nil || n < compactBatch {
			return err
		}
	}
}

// compact folds up to limit deltas, oldest first: the deltas it deletes are exactly the
// ones it adds to their cells.
func compact(ctx context.Context, tx *Tx, limit int) (int, error) {
	rows, err := tx.Query(ctx, `DELETE FROM rpt_cell_deltas WHERE id IN (SELECT id FROM rpt_cell_deltas ORDER BY id LIMIT $1)
		RETURNING period, key, data`, limit)
	if err != nil {
		return 0, err
	}
	deltas := map[cellID]*report.Delta{}
	n := 0
	for rows.Next() {
		var (
			id   cellID
			data []byte
		)
		if err := rows.Scan(&id.period, &id.key, &data); err != nil {
			rows.Close()
			return 0, err
		}
		d := deltas[id]
		if d == nil {
			d = &report.Delta{}
			deltas[id] = d
		}
		if err := addCellTo(d, data); err != nil {
			rows.Close()
			return 0, fmt.Errorf("cell delta %d %s: %w", id.period, id.key, err)
		}
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	ids := make([]cellID, 0, len(deltas))
	for id := range deltas {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		if ids[i].period != ids[j].period {
			return ids[i].period < ids[j].period
		}
		return ids[i].key < ids[j].key
	})
	periods := make([]int32, len(ids))
	keys := make([]string, len(ids))
	for i, id := range ids {
		periods[i], keys[i] = id.period, id.key
	}
	cur := map[cellID][]byte{}
	rows, err = tx.Query(ctx, `SELECT c.period, c.key, c.data FROM rpt_cells c
		JOIN unnest($1::integer[], $2::text[]) AS k(period, key) ON k.period = c.period AND k.key = c.key`, periods, keys)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var (
			id   cellID
			data []byte
		)
		if err := rows.Scan(&id.period, &id.key, &data); err != nil {
			rows.Close()
			return 0, err
		}
		cur[id] = data
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	var (
		putP, delP []int32
		putK, delK []string
		putD       [][]byte
	)
	for _, id := range ids {
		var c report.Cell
		if data, ok := cur[id]; ok {
			if c, err = report.DecodeCell(data); err != nil {
				return 0, fmt.Errorf("cell %d %s: %w", id.period, id.key, err)
			}
		}
		if err := c.Apply(deltas[id]); err != nil {
			return 0, fmt.Errorf("cell %d %s: %w", id.period, id.key, err)
		}
		if c.Empty() {
			delP, delK = append(delP, id.period), append(delK, id.key)
		} else {
			putP, putK, putD = append(putP, id.period), append(putK, id.key), append(putD, c.Encode())
		}
	}
	b := &pgx.Batch{}
	if len(delP) > 0 {
		b.Queue(`DELETE FROM rpt_cells c USING unnest($1::integer[], $2::text[]) AS k(period, key)
			WHERE c.period = k.period AND c.key = k.key`, delP, delK)
	}
	if len(putP) > 0 {
		b.Queue(`INSERT INTO rpt_cells (period, key, data) SELECT * FROM unnest($1::integer[], $2::text[], $3::bytea[])
			ON CONFLICT (period, key) DO UPDATE SET data = excluded.data`, putP, putK, putD)
	}
	return n, tx.SendBatch(ctx, b).Close()
}

// startCompactor runs Compact every Options.CompactEvery until Close, and starts a build
// of the aggregates when they are not ready (rebuild.go).
func (db *DB) startCompactor() {
	every := db.opts.CompactEvery
	if every == 0 {
		every = 2 * time.Second
	}
	if every < 0 {
		return
	}
	db.compactStop, db.compactDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(db.compactDone)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-db.compactStop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if _, err := db.Compact(ctx); err != nil {
				db.log.Warn("compacting report cells", "err", err)
			}
			// Aggregates made stale meanwhile (an import moved a unit) are built now, not
			// at the first report after it.
			if p, err := db.buildProgress(ctx); err == nil && !p.Ready {
				db.builder.start(db)
			}
			cancel()
		}
	}()
}

func (db *DB) stopCompactor() {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	if db.compactStop != nil {
		close(db.compactStop)
		<-db.compactDone
		db.compactStop = nil
	}
}

// readCells calls fn with every cell and every pending delta whose key is in [lo, hi)
// that a report of [from, to] reads (report.Plan), encoded. q must be a snapshot
// (a REPEATABLE READ transaction), so that a delta folded meanwhile is seen once.
func readCells(ctx context.Context, q querier, lo, hi string, from, to report.Day, fn func(key string, data []byte, r report.CellRead) error) error {
	for _, r := range report.Plan(from, to) {
		rows, err := q.Query(ctx, `SELECT key, data FROM rpt_cells WHERE period = $1 AND key >= $2 AND key < $3
			UNION ALL SELECT key, data FROM rpt_cell_deltas WHERE period = $1 AND key >= $2 AND key < $3`, r.Period, lo, hi)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				key  string
				data []byte
			)
			if err := rows.Scan(&key, &data); err != nil {
				rows.Close()
				return err
			}
			if err := fn(key, data, r); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// DumpReports folds every pending delta, then returns every report aggregate as text,
// decoded, in a stable order: equal dumps mean equal aggregates (tests compare the
// aggregates kept up to date with aggregates rebuilt from the logs).
func (db *DB) DumpReports(ctx context.Context) (string, error) {
	var b strings.Builder
	err := db.Write(ctx, 0, func(tx *Tx) error {
		b.Reset()
		if err := tx.takeExclusive(ctx, lockReports); err != nil {
			return err
		}
		if err := compactAll(ctx, tx); err != nil {
			return err
		}
		for _, q := range []string{
			`SELECT id::text, hamlet_id, team_id, volunteer_id, day, ms, kind, counted, approved, attendees,
				encode(person, 'hex'), encode(household, 'hex') FROM rpt_contrib ORDER BY id`,
			`SELECT volunteer_id, day, hamlet_id, team_id, n, n_approved FROM rpt_vdays ORDER BY 1, 2, 3, 4`,
			`SELECT team_id, day, n FROM rpt_tdays ORDER BY 1, 2`,
		} {
			rows, err := tx.Query(ctx, q)
			if err != nil {
				return err
			}
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					rows.Close()
					return err
				}
				fmt.Fprintln(&b, vals...)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT period, key, data FROM rpt_cells ORDER BY period, key`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var (
				period int64
				key    string
				data   []byte
			)
			if err := rows.Scan(&period, &key, &data); err != nil {
				return err
			}
			c, err := report.DecodeCell(data)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%d %s %+v\n", period, key, c)
		}
		return rows.Err()
	})
	return b.String(), err
}
