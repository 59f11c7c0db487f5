package sqlite

import (
	"context"
	"fmt"
	"strings"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/merge"
)

// SetReportsDisabled turns report maintenance off or on (benchmarks of push ingest).
func SetReportsDisabled(off bool) { reportsDisabled.Store(off) }

// DumpReports returns every report aggregate as text, decoded, in a stable order: equal
// dumps mean equal aggregates.
func DumpReports(ctx context.Context, db *DB) (string, error) {
	var b strings.Builder
	for _, q := range []string{
		`SELECT hex(id), hamlet_id, team_id, volunteer_id, day, ms, kind, counted, approved, attendees, hex(person), hex(household) FROM rpt_contrib ORDER BY id`,
		`SELECT volunteer_id, day, hamlet_id, team_id, n, n_approved FROM rpt_vdays ORDER BY 1, 2, 3, 4`,
		`SELECT team_id, day, n FROM rpt_tdays ORDER BY 1, 2`,
	} {
		rows, err := db.read.QueryContext(ctx, q)
		if err != nil {
			return "", err
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
	}
	rows, err := db.read.QueryContext(ctx, `SELECT period, key, data FROM rpt_cells ORDER BY period, key`)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			period int64
			key    string
			data   []byte
		)
		if err := rows.Scan(&period, &key, &data); err != nil {
			return "", err
		}
		c, err := report.DecodeCell(data)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%d %s %+v\n", period, key, c)
	}
	return b.String(), rows.Err()
}

// CurrentSeq returns the change sequence's last number.
func CurrentSeq(ctx context.Context, db *DB) (int64, error) {
	var v int64
	err := db.read.QueryRowContext(ctx, `SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq'`).Scan(&v)
	return v, err
}

// CatchUpReports brings the aggregates up to date with the logs saved after the change
// sequence number since while maintenance was disabled: their contributions are applied
// against what rpt_contrib holds, as Save would have.
func CatchUpReports(ctx context.Context, db *DB, since int64) error {
	var vols []int64
	rows, err := db.read.QueryContext(ctx, `SELECT id FROM users WHERE role = 'volunteer'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		vols = append(vols, v)
	}
	rows.Close()
	batch := map[string]*merge.Log{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := db.Write(ctx, 0, func(tx *Tx) error { return applyContribs(ctx, tx, batch, nil) })
		batch = map[string]*merge.Log{}
		return err
	}
	for _, v := range vols {
		rows, err := db.read.QueryContext(ctx, `SELECT `+logColumns+` FROM logs WHERE volunteer_id = ? AND seq > ?`, v, since)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r logRow
			if err := r.scan(rows); err != nil {
				rows.Close()
				return err
			}
			l := r.l
			batch[l.ID] = &l
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if len(batch) >= 2000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// BenchUnits returns the benchmark dataset's province (87), district (867) and commune
// (29905).
func BenchUnits(ctx context.Context, db *DB) ([3]int64, error) {
	var out [3]int64
	for i, c := range []string{"87", "867", "29905"} {
		if err := db.read.QueryRowContext(ctx, `SELECT id FROM units WHERE code = ? AND code_list = 'vn-admin-2025-03-01'`, c).Scan(&out[i]); err != nil {
			return out, err
		}
	}
	return out, nil
}

// HamletsByCommune returns every commune's hamlets.
func HamletsByCommune(ctx context.Context, db *DB) (map[int64][]int64, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT id, parent_id FROM units WHERE level = 'hamlet' ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64][]int64{}
	for rows.Next() {
		var h, c int64
		if err := rows.Scan(&h, &c); err != nil {
			return nil, err
		}
		out[c] = append(out[c], h)
	}
	return out, rows.Err()
}

// VolunteerActors returns an actor for every volunteer's phone.
func VolunteerActors(ctx context.Context, db *DB) ([]schema.Actor, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT d.id, d.device_id, u.id, u.team_id, u.unit_id, un.path
		FROM devices d JOIN users u ON u.id = d.volunteer_id JOIN units un ON un.id = u.unit_id ORDER BY d.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schema.Actor
	for rows.Next() {
		a := schema.Actor{Role: schema.RoleVolunteer}
		if err := rows.Scan(&a.DeviceRowID, &a.DeviceID, &a.UserID, &a.TeamID, &a.UnitID, &a.UnitPath); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AdminActor returns the first admin's actor.
func AdminActor(ctx context.Context, db *DB) (schema.Actor, error) {
	a := schema.Actor{Role: schema.RoleAdmin}
	err := db.read.QueryRowContext(ctx, `SELECT u.id, u.unit_id, un.path FROM users u JOIN units un ON un.id = u.unit_id
		WHERE u.role = 'admin' ORDER BY u.id LIMIT 1`).Scan(&a.UserID, &a.UnitID, &a.UnitPath)
	return a, err
}
