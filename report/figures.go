package report

import (
	"math"
	"time"

	"github.com/cdtsync/cdtsync/schema"
)

// Figures accumulates one group's figures over a period, from the cells a report reads.
type Figures struct {
	Reached [NumMembers]int64
	Total   Sums
	Kinds   map[string]*schema.KindFigures
	LastMS  int64 // the group's last activity, Unix milliseconds (0: none)
}

// AddCell adds a cell read as r says (its pairs, its sums or both) in variant v for a
// period from from; withSums false leaves the sums out (groups that add up their
// members' sums instead).
func (f *Figures) AddCell(data []byte, r CellRead, v int, from Day, withSums bool) error {
	var reached *[NumMembers]int64
	if r.Pairs {
		reached = &f.Reached
	}
	var sums func([]byte, Sums)
	if withSums && r.Sums {
		sums = f.addKindSums
	}
	return Scan(data, v, from, reached, sums)
}

// addKindSums adds a kind's sums, the kind given as bytes (no allocation once seen).
func (f *Figures) addKindSums(kind []byte, s Sums) {
	if k := f.Kinds[string(kind)]; k != nil {
		f.add(k, s)
		return
	}
	f.addSums(string(kind), s)
}

func (f *Figures) addSums(kind string, s Sums) {
	if s == (Sums{}) {
		return
	}
	if f.Kinds == nil {
		f.Kinds = map[string]*schema.KindFigures{}
	}
	k := f.Kinds[kind]
	if k == nil {
		k = &schema.KindFigures{}
		f.Kinds[kind] = k
	}
	f.add(k, s)
}

// add adds s to kind k's figures and to the total.
func (f *Figures) add(k *schema.KindFigures, s Sums) {
	k.Logs += s.Logs
	k.Attendees += s.Attendees
	k.Incomplete += s.Incomplete
	f.Total.Logs += s.Logs
	f.Total.Attendees += s.Attendees
	f.Total.Incomplete += s.Incomplete
}

// AddFigures adds o's sums and takes its last activity if later (a group above o).
func (f *Figures) AddFigures(o *Figures) {
	for kind, k := range o.Kinds {
		f.addSums(kind, Sums{Logs: k.Logs, Attendees: k.Attendees, Incomplete: k.Incomplete})
	}
	if o.LastMS > f.LastMS {
		f.LastMS = o.LastMS
	}
}

// Active reports whether the group has counted logs or incomplete attempts.
func (f *Figures) Active() bool { return f.Total.Logs > 0 || f.Total.Incomplete > 0 }

// KindMap returns the figures of each kind.
func (f *Figures) KindMap() map[string]schema.KindFigures {
	out := map[string]schema.KindFigures{}
	for k, v := range f.Kinds {
		// A kind whose cell deltas cancel out (a log moved away) is not shown, as a cell
		// that never held it would not show it.
		if *v != (schema.KindFigures{}) {
			out[k] = *v
		}
	}
	return out
}

// Output returns a team's or a volunteer's output.
func (f *Figures) Output() schema.OutputFigures {
	return schema.OutputFigures{Logs: f.Total.Logs, People: f.Reached[MemberPerson], Attendees: f.Total.Attendees,
		Incomplete: f.Total.Incomplete, Kinds: f.KindMap(), ActiveDays: f.Reached[MemberDay],
		LastActivity: LastActivity(f.LastMS)}
}

// LastActivity formats a last activity in Vietnam time (RFC 3339), nil for none.
func LastActivity(ms int64) *string {
	if ms == 0 {
		return nil
	}
	s := time.UnixMilli(ms).In(Vietnam).Format(time.RFC3339)
	return &s
}

// Pct returns n as a percentage of of, with one decimal, or nil if of is not positive.
func Pct(n int64, of float64) *float64 {
	if of <= 0 {
		return nil
	}
	p := math.Round(float64(n)/of*1000) / 10
	return &p
}
