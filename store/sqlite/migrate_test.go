package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	latest := schema.LatestVersion()

	t.Run("Fresh", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := SchemaVersion(ctx, db.WriteDB())
		if err != nil || v != latest {
			t.Fatalf("version %d %v, want %d", v, err, latest)
		}
		epoch, _ := db.Epoch(ctx)
		key, _ := db.CitizenKey(ctx)
		db.Close()
		if epoch == "" || len(key) != 32 {
			t.Fatalf("seed: epoch %q, key %d bytes", epoch, len(key))
		}

		// Re-run: nothing changes, the seed stays.
		db, err = Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var applied int
		db.WriteDB().QueryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied)
		epoch2, _ := db.Epoch(ctx)
		key2, _ := db.CitizenKey(ctx)
		if applied != latest || epoch2 != epoch || string(key2) != string(key) {
			t.Fatalf("re-run changed the database: %d migrations, epoch %q→%q", applied, epoch, epoch2)
		}
	})

	t.Run("ErrNewerDatabase", func(t *testing.T) {
		dir := t.TempDir()
		db, err := Open(ctx, dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		db.WriteDB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', ?)`,
			latest+1, time.Now().UTC().Format(time.RFC3339))
		db.Close()
		_, err = Open(ctx, dir, Options{})
		var newer *ErrNewerDatabase
		if !errors.As(err, &newer) || newer.Have != latest+1 || newer.Want != latest {
			t.Fatalf("opening a newer database: %v", err)
		}
	})

	t.Run("FromOldDatabase", func(t *testing.T) {
		// A database made by a build that had only the first migration, with data in it,
		// migrates forward and keeps its data.
		path := filepath.Join(t.TempDir(), FileName)
		raw, err := sql.Open("sqlite", dsn(path, false))
		if err != nil {
			t.Fatal(err)
		}
		raw.SetMaxOpenConns(1)
		if err := migrateTo(ctx, raw, time.Now, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`INSERT INTO units (level, unit_type, origin, name, path, seq) VALUES ('province', 'Tỉnh', 'test/82', 'Tỉnh Đồng Tháp', '/1/', 1)`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		db, err := OpenFile(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if v, _ := SchemaVersion(ctx, db.WriteDB()); v != latest {
			t.Fatalf("migrated to %d, want %d", v, latest)
		}
		u, err := db.Unit(ctx, 1)
		if err != nil || u.Name != "Tỉnh Đồng Tháp" {
			t.Fatalf("data lost in the migration: %+v %v", u, err)
		}
	})
}
