package testclock

import (
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	c := New(time.Time{})
	if !c.Now().Equal(Start) {
		t.Fatalf("New(zero).Now() = %v, want %v", c.Now(), Start)
	}
	c.Advance(90 * time.Second)
	if got := c.Now().Sub(Start); got != 90*time.Second {
		t.Fatalf("after Advance(90s): %v past Start", got)
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Set(at)
	if !c.Now().Equal(at) {
		t.Fatalf("after Set: %v", c.Now())
	}
	if got := New(at).Now(); !got.Equal(at) {
		t.Fatalf("New(at).Now() = %v", got)
	}
}

func TestClockConcurrent(t *testing.T) {
	c := New(time.Time{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got := c.Now().Sub(Start); got != 800*time.Millisecond {
		t.Fatalf("8×100 advances of 1ms: %v", got)
	}
}
