package sqlite_test

import (
	"math"
	"sort"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// The model's reports: plain Go over the model's log states, by the rules of
// docs/REPORTS.md — no SQL, no cells, no pairs.

type wTarget struct {
	unit           int64
	metric, period string
	value          float64
}

// inPeriod reports whether a corrected time falls within [from, to] in Vietnam.
func inPeriod(ms int64, from, to string) bool {
	d := vnDay(ms)
	return d >= from && d <= to
}

func counts(s *mstate, approvedOnly bool) (counted, attempt bool) {
	if !s.exists || s.deleted || !s.complete {
		return false, false
	}
	ok := s.status == schema.StatusPending || s.status == schema.StatusApproved
	if approvedOnly {
		ok = s.status == schema.StatusApproved
	}
	if !ok {
		return false, false
	}
	return s.outcome == schema.OutcomeCompleted, s.outcome == schema.OutcomeIncomplete
}

func modelPct(n int64, of float64) *float64 {
	if of <= 0 {
		return nil
	}
	p := math.Round(float64(n)/of*1000) / 10
	return &p
}

func modelLast(ms int64) *string {
	if ms == 0 {
		return nil
	}
	s := time.UnixMilli(ms).In(vn).Format(time.RFC3339)
	return &s
}

// targetPeriods is the rule of docs/REPORTS.md, written out again: the month, the quarter
// and the year that contain the whole period.
func targetPeriods(from, to string) []string {
	if from[:4] != to[:4] {
		return nil
	}
	var out []string
	if from[:7] == to[:7] {
		out = append(out, from[:7])
	}
	q := func(d string) int { return (int(d[5]-'0')*10+int(d[6]-'0')-1)/3 + 1 }
	if q(from) == q(to) {
		out = append(out, from[:4]+"-Q"+string(rune('0'+q(from))))
	}
	return append(out, from[:4])
}

// modelCoverage computes the coverage report of root for [from, to].
func (w *world) modelCoverage(st map[string]*mstate, targets []wTarget, root int64, from, to string, approvedOnly bool) map[string]map[int64]schema.CoverageRow {
	rank := schema.LevelRank(w.units[root].level)
	periods := targetPeriods(from, to)
	out := map[string]map[int64]schema.CoverageRow{}
	for _, u := range w.units {
		if !w.under(u.id, root) || schema.LevelRank(u.level) < rank {
			continue
		}
		row := schema.CoverageRow{UnitID: u.id, Level: u.level, Name: u.name, Code: u.code, Adults: u.adults,
			HouseholdsTotal: u.households, Kinds: map[string]schema.KindFigures{}, Targets: []schema.TargetFigure{}}
		if u.parent != 0 {
			p := u.parent
			row.ParentID = &p
		}
		people, households, vols := map[string]bool{}, map[string]bool{}, map[int64]bool{}
		var last int64
		any := false
		for _, id := range w.order {
			s := st[id]
			counted, attempt := counts(s, approvedOnly)
			if (!counted && !attempt) || !w.under(s.hamlet, u.id) || !inPeriod(s.correctedMS, from, to) {
				continue
			}
			any = true
			k := row.Kinds[s.kind]
			if counted {
				row.Logs++
				row.Attendees += s.attendees
				k.Logs++
				k.Attendees += s.attendees
				if s.citizen != "" {
					people[s.citizen] = true
				}
				if s.household != "" {
					households[s.household] = true
				}
			} else {
				row.Incomplete++
				k.Incomplete++
			}
			row.Kinds[s.kind] = k
			vols[w.logs[id].vol.id] = true
			if s.correctedMS > last {
				last = s.correctedMS
			}
		}
		if w.endedUnit(u) && !any {
			continue
		}
		row.People, row.Households, row.ActiveVolunteers = int64(len(people)), int64(len(households)), int64(len(vols))
		row.LastActivity = modelLast(last)
		if u.adults != nil {
			row.PeoplePct = modelPct(row.People, float64(*u.adults))
		}
		if u.households != nil {
			row.HouseholdsPct = modelPct(row.Households, float64(*u.households))
		}
		// Targets: per metric, the newest value of the first period that has one.
		for _, metric := range []string{"people", "households", "vneid_install", "vneid_level2", "cashless_payment",
			"digital_signature", "online_public_service", "ecommerce", "digital_skills", "local_app", "other"} {
			for _, p := range periods {
				var tf *schema.TargetFigure
				version := 0
				for _, t := range targets {
					if t.unit == u.id && t.metric == metric && t.period == p {
						version++
						tf = &schema.TargetFigure{Metric: metric, Period: p, Value: t.value}
					}
				}
				if tf == nil {
					continue
				}
				tf.Version = version
				switch metric {
				case "people":
					tf.Reached = row.People
				case "households":
					tf.Reached = row.Households
				default:
					tf.Reached = row.Kinds[metric].Attendees
				}
				tf.Pct = modelPct(tf.Reached, tf.Value)
				row.Targets = append(row.Targets, *tf)
				break
			}
		}
		if out[u.level] == nil {
			out[u.level] = map[int64]schema.CoverageRow{}
		}
		out[u.level][u.id] = row
	}
	return out
}

func (w *world) endedUnit(u *wUnit) bool { return u.name == "Ấp 3 (đã sáp nhập)" }

// modelTeams computes the team report of root for [from, to].
func (w *world) modelTeams(st map[string]*mstate, root int64, from, to string) map[int64]schema.TeamOutput {
	out := map[int64]schema.TeamOutput{}
	for _, t := range w.teams {
		if !w.under(t.unit.id, root) {
			continue
		}
		tout := schema.TeamOutput{TeamID: t.id, Name: t.name, UnitID: t.unit.id, UnitName: t.unit.name}
		fig := func(match func(l *wLog) bool) schema.OutputFigures {
			f := schema.OutputFigures{Kinds: map[string]schema.KindFigures{}}
			people, days := map[string]bool{}, map[string]bool{}
			var last int64
			for _, id := range w.order {
				s, l := st[id], w.logs[id]
				counted, attempt := counts(s, false)
				if (!counted && !attempt) || !match(l) || !inPeriod(s.correctedMS, from, to) {
					continue
				}
				k := f.Kinds[s.kind]
				if counted {
					f.Logs++
					f.Attendees += s.attendees
					k.Logs++
					k.Attendees += s.attendees
					if s.citizen != "" {
						people[s.citizen] = true
					}
				} else {
					f.Incomplete++
					k.Incomplete++
				}
				f.Kinds[s.kind] = k
				days[vnDay(s.correctedMS)] = true
				if s.correctedMS > last {
					last = s.correctedMS
				}
			}
			f.People, f.ActiveDays, f.LastActivity = int64(len(people)), int64(len(days)), modelLast(last)
			return f
		}
		tout.OutputFigures = fig(func(l *wLog) bool { return l.team == t })
		tout.Volunteers = []schema.VolunteerOutput{}
		for _, v := range w.vols {
			vf := fig(func(l *wLog) bool { return l.team == t && l.vol == v })
			active := vf.Logs > 0 || vf.Incomplete > 0
			if active {
				tout.ActiveVolunteers++
			}
			if active || (v.team == t && !v.revoked) {
				tout.Volunteers = append(tout.Volunteers, schema.VolunteerOutput{VolunteerID: v.id, Name: v.name, Revoked: v.revoked, OutputFigures: vf})
			}
		}
		sort.Slice(tout.Volunteers, func(i, j int) bool { return tout.Volunteers[i].VolunteerID < tout.Volunteers[j].VolunteerID })
		out[t.id] = tout
	}
	return out
}
