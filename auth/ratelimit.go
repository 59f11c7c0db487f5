package auth

import (
	"sync"
	"time"
)

// Limiter is an in-memory rate limiter keyed by string (an account, a client address),
// using the generic cell rate algorithm: each key may spend Burst attempts at once, and
// earns one back every Every. It is safe for concurrent use and its memory is bounded:
// keys that have earned back their whole burst are forgotten.
//
// State is per process: after a restart every key starts afresh, which is acceptable for
// sign-in throttling (the attacker gains one burst per restart).
type Limiter struct {
	Every time.Duration
	Burst int
	Now   func() time.Time

	mu    sync.Mutex
	tat   map[string]time.Time // theoretical arrival time per key
	calls int
}

// maxKeys bounds the limiter's memory: beyond it, the oldest keys are dropped first.
const maxKeys = 100_000

// NewLimiter returns a limiter allowing burst attempts at once and one more every every.
func NewLimiter(every time.Duration, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{Every: every, Burst: burst, Now: now, tat: map[string]time.Time{}}
}

// Wait returns how long key must wait before its next attempt would be allowed; 0 means
// it may try now. It spends nothing.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wait(key, l.Now())
}

func (l *Limiter) wait(key string, now time.Time) time.Duration {
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	// Allowed when the new arrival time stays within the burst window.
	over := tat.Add(l.Every).Sub(now) - time.Duration(l.Burst)*l.Every
	if over > 0 {
		return over
	}
	return 0
}

// Hit spends one attempt of key.
func (l *Limiter) Hit(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hit(key, l.Now())
}

func (l *Limiter) hit(key string, now time.Time) {
	tat, ok := l.tat[key]
	if !ok || tat.Before(now) {
		tat = now
	}
	l.tat[key] = tat.Add(l.Every)
	l.calls++
	if l.calls%1024 == 0 || len(l.tat) > maxKeys {
		l.sweep(now)
	}
}

// Allow spends one attempt of key if it is allowed now, and otherwise returns how long to
// wait (spending nothing).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.Now()
	if w := l.wait(key, now); w > 0 {
		return false, w
	}
	l.hit(key, now)
	return true, 0
}

// sweep forgets keys whose whole burst is earned back; if still too many, the ones nearest
// to that.
func (l *Limiter) sweep(now time.Time) {
	for k, tat := range l.tat {
		if !tat.After(now) {
			delete(l.tat, k)
		}
	}
	for k := range l.tat {
		if len(l.tat) <= maxKeys {
			break
		}
		delete(l.tat, k) // map order is random: an even thinning under attack
	}
}
