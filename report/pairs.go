package report

import (
	"cmp"
	"slices"
)

// Presence says that a member was reached in a group on a day, in a variant (All or
// Approved). A member's presences are a set: the same one twice counts once.
type Presence struct {
	Group string
	Var   uint8
	Day   Day
}

func comparePresence(a, b Presence) int {
	if c := cmp.Compare(a.Group, b.Group); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Var, b.Var); c != 0 {
		return c
	}
	return cmp.Compare(a.Day, b.Day)
}

func sameGroup(a, b Presence) bool { return a.Group == b.Group && a.Var == b.Var }

// PairDiff compares one member's pairs before and after a change and calls emit for
// every pair (group, variant, day, prev) that appeared (+1) or disappeared (−1). Pairs of
// different members are independent, so calling PairDiff for each changed member and
// adding up the emitted changes keeps every group's pair counts exact. It sorts before
// and after in place.
func PairDiff(before, after []Presence, emit func(group string, v int, day, prev Day, delta int64)) {
	slices.SortFunc(before, comparePresence)
	before = slices.Compact(before)
	slices.SortFunc(after, comparePresence)
	after = slices.Compact(after)
	for len(before) > 0 || len(after) > 0 {
		var b, a []Presence
		switch {
		case len(after) == 0 || (len(before) > 0 && comparePresence(Presence{before[0].Group, before[0].Var, 0}, Presence{after[0].Group, after[0].Var, 0}) < 0):
			b, before = cut(before)
		case len(before) == 0 || comparePresence(Presence{before[0].Group, before[0].Var, 0}, Presence{after[0].Group, after[0].Var, 0}) > 0:
			a, after = cut(after)
		default:
			b, before = cut(before)
			a, after = cut(after)
		}
		diffDays(b, a, emit)
	}
}

// cut splits off the leading run of one group and variant.
func cut(ps []Presence) (run, rest []Presence) {
	n := 1
	for n < len(ps) && sameGroup(ps[n], ps[0]) {
		n++
	}
	return ps[:n], ps[n:]
}

// diffDays emits the differences between the pairs of two sorted runs of days of one
// group and variant (either may be empty).
func diffDays(b, a []Presence, emit func(group string, v int, day, prev Day, delta int64)) {
	var g Presence
	if len(b) > 0 {
		g = b[0]
	} else {
		g = a[0]
	}
	i, j := 0, 0
	pb, pa := Day(0), Day(0) // the previous day on each side
	for i < len(b) || j < len(a) {
		switch {
		case j == len(a) || (i < len(b) && b[i].Day < a[j].Day):
			emit(g.Group, int(g.Var), b[i].Day, pb, -1)
			pb = b[i].Day
			i++
		case i == len(b) || a[j].Day < b[i].Day:
			emit(g.Group, int(g.Var), a[j].Day, pa, +1)
			pa = a[j].Day
			j++
		default: // the same day on both sides: its pair changes only if its previous day did
			if pb != pa {
				emit(g.Group, int(g.Var), b[i].Day, pb, -1)
				emit(g.Group, int(g.Var), a[j].Day, pa, +1)
			}
			pb, pa = b[i].Day, a[j].Day
			i++
			j++
		}
	}
}
