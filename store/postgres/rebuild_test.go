package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// seedLogs pushes n logs of three volunteers in four hamlets, over a pool of people and
// households that meet one another, and returns their ids with their volunteers.
func seedLogs(t *testing.T, e *engine.Engine, f *sqlitetest.Fixture, n int) ([]string, []schema.Actor) {
	t.Helper()
	actors := []schema.Actor{f.HongA, f.Minh, f.Mai}
	var (
		ids    []string
		owners []schema.Actor
	)
	for i := 0; i < n; i += 50 {
		for a := range actors {
			var ops []schema.Op
			for j := i; j < i+50 && j < n; j++ {
				if j%3 != a {
					continue
				}
				hamlet := f.SaDecHamlets[j/3%3]
				if a == 2 {
					hamlet = f.TanDuongHamlets[0]
				}
				op := create(hamlet, []string{"vneid_level2", "cashless_payment", "vneid_install"}[j/9%3],
					"citizen_ref", fmt.Sprintf("%064x", j%70), "consent", true, "household_ref", fmt.Sprintf("%064x", 500+j%25))
				ops = append(ops, op)
				ids, owners = append(ids, op.ID), append(owners, actors[a])
			}
			for _, r := range push(t, e, actors[a], ops...) {
				if r.Status != schema.ResultApplied {
					t.Fatalf("seed: %+v", r)
				}
			}
		}
	}
	return ids, owners
}

// idNear returns a new log id next to id in id order: its time and counter, other random
// bits.
func idNear(rnd *rand.Rand, id string) string {
	u := uuid.MustParse(id)
	for i := 10; i < 16; i++ {
		u[i] = byte(rnd.IntN(256))
	}
	return u.String()
}

// markStale marks db's report aggregates stale, as a unit that moved does.
func markStale(t *testing.T, db *postgres.DB) {
	t.Helper()
	if _, err := db.Pool().Exec(context.Background(), `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
		t.Fatal(err)
	}
}

// rebuiltEqualsKept checks that the aggregates db keeps equal those rebuilt from its logs.
func rebuiltEqualsKept(t *testing.T, db *postgres.DB, what string) {
	t.Helper()
	ctx := context.Background()
	kept, err := db.DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.RebuildReports(ctx); err != nil {
		t.Fatal(err)
	}
	rebuilt, err := db.DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if kept != rebuilt {
		t.Fatalf("%s: the aggregates differ from those rebuilt from the logs:\nkept    %.3000s\nrebuilt %.3000s", what, kept, rebuilt)
	}
}

// TestRebuildWhilePushing: a build of the report aggregates is a run of short
// transactions, and pushes go on between them — creating, editing, moving, deleting and
// reviewing logs on both sides of the build's cursor, through another server process.
// Pushes complete while the build runs (in one transaction, as before, every one of them
// waited for its end), and the aggregates the build leaves equal a rebuild from the logs
// as they ended.
func TestRebuildWhilePushing(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 2, postgres.Options{CompactEvery: -1})
	building, pushing := dbs[0], dbs[1]
	e := engine.New(pushing, func() time.Time { return now })
	ids, owners := seedLogs(t, e, f, 600)

	// The build's work is the logs there were when it began: it leaves out the logs
	// written since, which their pushes count, whatever their ids.
	var (
		batches   atomic.Int64
		mu        sync.Mutex
		started   bool                // the build's first batch committed: it began before
		sinceThen = map[string]bool{} // logs created by pushes sent after that
		readded   []string
	)
	postgres.SetBuild(building, 20, func(added []string) {
		batches.Add(1)
		mu.Lock()
		started = true
		for _, id := range added {
			if sinceThen[id] {
				readded = append(readded, id)
			}
		}
		mu.Unlock()
		time.Sleep(15 * time.Millisecond) // room for the pushes between batches
	})
	var (
		buildDone  atomic.Bool
		during     atomic.Int64
		buildErr   = make(chan error, 1)
		hlcCounter = now.Add(-50 * time.Second)
	)
	go func() {
		err := building.RebuildReports(ctx)
		buildDone.Store(true)
		buildErr <- err
	}()
	rnd := rand.New(rand.NewPCG(1, 2))
	next := func() string {
		hlcCounter = hlcCounter.Add(time.Millisecond)
		return hlc.FromTime(hlcCounter).String()
	}
	deleted := map[int]bool{}
	for round := 0; !buildDone.Load(); round++ {
		i := rnd.IntN(len(ids))
		for deleted[i] {
			i = rnd.IntN(len(ids))
		}
		a := owners[i]
		var ops []schema.Op
		switch round % 5 {
		case 0: // a new log of a person met before: recorded now, or days ago offline
			hamlet := f.SaDecHamlets[round%3]
			if a == f.Mai {
				hamlet = f.TanDuongHamlets[0]
			}
			op := create(hamlet, "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", rnd.IntN(90)), "consent", true)
			if round%10 == 5 { // an id among the first logs': behind the build's cursor or ahead of it
				op.ID = idNear(rnd, ids[rnd.IntN(600)])
			}
			mu.Lock()
			if started {
				sinceThen[op.ID] = true
			}
			mu.Unlock()
			ids, owners = append(ids, op.ID), append(owners, a)
			ops = append(ops, op)
		case 1: // another person, another household
			ops = append(ops, schema.Op{OpID: newID(), Type: schema.OpUpsert, ID: ids[i], HLC: next(),
				Fields: fields("citizen_ref", fmt.Sprintf("%064x", rnd.IntN(90)), "consent", true, "household_ref", fmt.Sprintf("%064x", 500+rnd.IntN(30)))})
		case 2: // another kind, another day
			ops = append(ops, schema.Op{OpID: newID(), Type: schema.OpUpsert, ID: ids[i], HLC: next(),
				Fields: fields("kind", "digital_signature", "occurred_at", now.Add(-26*time.Hour).In(vn).Format(time.RFC3339))})
		case 3:
			deleted[i] = true
			ops = append(ops, schema.Op{OpID: newID(), Type: schema.OpDelete, ID: ids[i], HLC: next()})
		case 4:
			coord := f.CoordSaDec
			if a == f.Mai {
				coord = f.CoordTanDuong
			}
			status := []string{"approved", "rejected"}[round%2]
			res, err := e.Review(ctx, coord, []engine.Decision{{ID: ids[i], Status: status, Note: "kiểm tra lại"}})
			if err != nil || !res[0].OK {
				t.Fatalf("review: %+v %v", res, err)
			}
		}
		if len(ops) > 0 {
			for _, r := range push(t, e, a, ops...) {
				if r.Status != schema.ResultApplied {
					t.Fatalf("push during the build: %+v", r)
				}
			}
		}
		if !buildDone.Load() {
			during.Add(1)
		}
	}
	if err := <-buildErr; err != nil {
		t.Fatal(err)
	}
	if n := batches.Load(); n < 10 {
		t.Fatalf("the build ran in %d transactions", n)
	}
	if n := during.Load(); n < 5 {
		t.Fatalf("only %d pushes or reviews completed while the build ran", n)
	}
	t.Logf("%d pushes and reviews completed during a build of %d transactions; %d logs created after its first", during.Load(), batches.Load(), len(sinceThen))
	if len(readded) > 0 {
		t.Errorf("the build added %d logs created after it began (pushes count them): %v", len(readded), readded)
	}
	rebuiltEqualsKept(t, pushing, "after a build with pushes")
}

// TestReportDuringRebuild: while the aggregates are being built, a report waits for the
// build up to Options.ReportsWait, then answers unavailable with the build's progress and
// a Retry-After — never a half-built count — and pushes go through; once built, the
// report is what it was. A hamlet moved during the build makes it start over, and the
// aggregates it leaves follow the new tree.
func TestReportDuringRebuild(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1, ReportsWait: 300 * time.Millisecond})
	db := dbs[0]
	e := engine.New(db, func() time.Time { return now })
	seedLogs(t, e, f, 120)
	coverage := func() (string, error) {
		r, err := db.Coverage(ctx, f.Officer, schema.ReportFilter{From: "2026-11-01", To: "2026-11-30"})
		r.GeneratedAt = ""
		b, _ := json.Marshal(r)
		return string(b), err
	}
	before, err := coverage()
	if err != nil {
		t.Fatal(err)
	}

	var (
		reached = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
	)
	postgres.SetBuild(db, 10, func([]string) {
		once.Do(func() { close(reached) })
		<-release // every builder of this process stops after its first batch
	})
	var released sync.Once
	letGo := func() { released.Do(func() { close(release) }) }
	t.Cleanup(letGo) // before the store closes, which waits for its builder
	built := make(chan error, 1)
	go func() { built <- db.RebuildReports(ctx) }()
	<-reached

	_, err = coverage()
	var se *schema.Error
	if !errors.As(err, &se) || se.Code != schema.CodeUnavailable || se.RetryAfter <= 0 {
		t.Fatalf("a report during the build: %v", err)
	}
	// Each builder (RebuildReports here, the one the report started) added a batch.
	if !strings.Contains(se.Message, "đang được tính lại") || !regexp.MustCompile(`\b[12]0 of 120 logs`).MatchString(se.Message) {
		t.Fatalf("no progress in %q", se.Message)
	}
	for _, r := range push(t, e, f.HongA, create(f.SaDecHamlets[0], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", 999), "consent", true)) {
		if r.Status != schema.ResultApplied {
			t.Fatalf("a push during the build: %+v", r)
		}
	}

	// A hamlet of Sa Đéc with logs moves to Tân Dương while the build is paused.
	moved := f.SaDecHamlets[1]
	if _, err := db.Pool().Exec(ctx, `UPDATE units SET parent_id = $1,
		path = (SELECT path FROM units WHERE id = $1) || id::text || '/', seq = nextval('change_seq') WHERE id = $2`, f.TanDuong, moved); err != nil {
		t.Fatal(err)
	}
	letGo()
	if err := <-built; err != nil {
		t.Fatal(err)
	}
	var stale int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM rpt_paths p JOIN units u ON u.id = p.unit_id WHERE u.path <> p.path`).Scan(&stale); err != nil {
		t.Fatal(err)
	}
	if stale != 0 {
		t.Fatalf("%d units in the aggregates under their old paths", stale)
	}
	rebuiltEqualsKept(t, db, "after a build that started over")

	// Moved back, the report is the one from before, plus the push made meanwhile.
	if _, err := db.Pool().Exec(ctx, `UPDATE units SET parent_id = $1,
		path = (SELECT path FROM units WHERE id = $1) || id::text || '/', seq = nextval('change_seq') WHERE id = $2`, f.SaDec, moved); err != nil {
		t.Fatal(err)
	}
	// That is a move too: the aggregates are built again, and reports wait for it.
	var after string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		after, err = coverage()
		var se *schema.Error
		if !errors.As(err, &se) || se.Code != schema.CodeUnavailable || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	if after == before {
		t.Fatal("the push made during the build is not in the report")
	}
	var r0, r1 schema.CoverageReport
	json.Unmarshal([]byte(before), &r0)
	json.Unmarshal([]byte(after), &r1)
	if r1.Levels[0].Rows[0].People != r0.Levels[0].Rows[0].People+1 {
		t.Fatalf("people reached: %d before, %d after one more person", r0.Levels[0].Rows[0].People, r1.Levels[0].Rows[0].People)
	}
}

// TestStaleAggregatesBuiltWithoutAReport: a server notices aggregates made stale behind
// its back (an import in another process moved a unit) and builds them, without waiting
// for someone to ask for a report.
func TestStaleAggregatesBuiltWithoutAReport(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: 50 * time.Millisecond})
	db := dbs[0]
	seedLogs(t, engine.New(db, func() time.Time { return now }), f, 60)
	if _, err := db.Pool().Exec(ctx, `UPDATE units SET parent_id = $1,
		path = (SELECT path FROM units WHERE id = $1) || id::text || '/', seq = nextval('change_seq') WHERE id = $2`, f.TanDuong, f.SaDecHamlets[1]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var stale, contribs int
		if err := db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM rpt_paths p JOIN units u ON u.id = p.unit_id WHERE u.path <> p.path),
			(SELECT count(*) FROM rpt_contrib)`).Scan(&stale, &contribs); err != nil {
			t.Fatal(err)
		}
		var state *string
		if err := db.Pool().QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'rpt_state')`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if stale == 0 && state == nil && contribs == 60 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %d units under old paths, state %q, %d contributions", stale, deref(state), contribs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	rebuiltEqualsKept(t, db, "built by the server by itself")
}

// TestBuildYields: a background build leaves pushes the reports lock between its batches
// — no builder, of this process or another, starts a batch before the last one's yield
// (meta rpt_build_next) has passed. Here the first batch's yield is stretched to 400 ms.
func TestBuildYields(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 2, postgres.Options{CompactEvery: -1, ReportsWait: time.Millisecond})
	seedLogs(t, engine.New(dbs[0], func() time.Time { return now }), f, 150)
	var (
		mu    sync.Mutex
		calls []time.Time
	)
	for _, db := range dbs {
		postgres.SetBuild(db, 30, func([]string) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, time.Now())
			if len(calls) == 1 {
				if _, err := db.Pool().Exec(ctx, `UPDATE meta SET value = ((extract(epoch FROM clock_timestamp()) * 1000)::bigint + 400)::text
					WHERE key = 'rpt_build_next'`); err != nil {
					t.Error(err)
				}
			}
		})
	}
	markStale(t, dbs[0])
	for _, db := range dbs { // each starts its builder, and answers unavailable at once
		if err := db.EnsureReports(ctx); err == nil {
			t.Fatal("stale aggregates reported ready")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for dbs[0].EnsureReports(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the build did not end within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	batches := slices.Clone(calls)
	mu.Unlock()
	if len(batches) < 5 {
		t.Fatalf("the build ran %d batches", len(batches))
	}
	if gap := batches[1].Sub(batches[0]); gap < 350*time.Millisecond {
		t.Fatalf("the second batch came %v after the first, whose yield was 400 ms", gap)
	}
	rebuiltEqualsKept(t, dbs[1], "a yielding build by two processes")
}

// TestBuildResumesAfterItsProcessStops: a build is carried by the database, not by the
// process that began it. The process stops after a few batches (each batch is a
// transaction: a crash loses at most the one running); another process goes on from the
// cursor, not from the start, and the result equals a rebuild.
func TestBuildResumesAfterItsProcessStops(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 2, postgres.Options{CompactEvery: -1, ReportsWait: time.Millisecond})
	first, second := dbs[0], dbs[1]
	seedLogs(t, engine.New(first, func() time.Time { return now }), f, 150)
	progress := func() postgres.BuildProgress {
		t.Helper()
		p, err := second.ReportsProgress(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	var batches atomic.Int64
	three := make(chan struct{})
	postgres.SetBuild(first, 10, func([]string) {
		if batches.Add(1) == 3 {
			close(three)
		}
	})
	var resumedAt atomic.Int64 // rpt_build_done before the second process's first batch
	resumedAt.Store(-1)
	postgres.SetBuild(second, 10, func(added []string) {
		if resumedAt.Load() == -1 {
			resumedAt.Store(progress().Done - int64(len(added)))
		}
	})
	markStale(t, first)
	if err := first.EnsureReports(ctx); err == nil {
		t.Fatal("stale aggregates reported ready")
	}
	select {
	case <-three:
	case <-time.After(30 * time.Second):
		t.Fatal("the first process's build did not run three batches in 30 s")
	}
	first.Close()
	p := progress()
	stoppedAt := p.Done
	if p.Ready || stoppedAt < 30 || stoppedAt >= p.Total {
		t.Fatalf("after the first process stopped: %+v", p)
	}
	deadline := time.Now().Add(30 * time.Second)
	for second.EnsureReports(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the second process did not finish the build within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := resumedAt.Load(); got != stoppedAt {
		t.Fatalf("the second process began at %d logs added; the first had stopped at %d", got, stoppedAt)
	}
	rebuiltEqualsKept(t, second, "a build finished by another process")
}

// TestReportSnapshotSeesABuild: a report whose check found the aggregates ready, read
// after another process began a build (it emptied them), answers unavailable with the
// build's progress instead of counting nothing.
func TestReportSnapshotSeesABuild(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1})
	db := dbs[0]
	seedLogs(t, engine.New(db, func() time.Time { return now }), f, 60)
	filter := schema.ReportFilter{From: "2026-11-01", To: "2026-11-30"}
	before, err := db.Coverage(ctx, f.Officer, filter)
	if err != nil || len(before.Levels) == 0 || before.Levels[0].Rows[0].People == 0 {
		t.Fatalf("coverage before: %+v %v", before, err)
	}
	postgres.SetBeforeReportRead(db, func() { // as another process's first transaction of a build
		if _, err := db.Pool().Exec(ctx, `TRUNCATE rpt_contrib, rpt_vdays, rpt_tdays, rpt_cells, rpt_cell_deltas;
			INSERT INTO meta (key, value) VALUES ('rpt_state', 'building'), ('rpt_build_done', '0'), ('rpt_build_total', '60')
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
			t.Error(err)
		}
	})
	r, err := db.Coverage(ctx, f.Officer, filter)
	var se *schema.Error
	if !errors.As(err, &se) || se.Code != schema.CodeUnavailable || !strings.Contains(se.Message, "0 of 60 logs") {
		t.Fatalf("a report read after a build began: %v, %+v", err, r.Levels)
	}
	postgres.SetBeforeReportRead(db, nil)
	if err := db.RebuildReports(ctx); err != nil {
		t.Fatal(err)
	}
	after, err := db.Coverage(ctx, f.Officer, filter)
	if err != nil {
		t.Fatal(err)
	}
	before.GeneratedAt, after.GeneratedAt = "", ""
	b, _ := json.Marshal(before)
	a, _ := json.Marshal(after)
	if string(a) != string(b) {
		t.Fatalf("coverage after the build differs:\nbefore %s\nafter  %s", b, a)
	}
}
