package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
)

// Team output: per team and per volunteer for a period (the team report of
// GET /v1/reports/teams), with its exports.

type teamsData struct {
	Report     *schema.TeamReport
	Period     period
	Action     string
	ExportCSV  string
	ExportXLSX string
}

// teams answers GET /web/teams?unit=&from=&to=.
func (h *Handler) teams(c echo.Context, r *req) error {
	if h.cfg.Reports == nil {
		return schema.Errorf(schema.CodeUnavailable, "reports")
	}
	p, err := h.readPeriod(c, r.L)
	if err != nil {
		return err
	}
	p.ApprovedOnly = false // the team report counts every log that counts, reviewed or not
	unit := queryID(c, "unit")
	rep, err := h.cfg.Reports.TeamOutput(r.ctx(), r.actor, p.filter(unit))
	if err != nil {
		return err
	}
	d := &teamsData{Report: &rep, Period: p, Action: "/web/teams"}
	d.ExportCSV = link("/web/teams/export", "format", "csv", "unit", unit, "from", p.From, "to", p.To)
	d.ExportXLSX = link("/web/teams/export", "format", "xlsx", "unit", unit, "from", p.From, "to", p.To)
	return h.render(c, http.StatusOK, "teams", h.view(r, "teams", r.L.T("teams_title"), d))
}

// teamsExport answers GET /web/teams/export?format=csv|xlsx&unit=&from=&to=.
func (h *Handler) teamsExport(c echo.Context, r *req) error {
	if h.cfg.Reports == nil {
		return schema.Errorf(schema.CodeUnavailable, "reports")
	}
	format, err := exportFormat(c)
	if err != nil {
		return err
	}
	p, err := h.readPeriod(c, r.L)
	if err != nil {
		return err
	}
	p.ApprovedOnly = false
	rep, err := h.cfg.Reports.TeamOutput(r.ctx(), r.actor, p.filter(queryID(c, "unit")))
	if err != nil {
		return err
	}
	name := report.FileName("teams", rep.Unit, rep.From, rep.To, format)
	nameVI := "Kết quả hoạt động của tổ - " + rep.Unit.Name + " - " + rep.From + " - " + rep.To + "." + format
	if format == "csv" {
		download(c, "text/csv; charset=utf-8", name, nameVI)
		return report.WriteTeamCSV(c.Response(), &rep)
	}
	download(c, mimeXLSX, name, nameVI)
	return report.WriteTeamXLSX(c.Response(), &rep)
}
