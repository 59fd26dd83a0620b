package app

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/toktok/toktok/store"
)

// The active-sessions gauge (toktok_sessions_active) without counting every session: a
// count over millions of sessions takes tens of seconds on SQLite (the table is keyed by
// random ids, with no index on liveness that a count could use cheaply), far too much for a
// metric. Session ids are crypto/rand.Text strings, uniform over its base32 alphabet, so
// the live sessions whose id starts with a given two characters are, on average, 1/1024 of
// them all. The gauge counts exactly while there are at most sessionsExact live sessions;
// above that it counts whole two-character id ranges, in random order, until it has seen
// sessionsSample live sessions, and scales up: the reading costs about the same at 20 000
// sessions as at 20 million, and its relative error is about 1/sqrt(sessionsSample).
// (Sessions with other ids, like the benchmark seeder's, fall outside every range and are
// not counted by the estimate.)
// (Variables so that a test can make them small.)
var (
	sessionsExact  = 10_000
	sessionsSample = 5_000
)

// sessionIDAlphabet is crypto/rand.Text's alphabet (RFC 4648 base32), which newID uses.
const sessionIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

// sessionRanges is how many two-character id ranges there are.
const sessionRanges = len(sessionIDAlphabet) * len(sessionIDAlphabet)

// sessionRange returns the ids from..to (to excluded) that begin with the i-th pair of
// characters: the next string after any id with that prefix is the prefix with its last
// byte increased.
func sessionRange(i int) (from, to string) {
	a, b := sessionIDAlphabet[i/len(sessionIDAlphabet)], sessionIDAlphabet[i%len(sessionIDAlphabet)]
	return string([]byte{a, b}), string([]byte{a, b + 1})
}

// liveSessionsReader is the reading of the gauge: estimateLiveSessions on s at now(). The
// gauge makes one reading at a time, so its random source needs no lock.
func liveSessionsReader(s store.Store, now func() time.Time) func(context.Context) (float64, error) {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	return func(ctx context.Context) (float64, error) {
		return estimateLiveSessions(ctx, s, now(), rnd)
	}
}

// estimateLiveSessions returns the number of sessions live at now: exact at or below
// sessionsExact, else estimated from random id ranges drawn with rnd.
func estimateLiveSessions(ctx context.Context, s store.Store, now time.Time, rnd *rand.Rand) (float64, error) {
	n, err := s.CountLiveSessions(ctx, "", "", now, sessionsExact+1)
	if err != nil || n <= sessionsExact {
		return float64(n), err
	}
	seen, ranges := 0, 0
	for _, i := range rnd.Perm(sessionRanges) {
		from, to := sessionRange(i)
		c, err := s.CountLiveSessions(ctx, from, to, now, 0)
		if err != nil {
			return 0, err
		}
		seen += c
		ranges++
		if seen >= sessionsSample {
			break
		}
	}
	return float64(seen) * float64(sessionRanges) / float64(ranges), nil
}
