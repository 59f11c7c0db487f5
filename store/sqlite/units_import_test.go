package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/schema/unitfile"
	"github.com/cdtsync/cdtsync/store/sqlite"
)

// Real unit files in the repository (see testdata/units/README.md).
const (
	impList2024    = "../../testdata/units/vn-admin-2024-11-01"
	impList2025    = "../../testdata/units/vn-admin-2025-03-01"
	impMapping     = "../../testdata/units/vn-admin-mapping-2025-07-01"
	impList2026    = "../../demo/data/vn-admin-2026-04-30"
	impCurated     = "../../demo/data/vn-hamlets-curated/hamlets_curated.csv"
	impGaoGiong    = "../../testdata/units/hamlets-gao-giong-2025-03-01.csv"
	impPlacement   = "../../testdata/units/placement-gao-giong-2025-07-01.csv"
	impCodeList026 = "vn-admin-2026-04-30"
)

func impOpen(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func impRead(t testing.TB, name, codeList string) *unitfile.File {
	t.Helper()
	f, err := unitfile.Read(name, unitfile.Options{CodeList: codeList})
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return f
}

// impImport reads and imports a unit file, failing the test on error.
func impImport(t testing.TB, db *sqlite.DB, name, codeList string) sqlite.ImportReport {
	t.Helper()
	rep, err := db.ImportUnits(context.Background(), sqlite.UnitImport{File: impRead(t, name, codeList)})
	if err != nil {
		t.Fatalf("import %s: %v", name, err)
	}
	return rep
}

// impState is what an import may change: the change sequence, the rows of units and
// unit_moves, and the highest seq among units.
type impState struct{ seq, units, moves, maxSeq int64 }

func impSnapshot(t testing.TB, db *sqlite.DB) impState {
	t.Helper()
	var s impState
	err := db.WriteDB().QueryRow(`SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'seq'),
		(SELECT COUNT(*) FROM units), (SELECT COUNT(*) FROM unit_moves), (SELECT COALESCE(MAX(seq), 0) FROM units)`).
		Scan(&s.seq, &s.units, &s.moves, &s.maxSeq)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// impLevels counts current and ended units per level.
func impLevels(t testing.TB, db *sqlite.DB) map[string][2]int {
	t.Helper()
	rows, err := db.WriteDB().Query(`SELECT level, SUM(valid_to IS NULL), SUM(valid_to IS NOT NULL) FROM units GROUP BY level`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var l string
		var cur, ended int
		if err := rows.Scan(&l, &cur, &ended); err != nil {
			t.Fatal(err)
		}
		out[l] = [2]int{cur, ended}
	}
	return out
}

func impUnit(t testing.TB, db *sqlite.DB, codeList, code string) schema.Unit {
	t.Helper()
	u, err := db.UnitByCode(context.Background(), codeList, code)
	if err != nil {
		t.Fatalf("unit %s in %s: %v", code, codeList, err)
	}
	return u
}

// impHamlet finds a hamlet by its full name under a parent.
func impHamlet(t testing.TB, db *sqlite.DB, parent int64, name string) schema.Unit {
	t.Helper()
	var id int64
	if err := db.WriteDB().QueryRow(`SELECT id FROM units WHERE parent_id = ? AND name = ? AND level = 'hamlet'`, parent, name).Scan(&id); err != nil {
		t.Fatalf("hamlet %s under %d: %v", name, parent, err)
	}
	u, err := db.Unit(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func impSeqOf(t testing.TB, db *sqlite.DB, id int64) int64 {
	t.Helper()
	var seq int64
	if err := db.WriteDB().QueryRow(`SELECT seq FROM units WHERE id = ?`, id).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	return seq
}

func impWantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := schema.ErrorCode(err); got != code {
		t.Fatalf("err = %v (code %q), want code %q", err, got, code)
	}
}

func TestImportTwoTierList2026(t *testing.T) {
	db := impOpen(t)
	start := time.Now()
	rep := impImport(t, db, impList2026, impCodeList026)
	t.Logf("imported 34 provinces and 3,321 communes in %v", time.Since(start))
	if rep.Provinces.Created != 34 || rep.Communes.Created != 3321 || rep.Districts != (sqlite.ImportCounts{}) {
		t.Errorf("report = %+v", rep)
	}
	if got := impLevels(t, db); got["province"] != [2]int{34, 0} || got["commune"] != [2]int{3321, 0} || got["district"] != [2]int{} {
		t.Errorf("units per level = %v, want 34 provinces and 3321 communes", got)
	}
	sd := impUnit(t, db, impCodeList026, "29905")
	dt := impUnit(t, db, impCodeList026, "82")
	if sd.Name != "Phường Sa Đéc" || sd.UnitType != "Phường" || sd.Level != schema.LevelCommune || sd.ParentID == nil ||
		*sd.ParentID != dt.ID || sd.ValidFrom != "2026-04-30" || sd.ValidTo != "" || sd.CodeList != impCodeList026 || sd.NameEN != "Sa Dec Ward" {
		t.Errorf("Phường Sa Đéc = %+v", sd)
	}
	if dt.Name != "Tỉnh Đồng Tháp" || dt.Level != schema.LevelProvince || dt.ParentID != nil {
		t.Errorf("Tỉnh Đồng Tháp = %+v", dt)
	}
	// A code of the other code system names nothing here: 29905 was Phường 1 before 2025-07-01.
	_, err := db.UnitByCode(context.Background(), "vn-admin-2025-03-01", "29905")
	impWantCode(t, err, schema.CodeNotFound)
}

func TestImportThreeTierList2025(t *testing.T) {
	db, rep := impAt(t, impAfterList2025)
	if rep.Provinces.Created != 63 || rep.Districts.Created != 696 || rep.Communes.Created != 10035 || rep.CodeList != "vn-admin-2025-03-01" {
		t.Errorf("report = %+v", rep)
	}
	if got := impLevels(t, db); got["province"] != [2]int{63, 0} || got["district"] != [2]int{696, 0} || got["commune"] != [2]int{10035, 0} {
		t.Errorf("units per level = %v, want 63 / 696 / 10035", got)
	}
	p1 := impUnit(t, db, "vn-admin-2025-03-01", "29905")
	sadec := impUnit(t, db, "vn-admin-2025-03-01", "867")
	if p1.Name != "Phường 1" || *p1.ParentID != sadec.ID || sadec.Name != "Thành phố Sa Đéc" || sadec.Level != schema.LevelDistrict {
		t.Errorf("29905 = %+v under %+v, want Phường 1 of Thành phố Sa Đéc", p1, sadec)
	}
	// Another list of the same code system finds the same unit.
	if u := impUnit(t, db, "vn-admin-2024-11-01", "29905"); u.ID != p1.ID {
		t.Errorf("29905 in the 2024-11-01 list = %d, want %d", u.ID, p1.ID)
	}
}

// impChain is a deployment's history on the real files, built once per test binary
// (the full country takes seconds, and minutes under the race detector), step by step:
// impAt copies the database as it was after a step into a test's own directory.
var impChain = []struct{ name, path, codeList string }{
	{"ThreeTierList", impList2025, ""},
	{"CuratedHamlets", impCurated, ""},
	{"HamletCSV", impGaoGiong, ""},
	{"Mapping", impMapping, ""},
	{"Placement", impPlacement, ""},
	{"TwoTierList", impList2026, impCodeList026},
}

const (
	impAfterList2025 = iota
	impAfterCurated
	impAfterGaoGiong
	impAfterMapping
	impAfterPlacement
	impAfterList2026
)

var (
	impMu    sync.Mutex
	impBuilt []impBuiltStep
)

type impBuiltStep struct {
	files map[string][]byte // the database files after the step
	rep   sqlite.ImportReport
}

// impAt returns a database in the state after step n of impChain, and that step's report.
func impAt(t *testing.T, n int) (*sqlite.DB, sqlite.ImportReport) {
	t.Helper()
	impMu.Lock()
	defer impMu.Unlock()
	for len(impBuilt) <= n {
		i := len(impBuilt)
		dir := t.TempDir()
		if i > 0 {
			impWriteFiles(t, dir, impBuilt[i-1].files)
		}
		db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		step := impChain[i]
		start := time.Now()
		rep := impImport(t, db, step.path, step.codeList)
		t.Logf("built step %s in %v", step.name, time.Since(start))
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		impBuilt = append(impBuilt, impBuiltStep{files: impReadFiles(t, dir), rep: rep})
	}
	dir := t.TempDir()
	impWriteFiles(t, dir, impBuilt[n].files)
	db, err := sqlite.Open(context.Background(), dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, impBuilt[n].rep
}

func impReadFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), sqlite.FileName) {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
	}
	return files
}

func impWriteFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// Importing the same file again changes nothing: no row, no change sequence number.
func TestImportTwiceChangesNothing(t *testing.T) {
	for i, s := range impChain {
		t.Run(s.name, func(t *testing.T) {
			db, first := impAt(t, i)
			if !first.Changed() {
				t.Fatalf("first import changed nothing: %+v", first)
			}
			before := impSnapshot(t, db)
			again := impImport(t, db, s.path, s.codeList)
			if after := impSnapshot(t, db); after != before {
				t.Errorf("second import changed the database: %+v → %+v", before, after)
			}
			if again.Changed() {
				t.Errorf("second import reports changes: %+v", again.Total())
			}
			if len(again.NeedPlacement) != len(first.NeedPlacement) {
				t.Errorf("hamlets needing placement: %d then %d", len(first.NeedPlacement), len(again.NeedPlacement))
			}
		})
	}
}

// The 2025-07-01 mapping on a deployment that began on the three-tier list: new units
// begin, old ones end and stay, hamlets of wholly merged communes move and keep their ids.
func TestImportMapping2025(t *testing.T) {
	ctx := context.Background()
	pre, rep := impAt(t, impAfterCurated)
	if rep.Hamlets.Created != 65 {
		t.Fatalf("curated hamlets: %+v", rep.Hamlets)
	}
	oldP1 := impUnit(t, pre, "vn-admin-2025-03-01", "29905")
	oldTKD := impUnit(t, pre, "vn-admin-2025-03-01", "29914")
	vinhPhuoc := impHamlet(t, pre, oldP1.ID, "Khóm Vĩnh Phước")
	dongHue := impHamlet(t, pre, oldTKD.ID, "Ấp Đông Huề")
	seqBefore := impSeqOf(t, pre, vinhPhuoc.ID)

	db, rep := impAt(t, impAfterMapping)
	if rep.Provinces.Created != 34 || rep.Communes.Created != 3321 ||
		rep.Provinces.Ended != 63 || rep.Districts.Ended != 696 || rep.Communes.Ended != 10035 {
		t.Errorf("report: provinces %+v, districts %+v, communes %+v", rep.Provinces, rep.Districts, rep.Communes)
	}
	if rep.Hamlets.Moved != 65 {
		t.Errorf("moved %d hamlets, want the 65 curated ones", rep.Hamlets.Moved)
	}
	levels := impLevels(t, db)
	if levels["province"] != [2]int{34, 63} || levels["district"] != [2]int{0, 696} || levels["commune"] != [2]int{3321, 10035} {
		t.Errorf("units per level (current, ended) = %v", levels)
	}

	// Khóm Vĩnh Phước keeps its id and moves under the new Phường Sa Đéc.
	newSD := impUnit(t, db, "vn-admin-2025-07-01", "29905")
	newDT := impUnit(t, db, "vn-admin-2025-07-01", "82")
	if newSD.Name != "Phường Sa Đéc" || newSD.ValidFrom != "2025-07-01" || *newSD.ParentID != newDT.ID || newDT.Name != "Tỉnh Đồng Tháp" {
		t.Errorf("new 29905 = %+v in %+v", newSD, newDT)
	}
	for _, h := range []schema.Unit{vinhPhuoc, dongHue} {
		got, err := db.Unit(ctx, h.ID)
		if err != nil {
			t.Fatal(err)
		}
		wantPath := newSD.Path + strconv.FormatInt(h.ID, 10) + "/"
		if *got.ParentID != newSD.ID || got.Path != wantPath || got.Name != h.Name || got.ValidTo != "" {
			t.Errorf("%s after the mapping = %+v, want under %d with path %s", h.Name, got, newSD.ID, wantPath)
		}
	}
	if seq := impSeqOf(t, db, vinhPhuoc.ID); seq <= seqBefore {
		t.Errorf("moved hamlet's seq %d, was %d: phones would not pull the move", seq, seqBefore)
	}
	var oldParent, newParent int64
	var on, source string
	if err := db.WriteDB().QueryRow(`SELECT old_parent, new_parent, moved_on, source FROM unit_moves WHERE unit_id = ?`, vinhPhuoc.ID).
		Scan(&oldParent, &newParent, &on, &source); err != nil {
		t.Fatal(err)
	}
	if oldParent != oldP1.ID || newParent != newSD.ID || on != "2025-07-01" || source != "mapping:vn-admin-2025-07-01" {
		t.Errorf("move = %d → %d on %s by %s", oldParent, newParent, on, source)
	}

	// The old units are kept, ended.
	p1, err := db.Unit(ctx, oldP1.ID)
	if err != nil || p1.ValidTo != "2025-07-01" || p1.Name != "Phường 1" {
		t.Errorf("old Phường 1 = %+v, %v; want ended on 2025-07-01", p1, err)
	}

	// Gáo Giồng was split between Phú Cường and Phong Mỹ: its hamlets stay and are listed.
	gaoGiong := impUnit(t, db, "vn-admin-2025-03-01", "30079")
	if len(rep.NeedPlacement) != 3 {
		t.Fatalf("need placement = %+v, want Gáo Giồng's 3 ấp", rep.NeedPlacement)
	}
	for _, p := range rep.NeedPlacement {
		if p.CommuneID != gaoGiong.ID || p.Commune != "Xã Gáo Giồng" || p.CommuneCode != "30079" || p.Reason != sqlite.PendingSplit ||
			len(p.Candidates) != 2 || p.Candidates[0].Name != "Xã Phú Cường" || p.Candidates[1].Name != "Xã Phong Mỹ" || p.Candidates[0].ID == 0 {
			t.Errorf("pending %+v", p)
		}
		if u, _ := db.Unit(ctx, p.HamletID); *u.ParentID != gaoGiong.ID {
			t.Errorf("%s moved to %d without a placement", u.Name, *u.ParentID)
		}
	}
	if rep.UsersOnEnded != 0 || rep.TeamsOnEnded != 0 {
		t.Errorf("users/teams on ended units = %d/%d", rep.UsersOnEnded, rep.TeamsOnEnded)
	}

	// The 2026-04-30 list after the mapping (and the placements): two communes changed
	// code on 2026-04-30.
	db, rep = impAt(t, impAfterList2026)
	if rep.Provinces.Created != 0 || rep.Provinces.Ended != 0 || rep.Communes.Created != 2 || rep.Communes.Ended != 2 ||
		rep.Communes.Created+rep.Communes.Updated+rep.Communes.Unchanged != 3321 {
		t.Errorf("2026 list after the mapping: provinces %+v, communes %+v", rep.Provinces, rep.Communes)
	}
	if u := impUnit(t, db, impCodeList026, "29905"); u.ID != newSD.ID || u.Name != "Phường Sa Đéc" {
		t.Errorf("29905 in the 2026 list = %+v, want the unit the mapping made (%d)", u, newSD.ID)
	}
	if len(rep.NeedPlacement) != 1 {
		t.Errorf("need placement = %+v, want Ấp 3 of Gáo Giồng", rep.NeedPlacement)
	}

}

// Where an old commune was split, hamlets move only as a placement CSV says.
func TestImportPlacement(t *testing.T) {
	db, rep := impAt(t, impAfterPlacement)
	gaoGiong := impUnit(t, db, "vn-admin-2025-03-01", "30079")
	phuCuong := impUnit(t, db, "vn-admin-2025-07-01", "30025")
	phongMy := impUnit(t, db, "vn-admin-2025-07-01", "30088")
	ap1 := impHamlet(t, db, phuCuong.ID, "Ấp 1")
	ap3 := impHamlet(t, db, gaoGiong.ID, "Ấp 3")
	ap5 := impHamlet(t, db, phongMy.ID, "Ấp 5")
	if rep.Placed != 2 {
		t.Errorf("placed %d, want 2", rep.Placed)
	}
	if len(rep.NeedPlacement) != 1 || rep.NeedPlacement[0].HamletID != ap3.ID {
		t.Errorf("need placement = %+v, want only Ấp 3", rep.NeedPlacement)
	}
	for _, h := range []schema.Unit{ap1, ap5} {
		var on string
		if err := db.WriteDB().QueryRow(`SELECT moved_on FROM unit_moves WHERE unit_id = ? AND old_parent = ?`, h.ID, gaoGiong.ID).Scan(&on); err != nil || on != "2025-07-01" {
			t.Errorf("move of %s dated %q (%v), want 2025-07-01, the day Gáo Giồng ended", h.Name, on, err)
		}
	}

}

// impProvinces keeps the parts of a code list or mapping that concern some old
// provinces: real data, small enough for the race detector.
func impProvinces(f *unitfile.File, provinces ...string) *unitfile.File {
	keep := map[string]bool{}
	for _, p := range provinces {
		keep[p] = true
	}
	g := *f
	g.Provinces, g.Districts, g.Communes, g.CommuneLinks, g.ProvinceLinks = nil, nil, nil, nil, nil
	districts := map[string]bool{}
	for _, u := range f.Provinces {
		if keep[u.Code] {
			g.Provinces = append(g.Provinces, u)
		}
	}
	for _, u := range f.Districts {
		if keep[u.ParentCode] {
			g.Districts = append(g.Districts, u)
			districts[u.Code] = true
		}
	}
	for _, u := range f.Communes {
		if keep[u.ParentCode] || districts[u.ParentCode] {
			g.Communes = append(g.Communes, u)
		}
	}
	newProvinces := map[string]bool{}
	for _, l := range f.ProvinceLinks {
		if keep[l.OldCode] {
			g.ProvinceLinks = append(g.ProvinceLinks, l)
			newProvinces[l.NewCode] = true
		}
	}
	for _, l := range f.CommuneLinks {
		if newProvinces[l.NewProvinceCode] {
			g.CommuneLinks = append(g.CommuneLinks, l)
		}
	}
	return &g
}

// The mapping and a placement CSV in one import, as `cdtsync import-units MAPPING
// --placement FILE` does, on Đồng Tháp and Tiền Giang (now one Tỉnh Đồng Tháp).
func TestImportMappingWithPlacement(t *testing.T) {
	ctx := context.Background()
	db := impOpen(t)
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2025, ""), "82", "87")}); err != nil {
		t.Fatal(err)
	}
	impImport(t, db, impGaoGiong, "")
	gaoGiong := impUnit(t, db, "vn-admin-2025-03-01", "30079")
	ap1 := impHamlet(t, db, gaoGiong.ID, "Ấp 1")
	in := sqlite.UnitImport{File: impProvinces(impRead(t, impMapping, ""), "82", "87"),
		Placements: impRead(t, impPlacement, "").Placements, PlacementFile: impPlacement}
	rep, err := db.ImportUnits(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Provinces.Created != 1 || rep.Provinces.Ended != 2 || rep.Placed != 2 || rep.Hamlets.Moved != 2 || len(rep.NeedPlacement) != 1 {
		t.Errorf("report = %+v", rep)
	}
	if u, _ := db.Unit(ctx, ap1.ID); *u.ParentID != impUnit(t, db, "vn-admin-2025-07-01", "30025").ID {
		t.Errorf("Ấp 1 under %d, want Xã Phú Cường", *u.ParentID)
	}
	before := impSnapshot(t, db)
	if rep, err := db.ImportUnits(ctx, in); err != nil || rep.Changed() {
		t.Errorf("again: %+v, %v", rep.Total(), err)
	}
	if after := impSnapshot(t, db); after != before {
		t.Errorf("second import changed the database")
	}
	ap3 := impHamlet(t, db, gaoGiong.ID, "Ấp 3")
	phongMy := impUnit(t, db, "vn-admin-2025-07-01", "30088")

	t.Run("Correction", func(t *testing.T) {
		// Placing Ấp 1 elsewhere later corrects the move: it still came from Gáo Giồng.
		f := &unitfile.File{Kind: unitfile.KindPlacement, Path: "fix.csv", Placements: []unitfile.Placement{{Line: 2,
			From: unitfile.CommuneRef{CodeList: "vn-admin-2025-03-01", Code: "30079"}, HamletName: "Ấp 1",
			To: unitfile.CommuneRef{CodeList: "vn-admin-2025-07-01", Code: "30088", Name: "Xã Phong Mỹ"}}}}
		if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: f}); err != nil {
			t.Fatal(err)
		}
		var n int
		var old, nw int64
		if err := db.WriteDB().QueryRow(`SELECT COUNT(*), MIN(old_parent), MIN(new_parent) FROM unit_moves WHERE unit_id = ?`, ap1.ID).
			Scan(&n, &old, &nw); err != nil || n != 1 || old != gaoGiong.ID || nw != phongMy.ID {
			t.Errorf("moves of Ấp 1: %d, %d → %d (%v)", n, old, nw, err)
		}
	})
	t.Run("ErrUnknownHamlet", func(t *testing.T) {
		before := impSnapshot(t, db)
		f := &unitfile.File{Kind: unitfile.KindPlacement, Path: "bad.csv", Placements: []unitfile.Placement{{Line: 7,
			From: unitfile.CommuneRef{CodeList: "vn-admin-2025-03-01", Code: "30079"}, HamletName: "Ấp 9",
			To: unitfile.CommuneRef{CodeList: "vn-admin-2025-07-01", Code: "30088"}}}}
		_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: f})
		var es unitfile.Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Line != 7 {
			t.Fatalf("err = %v, want a problem on line 7", err)
		}
		if after := impSnapshot(t, db); after != before {
			t.Errorf("a failed placement changed the database")
		}
	})
	t.Run("ErrEndedDestination", func(t *testing.T) {
		f := &unitfile.File{Kind: unitfile.KindPlacement, Path: "bad.csv", Placements: []unitfile.Placement{{Line: 2,
			HamletID: ap3.ID, To: unitfile.CommuneRef{CodeList: "vn-admin-2025-03-01", Code: "30025"}}}}
		_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: f})
		var es unitfile.Errors
		if !errors.As(err, &es) || len(es) != 1 {
			t.Fatalf("err = %v, want one problem: an ended destination", err)
		}
	})
	t.Run("ErrThreeTierAfterMapping", func(t *testing.T) {
		_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2025, ""), "82", "87")})
		impWantCode(t, err, schema.CodeConflict)
	})
}

// From the 2024-11-01 list to the 2025-03-01 one, on Thanh Hóa: Huyện Đông Sơn ends and
// its communes move to Thành phố Thanh Hóa, taking their hamlets' paths with them.
func TestImportNewerThreeTierList(t *testing.T) {
	db := impOpen(t)
	ctx := context.Background()
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2024, ""), "38")}); err != nil {
		t.Fatal(err)
	}
	f := impRead(t, impCurated, "")
	var thanhHoa []unitfile.Hamlet
	for _, h := range f.Hamlets {
		if strings.HasPrefix(h.Home().Code, "16") {
			thanhHoa = append(thanhHoa, h)
		}
	}
	f.Hamlets = thanhHoa
	if rep, err := db.ImportUnits(ctx, sqlite.UnitImport{File: f}); err != nil || rep.Hamlets.Created != 18 {
		t.Fatalf("Thanh Hóa's curated hamlets: %+v, %v", rep.Hamlets, err)
	}
	dongHoa := impUnit(t, db, "vn-admin-2024-11-01", "16390")
	phuMinh := impHamlet(t, db, dongHoa.ID, "Thôn Phú Minh")
	if *phuMinh.Households != 269 || phuMinh.Adults != nil {
		t.Errorf("Thôn Phú Minh = %+v, want 269 households, adults unknown", phuMinh)
	}

	rep, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2025, ""), "38")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Districts.Ended == 0 || rep.Communes.Moved == 0 || len(rep.NeedPlacement) != 0 {
		t.Errorf("districts %+v, communes %+v, pending %d", rep.Districts, rep.Communes, len(rep.NeedPlacement))
	}
	dongSon := impUnit(t, db, "vn-admin-2024-11-01", "405")
	thanhHoaCity := impUnit(t, db, "vn-admin-2025-03-01", "380")
	if dongSon.ValidTo != "2025-03-01" || dongSon.Name != "Huyện Đông Sơn" {
		t.Errorf("Huyện Đông Sơn = %+v, want ended", dongSon)
	}
	got, _ := db.Unit(ctx, dongHoa.ID)
	if *got.ParentID != thanhHoaCity.ID || got.ValidTo != "" {
		t.Errorf("Xã Đông Hòa = %+v, want under Thành phố Thanh Hóa (%d)", got, thanhHoaCity.ID)
	}
	h, _ := db.Unit(ctx, phuMinh.ID)
	if h.Path != got.Path+strconv.FormatInt(h.ID, 10)+"/" || *h.ParentID != dongHoa.ID {
		t.Errorf("Thôn Phú Minh path %s, want under %s", h.Path, got.Path)
	}

	t.Run("ErrOlderList", func(t *testing.T) {
		_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2024, ""), "38")})
		impWantCode(t, err, schema.CodeConflict)
	})
	t.Run("ErrTwoTierBeforeMapping", func(t *testing.T) {
		_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2026, impCodeList026), "38")})
		impWantCode(t, err, schema.CodeConflict)
	})
}

func TestImportHamletErrors(t *testing.T) {
	db := impOpen(t)
	ctx := context.Background()
	if _, err := db.ImportUnits(ctx, sqlite.UnitImport{File: impProvinces(impRead(t, impList2026, impCodeList026), "82")}); err != nil {
		t.Fatal(err)
	}
	before := impSnapshot(t, db)
	f := &unitfile.File{Kind: unitfile.KindHamlets, Path: "hamlets.csv", Hamlets: []unitfile.Hamlet{
		{Line: 2, Communes: []unitfile.CommuneRef{{CodeList: impCodeList026, Code: "29905", Name: "Phường Sa Đéc"}}, Type: "khóm", Name: "Khóm Vĩnh Phước"},
		// 29905 is Phường Sa Đéc in this list, not Phường 1: a code given with the wrong list.
		{Line: 3, Communes: []unitfile.CommuneRef{{CodeList: impCodeList026, Code: "29905", Name: "Phường 1"}}, Type: "khóm", Name: "Khóm Cái Sơn"},
		// No such code in the deployment.
		{Line: 4, Communes: []unitfile.CommuneRef{{CodeList: impCodeList026, Code: "99999"}}, Type: "ấp", Name: "Ấp Đông Huề"},
		// Old codes are not loaded in a two-tier deployment.
		{Line: 5, Communes: []unitfile.CommuneRef{{CodeList: "vn-admin-2025-03-01", Code: "29914"}}, Type: "ấp", Name: "Ấp Đông Quới"},
	}}
	_, err := db.ImportUnits(ctx, sqlite.UnitImport{File: f})
	var es unitfile.Errors
	if !errors.As(err, &es) || len(es) != 3 || es[0].Line != 3 || es[1].Line != 4 || es[2].Line != 5 {
		t.Fatalf("err = %v, want problems on lines 3, 4, 5", err)
	}
	if after := impSnapshot(t, db); after != before {
		t.Errorf("a file with bad rows changed the database")
	}
}

func TestImportDryRun(t *testing.T) {
	db := impOpen(t)
	before := impSnapshot(t, db)
	rep, err := db.ImportUnits(context.Background(), sqlite.UnitImport{File: impProvinces(impRead(t, impList2026, impCodeList026), "82"), DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Provinces.Created != 1 || rep.Communes.Created != 102 || !rep.DryRun {
		t.Errorf("dry run report = %+v", rep)
	}
	if after := impSnapshot(t, db); after != before {
		t.Errorf("dry run changed the database: %+v → %+v", before, after)
	}
}

func BenchmarkImportThreeTierList(b *testing.B) {
	f, err := unitfile.Read(impList2025, unitfile.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		db := impOpen(b)
		b.StartTimer()
		if _, err := db.ImportUnits(context.Background(), sqlite.UnitImport{File: f}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadThreeTierList(b *testing.B) {
	for b.Loop() {
		if _, err := unitfile.Read(impList2025, unitfile.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
