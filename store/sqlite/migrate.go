package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// ErrNewerDatabase is returned by Open for a database whose schema is newer than this
// binary's: an older cdtsync must not write to it.
type ErrNewerDatabase struct{ Have, Want int }

func (e *ErrNewerDatabase) Error() string {
	return fmt.Sprintf("cơ sở dữ liệu có lược đồ phiên bản %d, mới hơn bản cdtsync này (%d): hãy cài bản cdtsync mới hơn / "+
		"the database has schema version %d, newer than this cdtsync (%d): install a newer cdtsync", e.Have, e.Want, e.Have, e.Want)
}

// SchemaVersion returns the schema version recorded in the database (0 for a new one).
func SchemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TEXT NOT NULL)`); err != nil {
		return 0, storageError(err)
	}
	var v int
	err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// migrate applies the embedded migrations the database lacks, each in its own
// transaction, and seeds a new database (epoch, citizen key, activity kinds).
func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	return migrateTo(ctx, db, now, schema.LatestVersion())
}

// migrateTo applies migrations up to version target (tests build old databases with it).
func migrateTo(ctx context.Context, db *sql.DB, now func() time.Time, target int) error {
	have, err := SchemaVersion(ctx, db)
	if err != nil {
		return err
	}
	if latest := schema.LatestVersion(); have > latest {
		return &ErrNewerDatabase{Have: have, Want: latest}
	}
	for _, m := range schema.Migrations() {
		if m.Version <= have || m.Version > target {
			continue
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return storageError(err)
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
		}
		if m.Version == 1 {
			if err := seed(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("seed: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, now().UTC().Format(time.RFC3339)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return storageError(err)
		}
	}
	return nil
}

// seed fills a new database: its epoch, the change sequence, the citizen key and the
// default activity-kind catalogue.
func seed(ctx context.Context, tx *sql.Tx) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"epoch":       randomHex(8),
		"seq":         "0",
		"citizen_key": base64.StdEncoding.EncodeToString(key),
	} {
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`, k, v); err != nil {
			return err
		}
	}
	for i, k := range schema.DefaultKinds {
		if _, err := tx.ExecContext(ctx, `INSERT INTO activity_kinds (code, name_vi, name_en, once_per_person, active, sort, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, k.Code, k.NameVI, k.NameEN, k.OncePerPerson, k.Active, k.Sort, i+1); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE meta SET value = ? WHERE key = 'seq'`, len(schema.DefaultKinds))
	return err
}
