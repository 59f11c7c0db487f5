package server

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
)

// Reports: GET /v1/reports/coverage, /v1/reports/teams and /v1/reports/attention.

// Reporter computes the reports, scoped to the caller's unit subtree (see the methods of
// the SQLite store with these names).
type Reporter interface {
	Coverage(ctx context.Context, actor schema.Actor, f schema.ReportFilter) (schema.CoverageReport, error)
	TeamOutput(ctx context.Context, actor schema.Actor, f schema.ReportFilter) (schema.TeamReport, error)
}

// reportFilter reads unit, from, to and approved_only.
func reportFilter(c echo.Context) (schema.ReportFilter, error) {
	var (
		f   schema.ReportFilter
		err error
	)
	if f.Unit, err = queryID(c, "unit"); err != nil {
		return f, err
	}
	if f.ApprovedOnly, err = queryBool(c, "approved_only"); err != nil {
		return f, err
	}
	f.From, f.To = c.QueryParam("from"), c.QueryParam("to")
	return f, nil
}

// reportFormat reads format: json (default), csv or xlsx.
func reportFormat(c echo.Context) (string, error) {
	switch f := c.QueryParam("format"); f {
	case "", "json":
		return "json", nil
	case "csv", "xlsx":
		return f, nil
	}
	return "", schema.Errorf(schema.CodeInvalid, "format phải là json, csv hoặc xlsx / format must be json, csv or xlsx")
}

const mimeXLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// download starts a file answer: its type and a name (ASCII, and the Vietnamese one as
// RFC 6266 filename*).
func download(c echo.Context, contentType, name, nameVI string) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, contentType)
	h.Set(echo.HeaderContentDisposition, mime.FormatMediaType("attachment", map[string]string{"filename": name})+
		"; filename*=UTF-8''"+urlPathEscape(nameVI))
	h.Set("Cache-Control", "no-store") // reports hold personal-data-derived figures
	c.Response().WriteHeader(http.StatusOK)
}

// urlPathEscape percent-encodes s for RFC 5987 (attr-char only).
func urlPathEscape(s string) string {
	const keep = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~"
	out := make([]byte, 0, len(s)*3)
	for i := 0; i < len(s); i++ {
		b := s[i]
		if strings.IndexByte(keep, b) >= 0 {
			out = append(out, b)
			continue
		}
		out = append(out, '%', "0123456789ABCDEF"[b>>4], "0123456789ABCDEF"[b&15])
	}
	return string(out)
}

// coverage answers GET /v1/reports/coverage?unit=&from=&to=&approved_only=&format=.
func (s *Server) coverage(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Reports == nil {
		return unavailable("báo cáo / reports")
	}
	f, err := reportFilter(c)
	if err != nil {
		return err
	}
	format, err := reportFormat(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Reports.Coverage(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	name := report.FileName("coverage", r.Unit, r.From, r.To, format)
	nameVI := "Báo cáo mức độ bao phủ - " + r.Unit.Name + " - " + r.From + " - " + r.To + "." + format
	switch format {
	case "csv":
		download(c, "text/csv; charset=utf-8", name, nameVI)
		return report.WriteCoverageCSV(c.Response(), &r)
	case "xlsx":
		download(c, mimeXLSX, name, nameVI)
		return report.WriteCoverageXLSX(c.Response(), &r)
	}
	return c.JSON(http.StatusOK, r)
}

// teams answers GET /v1/reports/teams?unit=&from=&to=&format=.
func (s *Server) teamsReport(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Reports == nil {
		return unavailable("báo cáo / reports")
	}
	f, err := reportFilter(c)
	if err != nil {
		return err
	}
	f.ApprovedOnly = false
	format, err := reportFormat(c)
	if err != nil {
		return err
	}
	r, err := s.cfg.Reports.TeamOutput(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	name := report.FileName("teams", r.Unit, r.From, r.To, format)
	nameVI := "Kết quả hoạt động của tổ - " + r.Unit.Name + " - " + r.From + " - " + r.To + "." + format
	switch format {
	case "csv":
		download(c, "text/csv; charset=utf-8", name, nameVI)
		return report.WriteTeamCSV(c.Response(), &r)
	case "xlsx":
		download(c, mimeXLSX, name, nameVI)
		return report.WriteTeamXLSX(c.Response(), &r)
	}
	return c.JSON(http.StatusOK, r)
}

// attention answers GET /v1/reports/attention?unit=&stuck_days=: the devices of the
// caller's scope whose clocks are off, and those with work stuck unsynced for days.
func (s *Server) attention(c echo.Context) error {
	a, err := actorOf(c)
	if err != nil {
		return err
	}
	if s.cfg.Accounts == nil {
		return unavailable("thiết bị / devices")
	}
	var f schema.DeviceFilter
	if f.UnitID, err = queryID(c, "unit"); err != nil {
		return err
	}
	if f.TeamID, err = queryID(c, "team"); err != nil {
		return err
	}
	days := report.DefaultStuckDays
	if v := c.QueryParam("stuck_days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil || days < 1 || days > 365 {
			return schema.Errorf(schema.CodeInvalid, "stuck_days phải từ 1 đến 365 / stuck_days must be 1 to 365")
		}
	}
	devices, err := s.cfg.Accounts.ListDevices(c.Request().Context(), a, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, report.Attention(devices, s.now(), days))
}
