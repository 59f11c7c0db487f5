package hlc

import (
	"sort"
	"testing"
	"time"
)

func TestParseString(t *testing.T) {
	for _, c := range []struct {
		in string
		ok bool
	}{
		{"0190abcdef012345", true},
		{"0000000000000001", true},
		{"0190ABCDEF012345", false}, // upper case would not sort as clocks do
		{"0190abcdef01234", false},
		{"0190abcdef0123456", false},
		{"0190abcdef01234g", false},
		{"", false},
	} {
		ts, err := Parse(c.in)
		if (err == nil) != c.ok {
			t.Fatalf("Parse(%q): %v", c.in, err)
		}
		if c.ok && ts.String() != c.in {
			t.Fatalf("round trip %q → %q", c.in, ts.String())
		}
	}
}

// Strings sort as the clocks do.
func TestStringOrder(t *testing.T) {
	ts := []Timestamp{New(1795388400000, 3), New(1795388400000, 0), New(1795388399999, 65535), New(1, 0), New(1795388400001, 0)}
	strs := make([]string, len(ts))
	for i, x := range ts {
		strs[i] = x.String()
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	sort.Strings(strs)
	for i := range ts {
		if ts[i].String() != strs[i] {
			t.Fatalf("order differs at %d: %s vs %s", i, ts[i], strs[i])
		}
	}
}

func TestClock(t *testing.T) {
	wall := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	c := &Clock{Now: func() time.Time { return wall }}
	a := c.Tick()
	b := c.Tick()
	if b <= a || a.Millis() != wall.UnixMilli() || b.Counter() != 1 {
		t.Fatalf("ticks %s %s", a, b)
	}
	// A remote clock ahead moves us past it; the wall clock going back does not move us back.
	remote := New(wall.Add(time.Minute).UnixMilli(), 7)
	c.Observe(remote)
	if n := c.Tick(); n <= remote {
		t.Fatalf("after observing %s: %s", remote, n)
	}
	wall = wall.Add(-time.Hour)
	if n := c.Tick(); n <= remote {
		t.Fatalf("wall clock back: %s", n)
	}
	// A phone 3 days behind, corrected by the server offset, issues server-time stamps.
	phone := &Clock{Now: func() time.Time { return wall.Add(-72 * time.Hour) }}
	phone.SetOffset(72 * time.Hour)
	if got := phone.Tick().Time(); !got.Equal(wall) {
		t.Fatalf("corrected phone clock %s, want %s", got, wall)
	}
	// The counter rolls over into the next millisecond.
	c2 := &Clock{Now: func() time.Time { return time.UnixMilli(1000) }}
	c2.Observe(New(1000, 65535))
	if n := c2.Tick(); n != New(1001, 0) {
		t.Fatalf("rollover: %s", n)
	}
}
