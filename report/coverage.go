package report

import (
	"sort"
	"strings"

	"github.com/cdtsync/cdtsync/schema"
)

// CoverageLevels builds the rows of a coverage report of the subtree at root from its
// units (by path), their paths (sorted), their tree order (TreeOrder), their figures (by
// path) and their targets (by unit id): a level per unit level from root's down, top
// level first; within a level in tree order, so siblings are in Vietnamese order of
// their names (hamlets by province, district, commune, then name). An ended unit with
// nothing in the period has no row.
func CoverageLevels(root schema.Unit, units map[string]*schema.Unit, paths []string, order map[int64]int,
	figs map[string]*Figures, targets map[int64][]schema.TargetFigure) []schema.CoverageLevel {
	byLevel := map[string][]schema.CoverageRow{}
	for _, p := range paths {
		u, fg := units[p], figs[p]
		if schema.LevelRank(u.Level) < schema.LevelRank(root.Level) {
			continue
		}
		if u.ValidTo != "" && !fg.Active() && fg.Reached == [NumMembers]int64{} {
			continue // an ended unit with nothing in the period
		}
		row := schema.CoverageRow{UnitID: u.ID, ParentID: u.ParentID, Level: u.Level, UnitType: u.UnitType, Code: u.Code,
			Name: u.Name, People: fg.Reached[MemberPerson], Households: fg.Reached[MemberHousehold],
			Adults: u.Adults, HouseholdsTotal: u.Households, FiguresEstimate: u.FiguresGenerated,
			Logs: fg.Total.Logs, Attendees: fg.Total.Attendees, Incomplete: fg.Total.Incomplete, Kinds: fg.KindMap(),
			ActiveVolunteers: fg.Reached[MemberVolunteer], LastActivity: LastActivity(fg.LastMS),
			Targets: []schema.TargetFigure{}}
		if u.Adults != nil {
			row.PeoplePct = Pct(row.People, float64(*u.Adults))
		}
		if u.Households != nil {
			row.HouseholdsPct = Pct(row.Households, float64(*u.Households))
		}
		for _, t := range targets[u.ID] {
			switch t.Metric {
			case schema.MetricPeople:
				t.Reached = row.People
			case schema.MetricHouseholds:
				t.Reached = row.Households
			default:
				t.Reached = row.Kinds[t.Metric].Attendees
			}
			t.Pct = Pct(t.Reached, t.Value)
			row.Targets = append(row.Targets, t)
		}
		byLevel[u.Level] = append(byLevel[u.Level], row)
	}
	var levels []schema.CoverageLevel
	for _, level := range []string{schema.LevelProvince, schema.LevelDistrict, schema.LevelCommune, schema.LevelHamlet} {
		rs := byLevel[level]
		if len(rs) == 0 {
			continue
		}
		idx := make([]int, len(rs))
		for i := range idx {
			idx[i] = i
		}
		sort.Slice(idx, func(i, j int) bool { return order[rs[idx[i]].UnitID] < order[rs[idx[j]].UnitID] })
		sorted := make([]schema.CoverageRow, len(rs))
		for i, k := range idx {
			sorted[i] = rs[k]
		}
		levels = append(levels, schema.CoverageLevel{Level: level, Rows: sorted})
	}
	return levels
}

// MetricOrder is a target metric's sort key: people, then households, then kinds in
// catalogue order.
func MetricOrder(m string) string {
	switch m {
	case schema.MetricPeople:
		return "0"
	case schema.MetricHouseholds:
		return "1"
	}
	for _, k := range schema.DefaultKinds {
		if k.Code == m {
			return "2" + string(rune('a'+k.Sort))
		}
	}
	return "3" + m
}

// TreeOrder numbers units (by path) depth first, siblings in Vietnamese order of their
// names.
func TreeOrder(units map[string]*schema.Unit) map[int64]int {
	children := map[string][]*schema.Unit{}
	var roots []*schema.Unit
	for p, u := range units {
		parent := p[:strings.LastIndexByte(p[:len(p)-1], '/')+1]
		if units[parent] == nil {
			roots = append(roots, u)
		} else {
			children[parent] = append(children[parent], u)
		}
	}
	order := make(map[int64]int, len(units))
	c := schema.NewCollator()
	var walk func([]*schema.Unit)
	walk = func(us []*schema.Unit) {
		schema.SortWith(c, us, func(u *schema.Unit) string { return u.Name })
		for _, u := range us {
			order[u.ID] = len(order)
			walk(children[u.Path])
		}
	}
	walk(roots)
	return order
}
