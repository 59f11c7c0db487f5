package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/server"
	"github.com/cdtsync/cdtsync/store/sqlite"
	"github.com/cdtsync/cdtsync/sync/engine"
	"github.com/cdtsync/cdtsync/sync/hlc"
)

// A real cdtsync for the dashboard's tests: the server of `cdtsync serve` over a real
// SQLite file in t.TempDir(), listening on 127.0.0.1:0, with a deployment in Tỉnh Đồng
// Tháp recorded through the sync engine as phones would push it:
//
//   - Phường Sa Đéc: Khóm Vĩnh Phước, Khóm Cái Sơn and Ấp Đông Huề, with household and
//     adult counts and November targets; two teams; Nguyễn Thị Hồng with two phones,
//     Trần Văn Minh whose phone's clock is two hours behind and whose outbox has held
//     work for six days; logs pending and approved, an incomplete attempt, a conflict
//     (Hồng edited one note on both phones) and a duplicate (Minh recorded a level-2 e-ID
//     activation already recorded by Hồng);
//   - Xã Tân Dương: Ấp Hậu Thành and Ấp Tân Lộc A, a team and Lê Thị Mai's logs.
//
// The clock stands at 10:00 on 23/11/2026, Vietnam time.

// staffPassword is every staff account's password.
const staffPassword = "Sen hồng Sa Đéc 2026"

// fixedNow is the site's clock: 10:00 on 23 November 2026 in Vietnam.
var fixedNow = time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

type site struct {
	URL   string
	DB    *sqlite.DB
	Clock *clock
	Key   []byte // the citizen key

	Province, SaDec, TanDuong  int64
	VinhPhuoc, CaiSon, DongHue int64
	HauThanh                   int64
	TeamVinhPhuoc, TeamDongHue int64
	TeamTanDuong               int64
	Admin, CoordSaDec, CoordTD schema.Actor
	Officer                    schema.Actor
	HongA, HongB, Minh, Mai    schema.Actor
	ToApprove                  string // a pending level-2 activation in Khóm Vĩnh Phước, for a person not counted yet
	Conflict, Duplicate, Canon string // logs: the conflict, the duplicate and the log it yields to
	TanDuongLog                string // a log of Xã Tân Dương
	approvedVinhPhuoc          int
}

// siteOptions change the server.
type siteOptions struct {
	TrustProxy bool
}

// note of the log the tests approve.
const toApproveNote = "Bà Năm, 78 tuổi, kích hoạt mức 2 tại nhà"

func newSite(t testing.TB, opts siteOptions) *site {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &site{DB: db, Clock: &clock{t: fixedNow}}
	db.Now = s.Clock.Now
	keys, err := auth.LoadKeys(filepath.Join(dir, auth.KeyDir), s.Clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(db, s.Clock.Now)
	srv := server.New(server.Config{
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:            s.Clock.Now,
		Health:         db,
		Keys:           keys,
		Accounts:       db,
		Units:          db,
		Sync:           eng,
		Reviews:        db,
		Reports:        db,
		TrustProxy:     opts.TrustProxy,
		PasswordParams: auth.TestParams,
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln, 5*time.Second) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	s.URL = "http://" + ln.Addr().String()
	s.build(t, eng)
	return s
}

func (s *site) build(t testing.TB, eng *engine.Engine) {
	t.Helper()
	ctx := context.Background()
	db := s.DB
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	n := func(v int64) *int64 { return &v }
	unit := func(parent *int64, level, typ, code, name string, households, adults *int64) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Name: name, Households: households, Adults: adults}
		if code != "" {
			u.Code, u.CodeList = code, "vn-admin-2026-04-30"
		}
		id, err := db.CreateUnit(ctx, u, "webtest/"+level+"/"+name)
		must(err)
		return id
	}
	s.Province = unit(nil, schema.LevelProvince, "Tỉnh", "82", "Tỉnh Đồng Tháp", nil, nil)
	s.SaDec = unit(&s.Province, schema.LevelCommune, "Phường", "29905", "Phường Sa Đéc", n(2904), n(7020))
	s.TanDuong = unit(&s.Province, schema.LevelCommune, "Xã", "30214", "Xã Tân Dương", n(1650), n(4100))
	s.VinhPhuoc = unit(&s.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Vĩnh Phước", n(1284), n(3120))
	s.CaiSon = unit(&s.SaDec, schema.LevelHamlet, "khóm", "", "Khóm Cái Sơn", n(980), n(2400))
	s.DongHue = unit(&s.SaDec, schema.LevelHamlet, "ấp", "", "Ấp Đông Huề", n(640), n(1500))
	s.HauThanh = unit(&s.TanDuong, schema.LevelHamlet, "ấp", "", "Ấp Hậu Thành", n(900), n(2200))
	unit(&s.TanDuong, schema.LevelHamlet, "ấp", "", "Ấp Tân Lộc A", n(750), n(1900))

	hash, err := auth.HashPassword(staffPassword, auth.TestParams)
	must(err)
	admin, err := db.CreateUserUnscoped(ctx, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Quản trị viên tỉnh",
		UnitID: s.Province, Username: "admin.dongthap", PasswordHash: hash})
	must(err)
	actor := func(id, row int64) schema.Actor {
		a, err := db.ActorFor(ctx, id, row)
		must(err)
		return a
	}
	s.Admin = actor(admin.ID, 0)
	staff := func(role, name, username string, unit int64) schema.Actor {
		u, err := db.CreateUser(ctx, s.Admin, schema.NewUser{Role: role, DisplayName: name, UnitID: unit, Username: username, PasswordHash: hash})
		must(err)
		return actor(u.ID, 0)
	}
	s.Officer = staff(schema.RoleOfficer, "Đặng Quốc Bảo", "bao.dongthap", s.Province)
	s.CoordSaDec = staff(schema.RoleCoordinator, "Phạm Thị Lan", "lan.sadec", s.SaDec)
	s.CoordTD = staff(schema.RoleCoordinator, "Võ Văn Tùng", "tung.tanduong", s.TanDuong)
	team := func(by schema.Actor, name string, unit int64) int64 {
		tm, err := db.CreateTeam(ctx, by, name, unit)
		must(err)
		return tm.ID
	}
	s.TeamVinhPhuoc = team(s.CoordSaDec, "Tổ CNSCĐ khóm Vĩnh Phước", s.SaDec)
	s.TeamDongHue = team(s.CoordSaDec, "Tổ CNSCĐ ấp Đông Huề", s.SaDec)
	s.TeamTanDuong = team(s.CoordTD, "Tổ CNSCĐ xã Tân Dương", s.TanDuong)
	volunteer := func(by schema.Actor, name string, team int64) int64 {
		u, err := db.CreateUser(ctx, by, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: name, TeamID: &team})
		must(err)
		return u.ID
	}
	phone := func(by schema.Actor, volunteer int64, deviceID, deviceName string) schema.Actor {
		code := auth.NewEnrollmentCode()
		h, _ := auth.HashEnrollmentCode(code)
		_, err := db.IssueEnrollment(ctx, by, volunteer, h, s.Clock.Now().Add(auth.EnrollmentTTL))
		must(err)
		_, rh := auth.NewRefreshToken()
		got, err := db.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: h, DeviceID: deviceID, DeviceName: deviceName,
			Refresh: schema.RefreshGrant{Hash: rh, FamilyID: auth.NewFamilyID(), ExpiresAt: s.Clock.Now().Add(auth.RefreshTTLDevice)}})
		must(err)
		return actor(volunteer, got.Device.ID)
	}
	hong := volunteer(s.CoordSaDec, "Nguyễn Thị Hồng", s.TeamVinhPhuoc)
	s.HongA = phone(s.CoordSaDec, hong, "android-hong-7f3a", "Redmi của Hồng")
	s.HongB = phone(s.CoordSaDec, hong, "android-hong-b210", "Máy tính bảng của Hồng")
	s.Minh = phone(s.CoordSaDec, volunteer(s.CoordSaDec, "Trần Văn Minh", s.TeamDongHue), "android-minh-51c0", "Samsung A05 của Minh")
	s.Mai = phone(s.CoordTD, volunteer(s.CoordTD, "Lê Thị Mai", s.TeamTanDuong), "android-mai-2c9d", "Oppo của Mai")

	// Targets for November 2026.
	_, err = db.ImportTargets(ctx, []report.TargetRow{
		{Line: 2, UnitID: s.SaDec, Metric: schema.MetricPeople, Period: "2026-11", Value: 30},
		{Line: 3, UnitID: s.VinhPhuoc, Metric: schema.MetricPeople, Period: "2026-11", Value: 12},
		{Line: 4, UnitID: s.CaiSon, Metric: schema.MetricPeople, Period: "2026-11", Value: 8},
		{Line: 5, UnitID: s.DongHue, Metric: schema.MetricPeople, Period: "2026-11", Value: 6},
		{Line: 6, UnitID: s.VinhPhuoc, Metric: "vneid_level2", Period: "2026-11", Value: 10},
	}, "webtest")
	must(err)
	if s.Key, err = db.CitizenKey(ctx); err != nil {
		t.Fatal(err)
	}

	// Activity, pushed as the phones would.
	seq := 0
	id := func() string {
		seq++
		return fmt.Sprintf("019a%04x-0000-7000-8000-00000000%04x", seq, seq)
	}
	day := func(d, hour int) time.Time {
		return time.Date(2026, 11, d, hour, 15, 0, 0, time.FixedZone("ICT", 7*3600))
	}
	type rec struct {
		hamlet   int64
		kind     string
		at       time.Time
		cccd     string
		house    string
		note     string
		outcome  string
		attendee int
	}
	push := func(a schema.Actor, deviceClock time.Duration, pending int, ops ...schema.Op) {
		t.Helper()
		req := schema.PushRequest{DeviceTime: s.Clock.Now().Add(deviceClock).Format(time.RFC3339), Ops: ops}
		if pending > 0 {
			req.PendingOps, req.OldestPendingAt = &pending, s.Clock.Now().Add(-6*24*time.Hour).Format(time.RFC3339)
		}
		resp, err := eng.Push(ctx, a, req)
		must(err)
		for _, r := range resp.Results {
			if r.Status != schema.ResultApplied {
				t.Fatalf("push: %+v", r)
			}
		}
	}
	hlcAt := func(tm time.Time) string { return hlc.FromTime(tm).String() }
	create := func(logID string, r rec) schema.Op {
		f := map[string]any{"hamlet_id": r.hamlet, "kind": r.kind, "occurred_at": r.at.Format(time.RFC3339)}
		if r.cccd != "" {
			ref, err := schema.CitizenRef(s.Key, r.cccd)
			must(err)
			f["citizen_ref"], f["consent"] = ref, true
		}
		if r.house != "" {
			ref, err := schema.HouseholdRef(s.Key, r.house)
			must(err)
			f["household_ref"], f["consent"] = ref, true
		}
		if r.note != "" {
			f["note"] = r.note
		}
		if r.outcome != "" {
			f["outcome"] = r.outcome
		}
		if r.attendee > 0 {
			f["attendees"] = r.attendee
		}
		return schema.Op{OpID: id(), Type: schema.OpUpsert, ID: logID, HLC: hlcAt(r.at), Fields: raw(f)}
	}
	var hongLogs []string
	var ops []schema.Op
	for i, who := range []string{"Ông Sáu", "Bà Tư", "Chị Hai", "Anh Ba", "Cô Bảy", "Chú Tám"} {
		l := id()
		hongLogs = append(hongLogs, l)
		ops = append(ops, create(l, rec{hamlet: s.VinhPhuoc, kind: "vneid_level2", at: day(2+3*i, 9),
			cccd: fmt.Sprintf("0870%08d", 1000+i), house: fmt.Sprintf("VP-%02d", i/2), note: who + " đã kích hoạt định danh mức 2"}))
	}
	// A group session: 15 attendees, no one person recorded.
	ops = append(ops, create(id(), rec{hamlet: s.VinhPhuoc, kind: "digital_skills", at: day(12, 19), attendee: 15,
		note: "Buổi hướng dẫn dùng điện thoại thông minh ở nhà văn hoá khóm"}))
	s.ToApprove = id()
	ops = append(ops, create(s.ToApprove, rec{hamlet: s.VinhPhuoc, kind: "vneid_level2", at: day(22, 16), cccd: "087099990011",
		note: toApproveNote}))
	push(s.HongA, 0, 0, ops...)
	// Minh's phone is two hours behind, and its outbox has held work for six days.
	ops = nil
	for i := 0; i < 4; i++ {
		ops = append(ops, create(id(), rec{hamlet: s.CaiSon, kind: "cashless_payment", at: day(5+i*4, 10).Add(-2 * time.Hour),
			cccd: fmt.Sprintf("0870%08d", 2000+i), house: fmt.Sprintf("CS-%02d", i), note: "Hướng dẫn quét mã QR thanh toán ở chợ Sa Đéc"}))
	}
	ops = append(ops, create(id(), rec{hamlet: s.DongHue, kind: "vneid_level2", at: day(18, 14).Add(-2 * time.Hour),
		cccd: "087000003000", note: "Ảnh chân dung bị mờ, hẹn chụp lại", outcome: schema.OutcomeIncomplete}))
	ops = append(ops, create(id(), rec{hamlet: s.DongHue, kind: "digital_skills", at: day(19, 19).Add(-2 * time.Hour),
		note: "Buổi phổ cập kỹ năng số tại nhà văn hoá ấp", attendee: 24}))
	// A duplicate: Minh records Ông Sáu's level-2 activation again, later.
	s.Duplicate, s.Canon = id(), hongLogs[0]
	ops = append(ops, create(s.Duplicate, rec{hamlet: s.VinhPhuoc, kind: "vneid_level2", at: day(21, 8).Add(-2 * time.Hour),
		cccd: "087000001000", note: "Ông Sáu nhờ kích hoạt lại"}))
	push(s.Minh, -2*time.Hour, 5, ops...)
	// A conflict: Hồng edits the note of Cô Bảy's log on both phones, each from the same version.
	s.Conflict = hongLogs[4]
	base := hlcAt(day(14, 9))
	edit := func(logID, note string, at time.Time) schema.Op {
		return schema.Op{OpID: id(), Type: schema.OpUpsert, ID: logID, HLC: hlcAt(at), Base: base, Fields: raw(map[string]any{"note": note})}
	}
	push(s.HongB, 0, 0, edit(s.Conflict, "Cô Bảy: đã kích hoạt, cần hướng dẫn thêm", day(15, 8)))
	push(s.HongA, 0, 0, edit(s.Conflict, "Cô Bảy đã kích hoạt định danh mức 2 (sửa)", day(15, 9)))
	// Tân Dương.
	s.TanDuongLog = id()
	push(s.Mai, 0, 0, create(s.TanDuongLog, rec{hamlet: s.HauThanh, kind: "vneid_install", at: day(20, 9), cccd: "087000009001",
		note: "Ấp Hậu Thành: cài VNeID cho bà Chín"}),
		create(id(), rec{hamlet: s.HauThanh, kind: "online_public_service", at: day(21, 9), cccd: "087000009002"}))
	// The coordinator approved Hồng's first two logs.
	res, err := eng.Review(ctx, s.CoordSaDec, []engine.Decision{{ID: hongLogs[0], Status: schema.StatusApproved},
		{ID: hongLogs[1], Status: schema.StatusApproved}})
	must(err)
	for _, r := range res {
		if !r.OK {
			t.Fatalf("review: %+v", r)
		}
	}
	s.approvedVinhPhuoc = 2
}

func raw(m map[string]any) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	for k, v := range m {
		b, _ := json.Marshal(v)
		out[k] = b
	}
	return out
}

// apiToken signs a staff member in to the JSON API.
func (s *site) apiToken(t testing.TB, username string) string {
	t.Helper()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, username, staffPassword)
	resp, err := http.Post(s.URL+"/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("API sign-in %s: %d %s", username, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.AccessToken
}

// apiCoverage asks GET /v1/reports/coverage.
func (s *site) apiCoverage(t testing.TB, token string, query string) schema.CoverageReport {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/v1/reports/coverage?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r schema.CoverageReport
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("coverage %s: %d %s", query, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// row finds a unit's row in a coverage report.
func row(t testing.TB, r schema.CoverageReport, unit int64) schema.CoverageRow {
	t.Helper()
	for _, l := range r.Levels {
		for _, x := range l.Rows {
			if x.UnitID == unit {
				return x
			}
		}
	}
	t.Fatalf("unit %d not in the coverage report", unit)
	return schema.CoverageRow{}
}
