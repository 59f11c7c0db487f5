package pgtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/postgres"
	"github.com/cdtsync/cdtsync/store/sqlite/sqlitetest"
)

// MustFixture builds sqlitetest's fixture — Tỉnh Đồng Tháp with Phường Sa Đéc and Xã Tân
// Dương, their hamlets, a team in each, Hồng with two phones, Minh and Mai with one, a
// coordinator per commune and an officer — in a PostgreSQL database, with the same rows.
func MustFixture(tb testing.TB, db *postgres.DB) *sqlitetest.Fixture {
	tb.Helper()
	ctx := context.Background()
	f := &sqlitetest.Fixture{}
	unit := func(parent *int64, level, typ, code, list, name string, hh int64) int64 {
		u := schema.Unit{ParentID: parent, Level: level, UnitType: typ, Code: code, CodeList: list, Name: name}
		if hh > 0 {
			u.Households = &hh
		}
		id, err := db.CreateUnit(ctx, u, fmt.Sprintf("fixture/%s/%s", level, name))
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
	now := time.Now().UTC()
	var err error
	werr := db.Write(ctx, 0, func(tx *postgres.Tx) error {
		id := func(q string, args ...any) int64 {
			var v int64
			if err != nil {
				return 0
			}
			err = tx.QueryRow(ctx, q+` RETURNING id`, args...).Scan(&v)
			return v
		}
		team := func(unit int64, name string) int64 {
			return id(`INSERT INTO teams (unit_id, name, created_at) VALUES ($1, $2, $3)`, unit, name, now)
		}
		f.SaDecTeam = team(f.SaDec, "Tổ CNSCĐ khóm Vĩnh Phước")
		f.TanDuongTeam = team(f.TanDuong, "Tổ CNSCĐ xã Tân Dương")
		volunteer := func(name string, unit, team int64) int64 {
			return id(`INSERT INTO users (role, display_name, unit_id, team_id, created_at) VALUES ('volunteer', $1, $2, $3, $4)`, name, unit, team, now)
		}
		staff := func(role, name, username string, unit int64) int64 {
			return id(`INSERT INTO users (role, display_name, unit_id, username, password_hash, created_at) VALUES ($1, $2, $3, $4, 'x', $5)`,
				role, name, unit, username, now)
		}
		device := func(deviceID string, volunteer int64) int64 {
			return id(`INSERT INTO devices (device_id, volunteer_id, name, enrolled_at) VALUES ($1, $2, 'Samsung Galaxy A05', $3)`, deviceID, volunteer, now)
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
