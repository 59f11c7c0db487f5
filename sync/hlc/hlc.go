// Package hlc implements the hybrid logical clock of the sync protocol.
//
// A Timestamp is 64 bits: the upper 48 are Unix milliseconds, the lower 16 a counter. On
// the wire it is 16 lowercase hex digits, so that strings sort as clocks do.
package hlc

import (
	"fmt"
	"sync"
	"time"
)

// Timestamp is a hybrid logical clock reading. The zero Timestamp is before every reading.
type Timestamp uint64

const counterBits = 16

// New returns the Timestamp of a wall time in milliseconds and a counter.
func New(ms int64, counter uint16) Timestamp {
	return Timestamp(uint64(ms)<<counterBits | uint64(counter))
}

// FromTime returns the Timestamp at t with a zero counter.
func FromTime(t time.Time) Timestamp { return New(t.UnixMilli(), 0) }

// Millis returns the wall-clock part in Unix milliseconds.
func (t Timestamp) Millis() int64 { return int64(t >> counterBits) }

// Counter returns the logical part.
func (t Timestamp) Counter() uint16 { return uint16(t) }

// Time returns the wall-clock part as a time.
func (t Timestamp) Time() time.Time { return time.UnixMilli(t.Millis()).UTC() }

// String returns the wire form: 16 lowercase hex digits.
func (t Timestamp) String() string { return fmt.Sprintf("%016x", uint64(t)) }

// Parse reads the wire form. Anything but exactly 16 lowercase hex digits is an error,
// so that every accepted string sorts as its clock does.
func Parse(s string) (Timestamp, error) {
	if len(s) != 16 {
		return 0, fmt.Errorf("hlc: %q is not 16 hex digits", s)
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		default:
			return 0, fmt.Errorf("hlc: %q is not 16 lowercase hex digits", s)
		}
		v = v<<4 | uint64(d)
	}
	return Timestamp(v), nil
}

// Clock issues strictly increasing Timestamps that follow a physical clock and every
// remote Timestamp it has seen. It is safe for concurrent use.
//
// On a phone, Offset holds the difference between server time and the phone's clock as
// learned from server responses, so the clock follows server time even when the phone's
// clock is days off.
type Clock struct {
	// Now is the physical clock; nil means time.Now. Tests inject their own.
	Now func() time.Time

	mu     sync.Mutex
	last   Timestamp
	offset time.Duration
}

func (c *Clock) physical() int64 {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return now().Add(c.offset).UnixMilli()
}

// Tick returns a Timestamp greater than every one returned or observed before.
func (c *Clock) Tick() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.physical()
	if pt > c.last.Millis() {
		c.last = New(pt, 0)
	} else {
		c.last = c.next(c.last)
	}
	return c.last
}

// next returns the Timestamp after t, moving the wall part on if the counter is exhausted.
func (c *Clock) next(t Timestamp) Timestamp {
	if t.Counter() == 1<<counterBits-1 {
		return New(t.Millis()+1, 0)
	}
	return t + 1
}

// Observe advances the clock past a remote Timestamp, so the next Tick is after it.
func (c *Clock) Observe(remote Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if remote > c.last {
		c.last = remote
	}
}

// Last returns the greatest Timestamp issued or observed.
func (c *Clock) Last() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// SetOffset sets the correction added to the physical clock (server time minus local
// time). It never moves the clock backwards: Timestamps stay increasing.
func (c *Clock) SetOffset(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// Offset returns the correction set by SetOffset.
func (c *Clock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}
