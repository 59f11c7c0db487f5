package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/auth"
	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// testClock is a clock tests move by hand; safe for the writer goroutine to read.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// accessFixture is Tỉnh Đồng Tháp with two wards, Phường Sa Đéc and Phường Mỹ Trà, each
// with hamlets, a team, a coordinator and a volunteer; an admin and an officer of the
// province. Everything is made through the store's own methods.
type accessFixture struct {
	db  *sqlite.DB
	clk *testClock

	province, saDec, myTra      int64
	vinhPhuoc, caiSon, myThuong int64 // Khóm Vĩnh Phước, Khóm Cái Sơn (Sa Đéc); Khóm Mỹ Thượng (Mỹ Trà)
	teamSaDec, teamMyTra        int64
	volSaDec, volMyTra          schema.User

	admin, officer, coordSaDec, coordMyTra schema.Actor
}

func mustAccessFixture(t *testing.T) *accessFixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &accessFixture{db: db, clk: &testClock{t: time.Date(2026, 5, 4, 1, 30, 0, 0, time.UTC)}}
	db.Now = f.clk.Now
	unit := func(parent *int64, level, typ, code, name string) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Name: name}
		if code != "" {
			u.Code, u.CodeList = code, "vn-admin-2026-04-30"
		}
		id, err := db.CreateUnit(ctx, u, "test/"+level+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	f.province = unit(nil, schema.LevelProvince, "Tỉnh", "82", "Tỉnh Đồng Tháp")
	f.saDec = unit(&f.province, schema.LevelCommune, "Phường", "29905", "Phường Sa Đéc")
	f.myTra = unit(&f.province, schema.LevelCommune, "Phường", "29888", "Phường Mỹ Trà")
	f.vinhPhuoc = unit(&f.saDec, schema.LevelHamlet, "khóm", "", "Khóm Vĩnh Phước")
	f.caiSon = unit(&f.saDec, schema.LevelHamlet, "khóm", "", "Khóm Cái Sơn")
	f.myThuong = unit(&f.myTra, schema.LevelHamlet, "khóm", "", "Khóm Mỹ Thượng")

	hash := mustHash(t, "mật khẩu Đồng Tháp")
	adminUser, err := db.CreateUserUnscoped(ctx, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Quản trị viên Đồng Tháp",
		UnitID: f.province, Username: "admin.dongthap", PasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = mustActor(t, db, adminUser.ID, 0)
	staff := func(role, name, username string, unit int64) schema.Actor {
		u, err := db.CreateUser(ctx, f.admin, schema.NewUser{Role: role, DisplayName: name, UnitID: unit, Username: username, PasswordHash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return mustActor(t, db, u.ID, 0)
	}
	f.officer = staff(schema.RoleOfficer, "Đặng Quốc Bảo", "bao.dongthap", f.province)
	f.coordSaDec = staff(schema.RoleCoordinator, "Phạm Thị Lan", "lan.sadec", f.saDec)
	f.coordMyTra = staff(schema.RoleCoordinator, "Võ Văn Tùng", "tung.mytra", f.myTra)
	team := func(a schema.Actor, name string, unit int64) int64 {
		tm, err := db.CreateTeam(ctx, a, name, unit)
		if err != nil {
			t.Fatal(err)
		}
		return tm.ID
	}
	f.teamSaDec = team(f.coordSaDec, "Tổ CNSCĐ khóm Vĩnh Phước", f.saDec)
	f.teamMyTra = team(f.coordMyTra, "Tổ CNSCĐ phường Mỹ Trà", f.myTra)
	vol := func(a schema.Actor, name string, team int64) schema.User {
		u, err := db.CreateUser(ctx, a, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: name, TeamID: &team})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	f.volSaDec = vol(f.coordSaDec, "Nguyễn Thị Hồng", f.teamSaDec)
	f.volMyTra = vol(f.coordMyTra, "Lê Thị Mai", f.teamMyTra)
	return f
}

var (
	hashMemo = map[string]string{}
	hashMu   sync.Mutex
)

func mustHash(t testing.TB, pw string) string {
	t.Helper()
	hashMu.Lock()
	defer hashMu.Unlock()
	if h, ok := hashMemo[pw]; ok {
		return h
	}
	h, err := auth.HashPassword(pw, auth.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	hashMemo[pw] = h
	return h
}

func mustActor(t testing.TB, db *sqlite.DB, user, device int64) schema.Actor {
	t.Helper()
	a, err := db.ActorFor(context.Background(), user, device)
	if err != nil {
		t.Fatalf("ActorFor(%d, %d): %v", user, device, err)
	}
	return a
}

// enrol issues a code for the volunteer as a and redeems it on the phone deviceID; it
// returns the phone's actor and the first refresh token.
func (f *accessFixture) enrol(t *testing.T, a schema.Actor, volunteer int64, deviceID string) (schema.Actor, string) {
	t.Helper()
	ctx := context.Background()
	code := auth.NewEnrollmentCode()
	h, _ := auth.HashEnrollmentCode(code)
	if _, err := f.db.IssueEnrollment(ctx, a, volunteer, h, f.clk.Now().Add(auth.EnrollmentTTL)); err != nil {
		t.Fatal(err)
	}
	tok, th := auth.NewRefreshToken()
	got, err := f.db.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: h, DeviceID: deviceID, DeviceName: "Samsung Galaxy A05",
		Refresh: schema.RefreshGrant{Hash: th, FamilyID: auth.NewFamilyID(), ExpiresAt: f.clk.Now().Add(auth.RefreshTTLDevice)}})
	if err != nil {
		t.Fatal(err)
	}
	return mustActor(t, f.db, volunteer, got.Device.ID), tok
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := schema.ErrorCode(err); got != code {
		t.Fatalf("err = %v (code %q), want code %q", err, got, code)
	}
}

func TestActorScope(t *testing.T) {
	f := mustAccessFixture(t)
	if f.coordSaDec.UnitID != f.saDec || f.coordSaDec.Role != schema.RoleCoordinator {
		t.Fatalf("coordinator actor %+v", f.coordSaDec)
	}
	sd, _ := f.db.Unit(context.Background(), f.saDec)
	if f.coordSaDec.UnitPath != sd.Path || !f.coordSaDec.Covers(sd.Path+"99/") {
		t.Fatalf("actor path %q, unit path %q", f.coordSaDec.UnitPath, sd.Path)
	}
	// A volunteer's unit defaults to its team's.
	if f.volSaDec.UnitID != f.saDec || f.volSaDec.TeamID == nil || *f.volSaDec.TeamID != f.teamSaDec {
		t.Fatalf("volunteer %+v", f.volSaDec)
	}
}

func TestCreateTeam(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		tm, err := f.db.CreateTeam(ctx, f.coordSaDec, "  Tổ CNSCĐ khóm Cái Sơn ", f.caiSon)
		if err != nil || tm.Name != "Tổ CNSCĐ khóm Cái Sơn" || tm.UnitID != f.caiSon {
			t.Fatalf("%+v %v", tm, err)
		}
	})
	t.Run("ErrOtherCommune", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, f.coordMyTra, "Tổ lạ", f.vinhPhuoc)
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("ErrUnknownUnit", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, f.coordSaDec, "Tổ lạ", 99999)
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("ErrOfficer", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, f.officer, "Tổ lạ", f.saDec)
		wantCode(t, err, schema.CodeForbidden)
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, f.admin, "Tổ CNSCĐ khóm Vĩnh Phước", f.saDec)
		wantCode(t, err, schema.CodeConflict)
	})
	t.Run("ErrEmptyName", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, f.admin, " \t", f.saDec)
		wantCode(t, err, schema.CodeInvalid)
	})
	t.Run("ErrZeroActor", func(t *testing.T) {
		_, err := f.db.CreateTeam(ctx, schema.Actor{}, "Tổ lạ", f.saDec)
		wantCode(t, err, schema.CodeUnauthorized)
	})
}

func TestCreateUser(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	hash := mustHash(t, "mật khẩu Đồng Tháp")
	team := f.teamSaDec
	foreignTeam := f.teamMyTra
	cases := []struct {
		name  string
		actor schema.Actor
		user  schema.NewUser
		code  string
	}{
		{"OK", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &team, UnitID: f.vinhPhuoc}, ""},
		{"OKAdminOfficer", f.admin, schema.NewUser{Role: schema.RoleOfficer, DisplayName: "Huỳnh Thị Thu", UnitID: f.saDec, Username: "Thu.SaDec", PasswordHash: hash}, ""},
		{"ErrCoordinatorCreatesStaff", f.coordSaDec, schema.NewUser{Role: schema.RoleCoordinator, DisplayName: "Lê Văn Tám", UnitID: f.saDec, Username: "tam.sadec", PasswordHash: hash}, schema.CodeForbidden},
		{"ErrCoordinatorCreatesAdmin", f.coordSaDec, schema.NewUser{Role: schema.RoleAdmin, DisplayName: "Lê Văn Tám", UnitID: f.saDec, Username: "tam.sadec", PasswordHash: hash}, schema.CodeForbidden},
		{"ErrOfficerCreates", f.officer, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &team}, schema.CodeForbidden},
		{"ErrForeignTeam", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &foreignTeam}, schema.CodeNotFound},
		{"ErrForeignUnit", f.coordMyTra, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &foreignTeam, UnitID: f.vinhPhuoc}, schema.CodeNotFound},
		{"ErrUnitOutsideTeam", f.admin, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &team, UnitID: f.myThuong}, schema.CodeInvalid},
		{"ErrVolunteerWithoutTeam", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", UnitID: f.saDec}, schema.CodeInvalid},
		{"ErrVolunteerWithPassword", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &team, Username: "minh", PasswordHash: hash}, schema.CodeInvalid},
		{"ErrStaffPlainPassword", f.admin, schema.NewUser{Role: schema.RoleOfficer, DisplayName: "Huỳnh Thị Thu", UnitID: f.saDec, Username: "thu2", PasswordHash: "mật khẩu Đồng Tháp"}, schema.CodeInvalid},
		{"ErrStaffWithTeam", f.admin, schema.NewUser{Role: schema.RoleCoordinator, DisplayName: "Huỳnh Thị Thu", UnitID: f.saDec, TeamID: &team, Username: "thu3", PasswordHash: hash}, schema.CodeInvalid},
		{"ErrBadUsername", f.admin, schema.NewUser{Role: schema.RoleOfficer, DisplayName: "Huỳnh Thị Thu", UnitID: f.saDec, Username: "thu sa đéc", PasswordHash: hash}, schema.CodeInvalid},
		{"ErrUsernameTaken", f.admin, schema.NewUser{Role: schema.RoleOfficer, DisplayName: "Phạm Thị Lan", UnitID: f.saDec, Username: "LAN.SADEC", PasswordHash: hash}, schema.CodeConflict},
		{"ErrBadRole", f.admin, schema.NewUser{Role: "root", DisplayName: "X", UnitID: f.saDec}, schema.CodeInvalid},
		{"ErrAdminOutsideScope", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Trần Văn Minh", TeamID: &team, UnitID: f.province}, schema.CodeNotFound},
		{"ErrLongName", f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: string(make([]rune, 101)), TeamID: &team}, schema.CodeInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := f.db.CreateUser(ctx, tc.actor, tc.user)
			wantCode(t, err, tc.code)
			if tc.code == "" && (u.ID == 0 || u.Role != tc.user.Role) {
				t.Fatalf("created %+v", u)
			}
		})
	}
	t.Run("UsernameLowercased", func(t *testing.T) {
		c, err := f.db.StaffCredentials(ctx, "THU.sadec")
		if err != nil || c.Role != schema.RoleOfficer {
			t.Fatalf("%+v %v", c, err)
		}
	})
}

func TestListsStayInScope(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	team := f.teamSaDec
	for _, n := range []string{"Đặng Văn Út", "Dương Thị Bé", "Ánh Nguyệt"} {
		if _, err := f.db.CreateUser(ctx, f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: n, TeamID: &team}); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("Teams", func(t *testing.T) {
		teams, err := f.db.ListTeams(ctx, f.coordMyTra, nil)
		if err != nil || len(teams) != 1 || teams[0].ID != f.teamMyTra {
			t.Fatalf("%+v %v", teams, err)
		}
		teams, _ = f.db.ListTeams(ctx, f.officer, nil)
		if len(teams) != 2 {
			t.Fatalf("officer of the province sees %d teams, want 2", len(teams))
		}
		_, err = f.db.ListTeams(ctx, f.coordMyTra, &f.saDec)
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("Users", func(t *testing.T) {
		users, err := f.db.ListUsers(ctx, f.coordSaDec, schema.UserFilter{Role: schema.RoleVolunteer})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, u := range users {
			names = append(names, u.DisplayName)
		}
		// Vietnamese order: A-with-accents with A, D before Đ.
		want := "[Ánh Nguyệt Dương Thị Bé Đặng Văn Út Nguyễn Thị Hồng]"
		if fmt.Sprint(names) != want {
			t.Fatalf("volunteers %v, want %s", names, want)
		}
		users, _ = f.db.ListUsers(ctx, f.coordMyTra, schema.UserFilter{})
		for _, u := range users {
			if u.UnitID != f.myTra {
				t.Fatalf("coordinator of Mỹ Trà sees user %+v", u)
			}
		}
		_, err = f.db.ListUsers(ctx, f.coordMyTra, schema.UserFilter{TeamID: &team})
		wantCode(t, err, schema.CodeNotFound)
		_, err = f.db.ListUsers(ctx, f.coordMyTra, schema.UserFilter{UnitID: &f.vinhPhuoc})
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("Devices", func(t *testing.T) {
		f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-hong-1")
		f.enrol(t, f.coordMyTra, f.volMyTra.ID, "android-mai-1")
		ds, err := f.db.ListDevices(ctx, f.coordMyTra, schema.DeviceFilter{})
		if err != nil || len(ds) != 1 || ds[0].DeviceID != "android-mai-1" || ds[0].VolunteerName != "Lê Thị Mai" {
			t.Fatalf("%+v %v", ds, err)
		}
		vid := f.volSaDec.ID
		_, err = f.db.ListDevices(ctx, f.coordMyTra, schema.DeviceFilter{VolunteerID: &vid})
		wantCode(t, err, schema.CodeNotFound)
	})
}

func TestEnrollment(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	issue := func(t *testing.T, a schema.Actor, vol int64) string {
		t.Helper()
		h, _ := auth.HashEnrollmentCode(auth.NewEnrollmentCode())
		if _, err := f.db.IssueEnrollment(ctx, a, vol, h, f.clk.Now().Add(auth.EnrollmentTTL)); err != nil {
			t.Fatal(err)
		}
		return h
	}
	redeem := func(h, device string) (schema.Enrolled, error) {
		_, th := auth.NewRefreshToken()
		return f.db.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: h, DeviceID: device, DeviceName: "Oppo A17",
			Refresh: schema.RefreshGrant{Hash: th, FamilyID: auth.NewFamilyID(), ExpiresAt: f.clk.Now().Add(auth.RefreshTTLDevice)}})
	}
	t.Run("OK", func(t *testing.T) {
		got, err := redeem(issue(t, f.coordSaDec, f.volSaDec.ID), "android-7f3a")
		if err != nil || got.Volunteer.ID != f.volSaDec.ID || got.Device.DeviceID != "android-7f3a" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	t.Run("ErrUsedTwice", func(t *testing.T) {
		h := issue(t, f.coordSaDec, f.volSaDec.ID)
		if _, err := redeem(h, "android-1111"); err != nil {
			t.Fatal(err)
		}
		_, err := redeem(h, "android-2222")
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("RetryAfterLostAnswer", func(t *testing.T) {
		h := issue(t, f.coordSaDec, f.volSaDec.ID)
		retry := func(device string) (schema.Enrolled, string, error) {
			tok, th := auth.NewRefreshToken()
			got, err := f.db.RedeemEnrollment(ctx, schema.EnrollmentRedeem{CodeHash: h, DeviceID: device, DeviceName: "Oppo A17",
				Refresh:    schema.RefreshGrant{Hash: th, FamilyID: auth.NewFamilyID(), ExpiresAt: f.clk.Now().Add(auth.RefreshTTLDevice)},
				RetryGrace: auth.EnrollRetryGrace})
			return got, tok, err
		}
		first, firstTok, err := retry("android-4444")
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(time.Minute)
		again, _, err := retry("android-4444")
		if err != nil || again.Device.ID != first.Device.ID {
			t.Fatalf("the same phone retrying: %+v %v", again, err)
		}
		// The lost answer's session is revoked.
		_, err = f.db.RotateRefresh(ctx, schema.RefreshRotation{OldHash: auth.HashSecret(firstTok), NewHash: strings.Repeat("a", 64),
			StaffTTL: time.Hour, DeviceTTL: time.Hour})
		wantCode(t, err, schema.CodeUnauthorized)
		_, _, err = retry("android-5555") // another phone
		wantCode(t, err, schema.CodeUnauthorized)
		f.clk.Advance(auth.EnrollRetryGrace + time.Second)
		_, _, err = retry("android-4444") // too late
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrExpired", func(t *testing.T) {
		h := issue(t, f.coordSaDec, f.volSaDec.ID)
		f.clk.Advance(auth.EnrollmentTTL)
		_, err := redeem(h, "android-3333")
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrSuperseded", func(t *testing.T) {
		old := issue(t, f.coordSaDec, f.volSaDec.ID)
		issue(t, f.coordSaDec, f.volSaDec.ID)
		_, err := redeem(old, "android-4444")
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrUnknownCode", func(t *testing.T) {
		h, _ := auth.HashEnrollmentCode("00000-00000")
		_, err := redeem(h, "android-5555")
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrBadDeviceID", func(t *testing.T) {
		_, err := redeem(issue(t, f.coordSaDec, f.volSaDec.ID), "điện thoại của Hồng")
		wantCode(t, err, schema.CodeInvalid)
	})
	t.Run("ErrOtherCommune", func(t *testing.T) {
		h, _ := auth.HashEnrollmentCode(auth.NewEnrollmentCode())
		_, err := f.db.IssueEnrollment(ctx, f.coordMyTra, f.volSaDec.ID, h, f.clk.Now().Add(time.Hour))
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("ErrNotAVolunteer", func(t *testing.T) {
		h, _ := auth.HashEnrollmentCode(auth.NewEnrollmentCode())
		_, err := f.db.IssueEnrollment(ctx, f.admin, f.coordSaDec.UserID, h, f.clk.Now().Add(time.Hour))
		wantCode(t, err, schema.CodeInvalid)
	})
	t.Run("SharedPhone", func(t *testing.T) {
		a1, _ := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-shared")
		team := f.teamSaDec
		sister, err := f.db.CreateUser(ctx, f.coordSaDec, schema.NewUser{Role: schema.RoleVolunteer, DisplayName: "Nguyễn Thị Huệ", TeamID: &team})
		if err != nil {
			t.Fatal(err)
		}
		a2, _ := f.enrol(t, f.coordSaDec, sister.ID, "android-shared")
		if a1.DeviceRowID == a2.DeviceRowID || a1.DeviceID != a2.DeviceID || a1.UserID == a2.UserID {
			t.Fatalf("shared phone: %+v and %+v", a1, a2)
		}
	})
	t.Run("ReEnrolReactivates", func(t *testing.T) {
		a, tok := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-lost")
		if _, err := f.db.RevokeDevice(ctx, f.coordSaDec, a.DeviceRowID); err != nil {
			t.Fatal(err)
		}
		if _, err := f.db.ActorFor(ctx, a.UserID, a.DeviceRowID); schema.ErrorCode(err) != schema.CodeUnauthorized {
			t.Fatalf("revoked device still acts: %v", err)
		}
		b, _ := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-lost")
		if b.DeviceRowID != a.DeviceRowID {
			t.Fatalf("re-enrolment made a new row %d, want %d", b.DeviceRowID, a.DeviceRowID)
		}
		// The old installation's refresh token does not come back to life.
		_, nh := auth.NewRefreshToken()
		_, err := f.db.RotateRefresh(ctx, schema.RefreshRotation{OldHash: auth.HashSecret(tok), NewHash: nh, DeviceTTL: time.Hour, StaffTTL: time.Hour})
		wantCode(t, err, schema.CodeUnauthorized)
	})
}

func TestActorFor(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	phone, _ := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-7f3a")
	if phone.TeamID != f.teamSaDec || phone.DeviceID != "android-7f3a" || phone.Role != schema.RoleVolunteer {
		t.Fatalf("%+v", phone)
	}
	other, _ := f.enrol(t, f.coordMyTra, f.volMyTra.ID, "android-mai")
	cases := []struct {
		name         string
		user, device int64
	}{
		{"ErrUnknownUser", 9999, 0},
		{"ErrVolunteerWithoutDevice", f.volSaDec.ID, 0},
		{"ErrStaffWithDevice", f.coordSaDec.UserID, phone.DeviceRowID},
		{"ErrSomeoneElsesDevice", f.volSaDec.ID, other.DeviceRowID},
		{"ErrUnknownDevice", f.volSaDec.ID, 9999},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.db.ActorFor(ctx, tc.user, tc.device)
			wantCode(t, err, schema.CodeUnauthorized)
		})
	}
}

func TestRevokeUser(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	phone, tok := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-7f3a")
	t.Run("ErrOtherCommune", func(t *testing.T) {
		_, err := f.db.RevokeUser(ctx, f.coordMyTra, f.volSaDec.ID)
		wantCode(t, err, schema.CodeNotFound)
	})
	t.Run("ErrCoordinatorRevokesStaff", func(t *testing.T) {
		_, err := f.db.RevokeUser(ctx, f.coordSaDec, f.officer.UserID)
		wantCode(t, err, schema.CodeNotFound) // the province officer is not in the ward's scope
		lan2, err := f.db.CreateUser(ctx, f.admin, schema.NewUser{Role: schema.RoleCoordinator, DisplayName: "Phạm Văn Hai", UnitID: f.saDec,
			Username: "hai.sadec", PasswordHash: mustHash(t, "mật khẩu Đồng Tháp")})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.db.RevokeUser(ctx, f.coordSaDec, lan2.ID)
		wantCode(t, err, schema.CodeForbidden)
	})
	t.Run("ErrSelf", func(t *testing.T) {
		_, err := f.db.RevokeUser(ctx, f.admin, f.admin.UserID)
		wantCode(t, err, schema.CodeForbidden)
	})
	t.Run("OK", func(t *testing.T) {
		u, err := f.db.RevokeUser(ctx, f.coordSaDec, f.volSaDec.ID)
		if err != nil || u.RevokedAt == "" {
			t.Fatalf("%+v %v", u, err)
		}
		_, err = f.db.ActorFor(ctx, phone.UserID, phone.DeviceRowID)
		wantCode(t, err, schema.CodeUnauthorized)
		ds, _ := f.db.ListDevices(ctx, f.coordSaDec, schema.DeviceFilter{IncludeRevoked: true})
		for _, d := range ds {
			if d.RevokedAt == "" {
				t.Fatalf("device %+v of a revoked user is still active", d)
			}
		}
		_, nh := auth.NewRefreshToken()
		_, err = f.db.RotateRefresh(ctx, schema.RefreshRotation{OldHash: auth.HashSecret(tok), NewHash: nh, DeviceTTL: time.Hour, StaffTTL: time.Hour})
		wantCode(t, err, schema.CodeUnauthorized)
		h, _ := auth.HashEnrollmentCode(auth.NewEnrollmentCode())
		_, err = f.db.IssueEnrollment(ctx, f.coordSaDec, f.volSaDec.ID, h, f.clk.Now().Add(time.Hour))
		wantCode(t, err, schema.CodeConflict)
	})
}

func TestRefreshRotation(t *testing.T) {
	f := mustAccessFixture(t)
	ctx := context.Background()
	rot := func(old string) (string, schema.Session, error) {
		tok, h := auth.NewRefreshToken()
		s, err := f.db.RotateRefresh(ctx, schema.RefreshRotation{OldHash: auth.HashSecret(old), NewHash: h,
			StaffTTL: auth.RefreshTTLStaff, DeviceTTL: auth.RefreshTTLDevice, ReuseGrace: auth.RefreshReuseGrace})
		return tok, s, err
	}
	t.Run("OK", func(t *testing.T) {
		phone, t0 := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-ok")
		t1, s, err := rot(t0)
		if err != nil || s.UserID != f.volSaDec.ID || s.DeviceRow != phone.DeviceRowID || s.DeviceID != "android-ok" {
			t.Fatalf("%+v %v", s, err)
		}
		if want := f.clk.Now().Add(auth.RefreshTTLDevice); !s.ExpiresAt.Equal(want) {
			t.Fatalf("device token expires %v, want %v", s.ExpiresAt, want)
		}
		if _, _, err := rot(t1); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ErrReuseRevokesFamily", func(t *testing.T) {
		_, t0 := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-reuse")
		t1, _, err := rot(t0)
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(auth.RefreshReuseGrace + time.Second)
		_, _, err = rot(t0)
		var reuse *schema.RefreshReuse
		if !errors.As(err, &reuse) || schema.ErrorCode(err) != schema.CodeUnauthorized {
			t.Fatalf("reuse: err = %v, want *schema.RefreshReuse", err)
		}
		// The thief's successor and the owner's are both dead now.
		_, _, err = rot(t1)
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrReuseAfterSuccessorUsed", func(t *testing.T) {
		_, t0 := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-reuse2")
		t1, _, _ := rot(t0)
		t2, _, err := rot(t1)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rot(t0) // within the grace, but the successor was used: theft
		var reuse *schema.RefreshReuse
		if !errors.As(err, &reuse) {
			t.Fatalf("err = %v, want *schema.RefreshReuse", err)
		}
		_, _, err = rot(t2)
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("RetryWithinGrace", func(t *testing.T) {
		_, t0 := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-3g")
		lost, _, err := rot(t0) // the answer is lost on the way to the phone
		if err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(20 * time.Second)
		t1, _, err := rot(t0)
		if err != nil {
			t.Fatalf("retry after a lost answer refused: %v", err)
		}
		if _, _, err := rot(t1); err != nil {
			t.Fatalf("token from the retry refused: %v", err)
		}
		// The successor the phone never received is dead; presenting it is theft.
		_, _, err = rot(lost)
		var reuse *schema.RefreshReuse
		if !errors.As(err, &reuse) {
			t.Fatalf("err = %v, want *schema.RefreshReuse", err)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		hash := mustHash(t, "mật khẩu Đồng Tháp")
		_ = hash
		tok, h := auth.NewRefreshToken()
		if err := f.db.StartSession(ctx, f.coordSaDec.UserID, schema.RefreshGrant{Hash: h, FamilyID: auth.NewFamilyID(),
			ExpiresAt: f.clk.Now().Add(auth.RefreshTTLStaff)}); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(auth.RefreshTTLStaff)
		_, _, err := rot(tok)
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("ErrUnknown", func(t *testing.T) {
		tok, _ := auth.NewRefreshToken()
		_, _, err := rot(tok)
		wantCode(t, err, schema.CodeUnauthorized)
	})
	t.Run("SignOut", func(t *testing.T) {
		_, t0 := f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-out")
		s, ok, err := f.db.EndSession(ctx, auth.HashSecret(t0))
		if err != nil || !ok || s.UserID != f.volSaDec.ID {
			t.Fatalf("%+v %v %v", s, ok, err)
		}
		_, _, err = rot(t0)
		wantCode(t, err, schema.CodeUnauthorized)
		if _, ok, err := f.db.EndSession(ctx, auth.HashSecret(t0+"x")); ok || err != nil {
			t.Fatalf("unknown token: %v %v", ok, err)
		}
	})
}

func TestPruneCredentials(t *testing.T) {
	f := mustAccessFixture(t)
	f.enrol(t, f.coordSaDec, f.volSaDec.ID, "android-old")
	f.clk.Advance(auth.RefreshTTLDevice + time.Hour)
	n, err := f.db.PruneCredentials(context.Background(), f.clk.Now())
	if err != nil || n != 2 {
		t.Fatalf("pruned %d, %v; want the code and the token", n, err)
	}
}
