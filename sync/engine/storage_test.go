package engine_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestPushStorageFull: when the disk fills in the middle of a push, the whole push fails
// with storage_full and nothing of it is stored — no log, no op result — so the phone
// re-sends it all later. A push that fits still goes through.
func TestPushStorageFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := sqlitetest.MustOpenDir(t, dir)
	f := sqlitetest.MustFixture(t, db)
	db.Close()
	raw, err := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	raw.QueryRow(`PRAGMA page_count`).Scan(&pages)
	raw.Close()

	// Room for a few more pages: one small push fits, 500 logs do not.
	db, err = sqlite.Open(ctx, dir, sqlite.Options{MaxPages: pages + 12})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = func() time.Time { return now }
	e := engine.New(db, func() time.Time { return now })
	var seq atomic.Int64
	big := benchOps(500, f.SaDecHamlets, &seq)
	_, err = e.Push(ctx, f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: big})
	if schema.ErrorCode(err) != schema.CodeStorageFull {
		t.Fatalf("push on a full disk: %v, want storage_full", err)
	}
	count := func(table string) int {
		var n int
		conn, _ := sql.Open("sqlite", "file:"+filepath.Join(dir, sqlite.FileName)+"?mode=ro")
		defer conn.Close()
		conn.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n)
		return n
	}
	if logs, ops := count("logs"), count("ops"); logs != 0 || ops != 0 {
		t.Fatalf("a failed push left %d logs and %d op results", logs, ops)
	}
	small := benchOps(1, f.SaDecHamlets, &seq)
	resp, err := e.Push(ctx, f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: small})
	if err != nil || resp.Results[0].Status != schema.ResultApplied {
		t.Fatalf("a push that fits: %+v %v", resp, err)
	}
	if logs := count("logs"); logs != 1 {
		t.Fatalf("%d logs after the small push", logs)
	}
}
