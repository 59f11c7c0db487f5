package web

import (
	"strconv"
)

// A horizontal bar chart drawn on the server: one row per child unit, its name (a link
// that drills down) and figures as HTML text, and a small inline SVG meter whose bar is
// the figure reached and whose dark mark is the target. Horizontal positions are
// percentages of the meter's width, so the chart fits a phone or a desktop with text at
// its real size; no script, no image request.

// chart is what the template draws.
type chart struct {
	Bars []chartBar
	Any  bool // at least one bar has a target
}

// chartBar is one unit's row.
type chartBar struct {
	Label, Href string
	Value       string // "12 / 20 · 60 %", or "12 · chưa có chỉ tiêu"
	Title       string // the tooltip
	W, TX       string // the bar's width and the target mark's x, as percentages
	HasTarget   bool
	Class       string // done (≥ 100 %), half (≥ 50 %), low, none (no target)
}

// buildChart draws the children's measure against their targets. The scale is the
// largest of any figure or target, plus a margin so a mark at the top stays visible.
func buildChart(l loc, rows []childRow) *chart {
	var top float64 = 1
	for _, r := range rows {
		if v := float64(r.Reached); v > top {
			top = v
		}
		if r.Target != nil && r.Target.Value > top {
			top = r.Target.Value
		}
	}
	top *= 1.03
	ch := &chart{}
	for _, r := range rows {
		b := chartBar{Label: r.Name, Href: r.Href, W: pct(float64(r.Reached) / top), Class: "none"}
		if r.Target != nil {
			ch.Any, b.HasTarget = true, true
			b.TX = pct(r.Target.Value / top)
			b.Value = l.Int(r.Reached) + " / " + l.Dec(r.Target.Value) + " · " + l.Pct(r.Target.Pct)
			switch p := r.Target.Pct; {
			case p != nil && *p >= 100:
				b.Class = "done"
			case p != nil && *p >= 50:
				b.Class = "half"
			default:
				b.Class = "low"
			}
			b.Title = r.Name + ": " + l.T("chart_reached") + " " + l.Int(r.Reached) + ", " + l.T("chart_target") + " " + l.Dec(r.Target.Value)
		} else {
			b.Value = l.Int(r.Reached) + " · " + l.T("chart_no_target")
			b.Title = r.Name + ": " + l.T("chart_reached") + " " + l.Int(r.Reached)
		}
		ch.Bars = append(ch.Bars, b)
	}
	return ch
}

// pct formats a fraction of the width as an SVG percentage.
func pct(f float64) string {
	if f < 0 {
		f = 0
	}
	if f > 1 {
		f = 1
	}
	return strconv.FormatFloat(f*100, 'f', 2, 64) + "%"
}
