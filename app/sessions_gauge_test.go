package app

import (
	"crypto/rand"
	"math"
	mrand "math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
)

// TestSessionRanges: the two-character ranges cover every id crypto/rand.Text makes,
// each id in exactly one range.
func TestSessionRanges(t *testing.T) {
	for range 2000 {
		id := rand.Text()
		in := 0
		for i := range sessionRanges {
			if from, to := sessionRange(i); id >= from && id < to {
				in++
			}
		}
		if in != 1 {
			t.Fatalf("%s is in %d ranges, want 1", id, in)
		}
	}
}

// TestEstimateLiveSessions: exact at or below the exact limit (revoked and expired
// sessions not counted), an estimate from a sample of id ranges above it, within a
// tolerance far wider than the sample's statistical error.
func TestEstimateLiveSessions(t *testing.T) {
	oldExact, oldSample := sessionsExact, sessionsSample
	sessionsExact, sessionsSample = 100, 600
	t.Cleanup(func() { sessionsExact, sessionsSample = oldExact, oldSample })

	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	add := func(n int, revoked bool, idle time.Duration) {
		t.Helper()
		for range n {
			sess := store.Session{
				ID: rand.Text(), UserID: "u1", CreatedAt: now.Add(-time.Hour), LastUsedAt: now.Add(-time.Hour),
				IdleExpiresAt: now.Add(idle), AbsoluteExpiresAt: now.Add(24 * time.Hour), RotatedAt: now.Add(-time.Hour),
			}
			if revoked {
				sess.RevokedAt, sess.RevokedReason = &now, "logout"
			}
			if err := s.CreateSession(t.Context(), sess); err != nil {
				t.Fatal(err)
			}
		}
	}
	rnd := mrand.New(mrand.NewPCG(1, 2))
	estimate := func() float64 {
		t.Helper()
		v, err := estimateLiveSessions(t.Context(), s, now, rnd)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	add(90, false, time.Hour)
	add(40, true, time.Hour)     // revoked
	add(40, false, -time.Minute) // idle expired
	if got := estimate(); got != 90 {
		t.Fatalf("90 live sessions (and 80 ended): gauge %v, want exactly 90", got)
	}
	add(2910, false, time.Hour) // 3 000 live, over the exact limit: sampled
	for range 5 {
		// A sample of about 600 sessions: a relative error of about 4 %; 20 % is 5 sigma.
		if got := estimate(); math.Abs(got-3000)/3000 > 0.20 {
			t.Fatalf("3 000 live sessions: estimate %v, off by more than 20 %%", got)
		}
	}
	// Sessions whose ids are not rand.Text's fall outside every range.
	if from, to := sessionRange(0); !strings.HasPrefix(from, "AA") || to != "AB" {
		t.Fatalf("range 0 = [%q, %q), want [AA, AB)", from, to)
	}
}
