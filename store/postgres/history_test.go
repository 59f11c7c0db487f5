package postgres_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// syncLog is a logger's output that goroutines may write while a test reads it.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// openAt opens the store at url, as a server process starting, with its warnings in a log.
func openAt(t *testing.T, url string) (*postgres.DB, *engine.Engine, *syncLog) {
	t.Helper()
	var logs syncLog
	db, err := postgres.Open(context.Background(), url, postgres.Options{CompactEvery: -1, PullWait: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.Now = func() time.Time { return now }
	return db, engine.New(db, func() time.Time { return now }), &logs
}

// pullHas pulls from cursor to the end and reports whether the log came, and whether the
// pull started over.
func pullHas(t *testing.T, e *engine.Engine, a schema.Actor, cursor, logID string) (found, reset bool, next string) {
	t.Helper()
	for first := true; ; first = false {
		r, err := e.Pull(context.Background(), a, cursor, 1000)
		if err != nil {
			t.Fatal(err)
		}
		reset = reset || (first && r.Reset)
		for _, c := range r.Changes {
			found = found || (c.Log != nil && c.Log.ID == logID)
		}
		cursor = r.Cursor
		if !r.HasMore {
			return found, reset, cursor
		}
	}
}

// positionsPast counts the rows whose position no transaction of this cluster made.
func positionsPast(t *testing.T, db *postgres.DB) int64 {
	t.Helper()
	var n int64
	err := db.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM logs WHERE tx >= x) + (SELECT count(*) FROM units WHERE tx >= x) +
		(SELECT count(*) FROM teams WHERE tx >= x) + (SELECT count(*) FROM activity_kinds WHERE tx >= x) +
		(SELECT count(*) FROM targets WHERE tx >= x)
		FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x) s`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func epochOf(t *testing.T, db *postgres.DB) string {
	t.Helper()
	e, err := db.Epoch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestCopyFromAnotherClusterStartsOver: a province database copied logically (pg_dump |
// pg_restore) into another cluster keeps the transaction ids of the old one in its
// positions. The copy is made here by moving every position 10¹² ids ahead and giving the
// database another cluster's identity. As it is, the copied logs lie above the horizon and
// no pull returns them; the next server to start re-bases them, gives the database a new
// epoch, and phones start over and find everything, then carry on incrementally.
func TestCopyFromAnotherClusterStartsOver(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, e, _ := openAt(t, url)
	f := pgtest.MustFixture(t, db)
	op := create(f.SaDecHamlets[0], "other")
	if r := push(t, e, f.HongA, op); r[0].Status != schema.ResultApplied {
		t.Fatalf("%+v", r)
	}
	found, _, cursor := pullHas(t, e, f.HongA, "", op.ID)
	if !found {
		t.Fatal("the log is not pulled before the copy")
	}
	oldEpoch := epochOf(t, db)

	for _, tbl := range []string{"logs", "units", "teams", "activity_kinds", "targets"} {
		if _, err := db.Pool().Exec(ctx, `UPDATE `+tbl+` SET tx = tx + 1000000000000`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Pool().Exec(ctx, `UPDATE meta SET value = '1' WHERE key = 'cluster_system'`); err != nil {
		t.Fatal(err)
	}
	if found, _, _ := pullHas(t, e, f.HongA, "", op.ID); found {
		t.Fatal("the simulated copy is not one: a fresh pull still finds the copied log")
	}
	db.Close()

	db2, e2, logs := openAt(t, url)
	if !strings.Contains(logs.String(), "copied from another PostgreSQL cluster") {
		t.Fatalf("no warning on start:\n%s", logs)
	}
	if n := positionsPast(t, db2); n != 0 {
		t.Fatalf("%d rows still have positions past this cluster's", n)
	}
	if epochOf(t, db2) == oldEpoch {
		t.Fatal("the copy kept its epoch: phones would not start over")
	}
	found, reset, cursor := pullHas(t, e2, f.HongA, cursor, op.ID)
	if !found || !reset {
		t.Fatalf("the phone's pull after the copy: found %v, reset %v", found, reset)
	}
	// What is written now comes after the copied rows.
	op2 := create(f.SaDecHamlets[0], "other")
	if r := push(t, e2, f.HongA, op2); r[0].Status != schema.ResultApplied {
		t.Fatalf("%+v", r)
	}
	if found, reset, _ := pullHas(t, e2, f.HongA, cursor, op2.ID); !found || reset {
		t.Fatalf("a write after the re-base: found %v, reset %v", found, reset)
	}

	// The next start finds nothing to do.
	epoch := epochOf(t, db2)
	db3, _, logs3 := openAt(t, url)
	if epochOf(t, db3) != epoch || strings.Contains(logs3.String(), "cluster") {
		t.Fatalf("a second start changed the epoch or warned:\n%s", logs3)
	}
}

// TestTimelineChangeWarns: a new timeline is a failover or a restore to an earlier point;
// the server cannot tell which, so it says what to do after a restore and changes nothing.
func TestTimelineChangeWarns(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, _, _ := openAt(t, url)
	epoch := epochOf(t, db)
	if _, err := db.Pool().Exec(ctx, `UPDATE meta SET value = '999' WHERE key = 'cluster_timeline'`); err != nil {
		t.Fatal(err)
	}
	db2, _, logs := openAt(t, url)
	if !strings.Contains(logs.String(), "timeline changed") || !strings.Contains(logs.String(), "cdtsync restore --database") {
		t.Fatalf("no warning for a new timeline:\n%s", logs)
	}
	if epochOf(t, db2) != epoch {
		t.Fatal("a new timeline changed the epoch: a failover would send every phone back to a full pull")
	}
	_, _, logs3 := openAt(t, url)
	if strings.Contains(logs3.String(), "timeline") {
		t.Fatalf("the new timeline was not recorded; warned again:\n%s", logs3)
	}
}

// TestNewHistory: after a restore to an earlier point the operator starts a new history;
// a phone's cursor then starts over and finds everything the database has.
func TestNewHistory(t *testing.T) {
	db, e, _ := openAt(t, pgtest.NewDatabase(t))
	f := pgtest.MustFixture(t, db)
	op := create(f.SaDecHamlets[0], "other")
	push(t, e, f.HongA, op)
	_, _, cursor := pullHas(t, e, f.HongA, "", op.ID)
	r, err := db.NewHistory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rebased != 0 || r.Epoch == r.PreviousEpoch || r.Epoch != epochOf(t, db) {
		t.Fatalf("%+v (epoch now %s)", r, epochOf(t, db))
	}
	if found, reset, _ := pullHas(t, e, f.HongA, cursor, op.ID); !found || !reset {
		t.Fatalf("after a new history: found %v, reset %v", found, reset)
	}
}

// TestHistoryCheckWhileServing: a server starting while others push must not take their
// fresh writes for a copy's (they get ids past any one snapshot's): the check compares one
// snapshot with itself. Each start here is forced to check, as on a database it has not
// seen.
func TestHistoryCheckWhileServing(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, e, _ := openAt(t, url)
	f := pgtest.MustFixture(t, db)
	epoch := epochOf(t, db)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, a := range []schema.Actor{f.HongA, f.HongB, f.Minh} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := e.Push(ctx, a, schema.PushRequest{DeviceTime: now.Format(time.RFC3339),
					Ops: []schema.Op{create(f.SaDecHamlets[0], "other"), create(f.SaDecHamlets[1], "other")}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 15; i++ {
		if _, err := db.Pool().Exec(ctx, `DELETE FROM meta WHERE key = 'cluster_system'`); err != nil {
			t.Fatal(err)
		}
		db2, _, logs := openAt(t, url)
		db2.Close()
		if strings.Contains(logs.String(), "copied") {
			t.Fatalf("start %d took concurrent pushes for a copy:\n%s", i, logs)
		}
	}
	close(stop)
	wg.Wait()
	if epochOf(t, db) != epoch {
		t.Fatal("the epoch changed while servers pushed")
	}
}
