// Package testclock is the one hand-moved clock of TokTok's tests. Every part of TokTok
// takes its time from an injected func() time.Time, so a test moves time by calling
// Advance or Set instead of sleeping. It is imported only by tests; nothing in the binary
// depends on it (go list -deps . shows it absent).
package testclock

import (
	"sync"
	"time"
)

// Start is the instant a clock made by New(time.Time{}) starts at: a fixed, ordinary UTC
// time, so test output is the same from run to run.
var Start = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// Clock is a clock that moves only when told. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// New returns a clock at t, or at Start when t is zero.
func New(t time.Time) *Clock {
	if t.IsZero() {
		t = Start
	}
	return &Clock{now: t}
}

// Now is the clock's time; pass the method value as the func() time.Time of a service.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (backwards when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
