package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/postgres/pgtest"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// The PostgreSQL tests of the real binary are named TestPostgres…: make test runs them
// through scripts/pg-test.sh (CDTSYNC_TEST_DATABASE_URL set); without a server they skip,
// or fail with CI=true.

// mpPhone is one phone of the multi-process test: its batches, in the order it sends them.
type mpPhone struct {
	actor   schema.Actor
	token   string
	batches [][]schema.Op
}

// mpWorkload makes each phone's history: creations (a third of them of people other
// phones also reach, for once-per-person duplicates across phones and volunteers), edits
// of its volunteer's logs from either of Hồng's phones (concurrent edits, conflicts),
// deletes, and ops the server rejects; in batches of 1 to 40.
func mpWorkload(f *sqlitetest.Fixture, rnd *rand.Rand, perPhone int) []*mpPhone {
	base := time.Now().Add(-time.Hour)
	phones := []*mpPhone{{actor: f.HongA}, {actor: f.HongB}, {actor: f.Minh}, {actor: f.Mai}}
	owned := map[int64][]string{} // volunteer → log ids created so far
	var tick int64
	stamp := func() string {
		tick++
		return hlc.FromTime(base.Add(time.Duration(tick) * time.Millisecond)).String()
	}
	field := func(kv ...any) map[string]json.RawMessage {
		m := map[string]json.RawMessage{}
		for i := 0; i < len(kv); i += 2 {
			b, _ := json.Marshal(kv[i+1])
			m[kv[i].(string)] = b
		}
		return m
	}
	for round := 0; round < perPhone; round++ {
		for _, p := range phones {
			hamlets := f.SaDecHamlets
			if p.actor.UnitID == f.TanDuong {
				hamlets = f.TanDuongHamlets
			}
			var op schema.Op
			logs := owned[p.actor.UserID]
			switch r := rnd.IntN(100); {
			case r < 60 || len(logs) == 0:
				id := uuid.Must(uuid.NewV7()).String()
				kv := []any{"hamlet_id", hamlets[rnd.IntN(len(hamlets))], "kind", []string{"vneid_level2", "digital_signature", "cashless_payment"}[rnd.IntN(3)],
					"occurred_at", base.Add(-time.Duration(rnd.IntN(600)) * time.Minute).In(vn).Format(time.RFC3339)}
				if rnd.IntN(3) > 0 {
					kv = append(kv, "citizen_ref", fmt.Sprintf("%064x", 0xabc000+rnd.IntN(40)), "consent", true)
				}
				op = schema.Op{Type: schema.OpUpsert, ID: id, Fields: field(kv...)}
				owned[p.actor.UserID] = append(logs, id)
			case r < 88:
				kv := []any{"note", fmt.Sprintf("lần %d từ %s", round, p.actor.DeviceID)}
				if rnd.IntN(4) == 0 {
					kv = append(kv, "outcome", []string{"completed", "incomplete"}[rnd.IntN(2)])
				}
				if rnd.IntN(5) == 0 {
					kv = append(kv, "citizen_ref", fmt.Sprintf("%064x", 0xabc000+rnd.IntN(40)), "consent", true)
				}
				op = schema.Op{Type: schema.OpUpsert, ID: logs[rnd.IntN(len(logs))], Fields: field(kv...)}
			case r < 95:
				op = schema.Op{Type: schema.OpDelete, ID: logs[rnd.IntN(len(logs))]}
			default: // another commune's hamlet: rejected
				other := f.TanDuongHamlets[0]
				if p.actor.UnitID == f.TanDuong {
					other = f.SaDecHamlets[0]
				}
				op = schema.Op{Type: schema.OpUpsert, ID: uuid.Must(uuid.NewV7()).String(), Fields: field("hamlet_id", other,
					"kind", "other", "occurred_at", base.In(vn).Format(time.RFC3339))}
			}
			op.OpID, op.HLC = uuid.Must(uuid.NewV7()).String(), stamp()
			if n := len(p.batches); n == 0 || len(p.batches[n-1]) >= 1+rnd.IntN(40) {
				p.batches = append(p.batches, nil)
			}
			p.batches[len(p.batches)-1] = append(p.batches[len(p.batches)-1], op)
		}
	}
	return phones
}

var vn = time.FixedZone("ICT", 7*3600)

// pushOnce sends one batch to one server: it returns the results, or an error for
// anything that is not a 200 with a result per op (a dead server, a 503).
func pushOnce(url, token string, ops []schema.Op) ([]schema.OpResult, error) {
	body, _ := json.Marshal(schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339Nano), Ops: ops})
	req, _ := http.NewRequest("POST", url+"/v1/sync/push", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("push: %d %s", resp.StatusCode, b)
	}
	var out schema.PushResponse
	if err := json.Unmarshal(b, &out); err != nil || len(out.Results) != len(ops) {
		return nil, fmt.Errorf("push: %v %s", err, b)
	}
	return out.Results, nil
}

// stateDump is every log, its history and every op's result, minus what says when the
// server received something: equal dumps are equal states.
func stateDump(t testing.TB, db *postgres.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id::text, volunteer_id, team_id, device_id, hamlet_id, kind, occurred_at, occurred_ms, corrected_ms, day,
			encode(citizen_ref, 'hex'), attendees, outcome, consent, note, stamps, created_stamp, content_hlc, complete, deleted,
			deleted_hlc, status, duplicate_of::text, had_conflict FROM logs ORDER BY id`,
		`SELECT log_id::text, field, value, hlc, device_id, op_id, base FROM log_history ORDER BY 1, 2, 3, 4, 5, 6`,
		// An edit that arrives before its log's delete is applied, after it rejected
		// (log_deleted): that answer depends on arrival order, the state does not.
		`SELECT op_id::text, volunteer_id, CASE WHEN code IN ('', 'log_deleted') THEN 'applied or log_deleted' ELSE code END
			FROM ops ORDER BY 1`,
	} {
		rows, err := db.Pool().Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

// TestPostgresMultiProcess: three `cdtsync serve` processes on one PostgreSQL database
// behave as one server. Four phones (two of them one volunteer's) push their histories —
// creations, once-per-person duplicates across phones, concurrent edits, deletes, rejected
// ops — each batch to a random server, a quarter of them to two servers at the same
// moment; a failed push is retried on another server. Midway one server is killed with
// SIGKILL. At the end the database equals the state one process makes of the same batches
// sent once each, in order: every op applied exactly once, nothing lost or doubled, the
// same conflicts, duplicates and tombstones; and each phone, pulling through any server,
// gets every log of its volunteer. A tenth of the way in the report aggregates are marked
// stale, as when a unit moves: the servers notice within 2 s and build them while pushes
// go on (what is left of the build when the servers stop, this process finishes), and
// the reports at the end equal the one process's.
func TestPostgresMultiProcess(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := pgtest.MustFixture(t, db)
	data := t.TempDir()
	keys, err := auth.LoadKeys(filepath.Join(data, auth.KeyDir), time.Now) // made once: the servers share them
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(keys, time.Now)
	phones := mpWorkload(f, rand.New(rand.NewPCG(10, 3)), 500)
	ops := 0
	for _, p := range phones {
		a := p.actor
		if p.token, _, err = tokens.Issue(auth.Principal{UserID: a.UserID, Role: a.Role, DeviceRow: a.DeviceRowID, DeviceID: a.DeviceID}); err != nil {
			t.Fatal(err)
		}
		for _, b := range p.batches {
			ops += len(b)
		}
	}

	servers := make([]*child, 3)
	for i := range servers {
		// Small batches: the build of the aggregates marked stale runs while pushes go on.
		servers[i] = startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--database", url, "--reports-build-batch", "5")
	}
	var dead atomic.Int32
	dead.Store(-1)
	alive := func(rnd *rand.Rand, not int) int {
		for {
			i := rnd.IntN(len(servers))
			if int32(i) != dead.Load() && i != not {
				return i
			}
		}
	}
	officer, _, err := tokens.Issue(auth.Principal{UserID: f.Officer.UserID, Role: f.Officer.Role})
	if err != nil {
		t.Fatal(err)
	}
	var reports sync.WaitGroup // reports asked of two servers when the aggregates go stale
	defer reports.Wait()
	var sent atomic.Int64
	staleAt, killAt := int64(ops)/10, int64(ops)*3/20
	var marked atomic.Bool
	var stateAtKill atomic.Value
	var wg sync.WaitGroup
	var failed atomic.Value
	var retries, doubles atomic.Int64
	for pi, p := range phones {
		wg.Add(1)
		go func(pi int, p *mpPhone) {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(pi), 77))
			for _, b := range p.batches {
				n := sent.Add(int64(len(b)))
				if n >= staleAt && marked.CompareAndSwap(false, true) {
					if _, err := db.Pool().Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
						ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
						failed.Store(err.Error())
					}
					// A report starts the build in the server asked, one of them the one
					// about to be killed; the others notice within 2 s.
					for _, srv := range []*child{servers[0], servers[1]} {
						reports.Add(1)
						go func(url string) {
							defer reports.Done()
							req, _ := http.NewRequest("GET", url+"/v1/reports/coverage?from=2026-01-01&to=2026-12-31", nil)
							req.Header.Set("Authorization", "Bearer "+officer)
							if res, err := http.DefaultClient.Do(req); err == nil {
								res.Body.Close()
							}
						}(srv.URL)
					}
				}
				if n >= killAt && dead.CompareAndSwap(-1, 1) {
					var state string
					db.Pool().QueryRow(ctx, `SELECT coalesce((SELECT value FROM meta WHERE key = 'rpt_state'), 'ready')`).Scan(&state)
					stateAtKill.Store(state)
					servers[1].kill() // midway, whatever it is doing
				}
				// The phones (a load balancer that has not noticed yet) still pick the dead
				// server now and then: the push fails and is retried on another.
				first := rnd.IntN(len(servers))
				var twin sync.WaitGroup
				if rnd.IntN(4) == 0 { // the same batch to a second server at the same moment
					doubles.Add(1)
					twin.Add(1)
					go func(i int) { defer twin.Done(); pushOnce(servers[i].URL, p.token, b) }(alive(rnd, first))
				}
				for try, i := 0, first; ; try, i = try+1, alive(rnd, i) {
					if _, err := pushOnce(servers[i].URL, p.token, b); err == nil {
						break
					}
					retries.Add(1)
					if try == 50 {
						failed.Store(fmt.Sprintf("%s: batch not acknowledged after %d tries", p.actor.DeviceID, try))
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
				twin.Wait()
			}
		}(pi, p)
	}
	wg.Wait()
	if msg := failed.Load(); msg != nil {
		t.Fatal(msg)
	}
	var stateAtEnd string
	db.Pool().QueryRow(ctx, `SELECT coalesce((SELECT value FROM meta WHERE key = 'rpt_state'), 'ready')`).Scan(&stateAtEnd)
	if dead.Load() < 0 {
		t.Fatal("no server was killed")
	}
	// Every log of each volunteer reaches its phones, whichever server they pull through.
	for pi, p := range phones {
		srv := servers[[]int{0, 2}[pi%2]]
		_, _, pulled := pullToEnd(t, srv.URL, p.token, "")
		var want int
		if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM logs WHERE volunteer_id = $1`, p.actor.UserID).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if len(pulled) != want {
			t.Errorf("%s pulled %d logs through one server; its volunteer has %d", p.actor.DeviceID, len(pulled), want)
		}
	}
	// The aggregates get built, by the servers or, once they stop, by this process.
	for deadline := time.Now().Add(2 * time.Minute); db.EnsureReports(ctx) != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the report aggregates were not built within 2 minutes")
		}
	}
	servers[0].stop(t)
	servers[2].stop(t)
	got := stateDump(t, db)
	gotReports, err := db.DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// The same batches, each once, through one process.
	ref, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	rf := pgtest.MustFixture(t, ref)
	if rf.HongA != f.HongA || rf.Mai != f.Mai {
		t.Fatal("the reference fixture has other ids")
	}
	e := engine.New(ref, time.Now)
	for _, p := range phones {
		for _, b := range p.batches {
			if _, err := e.Push(ctx, p.actor, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339Nano), Ops: b}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := stateDump(t, ref)
	if got != want {
		gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("three servers and one disagree (%d vs %d lines); first difference:\nthree: %s\none:   %s", len(gl), len(wl), gl[i], wl[i])
			}
		}
		t.Fatalf("three servers and one disagree: %d vs %d lines", len(gl), len(wl))
	}
	wantReports, err := ref.DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if gotReports != wantReports {
		t.Fatalf("the report aggregates built during the pushes differ from one process's:\nthree %.2000s\none   %.2000s", gotReports, wantReports)
	}
	var nOps, nLogs, dups int
	db.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM ops), (SELECT count(*) FROM logs), (SELECT count(*) FROM logs WHERE status = 'duplicate')`).
		Scan(&nOps, &nLogs, &dups)
	if nOps != ops {
		t.Fatalf("%d ops sent, %d stored", ops, nOps)
	}
	t.Logf("%d ops in %d logs (%d duplicates) through 3 servers, one killed; aggregates %q at the kill, %q after the pushes; %d batches sent twice at once, %d retries; same state and reports as one process",
		ops, nLogs, dups, stateAtKill.Load(), stateAtEnd, doubles.Load(), retries.Load())
}

// TestPostgresMigrateStore moves a province deployment (the demo: real units, 46 teams,
// volunteers with enrolled phones, a month of activity, reviews) from SQLite to
// PostgreSQL with `cdtsync migrate-store`, and shows nothing is lost and phones carry on:
// the same reports, users and devices; a phone's cursor taken on SQLite mid-way pulls on
// PostgreSQL exactly what it would have pulled on SQLite, and then what is written
// after; an op applied on SQLite answers already_applied; a refresh token issued on
// SQLite rotates; the epoch and citizen key are the same. A second run is refused (the
// target is no longer new), and so is a run while a server holds the SQLite data.
func TestPostgresMigrateStore(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	data := t.TempDir()
	if _, stderr, err := runCmd(t, "demo", "--data", data); err != nil {
		t.Fatalf("demo: %v\n%s", err, stderr)
	}
	sq, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	raw := sq.WriteDB()
	var (
		volunteer, row int64
		refreshHash    string
	)
	if err := raw.QueryRowContext(ctx, `SELECT d.volunteer_id, d.id, t.token_hash FROM devices d
		JOIN refresh_tokens t ON t.device_row = d.id AND t.used_at IS NULL AND t.revoked_at IS NULL
		ORDER BY (SELECT count(*) FROM logs l WHERE l.volunteer_id = d.volunteer_id) DESC LIMIT 1`).Scan(&volunteer, &row, &refreshHash); err != nil {
		t.Fatal(err)
	}
	phone, err := sq.ActorFor(ctx, volunteer, row)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := sq.StaffCredentials(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sq.ActorFor(ctx, cred.UserID, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A phone pulls a first page, then records one more log: its cursor is mid-way.
	e := engine.New(sq, time.Now)
	page, err := e.Pull(ctx, phone, "", 25)
	if err != nil || !page.HasMore {
		t.Fatalf("first page: %v (has_more %v)", err, page.HasMore)
	}
	mid := page.Cursor
	hamlet := int64(0)
	for _, c := range page.Changes {
		if c.Type == schema.ChangeUnit && c.Unit.Level == schema.LevelHamlet {
			hamlet = c.Unit.ID
		}
	}
	if hamlet == 0 {
		units, _ := sq.ListUnits(ctx, phone, &phone.UnitID, false)
		hamlet = units[0].ID
	}
	newOp := func() schema.Op {
		return createOp(hamlet, "vneid_install", time.Now().Add(-time.Hour), "note", "trước khi chuyển / before the move")
	}
	before := newOp()
	if r, err := e.Push(ctx, phone, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339Nano), Ops: []schema.Op{before}}); err != nil || r.Results[0].Status != schema.ResultApplied {
		t.Fatalf("push on SQLite: %+v %v", r, err)
	}
	pullAll := func(e *engine.Engine, cursor string) ([]string, string) {
		var out []string
		for {
			p, err := e.Pull(ctx, phone, cursor, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if p.Reset {
				t.Fatal("pull answered reset: the cursor did not carry over")
			}
			for _, c := range p.Changes {
				b, _ := json.Marshal(c)
				out = append(out, string(b))
			}
			cursor = p.Cursor
			if !p.HasMore {
				return out, cursor
			}
		}
	}
	wantAfter, _ := pullAll(e, mid)
	wantAll, _ := pullAll(e, "")
	type snapshot struct {
		coverage, teams, users, devices string
		epoch                           string
		key                             []byte
	}
	take := func(s Store) snapshot {
		var sn snapshot
		f := schema.ReportFilter{From: "2026-01-01", To: "2026-12-31"}
		cov, err := s.Coverage(ctx, admin, f)
		if err != nil {
			t.Fatal(err)
		}
		cov.GeneratedAt = ""
		tm, err := s.TeamOutput(ctx, admin, f)
		if err != nil {
			t.Fatal(err)
		}
		tm.GeneratedAt = ""
		// The SQLite store lists namesakes (two volunteers of one name in a team) in map
		// order: compare in id order.
		sort.SliceStable(tm.Teams, func(i, j int) bool { return tm.Teams[i].TeamID < tm.Teams[j].TeamID })
		for _, team := range tm.Teams {
			sort.SliceStable(team.Volunteers, func(i, j int) bool { return team.Volunteers[i].VolunteerID < team.Volunteers[j].VolunteerID })
		}
		us, err := s.ListUsers(ctx, admin, schema.UserFilter{IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := s.ListDevices(ctx, admin, schema.DeviceFilter{IncludeRevoked: true})
		if err != nil {
			t.Fatal(err)
		}
		js := func(v any) string { b, _ := json.Marshal(v); return string(b) }
		sn.coverage, sn.teams, sn.users, sn.devices = js(cov), js(tm), js(us), js(ds)
		if sn.epoch, err = s.Epoch(ctx); err != nil {
			t.Fatal(err)
		}
		if sn.key, err = s.CitizenKey(ctx); err != nil {
			t.Fatal(err)
		}
		return sn
	}
	want := take(sq)
	// The server holds the data directory: migrate-store waits for it to stop.
	unlock, err := lockData(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCmd(t, "migrate-store", "--from", data, "--to", url); err == nil {
		t.Fatal("migrate-store ran while the SQLite data directory was in use")
	}
	unlock()
	sq.Close()

	out, stderr, err := runCmd(t, "migrate-store", "--from", data, "--to", url)
	if err != nil {
		t.Fatalf("migrate-store: %v\n%s%s", err, out, stderr)
	}
	t.Logf("%s", out)
	if _, _, err := runCmd(t, "migrate-store", "--from", data, "--to", url); err == nil {
		t.Fatal("a second migrate-store into the same database was not refused")
	}
	pg, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	// The demo's aggregates were ready on SQLite: they came along, and equal a rebuild.
	if !strings.Contains(out, "report aggregates: copied with them") {
		t.Errorf("the report aggregates were not copied:\n%s", out)
	}
	copied, err := pg.DumpReports(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pg.RebuildReports(ctx); err != nil {
		t.Fatal(err)
	}
	if rebuilt, err := pg.DumpReports(ctx); err != nil || rebuilt != copied {
		t.Fatalf("the copied report aggregates differ from a rebuild from the copied logs (%v)", err)
	}
	got := take(pg)
	for _, c := range []struct{ what, got, want string }{{"coverage report", got.coverage, want.coverage},
		{"team report", got.teams, want.teams}, {"users", got.users, want.users}, {"devices", got.devices, want.devices},
		{"epoch", got.epoch, want.epoch}, {"citizen key", string(got.key), string(want.key)}} {
		if c.got != c.want {
			i := 0
			for i < len(c.got) && i < len(c.want) && c.got[i] == c.want[i] {
				i++
			}
			from := max(i-200, 0)
			t.Errorf("%s differs after the move, from byte %d:\nPostgreSQL: …%.400s\nSQLite:     …%.400s", c.what, i, c.got[from:], c.want[from:])
		}
	}
	e2 := engine.New(pg, time.Now)
	gotAfter, end := pullAll(e2, mid)
	if strings.Join(gotAfter, "\n") != strings.Join(wantAfter, "\n") {
		t.Fatalf("the SQLite cursor pulls %d changes on PostgreSQL, %d on SQLite", len(gotAfter), len(wantAfter))
	}
	if gotAll, _ := pullAll(e2, ""); strings.Join(gotAll, "\n") != strings.Join(wantAll, "\n") {
		t.Fatalf("a full pull gives %d changes on PostgreSQL, %d on SQLite", len(gotAll), len(wantAll))
	}
	r, err := e2.Push(ctx, phone, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339Nano), Ops: []schema.Op{before, newOp()}})
	if err != nil || r.Results[0].Status != schema.ResultAlreadyApplied || r.Results[1].Status != schema.ResultApplied {
		t.Fatalf("push on PostgreSQL: %+v %v", r.Results, err)
	}
	if next, _ := pullAll(e2, end); len(next) != 1 || !strings.Contains(next[0], `"type":"log"`) {
		t.Fatalf("after the move the phone pulls %d changes, want its one new log: %v", len(next), next)
	}
	_, newHash := auth.NewRefreshToken()
	if _, err := pg.RotateRefresh(ctx, schema.RefreshRotation{OldHash: refreshHash, NewHash: newHash,
		DeviceTTL: auth.RefreshTTLDevice, StaffTTL: auth.RefreshTTLStaff, ReuseGrace: time.Minute}); err != nil {
		t.Fatalf("a refresh token issued on SQLite does not rotate on PostgreSQL: %v", err)
	}

	// Aggregates not ready on SQLite (a unit moved since they were built) are not copied
	// and not built by the move: the first server builds them after it starts, and its
	// reports then equal SQLite's.
	sq2, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sq2.WriteDB().ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'stale')
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
		t.Fatal(err)
	}
	sq2.Close()
	url2 := pgtest.NewDatabase(t)
	if out, stderr, err = runCmd(t, "migrate-store", "--from", data, "--to", url2); err != nil {
		t.Fatalf("migrate-store: %v\n%s%s", err, out, stderr)
	}
	if !strings.Contains(out, "the servers build them after they start") {
		t.Errorf("migrate-store does not say who builds the aggregates:\n%s", out)
	}
	// A report waits for the build (the server's 5 s are too short for 8,600 logs under
	// the race detector on 2 shared cores).
	pg2, err := postgres.Open(ctx, url2, postgres.Options{CompactEvery: 20 * time.Millisecond, ReportsWait: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer pg2.Close()
	var state *string
	if err := pg2.Pool().QueryRow(ctx, `SELECT (SELECT value FROM meta WHERE key = 'rpt_state')`).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state == nil {
		t.Fatal("the copy of stale aggregates is marked ready")
	}
	if got := take(pg2); got.coverage != want.coverage || got.teams != want.teams {
		t.Errorf("reports built by the server after the move differ from SQLite's:\nPostgreSQL %.300s\nSQLite     %.300s", got.coverage, want.coverage)
	}
}

// TestPostgresRestore: after PostgreSQL's own tools restored a database to an earlier
// point, `cdtsync restore --database` gives it a new epoch; a phone's cursor from before
// then starts over and finds what the database has. A FILE with --database is refused.
func TestPostgresRestore(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, postgres.Options{CompactEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := pgtest.MustFixture(t, db)
	e := engine.New(db, time.Now)
	op := createOp(f.SaDecHamlets[0], "other", time.Now().Add(-time.Hour))
	id := op.ID
	resp, err := e.Push(ctx, f.HongA, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339), Ops: []schema.Op{op}})
	if err != nil || resp.Results[0].Status != schema.ResultApplied {
		t.Fatalf("%+v %v", resp.Results, err)
	}
	page, err := e.Pull(ctx, f.HongA, "", 1000)
	if err != nil || page.HasMore {
		t.Fatalf("%v (has_more %v)", err, page.HasMore)
	}
	epoch, _ := db.Epoch(ctx)

	if _, _, err := runCmd(t, "restore", "--database", url, "backup.dump"); err == nil {
		t.Fatal("restore --database with a FILE was accepted")
	}
	out, stderr, err := runCmd(t, "restore", "--database", url)
	if err != nil {
		t.Fatalf("restore --database: %v\n%s", err, stderr)
	}
	now, _ := db.Epoch(ctx)
	if now == epoch || !strings.Contains(out, now) || !strings.Contains(out, epoch) {
		t.Fatalf("epoch %s → %s; the command said:\n%s", epoch, now, out)
	}
	again, err := e.Pull(ctx, f.HongA, page.Cursor, 1000)
	if err != nil || !again.Reset {
		t.Fatalf("the phone's cursor after the restore: reset %v, %v", again.Reset, err)
	}
	found := false
	for _, c := range again.Changes {
		found = found || (c.Log != nil && c.Log.ID == id)
	}
	if !found {
		t.Fatal("the full pull after the restore lacks the volunteer's log")
	}
}

// TestPostgresServeReportsOnReplica: `serve --report-database` reads reports on the hot
// standby, over HTTP, and /metrics counts them there. Without --database it is refused.
func TestPostgresServeReportsOnReplica(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	replica := pgtest.ReplicaURL(t, url)
	if _, _, err := runCmd(t, "serve", "--addr", "127.0.0.1:0", "--data", t.TempDir(), "--report-database", replica); err == nil {
		t.Fatal("--report-database without --database was accepted")
	}
	db, err := postgres.Open(ctx, url, postgres.Options{CompactEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := pgtest.MustFixture(t, db)
	day := time.Now().In(engine.Vietnam())
	resp, err := engine.New(db, time.Now).Push(ctx, f.HongA, schema.PushRequest{DeviceTime: time.Now().Format(time.RFC3339), Ops: []schema.Op{
		createOp(f.SaDecHamlets[0], "vneid_level2", day, "citizen_ref", strings.Repeat("ab", 32), "consent", true)}})
	if err != nil || resp.Results[0].Status != schema.ResultApplied {
		t.Fatalf("%+v %v", resp.Results, err)
	}
	if err := db.EnsureReports(ctx); err != nil {
		t.Fatal(err)
	}
	pgtest.CatchUp(t, url)
	data := t.TempDir()
	keys, err := auth.LoadKeys(filepath.Join(data, auth.KeyDir), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := auth.NewTokens(keys, time.Now).Issue(auth.Principal{UserID: f.Officer.UserID, Role: f.Officer.Role})
	if err != nil {
		t.Fatal(err)
	}
	srv := startChild(t, "serve", "--addr", "127.0.0.1:0", "--data", data, "--database", url, "--report-database", replica)
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/reports/coverage?from=%s&to=%s", srv.URL, day.Format("2006-01-02"), day.Format("2006-01-02")), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var cov schema.CoverageReport
	err = json.NewDecoder(res.Body).Decode(&cov)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || len(cov.Levels) == 0 || cov.Levels[0].Rows[0].People != 1 {
		t.Fatalf("coverage: %d %v %+v", res.StatusCode, err, cov.Levels)
	}
	res, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `cdtsync_pg_report_reads_total{on="replica"} 1`) ||
		!strings.Contains(string(b), `cdtsync_pg_report_reads_total{on="primary"} 0`) {
		t.Fatalf("metrics do not count the report on the replica:\n%s", grepLines(string(b), "cdtsync_pg_report"))
	}
	if !strings.Contains(string(b), "cdtsync_pg_reports_ready 1\n") {
		t.Fatalf("metrics do not say the aggregates are ready:\n%s", grepLines(string(b), "cdtsync_pg_reports"))
	}
}

// TestPostgresMetricsShowABuild: /metrics says whether the report aggregates are built,
// and how far a build under way has got (reports answer 503 meanwhile).
func TestPostgresMetricsShowABuild(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t), postgres.Options{CompactEvery: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pgtest.MustFixture(t, db)
	if err := db.EnsureReports(ctx); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	registerPostgresMetrics(reg, db, time.Now)
	scrape := func() string {
		rec := httptest.NewRecorder()
		promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return grepLines(rec.Body.String(), "cdtsync_pg_reports")
	}
	if got := scrape(); !strings.Contains(got, "cdtsync_pg_reports_ready 1") {
		t.Fatalf("built aggregates:\n%s", got)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO meta (key, value) VALUES ('rpt_state', 'building'), ('rpt_build_done', '1500'),
		('rpt_build_total', '4000') ON CONFLICT (key) DO UPDATE SET value = excluded.value`); err != nil {
		t.Fatal(err)
	}
	got := scrape()
	for _, want := range []string{"cdtsync_pg_reports_ready 0", `cdtsync_pg_reports_build_logs{of="done"} 1500`, `cdtsync_pg_reports_build_logs{of="total"} 4000`} {
		if !strings.Contains(got, want) {
			t.Fatalf("a build under way: no %q in\n%s", want, got)
		}
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// createOp is a phone's creation of a new log: hamlet, kind and occurred_at, and the
// further fields given as name, value pairs.
func createOp(hamlet int64, kind string, occurred time.Time, kv ...any) schema.Op {
	fields := map[string]json.RawMessage{}
	kv = append([]any{"hamlet_id", hamlet, "kind", kind, "occurred_at", occurred.In(vn).Format(time.RFC3339)}, kv...)
	for i := 0; i < len(kv); i += 2 {
		b, _ := json.Marshal(kv[i+1])
		fields[kv[i].(string)] = b
	}
	return schema.Op{OpID: uuid.Must(uuid.NewV7()).String(), Type: schema.OpUpsert, ID: uuid.Must(uuid.NewV7()).String(),
		HLC: hlc.FromTime(time.Now()).String(), Fields: fields}
}
