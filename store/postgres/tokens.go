package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
)

// Refresh tokens, stored as SHA-256 hashes, with the SQLite store's rules
// (store/sqlite/tokens.go). Rotation locks the token's row (FOR UPDATE): two servers
// given the same token at once serve it one after the other, and the second sees it
// spent — a retry within the grace, or a reuse that revokes the family.

func queueRefresh(b *pgx.Batch, tx *Tx, g schema.RefreshGrant, userID, deviceRow int64) {
	var row any
	if deviceRow != 0 {
		row = deviceRow
	}
	b.Queue(`INSERT INTO refresh_tokens (token_hash, family_id, user_id, device_row, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, g.Hash, g.FamilyID, userID, row, accessTime(tx.Now), accessTime(g.ExpiresAt))
}

func insertRefresh(ctx context.Context, tx *Tx, g schema.RefreshGrant, userID, deviceRow int64) error {
	b := &pgx.Batch{}
	queueRefresh(b, tx, g, userID, deviceRow)
	return tx.SendBatch(ctx, b).Close()
}

// StartSession stores the first refresh token of a staff sign-in. CodeUnauthorized if the
// user is unknown or revoked by the time the sign-in is written.
func (db *DB) StartSession(ctx context.Context, userID int64, g schema.RefreshGrant) error {
	if len(g.Hash) != 64 || g.FamilyID == "" {
		return errors.New("postgres: refresh grant expected")
	}
	return db.Write(ctx, 0, func(tx *Tx) error {
		var revoked bool
		err := tx.QueryRow(ctx, `SELECT revoked_at IS NOT NULL FROM users WHERE id = $1 AND role <> 'volunteer' FOR SHARE`, userID).Scan(&revoked)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && revoked) {
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

type refreshRow struct {
	family           string
	sess             schema.Session
	expires          time.Time
	used, revoked    *time.Time
	userRevoked      bool
	devRevoked       bool
	deviceRowPresent bool
}

// loadRefresh reads a token and locks its family's rows, so that one rotation of a family
// runs at a time across servers.
func loadRefresh(ctx context.Context, tx *Tx, hash string) (refreshRow, error) {
	var (
		r        refreshRow
		row      *int64
		devID    *string
		hasDevic *int64
	)
	err := tx.QueryRow(ctx, `SELECT t.family_id, t.user_id, t.device_row, t.expires_at, t.used_at, t.revoked_at,
			u.role, u.revoked_at IS NOT NULL, d.id, d.device_id, d.revoked_at IS NOT NULL
		FROM refresh_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN devices d ON d.id = t.device_row
		WHERE t.token_hash = $1`, hash).
		Scan(&r.family, &r.sess.UserID, &row, &r.expires, &r.used, &r.revoked, &r.sess.Role, &r.userRevoked, &hasDevic, &devID, &r.devRevoked)
	if err != nil {
		return r, err
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM refresh_tokens WHERE family_id = $1 ORDER BY token_hash FOR UPDATE`, r.family); err != nil {
		return r, err
	}
	// Read again under the lock: a rotation of the family may have committed meanwhile.
	err = tx.QueryRow(ctx, `SELECT used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1`, hash).Scan(&r.used, &r.revoked)
	if err != nil {
		return r, err
	}
	r.sess.FamilyID, r.sess.DeviceRow, r.sess.DeviceID = r.family, deref(row), deref(devID)
	r.deviceRowPresent = hasDevic != nil
	return r, nil
}

func revokeFamily(ctx context.Context, tx *Tx, family string) error {
	_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL`,
		accessTime(tx.Now), family)
	return err
}

// RotateRefresh spends refresh token r.OldHash and stores r.NewHash as its successor (see
// the SQLite store's RotateRefresh for the contract, retries and reuse).
func (db *DB) RotateRefresh(ctx context.Context, r schema.RefreshRotation) (schema.Session, error) {
	if len(r.NewHash) != 64 {
		return schema.Session{}, errors.New("postgres: refresh hash expected")
	}
	var (
		sess  schema.Session
		reuse *schema.RefreshReuse
	)
	err := db.Write(ctx, 0, func(tx *Tx) error {
		reuse = nil
		t, err := loadRefresh(ctx, tx, r.OldHash)
		if errors.Is(err, pgx.ErrNoRows) {
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
			return nil
		}
		if t.revoked != nil {
			var live int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NULL`,
				t.family).Scan(&live); err != nil {
				return err
			}
			if live > 0 {
				return stolen()
			}
			return errBadRefresh()
		}
		if t.used != nil {
			var laterUse int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM refresh_tokens WHERE family_id = $1 AND token_hash <> $2
				AND used_at IS NOT NULL AND used_at >= $3`, t.family, r.OldHash, *t.used).Scan(&laterUse); err != nil {
				return err
			}
			if laterUse > 0 || tx.Now.Sub(*t.used) > r.ReuseGrace {
				return stolen()
			}
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2
				AND used_at IS NULL AND revoked_at IS NULL`, now, t.family); err != nil {
				return err
			}
		}
		if !t.expires.After(tx.Now) {
			return schema.Errorf(schema.CodeUnauthorized, "Phiên đăng nhập đã hết hạn, hãy đăng nhập lại / the session expired; sign in again")
		}
		if t.userRevoked || (t.sess.DeviceRow != 0 && (!t.deviceRowPresent || t.devRevoked)) {
			return schema.Errorf(schema.CodeUnauthorized, "Tài khoản hoặc thiết bị đã bị thu hồi / the account or device was revoked")
		}
		if t.used == nil {
			if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2`, now, r.OldHash); err != nil {
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

// EndSession signs out: it revokes the family of the given refresh token (see the SQLite
// store).
func (db *DB) EndSession(ctx context.Context, hash string) (schema.Session, bool, error) {
	var (
		sess  schema.Session
		found bool
	)
	err := db.Write(ctx, 0, func(tx *Tx) error {
		found = false
		t, err := loadRefresh(ctx, tx, hash)
		if errors.Is(err, pgx.ErrNoRows) {
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

// PruneCredentials deletes refresh tokens and enrolment codes that expired before before.
func (db *DB) PruneCredentials(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.Write(ctx, 0, func(tx *Tx) error {
		cut := accessTime(before)
		a, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE expires_at < $1`, cut)
		if err != nil {
			return err
		}
		b, err := tx.Exec(ctx, `DELETE FROM enrollment_codes WHERE expires_at < $1`, cut)
		if err != nil {
			return err
		}
		n = a.RowsAffected() + b.RowsAffected()
		return nil
	})
	return n, err
}
