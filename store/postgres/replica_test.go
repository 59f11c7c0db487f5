package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

var november = schema.ReportFilter{From: "2026-11-01", To: "2026-11-30"}

// reports reads both reports as the province officer, as JSON to compare.
func reports(t *testing.T, db *postgres.DB, a schema.Actor) string {
	t.Helper()
	c, err := db.Coverage(context.Background(), a, november)
	if err != nil {
		t.Fatal(err)
	}
	o, err := db.TeamOutput(context.Background(), a, november)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{c, o})
	return string(b)
}

// peopleReached is the province's distinct people in November.
func peopleReached(t *testing.T, db *postgres.DB, a schema.Actor) int64 {
	t.Helper()
	c, err := db.Coverage(context.Background(), a, november)
	if err != nil {
		t.Fatal(err)
	}
	return c.Levels[0].Rows[0].People
}

// TestReportsOnReplica: with a report database, coverage and team reports are read on the
// hot standby: they equal the primary's once it has caught up, and while its replay is
// paused they show what it had then, although the primary has more.
func TestReportsOnReplica(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	repURL := pgtest.ReplicaURL(t, dbURL)
	db, err := postgres.Open(ctx, dbURL, postgres.Options{ReportURL: repURL, CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	primary, err := postgres.Open(ctx, dbURL, postgres.Options{CompactEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close()
	db.Now, primary.Now = func() time.Time { return now }, func() time.Time { return now }
	f := pgtest.MustFixture(t, db)
	e := engine.New(db, func() time.Time { return now })
	person := 0
	pushPeople := func(n int) {
		var ops []schema.Op
		for i := 0; i < n; i++ {
			person++
			ops = append(ops, create(f.SaDecHamlets[person%3], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", person), "consent", true))
		}
		for _, r := range push(t, e, f.HongA, ops...) {
			if r.Status != schema.ResultApplied {
				t.Fatalf("%+v", r)
			}
		}
	}
	pushPeople(3)
	if err := db.EnsureReports(ctx); err != nil { // the aggregates' state, written on the primary
		t.Fatal(err)
	}
	pgtest.CatchUp(t, dbURL)
	if got, want := reports(t, db, f.Officer), reports(t, primary, f.Officer); got != want {
		t.Fatalf("reports on the replica differ from the primary's:\n%s\n%s", got, want)
	}
	if n := peopleReached(t, db, f.Officer); n != 3 {
		t.Fatalf("people reached on the replica: %d, want 3", n)
	}

	// Replay paused: the replica keeps the state it has.
	standby, err := pgx.Connect(ctx, repURL)
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close(ctx)
	if _, err := standby.Exec(ctx, `SELECT pg_wal_replay_pause()`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Exec(context.Background(), `SELECT pg_wal_replay_resume()`) })
	pushPeople(2)
	if on, off := peopleReached(t, db, f.Officer), peopleReached(t, primary, f.Officer); on != 3 || off != 5 {
		t.Fatalf("replay paused: %d people on the replica (want 3), %d on the primary (want 5)", on, off)
	}
	if _, err := standby.Exec(ctx, `SELECT pg_wal_replay_resume()`); err != nil {
		t.Fatal(err)
	}
	pgtest.CatchUp(t, dbURL)
	if got, want := reports(t, db, f.Officer), reports(t, primary, f.Officer); got != want {
		t.Fatalf("after the replica caught up:\n%s\n%s", got, want)
	}
	if s := db.ReportStats(); s.OnReplica != 6 || s.OnPrimary != 0 || s.ReplicaFailed != 0 {
		t.Fatalf("report reads: %+v, want all 6 on the replica", s)
	}
}

// TestReportReplicaDownFallsBack: a report database that does not answer warns at start
// and the reports run on the primary.
func TestReportReplicaDownFallsBack(t *testing.T) {
	ctx := context.Background()
	var logs syncLog
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{CompactEvery: -1,
		ReportURL: "postgres://cdtsync@127.0.0.1:1/cdtsync?sslmode=disable&connect_timeout=2",
		Logger:    slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.Now = func() time.Time { return now }
	f := pgtest.MustFixture(t, db)
	push(t, engine.New(db, func() time.Time { return now }), f.HongA,
		create(f.SaDecHamlets[0], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", 1), "consent", true))
	if n := peopleReached(t, db, f.Officer); n != 1 {
		t.Fatalf("people reached: %d, want 1", n)
	}
	if s := db.ReportStats(); s.ReplicaFailed != 1 || s.OnPrimary != 1 {
		t.Fatalf("report reads: %+v", s)
	}
	for _, w := range []string{"report database does not answer", "reading it on the primary"} {
		if !strings.Contains(logs.String(), w) {
			t.Fatalf("no warning %q:\n%s", w, logs.String())
		}
	}
}

// TestReportReplicaOfAnotherDatabase: a report database of another deployment (another
// province's replica, say) is refused at start: its reports would be of other people.
func TestReportReplicaOfAnotherDatabase(t *testing.T) {
	_, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), postgres.Options{CompactEvery: -1,
		ReportURL: pgtest.NewDatabase(t)})
	if err == nil || !strings.Contains(err.Error(), "not a copy") {
		t.Fatalf("another deployment's database as the report database: %v", err)
	}
}

// TestReadOnlySnapshotDoesNotHoldPulls: the pulls' horizon (pull.go) is the oldest running
// transaction that has an id, and a transaction that only reads has none: a long report or
// pg_dump on the primary does not delay pulls, while a transaction that wrote and is still
// open does (docs/SCALING.md).
func TestReadOnlySnapshotDoesNotHoldPulls(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1, PullWait: 2 * time.Second})
	db := dbs[0]
	e := engine.New(db, func() time.Time { return now })
	pushPull := func() (time.Duration, bool) {
		op := create(f.SaDecHamlets[0], "other")
		push(t, e, f.HongA, op)
		start := time.Now()
		found, _, _ := pullHas(t, e, f.HongA, "", op.ID)
		return time.Since(start), found
	}
	for _, c := range []struct {
		name  string
		stmt  string
		holds bool
	}{
		{"read only", `SELECT count(*) FROM logs`, false},
		{"wrote", `UPDATE meta SET value = value WHERE key = 'epoch'`, true},
	} {
		tx, err := db.Pool().BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, c.stmt); err != nil {
			t.Fatal(err)
		}
		took, found := pushPull()
		tx.Rollback(ctx)
		if held := took >= 2*time.Second; held != c.holds || found == c.holds {
			t.Fatalf("%s transaction open: the pull took %v and found the push %v", c.name, took, found)
		}
	}
}
