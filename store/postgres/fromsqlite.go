package postgres

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Moving a deployment from SQLite (cdtsync migrate-store). Every table is copied row for
// row — ids, epoch and citizen key included — in one PostgreSQL transaction. The report
// aggregates come along too when the source's are ready (the two stores' aggregates have
// one shape and one format); otherwise they are rebuilt from the logs afterwards, which at
// 929,000 logs took 4½ minutes against 23 s for the copy (BENCHMARKS.md → migrate-store).
//
// Phones' pull cursors carry on: the SQLite store's positions are its change sequence
// numbers, cursors (0, seq). Copied rows keep their sequence number with transaction
// position 0 (below every real transaction id), and the epoch stays the same, so a cursor
// taken on SQLite asks PostgreSQL for exactly what it would have asked SQLite for — the
// copied rows after its number — and then for everything written since, whose positions
// (a real transaction id, …) all come after (0, anything). Refresh tokens, enrolment codes
// and op results come along, so phones refresh, enrol and re-send as if nothing happened.

// CopyReport says what CopyFromSQLite copied: rows per table, in copy order, and whether
// the report aggregates were among them (if not, they are marked stale).
type CopyReport struct {
	Tables        []TableCount
	ReportsCopied bool
}

// TableCount is one table's rows in the source and in the copy.
type TableCount struct {
	Table        string
	Source, Copy int64
}

// conv turns a value SQLite's driver gave (int64, float64, string, []byte or nil) into
// what the PostgreSQL column takes.
type conv func(any) (any, error)

func same(v any) (any, error) { return v, nil }

func asBool(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		return x != 0, nil
	case bool:
		return x, nil
	}
	return nil, fmt.Errorf("not a boolean: %v", v)
}

func asText(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	}
	return fmt.Sprint(v), nil
}

func asTime(v any) (any, error) {
	s, err := asText(v)
	if s == nil || err != nil {
		return nil, err
	}
	t, err := time.Parse(time.RFC3339Nano, s.(string))
	if err != nil {
		return nil, fmt.Errorf("not an instant: %q", s)
	}
	return t.UTC(), nil
}

func asDate(v any) (any, error) {
	s, err := asText(v)
	if s == nil || err != nil {
		return nil, err
	}
	t, err := time.Parse(time.DateOnly, s.(string))
	if err != nil {
		return nil, fmt.Errorf("not a date: %q", s)
	}
	return t, nil
}

func asHexBytes(v any) (any, error) {
	s, err := asText(v)
	if s == nil || err != nil {
		return nil, err
	}
	return hex.DecodeString(s.(string))
}

func asBytes(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return append([]byte(nil), x...), nil
	case string:
		return []byte(x), nil
	}
	return nil, fmt.Errorf("not bytes: %v", v)
}

// asUUID16 turns SQLite's 16-byte UUID blob into a UUID.
func asUUID16(v any) (any, error) {
	b, ok := v.([]byte)
	if !ok || len(b) != 16 {
		return nil, fmt.Errorf("not a 16-byte UUID: %v", v)
	}
	return [16]byte(b), nil
}

type copyColumn struct {
	name string // in both stores, unless from says otherwise
	from string // the SQLite expression, when it differs
	conv conv
}

type copyTable struct {
	name  string
	cols  []copyColumn
	where string // SQLite WHERE clause
	order string // SQLite ORDER BY: parents before children
	pos   bool   // the table has positions: tx 0 and SQLite's seq
}

func c(name string, cv conv) copyColumn { return copyColumn{name: name, conv: cv} }

// copyTables lists the tables in an order their references allow.
var copyTables = []copyTable{
	{name: "meta", cols: []copyColumn{c("key", asText), c("value", asText)},
		where: `key IN ('epoch', 'citizen_key') OR key LIKE 'units_list:%'`},
	{name: "units", pos: true, order: `length(path) - length(replace(path, '/', '')), id`, cols: []copyColumn{
		c("id", same), c("parent_id", same), c("level", asText), c("unit_type", asText), c("code", asText), c("code_list", asText),
		c("origin", asText), c("name", asText), c("name_en", asText), c("path", asText), c("households", same), c("adults", same),
		c("valid_from", asDate), c("valid_to", asDate), c("generated", asBool), c("figures_generated", asBool)}},
	{name: "unit_moves", cols: []copyColumn{c("unit_id", same), c("old_parent", same), c("new_parent", same),
		c("moved_on", asDate), c("source", asText)}},
	{name: "activity_kinds", pos: true, cols: []copyColumn{c("code", asText), c("name_vi", asText), c("name_en", asText),
		c("once_per_person", asBool), c("active", asBool), c("sort", same)}},
	{name: "teams", pos: true, order: "id", cols: []copyColumn{c("id", same), c("unit_id", same), c("name", asText), c("created_at", asTime)}},
	{name: "users", order: "id", cols: []copyColumn{c("id", same), c("role", asText), c("display_name", asText), c("unit_id", same),
		c("team_id", same), c("username", asText), c("password_hash", asText), c("created_at", asTime), c("revoked_at", asTime)}},
	{name: "devices", order: "id", cols: []copyColumn{c("id", same), c("device_id", asText), c("volunteer_id", same), c("name", asText),
		c("enrolled_at", asTime), c("revoked_at", asTime), c("clock_offset_ms", same), c("clock_checked_at", asTime),
		c("last_push_at", asTime), c("last_pull_at", asTime), c("pending_ops", same), c("oldest_pending_at", asTime)}},
	{name: "enrollment_codes", cols: []copyColumn{c("code_hash", asText), c("volunteer_id", same), c("issued_by", same),
		c("created_at", asTime), c("expires_at", asTime), c("used_at", asTime), c("device_row", same)}},
	{name: "refresh_tokens", cols: []copyColumn{c("token_hash", asText), c("family_id", asText), c("user_id", same),
		c("device_row", same), c("created_at", asTime), c("expires_at", asTime), c("used_at", asTime), c("revoked_at", asTime)}},
	{name: "logs", pos: true, order: "id", cols: []copyColumn{c("id", asText), c("volunteer_id", same), c("team_id", same),
		c("device_id", asText), c("hamlet_id", same), c("kind", asText), c("occurred_at", asText), c("occurred_ms", same),
		c("occurred_offset_ms", same), c("corrected_ms", same), c("day", same), c("citizen_ref", asHexBytes),
		c("household_ref", asHexBytes), c("age_band", asText), c("gender", asText), c("attendees", same), c("outcome", asText),
		c("consent", asBool), c("note", asText), c("lat", same), c("lon", same), c("accuracy_m", same), c("stamps", asText),
		c("created_stamp", asText), c("content_hlc", same), c("complete", asBool), c("deleted", asBool), c("deleted_hlc", same),
		c("review_status", asText), c("review_note", asText), c("reviewed_by", same), c("reviewed_at", asTime),
		c("review_hlc", same), c("status", asText), c("duplicate_of", asText), c("had_conflict", asBool), c("received_at", asTime)}},
	{name: "log_history", cols: []copyColumn{c("log_id", asText), c("field", asText), c("value", asText), c("hlc", same),
		c("device_id", asText), c("op_id", asText), c("base", same)}},
	{name: "ops", cols: []copyColumn{c("op_id", asText), c("volunteer_id", same), c("hash", asBytes), c("status", asText),
		c("code", asText), c("message", asText), c("received_at", asTime)}},
	{name: "targets", pos: true, cols: []copyColumn{c("unit_id", same), c("metric", asText), c("period", asText),
		c("version", same), c("value", same), c("source", asText), c("imported_at", asTime)}},
}

// reportTables are the report aggregates (schema/migrations/0002_reports.sql and this
// store's 0001_init.sql), copied when the source's are ready.
var reportTables = []copyTable{
	{name: "rpt_paths", cols: []copyColumn{c("unit_id", same), c("path", asText)}},
	{name: "rpt_contrib", cols: []copyColumn{c("id", asUUID16), c("hamlet_id", same), c("team_id", same), c("volunteer_id", same),
		c("day", same), c("ms", same), c("kind", asText), c("counted", asBool), c("approved", asBool), c("attendees", same),
		c("person", asBytes), c("household", asBytes)}},
	{name: "rpt_vdays", cols: []copyColumn{c("volunteer_id", same), c("day", same), c("hamlet_id", same), c("team_id", same),
		c("n", same), c("n_approved", same)}},
	{name: "rpt_tdays", cols: []copyColumn{c("team_id", same), c("day", same), c("n", same)}},
	{name: "rpt_cells", cols: []copyColumn{c("period", same), c("key", asText), c("data", asBytes)}},
}

// CopyFromSQLite copies a SQLite deployment into this database, which must be new (no
// unit, user or log yet): every table row for row, the epoch and the citizen key, the
// activity-kind catalogue as the source has it. The source must be at the schema version
// this binary writes (open it with sqlite.Open first) and must not change meanwhile (hold
// its data directory's lock). It runs in one transaction: on any error nothing is copied.
// The report aggregates are copied if the source's are ready, and otherwise marked stale
// for RebuildReports (or the first server to start) to build. progress, if set, is called
// after each table.
func (db *DB) CopyFromSQLite(ctx context.Context, src *sql.DB, progress func(TableCount)) (CopyReport, error) {
	var rep CopyReport
	err := db.Write(ctx, 0, func(tx *Tx) error {
		rep = CopyReport{}
		var n int64
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM units) + (SELECT count(*) FROM users) + (SELECT count(*) FROM logs)`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("the PostgreSQL database is not empty (%d units, users and logs): migrate-store copies into a new database only", n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM activity_kinds`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM meta WHERE key IN ('epoch', 'citizen_key')`); err != nil {
			return err
		}
		var state, format, unitsSeq sql.NullString
		var maxSeq sql.NullInt64
		if err := src.QueryRowContext(ctx, reportStateQuery).Scan(&state, &format, &unitsSeq, &maxSeq); err != nil {
			return fmt.Errorf("the source's report state: %w", err)
		}
		rep.ReportsCopied = !state.Valid && format.String == reportsFormat &&
			unitsSeq.Valid && unitsSeq.String == strconv.FormatInt(maxSeq.Int64, 10)
		tables := copyTables
		if rep.ReportsCopied {
			tables = append(tables[:len(tables):len(tables)], reportTables...)
		}
		for _, t := range tables {
			count, err := copyTableFrom(ctx, tx, src, t)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			var srcCount int64
			q := `SELECT count(*) FROM ` + t.name
			if t.where != "" {
				q += ` WHERE ` + t.where
			}
			if err := src.QueryRowContext(ctx, q).Scan(&srcCount); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			tc := TableCount{Table: t.name, Source: srcCount, Copy: count}
			if count != srcCount {
				return fmt.Errorf("%s: copied %d rows of %d", t.name, count, srcCount)
			}
			rep.Tables = append(rep.Tables, tc)
			if progress != nil {
				progress(tc)
			}
		}
		// Identities continue after the copied ids; change_seq after SQLite's sequence.
		for _, t := range []string{"units", "teams", "users", "devices"} {
			if _, err := tx.Exec(ctx, `SELECT setval(pg_get_serial_sequence('`+t+`', 'id'), GREATEST((SELECT max(id) FROM `+t+`), 1))`); err != nil {
				return err
			}
		}
		var seq sql.NullInt64
		if err := src.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq'`).Scan(&seq); err != nil {
			return fmt.Errorf("the source's change sequence: %w", err)
		}
		if seq.Int64 > 0 {
			if _, err := tx.Exec(ctx, `SELECT setval('change_seq', $1)`, seq.Int64); err != nil {
				return err
			}
		}
		if rep.ReportsCopied {
			_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_format', $1), ('rpt_units_seq', $2)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, format.String, unitsSeq.String)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `DELETE FROM meta WHERE key = 'rpt_state'`)
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`)
		return err
	})
	return rep, err
}

// copyTableFrom streams one table with COPY.
func copyTableFrom(ctx context.Context, tx *Tx, src *sql.DB, t copyTable) (int64, error) {
	var sel, dst []string
	for _, col := range t.cols {
		expr := col.name
		if col.from != "" {
			expr = col.from
		}
		sel = append(sel, expr)
		dst = append(dst, col.name)
	}
	if t.pos {
		sel = append(sel, "seq")
		dst = append(dst, "tx", "seq")
	}
	q := `SELECT ` + strings.Join(sel, ", ") + ` FROM ` + t.name
	if t.where != "" {
		q += ` WHERE ` + t.where
	}
	if t.order != "" {
		q += ` ORDER BY ` + t.order
	}
	rows, err := src.QueryContext(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	raw := make([]any, len(sel))
	ptrs := make([]any, len(sel))
	for i := range raw {
		ptrs[i] = &raw[i]
	}
	var convErr error
	next := func() ([]any, error) {
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(dst))
		for i, col := range t.cols {
			v, err := col.conv(raw[i])
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", col.name, err)
			}
			out = append(out, v)
		}
		if t.pos {
			out = append(out, int64(0), raw[len(raw)-1])
		}
		return out, nil
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, dst, pgx.CopyFromFunc(func() ([]any, error) {
		if !rows.Next() {
			return nil, rows.Err()
		}
		row, err := next()
		if err != nil {
			convErr = err
		}
		return row, err
	}))
	if convErr != nil {
		return n, convErr
	}
	return n, err
}
