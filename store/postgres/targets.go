package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// targetsLock serialises imports of targets across servers: versions are numbered per
// unit, metric and period by reading the newest.
var targetsLock = lockKey(7, "targets")

// ImportTargets stores targets, all or nothing, as the SQLite store's ImportTargets does:
// a changed or new value adds a version with a new position, which phones pull.
func (db *DB) ImportTargets(ctx context.Context, rows []report.TargetRow, source string) (sqlite.TargetImportReport, error) {
	rep := sqlite.TargetImportReport{Rows: len(rows)}
	err := db.Write(ctx, 0, func(tx *Tx) error {
		rep = sqlite.TargetImportReport{Rows: len(rows)}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, targetsLock); err != nil {
			return err
		}
		kinds, err := queryKinds(ctx, tx)
		if err != nil {
			return err
		}
		type key struct {
			unit           int64
			metric, period string
		}
		seen := map[key]report.TargetRow{}
		var errs []string
		var order []key
		for _, r := range rows {
			fail := func(format string, args ...any) {
				errs = append(errs, fmt.Sprintf("dòng %d / line %d: ", r.Line, r.Line)+fmt.Sprintf(format, args...))
			}
			unit, err := targetUnit(ctx, tx, r)
			if err != nil {
				fail("%v", err)
				continue
			}
			if _, ok := kinds[r.Metric]; !ok && r.Metric != schema.MetricPeople && r.Metric != schema.MetricHouseholds {
				fail("chỉ số %q không rõ: people, households hoặc mã loại hoạt động / unknown metric %q: people, households or an activity-kind code", r.Metric, r.Metric)
				continue
			}
			k := key{unit, r.Metric, r.Period}
			if prev, dup := seen[k]; dup {
				if prev.Value != r.Value {
					fail("trùng với dòng %d nhưng khác giá trị / same unit, metric and period as line %d with another value", prev.Line, prev.Line)
				}
				continue
			}
			seen[k] = r
			order = append(order, k)
		}
		if len(errs) > 0 {
			return schema.Errorf(schema.CodeInvalid, "%s", strings.Join(errs, "\n"))
		}
		now := accessTime(tx.Now)
		for _, k := range order {
			r := seen[k]
			var (
				version int
				value   float64
			)
			err := tx.QueryRow(ctx, `SELECT version, value FROM targets WHERE unit_id = $1 AND metric = $2 AND period = $3
				ORDER BY version DESC LIMIT 1`, k.unit, k.metric, k.period).Scan(&version, &value)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			case value == r.Value:
				rep.Unchanged++
				continue
			}
			if _, err := tx.Exec(ctx, `INSERT INTO targets (unit_id, metric, period, version, value, source, imported_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)`, k.unit, k.metric, k.period, version+1, r.Value, source, now); err != nil {
				return err
			}
			rep.Added++
		}
		return nil
	})
	if err != nil {
		return sqlite.TargetImportReport{Rows: len(rows)}, err
	}
	return rep, nil
}

func targetUnit(ctx context.Context, tx *Tx, r report.TargetRow) (int64, error) {
	var id int64
	if r.UnitID != 0 {
		err := tx.QueryRow(ctx, `SELECT id FROM units WHERE id = $1`, r.UnitID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("không có đơn vị %d / no unit %d", r.UnitID, r.UnitID)
		}
		return id, err
	}
	var origins []string
	if sys, err := unitfile.CodeSystem(r.CodeList); err == nil {
		for _, level := range []string{schema.LevelProvince, schema.LevelDistrict, schema.LevelCommune} {
			origins = append(origins, adminOrigin(sys, level, r.Code))
		}
	}
	err := tx.QueryRow(ctx, `SELECT id FROM units WHERE (code_list = $1 AND code = $2) OR origin = ANY($3::text[])
		ORDER BY valid_to IS NOT NULL, id LIMIT 1`, r.CodeList, r.Code, origins).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("không có đơn vị mã %s trong danh mục %s / no unit with code %s in code list %s", r.Code, r.CodeList, r.Code, r.CodeList)
	}
	return id, err
}
