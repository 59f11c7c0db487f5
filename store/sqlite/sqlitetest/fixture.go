// Package sqlitetest builds real SQLite databases for tests: a fresh file in t.TempDir()
// and a small deployment with real Vietnamese unit names.
package sqlitetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// MustOpen opens a new database in a temporary directory, closed when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return MustOpenDir(tb, tb.TempDir())
}

// MustOpenDir opens the database in dir, closed when the test ends.
func MustOpenDir(tb testing.TB, dir string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		tb.Fatalf("open database: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// Fixture is a small deployment: Tỉnh Đồng Tháp with two communes, their hamlets, a team
// in each, volunteers with enrolled phones, and a coordinator per commune.
type Fixture struct {
	Province, SaDec, TanDuong int64
	SaDecHamlets              []int64 // Khóm Vĩnh Phước, Khóm Cái Sơn, Ấp Đông Huề
	TanDuongHamlets           []int64 // Ấp Hậu Thành, Ấp Tân Lộc A
	SaDecTeam, TanDuongTeam   int64

	// Volunteers' devices: Hồng has two phones (HongA, HongB), Minh one, both in Sa Đéc;
	// Mai is in Tân Dương.
	HongA, HongB, Minh, Mai schema.Actor
	// Coordinators of each commune, and an officer of the province.
	CoordSaDec, CoordTanDuong, Officer schema.Actor
}

// MustFixture builds the fixture in db.
func MustFixture(tb testing.TB, db *sqlite.DB) *Fixture {
	tb.Helper()
	ctx := context.Background()
	f := &Fixture{}
	unit := func(parent *int64, level, typ, code, list, name string, hh int64) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Code: code, CodeList: list, Name: name}
		if hh > 0 {
			u.Households = &hh
		}
		origin := fmt.Sprintf("fixture/%s/%s", level, name)
		id, err := db.CreateUnit(ctx, u, origin)
		if err != nil {
			tb.Fatalf("create unit %s: %v", name, err)
		}
		return id
	}
	const list = "vn-admin-2026-04-30"
	f.Province = unit(nil, schema.LevelProvince, "Tỉnh", "82", list, "Tỉnh Đồng Tháp", 0)
	f.SaDec = unit(&f.Province, schema.LevelCommune, "Phường", "29905", list, "Phường Sa Đéc", 0)
	f.TanDuong = unit(&f.Province, schema.LevelCommune, "Xã", "30214", list, "Xã Tân Dương", 0)
	for _, n := range []string{"Khóm Vĩnh Phước", "Khóm Cái Sơn", "Ấp Đông Huề"} {
		f.SaDecHamlets = append(f.SaDecHamlets, unit(&f.SaDec, schema.LevelHamlet, "khóm", "", "", n, 420))
	}
	for _, n := range []string{"Ấp Hậu Thành", "Ấp Tân Lộc A"} {
		f.TanDuongHamlets = append(f.TanDuongHamlets, unit(&f.TanDuong, schema.LevelHamlet, "ấp", "", "", n, 380))
	}
	now := time.Now().UTC().Format(time.RFC3339)
	var err error
	werr := db.Write(ctx, 0, func(tx *sqlite.Tx) error {
		exec := func(q string, args ...any) int64 {
			if err != nil {
				return 0
			}
			res, e := tx.ExecContext(ctx, q, args...)
			if e != nil {
				err = e
				return 0
			}
			id, _ := res.LastInsertId()
			return id
		}
		team := func(unit int64, name string) int64 {
			return exec(`INSERT INTO teams (unit_id, name, created_at, seq) VALUES (?, ?, ?, ?)`, unit, name, now, tx.NextSeq())
		}
		f.SaDecTeam = team(f.SaDec, "Tổ CNSCĐ khóm Vĩnh Phước")
		f.TanDuongTeam = team(f.TanDuong, "Tổ CNSCĐ xã Tân Dương")
		volunteer := func(name string, unit, team int64) int64 {
			return exec(`INSERT INTO users (role, display_name, unit_id, team_id, created_at) VALUES ('volunteer', ?, ?, ?, ?)`, name, unit, team, now)
		}
		staff := func(role, name, username string, unit int64) int64 {
			return exec(`INSERT INTO users (role, display_name, unit_id, username, password_hash, created_at) VALUES (?, ?, ?, ?, 'x', ?)`, role, name, unit, username, now)
		}
		device := func(deviceID string, volunteer int64) int64 {
			return exec(`INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES (?, ?, 'Samsung Galaxy A05', ?)`, deviceID, volunteer, now)
		}
		hong := volunteer("Nguyễn Thị Hồng", f.SaDec, f.SaDecTeam)
		minh := volunteer("Trần Văn Minh", f.SaDec, f.SaDecTeam)
		mai := volunteer("Lê Thị Mai", f.TanDuong, f.TanDuongTeam)
		vol := func(user, unit, team int64, deviceID string) schema.Actor {
			return schema.Actor{UserID: user, Role: schema.RoleVolunteer, UnitID: unit, TeamID: team,
				DeviceRowID: device(deviceID, user), DeviceID: deviceID}
		}
		f.HongA = vol(hong, f.SaDec, f.SaDecTeam, "phone-hong-a")
		f.HongB = vol(hong, f.SaDec, f.SaDecTeam, "phone-hong-b")
		f.Minh = vol(minh, f.SaDec, f.SaDecTeam, "phone-minh")
		f.Mai = vol(mai, f.TanDuong, f.TanDuongTeam, "phone-mai")
		f.CoordSaDec = schema.Actor{UserID: staff("coordinator", "Phạm Thị Lan", "lan.sadec", f.SaDec), Role: schema.RoleCoordinator, UnitID: f.SaDec}
		f.CoordTanDuong = schema.Actor{UserID: staff("coordinator", "Võ Văn Tùng", "tung.tanduong", f.TanDuong), Role: schema.RoleCoordinator, UnitID: f.TanDuong}
		f.Officer = schema.Actor{UserID: staff("officer", "Đặng Quốc Bảo", "bao.dongthap", f.Province), Role: schema.RoleOfficer, UnitID: f.Province}
		return err
	})
	if werr != nil {
		tb.Fatalf("fixture: %v", werr)
	}
	for _, a := range []*schema.Actor{&f.HongA, &f.HongB, &f.Minh, &f.Mai, &f.CoordSaDec, &f.CoordTanDuong, &f.Officer} {
		u, err := db.Unit(ctx, a.UnitID)
		if err != nil {
			tb.Fatal(err)
		}
		a.UnitPath = u.Path
	}
	return f
}
