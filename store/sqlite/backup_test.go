package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestBackupDuringPushes takes a backup while four phones push creations, edits and
// deletes (with reviews between) and shows:
//   - the copy holds exactly the snapshot it was taken from: every row of every table equals
//     the source's rows in the read transaction the backup copied, while pushes kept
//     committing during that transaction (the backup does not hold the writer);
//   - every push acknowledged before the backup began is in the copy, and every push is
//     in it whole or not at all;
//   - the copy has a new epoch, so a phone's pull cursor from the live database answers
//     reset: true on the restored one;
//   - restored, it answers the same coverage and team reports as the source at that point
//     (a second backup taken with the pushes stopped, compared report for report), and
//     its report aggregates equal those rebuilt from its logs.
func TestBackupDuringPushes(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	f := sqlitetest.MustFixture(t, db)
	e := engine.New(db, nil)
	phones := fleet(f)
	for _, p := range phones { // some history before the backup
		for i := 0; i < 4; i++ {
			p.push(ctx, e, 30)
		}
	}
	review(t, ctx, e, db, f)
	liveCursor := pullAll(t, ctx, e, f.HongA, "")

	stop := make(chan struct{})
	wg := runFleet(ctx, e, phones, stop)
	time.Sleep(200 * time.Millisecond)

	// The reference: the source as the backup's read transaction saw it. The hook waits
	// until pushes have committed while the snapshot is held.
	var ref tableDump
	var duringSnapshot atomic.Int64
	sqlite.SetBackupSnapshotHook(func(tx *sql.Tx) {
		before := db.Stats().Batches
		ref = dumpTables(t, tx)
		for deadline := time.Now().Add(10 * time.Second); db.Stats().Batches-before < 2 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		duringSnapshot.Store(db.Stats().Batches - before)
	})
	defer sqlite.SetBackupSnapshotHook(nil)
	dst := filepath.Join(t.TempDir(), "cdtsync-backup.db")
	began := time.Now()
	info, err := sqlite.Backup(ctx, db.Path(), dst)
	if err != nil {
		t.Fatal(err)
	}
	sqlite.SetBackupSnapshotHook(nil)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if duringSnapshot.Load() == 0 {
		t.Errorf("no push committed while the backup held its snapshot: the backup blocked the writer")
	}
	t.Logf("backup of %d bytes in %v (snapshot held %v); %d group commits during the snapshot",
		info.Bytes, info.Duration.Round(time.Millisecond), info.Snapshot.Round(time.Millisecond), duringSnapshot.Load())

	copyDB := openRaw(t, dst)
	got := dumpTables(t, copyDB)
	if d := diffDumps(withoutMeta(ref), withoutMeta(got)); d != "" {
		t.Fatalf("the copy differs from the snapshot it was taken from:\n%s", d)
	}
	var epoch, backupOf, seq string
	copyDB.QueryRow(`SELECT (SELECT value FROM meta WHERE key = 'epoch'), (SELECT value FROM meta WHERE key = 'backup_of'),
		(SELECT value FROM meta WHERE key = 'seq')`).Scan(&epoch, &backupOf, &seq)
	liveEpoch, _ := db.Epoch(ctx)
	if epoch == liveEpoch || epoch != info.Epoch || backupOf != liveEpoch || info.SourceEpoch != liveEpoch {
		t.Errorf("epochs: copy %q (info %q), backup_of %q, live %q", epoch, info.Epoch, backupOf, liveEpoch)
	}
	if seq != itoa(info.Seq) {
		t.Errorf("copy's seq %s, backup point %d", seq, info.Seq)
	}
	var wal string
	copyDB.QueryRow(`PRAGMA journal_mode`).Scan(&wal)
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o600 || wal != "delete" {
		t.Errorf("the copy: %v, mode %v, journal %s; want one owner-only file", err, st.Mode(), wal)
	}

	// Pushes: acknowledged before the backup began → in the copy; all or nothing.
	inCopy := map[string]bool{}
	for _, l := range dumpQuery(t, copyDB, `SELECT op_id FROM ops`) {
		inCopy[l] = true
	}
	var before, whole, absent int
	for _, p := range phones {
		for _, rec := range p.pushes {
			n := 0
			for _, op := range rec.ops {
				if inCopy[`"`+op.OpID+`"`] {
					n++
				}
			}
			switch {
			case n == len(rec.ops):
				whole++
			case n == 0:
				absent++
			default:
				t.Errorf("a push of %d ops is in the copy with %d of them", len(rec.ops), n)
			}
			if rec.acked && rec.ackedAt.Before(began) {
				before++
				if n != len(rec.ops) {
					t.Errorf("a push acknowledged before the backup began is missing from the copy")
				}
			}
		}
	}
	if absent == 0 {
		t.Errorf("every push is in the copy: the pushes did not overlap the backup")
	}
	t.Logf("%d pushes acknowledged before the backup began; %d pushes in the copy, %d after its snapshot", before, whole, absent)

	// Restore the copy; the phone's cursor from the live database starts over.
	restored := restoreAndOpen(t, ctx, dst)
	re := engine.New(restored, nil)
	resp, err := re.Pull(ctx, f.HongA, liveCursor, 100)
	if err != nil || !resp.Reset || len(resp.Changes) == 0 {
		t.Fatalf("a live cursor on the restored database: reset %v, %d changes, %v", resp.Reset, len(resp.Changes), err)
	}
	if rEpoch, _ := restored.Epoch(ctx); rEpoch == info.Epoch || rEpoch == liveEpoch {
		t.Errorf("restored epoch %q: the same as the backup's or the live one", rEpoch)
	}
	// The restored aggregates equal those rebuilt from its logs.
	beforeRebuild := reports(t, ctx, restored, f)
	aggregates, err := sqlite.DumpReports(ctx, restored)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.RebuildReports(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt, _ := sqlite.DumpReports(ctx, restored)
	if aggregates != rebuilt || beforeRebuild != reports(t, ctx, restored, f) {
		t.Errorf("the restored report aggregates differ from those rebuilt from its logs")
	}

	// With the pushes stopped, a backup restored answers the same reports as the source.
	review(t, ctx, e, db, f)
	dst2 := filepath.Join(t.TempDir(), "quiet.db")
	if _, err := sqlite.Backup(ctx, db.Path(), dst2); err != nil {
		t.Fatal(err)
	}
	quiet := restoreAndOpen(t, ctx, dst2)
	if want, got := reports(t, ctx, db, f), reports(t, ctx, quiet, f); want != got {
		t.Errorf("reports of the restored backup differ from the source's:\nsource %.500s\nrestored %.500s", want, got)
	}
	src := dumpTables(t, readPool(t, db.Path()))
	if d := diffDumps(withoutMeta(src), withoutMeta(dumpTables(t, readPool(t, quiet.Path())))); d != "" {
		t.Errorf("restored quiet backup differs from the source:\n%s", d)
	}
}

// TestBackupRefuses: an existing destination is not overwritten, a file that is not a
// cdtsync database is refused, and a database newer than this binary is refused.
func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	db := sqlitetest.MustOpen(t)
	dir := t.TempDir()

	t.Run("ErrExists", func(t *testing.T) {
		dst := filepath.Join(dir, "exists.db")
		os.WriteFile(dst, []byte("keep me"), 0o600)
		if _, err := sqlite.Backup(ctx, db.Path(), dst); err == nil {
			t.Fatal("overwrote an existing file")
		}
		if b, _ := os.ReadFile(dst); string(b) != "keep me" {
			t.Fatal("the existing file changed")
		}
	})
	t.Run("ErrNotCdtsync", func(t *testing.T) {
		other := filepath.Join(dir, "other.db")
		raw := openRaw(t, other)
		raw.Exec(`CREATE TABLE x (y)`)
		raw.Close()
		if _, err := sqlite.Backup(ctx, other, filepath.Join(dir, "o.db")); err == nil {
			t.Fatal("backed up a database that is not cdtsync's")
		}
		if _, _, err := sqlite.Restore(ctx, other, filepath.Join(dir, "data")); err == nil {
			t.Fatal("restored a database that is not cdtsync's")
		}
		if _, err := os.Stat(filepath.Join(dir, "o.db")); err == nil {
			t.Fatal("a failed backup left a file")
		}
	})
	t.Run("ErrNewerDatabase", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), sqlite.FileName)
		newer, err := sqlite.OpenFile(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		newer.WriteDB().Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', '2030-01-01T00:00:00Z')`,
			schema.LatestVersion()+1)
		newer.Close()
		var ne *sqlite.ErrNewerDatabase
		if _, err := sqlite.Backup(ctx, path, filepath.Join(dir, "n.db")); !errors.As(err, &ne) {
			t.Fatalf("backup of a newer database: %v", err)
		}
		if _, _, err := sqlite.Restore(ctx, path, filepath.Join(dir, "data2")); !errors.As(err, &ne) {
			t.Fatalf("restore of a newer database: %v", err)
		}
	})
}

// TestRestoreMovesTheOldDatabaseAside: restoring over a data directory keeps the old
// database, with its WAL, under another name, and no WAL of the old database is left to
// be replayed onto the restored one. Two restores of one copy get two epochs.
func TestRestoreMovesTheOldDatabaseAside(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := sqlitetest.MustOpenDir(t, dir)
	f := sqlitetest.MustFixture(t, db)
	e := engine.New(db, nil)
	p := fleet(f)[0]
	first := p.push(ctx, e, 20)
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := sqlite.Backup(ctx, db.Path(), backup); err != nil {
		t.Fatal(err)
	}
	p.push(ctx, e, 20) // after the backup: in the live WAL
	liveOps := count(t, db.Path(), "ops")
	db.Close()

	info, aside, err := sqlite.Restore(ctx, backup, dir)
	if err != nil {
		t.Fatal(err)
	}
	if aside == "" || count(t, aside, "ops") != liveOps {
		t.Fatalf("the old database was not kept whole aside (%q)", aside)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName+"-wal")); err == nil {
		t.Fatal("a -wal file is left beside the restored database")
	}
	if n := count(t, filepath.Join(dir, sqlite.FileName), "ops"); n != len(first.ops) {
		t.Fatalf("restored database holds %d op results, the backup %d", n, len(first.ops))
	}
	info2, _, err := sqlite.Restore(ctx, backup, dir)
	if err != nil {
		t.Fatal(err)
	}
	if info.Epoch == info2.Epoch {
		t.Fatal("two restores of one backup got the same epoch")
	}
}

func openRaw(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func readPool(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t testing.TB, path, table string) int {
	t.Helper()
	db := readPool(t, path)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return n
}

// restoreAndOpen restores a backup into a new data directory and opens it.
func restoreAndOpen(t testing.TB, ctx context.Context, backup string) *sqlite.DB {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := sqlite.Restore(ctx, backup, dir); err != nil {
		t.Fatal(err)
	}
	return sqlitetest.MustOpenDir(t, dir)
}

// pullAll pulls from cursor to the end and returns the last cursor.
func pullAll(t testing.TB, ctx context.Context, e *engine.Engine, a schema.Actor, cursor string) string {
	t.Helper()
	for {
		resp, err := e.Pull(ctx, a, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		cursor = resp.Cursor
		if !resp.HasMore {
			return cursor
		}
	}
}

// review approves some of Sa Đéc's pending logs and rejects one.
func review(t testing.TB, ctx context.Context, e *engine.Engine, db *sqlite.DB, f *sqlitetest.Fixture) {
	t.Helper()
	page, err := db.ListReviews(ctx, f.CoordSaDec, schema.ReviewFilter{Status: "pending", Limit: 30})
	if err != nil {
		t.Fatal(err)
	}
	var ds []engine.Decision
	for i, it := range page.Items {
		d := engine.Decision{ID: it.ID, Status: "approved"}
		if i%7 == 3 {
			d.Status, d.Note = "rejected", "Trùng với buổi hôm trước"
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return
	}
	if _, err := e.Review(ctx, f.CoordSaDec, ds); err != nil {
		t.Fatal(err)
	}
}

// reports returns the province's coverage (all logs and approved only) and team reports
// over the last 30 days as JSON, without their generation time.
func reports(t testing.TB, ctx context.Context, db *sqlite.DB, f *sqlitetest.Fixture) string {
	t.Helper()
	vn := engine.Vietnam()
	from := time.Now().In(vn).AddDate(0, 0, -30).Format(time.DateOnly)
	to := time.Now().In(vn).AddDate(0, 0, 1).Format(time.DateOnly)
	var out []any
	for _, approved := range []bool{false, true} {
		c, err := db.Coverage(ctx, f.Officer, schema.ReportFilter{From: from, To: to, ApprovedOnly: approved})
		if err != nil {
			t.Fatal(err)
		}
		c.GeneratedAt = ""
		out = append(out, c)
	}
	tr, err := db.TeamOutput(ctx, f.Officer, schema.ReportFilter{From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	tr.GeneratedAt = ""
	out = append(out, tr)
	b, _ := json.Marshal(out)
	return string(b)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
