// Package report holds the arithmetic of cdtsync's reports as pure functions: the
// per-period cells the store keeps up to date as logs change, the distinct-count pairs
// that make "people reached" exact for any period at any level, periods and targets, and
// the CSV and XLSX exports. Nothing here reads a clock or a database.
//
// # Distinct counts for any period
//
// For a group g (a unit, a team, a volunteer within a team) and a member x (a person, a
// household, a volunteer), let d1 < d2 < … < dk be the days on which x was reached in g.
// Store the pairs (d1, 0), (d2, d1), …, (dk, dk-1): each day with the previous day x was
// reached in g. Then x was reached in [from, to] exactly when one of its pairs (d, p) has
// from ≤ d ≤ to and p < from (the first day of the period on which x was reached), so
//
//	distinct members of g reached in [from, to] = #{pairs (d, p) of g : from ≤ d ≤ to, p < from}.
//
// Pairs of all members are kept as counts per (g, d, p), summed into cells by day and by
// month, so a report reads one cell per group and month (plus day cells for the ends of
// a period that are not whole months) and never a log. The count is exact: nothing is
// sampled or estimated, and each level's count comes from that level's own pairs.
package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Day is a calendar date as YYYYMMDD, in Asia/Ho_Chi_Minh.
type Day int32

// Month is a calendar month as YYYYMM.
type Month int32

// Vietnam is the reports' time zone: Asia/Ho_Chi_Minh, UTC+7 all year.
var Vietnam = time.FixedZone("ICT", 7*3600)

// DayOf returns the calendar day in Vietnam of a Unix-millisecond instant.
func DayOf(ms int64) Day { return DayOfTime(time.UnixMilli(ms)) }

// DayOfTime returns the calendar day in Vietnam of t.
func DayOfTime(t time.Time) Day {
	t = t.In(Vietnam)
	return Day(t.Year()*10000 + int(t.Month())*100 + t.Day())
}

// ParseDay parses a YYYY-MM-DD date.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return DayOfTime(time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, Vietnam)), nil
}

// Time returns midnight at the start of d in Vietnam.
func (d Day) Time() time.Time {
	return time.Date(int(d)/10000, time.Month(int(d)/100%100), int(d)%100, 0, 0, 0, 0, Vietnam)
}

// StartMS returns the Unix millisecond of midnight at the start of d in Vietnam.
func (d Day) StartMS() int64 { return d.Time().UnixMilli() }

// Month returns the month of d.
func (d Day) Month() Month { return Month(d / 100) }

// Next returns the day after d.
func (d Day) Next() Day { return DayOfTime(d.Time().Add(36 * time.Hour)) }

// String formats d as YYYY-MM-DD.
func (d Day) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", int(d)/10000, int(d)/100%100, int(d)%100)
}

// Vietnamese formats d as dd/mm/yyyy.
func (d Day) Vietnamese() string {
	return fmt.Sprintf("%02d/%02d/%04d", int(d)%100, int(d)/100%100, int(d)/10000)
}

// First returns the first day of m.
func (m Month) First() Day { return Day(int32(m)*100 + 1) }

// Last returns the last day of m.
func (m Month) Last() Day {
	t := time.Date(int(m)/100, time.Month(int(m)%100)+1, 0, 12, 0, 0, 0, Vietnam)
	return DayOfTime(t)
}

// Next returns the month after m.
func (m Month) Next() Month {
	if m%100 == 12 {
		return Month((int32(m)/100+1)*100 + 1)
	}
	return m + 1
}

// Span is a period [From, To] of whole days, inclusive.
type Span struct{ From, To Day }

// Split divides a period into the whole months it holds and the days at its ends that
// are not whole months. Cells of the months and of the days together cover the period
// exactly once.
func Split(from, to Day) (months []Month, days []Span) {
	if from > to {
		return nil, nil
	}
	m := from.Month()
	if from != m.First() {
		end := m.Last()
		if end >= to {
			return nil, []Span{{from, to}}
		}
		days = append(days, Span{from, end})
		m = m.Next()
	}
	for ; m.Last() <= to; m = m.Next() {
		months = append(months, m)
	}
	if m.First() <= to {
		days = append(days, Span{m.First(), to})
	}
	return months, days
}

// Cells of a group. A day's (period YYYYMMDD) holds its sums and its pairs with their
// exact previous day. A month's (YYYYMM), a quarter's (YYYYQ, e.g. 20264) and a year's
// (YYYY) hold their sums and their pairs with the previous day's month only (its first
// day): all a period starting on the first of a month needs, and it keeps them small. A
// month's detail cell (YYYYMM00) holds its pairs with their exact previous day, for
// periods starting mid-month.

// DetailPeriod is the period of m's detail cell.
func (m Month) DetailPeriod() int32 { return int32(m) * 100 }

// Quarter is the period of m's quarter's cell.
func (m Month) Quarter() int32 { return int32(m)/100*10 + (int32(m)%100-1)/3 + 1 }

// Year is the period of m's year's cell.
func (m Month) Year() int32 { return int32(m) / 100 }

// CellPrev is where a pair (day, prev) is counted: a cell period and the prev it is kept
// under there.
type CellPrev struct {
	Period int32
	Prev   Day
}

// PairCells returns the cells a pair (day, prev) is counted in.
func PairCells(day, prev Day) [5]CellPrev {
	coarse := Day(0)
	if prev != 0 {
		coarse = prev.Month().First()
	}
	m := day.Month()
	return [5]CellPrev{{int32(day), prev}, {m.DetailPeriod(), prev}, {int32(m), coarse}, {m.Quarter(), coarse}, {m.Year(), coarse}}
}

// SumCells returns the cells a day's sums are counted in: the day's, its month's, its
// quarter's and its year's.
func SumCells(day Day) [4]int32 {
	m := day.Month()
	return [4]int32{int32(day), int32(m), m.Quarter(), m.Year()}
}

// CellRead is a cell a report reads, and what it takes from it.
type CellRead struct {
	Period      int32
	Sums, Pairs bool
}

// Plan returns the cells a report of [from, to] reads. When from is the first of a
// month: each whole year's cell, each remaining whole quarter's, each remaining whole
// month's. Otherwise each whole month's cell for the sums and its detail cell for the
// pairs. Then each remaining day's cell.
func Plan(from, to Day) []CellRead {
	months, days := Split(from, to)
	var out []CellRead
	if from != from.Month().First() {
		for _, m := range months {
			out = append(out, CellRead{Period: int32(m), Sums: true}, CellRead{Period: m.DetailPeriod(), Pairs: true})
		}
	} else {
		for i := 0; i < len(months); {
			m := months[i]
			left := len(months) - i
			switch {
			case m%100 == 1 && left >= 12:
				out = append(out, CellRead{Period: m.Year(), Sums: true, Pairs: true})
				i += 12
			case (m%100-1)%3 == 0 && left >= 3:
				out = append(out, CellRead{Period: m.Quarter(), Sums: true, Pairs: true})
				i += 3
			default:
				out = append(out, CellRead{Period: int32(m), Sums: true, Pairs: true})
				i++
			}
		}
	}
	for _, s := range days {
		s.EachDay(func(d Day) { out = append(out, CellRead{Period: int32(d), Sums: true, Pairs: true}) })
	}
	return out
}

// Covers returns the days a cell period covers.
func Covers(period int32) Span {
	switch {
	case period < 10000: // year
		return Span{Day(period*10000 + 101), Day(period*10000 + 1231)}
	case period < 100000: // quarter
		y, q := period/10, period%10
		return Span{Month(y*100 + 3*q - 2).First(), Month(y*100 + 3*q).Last()}
	case period < 1000000: // month
		return Span{Month(period).First(), Month(period).Last()}
	case period%100 == 0: // month detail
		return Span{Month(period / 100).First(), Month(period / 100).Last()}
	}
	return Span{Day(period), Day(period)}
}

// EachDay calls fn for every day of s.
func (s Span) EachDay(fn func(Day)) {
	for d := s.From; d <= s.To; d = d.Next() {
		fn(d)
	}
}

// Days returns the number of days of [from, to].
func Days(from, to Day) int {
	return int(to.Time().Sub(from.Time()).Hours()/24+0.5) + 1
}

// Period kinds of targets.
const (
	PeriodYear    = "year"
	PeriodQuarter = "quarter"
	PeriodMonth   = "month"
)

// ParsePeriod checks a target period: "2026", "2026-Q4" or "2026-11". It returns the
// period in canonical form, its kind and its first and last day.
func ParsePeriod(s string) (canon, kind string, from, to Day, err error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	bad := fmt.Errorf("kỳ %q phải có dạng 2026, 2026-Q4 hoặc 2026-11 / period %q must look like 2026, 2026-Q4 or 2026-11", s, s)
	year, rest, _ := strings.Cut(s, "-")
	y, e := strconv.Atoi(year)
	if e != nil || len(year) != 4 || y < 2000 || y > 2100 {
		return "", "", 0, 0, bad
	}
	switch {
	case rest == "":
		return year, PeriodYear, Day(y*10000 + 101), Day(y*10000 + 1231), nil
	case len(rest) == 2 && rest[0] == 'Q' && rest[1] >= '1' && rest[1] <= '4':
		q := int(rest[1] - '0')
		first := Month(y*100 + 3*q - 2)
		return year + "-" + rest, PeriodQuarter, first.First(), Month(y*100 + 3*q).Last(), nil
	case len(rest) == 2:
		mo, e := strconv.Atoi(rest)
		if e != nil || mo < 1 || mo > 12 {
			return "", "", 0, 0, bad
		}
		m := Month(y*100 + mo)
		return fmt.Sprintf("%s-%02d", year, mo), PeriodMonth, m.First(), m.Last(), nil
	}
	return "", "", 0, 0, bad
}

// TargetPeriods returns the target periods that may apply to the report period [from,
// to], in the order they are tried: the month, the quarter and the year that contain the
// whole period. A period across two months has no month target; one across two years
// has none at all.
//
// So a report for November 2026 is measured against November's target if one was set,
// else Q4's, else 2026's; a report for 1 January to 30 June 2026 against 2026's.
func TargetPeriods(from, to Day) []string {
	if from > to || int(from)/10000 != int(to)/10000 {
		return []string{}
	}
	y := int(from) / 10000
	var out []string
	if from.Month() == to.Month() {
		out = append(out, fmt.Sprintf("%04d-%02d", y, int(from)/100%100))
	}
	qf, qt := (int(from)/100%100-1)/3+1, (int(to)/100%100-1)/3+1
	if qf == qt {
		out = append(out, fmt.Sprintf("%04d-Q%d", y, qf))
	}
	return append(out, fmt.Sprintf("%04d", y))
}
