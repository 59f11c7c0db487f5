package web

import (
	"encoding/csv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/xuri/excelize/v2"

	"github.com/cdtsync/cdtsync/schema"
)

// maxExportLogs bounds a review-queue export (a commune's logs of a year fit many times).
const maxExportLogs = 50_000

// reviewsExport answers GET /web/reviews/export?format=csv|xlsx and the queue's filters:
// every log the filters select, not only the page on screen (up to maxExportLogs), newest
// first, in the page's language. Residents' refs are never exported, as never shown.
func (h *Handler) reviewsExport(c echo.Context, r *req) error {
	if h.cfg.Reviews == nil {
		return schema.Errorf(schema.CodeUnavailable, "reviews")
	}
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	_, f, err := readReviewFilter(c)
	if err != nil {
		return err
	}
	f.Limit = schema.MaxReviewLimit
	var items []schema.ReviewItem
	for {
		page, err := h.cfg.Reviews.ListReviews(r.ctx(), r.actor, f)
		if err != nil {
			return err
		}
		items = append(items, page.Items...)
		if page.NextCursor == "" || len(items) >= maxExportLogs {
			break
		}
		f.Cursor = page.NextCursor
	}
	l := r.L
	header := []string{l.T("log_id"), l.T("time"), l.T("hamlet"), l.T("volunteer"), l.T("team"), l.T("kind"), l.T("outcome"),
		l.T("persons"), l.T("note"), l.T("status"), l.T("review_note"), l.T("conflict"), l.T("canonical")}
	row := func(it schema.ReviewItem) []any {
		outcome := str(it.Outcome)
		if outcome == "" {
			outcome = schema.OutcomeCompleted
		}
		persons := int64(1)
		if it.Attendees != nil {
			persons = *it.Attendees
		}
		var when any = ""
		if it.OccurredAtCorrected != nil {
			if t, err := time.Parse(time.RFC3339Nano, *it.OccurredAtCorrected); err == nil {
				when = t.In(vietnam)
			}
		}
		conflict := ""
		if it.HadConflict {
			conflict = l.T("yes")
		}
		return []any{it.ID, when, it.HamletName, it.VolunteerName, it.TeamName, l.Kind(str(it.Kind)), l.T("outcome_" + outcome),
			persons, str(it.Note), l.Status(it.Status), it.ReviewNote, conflict, it.DuplicateOf}
	}
	name := "reviews_" + h.now().In(vietnam).Format("2006-01-02") + "." + format
	nameVI := "Nhật ký hoạt động - " + r.prof.Unit.Name + " - " + h.now().In(vietnam).Format("2006-01-02") + "." + format
	if format == "csv" {
		download(c, "text/csv; charset=utf-8", name, nameVI)
		if _, err := c.Response().Write([]byte("\ufeff")); err != nil { // Excel reads UTF-8 with a byte-order mark
			return nil
		}
		w := csv.NewWriter(c.Response())
		w.UseCRLF = true
		w.Write(header)
		for _, it := range items {
			rec := make([]string, 0, len(header))
			for _, v := range row(it) {
				switch v := v.(type) {
				case time.Time:
					rec = append(rec, v.Format("02/01/2006 15:04"))
				case int64:
					rec = append(rec, itoa(v))
				case string:
					rec = append(rec, v)
				}
			}
			w.Write(rec)
		}
		w.Flush()
		return nil
	}
	x := excelize.NewFile()
	defer x.Close()
	sheet := l.T("log_title")
	if err := x.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	bold, _ := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	when, _ := x.NewStyle(&excelize.Style{CustomNumFmt: ptr("dd/mm/yyyy hh:mm")})
	for i, hd := range header {
		cell, _ := excelize.CoordinatesToCellName(i+1, 1)
		x.SetCellValue(sheet, cell, hd)
	}
	x.SetRowStyle(sheet, 1, 1, bold)
	for ri, it := range items {
		for ci, v := range row(it) {
			cell, _ := excelize.CoordinatesToCellName(ci+1, ri+2)
			if t, ok := v.(time.Time); ok {
				// Excel has no time zones: write Vietnam's wall-clock time.
				v = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
				x.SetCellStyle(sheet, cell, cell, when)
			}
			x.SetCellValue(sheet, cell, v)
		}
	}
	x.SetColWidth(sheet, "A", "A", 38)
	x.SetColWidth(sheet, "B", "F", 22)
	x.SetColWidth(sheet, "I", "I", 40)
	download(c, mimeXLSX, name, nameVI)
	return x.Write(c.Response())
}

func ptr[T any](v T) *T { return &v }
