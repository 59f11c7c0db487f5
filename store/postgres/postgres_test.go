package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// now is the fixed server time of the tests: 23/11/2026 10:00 in Vietnam.
var now = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

var vn = time.FixedZone("ICT", 7*3600)

func fields(kv ...any) map[string]json.RawMessage {
	m := map[string]json.RawMessage{}
	for i := 0; i < len(kv); i += 2 {
		b, _ := json.Marshal(kv[i+1])
		m[kv[i].(string)] = b
	}
	return m
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// create is a full creation op of a new log in hamlet.
func create(hamlet int64, kind string, extra ...any) schema.Op {
	kv := append([]any{"hamlet_id", hamlet, "kind", kind, "occurred_at", now.Add(-time.Hour).In(vn).Format(time.RFC3339)}, extra...)
	return schema.Op{OpID: newID(), Type: schema.OpUpsert, ID: newID(), HLC: hlc.FromTime(now.Add(-time.Minute)).String(), Fields: fields(kv...)}
}

func push(t testing.TB, e *engine.Engine, a schema.Actor, ops ...schema.Op) []schema.OpResult {
	t.Helper()
	resp, err := e.Push(context.Background(), a, schema.PushRequest{DeviceTime: now.Format(time.RFC3339), Ops: ops})
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	return resp.Results
}

// open opens n stores on one new database, as n server processes would, and the fixture.
func open(t *testing.T, n int, opts postgres.Options) ([]*postgres.DB, *sqlitetest.Fixture) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	var dbs []*postgres.DB
	for i := 0; i < n; i++ {
		db, err := postgres.Open(context.Background(), url, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		db.Now = func() time.Time { return now }
		dbs = append(dbs, db)
	}
	return dbs, pgtest.MustFixture(t, dbs[0])
}

// TestPullNeverSkipsLateCommit: a transaction that writes a volunteer's log and commits
// after a later one has committed and been pulled is not skipped. Positions are not in
// commit order; a pull returns only what lies below every transaction still running, so
// its cursor stays below the late transaction's writes, which the next pull returns.
func TestPullNeverSkipsLateCommit(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{PullWait: 200 * time.Millisecond})
	db := dbs[0]
	e := engine.New(db, func() time.Time { return now })
	early := create(f.SaDecHamlets[0], "vneid_install")
	push(t, e, f.HongA, early)
	cursor := ""
	pullAll := func() map[string]string {
		got := map[string]string{}
		for {
			p, err := e.Pull(ctx, f.HongB, cursor, 1000)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range p.Changes {
				if c.Type == schema.ChangeLog {
					got[c.Log.ID] = deref(c.Log.Content.Note)
				}
			}
			cursor = p.Cursor
			if !p.HasMore {
				return got
			}
		}
	}
	pullAll()

	// A slow transaction takes its id first and writes Hồng's log last, as a push that
	// waited on a lock would.
	slow, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx)
	if _, err := slow.Exec(ctx, `SELECT cdt_xid()`); err != nil {
		t.Fatal(err)
	}
	// Meanwhile a later transaction commits a new log.
	later := create(f.SaDecHamlets[1], "cashless_payment", "note", "sau / later")
	push(t, e, f.HongA, later)
	if _, err := slow.Exec(ctx, `UPDATE logs SET note = 'muộn / late', tx = cdt_xid(), seq = nextval('change_seq') WHERE id = $1`, early.ID); err != nil {
		t.Fatal(err)
	}
	// The later commit is not pulled past the slow transaction: it would move the cursor
	// beyond the slow one's writes.
	if got := pullAll(); len(got) != 0 {
		t.Fatalf("pulled %v while an older transaction was still running", got)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Pulled again until both come (a busy cluster's other transactions, in any of its
	// databases, may hold the frontier back past PullWait): a skipped change never would.
	got := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); {
		maps.Copy(got, pullAll())
	}
	if got[early.ID] != "muộn / late" || got[later.ID] != "sau / later" {
		t.Fatalf("after the late commit the cursor pulls %v: a change was skipped", got)
	}
}

// TestSameBatchThroughManyServers: one batch sent at once through eight connection pools
// (eight server processes) is applied once: one answer says applied for each op, the
// others already_applied.
func TestSameBatchThroughManyServers(t *testing.T) {
	dbs, f := open(t, 8, postgres.Options{})
	var ops []schema.Op
	for i := 0; i < 50; i++ {
		ops = append(ops, create(f.SaDecHamlets[i%3], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", i%7), "consent", true))
	}
	var wg sync.WaitGroup
	results := make([][]schema.OpResult, len(dbs))
	for i, db := range dbs {
		wg.Add(1)
		go func(i int, db *postgres.DB) {
			defer wg.Done()
			results[i] = push(t, engine.New(db, func() time.Time { return now }), f.HongA, ops...)
		}(i, db)
	}
	wg.Wait()
	for k := range ops {
		applied := 0
		for i := range results {
			switch results[i][k].Status {
			case schema.ResultApplied:
				applied++
			case schema.ResultAlreadyApplied:
			default:
				t.Fatalf("op %d through server %d: %+v", k, i, results[i][k])
			}
		}
		if applied != 1 {
			t.Fatalf("op %d applied %d times", k, applied)
		}
	}
	var logs, dups int
	if err := dbs[0].Pool().QueryRow(context.Background(), `SELECT count(*), count(*) FILTER (WHERE status = 'duplicate') FROM logs`).Scan(&logs, &dups); err != nil {
		t.Fatal(err)
	}
	if logs != 50 || dups != 50-7 {
		t.Fatalf("%d logs, %d duplicates; want 50 and 43", logs, dups)
	}
}

// TestRefusesNewerDatabase: a database migrated by a newer cdtsync is refused, untouched.
func TestRefusesNewerDatabase(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	next := postgres.LatestVersion() + 1
	if _, err := db.Pool().Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, 'future', now())`, next); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = postgres.Open(ctx, url, postgres.Options{})
	var newer *sqlite.ErrNewerDatabase
	if !errors.As(err, &newer) || newer.Have != next || !strings.Contains(err.Error(), "install a newer cdtsync") {
		t.Fatalf("open a newer database: %v", err)
	}
}

// TestServersMigrateTogether: servers started at once on a new database migrate it one
// after the other (an advisory lock); all start.
func TestServersMigrateTogether(t *testing.T) {
	pgtest.URL(t)
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// An empty database, as a new deployment has.
	if _, err := db.Pool().Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db, err := postgres.Open(ctx, url, postgres.Options{})
			if err == nil {
				db.Close()
			}
			errs[i] = err
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestCompactionKeepsReports: reports read cells and pending deltas alike; folding the
// deltas changes no figure, and the aggregates equal ones rebuilt from the logs.
func TestCompactionKeepsReports(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1})
	db := dbs[0]
	e := engine.New(db, func() time.Time { return now })
	for i := 0; i < 30; i++ {
		push(t, e, []schema.Actor{f.HongA, f.Minh, f.Mai}[i%3], create([]int64{f.SaDecHamlets[i%3], f.SaDecHamlets[1], f.TanDuongHamlets[0]}[i%3],
			[]string{"vneid_level2", "cashless_payment"}[i%2], "citizen_ref", fmt.Sprintf("%064x", i%5), "consent", true,
			"household_ref", fmt.Sprintf("%064x", 100+i%4)))
	}
	report := func() string {
		r, err := db.Coverage(ctx, f.Officer, schema.ReportFilter{From: "2026-11-01", To: "2026-11-30"})
		if err != nil {
			t.Fatal(err)
		}
		r.GeneratedAt = ""
		b, _ := json.Marshal(r)
		return string(b)
	}
	before := report()
	var deltas int
	db.Pool().QueryRow(ctx, `SELECT count(*) FROM rpt_cell_deltas`).Scan(&deltas)
	if deltas == 0 {
		t.Fatal("no cell deltas pending")
	}
	if n, err := db.Compact(ctx); err != nil || n != deltas {
		t.Fatalf("compacted %d of %d deltas: %v", n, deltas, err)
	}
	if after := report(); after != before {
		t.Fatalf("compaction changed the report:\nbefore %s\nafter  %s", before, after)
	}
	rebuiltEqualsKept(t, db, "kept up to date")
	if r := report(); r != before {
		t.Fatalf("rebuilt report differs:\nbefore %s\nafter  %s", before, r)
	}
}

// TestRefreshRotationAcrossServers: the same refresh token presented to two servers at
// once (a phone's retry on another server) rotates once; the other presentation is the
// retry the grace allows, never a second live token.
func TestRefreshRotationAcrossServers(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 2, postgres.Options{})
	old := strings.Repeat("a", 64)
	if err := dbs[0].Write(ctx, 0, func(tx *postgres.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, user_id, device_row, created_at, expires_at)
			VALUES ($1, 'fam', $2, $3, $4, $5)`, old, f.HongA.UserID, f.HongA.DeviceRowID, now, now.Add(time.Hour))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, db := range dbs {
		wg.Add(1)
		go func(i int, db *postgres.DB) {
			defer wg.Done()
			_, errs[i] = db.RotateRefresh(ctx, schema.RefreshRotation{OldHash: old, NewHash: strings.Repeat(fmt.Sprint(i+1), 64),
				DeviceTTL: time.Hour, StaffTTL: time.Hour, ReuseGrace: time.Minute})
		}(i, db)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("rotation: %v", err)
		}
	}
	var live int
	dbs[0].Pool().QueryRow(ctx, `SELECT count(*) FROM refresh_tokens WHERE family_id = 'fam' AND used_at IS NULL AND revoked_at IS NULL`).Scan(&live)
	if live != 1 {
		t.Fatalf("%d live tokens in the family after two concurrent rotations, want 1", live)
	}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestConcurrentTeamPushesKeepReportsExact: the phones of one team push at once through
// several servers, on the same few days, creating logs and deleting some of them (team
// days go from no log to some and back). The aggregates kept up to date by the pushes
// equal those rebuilt from the logs afterwards: counting a team's days last, under their
// own locks, loses no update.
func TestConcurrentTeamPushesKeepReportsExact(t *testing.T) {
	dbs, f := open(t, 3, postgres.Options{CompactEvery: -1})
	days := []string{"2026-11-20T09:00:00+07:00", "2026-11-21T23:50:00+07:00", "2026-11-22T00:10:00+07:00"}
	var wg sync.WaitGroup
	for i, a := range []schema.Actor{f.HongA, f.HongB, f.Minh} {
		for j, db := range dbs {
			wg.Add(1)
			go func(n int, a schema.Actor, db *postgres.DB) {
				defer wg.Done()
				e := engine.New(db, func() time.Time { return now })
				for b := 0; b < 12; b++ {
					var ops, dels []schema.Op
					for k := 0; k < 4; k++ {
						op := create(f.SaDecHamlets[(n+k)%3], "vneid_install", "occurred_at", days[(n+b+k)%3],
							"citizen_ref", fmt.Sprintf("%064x", (n*7+b+k)%11), "consent", true)
						ops = append(ops, op)
						if (b+k)%3 == 0 {
							dels = append(dels, schema.Op{OpID: newID(), Type: schema.OpDelete, ID: op.ID,
								HLC: hlc.FromTime(now.Add(-30 * time.Second)).String()})
						}
					}
					for _, r := range push(t, e, a, ops...) {
						if r.Status != schema.ResultApplied {
							t.Errorf("create: %+v", r)
						}
					}
					push(t, e, a, dels...)
				}
			}(i*len(dbs)+j, a, db)
		}
	}
	wg.Wait()
	rebuiltEqualsKept(t, dbs[0], "kept by concurrent pushes")
}

// TestPushQueriesUseIndexes: the push path's reads by citizen or household ref, planned
// for a push's 500 refs on tables of 200,000 rows where a resident has two logs and a
// household six (as cdtload's residents do), are index scans — never a scan of every log
// or contribution per push. The people's read used to join logs to rpt_contrib, planned
// as a scan of every contribution (29 ms a push at 140,000 logs); this test fails on it.
// So is a build's read of its next batch of logs: the primary key's order, not a sort of
// every log after the cursor (it once ordered by the id's text: 3.4 s a batch at 929,000
// logs, docs/BENCHMARKS.md → Rebuilding the aggregates while phones push).
func TestPushQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1})
	pool := dbs[0].Pool()
	const rows = 200_000
	if _, err := pool.Exec(ctx, `INSERT INTO logs (id, volunteer_id, team_id, hamlet_id, kind, occurred_at, citizen_ref,
		household_ref, consent, outcome, complete, received_at, tx, seq)
		SELECT md5(i::text)::uuid, $1, $2, $3, 'vneid_level2', '2026-11-20T09:00:00+07:00', sha256((i / 2)::text::bytea),
		sha256((i / 6)::text::bytea), true, 'completed', true, now(), 1, i FROM generate_series(1, $4) i`,
		f.HongA.UserID, f.SaDecTeam, f.SaDecHamlets[0], rows); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO rpt_contrib (id, hamlet_id, team_id, volunteer_id, day, ms, kind, counted,
		approved, attendees, person, household)
		SELECT id, hamlet_id, team_id, volunteer_id, 20261120, 0, kind, true, false, 1, citizen_ref, household_ref FROM logs`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `ANALYZE logs; ANALYZE rpt_contrib`); err != nil {
		t.Fatal(err)
	}
	// A push's refs: 500, half of people already met.
	var refs [][]byte
	if err := pool.QueryRow(ctx, `SELECT array_agg(sha256((CASE WHEN i % 2 = 0 THEN i * 97 ELSE $1 + i END)::text::bytea))
		FROM generate_series(1, 500) i`, rows).Scan(&refs); err != nil {
		t.Fatal(err)
	}
	// PostgreSQL plans a prepared statement for its parameters (custom: the first five
	// runs on each connection, and EXPLAIN with them), then once for any (generic).
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	explain := func(q string, args ...any) string {
		var plan []string
		r, err := conn.Query(ctx, q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer r.Close()
		for r.Next() {
			var line string
			if err := r.Scan(&line); err != nil {
				t.Fatal(err)
			}
			if len(line) > 100 {
				line = line[:100] + "…" // the refs
			}
			plan = append(plan, line)
		}
		if err := r.Err(); err != nil {
			t.Fatal(err)
		}
		return strings.Join(plan, "\n")
	}
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET plan_cache_mode; DEALLOCATE ALL`)
	for name, q := range postgres.PushRefQueries {
		if _, err := conn.Exec(ctx, `PREPARE generic_plan(bytea[]) AS `+q); err != nil {
			t.Fatal(err)
		}
		plans := map[string]string{
			"custom":  explain(`EXPLAIN `+q, refs),
			"generic": explain(`EXPLAIN EXECUTE generic_plan(NULL)`),
		}
		if _, err := conn.Exec(ctx, `DEALLOCATE generic_plan`); err != nil {
			t.Fatal(err)
		}
		for kind, plan := range plans {
			if strings.Contains(plan, "Seq Scan") || !strings.Contains(plan, "Index") {
				t.Errorf("%s, %s plan, is not an index scan:\n%s", name, kind, plan)
			}
		}
	}
	if _, err := conn.Exec(ctx, `PREPARE generic_plan(uuid, int, bigint) AS `+postgres.BuildLogsQuery); err != nil {
		t.Fatal(err)
	}
	for kind, plan := range map[string]string{
		"custom":  explain(`EXPLAIN `+postgres.BuildLogsQuery, "00000000-0000-0000-0000-000000000000", 500, int64(1)<<62),
		"generic": explain(`EXPLAIN EXECUTE generic_plan(NULL, NULL, NULL)`),
	} {
		if strings.Contains(plan, "Sort") || !strings.Contains(plan, "Index Scan using logs_pkey") {
			t.Errorf("a build's next batch, %s plan, is not read in the primary key's order:\n%s", kind, plan)
		}
	}
}

// TestLockTableCheck: opening a store warns, with the value to set, exactly when the
// cluster's lock table cannot hold the locks of two processes like it running the largest
// pushes on every connection of their pools (docs/SCALING.md → PostgreSQL's lock table).
func TestLockTableCheck(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	var logs bytes.Buffer
	db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 8, CompactEvery: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var perTx, conns, prepared int64
	if err := db.Pool().QueryRow(ctx, `SELECT current_setting('max_locks_per_transaction')::bigint,
		current_setting('max_connections')::bigint, current_setting('max_prepared_transactions')::bigint`).Scan(&perTx, &conns, &prepared); err != nil {
		t.Fatal(err)
	}
	need := int64(2 * 8 * (5*schema.MaxOpsPerPush + 64))
	small := perTx*(conns+prepared) < need
	warned := strings.Contains(logs.String(), "max_locks_per_transaction higher")
	if warned != small {
		t.Fatalf("lock table %d × (%d + %d), two processes' pushes need %d: warned %v\n%s", perTx, conns, prepared, need, warned, logs.String())
	}
	if small {
		want := fmt.Sprintf("recommended_max_locks_per_transaction=%d", (need+conns+prepared-1)/(conns+prepared))
		if !strings.Contains(logs.String(), want) {
			t.Fatalf("the warning does not say %s:\n%s", want, logs.String())
		}
	}
	t.Logf("lock table %d × (%d + %d); warned %v", perTx, conns, prepared, warned)
}

// TestRebuildTakesNoMemberLocks: a rebuild holds the reports lock exclusively, so it takes
// no lock per person, household, volunteer or team day. Held to the commit of a rebuild of
// every log, those filled PostgreSQL's lock table at 900,000 logs, and migrate-store (and a
// server starting after units moved) failed and retried for ever.
func TestRebuildTakesNoMemberLocks(t *testing.T) {
	ctx := context.Background()
	dbs, f := open(t, 1, postgres.Options{CompactEvery: -1})
	e := engine.New(dbs[0], func() time.Time { return now })
	var ops []schema.Op
	for i := 0; i < 300; i++ {
		ops = append(ops, create(f.SaDecHamlets[i%3], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", i+1), "consent", true,
			"household_ref", fmt.Sprintf("%064x", 1000+i)))
	}
	for _, r := range push(t, e, f.HongA, ops...) {
		if r.Status != schema.ResultApplied {
			t.Fatalf("%+v", r)
		}
	}
	kept, err := dbs[0].DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := postgres.RebuildLocks(ctx, dbs[0])
	if err != nil {
		t.Fatal(err)
	}
	if n > 2 {
		t.Fatalf("the rebuild of 300 people's logs held %d advisory locks", n)
	}
	rebuilt, err := dbs[0].DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt != kept {
		t.Fatal("the rebuilt aggregates differ from those kept up to date by the pushes")
	}
}

// TestCopyFromSQLiteReports: a SQLite deployment's report aggregates come along when they
// are ready, and equal a rebuild; stale ones are not copied but marked stale, for the
// rebuild that follows.
func TestCopyFromSQLiteReports(t *testing.T) {
	ctx := context.Background()
	for _, stale := range []bool{false, true} {
		sq := sqlitetest.MustOpen(t)
		f := sqlitetest.MustFixture(t, sq)
		sq.Now = func() time.Time { return now }
		push(t, engine.New(sq, func() time.Time { return now }), f.HongA,
			create(f.SaDecHamlets[0], "vneid_level2", "citizen_ref", fmt.Sprintf("%064x", 7), "consent", true))
		if stale {
			if _, err := sq.WriteDB().ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
				t.Fatal(err)
			}
		}
		pg := pgtest.MustOpen(t, postgres.Options{CompactEvery: -1})
		rep, err := pg.CopyFromSQLite(ctx, sq.WriteDB(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rep.ReportsCopied == stale {
			t.Fatalf("source stale %v: reports copied %v", stale, rep.ReportsCopied)
		}
		var state *string
		if err := pg.Pool().QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'rpt_state')`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if (state != nil && *state == "stale") != stale {
			t.Fatalf("source stale %v: rpt_state %v after the copy", stale, deref(state))
		}
		if stale {
			continue
		}
		copied, err := pg.DumpReports(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := pg.RebuildReports(ctx); err != nil {
			t.Fatal(err)
		}
		if rebuilt, err := pg.DumpReports(ctx); err != nil || rebuilt != copied || !strings.Contains(copied, "Kind:vneid_level2") {
			t.Fatalf("copied aggregates differ from a rebuild (%v):\n%s", err, copied)
		}
	}
}
