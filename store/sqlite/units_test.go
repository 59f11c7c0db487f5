package sqlite_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

func impNames(us []schema.Unit) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Name
	}
	return out
}

func TestListUnits(t *testing.T) {
	ctx := context.Background()
	db := impOpen(t)
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2026, impCodeList026), "01", "38", "82", "86", "91")}); err != nil {
		t.Fatal(err)
	}
	impImport(t, db, impCurated, "")
	dongThap := impUnit(t, db, impCodeList026, "82")
	saDec := impUnit(t, db, impCodeList026, "29905")
	haNoi := impUnit(t, db, impCodeList026, "01")
	officer := schema.Actor{UserID: 1, Role: schema.RoleOfficer, UnitID: dongThap.ID, UnitPath: dongThap.Path}
	coord := schema.Actor{UserID: 2, Role: schema.RoleCoordinator, UnitID: saDec.ID, UnitPath: saDec.Path}

	t.Run("OwnUnit", func(t *testing.T) {
		us, err := db.ListUnits(ctx, officer, nil, false)
		if err != nil || len(us) != 1 || us[0].ID != dongThap.ID {
			t.Fatalf("ListUnits(nil) = %v, %v; want Tỉnh Đồng Tháp", impNames(us), err)
		}
	})
	t.Run("VietnameseOrder", func(t *testing.T) {
		us, err := db.ListUnits(ctx, officer, &dongThap.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(us) != 102 {
			t.Fatalf("%d communes, want 102", len(us))
		}
		// Đ sorts after D (bytes would put it last); ơ before ư (bytes: ư before ơ).
		names := impNames(us)
		want := []string{"Phường An Bình", "Phường Bình Xuân", "Phường Cai Lậy", "Phường Cao Lãnh", "Phường Đạo Thạnh", "Phường Gò Công"}
		if !reflect.DeepEqual(names[:len(want)], want) {
			t.Errorf("first communes = %v, want %v", names[:len(want)], want)
		}
		pos := map[string]int{}
		for i, n := range names {
			pos[n] = i
		}
		if !(pos["Phường Thanh Hoà"] < pos["Phường Thới Sơn"] && pos["Phường Thới Sơn"] < pos["Phường Thường Lạc"]) {
			t.Errorf("Thanh Hoà, Thới Sơn, Thường Lạc at %d, %d, %d", pos["Phường Thanh Hoà"], pos["Phường Thới Sơn"], pos["Phường Thường Lạc"])
		}
		if !strings.HasPrefix(names[len(names)-1], "Xã ") {
			t.Errorf("last = %s, want a Xã after every Phường", names[len(names)-1])
		}
	})
	t.Run("Hamlets", func(t *testing.T) {
		us, err := db.ListUnits(ctx, coord, &saDec.ID, false)
		if err != nil {
			t.Fatal(err)
		}
		names := impNames(us)
		if len(us) != 19 || names[0] != "Ấp Đông Giang" || names[len(names)-1] != "Khóm Vườn Hồng" {
			t.Errorf("Sa Đéc's hamlets = %v", names)
		}
	})
	t.Run("ErrParentOutsideScope", func(t *testing.T) {
		for name, tc := range map[string]struct {
			actor  schema.Actor
			parent int64
		}{
			"OtherProvince": {officer, haNoi.ID},
			"Ancestor":      {coord, dongThap.ID},
			"NoSuchUnit":    {officer, 1 << 40},
		} {
			t.Run(name, func(t *testing.T) {
				us, err := db.ListUnits(ctx, tc.actor, &tc.parent, true)
				impWantCode(t, err, schema.CodeNotFound)
				if us != nil {
					t.Errorf("got units %v with the error", impNames(us))
				}
			})
		}
	})
	t.Run("ErrNoScope", func(t *testing.T) {
		_, err := db.ListUnits(ctx, schema.Actor{}, nil, false)
		impWantCode(t, err, schema.CodeUnauthorized)
	})
}

func TestListUnitsEnded(t *testing.T) {
	ctx := context.Background()
	db := impOpen(t)
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2025, ""), "82", "87")}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impMapping, ""), "82", "87")}); err != nil {
		t.Fatal(err)
	}
	oldDongThap := impUnit(t, db, "vn-admin-2025-03-01", "87")
	officer := schema.Actor{UserID: 1, Role: schema.RoleOfficer, UnitID: oldDongThap.ID, UnitPath: oldDongThap.Path}
	us, err := db.ListUnits(ctx, officer, &oldDongThap.ID, false)
	if err != nil || len(us) != 0 {
		t.Errorf("current districts of the old province = %v, %v; want none", impNames(us), err)
	}
	us, err = db.ListUnits(ctx, officer, &oldDongThap.ID, true)
	if err != nil || len(us) != 12 || us[0].ValidTo != "2025-07-01" {
		t.Errorf("districts of the old province with ended = %v, %v; want its 12, ended", impNames(us), err)
	}
}

func TestSortUnits(t *testing.T) {
	var us []schema.Unit
	for i, n := range []string{"Khóm 10", "Khóm 2", "Ấp Đông Huề", "Ấp Dương Hòa", "An Bình"} {
		us = append(us, schema.Unit{ID: int64(i), Name: n})
	}
	sqlite.SortUnits(us)
	want := []string{"An Bình", "Ấp Dương Hòa", "Ấp Đông Huề", "Khóm 2", "Khóm 10"}
	if got := impNames(us); !reflect.DeepEqual(got, want) {
		t.Errorf("SortUnits = %v, want %v", got, want)
	}
}
