package report

import (
	"io"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/cdtsync/cdtsync/schema"
)

// SheetName is the XLSX sheet of a unit level.
func SheetName(level string) string {
	switch level {
	case schema.LevelProvince:
		return "Tỉnh"
	case schema.LevelDistrict:
		return "Huyện"
	case schema.LevelCommune:
		return "Xã-Phường"
	case schema.LevelHamlet:
		return "Ấp-Thôn"
	}
	return level
}

// Sheet names of the team report and of both reports' first sheet.
const (
	SheetInfo       = "Thông tin"
	SheetTeams      = "Tổ"
	SheetVolunteers = "Thành viên"
)

type xlsxStyles struct{ header, int, pct, time, title int }

type book struct {
	f  *excelize.File
	st xlsxStyles
}

func newBook() (*book, error) {
	f := excelize.NewFile()
	b := &book{f: f}
	var err error
	border := []excelize.Border{{Type: "bottom", Color: "1F3864", Style: 2}}
	if b.st.header, err = f.NewStyle(&excelize.Style{
		Font:      &excelize.Font{Bold: true, Color: "FFFFFF"},
		Fill:      excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"2F5597"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center", Horizontal: "center"},
		Border:    border,
	}); err != nil {
		return nil, err
	}
	if b.st.int, err = f.NewStyle(&excelize.Style{NumFmt: 3}); err != nil { // #,##0
		return nil, err
	}
	pct := "0.0"
	if b.st.pct, err = f.NewStyle(&excelize.Style{CustomNumFmt: &pct}); err != nil {
		return nil, err
	}
	ts := "dd/mm/yyyy hh:mm"
	if b.st.time, err = f.NewStyle(&excelize.Style{CustomNumFmt: &ts}); err != nil {
		return nil, err
	}
	if b.st.title, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 13}}); err != nil {
		return nil, err
	}
	if err := f.SetSheetName("Sheet1", SheetInfo); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *book) cell(v value) any {
	switch v.kind {
	case vInt:
		return excelize.Cell{StyleID: b.st.int, Value: v.i}
	case vPct:
		return excelize.Cell{StyleID: b.st.pct, Value: v.f}
	case vText:
		return v.s
	case vTime:
		// Excel dates have no zone: write Vietnam's wall-clock time.
		t := v.t.In(Vietnam)
		return excelize.Cell{StyleID: b.st.time,
			Value: time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)}
	}
	return nil
}

// info writes the first sheet: what the report is.
func (b *book) info(title string, lines [][2]string) error {
	sw, err := b.f.NewStreamWriter(SheetInfo)
	if err != nil {
		return err
	}
	if err := sw.SetColWidth(1, 1, 34); err != nil {
		return err
	}
	if err := sw.SetColWidth(2, 2, 70); err != nil {
		return err
	}
	if err := sw.SetRow("A1", []any{excelize.Cell{StyleID: b.st.title, Value: title}}); err != nil {
		return err
	}
	for i, l := range lines {
		cell, _ := excelize.CoordinatesToCellName(1, i+3)
		if err := sw.SetRow(cell, []any{l[0], l[1]}); err != nil {
			return err
		}
	}
	return sw.Flush()
}

// sheet writes a table to a new sheet with a styled, frozen header row.
func sheet[R any](b *book, name string, cols []column[R], rows func(yield func(R) bool)) error {
	if _, err := b.f.NewSheet(name); err != nil {
		return err
	}
	sw, err := b.f.NewStreamWriter(name)
	if err != nil {
		return err
	}
	for i := range cols {
		w := 14.0
		if i < 6 {
			w = 22
		}
		if err := sw.SetColWidth(i+1, i+1, w); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = excelize.Cell{StyleID: b.st.header, Value: c.header}
	}
	if err := sw.SetRow("A1", head, excelize.RowOpts{Height: 45}); err != nil {
		return err
	}
	rowNo := 2
	vals := make([]any, len(cols))
	rows(func(r R) bool {
		for i, c := range cols {
			vals[i] = b.cell(c.value(r))
		}
		cell, _ := excelize.CoordinatesToCellName(1, rowNo)
		if err = sw.SetRow(cell, vals); err != nil {
			return false
		}
		rowNo++
		return true
	})
	if err != nil {
		return err
	}
	return sw.Flush()
}

func periodLine(from, to string) string {
	f, err1 := ParseDay(from)
	t, err2 := ParseDay(to)
	if err1 != nil || err2 != nil {
		return from + " – " + to
	}
	return "từ ngày " + f.Vietnamese() + " đến ngày " + t.Vietnamese()
}

func generatedLine(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(Vietnam).Format("02/01/2006 15:04")
}

// WriteCoverageXLSX writes the coverage report as an XLSX workbook: a first sheet saying
// what the report is, then one sheet per level (province first), each with a styled
// header row and numbers as numbers. Rows are streamed to the sheets (excelize keeps
// large sheets in temporary files, not in memory).
func WriteCoverageXLSX(w io.Writer, r *schema.CoverageReport) error {
	b, err := newBook()
	if err != nil {
		return err
	}
	defer b.f.Close()
	approved := "không (tính mọi hoạt động được tính: chờ duyệt và đã duyệt)"
	if r.ApprovedOnly {
		approved = "có"
	}
	targets := "không có (kỳ báo cáo trải qua hai năm)"
	if len(r.TargetPeriods) > 0 {
		targets = ""
		for i, p := range r.TargetPeriods {
			if i > 0 {
				targets += ", rồi "
			}
			targets += p
		}
	}
	if err := b.info("Báo cáo mức độ bao phủ — "+r.Unit.Name, [][2]string{
		{"Đơn vị", r.Unit.Name},
		{"Kỳ báo cáo", periodLine(r.From, r.To)},
		{"Chỉ tính hoạt động đã duyệt", approved},
		{"Kỳ chỉ tiêu áp dụng (theo thứ tự)", targets},
		{"Thời điểm lập báo cáo", generatedLine(r.GeneratedAt)},
		{"Cách tính", "Số người dân và số hộ được hỗ trợ là số người, số hộ khác nhau ở từng cấp (một người được hỗ trợ ở hai ấp chỉ tính một lần cho xã), không cộng từ cấp dưới."},
		{"Thời gian", "Giờ Việt Nam (UTC+7), theo thời điểm đã hiệu chỉnh đồng hồ thiết bị."},
	}); err != nil {
		return err
	}
	cols := coverageColumns(r)
	for li := range r.Levels {
		l := &r.Levels[li]
		if err := sheet(b, SheetName(l.Level), cols, func(yield func(*schema.CoverageRow) bool) {
			for i := range l.Rows {
				if !yield(&l.Rows[i]) {
					return
				}
			}
		}); err != nil {
			return err
		}
	}
	return b.f.Write(w)
}

// WriteTeamXLSX writes the team report as an XLSX workbook: a first sheet saying what the
// report is, a sheet of teams and a sheet of volunteers.
func WriteTeamXLSX(w io.Writer, r *schema.TeamReport) error {
	b, err := newBook()
	if err != nil {
		return err
	}
	defer b.f.Close()
	if err := b.info("Kết quả hoạt động của tổ — "+r.Unit.Name, [][2]string{
		{"Đơn vị", r.Unit.Name},
		{"Kỳ báo cáo", periodLine(r.From, r.To)},
		{"Thời điểm lập báo cáo", generatedLine(r.GeneratedAt)},
		{"Thời gian", "Giờ Việt Nam (UTC+7), theo thời điểm đã hiệu chỉnh đồng hồ thiết bị."},
	}); err != nil {
		return err
	}
	if err := sheet(b, SheetTeams, teamColumns(r, false), func(yield func(teamRow) bool) {
		for i := range r.Teams {
			if !yield(teamRow{team: &r.Teams[i]}) {
				return
			}
		}
	}); err != nil {
		return err
	}
	if err := sheet(b, SheetVolunteers, teamColumns(r, false), func(yield func(teamRow) bool) {
		for i := range r.Teams {
			t := &r.Teams[i]
			for j := range t.Volunteers {
				if !yield(teamRow{team: t, volunteer: &t.Volunteers[j]}) {
					return
				}
			}
		}
	}); err != nil {
		return err
	}
	return b.f.Write(w)
}
