package report

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// Members are what a group counts distinct values of.
const (
	MemberPerson    = iota // citizen_ref
	MemberHousehold        // household_ref
	MemberVolunteer        // volunteers active in a unit
	MemberDay              // active days of a team or volunteer: each day is its own member
	NumMembers
)

// Variants of every figure: over all counted logs, or over approved ones only.
const (
	All = iota
	Approved
	NumVariants
)

// Sums are the additive figures of one kind.
type Sums struct {
	Logs       int64 // counted logs
	Attendees  int64 // their attendees
	Incomplete int64 // incomplete attempts
}

func (s *Sums) add(o Sums, sign int64) {
	s.Logs += sign * o.Logs
	s.Attendees += sign * o.Attendees
	s.Incomplete += sign * o.Incomplete
}

func (s Sums) zero() bool { return s == Sums{} }

// KindSums are one kind's sums in each variant.
type KindSums struct {
	Kind string
	V    [NumVariants]Sums
}

// Pair counts the (day, prev) pairs of a cell with one prev: N members were reached on a
// day of the cell whose previous day reached in the group was Prev (0: never before).
type Pair struct {
	Prev Day
	N    int64
}

// Cell holds a group's figures for one day or one month: the sums of the kinds (for
// hamlets and volunteers only; higher groups add those up) and the distinct-count pairs
// whose day falls in the cell.
type Cell struct {
	Kinds []KindSums                      // sorted by kind
	Pairs [NumMembers][NumVariants][]Pair // each sorted by Prev
}

// Reached returns how many members m (variant v) were first reached within a period
// starting on from, on the cell's days: the pairs of the cell with Prev < from. Summed
// over the cells covering [from, to], it is the number of distinct members reached.
func (c *Cell) Reached(m, v int, from Day) int64 {
	var n int64
	for _, p := range c.Pairs[m][v] {
		if p.Prev >= from {
			break
		}
		n += p.N
	}
	return n
}

// Empty reports whether the cell holds nothing.
func (c *Cell) Empty() bool {
	if len(c.Kinds) > 0 {
		return false
	}
	for m := range c.Pairs {
		for v := range c.Pairs[m] {
			if len(c.Pairs[m][v]) > 0 {
				return false
			}
		}
	}
	return true
}

// Delta is a change to a cell: sums and pair counts to add (negative to remove).
type Delta struct {
	kinds map[string]*[NumVariants]Sums
	pairs map[pairKey]int64
}

type pairKey struct {
	m, v uint8
	prev Day
}

// AddSums adds sign × s to a kind's sums in variant v.
func (d *Delta) AddSums(kind string, v int, s Sums, sign int64) {
	if d.kinds == nil {
		d.kinds = map[string]*[NumVariants]Sums{}
	}
	k := d.kinds[kind]
	if k == nil {
		k = &[NumVariants]Sums{}
		d.kinds[kind] = k
	}
	k[v].add(s, sign)
}

// AddPair adds n to the count of pairs with the given prev, for member m in variant v.
func (d *Delta) AddPair(m, v int, prev Day, n int64) {
	if d.pairs == nil {
		d.pairs = map[pairKey]int64{}
	}
	k := pairKey{uint8(m), uint8(v), prev}
	d.pairs[k] += n
	if d.pairs[k] == 0 {
		delete(d.pairs, k)
	}
}

// Empty reports whether the delta changes nothing.
func (d *Delta) Empty() bool {
	if len(d.pairs) > 0 {
		return false
	}
	for _, k := range d.kinds {
		for _, s := range k {
			if !s.zero() {
				return false
			}
		}
	}
	return true
}

// ErrNegative is returned by Apply when a figure would go below zero: the delta removes
// something the cell never held (a bookkeeping bug, or aggregates built from other unit
// paths than the current ones).
var ErrNegative = errors.New("report: a cell figure would go below zero")

// Apply adds d to c.
func (c *Cell) Apply(d *Delta) error {
	if len(d.kinds) > 0 {
		byKind := make(map[string]int, len(c.Kinds))
		for i, k := range c.Kinds {
			byKind[k.Kind] = i
		}
		for kind, ds := range d.kinds {
			i, ok := byKind[kind]
			if !ok {
				c.Kinds = append(c.Kinds, KindSums{Kind: kind})
				i = len(c.Kinds) - 1
				byKind[kind] = i
			}
			for v := range ds {
				c.Kinds[i].V[v].add(ds[v], 1)
				if s := c.Kinds[i].V[v]; s.Logs < 0 || s.Attendees < 0 || s.Incomplete < 0 {
					return fmt.Errorf("%w: kind %s", ErrNegative, kind)
				}
			}
		}
		kept := c.Kinds[:0]
		for _, k := range c.Kinds {
			if !k.V[All].zero() || !k.V[Approved].zero() {
				kept = append(kept, k)
			}
		}
		c.Kinds = kept
		sort.Slice(c.Kinds, func(i, j int) bool { return c.Kinds[i].Kind < c.Kinds[j].Kind })
	}
	if len(d.pairs) == 0 {
		return nil
	}
	var touched [NumMembers][NumVariants]map[Day]int64
	for k, n := range d.pairs {
		t := &touched[k.m][k.v]
		if *t == nil {
			*t = map[Day]int64{}
		}
		(*t)[k.prev] += n
	}
	for m := range touched {
		for v, add := range touched[m] {
			if add == nil {
				continue
			}
			ps := c.Pairs[m][v]
			for i := range ps {
				if n, ok := add[ps[i].Prev]; ok {
					ps[i].N += n
					delete(add, ps[i].Prev)
				}
			}
			for prev, n := range add {
				ps = append(ps, Pair{Prev: prev, N: n})
			}
			kept := ps[:0]
			for _, p := range ps {
				if p.N < 0 {
					return fmt.Errorf("%w: member %d variant %d prev %d", ErrNegative, m, v, p.Prev)
				}
				if p.N > 0 {
					kept = append(kept, p)
				}
			}
			sort.Slice(kept, func(i, j int) bool { return kept[i].Prev < kept[j].Prev })
			c.Pairs[m][v] = kept
		}
	}
	return nil
}

// cellFormat is the first byte of an encoded cell.
const cellFormat = 1

// Encode returns the cell's compact binary form: varints, with Prev days delta-encoded.
func (c *Cell) Encode() []byte {
	b := make([]byte, 0, 16+len(c.Kinds)*24)
	b = append(b, cellFormat)
	b = binary.AppendUvarint(b, uint64(len(c.Kinds)))
	for _, k := range c.Kinds {
		b = binary.AppendUvarint(b, uint64(len(k.Kind)))
		b = append(b, k.Kind...)
		for _, s := range k.V {
			b = binary.AppendUvarint(b, uint64(s.Logs))
			b = binary.AppendUvarint(b, uint64(s.Attendees))
			b = binary.AppendUvarint(b, uint64(s.Incomplete))
		}
	}
	for m := range c.Pairs {
		for v := range c.Pairs[m] {
			ps := c.Pairs[m][v]
			b = binary.AppendUvarint(b, uint64(len(ps)))
			last := Day(0)
			for _, p := range ps {
				b = binary.AppendUvarint(b, uint64(p.Prev-last))
				b = binary.AppendUvarint(b, uint64(p.N))
				last = p.Prev
			}
		}
	}
	return b
}

var errCorrupt = errors.New("report: corrupt cell")

// DecodeCell reads a cell written by Encode.
func DecodeCell(b []byte) (Cell, error) {
	var c Cell
	if len(b) == 0 || b[0] != cellFormat {
		return c, errCorrupt
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	nk, ok := next()
	if !ok || nk > uint64(len(b)) {
		return c, errCorrupt
	}
	c.Kinds = make([]KindSums, nk)
	for i := range c.Kinds {
		l, ok := next()
		if !ok || l > uint64(len(b)) {
			return c, errCorrupt
		}
		c.Kinds[i].Kind = string(b[:l])
		b = b[l:]
		for v := range c.Kinds[i].V {
			s := &c.Kinds[i].V[v]
			for _, dst := range []*int64{&s.Logs, &s.Attendees, &s.Incomplete} {
				x, ok := next()
				if !ok {
					return c, errCorrupt
				}
				*dst = int64(x)
			}
		}
	}
	for m := range c.Pairs {
		for v := range c.Pairs[m] {
			n, ok := next()
			if !ok || n > uint64(len(b)) {
				return c, errCorrupt
			}
			if n == 0 {
				continue
			}
			ps := make([]Pair, n)
			last := Day(0)
			for i := range ps {
				dp, ok1 := next()
				x, ok2 := next()
				if !ok1 || !ok2 {
					return c, errCorrupt
				}
				last += Day(dp)
				ps[i] = Pair{Prev: last, N: int64(x)}
			}
			c.Pairs[m][v] = ps
		}
	}
	if len(b) != 0 {
		return c, errCorrupt
	}
	return c, nil
}

// Scan reads an encoded cell without building it, for reports: if sums is set it is
// called with each kind's sums in variant v; if reached is set, the pairs of variant v
// with Prev < from are added to it per member. It allocates nothing.
func Scan(b []byte, v int, from Day, reached *[NumMembers]int64, sums func(kind []byte, s Sums)) error {
	if len(b) == 0 || b[0] != cellFormat {
		return errCorrupt
	}
	b = b[1:]
	next := func() (uint64, bool) {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return x, true
	}
	nk, ok := next()
	if !ok {
		return errCorrupt
	}
	for i := uint64(0); i < nk; i++ {
		l, ok := next()
		if !ok || l > uint64(len(b)) {
			return errCorrupt
		}
		kind := b[:l]
		b = b[l:]
		var vals [NumVariants * 3]uint64
		for j := range vals {
			if vals[j], ok = next(); !ok {
				return errCorrupt
			}
		}
		if sums != nil {
			sums(kind, Sums{Logs: int64(vals[v*3]), Attendees: int64(vals[v*3+1]), Incomplete: int64(vals[v*3+2])})
		}
	}
	for m := 0; m < NumMembers; m++ {
		for vv := 0; vv < NumVariants; vv++ {
			n, ok := next()
			if !ok {
				return errCorrupt
			}
			prev := Day(0)
			for i := uint64(0); i < n; i++ {
				dp, ok1 := next()
				x, ok2 := next()
				if !ok1 || !ok2 {
					return errCorrupt
				}
				prev += Day(dp)
				if reached != nil && vv == v && prev < from {
					reached[m] += int64(x)
				}
			}
		}
	}
	if len(b) != 0 {
		return errCorrupt
	}
	return nil
}
