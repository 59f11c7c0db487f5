package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/unitimport"
)

// unitColumns is the column list scanUnit reads.
const unitColumns = `id, parent_id, level, unit_type, code, code_list, name, name_en, households, adults,
	to_char(valid_from, 'YYYY-MM-DD'), to_char(valid_to, 'YYYY-MM-DD'), generated, figures_generated, path`

func scanUnit(r pgx.Row) (schema.Unit, error) {
	var (
		u                    schema.Unit
		code, list, from, to *string
	)
	err := r.Scan(&u.ID, &u.ParentID, &u.Level, &u.UnitType, &code, &list, &u.Name, &u.NameEN, &u.Households, &u.Adults,
		&from, &to, &u.Generated, &u.FiguresGenerated, &u.Path)
	if err != nil {
		return u, err
	}
	u.Code, u.CodeList, u.ValidFrom, u.ValidTo = deref(code), deref(list), deref(from), deref(to)
	return u, nil
}

// Unit returns the unit with the given id, whatever the caller's scope (internal use).
// Returns a CodeNotFound error if none.
func (db *DB) Unit(ctx context.Context, id int64) (schema.Unit, error) {
	u, err := scanUnit(db.pool.QueryRow(ctx, `SELECT `+unitColumns+` FROM units WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", id, id)
	}
	return u, err
}

// CreateUnit adds one unit under u.ParentID (nil for a province) and returns its id.
// origin is its stable import key; it must be unique. Used by imports, the demo and tests.
func (db *DB) CreateUnit(ctx context.Context, u schema.Unit, origin string) (int64, error) {
	var id int64
	err := db.Write(ctx, 0, func(tx *Tx) error {
		var err error
		id, err = createUnit(ctx, tx, u, origin)
		return err
	})
	return id, err
}

func createUnit(ctx context.Context, tx *Tx, u schema.Unit, origin string) (int64, error) {
	if schema.LevelRank(u.Level) < 0 {
		return 0, schema.Errorf(schema.CodeInvalid, "cấp đơn vị không hợp lệ / invalid unit level %q", u.Level)
	}
	parentPath := "/"
	if u.ParentID != nil {
		if err := tx.QueryRow(ctx, `SELECT path FROM units WHERE id = $1`, *u.ParentID).Scan(&parentPath); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return 0, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị cha %d / parent unit %d not found", *u.ParentID, *u.ParentID)
			}
			return 0, err
		}
	}
	var code, list any
	if u.Code != "" {
		code, list = u.Code, u.CodeList
	}
	// Unit imports number units themselves under this lock (units_import.go).
	if _, err := tx.Exec(ctx, `LOCK TABLE units IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return 0, err
	}
	var id int64
	if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('units', 'id'))`).Scan(&id); err != nil {
		return 0, err
	}
	_, err := tx.Exec(ctx, `INSERT INTO units (id, parent_id, level, unit_type, code, code_list, origin, name, name_en,
		path, households, adults, valid_from, valid_to, generated, figures_generated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::date, $14::date, $15, $16)`,
		id, u.ParentID, u.Level, u.UnitType, code, list, origin, u.Name, u.NameEN, fmt.Sprintf("%s%d/", parentPath, id),
		u.Households, u.Adults, nullString(u.ValidFrom), nullString(u.ValidTo), u.Generated, u.FiguresGenerated)
	if err != nil {
		if isConstraint(err) {
			return 0, schema.Errorf(schema.CodeConflict, "Đơn vị %q đã có hoặc không hợp lệ / unit %q exists or is invalid: %v", u.Name, u.Name, err)
		}
		return 0, err
	}
	return id, nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// vietnam is Vietnam's time zone (UTC+7, no daylight saving).
var vietnam = time.FixedZone("ICT", 7*3600)

func vietnamDate(t time.Time) string { return t.In(vietnam).Format(time.DateOnly) }

// ListUnits lists administrative units in the actor's scope, as the SQLite store's
// ListUnits does (same contract, same order).
func (db *DB) ListUnits(ctx context.Context, actor schema.Actor, parent *int64, includeEnded bool) ([]schema.Unit, error) {
	p := actor.UnitPath
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return nil, schema.Errorf(schema.CodeUnauthorized, "Chưa đăng nhập / not signed in")
	}
	lo, hi := subtreeRange(p)
	if parent == nil {
		u, err := scanUnit(db.pool.QueryRow(ctx, `SELECT `+unitColumns+` FROM units WHERE id = $1 AND path >= $2 AND path < $3`,
			actor.UnitID, lo, hi))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", actor.UnitID, actor.UnitID)
		}
		if err != nil {
			return nil, err
		}
		return []schema.Unit{u}, nil
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM units WHERE id = $1 AND path >= $2 AND path < $3`, *parent, lo, hi).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", *parent, *parent)
	}
	q := `SELECT ` + unitColumns + ` FROM units WHERE parent_id = $1 AND path >= $2 AND path < $3`
	args := []any{*parent, lo, hi}
	if !includeEnded {
		q += ` AND (valid_to IS NULL OR valid_to > $4::date)`
		args = append(args, vietnamDate(db.Now()))
	}
	us, err := queryUnits(ctx, db.pool, q, args...)
	if err != nil {
		return nil, err
	}
	sqlite.SortUnits(us)
	return us, nil
}

func queryUnits(ctx context.Context, q querier, query string, args ...any) ([]schema.Unit, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	us := []schema.Unit{}
	for rows.Next() {
		u, err := scanUnit(rows)
		if err != nil {
			return nil, err
		}
		us = append(us, u)
	}
	return us, rows.Err()
}

// UnitByCode returns the unit that a GSO code names in a code list, as the SQLite store's
// UnitByCode does.
func (db *DB) UnitByCode(ctx context.Context, codeList, code string) (schema.Unit, error) {
	sys, err := unitfile.CodeSystem(codeList)
	if err != nil {
		return schema.Unit{}, schema.Errorf(schema.CodeInvalid, "%v", err)
	}
	u, err := scanUnit(db.pool.QueryRow(ctx, `SELECT `+unitColumns+` FROM units WHERE origin IN ($1, $2, $3)`,
		adminOrigin(sys, schema.LevelCommune, code), adminOrigin(sys, schema.LevelDistrict, code), adminOrigin(sys, schema.LevelProvince, code)))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, schema.Errorf(schema.CodeNotFound, "Không có đơn vị mã %s trong danh mục %s / no unit with code %s in code list %s",
			code, codeList, code, codeList)
	}
	return u, err
}

// adminOrigin is the origin (stable import key) of a province, district or commune, as
// the unit import keys them.
var adminOrigin = unitimport.AdminOrigin
