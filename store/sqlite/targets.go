package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
)

// TargetImportReport says what an import of targets did.
type TargetImportReport struct {
	Rows      int // rows read
	Added     int // new versions (a first value or a changed one)
	Unchanged int // rows whose value equals the newest version's
}

// ImportTargets stores targets (chỉ tiêu), all or nothing. Targets are versioned per
// unit, metric and period: a row whose value equals the newest version's adds nothing; a
// new or changed value adds a version, which counts from then on. Each new version gets a
// change sequence number, so phones whose scope holds the unit pull it.
//
// A row naming an unknown unit, an unknown metric (people, households or an activity-kind
// code) or the same unit, metric and period twice with different values fails the import
// with CodeInvalid, listing every bad row. source (the file name) is recorded with each
// version.
func (db *DB) ImportTargets(ctx context.Context, rows []report.TargetRow, source string) (TargetImportReport, error) {
	rep := TargetImportReport{Rows: len(rows)}
	err := db.Write(ctx, 0, func(tx *Tx) error {
		kinds, err := queryKinds(ctx, tx.Tx)
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
			err := tx.QueryRowContext(ctx, `SELECT version, value FROM targets WHERE unit_id = ? AND metric = ? AND period = ?
				ORDER BY version DESC LIMIT 1`, k.unit, k.metric, k.period).Scan(&version, &value)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case value == r.Value:
				rep.Unchanged++
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO targets (unit_id, metric, period, version, value, source, imported_at, seq)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, k.unit, k.metric, k.period, version+1, r.Value, source, now, tx.NextSeq()); err != nil {
				return err
			}
			rep.Added++
		}
		return nil
	})
	if err != nil {
		return TargetImportReport{Rows: len(rows)}, err
	}
	return rep, nil
}

// targetUnit resolves a row's unit: by id, or by code list and GSO code.
func targetUnit(ctx context.Context, tx *Tx, r report.TargetRow) (int64, error) {
	var id int64
	if r.UnitID != 0 {
		err := tx.QueryRowContext(ctx, `SELECT id FROM units WHERE id = ?`, r.UnitID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("không có đơn vị %d / no unit %d", r.UnitID, r.UnitID)
		}
		return id, err
	}
	// Units imported from code lists are found by their code system (codes keep naming
	// the same unit across the lists of one system); others by the exact list.
	var origins []any
	if origin, err := codeOrigins(r.CodeList, r.Code); err == nil {
		origins = origin
	}
	q := `SELECT id FROM units WHERE (code_list = ? AND code = ?)`
	args := []any{r.CodeList, r.Code}
	if len(origins) > 0 {
		q += ` OR origin IN (` + placeholders(len(origins)) + `)`
		args = append(args, origins...)
	}
	rows, err := tx.QueryContext(ctx, q+` ORDER BY valid_to IS NOT NULL, id`, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("không có đơn vị mã %s trong danh mục %s / no unit with code %s in code list %s", r.Code, r.CodeList, r.Code, r.CodeList)
	}
	err = rows.Scan(&id)
	return id, err
}

// codeOrigins returns the import keys a GSO code may have in the code list's system.
func codeOrigins(codeList, code string) ([]any, error) {
	sys, err := unitfile.CodeSystem(codeList)
	if err != nil {
		return nil, err
	}
	var out []any
	for _, level := range []string{schema.LevelProvince, schema.LevelDistrict, schema.LevelCommune} {
		out = append(out, adminOrigin(sys, level, code))
	}
	return out, nil
}
