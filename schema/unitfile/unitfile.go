// Package unitfile reads the files an admin imports to build a deployment's tree of
// administrative units: official code lists, the 2025-07-01 reorganisation mapping,
// hamlet lists and hamlet placements. It is pure: it reads files and returns values,
// and the store decides what they change (store/sqlite ImportUnits).
//
// The format is detected from the files and their header rows, never from a folder
// name:
//
//   - a three-tier code list: a folder with provinces.csv, districts.csv and wards.csv
//     (wards.csv has a district_code column), as GSO's list before 2025-07-01;
//   - a two-tier code list: a folder with provinces.csv and wards.csv whose wards have
//     a province_code and no district_code, as from 2025-07-01;
//   - the 2025-07-01 mapping: a folder with new_province_from_old_province.csv and
//     new_ward_from_old_ward.csv (which old units, whole or in part, formed each new one);
//   - a hamlet CSV (columns commune_code_list, commune_code, hamlet_type, hamlet_name and
//     optional households, adults …), or the curated hamlet file's own format
//     (old_ward_code, new_ward_code, hamlet_type, hamlet_name …);
//   - a hamlet-placement CSV (columns from_code_list, from_code, hamlet_name or
//     hamlet_id, to_code_list, to_code) for hamlets whose old commune was split; rows
//     with an empty to_code are skipped (not decided yet).
//
// A code list's version ("vn-admin-2025-03-01", the date it took effect) comes from
// Options.CodeList if set, else from an "effective YYYY-MM-DD" line in the folder's
// SOURCE.txt; a list without either is refused. The mapping's version defaults to
// "vn-admin-2025-07-01", the day the reorganisation took effect. Hamlet files name their
// commune's code list on every row, because codes are reused across lists.
//
// Every name is returned in Unicode NFC with its spaces tidied (NormalizeName); names are
// compared with NameKey, which also settles tone-mark placement ("Hoà" = "Hòa").
package unitfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Kind is the format of a unit file.
type Kind string

// The formats Read understands.
const (
	KindThreeTier Kind = "three-tier" // province → district → commune code list
	KindTwoTier   Kind = "two-tier"   // province → commune code list (from 2025-07-01)
	KindMapping   Kind = "mapping"    // old units → new units on 2025-07-01
	KindHamlets   Kind = "hamlets"    // hamlets under their communes
	KindPlacement Kind = "placement"  // where hamlets of split communes go
)

// Levels of the units a code list holds (the same strings as schema.Level*).
const (
	LevelProvince = "province"
	LevelDistrict = "district"
	LevelCommune  = "commune"
)

// File is one parsed unit file or folder. Which fields are set depends on Kind.
type File struct {
	Kind Kind
	Path string // what was read, for messages

	// Code lists and the mapping: the list's version and the date it took effect. For
	// the mapping, the version of the new list its new codes belong to.
	CodeList  string
	Effective string // YYYY-MM-DD

	// Code lists.
	Provinces, Districts, Communes []Unit

	// The mapping.
	ProvinceLinks []ProvinceLink
	CommuneLinks  []CommuneLink

	// Hamlet files. Curated is true for the curated file's format.
	Hamlets        []Hamlet
	CommuneFigures []CommuneFigures
	Curated        bool

	// Placement files.
	Placements []Placement
}

// Unit is one row of a code list.
type Unit struct {
	Line       int
	Level      string // LevelProvince, LevelDistrict or LevelCommune
	Code       string // GSO code: 2 digits for a province, 3 for a district, 5 for a commune
	ParentCode string // the district's code (three-tier communes) or the province's; "" for a province
	UnitType   string // as the list says: Tỉnh, Thành phố, Quận, Huyện, Thị xã, Xã, Phường, Thị trấn, Đặc khu …
	Name       string // full name: "Phường Sa Đéc"
	NameEN     string // full English name where the list has one: "Sa Dec Ward"
}

// ProvinceLink says that an old province, whole (Full) or in part, became part of a new
// one on 2025-07-01.
type ProvinceLink struct {
	Line             int
	NewCode, NewName string
	NewType          string // from the new name: Tỉnh or Thành phố
	OldCode, OldName string
	Full             bool
}

// CommuneLink says that an old commune (or an island district without communes), whole
// (Full) or in part, became part of a new commune on 2025-07-01.
type CommuneLink struct {
	Line             int
	NewProvinceCode  string
	NewCode, NewName string
	NewType          string // from the new name: Xã, Phường or Đặc khu
	OldCode, OldName string
	Full             bool
}

// CommuneRef names a commune by its code in a code list. Name, when set, is checked
// against the unit the code names, which catches a code given with the wrong list.
type CommuneRef struct {
	CodeList string
	Code     string
	Name     string
}

func (r CommuneRef) String() string { return r.Code + " (" + r.CodeList + ")" }

// Hamlet is one hamlet (ấp, thôn, khóm, tổ dân phố …) under its commune.
type Hamlet struct {
	Line int
	// Communes names the hamlet's commune, in one or more code lists: the curated file
	// gives the old commune (2024-11-01 list) and the new one (2026-04-30 list). The
	// first is the hamlet's home: with the hamlet's name it is its identity across
	// imports. The importer uses whichever names a current unit of the deployment.
	Communes []CommuneRef
	Type     string // canonical hamlet type, one of HamletTypes
	Name     string // full name: "Ấp Đông Huề", "Khóm Vĩnh Phước"
	// Denominators where known: households (số hộ) and adults (dân số từ 15 tuổi).
	Households, Adults *int64
	// Population is the total population where the source gives it (the curated
	// file); it is not the adult population and is not stored.
	Population *int64
	// Generated marks a made-up name; FiguresGenerated made-up or estimated
	// denominators (demo data). Files never set them; the demo does.
	Generated, FiguresGenerated bool
	Source                      string
}

// Home returns the hamlet's home commune reference.
func (h Hamlet) Home() CommuneRef { return h.Communes[0] }

// CommuneFigures are denominators of a commune given in a hamlet file (the curated
// file's commune_households and commune_population columns), for the commune as it was
// at the source's date.
type CommuneFigures struct {
	Line       int
	Commune    CommuneRef
	Households *int64
	Population *int64 // total population, not adults
	Complete   bool   // the source says its hamlet list for this commune is complete
}

// Placement puts a hamlet of a split commune under its new commune. The hamlet is named
// by HamletID, or by the commune it hung under (From) and its name, or both (then they
// must agree).
type Placement struct {
	Line       int
	HamletID   int64
	From       CommuneRef
	HamletName string
	To         CommuneRef
}

// Options tune Read.
type Options struct {
	// CodeList is the version of a code list ("vn-admin-2026-04-30"), the mapping's new
	// list; it overrides SOURCE.txt. Ignored for hamlet and placement files.
	CodeList string
}

// Error is a problem in a unit file: which file, which line (0 for the file as a whole)
// and what, in Vietnamese and English.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Errors is every problem found in a file, in line order (at most maxErrors).
type Errors []*Error

const maxErrors = 50

func (es Errors) Error() string {
	var sb strings.Builder
	for i, e := range es {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(e.Error())
	}
	return sb.String()
}

// Read reads the unit file or folder at name from the operating system's file system.
func Read(name string, opts Options) (*File, error) {
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	var f *File
	root := abs
	if st.IsDir() {
		f, err = ReadFS(os.DirFS(abs), ".", opts)
	} else {
		root = filepath.Dir(abs)
		f, err = ReadFS(os.DirFS(root), filepath.Base(abs), opts)
	}
	if f != nil {
		f.Path = name
	}
	// Name files as the caller knows them, not relative to the folder read.
	rel := filepath.Dir(name)
	if st.IsDir() {
		rel = name
	}
	var e *Error
	var es Errors
	switch {
	case errors.As(err, &es):
		for _, e := range es {
			e.File = filepath.Join(rel, e.File)
		}
	case errors.As(err, &e):
		e.File = filepath.Join(rel, e.File)
	}
	return f, err
}

// ReadFS reads the unit file or folder name in fsys (an embedded folder, in the demo).
// A file that is part of a code list or mapping (wards.csv …) reads its whole folder.
// Bad rows give an Errors value listing each with its line.
func ReadFS(fsys fs.FS, name string, opts Options) (*File, error) {
	name = path.Clean(name)
	st, err := fs.Stat(fsys, name)
	if err != nil {
		return nil, err
	}
	dir := name
	if !st.IsDir() {
		cols, err := header(fsys, name)
		if err != nil {
			return nil, err
		}
		switch {
		case has(cols, "to_code"):
			return readPlacement(fsys, name)
		case has(cols, "old_ward_code", "new_ward_code", "hamlet_name"):
			return readCurated(fsys, name)
		case has(cols, "hamlet_name"):
			return readHamlets(fsys, name)
		}
		dir = path.Dir(name)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	for _, e := range entries {
		files[e.Name()] = !e.IsDir()
	}
	switch {
	case files["new_ward_from_old_ward.csv"]:
		return readMapping(fsys, dir, opts)
	case files["wards.csv"] && files["provinces.csv"]:
		cols, err := header(fsys, join(dir, "wards.csv"))
		if err != nil {
			return nil, err
		}
		if has(cols, "district_code") {
			return readList(fsys, dir, KindThreeTier, opts)
		}
		return readList(fsys, dir, KindTwoTier, opts)
	}
	var csvs []string
	for n, isFile := range files {
		if isFile && strings.HasSuffix(n, ".csv") {
			csvs = append(csvs, n)
		}
	}
	sort.Strings(csvs)
	return nil, &Error{File: name, Msg: fmt.Sprintf("không nhận ra định dạng (có %s): cần thư mục danh mục (provinces.csv, wards.csv), "+
		"thư mục bảng chuyển đổi (new_ward_from_old_ward.csv), tệp ấp/thôn hoặc tệp xếp ấp/thôn / unknown format (found %s): "+
		"expected a code-list folder, a mapping folder, a hamlet CSV or a placement CSV",
		orNone(csvs), orNone(csvs))}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "—"
	}
	return strings.Join(s, ", ")
}

// codeListFor decides the version of the code list in dir.
func codeListFor(fsys fs.FS, dir string, opts Options, what string) (codeList, effective string, err error) {
	if opts.CodeList != "" {
		d, err := CodeListDate(opts.CodeList)
		return opts.CodeList, d, err
	}
	if d := sourceEffective(fsys, dir); d != "" {
		return "vn-admin-" + d, d, nil
	}
	return "", "", &Error{File: join(dir, "SOURCE.txt"), Msg: fmt.Sprintf("không rõ phiên bản của %s: SOURCE.txt không có dòng "+
		"\"effective YYYY-MM-DD\"; hãy chỉ rõ bằng --code-list vn-admin-YYYY-MM-DD / the %s's version is unknown: no "+
		"\"effective YYYY-MM-DD\" in SOURCE.txt; give it with --code-list vn-admin-YYYY-MM-DD", what, whatEN[what])}
}

var whatEN = map[string]string{"danh mục": "code list", "bảng chuyển đổi": "mapping"}
