package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/merge"
)

var _ engine.Store = (*DB)(nil)
var _ engine.Tx = (*syncTx)(nil)
var _ engine.Reader = (*syncReader)(nil)

// SyncWrite runs fn in a write transaction (see Write). The engine's calls lock what they
// read: OpResults its op ids, Logs its logs, Groups its groups, Save the report members
// (locks.go); a push that meets a concurrent push of the same things waits for it.
func (db *DB) SyncWrite(ctx context.Context, weight int, fn func(engine.Tx) error) error {
	return db.write(ctx, weight, pushTx, func(tx *Tx) error {
		tx.locked = map[string]bool{}
		return fn(&syncTx{Tx: tx})
	})
}

// SyncRead runs fn with a reader of committed changes (pull.go).
func (db *DB) SyncRead(ctx context.Context, fn func(engine.Reader) error) error {
	return fn(&syncReader{db: db, now: db.Now().UTC()})
}

type syncTx struct {
	*Tx
	history map[string][]merge.HistoryEntry // stored history by log id (read with the logs: Logs)
	hamlets map[int64]string                // hamlets' paths by id, "" for an id that is not one (Hamlet)
}

func (t *syncTx) Now() time.Time { return t.Tx.Now }

// OpResults locks the op ids, then reads their stored results: a concurrent push of the
// same ops has committed by then, and its results are read.
func (t *syncTx) OpResults(ctx context.Context, opIDs []string) (map[string]engine.StoredOp, error) {
	out := make(map[string]engine.StoredOp, len(opIDs))
	if len(opIDs) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	if err := t.queueTake(b, lockOp, opIDs); err != nil {
		return nil, err
	}
	b.Queue(`SELECT op_id::text, volunteer_id, hash, status, code, message FROM ops WHERE op_id = ANY($1::uuid[])`, opIDs).
		Query(func(rows pgx.Rows) error {
			for rows.Next() {
				var s engine.StoredOp
				if err := rows.Scan(&s.OpID, &s.VolunteerID, &s.Hash, &s.Status, &s.Code, &s.Message); err != nil {
					return err
				}
				out[s.OpID] = s
			}
			return rows.Err()
		})
	return out, t.SendBatch(ctx, b).Close()
}

// Logs locks the logs, then reads them and their history (for History: an edit needs its
// log's history, and a push of 500 edits should not wait on 500 round trips while it holds
// its locks), all in one round trip. The transaction writes these logs whole.
func (t *syncTx) Logs(ctx context.Context, ids []string) (map[string]*merge.Log, error) {
	out := make(map[string]*merge.Log, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	if err := t.queueTake(b, lockLog, ids); err != nil {
		return nil, err
	}
	for _, id := range ids {
		t.locked[id] = true
	}
	b.Queue(`SELECT `+logColumns+` FROM logs WHERE id = ANY($1::uuid[])`, ids).Query(scanLogs(out))
	if t.history == nil {
		t.history = map[string][]merge.HistoryEntry{}
	}
	for _, id := range ids {
		t.history[id] = nil
	}
	b.Queue(historyQuery+` WHERE log_id = ANY($1::uuid[])`, ids).Query(t.scanHistory)
	return out, t.SendBatch(ctx, b).Close()
}

// History returns a log's stored history: read with the log (Logs), or now.
func (t *syncTx) History(ctx context.Context, logID string) ([]merge.HistoryEntry, error) {
	if h, ok := t.history[logID]; ok {
		return h, nil
	}
	if t.history == nil {
		t.history = map[string][]merge.HistoryEntry{}
	}
	t.history[logID] = nil
	rows, err := t.Query(ctx, historyQuery+` WHERE log_id = $1`, logID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	err = t.scanHistory(rows)
	return t.history[logID], err
}

const historyQuery = `SELECT log_id::text, field, value, hlc, device_id, op_id, base FROM log_history`

// scanHistory adds the history entries of rows to t.history.
func (t *syncTx) scanHistory(rows pgx.Rows) error {
	for rows.Next() {
		var (
			e              merge.HistoryEntry
			id, field, val string
			h, base        int64
		)
		if err := rows.Scan(&id, &field, &val, &h, &e.Stamp.Device, &e.Stamp.OpID, &base); err != nil {
			return err
		}
		f, ok := schema.FieldByName(field)
		if !ok {
			continue
		}
		e.Field, e.Value = f, []byte(val)
		e.Stamp.HLC, e.Stamp.Base = hlcOf(h), hlcOf(base)
		t.history[id] = append(t.history[id], e)
	}
	return rows.Err()
}

func (t *syncTx) queryLogs(ctx context.Context, out map[string]*merge.Log, query string, args ...any) error {
	rows, err := t.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	return scanLogs(out)(rows)
}

// scanLogs returns a function that adds the logs of rows to out.
func scanLogs(out map[string]*merge.Log) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
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
}

// groupLogsQuery reads the logs of once-per-person groups by their citizen refs, as bytes:
// = ANY of bytes is an index scan of logs_group, where an IN over hex decoded in SQL was
// planned as a scan of every log, once per push (TestPushQueriesUseIndexes).
const groupLogsQuery = `SELECT ` + logColumns + ` FROM logs WHERE citizen_ref = ANY($1::bytea[]) AND NOT deleted`

func groupName(k merge.GroupKey) string { return k.Kind + "\x00" + k.CitizenRef }

// Groups locks the groups, then reads their members. Logs of a group that this
// transaction did not lock as logs are written back narrowly (status only).
func (t *syncTx) Groups(ctx context.Context, keys []merge.GroupKey) (map[merge.GroupKey][]*merge.Log, error) {
	out := make(map[merge.GroupKey][]*merge.Log, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	want := make(map[merge.GroupKey]bool, len(keys))
	names := make([]string, 0, len(keys))
	refs := make([][]byte, 0, len(keys))
	for _, k := range keys {
		if !want[k] {
			want[k] = true
			names = append(names, groupName(k))
			ref, err := hex.DecodeString(k.CitizenRef)
			if err != nil {
				return nil, fmt.Errorf("postgres: citizen_ref %q is not hex: %w", k.CitizenRef, err)
			}
			refs = append(refs, ref)
		}
	}
	b := &pgx.Batch{}
	if err := t.queueTake(b, lockGroup, names); err != nil {
		return nil, err
	}
	m := map[string]*merge.Log{}
	b.Queue(groupLogsQuery, refs).Query(scanLogs(m))
	if err := t.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	for _, l := range m {
		if k, ok := merge.KeyOf(l); ok && want[k] {
			out[k] = append(out[k], l)
		}
	}
	return out, nil
}

// Hamlet returns a hamlet's path. It reads the hamlet with its siblings, once: a push's
// logs name the hamlets of one commune, and one read then serves the whole push.
func (t *syncTx) Hamlet(ctx context.Context, id int64) (string, bool, error) {
	if p, ok := t.hamlets[id]; ok {
		return p, p != "", nil
	}
	if t.hamlets == nil {
		t.hamlets = map[int64]string{}
	}
	rows, err := t.Query(ctx, `SELECT id, path FROM units WHERE level = 'hamlet'
		AND parent_id = (SELECT parent_id FROM units WHERE id = $1 AND level = 'hamlet')`, id)
	if err != nil {
		return "", false, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u int64
			p string
		)
		if err := rows.Scan(&u, &p); err != nil {
			return "", false, err
		}
		t.hamlets[u] = p
	}
	if err := rows.Err(); err != nil {
		return "", false, err
	}
	if _, ok := t.hamlets[id]; !ok {
		t.hamlets[id] = "" // not a hamlet
	}
	p := t.hamlets[id]
	return p, p != "", nil
}

func (t *syncTx) Kinds(ctx context.Context) (map[string]schema.Kind, error) {
	return queryKinds(ctx, t.Tx)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func queryKinds(ctx context.Context, q querier) (map[string]schema.Kind, error) {
	rows, err := q.Query(ctx, `SELECT code, name_vi, name_en, once_per_person, active, sort FROM activity_kinds`)
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

// Save writes a unit of changes: the report aggregates first (they lock their members and
// read them), then, in one round trip, the aggregates' writes, the logs — whole if this
// transaction locked them, their status only if not — their history, the ops' results and
// the device report (a row lock held to the commit), and last the team days' counts, whose
// locks every push of a team's phones that day needs, so they are held only from there to
// the commit.
func (t *syncTx) Save(ctx context.Context, c *engine.Changes) error {
	teamDays, err := maintainReports(ctx, t.Tx, c.Logs, c.New)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(c.Logs))
	for id := range c.Logs {
		ids = append(ids, id)
	}
	sort.Strings(ids)          // rows locked in a stable order
	b := teamDays.takeWrites() // the aggregates' writes, sent with these
	var whole logRows
	for _, id := range ids {
		l := c.Logs[id]
		if t.locked[id] || c.New[id] {
			whole.add(l)
			continue
		}
		var dup any
		if l.DuplicateOf != "" {
			dup = l.DuplicateOf
		}
		b.Queue(updateStatus, l.ID, l.Status, dup)
	}
	whole.queue(b, t.Tx.Now)
	if len(c.DropHistory) > 0 {
		b.Queue(`DELETE FROM log_history WHERE log_id = ANY($1::uuid[])`, c.DropHistory)
	}
	queueHistory(b, c.History)
	if len(c.Ops) > 0 {
		opIDs := make([]string, len(c.Ops))
		vols := make([]int64, len(c.Ops))
		hashes := make([][]byte, len(c.Ops))
		statuses := make([]string, len(c.Ops))
		codes := make([]string, len(c.Ops))
		messages := make([]string, len(c.Ops))
		for i, o := range c.Ops {
			opIDs[i], vols[i], hashes[i], statuses[i], codes[i], messages[i] = o.OpID, o.VolunteerID, o.Hash, o.Status, o.Code, o.Message
		}
		b.Queue(`INSERT INTO ops (op_id, volunteer_id, hash, status, code, message, received_at)
			SELECT o, v, h, s, c, m, $7 FROM unnest($1::uuid[], $2::bigint[], $3::bytea[], $4::text[], $5::text[], $6::text[]) AS u(o, v, h, s, c, m)`,
			opIDs, vols, hashes, statuses, codes, messages, t.Tx.Now)
	}
	if d := c.Device; d != nil {
		var oldest any
		if d.OldestPendingAt != "" {
			oldest = d.OldestPendingAt
		}
		var pending any
		if d.PendingOps != nil {
			pending = int64(*d.PendingOps)
		}
		// An outbox reported empty has no oldest item; an unreported one keeps the last report.
		b.Queue(`UPDATE devices SET clock_offset_ms = $1, clock_checked_at = $2, last_push_at = $2,
			pending_ops = COALESCE($3::bigint, pending_ops),
			oldest_pending_at = CASE WHEN $3::bigint = 0 THEN NULL WHEN $4::timestamptz IS NOT NULL THEN $4::timestamptz ELSE oldest_pending_at END
			WHERE id = $5`, d.ClockOffsetMS, t.Tx.Now, pending, oldest, d.DeviceRow)
	}
	if b.Len() > 0 {
		if err := t.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
	}
	return teamDays.run(ctx) // last: its lock is held to the commit
}

// queueHistory queues the history entries to add, in one statement.
func queueHistory(b *pgx.Batch, hist map[string][]merge.HistoryEntry) {
	var (
		ids, fields, values, devices, opIDs []string
		hlcs, bases                         []int64
	)
	for id, entries := range hist {
		for _, e := range entries {
			ids, fields, values = append(ids, id), append(fields, e.Field.String()), append(values, string(e.Value))
			hlcs, devices = append(hlcs, int64(e.Stamp.HLC)), append(devices, e.Stamp.Device)
			opIDs, bases = append(opIDs, e.Stamp.OpID), append(bases, int64(e.Stamp.Base))
		}
	}
	if len(ids) == 0 {
		return
	}
	b.Queue(`INSERT INTO log_history (log_id, field, value, hlc, device_id, op_id, base)
		SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
		ON CONFLICT DO NOTHING`, ids, fields, values, hlcs, devices, opIDs, bases)
}
