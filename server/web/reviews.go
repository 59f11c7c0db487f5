package web

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/schema"
	"github.com/cdtsync/cdtsync/sync/engine"
)

// The review queue: filters, a page of logs, and one form that approves or rejects the
// selected logs (or the one whose row button was pressed) with a reason. Conflicts and
// duplicates are marked and explained on the row: a conflict with the field history
// (which value was kept, which replaced, from which device), a duplicate with the log that
// counts instead.

// reviewFilterView is the filter form's state.
type reviewFilterView struct {
	Status, Kind, From, To string
	Unit, Volunteer        int64
	Conflict, Duplicate    bool
}

type reviewsData struct {
	F          reviewFilterView
	Statuses   []option
	Units      []option
	UnitLabel  string
	Volunteers []option
	Kinds      []option
	Items      []reviewRow
	Next       string // the next page's URL
	First      string // the first page's URL, when not on it
	Back       string // this page's query, to come back to after a decision
	Filtered   bool
	ExportCSV  string
	ExportXLSX string
}

// reviewRow is one log of the queue.
type reviewRow struct {
	schema.ReviewItem
	KindName    string
	When        string
	OutcomeCode string // completed or incomplete
	Persons     int64  // attendees, 1 when not given
	NoteText    string
	History     []historyRow // conflicts: the fields that had more than one value
	Canonical   *canonical   // duplicates: the log that counts
	// ConflictFields names the fields of History.
	ConflictFields string
}

// historyRow is one value a field had.
type historyRow struct {
	Field, Value, When, Device string
	Won                        bool
}

// canonical describes the log a duplicate yields to.
type canonical struct {
	ID, Short, Href, Summary string
	Outside                  bool // in another unit: not shown
}

// readReviewFilter reads the queue's filters from the query: status (pending when not
// given; all for every status), unit, volunteer, kind, from, to (dd/mm/yyyy or
// YYYY-MM-DD), conflict and duplicate.
func readReviewFilter(c echo.Context) (reviewFilterView, schema.ReviewFilter, error) {
	q := c.QueryParams()
	fv := reviewFilterView{Status: q.Get("status"), Kind: q.Get("kind")}
	var f schema.ReviewFilter
	var err error
	if fv.From, err = isoDate(q.Get("from")); err != nil {
		return fv, f, err
	}
	if fv.To, err = isoDate(q.Get("to")); err != nil {
		return fv, f, err
	}
	if _, ok := q["status"]; !ok {
		fv.Status = schema.StatusPending
	}
	f = schema.ReviewFilter{Kind: fv.Kind, From: fv.From, To: fv.To}
	if fv.Status != "all" {
		f.Status = fv.Status
	}
	if f.Unit = queryID(c, "unit"); f.Unit != nil {
		fv.Unit = *f.Unit
	}
	if f.Volunteer = queryID(c, "volunteer"); f.Volunteer != nil {
		fv.Volunteer = *f.Volunteer
	}
	if fv.Conflict, _ = strconv.ParseBool(q.Get("conflict")); fv.Conflict {
		t := true
		f.Conflict = &t
	}
	if fv.Duplicate, _ = strconv.ParseBool(q.Get("duplicate")); fv.Duplicate {
		t := true
		f.Duplicate = &t
		if _, ok := q["status"]; !ok {
			fv.Status, f.Status = "all", ""
		}
	}
	return fv, f, nil
}

// reviews answers GET /web/reviews?status=&unit=&volunteer=&kind=&from=&to=&conflict=&duplicate=&cursor=.
func (h *Handler) reviews(c echo.Context, r *req) error {
	if h.cfg.Reviews == nil || h.cfg.Reviewer == nil {
		return schema.Errorf(schema.CodeUnavailable, "reviews")
	}
	q := c.QueryParams()
	fv, f, err := readReviewFilter(c)
	if err != nil {
		return err
	}
	f.Cursor, f.Limit = q.Get("cursor"), schema.DefaultReviewLimit
	d := &reviewsData{F: fv}
	d.Filtered = f.Unit != nil || f.Volunteer != nil || f.Kind != "" || f.From != "" || f.To != "" || f.Conflict != nil || f.Duplicate != nil
	page, err := h.cfg.Reviews.ListReviews(r.ctx(), r.actor, f)
	if err != nil {
		return err
	}
	// The filter's choices.
	for _, s := range []string{schema.StatusPending, schema.StatusApproved, schema.StatusRejected, schema.StatusDuplicate, "all"} {
		label := r.L.T("all")
		if s != "all" {
			label = r.L.Status(s)
		}
		d.Statuses = append(d.Statuses, option{Value: s, Label: label, Selected: s == d.F.Status})
	}
	names := map[int64]string{} // hamlet names, for explaining duplicates
	if h.cfg.Units != nil {
		own := r.actor.UnitID
		units, err := h.cfg.Units.ListUnits(r.ctx(), r.actor, &own, false)
		if err != nil {
			return err
		}
		d.UnitLabel = r.L.T("unit")
		for _, u := range units {
			if u.Level == schema.LevelHamlet {
				d.UnitLabel = r.L.T("hamlet")
			}
			names[u.ID] = u.Name
			d.Units = append(d.Units, option{Value: itoa(u.ID), Label: u.Name, Selected: u.ID == d.F.Unit})
		}
	}
	vols, err := h.cfg.Accounts.ListUsers(r.ctx(), r.actor, schema.UserFilter{Role: schema.RoleVolunteer, IncludeRevoked: true})
	if err != nil {
		return err
	}
	for _, u := range vols {
		d.Volunteers = append(d.Volunteers, option{Value: itoa(u.ID), Label: u.DisplayName, Selected: u.ID == d.F.Volunteer})
	}
	for _, k := range schema.DefaultKinds {
		d.Kinds = append(d.Kinds, option{Value: k.Code, Label: r.L.Kind(k.Code), Selected: k.Code == d.F.Kind})
	}
	for _, it := range page.Items {
		row := reviewRow{ReviewItem: it, KindName: r.L.Kind(str(it.Kind)), OutcomeCode: str(it.Outcome), Persons: 1,
			NoteText: str(it.Note)}
		if row.OutcomeCode == "" {
			row.OutcomeCode = schema.OutcomeCompleted
		}
		if it.Attendees != nil {
			row.Persons = *it.Attendees
		}
		if it.OccurredAtCorrected != nil {
			row.When = r.L.DateTime(*it.OccurredAtCorrected)
		}
		names[hamletID(it)] = it.HamletName
		if it.HadConflict {
			row.History = h.conflictHistory(r, it.ID)
			var names []string
			for _, hr := range row.History {
				if len(names) == 0 || names[len(names)-1] != hr.Field {
					names = append(names, hr.Field)
				}
			}
			row.ConflictFields = strings.Join(names, ", ")
		}
		if it.DuplicateOf != "" {
			row.Canonical = h.canonicalOf(r, it.DuplicateOf, names)
		}
		d.Items = append(d.Items, row)
	}
	base := url.Values{}
	for k, vs := range q {
		if k != "cursor" {
			base[k] = vs
		}
	}
	if page.NextCursor != "" {
		nq := url.Values{}
		for k, vs := range base {
			nq[k] = vs
		}
		nq.Set("cursor", page.NextCursor)
		d.Next = "/web/reviews?" + nq.Encode()
	}
	if f.Cursor != "" {
		d.First = "/web/reviews"
		if len(base) > 0 {
			d.First += "?" + base.Encode()
		}
	}
	d.Back = q.Encode()
	eq := url.Values{}
	for k, vs := range base {
		eq[k] = vs
	}
	eq.Set("format", "csv")
	d.ExportCSV = "/web/reviews/export?" + eq.Encode()
	eq.Set("format", "xlsx")
	d.ExportXLSX = "/web/reviews/export?" + eq.Encode()
	return h.render(c, http.StatusOK, "reviews", h.view(r, "reviews", r.L.T("reviews_title"), d))
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func hamletID(it schema.ReviewItem) int64 {
	if it.HamletID == nil {
		return 0
	}
	return *it.HamletID
}

// conflictHistory is the history of the fields of a log that had more than one value.
func (h *Handler) conflictHistory(r *req, id string) []historyRow {
	items, err := h.cfg.Reviews.LogHistory(r.ctx(), r.actor, id)
	if err != nil {
		h.logErr(r.c, "log history for the review queue", err)
		return nil
	}
	count := map[string]int{}
	for _, it := range items {
		count[it.Field]++
	}
	var out []historyRow
	for _, it := range items {
		if count[it.Field] < 2 {
			continue
		}
		out = append(out, historyRow{Field: r.L.Field(it.Field), Value: r.L.Value(it.Field, it.Value),
			When: r.L.HLCTime(it.HLC), Device: it.DeviceID, Won: it.Won})
	}
	return out
}

// canonicalOf describes the log a duplicate yields to, from its history's kept values.
// A canonical log outside the caller's scope (the same resident helped in another
// commune) is said to be elsewhere and nothing more.
func (h *Handler) canonicalOf(r *req, id string, hamlets map[int64]string) *canonical {
	items, err := h.cfg.Reviews.LogHistory(r.ctx(), r.actor, id)
	if schema.ErrorCode(err) == schema.CodeNotFound {
		return &canonical{ID: id, Outside: true}
	}
	cn := &canonical{ID: id, Short: shortID(id), Href: "/web/logs/" + url.PathEscape(id)}
	if err != nil {
		h.logErr(r.c, "log history of a canonical log", err)
		return cn
	}
	var parts []string
	var when, hamlet, device string
	for _, it := range items {
		if !it.Won {
			continue
		}
		switch it.Field {
		case "occurred_at":
			when, device = r.L.Value(it.Field, it.Value), it.DeviceID
		case "hamlet_id":
			if v, ok := it.Value.(float64); ok {
				hamlet = hamlets[int64(v)]
			}
		}
	}
	for _, p := range []string{when, hamlet, device} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	cn.Summary = strings.Join(parts, " · ")
	return cn
}

// shortID is the end of a log id, enough to tell logs apart on a screen (UUIDv7 ids
// begin with their time, so their ends differ).
func shortID(id string) string {
	if len(id) > 8 {
		return "…" + id[len(id)-8:]
	}
	return id
}

// postReviews answers POST /web/reviews: the selected logs (id, many) with action
// approved or rejected, or one row's button (one=approved:ID), with the reason; then back
// to the queue as it was, with a message of what was done.
func (h *Handler) postReviews(c echo.Context, r *req) error {
	if h.cfg.Reviewer == nil {
		return schema.Errorf(schema.CodeUnavailable, "reviews")
	}
	f := c.Request().PostForm
	back := "/web/reviews"
	if bq, err := url.ParseQuery(f.Get("back")); err == nil && len(bq) > 0 {
		bq.Del("cursor") // decided logs leave the page: start it again
		back += "?" + bq.Encode()
	}
	action, ids := f.Get("action"), f["id"]
	if one := f.Get("one"); one != "" {
		a, id, _ := strings.Cut(one, ":")
		action, ids = a, []string{id}
	}
	if action != schema.StatusApproved && action != schema.StatusRejected {
		return schema.Errorf(schema.CodeInvalid, "Hành động phải là duyệt hoặc từ chối / action must be approved or rejected")
	}
	ids = dedupe(ids)
	reason := strings.TrimSpace(f.Get("reason"))
	switch {
	case len(ids) == 0:
		h.sessions.addFlash(r.sess.key, flash{Kind: "error", Text: r.L.T("msg_none_selected")})
		return c.Redirect(http.StatusSeeOther, back)
	case action == schema.StatusRejected && reason == "":
		h.sessions.addFlash(r.sess.key, flash{Kind: "error", Text: r.L.T("msg_reason_needed")})
		return c.Redirect(http.StatusSeeOther, back)
	case len(ids) > engine.MaxDecisions:
		return schema.Errorf(schema.CodeTooLarge, "Tối đa %d nhật ký mỗi lần / at most %d logs at once", engine.MaxDecisions, engine.MaxDecisions)
	}
	ds := make([]engine.Decision, len(ids))
	for i, id := range ids {
		ds[i] = engine.Decision{ID: id, Status: action, Note: reason}
	}
	results, err := h.cfg.Reviewer.Review(r.ctx(), r.actor, ds)
	if err != nil {
		return err
	}
	ok, still, failed := 0, 0, map[string]int{}
	for _, res := range results {
		switch {
		case res.OK && res.Status == action:
			ok++
		case res.OK: // approved, but the log is still a duplicate of an earlier one
			still++
		default:
			failed[r.L.Message(res.Message)]++
		}
	}
	if ok > 0 {
		key := "msg_approved"
		if action == schema.StatusRejected {
			key = "msg_rejected"
		}
		h.sessions.addFlash(r.sess.key, flash{Kind: "ok", Text: r.L.Tf(key, ok)})
	}
	if still > 0 {
		h.sessions.addFlash(r.sess.key, flash{Kind: "info", Text: r.L.Tf("msg_still_duplicate", still)})
	}
	if len(failed) > 0 {
		var msgs []string
		n := 0
		for m, k := range failed {
			msgs, n = append(msgs, m), n+k
		}
		sort.Strings(msgs)
		h.sessions.addFlash(r.sess.key, flash{Kind: "error", Text: r.L.Tf("msg_review_failed", n, strings.Join(msgs, "; "))})
	}
	h.log.Info("dashboard review", "by", r.actor.UserID, "status", action, "ok", ok, "failed", len(results)-ok, "request_id", requestID(c))
	return c.Redirect(http.StatusSeeOther, back)
}

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := ids[:0:0]
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
