package report

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// TargetRow is one row of a targets file (README → Targets): a unit named by its id or by
// its code list and GSO code, a metric (people, households or an activity-kind code), a
// period and a value.
type TargetRow struct {
	Line     int
	UnitID   int64
	CodeList string
	Code     string
	Metric   string
	Period   string // canonical: "2026", "2026-Q4", "2026-11"
	Value    float64
}

// Unit names the row's unit as written, for messages.
func (r TargetRow) Unit() string {
	if r.UnitID != 0 {
		return strconv.FormatInt(r.UnitID, 10)
	}
	return r.CodeList + ":" + r.Code
}

// ParseTargets reads a targets file: CSV (comma or semicolon, as Excel writes it) with a
// header row naming the columns unit_id or code_list and code, metric (or kind), period
// and value, in any order; other columns (a unit's name, a note) are ignored. A UTF-8
// BOM, blank lines and lines starting with # are skipped. defaultCodeList applies to
// rows with a code but no code_list.
//
// Every bad row is reported, with its line number, in one error.
func ParseTargets(r io.Reader, defaultCodeList string) ([]TargetRow, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var lines []string
	var lineNo []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		lines, lineNo = append(lines, l), append(lineNo, n)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, errors.New("tệp chỉ tiêu trống / the targets file is empty")
	}
	cr := csv.NewReader(strings.NewReader(strings.Join(lines, "\n")))
	if strings.Count(lines[0], ";") > strings.Count(lines[0], ",") {
		cr.Comma = ';'
	}
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("tệp CSV không đọc được / unreadable CSV: %w", err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "kind" {
			h = "metric"
		}
		col[h] = i
	}
	_, hasID := col["unit_id"]
	_, hasCode := col["code"]
	for _, need := range []string{"metric", "period", "value"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("thiếu cột %q / missing column %q (columns: unit_id or code_list,code; metric; period; value)", need, need)
		}
	}
	if !hasID && !hasCode {
		return nil, errors.New("thiếu cột unit_id hoặc code / missing column unit_id or code")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []TargetRow
	var errs []string
	for i, rec := range recs[1:] {
		line := lineNo[i+1]
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Sprintf("dòng %d / line %d: ", line, line)+fmt.Sprintf(format, args...))
		}
		r := TargetRow{Line: line, Metric: strings.ToLower(get(rec, "metric"))}
		if id := get(rec, "unit_id"); id != "" {
			n, err := strconv.ParseInt(id, 10, 64)
			if err != nil || n <= 0 {
				fail("unit_id %q không hợp lệ / unit_id %q is not a unit id", id, id)
				continue
			}
			r.UnitID = n
		} else if r.Code = get(rec, "code"); r.Code != "" {
			if r.CodeList = get(rec, "code_list"); r.CodeList == "" {
				r.CodeList = defaultCodeList
			}
			if r.CodeList == "" {
				fail("mã %s cần code_list / code %s needs a code_list (or --code-list)", r.Code, r.Code)
				continue
			}
		} else {
			fail("thiếu đơn vị / no unit_id or code")
			continue
		}
		if r.Metric == "" {
			fail("thiếu chỉ số / no metric")
			continue
		}
		canon, _, _, _, err := ParsePeriod(get(rec, "period"))
		if err != nil {
			fail("%v", err)
			continue
		}
		r.Period = canon
		v, err := parseTargetValue(get(rec, "value"))
		if err != nil {
			fail("%v", err)
			continue
		}
		r.Value = v
		rows = append(rows, r)
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	if len(rows) == 0 {
		return nil, errors.New("tệp chỉ tiêu không có dòng nào / the targets file has no rows")
	}
	return rows, nil
}

var groupedInt = regexp.MustCompile(`^\d{1,3}([., ]\d{3})+$`)

// parseTargetValue reads a target: a whole number ≥ 0, optionally with thousands
// separators in groups of three ("1.284", "1,284", "1 284" are all 1284). A decimal
// value is refused: "1.284" would mean 1284 to a Vietnamese reader and 1.284 to an
// English one.
func parseTargetValue(s string) (float64, error) {
	s = strings.ReplaceAll(s, "\u00a0", " ")
	if groupedInt.MatchString(s) {
		s = strings.NewReplacer(".", "", ",", "", " ", "").Replace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("giá trị %q phải là số nguyên không âm / value %q must be a whole number ≥ 0", s, s)
	}
	return float64(n), nil
}
