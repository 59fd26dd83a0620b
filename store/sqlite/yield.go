package sqlite

import (
	"context"
	"time"
)

// The purge (purgeInBatches, BeginUnconfirmedDeletions, FinishDeletions) takes SQLite's
// write lock for one short batch at a time, but bounded batches alone do not bound what
// another writer waits. SQLite's write lock has no queue: a writer that finds it taken
// sleeps in the busy handler and retries on a fixed, growing schedule (busyDelays, the
// schedule of SQLite's default busy callback, which modernc.org/sqlite keeps), while the
// purge loop takes the lock again microseconds after each commit. A writer then only gets
// in if one of its retries falls in that gap, so it can miss batch after batch. Measured
// at 1 000 000 users (TestPurgeMeasure, purge_measure_test.go, two runs on a quiet
// machine), the refreshes that took over 50 ms during the backlog purge (38 and 32, of
// about 92 000) took just over the schedule's totals (53, 78, 103 ms), and 69 of the 70
// had waited through 4 to 11 back-to-back batches, nearly all shorter than 50 ms, with at
// most 100 µs of free lock between two. (The WAL auto-checkpoint that a purge commit
// runs, lock released, was the only longer gap: with it moved to another goroutine, a
// refresh waited out the 5 s busy timeout.)
//
// So after each batch the purge leaves the lock free for at least the sleep a writer that
// started waiting during the batch can be in (lockYield): its next retry then falls in the
// gap and it waits about one batch, not several. It does so only when another of the
// pool's connections is in use at that moment: a writer waiting for the lock is inside a
// statement and holds its connection, and the Store has the database to itself (lock.go),
// so with no other connection in use no one is waiting and the purge goes on at full
// speed. The pause costs the purge time (about as long as the batch, when taken), not
// others. With it, the same measure: no refresh over 50 ms (longest 36 and 45 ms), the
// backlog purge 4 min 35 s and 5 min 1 s against 4 min 26 s and 4 min 38 s without.

// busyDelays and busyTotals are the busy handler's schedule: before its n-th retry a
// waiting connection sleeps busyDelays[n] ms, having waited busyTotals[n] ms in all
// (sqliteDefaultBusyCallback in SQLite's main.c; busy.go in modernc.org/sqlite); after
// the last entry it sleeps the last delay each time.
var (
	busyDelays = [...]time.Duration{1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100}
	busyTotals = [...]time.Duration{0, 1, 3, 8, 18, 33, 53, 78, 103, 128, 178, 228}
)

// lockYieldSlack covers a waiter's sleep overrunning its delay (timer and scheduling
// latency on a busy machine).
const lockYieldSlack = 2 * time.Millisecond

// lockYield is how long to leave the write lock free after holding it for held: the
// busy handler's sleep in progress for a writer that has waited held, the longest any
// writer that started waiting during the hold can be in, plus lockYieldSlack.
func lockYield(held time.Duration) time.Duration {
	d := busyDelays[len(busyDelays)-1]
	for i, total := range busyTotals {
		if held < total*time.Millisecond {
			d = busyDelays[i-1]
			break
		}
	}
	return d*time.Millisecond + lockYieldSlack
}

// purgeYields turns the pause of yieldLock on; tests turn it off to measure without it.
var purgeYields = true

// yieldLock pauses the purge for lockYield(held), a batch that held the write lock for
// held having just committed and released its connection, so the writers waiting for the
// lock get it (see above); with no other connection in use it does not pause. It returns
// ctx's error if ctx ends first.
func (s *Store) yieldLock(ctx context.Context, held time.Duration) error {
	return s.yieldLockKeeping(ctx, held, 0)
}

// yieldLockKeeping is yieldLock for a caller that keeps own connections of the pool
// checked out meanwhile (the purge's, purgeConn): only the others count as waiting.
func (s *Store) yieldLockKeeping(ctx context.Context, held time.Duration, own int) error {
	if !purgeYields || s.db.Stats().InUse <= own {
		return ctx.Err()
	}
	t := time.NewTimer(lockYield(held))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
