package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/cdtsync/cdtsync/report"
	"github.com/cdtsync/cdtsync/schema"
)

// Devices to look at: phones whose clocks are off, and volunteers whose phones hold work
// not yet synced for days (the attention report of GET /v1/reports/attention).

type devicesData struct {
	Report    schema.AttentionReport
	Threshold string
	Days      int
	DayOpts   []option
	ClockOff  []deviceRow
	Stuck     []deviceRow
}

type deviceRow struct {
	schema.AttentionDevice
	Offset  string // "nhanh 2 giờ 5 phút"
	Ahead   bool
	Pending int64
	Waiting int // whole days the oldest unsynced operation has waited
}

// devices answers GET /web/devices?stuck_days=.
func (h *Handler) devices(c echo.Context, r *req) error {
	days := report.DefaultStuckDays
	if v, err := strconv.Atoi(c.QueryParam("stuck_days")); err == nil && v >= 1 && v <= 365 {
		days = v
	}
	list, err := h.cfg.Accounts.ListDevices(r.ctx(), r.actor, schema.DeviceFilter{UnitID: queryID(c, "unit")})
	if err != nil {
		return err
	}
	rep := report.Attention(list, h.now(), days)
	d := &devicesData{Report: rep, Days: days, Threshold: r.L.Duration(schema.ClockOffThreshold)}
	for _, n := range []int{1, 3, 7, 14, 30} {
		d.DayOpts = append(d.DayOpts, option{Value: strconv.Itoa(n), Label: r.L.Tf("days_n", n), Selected: n == days})
	}
	row := func(a schema.AttentionDevice) deviceRow {
		dr := deviceRow{AttentionDevice: a}
		if a.ClockOffsetMS != nil {
			off := time.Duration(*a.ClockOffsetMS) * time.Millisecond
			dr.Ahead = off > 0
			if dr.Ahead {
				dr.Offset = r.L.Tf("ahead", r.L.Duration(off))
			} else {
				dr.Offset = r.L.Tf("behind", r.L.Duration(off))
			}
		}
		if a.StuckDays != nil {
			dr.Waiting = *a.StuckDays
		}
		if a.PendingOps != nil {
			dr.Pending = *a.PendingOps
		}
		return dr
	}
	for _, a := range rep.ClockOff {
		d.ClockOff = append(d.ClockOff, row(a))
	}
	for _, a := range rep.Stuck {
		d.Stuck = append(d.Stuck, row(a))
	}
	return h.render(c, http.StatusOK, "devices", h.view(r, "devices", r.L.T("devices_title"), d))
}
