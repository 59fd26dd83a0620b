package metrics

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestLiveSessionsGauge: the gauge reads the store at most once per LiveSessionsMaxAge
// whatever the scrapes, keeps its last reading through a failed one, and goes absent
// when it has had no reading for twice that (or none yet).
func TestLiveSessionsGauge(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	reads, value, fail := 0, 7.0, true
	m := New(Build{})
	m.LiveSessions(func(context.Context) (float64, error) {
		reads++
		if fail {
			return 0, errors.New("store down")
		}
		return value, nil
	}, func() time.Time { return now })
	scrape := func() (float64, bool) {
		t.Helper()
		fams, err := m.Registry().Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "toktok_sessions_active" {
				return f.GetMetric()[0].GetGauge().GetValue(), true
			}
		}
		return 0, false
	}

	if _, ok := scrape(); ok || reads != 1 {
		t.Fatalf("first reading failed: gauge present %v, reads %d; want absent, 1", ok, reads)
	}
	fail = false
	if _, ok := scrape(); ok || reads != 1 {
		t.Fatalf("within a minute of a failed reading: present %v, reads %d; want no new reading", ok, reads)
	}
	now = now.Add(LiveSessionsMaxAge)
	if v, ok := scrape(); !ok || v != 7 || reads != 2 {
		t.Fatalf("after a minute: %v %v, reads %d; want 7, 2 reads", v, ok, reads)
	}
	value = 9
	for range 5 {
		scrape()
	}
	if v, _ := scrape(); v != 7 || reads != 2 {
		t.Fatalf("scrapes within the minute: %v, reads %d; want the cached 7 and no reading", v, reads)
	}
	now = now.Add(LiveSessionsMaxAge)
	if v, _ := scrape(); v != 9 || reads != 3 {
		t.Fatalf("next minute: %v, reads %d; want 9, 3", v, reads)
	}
	fail = true
	now = now.Add(LiveSessionsMaxAge)
	if v, ok := scrape(); !ok || v != 9 {
		t.Fatalf("one failed reading: %v %v; want the last reading, 9", v, ok)
	}
	now = now.Add(LiveSessionsMaxAge)
	if _, ok := scrape(); ok {
		t.Fatal("no reading for two minutes: gauge still present")
	}
}
