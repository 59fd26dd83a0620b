package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/toktok/toktok/store"
)

// Hit counts one event for key in its fixed window, in one INSERT … ON CONFLICT DO
// UPDATE … RETURNING, and returns the counter after it.
func (s *Store) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (store.Counter, error) {
	const op = "hit"
	if err := s.checkOpen(op); err != nil {
		return store.Counter{}, err
	}
	var count, resetAt int64
	err := s.st.hit.QueryRowContext(ctx, key, millis(now), millis(now.Add(window))).Scan(&count, &resetAt)
	if err != nil {
		return store.Counter{}, mapErr(op, err)
	}
	return store.Counter{Count: int(count), ResetAt: fromMillis(resetAt)}, nil
}

// PeekCounter returns key's counter as of now without counting: the zero Counter when the
// key is absent or its window has ended.
func (s *Store) PeekCounter(ctx context.Context, key string, now time.Time) (store.Counter, error) {
	const op = "peek counter"
	if err := s.checkOpen(op); err != nil {
		return store.Counter{}, err
	}
	var count, resetAt int64
	err := s.st.peekCounter.QueryRowContext(ctx, key, millis(now)).Scan(&count, &resetAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Counter{}, nil
	}
	if err != nil {
		return store.Counter{}, mapErr(op, err)
	}
	return store.Counter{Count: int(count), ResetAt: fromMillis(resetAt)}, nil
}

// HoldCounter moves key's ResetAt to until when that is later, creating the key with
// count 0 when absent, in one upsert.
func (s *Store) HoldCounter(ctx context.Context, key string, until time.Time) error {
	const op = "hold counter"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.st.holdCounter.ExecContext(ctx, key, millis(until))
	return mapErr(op, err)
}

// ResetCounter deletes key; deleting an absent key is not an error.
func (s *Store) ResetCounter(ctx context.Context, key string) error {
	const op = "reset counter"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.st.resetCounter.ExecContext(ctx, key)
	return mapErr(op, err)
}

// ReleaseHit takes back one counted event while the key is in c's window, in one UPDATE.
func (s *Store) ReleaseHit(ctx context.Context, key string, c store.Counter) error {
	const op = "release hit"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, `UPDATE counters SET count = count - 1
		WHERE key = ?1 AND reset_at = ?2 AND count > 0`, key, millis(c.ResetAt))
	return mapErr(op, err)
}

// purgeBatch is how many rows one purge statement deletes: each batch is its own short
// autocommit transaction, so a purge of any backlog holds SQLite's write lock for one
// batch at a time and the other writers, a refresh or a login, get the lock between
// batches (the pause of yieldLock, yield.go, makes sure the waiting ones do). A deleted
// row costs 50–150 µs at a million users (random pages of the table and its indexes), so
// 100 rows hold the lock about 5–15 ms (docs/benchmarks.md, "Purge at 1 000 000 users").
// A variable so tests can make it small.
var purgeBatch = 100

// purgeBatchDone, when set (tests, the measure in purge_measure_test.go), is called after
// each purge batch with its table, the rows it deleted and how long its statement ran.
var purgeBatchDone func(table string, rows int, took time.Duration)

// PurgeExpired deletes the counters, link tokens, sessions and final mails that can no
// longer matter at now, and returns how many rows it removed. Each statement finds its
// rows through an index (migration 0006) and deletes them purgeBatch at a time, each batch
// committed on its own; a failure or a canceled ctx stops it between batches, with the
// rows already deleted counted in the total returned alongside the error.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	const op = "purge expired"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	graceCutoff := millis(now.Add(-purgeGrace))
	total := 0
	for _, p := range []struct {
		table string
		st    *sql.Stmt
		arg   int64
	}{
		{"counters", s.st.purgeCounters, millis(now)},
		{"link_tokens", s.st.purgeLinkTokens, graceCutoff},
		{"sessions", s.st.purgeSessions, graceCutoff},
		{"mails", s.st.purgeFinishedMail, millis(now.Add(-mailsRetention))},
	} {
		n, err := s.purgeInBatches(ctx, op, p.table, p.st, p.arg)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// purgeInBatches runs st, a DELETE of at most ?2 rows matching ?1 (arg), with ?2 =
// purgeBatch, until a batch deletes fewer rows, and returns how many it deleted in all.
// Every batch is a statement of its own, outside any transaction, so it commits at once;
// between two, yieldLock lets the writers waiting for the lock have it. ctx is checked
// before each batch.
func (s *Store) purgeInBatches(ctx context.Context, op, table string, st *sql.Stmt, arg int64) (int, error) {
	batch := purgeBatch
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, mapErr(op, err)
		}
		start := time.Now()
		res, err := st.ExecContext(ctx, arg, batch)
		n, err := rowCount(op, res, err)
		if err != nil {
			return total, err
		}
		total += n
		took := time.Since(start)
		if done := purgeBatchDone; done != nil {
			done(table, n, took)
		}
		if n < batch {
			return total, nil
		}
		if err := s.yieldLock(ctx, took); err != nil {
			return total, mapErr(op, err)
		}
	}
}
