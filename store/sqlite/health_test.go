package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestStorageFailuresRecover: the database stops taking writes — full (its size cap
// reached, as a full disk), read-only (as a disk remounted read-only after errors), or
// locked by another process (an sqlite3 shell left in a transaction) — and comes back.
// While it is down, a push fails whole with the specified code and a Retry-After, stores
// nothing, and Ping (/readyz) says so; every push acknowledged before is still there; when
// the cause goes, the same push resent is applied and Ping is fine again, with no restart.
func TestStorageFailuresRecover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  string
		down  func(t *testing.T, db *sqlite.DB, p *phone, e *engine.Engine) (up func())
		retry time.Duration
	}{
		{"Full", schema.CodeStorageFull, func(t *testing.T, db *sqlite.DB, p *phone, e *engine.Engine) func() {
			ctx := context.Background()
			room, _ := db.Room(ctx)
			if err := db.SetMaxPages(ctx, int(room.DBBytes/4096)+40); err != nil {
				t.Fatal(err)
			}
			// Small pushes until one does not fit.
			for i := 0; ; i++ {
				if rec := p.push(ctx, e, 20); !rec.acked {
					if rec.failCode != schema.CodeStorageFull {
						t.Fatalf("push %d failed with %q", i, rec.failCode)
					}
					p.pushes = p.pushes[:len(p.pushes)-1] // resent below
					break
				}
				if i > 1000 {
					t.Fatal("the database never filled")
				}
			}
			return func() {
				if err := db.SetMaxPages(ctx, 1<<30); err != nil {
					t.Fatal(err)
				}
			}
		}, time.Minute},
		{"ReadOnly", schema.CodeUnavailable, func(t *testing.T, db *sqlite.DB, p *phone, e *engine.Engine) func() {
			sqlite.SetWriterQueryOnly(context.Background(), db, true)
			return func() { sqlite.SetWriterQueryOnly(context.Background(), db, false) }
		}, 10 * time.Second},
		{"Locked", schema.CodeUnavailable, func(t *testing.T, db *sqlite.DB, p *phone, e *engine.Engine) func() {
			other := openRaw(t, db.Path())
			conn, err := other.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
				t.Fatal(err)
			}
			return func() { conn.ExecContext(context.Background(), `COMMIT`); conn.Close() }
		}, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{BusyTimeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			f := sqlitetest.MustFixture(t, db)
			e := engine.New(db, nil)
			p := newPhone(f.HongA, f.SaDecHamlets, 7)
			for i := 0; i < 3; i++ {
				if rec := p.push(ctx, e, 20); !rec.acked {
					t.Fatalf("push before the failure: %s", rec.failCode)
				}
			}
			up := tc.down(t, db, p, e)
			acked := 0
			for _, r := range p.pushes {
				acked += len(r.ops)
			}
			opsBefore := count(t, db.Path(), "ops")
			if opsBefore != acked {
				t.Fatalf("%d ops acknowledged, %d stored", acked, opsBefore)
			}

			now := time.Now()
			failed := p.batch(30, now)
			_, err = e.Push(ctx, p.actor, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: failed})
			se := asSchemaError(err)
			if se == nil || se.Code != tc.code || se.RetryAfter != tc.retry || se.Message == "" {
				t.Fatalf("push while down: %v, want %s with Retry-After %v", err, tc.code, tc.retry)
			}
			if n := count(t, db.Path(), "ops"); n != opsBefore {
				t.Fatalf("a failed push stored %d op results", n-opsBefore)
			}
			if err := db.Ping(ctx); schema.ErrorCode(err) != tc.code {
				t.Fatalf("Ping while down: %v, want %s", err, tc.code)
			}

			up()
			if err := db.Ping(ctx); err != nil {
				t.Fatalf("Ping after recovery: %v", err)
			}
			resp, err := e.Push(ctx, p.actor, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339), Ops: failed})
			if err != nil {
				t.Fatalf("the same push resent after recovery: %v", err)
			}
			for _, r := range resp.Results {
				if r.Status != schema.ResultApplied {
					t.Fatalf("resent op: %+v", r)
				}
			}
			if n := count(t, db.Path(), "ops"); n != opsBefore+len(failed) {
				t.Fatalf("%d op results after the resend, want %d", n, opsBefore+len(failed))
			}
		})
	}
}

func asSchemaError(err error) *schema.Error {
	var se *schema.Error
	if errorsAs(err, &se) {
		return se
	}
	return nil
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
