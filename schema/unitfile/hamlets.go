package unitfile

import (
	"io/fs"
	"strconv"
	"strings"
)

// Columns of the hamlet CSV (docs/UNITS.md and the README describe it).
const (
	colCodeList   = "commune_code_list" // required: the code list commune_code belongs to, e.g. vn-admin-2026-04-30
	colCode       = "commune_code"      // required: the commune's GSO code (5 digits; leading zeros restored)
	colCommune    = "commune_name"      // optional: checked against the unit the code names
	colType       = "hamlet_type"       // required: ấp, thôn, khóm, tổ dân phố, bản, buôn …
	colName       = "hamlet_name"       // required: with or without its type ("Đông Huề" or "Ấp Đông Huề")
	colHouseholds = "households"        // optional: số hộ
	colAdults     = "adults"            // optional: dân số từ 15 tuổi trở lên
	colSource     = "source"            // optional: where the row comes from
)

func checkCodeList(t *table, col string) (string, bool) {
	v := t.get(col)
	if v == "" {
		t.fail("thiếu phiên bản danh mục ở cột %s (mã được dùng lại giữa các danh mục) / missing code list in column %s (codes are reused across lists)", col, col)
		return "", false
	}
	if _, err := CodeListDate(v); err != nil {
		t.fail("%v", err)
		return "", false
	}
	return v, true
}

func hamletType(t *table) (string, bool) {
	v := t.get(colType)
	typ, ok := HamletType(v)
	if !ok {
		t.fail("loại ấp/thôn %q không rõ; dùng một trong: %s / unknown hamlet type %q; use one of: %s",
			v, strings.Join(HamletTypes, ", "), v, strings.Join(HamletTypes, ", "))
	}
	return typ, ok
}

// dupKey identifies a hamlet within one file: its home commune and its name.
func dupKey(ref CommuneRef, name string) string {
	return ref.CodeList + "/" + ref.Code + "/" + NameKey(name)
}

// readHamlets reads a hamlet CSV in cdtsync's own format.
func readHamlets(fsys fs.FS, name string) (*File, error) {
	t, c, err := openTable(fsys, name, colCodeList, colCode, colType, colName)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f := &File{Kind: KindHamlets, Path: name}
	seen := map[string]int{}
	for t.next() {
		list, ok1 := checkCodeList(t, colCodeList)
		code, ok2 := t.code(colCode, 5, true)
		typ, ok3 := hamletType(t)
		n, ok4 := t.name(colName)
		hh, ok5 := t.count(colHouseholds)
		ad, ok6 := t.count(colAdults)
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			continue
		}
		ref := CommuneRef{CodeList: list, Code: code, Name: NormalizeName(t.get(colCommune))}
		full := FullHamletName(typ, n)
		if prev, dup := seen[dupKey(ref, full)]; dup {
			t.fail("%s của xã mã %s trùng với dòng %d / %s of commune %s repeats line %d", full, ref, prev, full, ref, prev)
			continue
		}
		seen[dupKey(ref, full)] = t.line
		f.Hamlets = append(f.Hamlets, Hamlet{Line: t.line, Communes: []CommuneRef{ref}, Type: typ, Name: full,
			Households: hh, Adults: ad, Source: t.get(colSource)})
	}
	if err := t.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// readCurated reads the curated hamlet file (vn-hamlets-curated/hamlets_curated.csv):
// each row names the old commune (code in the 2024-11-01 list) and the new one (code in
// the 2026-04-30 list), the hamlet's type and name, sometimes its households and total
// population, and the old commune's figures. A row without a hamlet carries commune
// figures only.
func readCurated(fsys fs.FS, name string) (*File, error) {
	t, c, err := openTable(fsys, name, "old_ward_code", "old_ward_name", "new_ward_code", "new_ward_name",
		"hamlet_type", "hamlet_name")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f := &File{Kind: KindHamlets, Path: name, Curated: true}
	seen := map[string]int{}
	figures := map[string]bool{}
	for t.next() {
		oc, ok1 := t.code("old_ward_code", 5, true)
		on, ok2 := t.name("old_ward_name")
		nc, ok3 := t.code("new_ward_code", 5, true)
		nn, ok4 := t.name("new_ward_name")
		chh, ok5 := t.count("commune_households")
		cpop, ok6 := t.count("commune_population")
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			continue
		}
		old := CommuneRef{CodeList: CuratedOldCodeList, Code: oc, Name: on}
		cur := CommuneRef{CodeList: CuratedNewCodeList, Code: nc, Name: nn}
		if (chh != nil || cpop != nil) && !figures[oc] {
			figures[oc] = true
			f.CommuneFigures = append(f.CommuneFigures, CommuneFigures{Line: t.line, Commune: old, Households: chh, Population: cpop,
				Complete: strings.HasPrefix(strings.ToLower(t.get("list_completeness")), "complete")})
		}
		if t.get(colType) == "" && t.get(colName) == "" {
			continue // commune figures only
		}
		typ, ok1 := hamletType(t)
		n, ok2 := t.name(colName)
		hh, ok3 := t.count("hamlet_households")
		pop, ok4 := t.count("hamlet_population")
		if !(ok1 && ok2 && ok3 && ok4) {
			continue
		}
		full := FullHamletName(typ, n)
		if prev, dup := seen[dupKey(old, full)]; dup {
			t.fail("%s của xã mã %s trùng với dòng %d / %s of commune %s repeats line %d", full, old, prev, full, old, prev)
			continue
		}
		seen[dupKey(old, full)] = t.line
		f.Hamlets = append(f.Hamlets, Hamlet{Line: t.line, Communes: []CommuneRef{old, cur}, Type: typ, Name: full,
			Households: hh, Population: pop, Source: t.get("source_url")})
	}
	if err := t.err(); err != nil {
		return nil, err
	}
	return f, nil
}

// readPlacement reads a hamlet-placement CSV.
func readPlacement(fsys fs.FS, name string) (*File, error) {
	t, c, err := openTable(fsys, name, "to_code_list", "to_code")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	f := &File{Kind: KindPlacement, Path: name}
	for t.next() {
		if t.get("to_code") == "" {
			continue // not decided yet: the hamlet stays where it is (a --pending list has such rows)
		}
		p := Placement{Line: t.line}
		ok := true
		if v := t.get("hamlet_id"); v != "" {
			id, err := strconv.ParseInt(v, 10, 64)
			if err != nil || id <= 0 {
				t.fail("hamlet_id %q không hợp lệ / bad hamlet_id %q", v, v)
				ok = false
			}
			p.HamletID = id
		}
		if t.get("from_code") != "" || t.get("hamlet_name") != "" {
			list, ok1 := checkCodeList(t, "from_code_list")
			code, ok2 := t.code("from_code", 5, true)
			n, ok3 := t.name("hamlet_name")
			ok = ok && ok1 && ok2 && ok3
			p.From = CommuneRef{CodeList: list, Code: code, Name: NormalizeName(t.get("from_name"))}
			p.HamletName = n
		} else if p.HamletID == 0 && ok {
			t.fail("cần hamlet_id hoặc from_code_list, from_code và hamlet_name / need hamlet_id, or from_code_list, from_code and hamlet_name")
			ok = false
		}
		list, ok1 := checkCodeList(t, "to_code_list")
		code, ok2 := t.code("to_code", 5, true)
		if !(ok && ok1 && ok2) {
			continue
		}
		p.To = CommuneRef{CodeList: list, Code: code, Name: NormalizeName(t.get("to_name"))}
		f.Placements = append(f.Placements, p)
	}
	if err := t.err(); err != nil {
		return nil, err
	}
	if len(f.Placements) == 0 {
		return nil, &Error{File: name, Msg: "không có dòng nào ghi to_code / no row gives a to_code"}
	}
	return f, nil
}
