package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Exports of the coverage and team reports as CSV (UTF-8 with a BOM, so Excel shows the
// diacritics) and XLSX. Both are written from one table description, so they hold the
// same columns and numbers as the JSON:
//
//   - counts are whole numbers without thousands separators (so every Excel locale reads
//     them as numbers);
//   - percentages are the JSON's, percent with one decimal: CSV writes them with a decimal
//     comma ("71,5"), as Vietnamese readers write them; XLSX as numbers;
//   - last activity is Vietnam time, "dd/mm/yyyy hh:mm" in CSV and a date cell in XLSX.

// value is one cell of an export table.
type value struct {
	kind int // vEmpty, vInt, vPct, vText, vTime
	i    int64
	f    float64
	s    string
	t    time.Time
}

const (
	vEmpty = iota
	vInt
	vPct
	vText
	vTime
)

func intV(n int64) value { return value{kind: vInt, i: n} }
func textV(s string) value {
	if s == "" {
		return value{}
	}
	return value{kind: vText, s: s}
}

func optInt(p *int64) value {
	if p == nil {
		return value{}
	}
	return intV(*p)
}

func pctV(p *float64) value {
	if p == nil {
		return value{}
	}
	return value{kind: vPct, f: *p}
}

func timeV(s *string) value {
	if s == nil {
		return value{}
	}
	t, err := time.Parse(time.RFC3339, *s)
	if err != nil {
		return textV(*s)
	}
	return value{kind: vTime, t: t.In(Vietnam)}
}

// csvText formats v for CSV.
func (v value) csvText() string {
	switch v.kind {
	case vInt:
		return strconv.FormatInt(v.i, 10)
	case vPct:
		return strings.Replace(strconv.FormatFloat(v.f, 'f', 1, 64), ".", ",", 1)
	case vText:
		return v.s
	case vTime:
		return v.t.Format("02/01/2006 15:04")
	}
	return ""
}

// column is one column of an export table over rows of type R.
type column[R any] struct {
	header string
	value  func(R) value
}

// LevelName is a unit level's name in Vietnamese, as report headings use it.
func LevelName(level string) string {
	switch level {
	case schema.LevelProvince:
		return "Tỉnh/Thành phố"
	case schema.LevelDistrict:
		return "Huyện/Quận/Thị xã"
	case schema.LevelCommune:
		return "Xã/Phường/Đặc khu"
	case schema.LevelHamlet:
		return "Ấp/Thôn/Khóm/Tổ dân phố"
	}
	return level
}

// metricName is a target metric's name in Vietnamese.
func metricName(metric string, kinds []schema.Kind) string {
	switch metric {
	case schema.MetricPeople:
		return "Người dân được hỗ trợ"
	case schema.MetricHouseholds:
		return "Hộ được hỗ trợ"
	}
	for _, k := range kinds {
		if k.Code == metric {
			return k.NameVI
		}
	}
	return metric
}

// coverageColumns describes the coverage table of r.
func coverageColumns(r *schema.CoverageReport) []column[*schema.CoverageRow] {
	names := map[int64]string{}
	for _, l := range r.Levels {
		for _, row := range l.Rows {
			names[row.UnitID] = row.Name
		}
	}
	cols := []column[*schema.CoverageRow]{
		{"Cấp", func(x *schema.CoverageRow) value { return textV(LevelName(x.Level)) }},
		{"Mã đơn vị", func(x *schema.CoverageRow) value { return intV(x.UnitID) }},
		{"Mã GSO", func(x *schema.CoverageRow) value { return textV(x.Code) }},
		{"Tên đơn vị", func(x *schema.CoverageRow) value { return textV(x.Name) }},
		{"Trực thuộc", func(x *schema.CoverageRow) value {
			if x.ParentID == nil {
				return value{}
			}
			return textV(names[*x.ParentID])
		}},
		{"Số người dân được hỗ trợ", func(x *schema.CoverageRow) value { return intV(x.People) }},
		{"Số hộ được hỗ trợ", func(x *schema.CoverageRow) value { return intV(x.Households) }},
		{"Dân số trưởng thành (từ 15 tuổi trở lên)", func(x *schema.CoverageRow) value { return optInt(x.Adults) }},
		{"Tỷ lệ người dân được hỗ trợ (%)", func(x *schema.CoverageRow) value { return pctV(x.PeoplePct) }},
		{"Số hộ gia đình", func(x *schema.CoverageRow) value { return optInt(x.HouseholdsTotal) }},
		{"Tỷ lệ hộ được hỗ trợ (%)", func(x *schema.CoverageRow) value { return pctV(x.HouseholdsPct) }},
		{"Số liệu dân số là ước tính", func(x *schema.CoverageRow) value {
			if x.FiguresEstimate {
				return textV("ước tính")
			}
			return value{}
		}},
		{"Số hoạt động", func(x *schema.CoverageRow) value { return intV(x.Logs) }},
		{"Số người tham dự", func(x *schema.CoverageRow) value { return intV(x.Attendees) }},
		{"Số lần chưa hoàn thành", func(x *schema.CoverageRow) value { return intV(x.Incomplete) }},
		{"Số thành viên tổ hoạt động", func(x *schema.CoverageRow) value { return intV(x.ActiveVolunteers) }},
		{"Hoạt động gần nhất", func(x *schema.CoverageRow) value { return timeV(x.LastActivity) }},
	}
	// Targets: one group of columns per metric that has a target anywhere in the report.
	var metrics []string
	seen := map[string]bool{}
	for _, m := range append([]string{schema.MetricPeople, schema.MetricHouseholds}, kindCodes(r.Kinds)...) {
		for _, l := range r.Levels {
			for _, row := range l.Rows {
				for _, t := range row.Targets {
					if t.Metric == m && !seen[m] {
						seen[m] = true
						metrics = append(metrics, m)
					}
				}
			}
		}
	}
	for _, m := range metrics {
		target := func(x *schema.CoverageRow) *schema.TargetFigure {
			for i := range x.Targets {
				if x.Targets[i].Metric == m {
					return &x.Targets[i]
				}
			}
			return nil
		}
		name := metricName(m, r.Kinds)
		cols = append(cols,
			column[*schema.CoverageRow]{"Chỉ tiêu: " + name, func(x *schema.CoverageRow) value {
				if t := target(x); t != nil {
					return intV(int64(t.Value))
				}
				return value{}
			}},
			column[*schema.CoverageRow]{"Kỳ chỉ tiêu: " + name, func(x *schema.CoverageRow) value {
				if t := target(x); t != nil {
					return textV(t.Period)
				}
				return value{}
			}},
			column[*schema.CoverageRow]{"Tỷ lệ đạt chỉ tiêu (%): " + name, func(x *schema.CoverageRow) value {
				if t := target(x); t != nil {
					return pctV(t.Pct)
				}
				return value{}
			}})
	}
	for _, k := range r.Kinds {
		code := k.Code
		cols = append(cols,
			column[*schema.CoverageRow]{k.NameVI + ": số hoạt động", func(x *schema.CoverageRow) value { return intV(x.Kinds[code].Logs) }},
			column[*schema.CoverageRow]{k.NameVI + ": số người tham dự", func(x *schema.CoverageRow) value { return intV(x.Kinds[code].Attendees) }},
			column[*schema.CoverageRow]{k.NameVI + ": chưa hoàn thành", func(x *schema.CoverageRow) value { return intV(x.Kinds[code].Incomplete) }})
	}
	return cols
}

func kindCodes(ks []schema.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.Code
	}
	return out
}

// teamRow is a row of the team table: a team, or one of its volunteers.
type teamRow struct {
	team      *schema.TeamOutput
	volunteer *schema.VolunteerOutput
}

func (t teamRow) figures() *schema.OutputFigures {
	if t.volunteer != nil {
		return &t.volunteer.OutputFigures
	}
	return &t.team.OutputFigures
}

func teamColumns(r *schema.TeamReport, withType bool) []column[teamRow] {
	var cols []column[teamRow]
	if withType {
		cols = append(cols, column[teamRow]{"Loại", func(x teamRow) value {
			if x.volunteer != nil {
				return textV("Thành viên tổ")
			}
			return textV("Tổ")
		}})
	}
	cols = append(cols,
		column[teamRow]{"Mã tổ", func(x teamRow) value { return intV(x.team.TeamID) }},
		column[teamRow]{"Tên tổ", func(x teamRow) value { return textV(x.team.Name) }},
		column[teamRow]{"Địa bàn", func(x teamRow) value { return textV(x.team.UnitName) }},
		column[teamRow]{"Mã thành viên", func(x teamRow) value {
			if x.volunteer == nil {
				return value{}
			}
			return intV(x.volunteer.VolunteerID)
		}},
		column[teamRow]{"Tên thành viên", func(x teamRow) value {
			if x.volunteer == nil {
				return value{}
			}
			return textV(x.volunteer.Name)
		}},
		column[teamRow]{"Số hoạt động", func(x teamRow) value { return intV(x.figures().Logs) }},
		column[teamRow]{"Số người dân được hỗ trợ", func(x teamRow) value { return intV(x.figures().People) }},
		column[teamRow]{"Số người tham dự", func(x teamRow) value { return intV(x.figures().Attendees) }},
		column[teamRow]{"Số lần chưa hoàn thành", func(x teamRow) value { return intV(x.figures().Incomplete) }},
		column[teamRow]{"Số ngày hoạt động", func(x teamRow) value { return intV(x.figures().ActiveDays) }},
		column[teamRow]{"Số thành viên hoạt động", func(x teamRow) value {
			if x.volunteer != nil {
				return value{}
			}
			return intV(x.team.ActiveVolunteers)
		}},
		column[teamRow]{"Hoạt động gần nhất", func(x teamRow) value { return timeV(x.figures().LastActivity) }},
	)
	for _, k := range r.Kinds {
		code := k.Code
		cols = append(cols,
			column[teamRow]{k.NameVI + ": số hoạt động", func(x teamRow) value { return intV(x.figures().Kinds[code].Logs) }},
			column[teamRow]{k.NameVI + ": số người tham dự", func(x teamRow) value { return intV(x.figures().Kinds[code].Attendees) }},
			column[teamRow]{k.NameVI + ": chưa hoàn thành", func(x teamRow) value { return intV(x.figures().Kinds[code].Incomplete) }})
	}
	return cols
}

// bom makes Excel read a CSV file as UTF-8.
const bom = "\ufeff"

func writeCSV[R any](w io.Writer, cols []column[R], rows func(yield func(R) bool)) error {
	if _, err := io.WriteString(w, bom); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // what Excel writes and expects
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.header
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	var err error
	rows(func(r R) bool {
		for i, c := range cols {
			rec[i] = c.value(r).csvText()
		}
		err = cw.Write(rec)
		return err == nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteCoverageCSV writes the coverage report as CSV: one row per unit, provinces first
// and hamlets last, with the level in the first column.
func WriteCoverageCSV(w io.Writer, r *schema.CoverageReport) error {
	return writeCSV(w, coverageColumns(r), func(yield func(*schema.CoverageRow) bool) {
		for li := range r.Levels {
			for i := range r.Levels[li].Rows {
				if !yield(&r.Levels[li].Rows[i]) {
					return
				}
			}
		}
	})
}

// WriteTeamCSV writes the team report as CSV: each team's row followed by its volunteers'.
func WriteTeamCSV(w io.Writer, r *schema.TeamReport) error {
	return writeCSV(w, teamColumns(r, true), func(yield func(teamRow) bool) {
		for ti := range r.Teams {
			t := &r.Teams[ti]
			if !yield(teamRow{team: t}) {
				return
			}
			for vi := range t.Volunteers {
				if !yield(teamRow{team: t, volunteer: &t.Volunteers[vi]}) {
					return
				}
			}
		}
	})
}

// FileName returns a download name for a report: ASCII, without the unit's diacritics
// (the Content-Disposition header also carries the Vietnamese name).
func FileName(kind string, u schema.ReportUnit, from, to, ext string) string {
	return fmt.Sprintf("%s_%d_%s_%s.%s", kind, u.ID, from, to, ext)
}
