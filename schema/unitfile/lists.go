package unitfile

import (
	"errors"
	"fmt"
	"io/fs"
)

// readList reads a code list folder: provinces.csv, districts.csv (three-tier only) and
// wards.csv, with the columns of GSO's list as published by
// thanglequoc/vietnamese-provinces-database (code, full_name, full_name_en, unit_type,
// province_code, district_code).
func readList(fsys fs.FS, dir string, kind Kind, opts Options) (*File, error) {
	codeList, eff, err := codeListFor(fsys, dir, opts, "danh mục")
	if err != nil {
		return nil, err
	}
	sys, _ := CodeSystem(codeList)
	switch {
	case kind == KindThreeTier && sys != SystemQD124:
		return nil, &Error{File: dir, Msg: "danh mục 3 cấp (có huyện) phải có hiệu lực trước 01/07/2025, nhưng phiên bản là " + codeList +
			" / a three-tier list (with districts) must take effect before 2025-07-01, but its version is " + codeList}
	case kind == KindTwoTier && sys != SystemQD19:
		return nil, &Error{File: dir, Msg: "danh mục 2 cấp (không có huyện) phải có hiệu lực từ 01/07/2025, nhưng phiên bản là " + codeList +
			" / a two-tier list (no districts) must take effect from 2025-07-01, but its version is " + codeList}
	}
	f := &File{Kind: kind, Path: dir, CodeList: codeList, Effective: eff}
	var errs Errors
	collect := func(err error) error {
		var es Errors
		if errors.As(err, &es) {
			errs = append(errs, es...)
			return nil
		}
		return err
	}

	provinces := map[string]bool{}
	if err := collect(readUnits(fsys, join(dir, "provinces.csv"), LevelProvince, 2, "", nil, func(u Unit) {
		provinces[u.Code] = true
		f.Provinces = append(f.Provinces, u)
	})); err != nil {
		return nil, err
	}
	parentOf := map[string]string{} // district code → province code
	if kind == KindThreeTier {
		if err := collect(readUnits(fsys, join(dir, "districts.csv"), LevelDistrict, 3, "province_code", provinces, func(u Unit) {
			parentOf[u.Code] = u.ParentCode
			f.Districts = append(f.Districts, u)
		})); err != nil {
			return nil, err
		}
	}
	wardParent, parents := "province_code", provinces
	if kind == KindThreeTier {
		districts := make(map[string]bool, len(parentOf))
		for c := range parentOf {
			districts[c] = true
		}
		wardParent, parents = "district_code", districts
	}
	if err := collect(readUnits(fsys, join(dir, "wards.csv"), LevelCommune, 5, wardParent, parents, func(u Unit) {
		f.Communes = append(f.Communes, u)
	})); err != nil {
		return nil, err
	}
	if kind == KindThreeTier && len(errs) == 0 {
		// A ward's province_code must be its district's province.
		if err := collect(checkWardProvinces(fsys, join(dir, "wards.csv"), parentOf)); err != nil {
			return nil, err
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// readUnits reads one level of a code list. parentCol names the column with the parent's
// code (checked against parents); "" for provinces.
func readUnits(fsys fs.FS, name, level string, width int, parentCol string, parents map[string]bool, add func(Unit)) error {
	required := []string{"code", "full_name", "unit_type"}
	if parentCol != "" {
		required = append(required, parentCol)
	}
	t, c, err := openTable(fsys, name, required...)
	if err != nil {
		return err
	}
	defer c.Close()
	seen := map[string]int{}
	for t.next() {
		code, ok1 := t.code("code", width, false)
		full, ok2 := t.name("full_name")
		typ := NormalizeName(t.get("unit_type"))
		if typ == "" {
			t.fail("thiếu loại đơn vị (unit_type) / missing unit_type")
			continue
		}
		if !ok1 || !ok2 {
			continue
		}
		if prev, dup := seen[code]; dup {
			t.fail("mã %s trùng với dòng %d / code %s repeats line %d", code, prev, code, prev)
			continue
		}
		seen[code] = t.line
		u := Unit{Line: t.line, Level: level, Code: code, UnitType: typ, Name: full, NameEN: NormalizeName(t.get("full_name_en"))}
		if parentCol != "" {
			pw := 2
			if parentCol == "district_code" {
				pw = 3
			}
			p, ok := t.code(parentCol, pw, false)
			if !ok {
				continue
			}
			if !parents[p] {
				t.fail("%s %s không có trong danh mục / %s %s is not in the list", parentCol, p, parentCol, p)
				continue
			}
			u.ParentCode = p
		}
		add(u)
	}
	return t.err()
}

func checkWardProvinces(fsys fs.FS, name string, provinceOf map[string]string) error {
	t, c, err := openTable(fsys, name, "code", "district_code", "province_code")
	if err != nil {
		return err
	}
	defer c.Close()
	for t.next() {
		d, p := t.get("district_code"), t.get("province_code")
		if provinceOf[d] != p {
			t.fail("huyện %s thuộc tỉnh %s, không phải %s / district %s belongs to province %s, not %s", d, provinceOf[d], p, d, provinceOf[d], p)
		}
	}
	return t.err()
}

// readMapping reads the 2025-07-01 reorganisation mapping (dvhcvn/20250701 flattened to
// CSV): new_province_from_old_province.csv and new_ward_from_old_ward.csv, with
// merge_type full or partial.
func readMapping(fsys fs.FS, dir string, opts Options) (*File, error) {
	codeList, eff := "vn-admin-"+ReformDate, ReformDate
	if opts.CodeList != "" || sourceEffective(fsys, dir) != "" {
		var err error
		if codeList, eff, err = codeListFor(fsys, dir, opts, "bảng chuyển đổi"); err != nil {
			return nil, err
		}
	}
	if eff < ReformDate {
		return nil, &Error{File: dir, Msg: "bảng chuyển đổi dẫn tới danh mục mới, có hiệu lực từ 01/07/2025, không phải " + codeList +
			" / the mapping leads to the new list, effective from 2025-07-01, not " + codeList}
	}
	f := &File{Kind: KindMapping, Path: dir, CodeList: codeList, Effective: eff}
	var errs Errors

	t, c, err := openTable(fsys, join(dir, "new_province_from_old_province.csv"),
		"new_province_code", "new_province_name", "old_province_code", "old_province_name", "merge_type")
	if err != nil {
		return nil, err
	}
	provNames := map[string]string{}
	for t.next() {
		nc, ok1 := t.code("new_province_code", 2, false)
		oc, ok2 := t.code("old_province_code", 2, false)
		nn, ok3 := t.name("new_province_name")
		on, ok4 := t.name("old_province_name")
		full, ok5 := mergeType(t)
		if !(ok1 && ok2 && ok3 && ok4 && ok5) {
			continue
		}
		typ, ok := typeFromName(nn, provinceTypes)
		if !ok {
			t.fail("tên tỉnh mới %q không bắt đầu bằng Tỉnh hoặc Thành phố / new province name %q does not begin with Tỉnh or Thành phố", nn, nn)
			continue
		}
		if prev, ok := provNames[nc]; ok && NameKey(prev) != NameKey(nn) {
			t.fail("tỉnh mới %s có hai tên: %q và %q / new province %s has two names", nc, prev, nn, nc)
			continue
		}
		provNames[nc] = nn
		f.ProvinceLinks = append(f.ProvinceLinks, ProvinceLink{Line: t.line, NewCode: nc, NewName: nn, NewType: typ, OldCode: oc, OldName: on, Full: full})
	}
	c.Close()
	errs = append(errs, t.errs...)

	t, c, err = openTable(fsys, join(dir, "new_ward_from_old_ward.csv"),
		"new_province_code", "new_ward_code", "new_ward_name", "old_ward_code", "old_ward_name", "merge_type")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	wardNames := map[string]string{}
	wardProv := map[string]string{}
	pairs := map[[2]string]int{}
	for t.next() {
		np, ok1 := t.code("new_province_code", 2, false)
		nc, ok2 := t.code("new_ward_code", 5, false)
		nn, ok3 := t.name("new_ward_name")
		on, ok4 := t.name("old_ward_name")
		full, ok5 := mergeType(t)
		// Old codes are communes (5 digits) or island districts without communes (3).
		oc := t.get("old_ward_code")
		ok6 := digits.MatchString(oc) && (len(oc) == 5 || len(oc) == 3)
		if !ok6 {
			t.fail("mã xã cũ %q phải có 5 chữ số (hoặc 3 với huyện đảo) / old code %q must have 5 digits (3 for an island district)", oc, oc)
		}
		if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
			continue
		}
		if _, ok := provNames[np]; !ok {
			t.fail("tỉnh mới %s không có trong new_province_from_old_province.csv / new province %s is not in new_province_from_old_province.csv", np, np)
			continue
		}
		typ, ok := typeFromName(nn, communeTypes)
		if !ok {
			t.fail("tên xã mới %q không bắt đầu bằng Xã, Phường hoặc Đặc khu / new commune name %q does not begin with Xã, Phường or Đặc khu", nn, nn)
			continue
		}
		if prev, ok := wardNames[nc]; ok && (NameKey(prev) != NameKey(nn) || wardProv[nc] != np) {
			t.fail("xã mới %s có hai tên hoặc hai tỉnh / new commune %s has two names or provinces", nc, nc)
			continue
		}
		if prev, dup := pairs[[2]string{nc, oc}]; dup {
			t.fail("cặp %s ← %s trùng với dòng %d / link %s ← %s repeats line %d", nc, oc, prev, nc, oc, prev)
			continue
		}
		pairs[[2]string{nc, oc}] = t.line
		wardNames[nc], wardProv[nc] = nn, np
		f.CommuneLinks = append(f.CommuneLinks, CommuneLink{Line: t.line, NewProvinceCode: np, NewCode: nc, NewName: nn, NewType: typ,
			OldCode: oc, OldName: on, Full: full})
	}
	errs = append(errs, t.errs...)
	// An old unit that went wholly into one new commune went nowhere else.
	links := map[string][]CommuneLink{}
	for _, l := range f.CommuneLinks {
		links[l.OldCode] = append(links[l.OldCode], l)
	}
	for _, l := range f.CommuneLinks {
		if ls := links[l.OldCode]; l.Full && len(ls) > 1 && len(errs) < maxErrors {
			errs = append(errs, &Error{File: t.file, Line: l.Line, Msg: fmt.Sprintf("xã cũ %s nhập toàn bộ (full) vào %s nhưng còn có %d liên kết khác / "+
				"old commune %s went wholly (full) into %s but has %d other links", l.OldCode, l.NewCode, len(ls)-1, l.OldCode, l.NewCode, len(ls)-1)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

func mergeType(t *table) (full, ok bool) {
	switch v := t.get("merge_type"); v {
	case "full":
		return true, true
	case "partial":
		return false, true
	default:
		t.fail("merge_type %q phải là full hoặc partial / merge_type %q must be full or partial", v, v)
		return false, false
	}
}
