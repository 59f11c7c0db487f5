package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change of the PostgreSQL store.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the embedded migrations in order (files NNNN_name.sql, numbered
// 1, 2, 3…; the PostgreSQL store's numbers are its own, not the SQLite store's).
func Migrations() []Migration {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	var ms []Migration
	for _, e := range entries {
		num, rest, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			panic(fmt.Sprintf("postgres: migration file %q is not NNNN_name.sql", e.Name()))
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			panic(err)
		}
		ms = append(ms, Migration{Version: v, Name: rest, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			panic(fmt.Sprintf("postgres: migrations must be numbered 1, 2, 3…; found %d at position %d", m.Version, i+1))
		}
	}
	return ms
}

// LatestVersion is the schema version this binary writes.
func LatestVersion() int { return len(Migrations()) }

// migrateLock is the advisory lock every process takes to migrate: servers started
// together migrate one after the other, and the later ones find nothing to do.
const migrateLock = int64(0x6364747379_6e63) // "cdtsync"

// SchemaVersion returns the schema version recorded in the database (0 for a new one).
func SchemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, storageError(err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, storageError(err)
}

// migrate applies the embedded migrations the database lacks, each in its own
// transaction, under an advisory lock, and seeds a new database (epoch, citizen key,
// activity kinds). A database newer than this binary is refused.
func migrate(ctx context.Context, pool *pgxpool.Pool, now func() time.Time) error {
	return withMigrateLock(ctx, pool, func(conn *pgxpool.Conn) error { return migrateLocked(ctx, conn, now) })
}

// withMigrateLock runs fn on a connection holding the migration lock (a session lock:
// fn may run several transactions).
func withMigrateLock(ctx context.Context, pool *pgxpool.Pool, fn func(*pgxpool.Conn) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return storageError(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return storageError(err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
	return fn(conn)
}

func migrateLocked(ctx context.Context, conn *pgxpool.Conn, now func() time.Time) error {
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL)`); err != nil {
		return storageError(err)
	}
	have, err := SchemaVersion(ctx, conn)
	if err != nil {
		return err
	}
	if latest := LatestVersion(); have > latest {
		return &sqlite.ErrNewerDatabase{Have: have, Want: latest}
	}
	for _, m := range Migrations() {
		if m.Version <= have {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if m.Version == 1 {
				if err := seed(ctx, tx); err != nil {
					return fmt.Errorf("seed: %w", err)
				}
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, now().UTC())
			return err
		})
		if err != nil {
			return storageError(err)
		}
	}
	return nil
}

// seed fills a new database: its epoch, the citizen key and the default activity kinds.
func seed(ctx context.Context, tx pgx.Tx) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	for k, v := range map[string]string{
		"epoch":       randomHex(8),
		"citizen_key": base64.StdEncoding.EncodeToString(key),
	} {
		if _, err := tx.Exec(ctx, `INSERT INTO meta (key, value) VALUES ($1, $2)`, k, v); err != nil {
			return err
		}
	}
	for _, k := range schema.DefaultKinds {
		if _, err := tx.Exec(ctx, `INSERT INTO activity_kinds (code, name_vi, name_en, once_per_person, active, sort)
			VALUES ($1, $2, $3, $4, $5, $6)`, k.Code, k.NameVI, k.NameEN, k.OncePerPerson, k.Active, k.Sort); err != nil {
			return err
		}
	}
	return nil
}
