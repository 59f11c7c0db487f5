package unitfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/cdtsync/cdtsync/schema/unitfile"
)

// The real files, copied into the repository with their SOURCE.txt and licence.
const (
	list2024    = "../../testdata/units/vn-admin-2024-11-01"
	list2025    = "../../testdata/units/vn-admin-2025-03-01"
	mapping2025 = "../../testdata/units/vn-admin-mapping-2025-07-01"
	list2026    = "../../demo/data/vn-admin-2026-04-30"
	curated     = "../../demo/data/vn-hamlets-curated/hamlets_curated.csv"
)

func mustRead(t *testing.T, name string, opts unitfile.Options) *unitfile.File {
	t.Helper()
	f, err := unitfile.Read(name, opts)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return f
}

func TestReadRealLists(t *testing.T) {
	for _, tc := range []struct {
		name, path, codeList string
		kind                 unitfile.Kind
		wantList, wantEff    string
		provinces, districts int
		communes             int
	}{
		{"ThreeTier2024", list2024, "", unitfile.KindThreeTier, "vn-admin-2024-11-01", "2024-11-01", 63, 704, 10472},
		{"ThreeTier2025", list2025, "", unitfile.KindThreeTier, "vn-admin-2025-03-01", "2025-03-01", 63, 696, 10035},
		{"TwoTier2026", list2026, "vn-admin-2026-04-30", unitfile.KindTwoTier, "vn-admin-2026-04-30", "2026-04-30", 34, 0, 3321},
		// A file of a list reads its whole folder.
		{"WardsFile", filepath.Join(list2025, "wards.csv"), "", unitfile.KindThreeTier, "vn-admin-2025-03-01", "2025-03-01", 63, 696, 10035},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustRead(t, tc.path, unitfile.Options{CodeList: tc.codeList})
			if f.Kind != tc.kind || f.CodeList != tc.wantList || f.Effective != tc.wantEff {
				t.Errorf("kind, list, effective = %s, %s, %s; want %s, %s, %s", f.Kind, f.CodeList, f.Effective, tc.kind, tc.wantList, tc.wantEff)
			}
			if len(f.Provinces) != tc.provinces || len(f.Districts) != tc.districts || len(f.Communes) != tc.communes {
				t.Errorf("got %d / %d / %d units, want %d / %d / %d", len(f.Provinces), len(f.Districts), len(f.Communes),
					tc.provinces, tc.districts, tc.communes)
			}
		})
	}
}

func TestReadRealListContent(t *testing.T) {
	f := mustRead(t, list2026, unitfile.Options{CodeList: "vn-admin-2026-04-30"})
	var saDec *unitfile.Unit
	types := map[string]int{}
	for i, u := range f.Communes {
		types[u.UnitType]++
		if u.Code == "29905" {
			saDec = &f.Communes[i]
		}
	}
	if saDec == nil || saDec.Name != "Phường Sa Đéc" || saDec.ParentCode != "82" || saDec.UnitType != "Phường" || saDec.NameEN != "Sa Dec Ward" {
		t.Errorf("29905 = %+v, want Phường Sa Đéc in province 82", saDec)
	}
	// SOURCE.txt: 2611 Xã, 697 Phường, 13 Đặc khu.
	if types["Xã"] != 2611 || types["Phường"] != 697 || types["Đặc khu"] != 13 {
		t.Errorf("unit types = %v", types)
	}

	old := mustRead(t, list2025, unitfile.Options{})
	for _, u := range old.Communes {
		if u.Code == "29905" && (u.Name != "Phường 1" || u.ParentCode != "867") {
			t.Errorf("29905 in 2025-03-01 = %+v, want Phường 1 of Thành phố Sa Đéc (867)", u)
		}
	}
}

func TestReadRealMapping(t *testing.T) {
	f := mustRead(t, mapping2025, unitfile.Options{})
	if f.Kind != unitfile.KindMapping || f.CodeList != "vn-admin-2025-07-01" || f.Effective != unitfile.ReformDate {
		t.Fatalf("kind, list, effective = %s, %s, %s", f.Kind, f.CodeList, f.Effective)
	}
	if len(f.ProvinceLinks) != 63 || len(f.CommuneLinks) != 10604 {
		t.Errorf("links = %d / %d, want 63 / 10604", len(f.ProvinceLinks), len(f.CommuneLinks))
	}
	newCodes := map[string]bool{}
	var saDec []string
	partial := 0
	for _, l := range f.CommuneLinks {
		newCodes[l.NewCode] = true
		if l.NewCode == "29905" {
			saDec = append(saDec, l.OldName)
			if l.NewType != "Phường" || !l.Full {
				t.Errorf("Sa Đéc link %+v", l)
			}
		}
		if !l.Full {
			partial++
		}
	}
	if len(newCodes) != 3321 || partial != 1012 {
		t.Errorf("%d new communes, %d partial links; want 3321, 1012", len(newCodes), partial)
	}
	if len(saDec) != 8 {
		t.Errorf("Phường Sa Đéc formed from %v, want 8 old units", saDec)
	}
}

func TestReadCurated(t *testing.T) {
	f := mustRead(t, curated, unitfile.Options{})
	if f.Kind != unitfile.KindHamlets || !f.Curated {
		t.Fatalf("kind = %s, curated = %v", f.Kind, f.Curated)
	}
	// 66 rows: 65 hamlets and one row of commune figures only (Xã Tân Thuận Đông).
	if len(f.Hamlets) != 65 {
		t.Errorf("%d hamlets, want 65", len(f.Hamlets))
	}
	var vinhPhuoc, phuMinh *unitfile.Hamlet
	for i, h := range f.Hamlets {
		switch h.Name {
		case "Khóm Vĩnh Phước":
			vinhPhuoc = &f.Hamlets[i]
		case "Thôn Phú Minh":
			phuMinh = &f.Hamlets[i]
		}
		if h.Name == "Ấp Ấp 1" {
			t.Errorf("line %d: type doubled in %q", h.Line, h.Name)
		}
	}
	if vinhPhuoc == nil || vinhPhuoc.Type != "khóm" || len(vinhPhuoc.Communes) != 2 ||
		vinhPhuoc.Communes[0] != (unitfile.CommuneRef{CodeList: "vn-admin-2024-11-01", Code: "29905", Name: "Phường 1"}) ||
		vinhPhuoc.Communes[1] != (unitfile.CommuneRef{CodeList: "vn-admin-2026-04-30", Code: "29905", Name: "Phường Sa Đéc"}) {
		t.Errorf("Khóm Vĩnh Phước = %+v", vinhPhuoc)
	}
	if phuMinh == nil || phuMinh.Households == nil || *phuMinh.Households != 269 || phuMinh.Population == nil || *phuMinh.Population != 991 || phuMinh.Adults != nil {
		t.Errorf("Thôn Phú Minh = %+v, want 269 households, population 991, adults unknown", phuMinh)
	}
	var tanThuanDong bool
	for _, c := range f.CommuneFigures {
		if c.Commune.Code == "29896" && *c.Households == 3098 && *c.Population == 13842 {
			tanThuanDong = true
		}
	}
	if !tanThuanDong {
		t.Errorf("commune figures %+v lack Xã Tân Thuận Đông", f.CommuneFigures)
	}
}

func TestNameKey(t *testing.T) {
	same := [][2]string{
		{"Phường An Hoà", "Phường An Hòa"},
		{"Xã Lương Hoà Lạc", "xã lương hòa lạc"},
		{"Thuỷ", "Thủy"},
		{"Khoẻ", "Khỏe"},
		{"  Ấp   Đông  Huề ", "Ấp Đông Huề"},
		{"Ho\u0300a", "Hòa"},                  // NFD
		{"Xã\u00a0Tân Dương", "Xã Tân Dương"}, // no-break space
	}
	for _, p := range same {
		if unitfile.NameKey(p[0]) != unitfile.NameKey(p[1]) {
			t.Errorf("NameKey(%q) = %q, NameKey(%q) = %q; want equal", p[0], unitfile.NameKey(p[0]), p[1], unitfile.NameKey(p[1]))
		}
	}
	differ := [][2]string{
		{"Tân Qui", "Tân Quy"},     // spelling, not tone placement
		{"Quý", "Qúy"},             // qu is a consonant: the tone stays on y
		{"Hoàn Kiếm", "Hòan Kiếm"}, // closed syllable: tone on a only
		{"Phường 1", "Phường 10"},
	}
	for _, p := range differ {
		if unitfile.NameKey(p[0]) == unitfile.NameKey(p[1]) {
			t.Errorf("NameKey(%q) = NameKey(%q) = %q; want different", p[0], p[1], unitfile.NameKey(p[0]))
		}
	}
	if got := unitfile.NormalizeName("Ho\u0300a  An"); got != "Hòa An" {
		t.Errorf("NormalizeName = %q", got)
	}
	if got := unitfile.NormalizeName("Phường An Hoà"); got != "Phường An Hoà" {
		t.Errorf("NormalizeName changed the source's tone placement: %q", got)
	}
}

func TestHamletNames(t *testing.T) {
	for _, tc := range [][3]string{
		{"ấp", "Đông Huề", "Ấp Đông Huề"},
		{"ấp", "Ấp 1", "Ấp 1"},
		{"ấp", "ấp 2", "Ấp 2"},
		{"tổ dân phố", "số 5", "Tổ dân phố số 5"},
		{"khóm", "Vĩnh Phước", "Khóm Vĩnh Phước"},
	} {
		if got := unitfile.FullHamletName(tc[0], tc[1]); got != tc[2] {
			t.Errorf("FullHamletName(%q, %q) = %q, want %q", tc[0], tc[1], got, tc[2])
		}
	}
	if typ, ok := unitfile.HamletType("Tổ Dân Phố"); !ok || typ != "tổ dân phố" {
		t.Errorf("HamletType = %q, %v", typ, ok)
	}
	if _, ok := unitfile.HamletType("village"); ok {
		t.Error("HamletType accepted village")
	}
}

func TestCodeSystem(t *testing.T) {
	for list, want := range map[string]string{
		"vn-admin-2024-11-01": unitfile.SystemQD124,
		"vn-admin-2025-06-30": unitfile.SystemQD124,
		"vn-admin-2025-07-01": unitfile.SystemQD19,
		"vn-admin-2026-04-30": unitfile.SystemQD19,
	} {
		if got, err := unitfile.CodeSystem(list); err != nil || got != want {
			t.Errorf("CodeSystem(%s) = %s, %v; want %s", list, got, err, want)
		}
	}
	for _, bad := range []string{"", "2026", "vn-admin", "vn-admin-2026-13-01", "VN-ADMIN-2026-04-30"} {
		if _, err := unitfile.CodeSystem(bad); err == nil {
			t.Errorf("CodeSystem(%q) accepted", bad)
		}
	}
}

func TestCodeListVersion(t *testing.T) {
	t.Run("ErrNoEffectiveDate", func(t *testing.T) {
		_, err := unitfile.Read(list2026, unitfile.Options{})
		if err == nil || !strings.Contains(err.Error(), "--code-list") {
			t.Fatalf("err = %v, want a hint to use --code-list", err)
		}
	})
	t.Run("FlagOverridesSource", func(t *testing.T) {
		f := mustRead(t, list2025, unitfile.Options{CodeList: "gso-2025-03-01"})
		if f.CodeList != "gso-2025-03-01" || f.Effective != "2025-03-01" {
			t.Errorf("list, effective = %s, %s", f.CodeList, f.Effective)
		}
	})
	t.Run("ErrThreeTierAfterReform", func(t *testing.T) {
		if _, err := unitfile.Read(list2025, unitfile.Options{CodeList: "vn-admin-2025-08-01"}); err == nil {
			t.Fatal("a three-tier list dated after 2025-07-01 was accepted")
		}
	})
}

// lineErrors returns the line numbers of the problems in err.
func lineErrors(t *testing.T, err error) []int {
	t.Helper()
	var es unitfile.Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v (%T), want unitfile.Errors", err, err)
	}
	var lines []int
	for _, e := range es {
		lines = append(lines, e.Line)
	}
	return lines
}

func TestHamletCSV(t *testing.T) {
	read := func(t *testing.T, body string) (*unitfile.File, error) {
		t.Helper()
		fsys := fstest.MapFS{"h.csv": {Data: []byte(body)}}
		return unitfile.ReadFS(fsys, "h.csv", unitfile.Options{})
	}
	t.Run("OK", func(t *testing.T) {
		f, err := read(t, "\ufeffcommune_code_list,commune_code,commune_name,hamlet_type,hamlet_name,households,adults\n"+
			"vn-admin-2026-04-30,29905,Phường Sa Đéc,khóm,Vĩnh Phước,\"1.284\",3120\n"+
			"vn-admin-2026-04-30,4,Phường Ba Đình,Tổ dân phố,Tổ dân phố số 5,,\n")
		if err != nil {
			t.Fatal(err)
		}
		if f.Kind != unitfile.KindHamlets || f.Curated || len(f.Hamlets) != 2 {
			t.Fatalf("%+v", f)
		}
		h := f.Hamlets[0]
		if h.Name != "Khóm Vĩnh Phước" || h.Type != "khóm" || *h.Households != 1284 || *h.Adults != 3120 || h.Line != 2 ||
			h.Home() != (unitfile.CommuneRef{CodeList: "vn-admin-2026-04-30", Code: "29905", Name: "Phường Sa Đéc"}) {
			t.Errorf("hamlet = %+v", h)
		}
		// Excel drops leading zeros; commune codes are restored to 5 digits.
		if h := f.Hamlets[1]; h.Home().Code != "00004" || h.Name != "Tổ dân phố số 5" || h.Households != nil {
			t.Errorf("hamlet = %+v", h)
		}
	})
	t.Run("ErrBadRows", func(t *testing.T) {
		_, err := read(t, "commune_code_list,commune_code,hamlet_type,hamlet_name,households\n"+
			"vn-admin-2026-04-30,29905,khóm,Vĩnh Phước,100\n"+ // 2: fine
			",29905,khóm,Cái Sơn,\n"+ // 3: no code list
			"vn-admin-2026-04-30,29905,village,Sa Giang,\n"+ // 4: unknown type
			"vn-admin-2026-04-30,29905,khóm,,\n"+ // 5: no name
			"vn-admin-2026-04-30,29905,khóm,Cầu Đình,1.5\n"+ // 6: not a whole number
			"vn-admin-2026-04-30,29905,khóm,Khóm Vĩnh Phước,\n"+ // 7: repeats line 2
			"vn-admin-2026-04-30,2990X,khóm,Tân Qui,\n") // 8: bad code
		got := lineErrors(t, err)
		want := []int{3, 4, 5, 6, 7, 8}
		if len(got) != len(want) {
			t.Fatalf("error lines = %v, want %v\n%v", got, want, err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("error lines = %v, want %v\n%v", got, want, err)
			}
		}
	})
	t.Run("ErrMissingColumn", func(t *testing.T) {
		fsys := fstest.MapFS{"h.csv": {Data: []byte("commune_code,hamlet_type,hamlet_name\n29905,khóm,Vĩnh Phước\n")}}
		_, err := unitfile.ReadFS(fsys, "h.csv", unitfile.Options{})
		var e *unitfile.Error
		if !errors.As(err, &e) || e.Line != 1 || !strings.Contains(e.Msg, "commune_code_list") {
			t.Fatalf("err = %v, want missing commune_code_list on line 1", err)
		}
	})
}

func TestPlacementCSV(t *testing.T) {
	fsys := fstest.MapFS{"p.csv": {Data: []byte("hamlet_id,from_code_list,from_code,hamlet_name,to_code_list,to_code,to_name\n" +
		",vn-admin-2025-03-01,30079,Ấp 1,vn-admin-2025-07-01,30025,Xã Phú Cường\n" +
		"17,,,,vn-admin-2025-07-01,30088,\n" +
		",,,,vn-admin-2025-07-01,30088,\n")}}
	_, err := unitfile.ReadFS(fsys, "p.csv", unitfile.Options{})
	if lines := lineErrors(t, err); len(lines) != 1 || lines[0] != 4 {
		t.Fatalf("error lines = %v, want [4]: %v", lines, err)
	}
	delete(fsys, "p.csv")
	fsys["p.csv"] = &fstest.MapFile{Data: []byte("hamlet_id,from_code_list,from_code,hamlet_name,to_code_list,to_code\n" +
		",vn-admin-2025-03-01,30079,Ấp 1,vn-admin-2025-07-01,30025\n17,,,,vn-admin-2025-07-01,30088\n")}
	f, err := unitfile.ReadFS(fsys, "p.csv", unitfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Kind != unitfile.KindPlacement || len(f.Placements) != 2 ||
		f.Placements[0].From.Code != "30079" || f.Placements[0].HamletName != "Ấp 1" || f.Placements[0].To.Code != "30025" ||
		f.Placements[1].HamletID != 17 || f.Placements[1].To.Code != "30088" {
		t.Errorf("placements = %+v", f.Placements)
	}
}

func TestErrUnknownFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.csv"), []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := unitfile.Read(dir, unitfile.Options{})
	var e *unitfile.Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "x.csv") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrBadListRows(t *testing.T) {
	fsys := fstest.MapFS{
		"l/provinces.csv": {Data: []byte("code,full_name,unit_type\n82,Tỉnh Đồng Tháp,Tỉnh\n1,Thành phố Hà Nội,Thành phố\n")},
		"l/wards.csv": {Data: []byte("code,full_name,province_code,unit_type\n29905,Phường Sa Đéc,82,Phường\n" +
			"29905,Phường Sa Đéc,82,Phường\n30214,Xã Tân Dương,99,Xã\n")},
	}
	_, err := unitfile.ReadFS(fsys, "l", unitfile.Options{CodeList: "vn-admin-2026-04-30"})
	var es unitfile.Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Fatalf("err = %v, want 3 problems", err)
	}
	want := []string{"l/provinces.csv:3", "l/wards.csv:3", "l/wards.csv:4"}
	for i, e := range es {
		if !strings.HasPrefix(e.Error(), want[i]) {
			t.Errorf("problem %d = %v, want at %s", i, e, want[i])
		}
	}
}
