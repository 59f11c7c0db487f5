package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"regexp"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Devices and enrolment. A device row is one enrolment of a phone for one volunteer: a
// phone shared by a family has a row per volunteer, each with its own credentials.

const deviceColumns = `d.id, d.device_id, d.volunteer_id, d.name, d.enrolled_at, d.revoked_at, d.clock_offset_ms,
	d.clock_checked_at, d.last_push_at, d.last_pull_at, d.pending_ops, d.oldest_pending_at, u.display_name, u.team_id`

func scanDevice(r rowScanner, extra ...any) (schema.Device, error) {
	var (
		d                                    schema.Device
		revoked, checked, push, pull, oldest sql.NullString
		offset, pending, team                sql.NullInt64
	)
	err := r.Scan(append([]any{&d.ID, &d.DeviceID, &d.VolunteerID, &d.Name, &d.EnrolledAt, &revoked, &offset,
		&checked, &push, &pull, &pending, &oldest, &d.VolunteerName, &team}, extra...)...)
	d.RevokedAt, d.ClockCheckedAt, d.LastPushAt, d.LastPullAt, d.OldestPendingAt =
		revoked.String, checked.String, push.String, pull.String, oldest.String
	d.TeamID = team.Int64
	if offset.Valid {
		d.ClockOffsetMS = &offset.Int64
		off := time.Duration(offset.Int64) * time.Millisecond
		d.ClockOff = off >= schema.ClockOffThreshold || off <= -schema.ClockOffThreshold
	}
	if pending.Valid {
		d.PendingOps = &pending.Int64
	}
	return d, err
}

const deviceFrom = ` FROM devices d JOIN users u ON u.id = d.volunteer_id JOIN units un ON un.id = u.unit_id`

func deviceNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy thiết bị %d / device %d not found", id, id)
}

// deviceByRow returns a device row and its volunteer's unit path if sc covers the
// volunteer's unit (nil sc: any), CodeNotFound otherwise.
func deviceByRow(ctx context.Context, q accessQuerier, sc *scope, id int64) (schema.Device, string, error) {
	var path string
	d, err := scanDevice(q.QueryRowContext(ctx, `SELECT `+deviceColumns+`, un.path`+deviceFrom+` WHERE d.id = ?`, id), &path)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.Device{}, "", deviceNotFound(id)
	}
	return d, path, err
}

// IssueEnrollment records a new one-time enrolment code (by its hash) for a volunteer in
// the actor's scope, valid until expiresAt. Older unused codes of the volunteer stop
// working: the newest code is the one the coordinator just showed. Only coordinators and
// admins may (CodeForbidden); a volunteer outside the scope is CodeNotFound; a user who is
// not a volunteer is CodeInvalid; a revoked one CodeConflict.
func (db *DB) IssueEnrollment(ctx context.Context, a schema.Actor, volunteerID int64, codeHash string, expiresAt time.Time) (schema.IssuedEnrollment, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.IssuedEnrollment{}, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleAdmin); err != nil {
		return schema.IssuedEnrollment{}, err
	}
	if len(codeHash) != 64 {
		return schema.IssuedEnrollment{}, errors.New("sqlite: enrolment code hash expected")
	}
	var out schema.IssuedEnrollment
	err = db.Write(ctx, 0, func(tx *Tx) error {
		u, _, err := userInScope(ctx, tx, &sc, volunteerID)
		if err != nil {
			return err
		}
		if u.Role != schema.RoleVolunteer {
			return schema.Errorf(schema.CodeInvalid, "Chỉ cấp mã đăng ký thiết bị cho thành viên tổ / enrolment codes are for volunteers only")
		}
		if u.RevokedAt != "" {
			return schema.Errorf(schema.CodeConflict, "Tài khoản đã bị thu hồi / the volunteer was revoked")
		}
		now := accessTime(tx.Now)
		if _, err := tx.ExecContext(ctx, `UPDATE enrollment_codes SET expires_at = ?1
			WHERE volunteer_id = ?2 AND used_at IS NULL AND expires_at > ?1`, now, volunteerID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO enrollment_codes (code_hash, volunteer_id, issued_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?)`, codeHash, volunteerID, a.UserID, now, accessTime(expiresAt)); err != nil {
			if isConstraint(err, 0) {
				return schema.Errorf(schema.CodeConflict, "Trùng mã, vui lòng thử lại / code collision, retry")
			}
			return err
		}
		out = schema.IssuedEnrollment{Volunteer: u, ExpiresAt: expiresAt}
		return nil
	})
	return out, err
}

var deviceIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// ValidDeviceID reports whether s is acceptable as a phone's own id: 1 to 128 characters
// of A-Z, a-z, 0-9, '.', '_', ':', '-' (a UUID, an Android id).
func ValidDeviceID(s string) bool { return deviceIDRE.MatchString(s) }

// RedeemEnrollment spends a one-time enrolment code: it enrols the phone for the code's
// volunteer (re-activating an earlier enrolment of the same phone and volunteer, whose old
// refresh tokens stop working) and stores the first refresh token of the new session, all
// in one transaction. An unknown, used or expired code, or a revoked volunteer, is
// CodeUnauthorized; a bad device id or name is CodeInvalid.
func (db *DB) RedeemEnrollment(ctx context.Context, r schema.EnrollmentRedeem) (schema.Enrolled, error) {
	if !ValidDeviceID(r.DeviceID) {
		return schema.Enrolled{}, schema.Errorf(schema.CodeInvalid, "device_id phải có 1–128 ký tự A-Z a-z 0-9 . _ : - / "+
			"device_id must be 1–128 characters of A-Z a-z 0-9 . _ : -")
	}
	name := r.DeviceName
	if name != "" {
		var err error
		if name, err = cleanName(name, "tên thiết bị / device_name"); err != nil {
			return schema.Enrolled{}, err
		}
	}
	if len(r.Refresh.Hash) != 64 || r.Refresh.FamilyID == "" {
		return schema.Enrolled{}, errors.New("sqlite: refresh grant expected")
	}
	var out schema.Enrolled
	err := db.Write(ctx, 0, func(tx *Tx) error {
		var (
			volunteer int64
			expires   string
			used      sql.NullString
			usedBy    sql.NullString
		)
		err := tx.QueryRowContext(ctx, `SELECT c.volunteer_id, c.expires_at, c.used_at, d.device_id FROM enrollment_codes c
			LEFT JOIN devices d ON d.id = c.device_row WHERE c.code_hash = ?`, r.CodeHash).
			Scan(&volunteer, &expires, &used, &usedBy)
		// A repeat from the phone that redeemed the code, soon after: its answer was lost.
		retry := used.Valid && usedBy.String == r.DeviceID && tx.Now.Sub(parseAccessTime(used.String)) <= r.RetryGrace
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return schema.Errorf(schema.CodeUnauthorized, "Mã đăng ký thiết bị không đúng / wrong enrolment code")
		case err != nil:
			return err
		case used.Valid && !retry:
			return schema.Errorf(schema.CodeUnauthorized, "Mã đăng ký thiết bị đã được dùng, hãy xin mã mới / the enrolment code was already used; ask for a new one")
		case !parseAccessTime(expires).After(tx.Now):
			return schema.Errorf(schema.CodeUnauthorized, "Mã đăng ký thiết bị đã hết hạn, hãy xin mã mới / the enrolment code expired; ask for a new one")
		}
		u, _, err := userInScope(ctx, tx, nil, volunteer)
		if err != nil {
			return err
		}
		if u.RevokedAt != "" || u.Role != schema.RoleVolunteer {
			return schema.Errorf(schema.CodeUnauthorized, "Tài khoản đã bị thu hồi / the account was revoked")
		}
		now := accessTime(tx.Now)
		var row int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (device_id, volunteer_id) DO UPDATE SET name = excluded.name, enrolled_at = excluded.enrolled_at, revoked_at = NULL
			RETURNING id`, r.DeviceID, volunteer, name, now).Scan(&row); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE device_row = ? AND revoked_at IS NULL`, now, row); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE enrollment_codes SET used_at = ?, device_row = ? WHERE code_hash = ?`, now, row, r.CodeHash); err != nil {
			return err
		}
		if err := insertRefresh(ctx, tx, r.Refresh, volunteer, row); err != nil {
			return err
		}
		d, _, err := deviceByRow(ctx, tx, nil, row)
		if err != nil {
			return err
		}
		out = schema.Enrolled{Volunteer: u, Device: d}
		return nil
	})
	return out, err
}

// ListDevices lists the devices of volunteers whose unit is in the actor's scope (or in
// f.UnitID's subtree), with their clock offset, last sync and reported outbox, sorted by
// the volunteer's Vietnamese name. Coordinators, officers and admins may (CodeForbidden
// otherwise); a unit, team or volunteer outside the scope is CodeNotFound.
func (db *DB) ListDevices(ctx context.Context, a schema.Actor, f schema.DeviceFilter) ([]schema.Device, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return nil, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin); err != nil {
		return nil, err
	}
	under, err := subtreeFilter(ctx, db.read, sc, f.UnitID)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + deviceColumns + deviceFrom + ` WHERE un.path >= ? AND un.path < ?`
	args := []any{under.lo, under.hi}
	if f.TeamID != nil {
		if _, _, err := teamInScope(ctx, db.read, &sc, *f.TeamID); err != nil {
			return nil, err
		}
		q += ` AND u.team_id = ?`
		args = append(args, *f.TeamID)
	}
	if f.VolunteerID != nil {
		if _, _, err := userInScope(ctx, db.read, &sc, *f.VolunteerID); err != nil {
			return nil, err
		}
		q += ` AND d.volunteer_id = ?`
		args = append(args, *f.VolunteerID)
	}
	if !f.IncludeRevoked {
		q += ` AND d.revoked_at IS NULL`
	}
	rows, err := db.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	devices := []schema.Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, err
		}
		devices = append(devices, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	schema.SortByName(devices, func(d schema.Device) string { return d.VolunteerName + "\x00" + d.Name })
	return devices, nil
}

// RevokeDevice revokes one enrolment (device row) of a volunteer in the actor's scope:
// the phone's tokens for that volunteer stop working at once. Coordinators and admins may
// (CodeForbidden otherwise); a device outside the scope is CodeNotFound. Revoking a
// revoked device changes nothing and returns it.
func (db *DB) RevokeDevice(ctx context.Context, a schema.Actor, id int64) (schema.Device, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.Device{}, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleAdmin); err != nil {
		return schema.Device{}, err
	}
	var d schema.Device
	err = db.Write(ctx, 0, func(tx *Tx) error {
		var err error
		if d, _, err = deviceByRow(ctx, tx, &sc, id); err != nil {
			return err
		}
		if d.RevokedAt != "" {
			return nil
		}
		now := accessTime(tx.Now)
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ?`, now, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE device_row = ? AND revoked_at IS NULL`, now, id); err != nil {
			return err
		}
		d.RevokedAt = now
		return nil
	})
	return d, err
}
