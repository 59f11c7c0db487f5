package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestUpgradeFromEachOlderSchema: for every older schema version v, a database as a build
// with only migrations 1..v left it — its tables, with a deployment's data in them: units,
// teams, volunteers and phones, logs with edits, deletes, duplicates and reviews, op
// results — is opened by this build, which migrates it forward. Then:
//   - every row of every table the old build had is unchanged;
//   - the reports (built on the first start, as serve does) equal those of a database that
//     ran the latest schema all along with the same data;
//   - the new schema works: the same new pushes (creations, edits and deletes of old
//     logs, once-per-person duplicates of old logs' people) give the same op results and
//     reports in both;
//   - a phone's pull cursor from before the upgrade carries on (no reset: same database).
//
// The old database is built from the up-to-date one's data by copying the columns the old
// schema has, so the test keeps working as migrations are added.
func TestUpgradeFromEachOlderSchema(t *testing.T) {
	latest := schema.LatestVersion()
	if latest < 2 {
		t.Skip("one schema version only")
	}
	for v := 1; v < latest; v++ {
		t.Run(fmt.Sprintf("FromV%d", v), func(t *testing.T) {
			ctx := context.Background()
			src := sqlitetest.MustOpen(t)
			f := sqlitetest.MustFixture(t, src)
			e := engine.New(src, nil)
			phones := fleet(f)
			for i := 0; i < 4; i++ {
				for _, p := range phones {
					p.push(ctx, e, 30)
				}
			}
			review(t, ctx, e, src, f)
			cursor := pullAll(t, ctx, e, f.HongA, "")

			oldPath := filepath.Join(t.TempDir(), sqlite.FileName)
			buildOld(t, ctx, src.Path(), oldPath, v)
			old := openRaw(t, oldPath)
			before := dumpTables(t, old)
			var oldVersion int
			old.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&oldVersion)
			old.Close()
			if oldVersion != v {
				t.Fatalf("old database at version %d, want %d", oldVersion, v)
			}

			up, err := sqlite.OpenFile(ctx, oldPath, sqlite.Options{})
			if err != nil {
				t.Fatalf("opening a version %d database: %v", v, err)
			}
			t.Cleanup(func() { up.Close() })
			if got, _ := sqlite.SchemaVersion(ctx, up.WriteDB()); got != latest {
				t.Fatalf("migrated to %d, want %d", got, latest)
			}
			if err := up.EnsureReports(ctx); err != nil { // as serve does at start
				t.Fatal(err)
			}
			after := dumpTables(t, readPool(t, oldPath))
			for table, rows := range before {
				if table == "schema_migrations" {
					continue
				}
				if table == "meta" { // migrations may add their own keys
					rows, after[table] = onlyKeys(rows, before[table]), onlyKeys(after[table], before[table])
				}
				if d := diffDumps(tableDump{table: rows}, tableDump{table: after[table]}); d != "" {
					t.Errorf("the upgrade changed old data:\n%s", d)
				}
			}
			if want, got := reports(t, ctx, src, f), reports(t, ctx, up, f); want != got {
				t.Errorf("reports after the upgrade differ:\nlatest all along %.400s\nupgraded %.400s", want, got)
			}

			// The same new pushes on both.
			ue := engine.New(up, nil)
			for _, p := range phones {
				// Creations (once-per-person kinds among 300 people: duplicates of old logs'
				// people), edits and deletes of old logs.
				ops := p.batch(40, time.Now())
				req := schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339), Ops: ops}
				r1, err1 := e.Push(ctx, p.actor, req)
				r2, err2 := ue.Push(ctx, p.actor, req)
				if err1 != nil || err2 != nil {
					t.Fatalf("push: %v / %v", err1, err2)
				}
				for j := range r1.Results {
					if r1.Results[j] != r2.Results[j] {
						t.Errorf("op %d: latest all along %+v, upgraded %+v", j, r1.Results[j], r2.Results[j])
					}
				}
			}
			if want, got := reports(t, ctx, src, f), reports(t, ctx, up, f); want != got {
				t.Errorf("reports after new pushes differ:\nlatest all along %.400s\nupgraded %.400s", want, got)
			}
			resp, err := ue.Pull(ctx, f.HongA, cursor, 1000)
			if err != nil || resp.Reset {
				t.Fatalf("a cursor from before the upgrade: reset %v, %v", resp.Reset, err)
			}
		})
	}
}

// onlyKeys keeps the meta rows whose key is among those of ref.
func onlyKeys(rows, ref []string) []string {
	keys := map[string]bool{}
	for _, l := range ref {
		keys[strings.SplitN(l, "|", 2)[0]] = true
	}
	var out []string
	for _, l := range rows {
		if keys[strings.SplitN(l, "|", 2)[0]] {
			out = append(out, l)
		}
	}
	return out
}

// buildOld makes at dst the database a build with migrations 1..version would hold with
// src's data: the old schema, and into each of its tables the columns it has, copied.
// Meta keys of later migrations are left out.
func buildOld(t testing.TB, ctx context.Context, src, dst string, version int) {
	t.Helper()
	db, err := sql.Open("sqlite", sqlite.DSN(dst))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := sqlite.MigrateTo(ctx, db, version); err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`PRAGMA foreign_keys = OFF`)
	exec(`ATTACH DATABASE ? AS src`, src)
	rows, err := db.QueryContext(ctx, `SELECT name FROM main.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	cols := func(schema, table string) map[string]bool {
		rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT name FROM pragma_table_info(%q, %q)`, table, schema))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var n string
			rows.Scan(&n)
			out[n] = true
		}
		return out
	}
	exec(`BEGIN`)
	for _, table := range tables {
		var common []string
		srcCols := cols("src", table)
		for c := range cols("main", table) {
			if srcCols[c] {
				common = append(common, `"`+c+`"`)
			}
		}
		list := strings.Join(common, ", ")
		exec(`DELETE FROM main."` + table + `"`)
		where := ""
		if table == "meta" {
			where = ` WHERE key NOT LIKE 'rpt\_%' ESCAPE '\'`
		}
		exec(`INSERT INTO main."` + table + `" (` + list + `) SELECT ` + list + ` FROM src."` + table + `"` + where)
	}
	exec(`COMMIT`)
	exec(`DETACH DATABASE src`)
}
