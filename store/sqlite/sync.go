package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/merge"
)

var _ engine.Store = (*DB)(nil)
var _ engine.Tx = (*syncTx)(nil)
var _ engine.Reader = (*syncReader)(nil)

// SyncWrite runs fn in the writer's transaction (see Write).
func (db *DB) SyncWrite(ctx context.Context, weight int, fn func(engine.Tx) error) error {
	return db.Write(ctx, weight, func(tx *Tx) error { return fn(&syncTx{tx}) })
}

// SyncRead runs fn on a read snapshot: every query fn makes sees the same committed state.
func (db *DB) SyncRead(ctx context.Context, fn func(engine.Reader) error) error {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return storageError(err)
	}
	defer tx.Rollback()
	return fn(&syncReader{tx: tx, now: db.Now().UTC()})
}

type syncTx struct{ *Tx }

func (t *syncTx) Now() time.Time { return t.Tx.Now }

// chunks splits ids into pieces small enough for one IN (…) list.
func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anys(ids []string) []any {
	a := make([]any, len(ids))
	for i, id := range ids {
		a[i] = id
	}
	return a
}

func (t *syncTx) OpResults(ctx context.Context, opIDs []string) (map[string]engine.StoredOp, error) {
	out := make(map[string]engine.StoredOp, len(opIDs))
	if len(opIDs) == 0 {
		return out, nil
	}
	st, err := t.stmt(ctx, `SELECT op_id, volunteer_id, hash, status, code, message FROM ops WHERE op_id IN (SELECT value FROM json_each(?))`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, jsonList(opIDs))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var s engine.StoredOp
		if err := rows.Scan(&s.OpID, &s.VolunteerID, &s.Hash, &s.Status, &s.Code, &s.Message); err != nil {
			return nil, err
		}
		out[s.OpID] = s
	}
	return out, rows.Err()
}

func (t *syncTx) Logs(ctx context.Context, ids []string) (map[string]*merge.Log, error) {
	out := make(map[string]*merge.Log, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	err := t.queryLogs(ctx, out, `SELECT `+logColumns+` FROM logs WHERE id IN (SELECT value FROM json_each(?))`, jsonList(ids))
	return out, err
}

func (t *syncTx) queryLogs(ctx context.Context, out map[string]*merge.Log, query string, args ...any) error {
	st, err := t.stmt(ctx, query)
	if err != nil {
		return err
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r logRow
		if err := r.scan(rows); err != nil {
			return err
		}
		l := r.l
		out[l.ID] = &l
	}
	return rows.Err()
}

func (t *syncTx) History(ctx context.Context, logID string) ([]merge.HistoryEntry, error) {
	st, err := t.stmt(ctx, `SELECT field, value, hlc, device_id, op_id, base FROM log_history WHERE log_id = ?`)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, logID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merge.HistoryEntry
	for rows.Next() {
		var (
			e          merge.HistoryEntry
			field, val string
			h, base    int64
		)
		if err := rows.Scan(&field, &val, &h, &e.Stamp.Device, &e.Stamp.OpID, &base); err != nil {
			return nil, err
		}
		f, ok := schema.FieldByName(field)
		if !ok {
			continue
		}
		e.Field, e.Value = f, []byte(val)
		e.Stamp.HLC, e.Stamp.Base = hlcOf(h), hlcOf(base)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (t *syncTx) Groups(ctx context.Context, keys []merge.GroupKey) (map[merge.GroupKey][]*merge.Log, error) {
	out := make(map[merge.GroupKey][]*merge.Log, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	want := make(map[merge.GroupKey]bool, len(keys))
	refs := make([]string, 0, len(keys))
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			refs = append(refs, k.CitizenRef)
		}
	}
	m := map[string]*merge.Log{}
	if err := t.queryLogs(ctx, m, `SELECT `+logColumns+` FROM logs
		WHERE citizen_ref IN (SELECT value FROM json_each(?)) AND deleted = 0`, jsonList(refs)); err != nil {
		return nil, err
	}
	for _, l := range m {
		if k, ok := merge.KeyOf(l); ok && want[k] {
			out[k] = append(out[k], l)
		}
	}
	return out, nil
}

// jsonList encodes strings as a JSON array, the one parameter of an
// "IN (SELECT value FROM json_each(?))" list: one statement text whatever the length.
func jsonList(xs []string) string {
	b, _ := json.Marshal(xs)
	return string(b)
}

func (t *syncTx) Hamlet(ctx context.Context, id int64) (string, bool, error) {
	var path string
	st, err := t.stmt(ctx, `SELECT path FROM units WHERE id = ? AND level = 'hamlet'`)
	if err != nil {
		return "", false, err
	}
	err = st.QueryRowContext(ctx, id).Scan(&path)
	if err == sql.ErrNoRows {
		return "", false, nil
	}
	return path, err == nil, err
}

func (t *syncTx) Kinds(ctx context.Context) (map[string]schema.Kind, error) {
	return queryKinds(ctx, t.Tx.Tx)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func queryKinds(ctx context.Context, q querier) (map[string]schema.Kind, error) {
	rows, err := q.QueryContext(ctx, `SELECT code, name_vi, name_en, once_per_person, active, sort FROM activity_kinds`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]schema.Kind{}
	for rows.Next() {
		var k schema.Kind
		if err := rows.Scan(&k.Code, &k.NameVI, &k.NameEN, &k.OncePerPerson, &k.Active, &k.Sort); err != nil {
			return nil, err
		}
		out[k.Code] = k
	}
	return out, rows.Err()
}

func (t *syncTx) Save(ctx context.Context, c *engine.Changes) error {
	now := engine.Time(t.Tx.Now)
	ids := make([]string, 0, len(c.Logs))
	for id := range c.Logs {
		ids = append(ids, id)
	}
	sort.Strings(ids) // sequence numbers in a stable order
	// Report aggregates follow the logs in the same transaction (reports_maint.go).
	if err := maintainReports(ctx, t.Tx, c.Logs, c.New); err != nil {
		return err
	}
	upsert, err := t.stmt(ctx, upsertLog)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := upsert.ExecContext(ctx, logArgs(c.Logs[id], t.NextSeq(), now)...); err != nil {
			return err
		}
	}
	for _, id := range c.DropHistory {
		if _, err := t.ExecContext(ctx, `DELETE FROM log_history WHERE log_id = ?`, id); err != nil {
			return err
		}
	}
	if len(c.History) > 0 {
		ins, err := t.stmt(ctx, `INSERT OR IGNORE INTO log_history (log_id, field, value, hlc, device_id, op_id, base) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		for id, entries := range c.History {
			for _, e := range entries {
				if _, err := ins.ExecContext(ctx, id, e.Field.String(), string(e.Value), int64(e.Stamp.HLC), e.Stamp.Device, e.Stamp.OpID, int64(e.Stamp.Base)); err != nil {
					return err
				}
			}
		}
	}
	if len(c.Ops) > 0 {
		ins, err := t.stmt(ctx, `INSERT INTO ops (op_id, volunteer_id, hash, status, code, message, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		for _, o := range c.Ops {
			if _, err := ins.ExecContext(ctx, o.OpID, o.VolunteerID, o.Hash, o.Status, o.Code, o.Message, now); err != nil {
				return err
			}
		}
	}
	if d := c.Device; d != nil {
		var oldest any
		if d.OldestPendingAt != "" {
			oldest = d.OldestPendingAt
		}
		var pending any
		if d.PendingOps != nil {
			pending = *d.PendingOps
		}
		// An outbox reported empty has no oldest item; an unreported one keeps the last report.
		if _, err := t.ExecContext(ctx, `UPDATE devices SET clock_offset_ms = ?1, clock_checked_at = ?2, last_push_at = ?2,
			pending_ops = COALESCE(?3, pending_ops),
			oldest_pending_at = CASE WHEN ?3 = 0 THEN NULL WHEN ?4 IS NOT NULL THEN ?4 ELSE oldest_pending_at END
			WHERE id = ?5`, d.ClockOffsetMS, now, pending, oldest, d.DeviceRow); err != nil {
			return err
		}
	}
	return nil
}

type syncReader struct {
	tx  *sql.Tx
	now time.Time
}

func (r *syncReader) Now() time.Time { return r.now }

func (r *syncReader) Epoch(ctx context.Context) (string, error) {
	var v string
	err := r.tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'epoch'`).Scan(&v)
	return v, err
}

// Frontier is the position after the last change number handed out. SQLite positions are
// (0, seq): a cursor with a transaction part was made by another store.
func (r *syncReader) Frontier(ctx context.Context) (engine.Pos, error) {
	var seq int64
	err := r.tx.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq'`).Scan(&seq)
	return engine.Pos{Seq: seq + 1}, err
}

// subtreeRange returns the [lo, hi) range of materialised paths in the subtree of the
// unit with the given path: paths are digits and '/', and '0' sorts right after '/'.
func subtreeRange(path string) (lo, hi string) {
	return path, strings.TrimSuffix(path, "/") + "0"
}

// Changes merges, in sequence order, the volunteer's logs and the reference data of its
// scope changed after `after`.
func (r *syncReader) Changes(ctx context.Context, a schema.Actor, pos engine.Pos, limit int) ([]engine.SeqChange, bool, error) {
	after := pos.Seq // one writer: sequence numbers are in commit order
	lo, hi := subtreeRange(a.UnitPath)
	n := limit + 1
	sources := []struct {
		query string
		args  []any
		scan  func(rowScanner) (schema.Change, error)
	}{
		{`SELECT seq, ` + logColumns + ` FROM logs WHERE volunteer_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
			[]any{a.UserID, after, n}, func(s rowScanner) (schema.Change, error) {
				var lr logRow
				if err := lr.scan(s); err != nil {
					return schema.Change{}, err
				}
				w := lr.wire()
				return schema.Change{Type: schema.ChangeLog, Log: &w}, nil
			}},
		{`SELECT seq, ` + unitColumns + ` FROM units WHERE path >= ? AND path < ? AND seq > ? ORDER BY seq LIMIT ?`,
			[]any{lo, hi, after, n}, func(s rowScanner) (schema.Change, error) {
				u, err := scanUnit(s)
				return schema.Change{Type: schema.ChangeUnit, Unit: &u}, err
			}},
		{`SELECT seq, id, name, unit_id, created_at FROM teams WHERE id = ? AND seq > ? ORDER BY seq LIMIT ?`,
			[]any{a.TeamID, after, n}, func(s rowScanner) (schema.Change, error) {
				var t schema.Team
				err := s.Scan(&t.ID, &t.Name, &t.UnitID, &t.CreatedAt)
				return schema.Change{Type: schema.ChangeTeam, Team: &t}, err
			}},
		{`SELECT seq, code, name_vi, name_en, once_per_person, active, sort FROM activity_kinds WHERE seq > ? ORDER BY seq LIMIT ?`,
			[]any{after, n}, func(s rowScanner) (schema.Change, error) {
				var k schema.Kind
				err := s.Scan(&k.Code, &k.NameVI, &k.NameEN, &k.OncePerPerson, &k.Active, &k.Sort)
				return schema.Change{Type: schema.ChangeKind, Kind: &k}, err
			}},
		{`SELECT t.seq, t.unit_id, t.metric, t.period, t.value, t.version FROM targets t JOIN units u ON u.id = t.unit_id
			WHERE u.path >= ? AND u.path < ? AND t.seq > ? ORDER BY t.seq LIMIT ?`,
			[]any{lo, hi, after, n}, func(s rowScanner) (schema.Change, error) {
				var t schema.Target
				err := s.Scan(&t.UnitID, &t.Metric, &t.Period, &t.Value, &t.Version)
				return schema.Change{Type: schema.ChangeTarget, Target: &t}, err
			}},
	}
	// Each source gives at most limit+1 rows in sequence order; the first limit of the
	// merge are then the first limit overall, and a source with more means more follow.
	var all []engine.SeqChange
	more := false
	for _, src := range sources {
		cs, err := r.changesOf(ctx, src.query, src.args, src.scan)
		if err != nil {
			return nil, false, err
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

// changesOf runs one source query whose first column is seq.
func (r *syncReader) changesOf(ctx context.Context, query string, args []any, scan func(rowScanner) (schema.Change, error)) ([]engine.SeqChange, error) {
	rows, err := r.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []engine.SeqChange
	for rows.Next() {
		var seq int64
		c, err := scan(seqScanner{rows, &seq})
		if err != nil {
			return nil, err
		}
		out = append(out, engine.SeqChange{Pos: engine.Pos{Seq: seq}, Change: c})
	}
	return out, rows.Err()
}

// seqScanner scans a leading seq column, then hands the rest to another scan.
type seqScanner struct {
	rows *sql.Rows
	seq  *int64
}

func (s seqScanner) Scan(dest ...any) error { return s.rows.Scan(append([]any{s.seq}, dest...)...) }
