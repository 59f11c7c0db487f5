package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/unitimport"
)

// unitColumns is the column list scanUnit reads.
const unitColumns = `id, parent_id, level, unit_type, code, code_list, name, name_en, households, adults,
	valid_from, valid_to, generated, figures_generated, path`

type rowScanner interface{ Scan(dest ...any) error }

func scanUnit(r rowScanner) (schema.Unit, error) {
	var (
		u                    schema.Unit
		parent, hh, adults   sql.NullInt64
		code, list, from, to sql.NullString
		generated, figures   bool
	)
	err := r.Scan(&u.ID, &parent, &u.Level, &u.UnitType, &code, &list, &u.Name, &u.NameEN, &hh, &adults,
		&from, &to, &generated, &figures, &u.Path)
	if err != nil {
		return u, err
	}
	if parent.Valid {
		u.ParentID = &parent.Int64
	}
	if hh.Valid {
		u.Households = &hh.Int64
	}
	if adults.Valid {
		u.Adults = &adults.Int64
	}
	u.Code, u.CodeList, u.ValidFrom, u.ValidTo, u.Generated = code.String, list.String, from.String, to.String, generated
	u.FiguresGenerated = figures
	return u, nil
}

// Unit returns the unit with the given id, whatever the caller's scope (internal use:
// building an Actor, validating references). Returns a CodeNotFound error if none.
func (db *DB) Unit(ctx context.Context, id int64) (schema.Unit, error) {
	u, err := scanUnit(db.read.QueryRowContext(ctx, `SELECT `+unitColumns+` FROM units WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", id, id)
	}
	return u, err
}

// CreateUnit adds one unit under u.ParentID (nil for a province) and returns its id.
// origin is its stable import key; it must be unique. Used by imports, the demo and
// tests.
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
		if err := tx.QueryRowContext(ctx, `SELECT path FROM units WHERE id = ?`, *u.ParentID).Scan(&parentPath); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return 0, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị cha %d / parent unit %d not found", *u.ParentID, *u.ParentID)
			}
			return 0, err
		}
	}
	var code, list any
	if u.Code != "" {
		code, list = u.Code, u.CodeList
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO units (parent_id, level, unit_type, code, code_list, origin, name, name_en,
		path, households, adults, valid_from, valid_to, generated, figures_generated, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?)`,
		u.ParentID, u.Level, u.UnitType, code, list, origin, u.Name, u.NameEN,
		u.Households, u.Adults, nullString(u.ValidFrom), nullString(u.ValidTo), u.Generated, u.FiguresGenerated, tx.NextSeq())
	if err != nil {
		if isConstraint(err, 0) {
			return 0, schema.Errorf(schema.CodeConflict, "Đơn vị %q đã có hoặc không hợp lệ / unit %q exists or is invalid: %v", u.Name, u.Name, err)
		}
		return 0, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE units SET path = ? WHERE id = ?`, fmt.Sprintf("%s%d/", parentPath, id), id); err != nil {
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

// vietnam is Vietnam's time zone (UTC+7, no daylight saving): dates in unit lists are
// Vietnamese calendar dates.
var vietnam = time.FixedZone("ICT", 7*3600)

func vietnamDate(t time.Time) string { return t.In(vietnam).Format(time.DateOnly) }

// ListUnits lists administrative units in the actor's scope (its unit's subtree).
//
// With parent nil it returns the actor's own unit, the root of its scope, even if that
// unit has ended. With a parent it returns the parent's children sorted by name in
// Vietnamese order (golang.org/x/text/collate; numbers compare as numbers, so Khóm 2
// comes before Khóm 10); ended units (valid_to on or before today in Vietnam) are left
// out unless includeEnded.
//
// A parent that does not exist or is outside the actor's subtree is a CodeNotFound
// error, the same for both, so ids outside the scope reveal nothing. An actor without a
// unit path is CodeUnauthorized. A cancelled ctx stops the query with ctx.Err().
func (db *DB) ListUnits(ctx context.Context, actor schema.Actor, parent *int64, includeEnded bool) ([]schema.Unit, error) {
	p := actor.UnitPath
	if len(p) < 3 || p[0] != '/' || p[len(p)-1] != '/' {
		return nil, schema.Errorf(schema.CodeUnauthorized, "Chưa đăng nhập / not signed in")
	}
	// The subtree is lo <= path < hi: '0' follows '/', so this is "path starts with p",
	// and SQLite can use the unique index on path.
	lo, hi := p, p[:len(p)-1]+"0"
	if parent == nil {
		u, err := scanUnit(db.read.QueryRowContext(ctx, `SELECT `+unitColumns+` FROM units WHERE id = ? AND path >= ? AND path < ?`,
			actor.UnitID, lo, hi))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", actor.UnitID, actor.UnitID)
		}
		if err != nil {
			return nil, err
		}
		return []schema.Unit{u}, nil
	}
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM units WHERE id = ? AND path >= ? AND path < ?`, *parent, lo, hi).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, schema.Errorf(schema.CodeNotFound, "Không tìm thấy đơn vị %d / unit %d not found", *parent, *parent)
	}
	q := `SELECT ` + unitColumns + ` FROM units WHERE parent_id = ? AND path >= ? AND path < ?`
	args := []any{*parent, lo, hi}
	if !includeEnded {
		q += ` AND (valid_to IS NULL OR valid_to > ?)`
		args = append(args, vietnamDate(db.Now()))
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
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
	if err := rows.Err(); err != nil {
		return nil, err
	}
	SortUnits(us)
	return us, nil
}

// SortUnits sorts units by name in Vietnamese order (Ă and Â after A, Đ after D, tones
// after the letters; numbers as numbers), then by id.
func SortUnits(us []schema.Unit) {
	sort.Slice(us, func(a, b int) bool { return us[a].ID < us[b].ID })
	schema.SortByName(us, func(u schema.Unit) string { return u.Name })
}

// UnitByCode returns the unit that a GSO code names in a code list ("vn-admin-2025-03-01").
// Codes are looked up in the list's code system (unitfile.CodeSystem): a unit imported
// from another list of the same system is found, a unit of the other system is not
// (codes were reused on 2025-07-01). The unit may have ended. It is not scoped to an
// actor: imports and admin tools use it.
//
// Returns CodeInvalid for a malformed code list and CodeNotFound if no unit has the code.
func (db *DB) UnitByCode(ctx context.Context, codeList, code string) (schema.Unit, error) {
	sys, err := unitfile.CodeSystem(codeList)
	if err != nil {
		return schema.Unit{}, schema.Errorf(schema.CodeInvalid, "%v", err)
	}
	u, err := scanUnit(db.read.QueryRowContext(ctx, `SELECT `+unitColumns+` FROM units WHERE origin IN (?, ?, ?)`,
		adminOrigin(sys, schema.LevelCommune, code), adminOrigin(sys, schema.LevelDistrict, code), adminOrigin(sys, schema.LevelProvince, code)))
	if errors.Is(err, sql.ErrNoRows) {
		return u, schema.Errorf(schema.CodeNotFound, "Không có đơn vị mã %s trong danh mục %s / no unit with code %s in code list %s",
			code, codeList, code, codeList)
	}
	return u, err
}

// adminOrigin is the origin (stable import key) of a province, district or commune, as
// the unit import keys them.
var adminOrigin = unitimport.AdminOrigin
