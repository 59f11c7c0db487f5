package report

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func TestSplit(t *testing.T) {
	for _, c := range []struct {
		from, to Day
		months   []Month
		days     []Span
	}{
		{20261001, 20261231, []Month{202610, 202611, 202612}, nil},
		{20261015, 20261231, []Month{202611, 202612}, []Span{{20261015, 20261031}}},
		{20261001, 20261215, []Month{202610, 202611}, []Span{{20261201, 20261215}}},
		{20261015, 20261020, nil, []Span{{20261015, 20261020}}},
		{20261015, 20261105, nil, []Span{{20261015, 20261031}, {20261101, 20261105}}},
		{20260228, 20260301, nil, []Span{{20260228, 20260228}, {20260301, 20260301}}},
		{20261201, 20270131, []Month{202612, 202701}, nil},
		{20240201, 20240229, []Month{202402}, nil},
	} {
		t.Run(fmt.Sprint(c.from, "-", c.to), func(t *testing.T) {
			m, d := Split(c.from, c.to)
			if !reflect.DeepEqual(m, c.months) || !reflect.DeepEqual(d, c.days) {
				t.Fatalf("Split = %v %v, want %v %v", m, d, c.months, c.days)
			}
		})
	}
}

// Every day of a period is covered exactly once by its months and end days.
func TestSplitCoversEachDayOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		base := Day(20251201)
		from := addDays(base, rapid.IntRange(0, 500).Draw(t, "from"))
		to := addDays(from, rapid.IntRange(0, 500).Draw(t, "len"))
		months, days := Split(from, to)
		seen := map[Day]int{}
		for _, m := range months {
			Span{m.First(), m.Last()}.EachDay(func(d Day) { seen[d]++ })
		}
		for _, s := range days {
			s.EachDay(func(d Day) { seen[d]++ })
		}
		n := 0
		Span{from, to}.EachDay(func(d Day) {
			n++
			if seen[d] != 1 {
				t.Fatalf("day %v covered %d times", d, seen[d])
			}
		})
		if len(seen) != n || Days(from, to) != n {
			t.Fatalf("covered %d days, period has %d (Days says %d)", len(seen), n, Days(from, to))
		}
	})
}

func addDays(d Day, n int) Day { return DayOfTime(d.Time().AddDate(0, 0, n).Add(12 * 3600e9)) }

// The pairs give the exact number of distinct members reached in any period, after any
// sequence of members being reached and un-reached, for every group.
func TestPairsCountDistinctMembersExactly(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		groups := []string{"u/1/", "u/1/2/", "u/1/3/"}
		nMembers := rapid.IntRange(1, 8).Draw(t, "members")
		// Each member's presences, as a multiset (a person may be reached twice a day).
		state := make([]map[Presence]int, nMembers)
		for i := range state {
			state[i] = map[Presence]int{}
		}
		cells := map[string]map[int32]*Cell{} // group → period → cell
		set := func(m map[Presence]int) []Presence {
			var out []Presence
			for p, n := range m {
				if n > 0 {
					out = append(out, p)
				}
			}
			return out
		}
		steps := rapid.IntRange(1, 40).Draw(t, "steps")
		for s := 0; s < steps; s++ {
			x := rapid.IntRange(0, nMembers-1).Draw(t, "x")
			p := Presence{Group: rapid.SampledFrom(groups).Draw(t, "g"), Var: uint8(rapid.IntRange(0, 1).Draw(t, "v")),
				Day: addDays(20260120, rapid.IntRange(0, 80).Draw(t, "day"))}
			before := set(state[x])
			if rapid.Bool().Draw(t, "add") || state[x][p] == 0 {
				state[x][p]++
			} else {
				state[x][p]--
			}
			deltas := map[string]map[int32]*Delta{}
			PairDiff(before, set(state[x]), func(g string, v int, day, prev Day, n int64) {
				for _, c := range PairCells(day, prev) {
					if deltas[g] == nil {
						deltas[g] = map[int32]*Delta{}
					}
					if deltas[g][c.Period] == nil {
						deltas[g][c.Period] = &Delta{}
					}
					deltas[g][c.Period].AddPair(MemberPerson, v, c.Prev, n)
				}
			})
			for g, ps := range deltas {
				for per, d := range ps {
					if cells[g] == nil {
						cells[g] = map[int32]*Cell{}
					}
					c := cells[g][per]
					if c == nil {
						c = &Cell{}
					}
					if err := c.Apply(d); err != nil {
						t.Fatal(err)
					}
					// Round-trip through the stored form every time.
					dc, err := DecodeCell(c.Encode())
					if err != nil {
						t.Fatal(err)
					}
					cells[g][per] = &dc
				}
			}
		}
		for q := 0; q < 20; q++ {
			from := addDays(20260115, rapid.IntRange(0, 90).Draw(t, "qf"))
			to := addDays(from, rapid.IntRange(0, 60).Draw(t, "ql"))
			if rapid.Bool().Draw(t, "aligned") {
				from = from.Month().First()
			}
			for _, g := range groups {
				for v := 0; v < NumVariants; v++ {
					var got int64
					for _, r := range Plan(from, to) {
						if c := cells[g][r.Period]; c != nil && r.Pairs {
							got += c.Reached(MemberPerson, v, from)
						}
					}
					var want int64
					for _, st := range state {
						for p, n := range st {
							if n > 0 && p.Group == g && int(p.Var) == v && p.Day >= from && p.Day <= to {
								want++
								break
							}
						}
					}
					if got != want {
						t.Fatalf("group %s variant %d %v–%v: pairs say %d, members reached %d", g, v, from, to, got, want)
					}
				}
			}
		}
	})
}

func TestCellRoundTrip(t *testing.T) {
	var d Delta
	d.AddSums("vneid_level2", All, Sums{Logs: 3, Attendees: 3, Incomplete: 1}, 1)
	d.AddSums("digital_skills", Approved, Sums{Logs: 1, Attendees: 45}, 1)
	d.AddSums("digital_skills", All, Sums{Logs: 1, Attendees: 45}, 1)
	d.AddPair(MemberPerson, All, 0, 12)
	d.AddPair(MemberPerson, All, 20261103, 2)
	d.AddPair(MemberDay, All, 0, 1)
	var c Cell
	if err := c.Apply(&d); err != nil {
		t.Fatal(err)
	}
	got, err := DecodeCell(c.Encode())
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, c)
	}
	if n := got.Reached(MemberPerson, All, 20261103); n != 12 {
		t.Fatalf("Reached before 3/11 = %d, want 12", n)
	}
	if n := got.Reached(MemberPerson, All, 20261104); n != 14 {
		t.Fatalf("Reached before 4/11 = %d, want 14", n)
	}
	// Removing what the cell never held is an error, not a silent negative.
	var bad Delta
	bad.AddPair(MemberHousehold, All, 0, -1)
	if err := c.Apply(&bad); err == nil {
		t.Fatal("a negative count was accepted")
	}
	for _, b := range [][]byte{nil, {2}, {1, 5}, append(c.Encode(), 0)} {
		if _, err := DecodeCell(b); err == nil {
			t.Errorf("DecodeCell(%v) accepted a corrupt cell", b)
		}
	}
}

func TestTargetPeriods(t *testing.T) {
	for _, c := range []struct {
		from, to Day
		want     []string
	}{
		{20261101, 20261130, []string{"2026-11", "2026-Q4", "2026"}},
		{20261103, 20261117, []string{"2026-11", "2026-Q4", "2026"}},
		{20261001, 20261231, []string{"2026-Q4", "2026"}},
		{20260101, 20260630, []string{"2026"}},
		{20260915, 20261015, []string{"2026"}},
		{20261215, 20270115, []string{}},
	} {
		if got := TargetPeriods(c.from, c.to); !slices.Equal(got, c.want) {
			t.Errorf("TargetPeriods(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		in, canon, kind string
		from, to        Day
	}{
		{"2026", "2026", PeriodYear, 20260101, 20261231},
		{"2026-q4", "2026-Q4", PeriodQuarter, 20261001, 20261231},
		{"2026-Q1", "2026-Q1", PeriodQuarter, 20260101, 20260331},
		{" 2026-02 ", "2026-02", PeriodMonth, 20260201, 20260228},
		{"2028-02", "2028-02", PeriodMonth, 20280201, 20280229},
	} {
		canon, kind, from, to, err := ParsePeriod(c.in)
		if err != nil || canon != c.canon || kind != c.kind || from != c.from || to != c.to {
			t.Errorf("ParsePeriod(%q) = %q %q %v %v %v", c.in, canon, kind, from, to, err)
		}
	}
	for _, in := range []string{"", "26", "2026-Q5", "2026-13", "2026-1", "2026/11", "năm 2026"} {
		if _, _, _, _, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", in)
		}
	}
}

// A plan's cells cover every day of the period exactly once, for the sums and for the
// pairs, using year and quarter cells where the period holds them whole.
func TestPlanCoversEachDayOnce(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		from := addDays(20251101, rapid.IntRange(0, 800).Draw(t, "from"))
		if rapid.Bool().Draw(t, "aligned") {
			from = from.Month().First()
		}
		to := addDays(from, rapid.IntRange(0, 800).Draw(t, "len"))
		sums, pairs := map[Day]int{}, map[Day]int{}
		for _, r := range Plan(from, to) {
			Covers(r.Period).EachDay(func(d Day) {
				if r.Sums {
					sums[d]++
				}
				if r.Pairs {
					pairs[d]++
				}
			})
		}
		Span{from, to}.EachDay(func(d Day) {
			if sums[d] != 1 || pairs[d] != 1 {
				t.Fatalf("day %v covered %d times for sums, %d for pairs", d, sums[d], pairs[d])
			}
		})
		if len(sums) != Days(from, to) || len(pairs) != Days(from, to) {
			t.Fatalf("cells cover %d/%d days, the period has %d", len(sums), len(pairs), Days(from, to))
		}
	})
	if p := Plan(20260101, 20261231); len(p) != 1 || p[0].Period != 2026 {
		t.Errorf("a year reads %v, want its year cell", p)
	}
	if p := Plan(20261001, 20261231); len(p) != 1 || p[0].Period != 20264 {
		t.Errorf("Q4 reads %v, want its quarter cell", p)
	}
}

// Scan reads what DecodeCell decodes.
func TestScanMatchesDecode(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var d Delta
		for i := rapid.IntRange(0, 5).Draw(t, "kinds"); i > 0; i-- {
			d.AddSums(rapid.SampledFrom([]string{"a", "vneid_level2", "other"}).Draw(t, "k"), rapid.IntRange(0, 1).Draw(t, "v"),
				Sums{Logs: rapid.Int64Range(0, 9).Draw(t, "l"), Attendees: rapid.Int64Range(0, 99).Draw(t, "at"), Incomplete: rapid.Int64Range(0, 3).Draw(t, "in")}, 1)
		}
		for i := rapid.IntRange(0, 30).Draw(t, "pairs"); i > 0; i-- {
			d.AddPair(rapid.IntRange(0, NumMembers-1).Draw(t, "m"), rapid.IntRange(0, 1).Draw(t, "pv"),
				addDays(20260101, rapid.IntRange(0, 200).Draw(t, "prev")), rapid.Int64Range(1, 5).Draw(t, "n"))
		}
		var c Cell
		if err := c.Apply(&d); err != nil {
			t.Fatal(err)
		}
		from := addDays(20260101, rapid.IntRange(0, 220).Draw(t, "from"))
		for v := 0; v < NumVariants; v++ {
			var reached [NumMembers]int64
			got := map[string]Sums{}
			if err := Scan(c.Encode(), v, from, &reached, func(k []byte, s Sums) { got[string(k)] = s }); err != nil {
				t.Fatal(err)
			}
			for m := 0; m < NumMembers; m++ {
				if want := c.Reached(m, v, from); reached[m] != want {
					t.Fatalf("member %d variant %d: Scan %d, Reached %d", m, v, reached[m], want)
				}
			}
			for _, k := range c.Kinds {
				if got[k.Kind] != k.V[v] {
					t.Fatalf("kind %s variant %d: Scan %+v, decoded %+v", k.Kind, v, got[k.Kind], k.V[v])
				}
			}
		}
	})
}

// PairDiff emits exactly the difference of the pair sets, computed the plain way.
func TestPairDiffIsTheDifferenceOfPairSets(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		gen := func(label string) []Presence {
			var ps []Presence
			for i := rapid.IntRange(0, 12).Draw(t, label); i > 0; i-- {
				ps = append(ps, Presence{Group: rapid.SampledFrom([]string{"u/1/", "u/1/2/", "t/1/t3/"}).Draw(t, "g"),
					Var: uint8(rapid.IntRange(0, 1).Draw(t, "v")), Day: addDays(20260101, rapid.IntRange(0, 20).Draw(t, "d"))})
			}
			return ps
		}
		before, after := gen("before"), gen("after")
		type pk struct {
			g    string
			v    int
			d, p Day
		}
		pairs := func(ps []Presence) map[pk]int64 {
			days := map[[2]any][]Day{}
			for _, p := range ps {
				k := [2]any{p.Group, int(p.Var)}
				if !slices.Contains(days[k], p.Day) {
					days[k] = append(days[k], p.Day)
				}
			}
			out := map[pk]int64{}
			for k, ds := range days {
				slices.Sort(ds)
				prev := Day(0)
				for _, d := range ds {
					out[pk{k[0].(string), k[1].(int), d, prev}]++
					prev = d
				}
			}
			return out
		}
		want := pairs(after)
		for k, n := range pairs(before) {
			want[k] -= n
		}
		got := map[pk]int64{}
		PairDiff(slices.Clone(before), slices.Clone(after), func(g string, v int, d, p Day, n int64) { got[pk{g, v, d, p}] += n })
		for k, n := range want {
			if got[k] != n {
				t.Fatalf("pair %+v: emitted %d, want %d", k, got[k], n)
			}
		}
		for k, n := range got {
			if want[k] != n {
				t.Fatalf("pair %+v: emitted %d, want %d", k, n, want[k])
			}
		}
	})
}
