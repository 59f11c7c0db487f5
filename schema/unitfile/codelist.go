package unitfile

import (
	"fmt"
	"io/fs"
	"regexp"
	"time"
)

// ReformDate is the day Vietnam's two-tier local government began (Resolution
// 202/2025/QH15; new codes by Decision 19/2025/QĐ-TTg): districts were abolished and
// provinces and communes merged, and the GSO code list started over.
const ReformDate = "2025-07-01"

// Code systems. A GSO code names one unit only within its code system: Decision
// 124/2004/QĐ-TTg gave codes until 2025-06-30 (a dissolved unit's code is not reused, and a
// merged unit keeps one of the old codes), Decision 19/2025/QĐ-TTg from 2025-07-01, and
// the new list reused old codes for other units (29905 was Phường 1 of Sa Đéc and is now
// Phường Sa Đéc). Code lists are versions within a system.
const (
	SystemQD124 = "qd124-2004" // code lists effective before ReformDate: province → district → commune
	SystemQD19  = "qd19-2025"  // code lists effective from ReformDate: province → commune
)

// Code lists the curated hamlet file refers to (see its SOURCE.txt): old codes from the
// 2024-11-01 list, new codes from the 2026-04-30 list.
const (
	CuratedOldCodeList = "vn-admin-2024-11-01"
	CuratedNewCodeList = "vn-admin-2026-04-30"
)

// A code list's version is a name ending in the date it took effect,
// "vn-admin-2025-03-01": the date says which code system its codes belong to.
var codeListRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*-(\d{4}-\d{2}-\d{2})$`)

// CodeListDate returns the date (YYYY-MM-DD) a code list took effect, read from its
// version name ("vn-admin-2025-03-01" → "2025-03-01").
func CodeListDate(codeList string) (string, error) {
	m := codeListRE.FindStringSubmatch(codeList)
	if m == nil {
		return "", fmt.Errorf("phiên bản danh mục %q không hợp lệ: cần dạng tên-YYYY-MM-DD, ví dụ vn-admin-2025-03-01 / "+
			"code list version %q is not of the form name-YYYY-MM-DD, e.g. vn-admin-2025-03-01", codeList, codeList)
	}
	if _, err := time.Parse(time.DateOnly, m[1]); err != nil {
		return "", fmt.Errorf("ngày trong phiên bản danh mục %q không hợp lệ / bad date in code list version %q", codeList, codeList)
	}
	return m[1], nil
}

// CodeSystem returns the code system (SystemQD124 or SystemQD19) of a code list version.
func CodeSystem(codeList string) (string, error) {
	d, err := CodeListDate(codeList)
	if err != nil {
		return "", err
	}
	if d < ReformDate {
		return SystemQD124, nil
	}
	return SystemQD19, nil
}

var effectiveRE = regexp.MustCompile(`(?i)\beffective(?:[ \t]+(?:from|on|date))?[ \t]*[:=]?[ \t]*(\d{4}-\d{2}-\d{2})`)

// sourceEffective returns the date on an "effective YYYY-MM-DD" line of SOURCE.txt in dir,
// or "" if there is none.
func sourceEffective(fsys fs.FS, dir string) string {
	b, err := fs.ReadFile(fsys, join(dir, "SOURCE.txt"))
	if err != nil {
		return ""
	}
	m := effectiveRE.FindSubmatch(b)
	if m == nil {
		return ""
	}
	if _, err := time.Parse(time.DateOnly, string(m[1])); err != nil {
		return ""
	}
	return string(m[1])
}

func join(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return dir + "/" + name
}
