package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Refresh tokens, stored as SHA-256 hashes. A family is one sign-in or one enrolment;
// each use spends the token and stores its successor in the same family, so a family has
// at most one live token. A spent token presented again means two parties hold the family
// (the token was copied): the whole family is revoked.

func insertRefresh(ctx context.Context, tx *Tx, g schema.RefreshGrant, userID, deviceRow int64) error {
	var row any
	if deviceRow != 0 {
		row = deviceRow
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, user_id, device_row, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, g.Hash, g.FamilyID, userID, row, accessTime(tx.Now), accessTime(g.ExpiresAt))
	return err
}

// StartSession stores the first refresh token of a staff sign-in. CodeUnauthorized if the
// user is unknown or revoked by the time the sign-in is written.
func (db *DB) StartSession(ctx context.Context, userID int64, g schema.RefreshGrant) error {
	if len(g.Hash) != 64 || g.FamilyID == "" {
		return errors.New("sqlite: refresh grant expected")
	}
	return db.Write(ctx, 0, func(tx *Tx) error {
		var revoked sql.NullString
		err := tx.QueryRowContext(ctx, `SELECT revoked_at FROM users WHERE id = ? AND role <> 'volunteer'`, userID).Scan(&revoked)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked.Valid) {
			return schema.Errorf(schema.CodeUnauthorized, "Tài khoản không tồn tại hoặc đã bị thu hồi / the account does not exist or was revoked")
		}
		if err != nil {
			return err
		}
		return insertRefresh(ctx, tx, g, userID, 0)
	})
}

func errBadRefresh() error {
	return schema.Errorf(schema.CodeUnauthorized, "Phiên đăng nhập không hợp lệ, hãy đăng nhập lại / invalid refresh token; sign in again")
}

// refreshRow is a stored refresh token with whom it speaks for.
type refreshRow struct {
	family           string
	sess             schema.Session
	expires          string
	used, revoked    sql.NullString
	userRevoked      bool
	devRevoked       bool
	deviceRowPresent bool
}

func loadRefresh(ctx context.Context, tx *Tx, hash string) (refreshRow, error) {
	var (
		r        refreshRow
		row      sql.NullInt64
		devID    sql.NullString
		userRev  sql.NullString
		devRev   sql.NullString
		hasDevic sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT t.family_id, t.user_id, t.device_row, t.expires_at, t.used_at, t.revoked_at,
			u.role, u.revoked_at, d.id, d.device_id, d.revoked_at
		FROM refresh_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN devices d ON d.id = t.device_row
		WHERE t.token_hash = ?`, hash).
		Scan(&r.family, &r.sess.UserID, &row, &r.expires, &r.used, &r.revoked, &r.sess.Role, &userRev, &hasDevic, &devID, &devRev)
	if err != nil {
		return r, err
	}
	r.sess.FamilyID, r.sess.DeviceRow, r.sess.DeviceID = r.family, row.Int64, devID.String
	r.userRevoked, r.devRevoked, r.deviceRowPresent = userRev.Valid, devRev.Valid, hasDevic.Valid
	return r, nil
}

func revokeFamily(ctx context.Context, tx *Tx, family string) error {
	_, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`,
		accessTime(tx.Now), family)
	return err
}

// RotateRefresh spends refresh token r.OldHash and stores r.NewHash as its successor in
// the same family, living r.DeviceTTL (phones) or r.StaffTTL (staff) from now. It returns
// whom the token speaks for.
//
// An unknown or expired token, or one of a revoked user or device, is CodeUnauthorized. A
// spent token presented again within r.ReuseGrace of its use, while no later token of the
// family has been used, is a retry after a lost answer: the unused successors are revoked
// and a new one issued. Any other reuse of a spent token, or use of a revoked token while
// the family is alive, revokes the whole family (that change is committed) and returns a
// *schema.RefreshReuse wrapping CodeUnauthorized.
func (db *DB) RotateRefresh(ctx context.Context, r schema.RefreshRotation) (schema.Session, error) {
	if len(r.NewHash) != 64 {
		return schema.Session{}, errors.New("sqlite: refresh hash expected")
	}
	var (
		sess  schema.Session
		reuse *schema.RefreshReuse
	)
	err := db.Write(ctx, 0, func(tx *Tx) error {
		reuse = nil
		t, err := loadRefresh(ctx, tx, r.OldHash)
		if errors.Is(err, sql.ErrNoRows) {
			return errBadRefresh()
		}
		if err != nil {
			return err
		}
		now := accessTime(tx.Now)
		stolen := func() error {
			if err := revokeFamily(ctx, tx, t.family); err != nil {
				return err
			}
			reuse = &schema.RefreshReuse{Session: t.sess, Err: schema.Errorf(schema.CodeUnauthorized,
				"Phiên đăng nhập đã bị thu hồi vì mã làm mới bị dùng lại, hãy đăng nhập lại / "+
					"refresh token reused: the session was revoked; sign in again")}
			return nil // commit the revocation; the error is returned after the write
		}
		if t.revoked.Valid {
			var live int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL`,
				t.family).Scan(&live); err != nil {
				return err
			}
			if live > 0 {
				return stolen()
			}
			return errBadRefresh() // signed out, revoked, or already caught: nothing more to do
		}
		if t.used.Valid {
			var laterUse int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM refresh_tokens WHERE family_id = ? AND token_hash <> ?
				AND used_at IS NOT NULL AND used_at >= ?`, t.family, r.OldHash, t.used.String).Scan(&laterUse); err != nil {
				return err
			}
			if laterUse > 0 || tx.Now.Sub(parseAccessTime(t.used.String)) > r.ReuseGrace {
				return stolen()
			}
			// A retry: retire the successor the client never received.
			if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ?
				AND used_at IS NULL AND revoked_at IS NULL`, now, t.family); err != nil {
				return err
			}
		}
		if !parseAccessTime(t.expires).After(tx.Now) {
			return schema.Errorf(schema.CodeUnauthorized, "Phiên đăng nhập đã hết hạn, hãy đăng nhập lại / the session expired; sign in again")
		}
		if t.userRevoked || (t.sess.DeviceRow != 0 && (!t.deviceRowPresent || t.devRevoked)) {
			return schema.Errorf(schema.CodeUnauthorized, "Tài khoản hoặc thiết bị đã bị thu hồi / the account or device was revoked")
		}
		if !t.used.Valid {
			if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?`, now, r.OldHash); err != nil {
				return err
			}
		}
		ttl := r.StaffTTL
		if t.sess.DeviceRow != 0 {
			ttl = r.DeviceTTL
		}
		g := schema.RefreshGrant{Hash: r.NewHash, FamilyID: t.family, ExpiresAt: tx.Now.Add(ttl)}
		if err := insertRefresh(ctx, tx, g, t.sess.UserID, t.sess.DeviceRow); err != nil {
			return err
		}
		sess = t.sess
		sess.ExpiresAt = g.ExpiresAt
		return nil
	})
	if err != nil {
		return schema.Session{}, err
	}
	if reuse != nil {
		return reuse.Session, reuse
	}
	return sess, nil
}

// EndSession signs out: it revokes the family of the given refresh token. It returns the
// session it ended, and false (with no error) for a token it does not know, so that
// signing out never tells whether a token existed.
func (db *DB) EndSession(ctx context.Context, hash string) (schema.Session, bool, error) {
	var (
		sess  schema.Session
		found bool
	)
	err := db.Write(ctx, 0, func(tx *Tx) error {
		t, err := loadRefresh(ctx, tx, hash)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		sess, found = t.sess, true
		return revokeFamily(ctx, tx, t.family)
	})
	return sess, found, err
}

// PruneCredentials deletes refresh tokens and enrolment codes that expired before
// before: they can no longer be used, and spent ones older than that are not needed to
// detect reuse. Returns how many rows were deleted.
func (db *DB) PruneCredentials(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.Write(ctx, 0, func(tx *Tx) error {
		cut := accessTime(before)
		res, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE expires_at < ?`, cut)
		if err != nil {
			return err
		}
		a, _ := res.RowsAffected()
		res, err = tx.ExecContext(ctx, `DELETE FROM enrollment_codes WHERE expires_at < ?`, cut)
		if err != nil {
			return err
		}
		b, _ := res.RowsAffected()
		n = a + b
		return nil
	})
	return n, err
}
