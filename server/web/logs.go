package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
)

// One activity log: its current values, every value each field had (which device sent
// it, when, which was kept), its review, and the logs that duplicate it or that it
// duplicates.

type logData struct {
	ID        string
	Item      *reviewRow // from the review queue; nil if not found there
	Current   []historyRow
	History   []historyRow
	Canonical *canonical
	Dups      []reviewRow
}

// logPage answers GET /web/logs/:id. A log outside the caller's scope is 404, like one
// that does not exist.
func (h *Handler) logPage(c echo.Context, r *req) error {
	if h.cfg.Reviews == nil {
		return schema.Errorf(schema.CodeUnavailable, "reviews")
	}
	id := c.Param("id")
	if len(id) > 64 {
		return schema.Errorf(schema.CodeNotFound, "not found")
	}
	items, err := h.cfg.Reviews.LogHistory(r.ctx(), r.actor, id)
	if err != nil {
		return err
	}
	d := &logData{ID: id}
	var hamlet *int64
	count := map[string]int{}
	for _, it := range items {
		count[it.Field]++
	}
	for _, it := range items {
		row := historyRow{Field: r.L.Field(it.Field), Value: r.L.Value(it.Field, it.Value), When: r.L.HLCTime(it.HLC),
			Device: it.DeviceID, Won: it.Won}
		if it.Won {
			switch it.Field {
			case "hamlet_id":
				if v, ok := it.Value.(float64); ok {
					hid := int64(v)
					hamlet = &hid
				}
				continue // named below, from the queue
			}
			d.Current = append(d.Current, row)
		}
		if count[it.Field] > 1 {
			d.History = append(d.History, row)
		}
	}
	// The log's review state, and the logs of the caller's scope that yield to it.
	page, err := h.cfg.Reviews.ListReviews(r.ctx(), r.actor, schema.ReviewFilter{ID: id, Limit: 1})
	if err != nil {
		return err
	}
	for _, it := range page.Items {
		row := reviewRow{ReviewItem: it, KindName: r.L.Kind(str(it.Kind)), NoteText: str(it.Note)}
		if it.OccurredAtCorrected != nil {
			row.When = r.L.DateTime(*it.OccurredAtCorrected)
		}
		d.Item = &row
		if it.DuplicateOf != "" && hamlet != nil {
			d.Canonical = h.canonicalOf(r, it.DuplicateOf, map[int64]string{*hamlet: it.HamletName})
		}
	}
	dups, err := h.cfg.Reviews.ListReviews(r.ctx(), r.actor, schema.ReviewFilter{DuplicateOf: id, Limit: schema.MaxReviewLimit})
	if err != nil {
		return err
	}
	for _, it := range dups.Items {
		row := reviewRow{ReviewItem: it, KindName: r.L.Kind(str(it.Kind))}
		if it.OccurredAtCorrected != nil {
			row.When = r.L.DateTime(*it.OccurredAtCorrected)
		}
		d.Dups = append(d.Dups, row)
	}
	return h.render(c, http.StatusOK, "log", h.view(r, "reviews", r.L.T("log_title"), d))
}
