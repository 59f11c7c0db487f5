package web

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
)

// The overview: coverage of the caller's unit, or of a unit below it, for a period: the
// unit's own figures, its child units as a table and a bar chart against their targets
// (drill down by following a child), its figures per kind, and exports of the same report.

// period is a report period as the picker shows it.
type period struct {
	From, To     string // YYYY-MM-DD as asked (empty: the report's default, this year)
	ApprovedOnly bool
	Quick        []quickPeriod
}

// quickPeriod is a one-click period.
type quickPeriod struct {
	Label    string
	From, To string
	Current  bool
}

// readPeriod reads from, to (dd/mm/yyyy as typed, or YYYY-MM-DD in links) and
// approved_only from the query.
func (h *Handler) readPeriod(c echo.Context, l loc) (period, error) {
	var p period
	var err error
	if p.From, err = isoDate(c.QueryParam("from")); err != nil {
		return p, err
	}
	if p.To, err = isoDate(c.QueryParam("to")); err != nil {
		return p, err
	}
	p.ApprovedOnly, _ = strconv.ParseBool(c.QueryParam("approved_only"))
	today := h.now().In(vietnam)
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	first := time.Date(today.Year(), today.Month(), 1, 12, 0, 0, 0, vietnam)
	for _, q := range []quickPeriod{
		{Label: l.T("this_month"), From: day(first), To: day(today)},
		{Label: l.T("last_month"), From: day(first.AddDate(0, -1, 0)), To: day(first.AddDate(0, 0, -1))},
		{Label: l.T("last_30"), From: day(today.AddDate(0, 0, -29)), To: day(today)},
		{Label: l.T("this_year"), From: day(time.Date(today.Year(), 1, 1, 12, 0, 0, 0, vietnam)), To: day(today)},
	} {
		q.Current = q.From == p.From && q.To == p.To
		p.Quick = append(p.Quick, q)
	}
	return p, nil
}

// isoDate reads a date typed as dd/mm/yyyy (the Vietnamese form the pages show; d/m and
// dashes or dots are fine too) or given as YYYY-MM-DD, and returns it as YYYY-MM-DD; empty
// stays empty.
func isoDate(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.Format(time.DateOnly), nil
	}
	norm := strings.NewReplacer("-", "/", ".", "/").Replace(s)
	for _, layout := range []string{"02/01/2006", "2/1/2006"} {
		if t, err := time.Parse(layout, norm); err == nil {
			return t.Format(time.DateOnly), nil
		}
	}
	return "", schema.Errorf(schema.CodeInvalid, "Ngày %q không hợp lệ, hãy nhập theo dạng ngày/tháng/năm, ví dụ 23/11/2026 / "+
		"%q is not a date: type day/month/year, e.g. 23/11/2026", s, s)
}

// filter is the report filter of the period, for a unit.
func (p period) filter(unit *int64) schema.ReportFilter {
	return schema.ReportFilter{Unit: unit, From: p.From, To: p.To, ApprovedOnly: p.ApprovedOnly}
}

// crumb is one step of the way from the caller's unit down to the unit shown.
type crumb struct {
	Name, Href string
}

// childRow is a child unit's row of the overview table.
type childRow struct {
	schema.CoverageRow
	Href    string
	Reached int64                // the chart's measure
	Target  *schema.TargetFigure // the target of that measure, if any
}

// kindRow is one activity kind's figures for the unit.
type kindRow struct {
	Code, Name string
	schema.KindFigures
	Target *schema.TargetFigure
}

// targetRow is one of the unit's targets, named.
type targetRow struct {
	schema.TargetFigure
	Name string
}

// option is an entry of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

type overviewData struct {
	Report     *schema.CoverageReport
	Unit       schema.CoverageRow
	Crumbs     []crumb
	Period     period
	Metric     string
	MetricName string
	Metrics    []option
	Sort       string // "" (by name), reached or pct
	Sorts      []option
	ChildLevel string
	Children   []childRow
	Chart      *chart
	Kinds      []kindRow
	Targets    []targetRow
	Estimate   bool
	Action     string // the period form's action: this page
	ExportCSV  string
	ExportXLSX string
}

// overview answers GET /web/ (the caller's unit) and GET /web/units/:id.
func (h *Handler) overview(c echo.Context, r *req) error {
	if h.cfg.Reports == nil {
		return schema.Errorf(schema.CodeUnavailable, "reports")
	}
	var unit *int64
	if c.Param("id") != "" {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		unit = &id
	}
	p, err := h.readPeriod(c, r.L)
	if err != nil {
		return err
	}
	rep, err := h.cfg.Reports.Coverage(r.ctx(), r.actor, p.filter(unit))
	if err != nil {
		return err
	}
	d := &overviewData{Report: &rep, Period: p, Metric: c.QueryParam("metric"), Sort: c.QueryParam("sort")}
	if d.Sort != "reached" && d.Sort != "pct" {
		d.Sort = ""
	}
	for _, o := range []option{{Value: "", Label: r.L.T("sort_name")}, {Value: "reached", Label: r.L.T("sort_reached")},
		{Value: "pct", Label: r.L.T("sort_pct")}} {
		o.Selected = o.Value == d.Sort
		d.Sorts = append(d.Sorts, o)
	}
	if d.Metric == "" {
		d.Metric = schema.MetricPeople
	}
	d.Action = c.Request().URL.Path
	var rootParent *int64
	for _, lv := range rep.Levels {
		for _, row := range lv.Rows {
			if row.UnitID == rep.Unit.ID {
				d.Unit, rootParent = row, row.ParentID
			}
			if row.FiguresEstimate {
				d.Estimate = true
			}
		}
	}
	d.Metrics = h.metricOptions(r.L, rep.Kinds, d.Metric)
	for _, m := range d.Metrics {
		if m.Selected {
			d.MetricName = m.Label
		}
	}
	if d.MetricName == "" { // an unknown metric: back to people
		d.Metric, d.MetricName = schema.MetricPeople, r.L.T("metric_people")
	}
	for _, lv := range rep.Levels {
		for _, row := range lv.Rows {
			if row.ParentID == nil || *row.ParentID != rep.Unit.ID {
				continue
			}
			d.ChildLevel = row.Level
			cr := childRow{CoverageRow: row, Href: link("/web/units/"+itoa(row.UnitID), "from", p.From, "to", p.To,
				"approved_only", p.ApprovedOnly, "metric", metricParam(d.Metric), "sort", d.Sort), Reached: reached(row, d.Metric)}
			cr.Target = targetOf(row, d.Metric)
			d.Children = append(d.Children, cr)
		}
	}
	sortChildren(d.Children, d.Sort)
	if len(d.Children) > 0 {
		d.Chart = buildChart(r.L, d.Children)
	}
	for _, k := range rep.Kinds {
		f, ok := d.Unit.Kinds[k.Code]
		t := targetOf(d.Unit, k.Code)
		if !ok && t == nil {
			continue
		}
		d.Kinds = append(d.Kinds, kindRow{Code: k.Code, Name: r.L.KindIn(rep.Kinds, k.Code), KindFigures: f, Target: t})
	}
	for _, t := range d.Unit.Targets {
		d.Targets = append(d.Targets, targetRow{TargetFigure: t, Name: metricLabel(r.L, rep.Kinds, t.Metric)})
	}
	if d.Crumbs, err = h.crumbs(r, rep.Unit.ID, rep.Unit.Name, rootParent); err != nil {
		return err
	}
	for i := range d.Crumbs {
		if d.Crumbs[i].Href != "" {
			d.Crumbs[i].Href = link(d.Crumbs[i].Href, "from", p.From, "to", p.To, "approved_only", p.ApprovedOnly,
				"metric", metricParam(d.Metric), "sort", d.Sort)
		}
	}
	exp := "/web/units/" + itoa(rep.Unit.ID) + "/export"
	d.ExportCSV = link(exp, "format", "csv", "from", p.From, "to", p.To, "approved_only", p.ApprovedOnly)
	d.ExportXLSX = link(exp, "format", "xlsx", "from", p.From, "to", p.To, "approved_only", p.ApprovedOnly)
	return h.render(c, http.StatusOK, "overview", h.view(r, "overview", rep.Unit.Name, d))
}

// sortChildren orders the child rows: as the report has them (by name, in Vietnamese
// order), or by the measure reached, or by the share of the target reached (units
// without a target last), largest first; ties keep the report's order.
func sortChildren(rows []childRow, by string) {
	key := func(r childRow) float64 {
		switch by {
		case "reached":
			return float64(r.Reached)
		case "pct":
			if r.Target != nil && r.Target.Pct != nil {
				return *r.Target.Pct
			}
			return -1
		}
		return 0
	}
	if by == "" {
		return
	}
	sort.SliceStable(rows, func(i, j int) bool { return key(rows[i]) > key(rows[j]) })
}

// metricParam leaves the default measure out of links.
func metricParam(m string) string {
	if m == schema.MetricPeople {
		return ""
	}
	return m
}

// metricOptions are the chart's measures: people, households and each kind's attendees
// (what targets of a kind count).
func (h *Handler) metricOptions(l loc, kinds []schema.Kind, cur string) []option {
	opts := []option{{Value: schema.MetricPeople, Label: l.T("metric_people")}, {Value: schema.MetricHouseholds, Label: l.T("metric_households")}}
	for _, k := range kinds {
		if k.Active {
			opts = append(opts, option{Value: k.Code, Label: l.KindIn(kinds, k.Code)})
		}
	}
	for i := range opts {
		opts[i].Selected = opts[i].Value == cur
	}
	return opts
}

// metricLabel names a target metric.
func metricLabel(l loc, kinds []schema.Kind, m string) string {
	switch m {
	case schema.MetricPeople:
		return l.T("metric_people")
	case schema.MetricHouseholds:
		return l.T("metric_households")
	}
	return l.KindIn(kinds, m)
}

// reached is a row's figure for a measure, as the report's targets count it.
func reached(row schema.CoverageRow, metric string) int64 {
	switch metric {
	case schema.MetricPeople:
		return row.People
	case schema.MetricHouseholds:
		return row.Households
	}
	return row.Kinds[metric].Attendees
}

// targetOf is a row's target for a measure, or nil.
func targetOf(row schema.CoverageRow, metric string) *schema.TargetFigure {
	for i := range row.Targets {
		if row.Targets[i].Metric == metric {
			return &row.Targets[i]
		}
	}
	return nil
}

// crumbs are the units from the caller's own down to the one shown, each a link but the
// last. Names come from the scoped unit list (a unit's materialised path holds its
// ancestors' ids), so they never name a unit outside the caller's scope.
func (h *Handler) crumbs(r *req, unitID int64, unitName string, parent *int64) ([]crumb, error) {
	last := crumb{Name: unitName}
	if h.cfg.Units == nil || unitID == r.actor.UnitID || parent == nil {
		return []crumb{last}, nil
	}
	find := func(parent *int64, id int64) (schema.Unit, bool, error) {
		us, err := h.cfg.Units.ListUnits(r.ctx(), r.actor, parent, true)
		if err != nil {
			return schema.Unit{}, false, err
		}
		for _, u := range us {
			if u.ID == id {
				return u, true, nil
			}
		}
		return schema.Unit{}, false, nil
	}
	self, ok, err := find(parent, unitID)
	if err != nil || !ok {
		return []crumb{last}, err
	}
	var ids []int64
	for _, part := range strings.Split(strings.Trim(self.Path, "/"), "/") {
		id, err := strconv.ParseInt(part, 10, 64)
		if err != nil {
			return []crumb{last}, nil
		}
		ids = append(ids, id)
	}
	start := -1
	for i, id := range ids {
		if id == r.actor.UnitID {
			start = i
		}
	}
	if start < 0 {
		return []crumb{last}, nil
	}
	var out []crumb
	for i := start; i < len(ids)-1; i++ {
		if i == start {
			u, ok, err := find(nil, ids[i])
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, crumb{Name: u.Name, Href: "/web/"})
			}
			continue
		}
		u, ok, err := find(&ids[i-1], ids[i])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, crumb{Name: u.Name, Href: "/web/units/" + itoa(u.ID)})
		}
	}
	return append(out, last), nil
}

// overviewExport answers GET /web/units/:id/export?format=csv|xlsx&from=&to=&approved_only=:
// the coverage report of the view on screen, in the API's own CSV and XLSX forms.
func (h *Handler) overviewExport(c echo.Context, r *req) error {
	if h.cfg.Reports == nil {
		return schema.Errorf(schema.CodeUnavailable, "reports")
	}
	id, err := pathID(c)
	if err != nil {
		return err
	}
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	p, err := h.readPeriod(c, r.L)
	if err != nil {
		return err
	}
	rep, err := h.cfg.Reports.Coverage(r.ctx(), r.actor, p.filter(&id))
	if err != nil {
		return err
	}
	name := report.FileName("coverage", rep.Unit, rep.From, rep.To, format)
	nameVI := "Báo cáo mức độ bao phủ - " + rep.Unit.Name + " - " + rep.From + " - " + rep.To + "." + format
	if format == "csv" {
		download(c, "text/csv; charset=utf-8", name, nameVI)
		return report.WriteCoverageCSV(c.Response(), &rep)
	}
	download(c, mimeXLSX, name, nameVI)
	return report.WriteCoverageXLSX(c.Response(), &rep)
}
