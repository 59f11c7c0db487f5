//go:build locktable

// This test fills the PostgreSQL server's lock table, which every database of the cluster
// shares: tests running at the same time on the cluster would fail too. It is built only
// with the locktable tag and runs alone, in its own step of make test-postgres.

package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// TestLockTableFull: when PostgreSQL's lock table is full ("out of shared memory", the
// state of a server whose max_locks_per_transaction is too small for its pushes), a push
// is retried, then answered busy — CodeUnavailable with Retry-After, which the server
// sends as 503 and phones honour — with nothing of it stored; a small push that fits in
// what is left goes through meanwhile; once locks are free the same push is applied, and
// sent again it answers already_applied.
func TestLockTableFull(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1})
	db := dbs[0]
	e := engine.New(db, func() time.Time { return now })

	// One session takes session-level advisory locks until PostgreSQL refuses more; they
	// stay held after the failed statement. It then gives back a few hundred: room for a
	// small push and the tables' own locks, not for a push of 500 operations.
	filler, err := pgx.Connect(ctx, db.Pool().Config().ConnConfig.ConnString())
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close(ctx)
	_, err = filler.Exec(ctx, `SELECT pg_advisory_lock(k) FROM generate_series(1000000000, 1010000000) k`)
	if err == nil || !isCode(err, "53200") {
		t.Fatalf("filling the lock table: %v (want out of shared memory)", err)
	}
	var held int64
	if err := filler.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'`).Scan(&held); err != nil {
		t.Fatal(err)
	}
	const room = 400
	if _, err := filler.Exec(ctx, `SELECT pg_advisory_unlock(k) FROM generate_series(1000000000, 1000000000 + $1 - 1) k`, room); err != nil {
		t.Fatal(err)
	}
	t.Logf("the lock table was full at %d advisory locks of one session; %d given back", held, room)

	big := make([]schema.Op, 500)
	for i := range big {
		big[i] = create(f.SaDecHamlets[i%3], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", 5000+i), "consent", true,
			"household_ref", fmt.Sprintf("%064x", 9000+i))
	}
	start := time.Now()
	_, err = e.Push(ctx, f.HongA, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: big})
	var se *schema.Error
	if !errors.As(err, &se) || se.Code != schema.CodeUnavailable || se.RetryAfter <= 0 {
		t.Fatalf("a push that cannot get its locks: %v, want %s with Retry-After", err, schema.CodeUnavailable)
	}
	t.Logf("answered %s after %s: %s", se.Code, time.Since(start).Round(time.Millisecond), se.Message)
	if n := count(t, db, `SELECT count(*) FROM ops`); n != 0 {
		t.Fatalf("%d ops stored by a push answered busy", n)
	}
	if r := db.Stats(); r.Retries == 0 {
		t.Fatal("the push was not retried before answering busy")
	}

	small := []schema.Op{create(f.SaDecHamlets[0], "cashless_payment")}
	if r := push(t, e, f.Minh, small...); r[0].Status != schema.ResultApplied {
		t.Fatalf("a small push while the table is nearly full: %+v", r[0])
	}

	if _, err := filler.Exec(ctx, `SELECT pg_advisory_unlock_all()`); err != nil {
		t.Fatal(err)
	}
	for i, r := range push(t, e, f.HongA, big...) {
		if r.Status != schema.ResultApplied {
			t.Fatalf("op %d after the locks were freed: %+v", i, r)
		}
	}
	for i, r := range push(t, e, f.HongA, big...) {
		if r.Status != schema.ResultAlreadyApplied {
			t.Fatalf("op %d sent again: %+v", i, r)
		}
	}
	if n := count(t, db, `SELECT count(*) FROM logs`); n != len(big)+1 {
		t.Fatalf("%d logs, want %d", n, len(big)+1)
	}
}

func isCode(err error, code string) bool {
	var pe interface{ SQLState() string }
	return errors.As(err, &pe) && pe.SQLState() == code
}

func count(t *testing.T, db *postgres.DB, q string) int {
	t.Helper()
	var n int
	if err := db.Pool().QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
