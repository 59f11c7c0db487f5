package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/clientsdk/sdktest"
)

// The sdktest deployment's admin (Tỉnh Đồng Tháp).
const (
	testAdmin    = "admin.dongthap"
	testPassword = "Sen hồng Sa Đéc 2026"
)

// mustRun runs cdtload with args against srv and decodes its --json summary.
func mustRun(t *testing.T, srv *sdktest.Server, args ...string) *summary {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	args = append([]string{"--server", srv.URL, "--user", testAdmin, "--password", testPassword, "--json", "--quiet"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := m.Run(ctx, args); err != nil {
		t.Fatalf("cdtload %s: %v\n%s\n%s", strings.Join(args, " "), err, errOut.String(), out.String())
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("summary: %v\n%s", err, out.String())
	}
	return &s
}

// checkStored compares what cdtload says it did with what the server stored: every op
// once in the ops table with its result, one log per creation, a tombstone per delete,
// the duplicates the generator's model expects.
func checkStored(t *testing.T, srv *sdktest.Server, s *summary) {
	t.Helper()
	count := func(q string, args ...any) int64 { return srv.Count(t, q, args...) }
	typed := func(typ, status string) int64 { return s.ByType[typ][status] }

	if got, want := count(`SELECT COUNT(*) FROM ops WHERE status = 'applied'`), s.Applied+s.AlreadyApplied; got != want {
		t.Errorf("ops applied: server %d, cdtload %d (applied %d + already_applied %d)", got, want, s.Applied, s.AlreadyApplied)
	}
	if got := count(`SELECT COUNT(*) FROM ops WHERE status = 'rejected'`); got != s.Rejected {
		t.Errorf("ops rejected: server %d, cdtload %d", got, s.Rejected)
	}
	for code, n := range s.RejectedByCode {
		if got := count(`SELECT COUNT(*) FROM ops WHERE status = 'rejected' AND code = ?`, code); got != n {
			t.Errorf("rejected %s: server %d, cdtload %d", code, got, n)
		}
	}
	creates := typed("create", "applied") + typed("create", "already_applied")
	if got := count(`SELECT COUNT(*) FROM logs`); got != creates {
		t.Errorf("logs: server %d, cdtload created %d", got, creates)
	}
	deletes := typed("delete", "applied") + typed("delete", "already_applied")
	if got := count(`SELECT COUNT(*) FROM logs WHERE deleted = 1`); got != deletes {
		t.Errorf("deleted logs: server %d, cdtload deleted %d", got, deletes)
	}
	if s.ExpectedDuplicates == nil {
		t.Error("no expected_duplicates in the summary")
	} else if got := count(`SELECT COUNT(*) FROM logs WHERE status = 'duplicate'`); got != *s.ExpectedDuplicates {
		t.Errorf("duplicates: server %d, cdtload's model %d", got, *s.ExpectedDuplicates)
	}
	if got := count(`SELECT COUNT(*) FROM devices WHERE device_id LIKE 'cdtload-%'`); got < int64(s.Devices) {
		t.Errorf("enrolments: server %d, cdtload %d", got, s.Devices)
	}
}

func TestLoadCountsMatchServer(t *testing.T) {
	srv := sdktest.Start(t)
	s := mustRun(t, srv, "--devices", "12", "--batch", "60", "--count", "3000", "--invalid", "0.03",
		"--wrong-clocks", "0.5", "--shared", "0.25", "--repeat", "0.15", "--shared-residents", "0.05", "--seed", "42")

	if s.Mode != "load" || s.Devices != 12 || s.Phones != 9 {
		t.Errorf("mode %q, %d devices on %d phones; want load, 12 on 9 (every 4th enrolment shares a phone)", s.Mode, s.Devices, s.Phones)
	}
	if s.OpsAcked != 3000 || !s.AllAcked || s.Errors != 0 {
		t.Fatalf("acked %d of 3000, all_acked %v, errors %v", s.OpsAcked, s.AllAcked, s.ErrorsByCode)
	}
	if s.Applied+s.Rejected != 3000 || s.AlreadyApplied != 0 {
		t.Errorf("applied %d + rejected %d, already_applied %d", s.Applied, s.Rejected, s.AlreadyApplied)
	}
	if s.Rejected == 0 || s.Rejected != s.ByType["invalid"]["rejected"] {
		t.Errorf("rejected %d, of the invalid ops %d: only they should be", s.Rejected, s.ByType["invalid"]["rejected"])
	}
	if s.ByType["edit"]["applied"] == 0 || s.ByType["delete"]["applied"] == 0 {
		t.Errorf("no edits or deletes: %v", s.ByType)
	}
	if s.ExpectedDuplicates == nil || *s.ExpectedDuplicates == 0 {
		t.Errorf("expected some once-per-person duplicates, got %v", s.ExpectedDuplicates)
	}
	if s.LatencyMS.N != int(s.Pushes) || s.Pushes != 12*5 || s.LatencyMS.P50 <= 0 || s.LatencyMS.Max < s.LatencyMS.P99 {
		t.Errorf("pushes %d (want 12 devices × 5: 250 ops each in batches of 60), latency %+v", s.Pushes, s.LatencyMS)
	}
	checkStored(t, srv, s)
	// The phones with wrong clocks show as such to coordinators.
	if got := srv.Count(t, `SELECT COUNT(DISTINCT device_id) FROM devices WHERE clock_offset_ms <> 0`); got != int64(s.WrongClocks) {
		t.Errorf("phones with a clock offset: server %d, cdtload %d", got, s.WrongClocks)
	}
	if s.WrongClocks == 0 {
		t.Error("no phone with a wrong clock: the test does not exercise them")
	}
}

// A second run reuses the team and its volunteers, enrolling new phones for them. It runs
// for a duration with too few prebuilt bodies, so the rest are built during the run.
func TestLoadReusesTeam(t *testing.T) {
	srv := sdktest.Start(t)
	a := mustRun(t, srv, "--devices", "6", "--batch", "100", "--count", "600", "--team", "Tổ CNSCĐ khóm Cái Sơn (đo tải)")
	b := mustRun(t, srv, "--devices", "8", "--batch", "100", "--duration", "2s", "--prebuild-rate", "100",
		"--team", "Tổ CNSCĐ khóm Cái Sơn (đo tải)")
	if b.BuiltDuringRun == 0 || !b.AllAcked || b.Errors != 0 || b.OpsAcked < 8*100 || len(b.Timeline) < 2 || b.SteadyOpsPerSec <= 0 {
		t.Errorf("duration run: built during the run %d, all_acked %v, errors %v, acked %d, timeline %v, steady %v",
			b.BuiltDuringRun, b.AllAcked, b.ErrorsByCode, b.OpsAcked, b.Timeline, b.SteadyOpsPerSec)
	}
	if a.TeamID != b.TeamID || a.Setup.Created != 6 || b.Setup.Reused != 6 || b.Setup.Created != 2 {
		t.Errorf("team %d then %d; created %d, then reused %d and created %d", a.TeamID, b.TeamID, a.Setup.Created, b.Setup.Reused, b.Setup.Created)
	}
	if got := srv.Count(t, `SELECT COUNT(*) FROM logs`); got != a.ByType["create"]["applied"]+b.ByType["create"]["applied"] {
		t.Errorf("logs %d, created %d + %d", got, a.ByType["create"]["applied"], b.ByType["create"]["applied"])
	}
	if got := srv.Count(t, `SELECT COUNT(*) FROM users WHERE role = 'volunteer' AND team_id = ?`, a.TeamID); got != 8 {
		t.Errorf("volunteers in the team: %d, want 8", got)
	}
}

// --teams spreads the devices over several teams, round robin: each team gets its share
// of volunteers, and each volunteer's logs carry its own team.
func TestLoadSpreadsDevicesOverTeams(t *testing.T) {
	srv := sdktest.Start(t)
	s := mustRun(t, srv, "--devices", "7", "--teams", "3", "--batch", "20", "--count", "280", "--team", "Tổ CNSCĐ ấp Đông Huề")
	if s.Teams != 3 || !s.AllAcked || s.Errors != 0 || s.Setup.Created != 7 {
		t.Fatalf("teams %d, all acked %v, errors %d, volunteers created %d", s.Teams, s.AllAcked, s.Errors, s.Setup.Created)
	}
	for i, want := range []int64{3, 2, 2} {
		name := fmt.Sprintf("Tổ CNSCĐ ấp Đông Huề %d", i+1)
		if got := srv.Count(t, `SELECT COUNT(*) FROM users u JOIN teams t ON t.id = u.team_id WHERE u.role = 'volunteer' AND t.name = ?`, name); got != want {
			t.Errorf("%s: %d volunteers, want %d", name, got, want)
		}
		if got := srv.Count(t, `SELECT COUNT(*) FROM logs l JOIN teams t ON t.id = l.team_id WHERE t.name = ?`, name); got == 0 {
			t.Errorf("%s: no logs", name)
		}
	}
	if got := srv.Count(t, `SELECT COUNT(*) FROM logs l JOIN users u ON u.id = l.volunteer_id WHERE l.team_id <> u.team_id`); got != 0 {
		t.Errorf("%d logs carry a team other than their volunteer's", got)
	}
}

// The storm honours 503 Retry-After (resending the same batch), counts it apart from
// errors, and a push whose answer was lost is resent and answered already_applied.
func TestStormHonoursRetryAfterAndLostAnswers(t *testing.T) {
	srv := sdktest.Start(t)
	var pushes, refused, dropped atomic.Int64
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/v1/sync/push" {
			return false
		}
		switch n := pushes.Add(1); {
		case n%4 == 0:
			refused.Add(1)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"code":"unavailable","message":"the server is busy; retry in a few seconds"}`))
			return true
		case n == 7:
			// The server applies the push, then the connection drops before the answer.
			dropped.Add(1)
			srv.Handler.ServeHTTP(httptest.NewRecorder(), r)
			conn, _, err := w.(http.Hijacker).Hijack()
			if err != nil {
				t.Error(err)
				return true
			}
			conn.Close()
			return true
		}
		return false
	})
	s := mustRun(t, srv, "--storm", "--devices", "10", "--outbox", "45", "--batch", "20", "--window", "2s")
	if s.Mode != "storm" || s.Storm == nil {
		t.Fatalf("mode %q, storm %v", s.Mode, s.Storm)
	}
	if !s.AllAcked || s.Storm.DevicesDone != 10 || s.OpsAcked != 450 {
		t.Fatalf("all_acked %v, %d devices drained, %d ops acked; want 10 and 450", s.AllAcked, s.Storm.DevicesDone, s.OpsAcked)
	}
	if s.Honoured503 != refused.Load() || s.Honoured503 == 0 {
		t.Errorf("honoured 503s %d, the server refused %d", s.Honoured503, refused.Load())
	}
	if s.Errors != 1 || s.ErrorsByCode["net_eof"]+s.ErrorsByCode["net_read"] != 1 {
		t.Errorf("errors %v: want the one dropped connection", s.ErrorsByCode)
	}
	if s.AlreadyApplied == 0 {
		t.Error("the batch whose answer was lost was not answered already_applied when resent")
	}
	if s.Storm.DrainS < 1 || s.Storm.DeviceDrainMS.N != 10 || s.Pushes != 10*3 {
		t.Errorf("drain %.1f s, %d device drains, %d pushes (want 30)", s.Storm.DrainS, s.Storm.DeviceDrainMS.N, s.Pushes)
	}
	checkStored(t, srv, s)
}

// The raw baseline inserts every row with the server's pragmas.
func TestRawBaseline(t *testing.T) {
	ctx := context.Background()
	rows := rawRows(1200, 1)
	path := filepath.Join(t.TempDir(), "raw.db")
	rate, _, err := rawOnce(ctx, path, rows, 500, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 {
		t.Errorf("rate %v", rate)
	}
	db, err := sql.Open("sqlite", rawDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, idx int
	var mode string
	var sync int
	if err := db.QueryRow(`SELECT COUNT(*) FROM logs`).Scan(&n); err != nil || n != 1200 {
		t.Errorf("rows %d (%v), want 1200", n, err)
	}
	if err := db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs'`).Scan(&idx); err != nil || idx != 3 {
		t.Errorf("indexes %d (%v), want 3: the primary key's and two secondary", idx, err)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q (%v)", mode, err)
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous %d (%v), want 2 (FULL)", sync, err)
	}

	sum, err := runRaw(ctx, rawConfig{Dir: t.TempDir(), Rows: 1000, Tx: []int{100, 1000}, Repeat: 3, PKOnly: true, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Results) != 3 || sum.Results[2].Indexes != 0 || sum.Results[0].TxRows != 100 {
		t.Fatalf("results %+v", sum.Results)
	}
	for _, r := range sum.Results {
		if len(r.RowsPerSec.Runs) != 3 || r.RowsPerSec.Min > r.RowsPerSec.Median || r.RowsPerSec.Median > r.RowsPerSec.Max {
			t.Errorf("%d rows/tx: %+v", r.TxRows, r.RowsPerSec)
		}
	}
	if sum.BytesPerRow < 400 || sum.BytesPerRow > 550 {
		t.Errorf("a row is %.0f bytes of JSON, want about 475", sum.BytesPerRow)
	}
}

func TestDistribution(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	l := distribution(ds)
	if l.N != 100 || l.P50 != 50 || l.P95 != 95 || l.P99 != 99 || l.Max != 100 || l.Mean != 50.5 {
		t.Errorf("%+v", l)
	}
	if l := distribution(nil); l.N != 0 {
		t.Errorf("%+v", l)
	}
	if r := steady([]int64{0, 0, 30, 50, 40, 5}, 2, 5); r != 40 {
		t.Errorf("steady %v, want 40", r)
	}
	if r := steady([]int64{10}, 0, 4); r != 2.5 {
		t.Errorf("steady past the timeline %v, want 2.5 (nothing acknowledged is zero)", r)
	}
}

// Every op the generator writes is valid JSON of the wire type, and gzip bodies (a
// fresh prefix member, then the prebuilt ops) decompress into one document.
func TestBodies(t *testing.T) {
	w := newWorkload([]byte("0123456789abcdef0123456789abcdef"), []int64{101, 102}, 4, 9)
	w.edits, w.deletes, w.invalid = 0.1, 0.05, 0.05
	g := newGenerator(w, 1, 9, -72*time.Hour)
	p := &pusher{gz: true}
	for _, gz := range []bool{false, true} {
		p.gz = gz
		bt := g.newBatch(300, 0, time.Time{}, gz, mustGzipWriter(t))
		pb := p.prefix(bt, time.Now())
		body := append(append([]byte{}, pb.raw...), bt.rest...)
		if gz {
			body = gunzipAll(t, append(append([]byte{}, pb.gz.Bytes()...), bt.rest...))
		}
		var req struct {
			DeviceTime string `json:"device_time"`
			PendingOps int    `json:"pending_ops"`
			Ops        []struct {
				OpID   string                     `json:"op_id"`
				Type   string                     `json:"type"`
				ID     string                     `json:"id"`
				HLC    string                     `json:"hlc"`
				Base   string                     `json:"base"`
				Fields map[string]json.RawMessage `json:"fields"`
			} `json:"ops"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("gzip %v: %v\n%s", gz, err, body)
		}
		if len(req.Ops) != 300 || req.PendingOps != 300 || len(req.DeviceTime) != 25 {
			t.Errorf("ops %d, pending %d, device_time %q", len(req.Ops), req.PendingOps, req.DeviceTime)
		}
		for _, op := range req.Ops {
			if len(op.OpID) != 36 || len(op.ID) != 36 || len(op.HLC) != 16 || op.OpID[14] != '7' {
				t.Errorf("op %+v", op)
			}
			if op.Base != "" && op.Base >= op.HLC {
				t.Errorf("base %s not below hlc %s", op.Base, op.HLC)
			}
		}
	}
}

// Several --server URLs (server processes sharing one PostgreSQL): setup through the first,
// pushes to each in turn. Here the same server under two spellings.
func TestLoadSeveralServers(t *testing.T) {
	srv := sdktest.Start(t)
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}
	args := []string{"--server", srv.URL + "," + srv.URL + "/", "--user", testAdmin, "--password", testPassword, "--json", "--quiet",
		"--devices", "4", "--batch", "50", "--count", "800"}
	if err := m.Run(context.Background(), args); err != nil {
		t.Fatalf("cdtload: %v\n%s", err, errOut.String())
	}
	var s summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.Servers) != 2 || s.Server != srv.URL || s.OpsAcked != 800 || !s.AllAcked {
		t.Fatalf("servers %v (first %q), %d of 800 ops acknowledged", s.Servers, s.Server, s.OpsAcked)
	}
	checkStored(t, srv, &s)
}

// TestProcSamplerSumsProcesses: with several server pids the sampler reports their sum;
// a pid given twice counts twice, one that has gone counts nothing.
func TestProcSamplerSumsProcesses(t *testing.T) {
	self := os.Getpid()
	one, ok := procRSS(self)
	if !ok {
		t.Fatal("no RSS for this process")
	}
	two, ok := sumProcs([]int{self, self, 1 << 30}, procRSS)
	if !ok || two < 2*one*9/10 || two > 2*one*11/10 {
		t.Fatalf("RSS of the process twice: %d kB, once: %d kB", two, one)
	}
	if _, ok := sumProcs([]int{1 << 30}, procRSS); ok {
		t.Fatal("a process that is gone reported an RSS")
	}
	s := startProcSampler([]int{self, self}, 10*time.Millisecond, 0, nil)
	time.Sleep(50 * time.Millisecond)
	sum := s.Stop()
	if len(sum.PIDs) != 2 || sum.RSSMaxMB < 2*float64(one)/1024*0.9 {
		t.Fatalf("summary %+v, one process %d kB", sum, one)
	}
}
