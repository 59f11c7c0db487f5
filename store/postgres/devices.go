package postgres

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// Devices and enrolment, with the SQLite store's contracts (store/sqlite/devices.go).

const deviceColumns = `d.id, d.device_id, d.volunteer_id, d.name, cdt_ts(d.enrolled_at), cdt_ts(d.revoked_at), d.clock_offset_ms,
	cdt_ts(d.clock_checked_at), cdt_ts(d.last_push_at), cdt_ts(d.last_pull_at), d.pending_ops, cdt_ts(d.oldest_pending_at),
	u.display_name, u.team_id`

func scanDevice(r pgx.Row, extra ...any) (schema.Device, error) {
	var (
		d                                    schema.Device
		revoked, checked, push, pull, oldest *string
		team                                 *int64
	)
	err := r.Scan(append([]any{&d.ID, &d.DeviceID, &d.VolunteerID, &d.Name, &d.EnrolledAt, &revoked, &d.ClockOffsetMS,
		&checked, &push, &pull, &d.PendingOps, &oldest, &d.VolunteerName, &team}, extra...)...)
	d.RevokedAt, d.ClockCheckedAt, d.LastPushAt, d.LastPullAt, d.OldestPendingAt =
		deref(revoked), deref(checked), deref(push), deref(pull), deref(oldest)
	d.TeamID = deref(team)
	if d.ClockOffsetMS != nil {
		off := time.Duration(*d.ClockOffsetMS) * time.Millisecond
		d.ClockOff = off >= schema.ClockOffThreshold || off <= -schema.ClockOffThreshold
	}
	return d, err
}

const deviceFrom = ` FROM devices d JOIN users u ON u.id = d.volunteer_id JOIN units un ON un.id = u.unit_id`

func deviceNotFound(id int64) error {
	return schema.Errorf(schema.CodeNotFound, "Không tìm thấy thiết bị %d / device %d not found", id, id)
}

func deviceByRow(ctx context.Context, q querier, sc *scope, id int64) (schema.Device, string, error) {
	var path string
	d, err := scanDevice(q.QueryRow(ctx, `SELECT `+deviceColumns+`, un.path`+deviceFrom+` WHERE d.id = $1`, id), &path)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && sc != nil && !sc.covers(path)) {
		return schema.Device{}, "", deviceNotFound(id)
	}
	return d, path, err
}

// IssueEnrollment records a new one-time enrolment code (by its hash) for a volunteer in
// the actor's scope (see the SQLite store).
func (db *DB) IssueEnrollment(ctx context.Context, a schema.Actor, volunteerID int64, codeHash string, expiresAt time.Time) (schema.IssuedEnrollment, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return schema.IssuedEnrollment{}, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleAdmin); err != nil {
		return schema.IssuedEnrollment{}, err
	}
	if len(codeHash) != 64 {
		return schema.IssuedEnrollment{}, errors.New("postgres: enrolment code hash expected")
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
		if _, err := tx.Exec(ctx, `UPDATE enrollment_codes SET expires_at = $1
			WHERE volunteer_id = $2 AND used_at IS NULL AND expires_at > $1`, now, volunteerID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO enrollment_codes (code_hash, volunteer_id, issued_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, codeHash, volunteerID, a.UserID, now, accessTime(expiresAt))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return schema.Errorf(schema.CodeConflict, "Trùng mã, vui lòng thử lại / code collision, retry")
		}
		out = schema.IssuedEnrollment{Volunteer: u, ExpiresAt: expiresAt}
		return nil
	})
	return out, err
}

// RedeemEnrollment spends a one-time enrolment code (see the SQLite store). The code's row
// is locked first: two phones redeeming one code at once on two servers are served one
// after the other, and the second finds it used.
func (db *DB) RedeemEnrollment(ctx context.Context, r schema.EnrollmentRedeem) (schema.Enrolled, error) {
	if !sqlite.ValidDeviceID(r.DeviceID) {
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
		return schema.Enrolled{}, errors.New("postgres: refresh grant expected")
	}
	var out schema.Enrolled
	err := db.Write(ctx, 0, func(tx *Tx) error {
		var (
			volunteer int64
			expires   time.Time
			used      *time.Time
			usedBy    *string
		)
		err := tx.QueryRow(ctx, `SELECT c.volunteer_id, c.expires_at, c.used_at, d.device_id FROM enrollment_codes c
			LEFT JOIN devices d ON d.id = c.device_row WHERE c.code_hash = $1 FOR UPDATE OF c`, r.CodeHash).
			Scan(&volunteer, &expires, &used, &usedBy)
		retry := used != nil && deref(usedBy) == r.DeviceID && tx.Now.Sub(*used) <= r.RetryGrace
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return schema.Errorf(schema.CodeUnauthorized, "Mã đăng ký thiết bị không đúng / wrong enrolment code")
		case err != nil:
			return err
		case used != nil && !retry:
			return schema.Errorf(schema.CodeUnauthorized, "Mã đăng ký thiết bị đã được dùng, hãy xin mã mới / the enrolment code was already used; ask for a new one")
		case !expires.After(tx.Now):
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
		if err := tx.QueryRow(ctx, `INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (device_id, volunteer_id) DO UPDATE SET name = excluded.name, enrolled_at = excluded.enrolled_at, revoked_at = NULL
			RETURNING id`, r.DeviceID, volunteer, name, now).Scan(&row); err != nil {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`UPDATE refresh_tokens SET revoked_at = $1 WHERE device_row = $2 AND revoked_at IS NULL`, now, row)
		b.Queue(`UPDATE enrollment_codes SET used_at = $1, device_row = $2 WHERE code_hash = $3`, now, row, r.CodeHash)
		queueRefresh(b, tx, r.Refresh, volunteer, row)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
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

// ListDevices lists the devices of volunteers whose unit is in the actor's scope (see
// the SQLite store).
func (db *DB) ListDevices(ctx context.Context, a schema.Actor, f schema.DeviceFilter) ([]schema.Device, error) {
	sc, err := scopeOf(a)
	if err != nil {
		return nil, err
	}
	if err := requireRole(a, schema.RoleCoordinator, schema.RoleOfficer, schema.RoleAdmin); err != nil {
		return nil, err
	}
	under, err := subtreeFilter(ctx, db.pool, sc, f.UnitID)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + deviceColumns + deviceFrom + ` WHERE un.path >= $1 AND un.path < $2`
	args := []any{under.lo, under.hi}
	if f.TeamID != nil {
		if _, _, err := teamInScope(ctx, db.pool, &sc, *f.TeamID); err != nil {
			return nil, err
		}
		args = append(args, *f.TeamID)
		q += ` AND u.team_id = $` + strconv.Itoa(len(args))
	}
	if f.VolunteerID != nil {
		if _, _, err := userInScope(ctx, db.pool, &sc, *f.VolunteerID); err != nil {
			return nil, err
		}
		args = append(args, *f.VolunteerID)
		q += ` AND d.volunteer_id = $` + strconv.Itoa(len(args))
	}
	if !f.IncludeRevoked {
		q += ` AND d.revoked_at IS NULL`
	}
	rows, err := db.pool.Query(ctx, q, args...)
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

// RevokeDevice revokes one enrolment of a volunteer in the actor's scope (see the SQLite
// store).
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
		b := &pgx.Batch{}
		b.Queue(`UPDATE devices SET revoked_at = $1 WHERE id = $2`, now, id)
		b.Queue(`UPDATE refresh_tokens SET revoked_at = $1 WHERE device_row = $2 AND revoked_at IS NULL`, now, id)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		d.RevokedAt = stamp(now)
		return nil
	})
	return d, err
}
