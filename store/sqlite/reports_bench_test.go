package sqlite_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// Province-sized report benchmarks (docs/BENCHMARKS.md → Reports).
//
// The dataset is old Tỉnh Đồng Tháp (code list 2025-03-01): its 12 districts and 141
// communes with their real names, 1,500 hamlets (ấp/khóm 1…11 of each commune), a team of
// 15 volunteers per commune, CDTSYNC_BENCH_LOGS logs (default 20,000) over 2026 by up to
// 1.3 million residents, about 40 % approved. Logs arrive in time order, as in the field:
// each push is a volunteer's work of the day the build has reached (or of a day or a few
// before, from a phone that was offline), reviewed soon after. It is built through the sync engine's Push
// and Review — the store's write path, so the aggregates are the ones the server keeps —
// with pushers in parallel, and kept in CDTSYNC_BENCH_DIR (default
// $TMPDIR/cdtsync-bench-N) for the next run.
//
// While it is built, phases of pushes with aggregate maintenance alternate with phases
// without (the skipped logs are caught up after each), so the build reports push ingest
// with and without maintenance, measured in the same run on the same growing database.
//
//	CDTSYNC_BENCH_LOGS=1000000 go test ./store/sqlite -run '^$' -bench 'Reports|PushIngest' -count 6 -timeout 0

var benchNow = time.Date(2027, 1, 10, 3, 0, 0, 0, time.UTC)

type benchWorld struct {
	db       *sqlite.DB
	e        *engine.Engine
	admin    schema.Actor
	province int64
	district int64 // Thành phố Sa Đéc
	commune  int64 // Phường 1, Sa Đéc
	devices  []benchDevice
	hamlets  map[int64][]int64 // commune → hamlets
	persons  int
	stats    benchBuild
	// done of total logs are pushed: the build's clock, which day the year has reached.
	done  atomic.Int64
	total int
}

type benchDevice struct {
	actor   schema.Actor
	offset  time.Duration
	commune int64
}

// benchBuild is what building the dataset measured.
type benchBuild struct {
	Version        int     `json:"version"`
	Logs           int     `json:"logs"`
	Persons        int     `json:"persons"`
	Hamlets        int     `json:"hamlets"`
	Volunteers     int     `json:"volunteers"`
	Reviews        int     `json:"reviews"`
	BuildSeconds   float64 `json:"build_seconds"`
	WithOps        int     `json:"ops_with_maintenance"`
	WithSeconds    float64 `json:"seconds_with_maintenance"`
	WithoutOps     int     `json:"ops_without_maintenance"`
	WithoutSeconds float64 `json:"seconds_without_maintenance"`
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	DBBytes        int64   `json:"db_bytes"`
	Machine        string  `json:"machine"`
}

const benchVersion = 7

var (
	benchOnce  sync.Once
	benchW     *benchWorld
	benchErr   error
	benchIDSeq atomic.Int64
	benchHLC   atomic.Int64
)

func benchLogs() int {
	if v := os.Getenv("CDTSYNC_BENCH_LOGS"); v != "" {
		n, err := strconv.Atoi(v)
		if err == nil && n > 0 {
			return n
		}
	}
	return 20000
}

func getBenchWorld(b *testing.B) *benchWorld {
	b.Helper()
	benchOnce.Do(func() { benchW, benchErr = openBenchWorld(b) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchW
}

// benchRun keeps the log ids of one run apart from those of a dataset built before.
var benchRun = rand.New(rand.NewSource(time.Now().UnixNano())).Int63n(1 << 32)

func benchUUID() string {
	n := benchIDSeq.Add(1)
	return fmt.Sprintf("%08x-%04x-7%03x-8%03x-%012x", benchRun, (n>>24)&0xffff, (n>>12)&0xfff, n&0xfff, n)
}

func openBenchWorld(b *testing.B) (*benchWorld, error) {
	n := benchLogs()
	dir := os.Getenv("CDTSYNC_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("cdtsync-bench-%d", n))
	}
	marker := filepath.Join(dir, "bench-build.json")
	var stats benchBuild
	reuse := false
	if raw, err := os.ReadFile(marker); err == nil && json.Unmarshal(raw, &stats) == nil && stats.Version == benchVersion && stats.Logs == n {
		reuse = true
	} else {
		os.RemoveAll(dir)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{QueueOps: 200000})
	if err != nil {
		return nil, err
	}
	db.Now = func() time.Time { return benchNow }
	w := &benchWorld{db: db, e: engine.New(db, func() time.Time { return benchNow }), hamlets: map[int64][]int64{}, stats: stats}
	if reuse {
		b.Logf("reusing the benchmark dataset in %s: %+v", dir, stats)
		return w, w.load(ctx)
	}
	b.Logf("building a benchmark dataset of %d logs in %s", n, dir)
	if err := w.build(ctx, b, n); err != nil {
		return nil, err
	}
	raw, _ := json.MarshalIndent(w.stats, "", "  ")
	return w, os.WriteFile(marker, raw, 0o600)
}

var (
	familyNames = []string{"Nguyễn", "Trần", "Lê", "Phạm", "Huỳnh", "Hoàng", "Võ", "Phan", "Trương", "Bùi", "Đặng", "Đỗ", "Ngô", "Hồ", "Dương", "Đinh"}
	middleNames = []string{"Văn", "Thị", "Minh", "Ngọc", "Thanh", "Hoàng", "Quốc", "Thu", "Kim", "Hữu"}
	givenNames  = []string{"An", "Bình", "Cường", "Dũng", "Hà", "Hạnh", "Hòa", "Hùng", "Lan", "Linh", "Mai", "Nam", "Phúc", "Quang", "Sang", "Tâm", "Thảo", "Trang", "Tuấn", "Yến"}
)

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).ReadAll()
}

// build creates the units, teams and volunteers, then pushes and reviews n logs.
func (w *benchWorld) build(ctx context.Context, b *testing.B, n int) error {
	start := time.Now()
	rnd := rand.New(rand.NewSource(2026))
	list := filepath.Join("..", "..", "testdata", "units", "vn-admin-2025-03-01")
	districts, err := readCSV(filepath.Join(list, "districts.csv"))
	if err != nil {
		return err
	}
	wards, err := readCSV(filepath.Join(list, "wards.csv"))
	if err != nil {
		return err
	}
	unit := func(parent *int64, level, typ, code, name string, hh, adults int64) (int64, error) {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Name: name, Code: code}
		if code != "" {
			u.CodeList = "vn-admin-2025-03-01"
		}
		if hh > 0 {
			u.Households, u.Adults = &hh, &adults
		}
		return w.db.CreateUnit(ctx, u, fmt.Sprintf("bench/%s/%s/%d", level, code, rnd.Int63()))
	}
	if w.province, err = unit(nil, schema.LevelProvince, "Tỉnh", "87", "Tỉnh Đồng Tháp", 0, 0); err != nil {
		return err
	}
	districtID := map[string]int64{}
	for _, d := range districts[1:] {
		if d[6] != "87" {
			continue
		}
		id, err := unit(&w.province, schema.LevelDistrict, d[7], d[0], d[3], 0, 0)
		if err != nil {
			return err
		}
		districtID[d[0]] = id
		if d[0] == "867" {
			w.district = id
		}
	}
	var communes []int64
	hamlets := 0
	for _, c := range wards[1:] {
		if c[7] != "87" {
			continue
		}
		id, err := unit(ptr(districtID[c[6]]), schema.LevelCommune, c[8], c[0], c[3], 0, 0)
		if err != nil {
			return err
		}
		if c[0] == "29905" {
			w.commune = id
		}
		communes = append(communes, id)
		k := 10
		if len(communes) <= 90 {
			k = 11
		}
		typ := "ấp"
		if c[8] != "Xã" {
			typ = "khóm"
		}
		for i := 1; i <= k; i++ {
			hh := int64(250 + rnd.Intn(350))
			h, err := unit(&id, schema.LevelHamlet, typ, "", fmt.Sprintf("%s %d", strings.ToUpper(typ[:1])+typ[1:], i), hh, hh*26/10)
			if err != nil {
				return err
			}
			w.hamlets[id] = append(w.hamlets[id], h)
			hamlets++
		}
	}
	// Teams, volunteers with one phone each (a few with wrong clocks), an admin.
	err = w.db.Write(ctx, 0, func(tx *sqlite.Tx) error {
		now := benchNow.Format(time.RFC3339)
		res, err := tx.ExecContext(ctx, `INSERT INTO users (role, display_name, unit_id, username, password_hash, created_at)
			VALUES ('admin', 'Quản trị viên tỉnh', ?, 'admin.bench', 'x', ?)`, w.province, now)
		if err != nil {
			return err
		}
		admin, _ := res.LastInsertId()
		w.admin = schema.Actor{UserID: admin, Role: schema.RoleAdmin, UnitID: w.province, UnitPath: fmt.Sprintf("/%d/", w.province)}
		for _, c := range communes {
			var path, name string
			if err := tx.QueryRowContext(ctx, `SELECT path, name FROM units WHERE id = ?`, c).Scan(&path, &name); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO teams (unit_id, name, created_at, seq) VALUES (?, ?, ?, ?)`, c, "Tổ CNSCĐ "+name, now, tx.NextSeq())
			if err != nil {
				return err
			}
			team, _ := res.LastInsertId()
			for i := 0; i < 15; i++ {
				vname := familyNames[rnd.Intn(len(familyNames))] + " " + middleNames[rnd.Intn(len(middleNames))] + " " + givenNames[rnd.Intn(len(givenNames))]
				res, err := tx.ExecContext(ctx, `INSERT INTO users (role, display_name, unit_id, team_id, created_at) VALUES ('volunteer', ?, ?, ?, ?)`, vname, c, team, now)
				if err != nil {
					return err
				}
				vol, _ := res.LastInsertId()
				devID := fmt.Sprintf("android-bench-%d", vol)
				res, err = tx.ExecContext(ctx, `INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES (?, ?, 'Samsung Galaxy A05', ?)`, devID, vol, now)
				if err != nil {
					return err
				}
				row, _ := res.LastInsertId()
				off := time.Duration(0)
				switch rnd.Intn(20) {
				case 0:
					off = -48 * time.Hour
				case 1:
					off = 3 * time.Hour
				}
				w.devices = append(w.devices, benchDevice{offset: off, commune: c, actor: schema.Actor{UserID: vol, Role: schema.RoleVolunteer,
					UnitID: c, UnitPath: path, TeamID: team, DeviceRowID: row, DeviceID: devID}})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	w.persons = n * 3 / 10
	if w.persons > 1300000 {
		w.persons = 1300000
	}
	if w.persons < hamlets {
		w.persons = hamlets
	}
	w.total = n
	w.stats = benchBuild{Version: benchVersion, Logs: n, Persons: w.persons, Hamlets: hamlets, Volunteers: len(w.devices),
		Machine: fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpuModel())}
	benchHLC.Store(int64(hlc.FromTime(benchNow.Add(-300 * 24 * time.Hour))))

	// Pushes, in phases of 40 pushes per worker; every other phase without maintenance
	// (every CDTSYNC_BENCH_OFF_EVERY-th; 0: none, for the largest datasets, whose ingest
	// BenchmarkPushIngest measures afterwards).
	offEvery := 2
	if v, err := strconv.Atoi(os.Getenv("CDTSYNC_BENCH_OFF_EVERY")); err == nil && v >= 0 {
		offEvery = v
	}
	pushed, phase := 0, 0
	lastReport := time.Now()
	for pushed < n {
		off := offEvery > 0 && phase%offEvery == offEvery-1
		ph, err := w.phase(ctx, off, n-pushed, 40, true, int64(phase))
		if err != nil {
			return err
		}
		if off {
			w.stats.WithoutOps += ph.ops
			w.stats.WithoutSeconds += ph.seconds
			w.stats.CatchUpSeconds += ph.catchUp
		} else {
			w.stats.WithOps += ph.ops
			w.stats.WithSeconds += ph.seconds
		}
		pushed += ph.ops
		w.stats.Reviews += ph.reviews
		phase++
		if time.Since(lastReport) > time.Minute || pushed >= n {
			lastReport = time.Now()
			b.Logf("%d/%d logs after %s: %.0f ops/s with maintenance, %.0f without", pushed, n, time.Since(start).Round(time.Second),
				float64(w.stats.WithOps)/w.stats.WithSeconds, float64(w.stats.WithoutOps)/max(w.stats.WithoutSeconds, 1e-9))
		}
	}
	w.stats.BuildSeconds = time.Since(start).Seconds()
	if fi, err := os.Stat(w.db.Path()); err == nil {
		w.stats.DBBytes = fi.Size()
	}
	b.Logf("built: %+v", w.stats)
	return nil
}

func ptr(v int64) *int64 { return &v }

type phaseResult struct {
	ops, reviews     int
	seconds, catchUp float64
}

// phase runs four pushers, each pushing up to perWorker batches of 200 new logs (at most
// limit logs in all), approving 40 % of them if review, with aggregate maintenance off if
// off. Logs pushed without maintenance are caught up after the timing.
func (w *benchWorld) phase(ctx context.Context, off bool, limit, perWorker int, review bool, seed int64) (phaseResult, error) {
	const workers, batch = 4, schema.DefaultPushBatch
	var res phaseResult
	var since int64
	if off {
		since = currentSeq(ctx, w.db)
	}
	sqlite.SetReportsDisabled(off)
	var remaining atomic.Int64
	remaining.Store(int64(limit))
	take := func() int { // up to one batch of what is left
		for {
			r := remaining.Load()
			k := min(r, int64(batch))
			if k <= 0 || remaining.CompareAndSwap(r, r-k) {
				return int(k)
			}
		}
	}
	var wg sync.WaitGroup
	var ops, reviews atomic.Int64
	var firstErr atomic.Value
	t0 := time.Now()
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			r := rand.New(rand.NewSource(seed))
			for i := 0; i < perWorker; i++ {
				k := take()
				if k == 0 {
					return
				}
				nr, err := w.pushBatch(ctx, r, k, review)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				ops.Add(int64(k))
				w.done.Add(int64(k))
				reviews.Add(int64(nr))
			}
		}(seed*workers + int64(g) + benchRun)
	}
	wg.Wait()
	res.seconds = time.Since(t0).Seconds()
	sqlite.SetReportsDisabled(false)
	if e := firstErr.Load(); e != nil {
		return res, e.(error)
	}
	res.ops, res.reviews = int(ops.Load()), int(reviews.Load())
	if off {
		t1 := time.Now()
		if err := sqlite.CatchUpReports(ctx, w.db, since); err != nil {
			return res, err
		}
		res.catchUp = time.Since(t1).Seconds()
	}
	return res, nil
}

func currentSeq(ctx context.Context, db *sqlite.DB) int64 {
	s, err := sqlite.CurrentSeq(ctx, db)
	if err != nil {
		panic(err)
	}
	return s
}

var benchKinds = []struct {
	code   string
	weight int
}{{"vneid_install", 20}, {"vneid_level2", 20}, {"cashless_payment", 15}, {"digital_signature", 5},
	{"online_public_service", 10}, {"ecommerce", 5}, {"digital_skills", 8}, {"local_app", 12}, {"other", 5}}

func pickKind(r *rand.Rand) string {
	x := r.Intn(100)
	for _, k := range benchKinds {
		if x < k.weight {
			return k.code
		}
		x -= k.weight
	}
	return "other"
}

// pushBatch pushes k new logs of one volunteer's day in its commune, then, if review,
// approves about 40 % of them; it returns the number of decisions.
func (w *benchWorld) pushBatch(ctx context.Context, r *rand.Rand, k int, review bool) (int, error) {
	d := w.devices[r.Intn(len(w.devices))]
	hs := w.hamlets[d.commune]
	// Logs arrive in time order, as the year goes by: a push carries a volunteer's work of
	// the current day, or of a day or a few before when the phone was offline.
	lag := 0
	switch x := r.Intn(100); {
	case x < 25:
		lag = 1
	case x < 40:
		lag = 2 + r.Intn(5)
	}
	dayIdx := max(0, int(w.done.Load()*365/int64(max(w.total, 1)))-lag)
	dayIdx = min(dayIdx, 364)
	day := time.Date(2026, 1, 1, 0, 0, 0, 0, vn).AddDate(0, 0, dayIdx)
	ops := make([]schema.Op, 0, k)
	ids := make([]string, 0, k)
	totalHamlets := w.stats.Hamlets
	for i := 0; i < k; i++ {
		h := hs[r.Intn(len(hs))]
		t := day.Add(time.Duration(7*3600+r.Intn(13*3600)) * time.Second).Add(d.offset)
		kind := pickKind(r)
		f := map[string]any{"hamlet_id": h, "kind": kind, "occurred_at": t.Format(time.RFC3339)}
		if kind == "digital_skills" && r.Intn(2) == 0 {
			f["attendees"] = 10 + r.Intn(31)
		} else if r.Intn(10) != 0 {
			// Mostly residents of the hamlet; some from elsewhere in the commune.
			home := h
			if r.Intn(10) == 0 {
				home = hs[r.Intn(len(hs))]
			}
			p := int(home%int64(totalHamlets)) + totalHamlets*r.Intn(max(1, w.persons/totalHamlets))
			f["citizen_ref"], f["consent"] = fmt.Sprintf("%064x", 0xc0000000+p), true
			if r.Intn(10) < 6 {
				f["household_ref"] = fmt.Sprintf("%064x", 0x40000000+p/3)
			}
		}
		if r.Intn(100) < 6 {
			f["outcome"] = schema.OutcomeIncomplete
		}
		fields := make(map[string]json.RawMessage, len(f))
		for key, v := range f {
			fields[key], _ = json.Marshal(v)
		}
		id := benchUUID()
		ids = append(ids, id)
		ops = append(ops, schema.Op{OpID: benchUUID(), Type: schema.OpUpsert, ID: id,
			HLC: hlc.Timestamp(benchHLC.Add(1)).String(), Fields: fields})
	}
	resp, err := w.e.Push(ctx, d.actor, schema.PushRequest{DeviceTime: benchNow.Add(d.offset).Format(time.RFC3339), Ops: ops})
	if err != nil {
		return 0, err
	}
	for _, res := range resp.Results {
		if res.Status != schema.ResultApplied {
			return 0, fmt.Errorf("bench push: %s %s %s", res.Status, res.Code, res.Message)
		}
	}
	var decisions []engine.Decision
	for _, id := range ids {
		if review && r.Intn(10) < 4 {
			decisions = append(decisions, engine.Decision{ID: id, Status: schema.StatusApproved})
		}
	}
	if len(decisions) > 0 {
		if _, err := w.e.Review(ctx, w.admin, decisions); err != nil {
			return 0, err
		}
	}
	return len(decisions), nil
}

// load finds the units, hamlets and phones of a dataset built before.
func (w *benchWorld) load(ctx context.Context) error {
	ids, err := sqlite.BenchUnits(ctx, w.db)
	if err != nil {
		return err
	}
	w.province, w.district, w.commune = ids[0], ids[1], ids[2]
	if w.hamlets, err = sqlite.HamletsByCommune(ctx, w.db); err != nil {
		return err
	}
	actors, err := sqlite.VolunteerActors(ctx, w.db)
	if err != nil {
		return err
	}
	for _, a := range actors {
		w.devices = append(w.devices, benchDevice{actor: a, commune: a.UnitID})
	}
	w.persons = w.stats.Persons
	w.total = w.stats.Logs
	w.done.Store(int64(w.stats.Logs))
	w.admin, err = sqlite.AdminActor(ctx, w.db)
	benchHLC.Store(int64(hlc.FromTime(benchNow.Add(-time.Hour))))
	return err
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// BenchmarkReports times the coverage report of one commune (Phường 1, Sa Đéc), one
// district (Thành phố Sa Đéc) and the whole province, for a quarter, a month, the year
// and a period that starts and ends mid-month; the province's exports; and the team
// report.
func BenchmarkReports(b *testing.B) {
	w := getBenchWorld(b)
	ctx := context.Background()
	periods := []struct{ name, from, to string }{
		{"quarter", "2026-10-01", "2026-12-31"},
		{"month", "2026-11-01", "2026-11-30"},
		{"year", "2026-01-01", "2026-12-31"},
		{"mid-month", "2026-10-15", "2026-12-07"},
	}
	units := []struct {
		name string
		id   int64
	}{{"commune", w.commune}, {"district", w.district}, {"province", w.province}}
	for _, u := range units {
		for _, p := range periods {
			b.Run(fmt.Sprintf("coverage/%s/%s", u.name, p.name), func(b *testing.B) {
				f := schema.ReportFilter{Unit: &u.id, From: p.from, To: p.to}
				for i := 0; i < b.N; i++ {
					r, err := w.db.Coverage(ctx, w.admin, f)
					if err != nil || len(r.Levels) == 0 {
						b.Fatal(err)
					}
				}
			})
		}
	}
	for _, p := range periods[:3] {
		b.Run("xlsx/province/"+p.name, func(b *testing.B) {
			f := schema.ReportFilter{Unit: &w.province, From: p.from, To: p.to}
			for i := 0; i < b.N; i++ {
				r, err := w.db.Coverage(ctx, w.admin, f)
				if err != nil {
					b.Fatal(err)
				}
				if err := report.WriteCoverageXLSX(io.Discard, &r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("csv/province/year", func(b *testing.B) {
		f := schema.ReportFilter{Unit: &w.province, From: "2026-01-01", To: "2026-12-31"}
		for i := 0; i < b.N; i++ {
			r, err := w.db.Coverage(ctx, w.admin, f)
			if err != nil {
				b.Fatal(err)
			}
			if err := report.WriteCoverageCSV(io.Discard, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, u := range units {
		b.Run("teams/"+u.name+"/quarter", func(b *testing.B) {
			f := schema.ReportFilter{Unit: &u.id, From: "2026-10-01", To: "2026-12-31"}
			for i := 0; i < b.N; i++ {
				if _, err := w.db.TeamOutput(ctx, w.admin, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPushIngest times pushes of 200 new logs by four pushers in parallel (as phones
// arrive) into the benchmark database, in rounds that alternate a phase with aggregate
// maintenance and one without (CDTSYNC_BENCH_ROUNDS, default 4, of 25 pushes per pusher
// each; the order swaps every round). It reports the median ops/s of each and the ratio;
// every phase's rate is logged. Logs pushed without maintenance are caught up outside the
// timing. Run it with -benchtime 1x.
func BenchmarkPushIngest(b *testing.B) {
	w := getBenchWorld(b)
	ctx := context.Background()
	rounds := 4
	if v, err := strconv.Atoi(os.Getenv("CDTSYNC_BENCH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	// The pushes stay in the dataset: the default one is rebuilt next time; a dataset of
	// CDTSYNC_BENCH_DIR is kept (run this benchmark on a copy of it).
	defer func() {
		if os.Getenv("CDTSYNC_BENCH_DIR") == "" {
			os.Remove(filepath.Join(filepath.Dir(w.db.Path()), "bench-build.json"))
		} else {
			b.Logf("%s now holds the logs pushed by this benchmark as well", filepath.Dir(w.db.Path()))
		}
	}()
	for i := 0; i < b.N; i++ {
		var with, without []float64
		for r := 0; r < rounds; r++ {
			for _, off := range [][2]bool{{false, true}, {true, false}}[r%2] {
				ph, err := w.phase(ctx, off, 1<<30, 25, false, int64(1000+r*2))
				if err != nil {
					b.Fatal(err)
				}
				rate := float64(ph.ops) / ph.seconds
				if off {
					without = append(without, rate)
				} else {
					with = append(with, rate)
				}
			}
		}
		sort.Float64s(with)
		sort.Float64s(without)
		b.Logf("ops/s with maintenance: %.0f", with)
		b.Logf("ops/s without maintenance: %.0f", without)
		mw, mo := median(with), median(without)
		b.ReportMetric(mw, "ops/s-with")
		b.ReportMetric(mo, "ops/s-without")
		b.ReportMetric(mw/mo, "with/without")
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}
