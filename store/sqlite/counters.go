package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
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

// purgeBatch is the most rows one purge statement deletes: each batch is a short
// transaction of its own (purgeInBatches), so a purge of any backlog holds SQLite's write
// lock for one batch at a time and the other writers, a refresh or a login, get the lock between
// batches (the pause of yieldLock, yield.go, makes sure the waiting ones do). A deleted
// row costs 50–150 µs at a million users (random pages of the table and its indexes), so
// 100 rows hold the lock about 5–15 ms (docs/benchmarks.md, "Purge at 1 000 000 users");
// nextPurgeLimit makes the batches smaller when they hold it longer. A variable so tests
// can make it small.
var purgeBatch = 100

// purgeBatchDone, when set (tests, the measure in purge_measure_test.go), is called after
// each purge batch with its table, the rows it deleted and how long it held the write
// lock.
var purgeBatchDone func(table string, rows int, took time.Duration)

// purgeCheckpointDone, when set (the measure in purge_measure_test.go), is called after
// each of the purge's checkpoints with the WAL's frames, those copied, and its duration.
var purgeCheckpointDone func(logFrames, copied int, took time.Duration)

// PurgeExpired deletes the counters, link tokens, sessions, final mails, WebAuthn
// challenges and pending factors that can no longer matter at now, and returns how many
// rows it removed. Each statement finds its rows through an index (migrations 0006 and
// 0008) and deletes them purgeBatch at a time, each batch committed on its own; a failure
// or a canceled ctx stops it between batches, with the rows already deleted counted in
// the total returned alongside the error.
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
		{"webauthn_challenges", s.st.purgeChallenges, millis(now)},
		{"mfa_factors", s.st.purgePendingFactors, graceCutoff},
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
// Every batch is a transaction of its own (BEGIN IMMEDIATE, the statement, COMMIT) on a
// connection of the purge's, so it holds the write lock from BEGIN to COMMIT only; between
// two, the WAL is checkpointed and yieldLock lets the writers waiting for the lock have it.
// ctx is checked before each batch.
//
// The purge's connection does not checkpoint on its own: SQLite runs the automatic
// checkpoint inside the COMMIT of whichever connection pushes the WAL past
// wal_autocheckpoint pages, after the lock is released but before the statement returns,
// and during a purge that is nearly always the purge (checkpoints of 40 ms and more at a
// million accounts, up to 0.8 s, that made its batches look several times longer than
// they held the lock). Here the purge runs a PASSIVE checkpoint after each batch, as a
// step of its own, which never takes the write lock and never waits for readers or
// writers. (The log restarts from its beginning at a write that finds it all copied and no
// reader in it, as before; under steady writes it can still grow, see docs/benchmarks.md.)
func (s *Store) purgeInBatches(ctx context.Context, op, table string, st *sql.Stmt, arg int64) (int, error) {
	conn, err := s.purgeConn(ctx, op)
	if err != nil {
		return 0, err
	}
	defer conn.release()
	total, limit := 0, purgeBatch
	for {
		if err := ctx.Err(); err != nil {
			return total, mapErr(op, err)
		}
		n, held, err := conn.batch(ctx, op, st, arg, limit)
		total += n
		if err != nil {
			return total, err
		}
		if done := purgeBatchDone; done != nil {
			done(table, n, held)
		}
		if err := conn.checkpoint(ctx, op); err != nil {
			return total, err
		}
		if n < limit {
			return total, nil
		}
		limit = nextPurgeLimit(limit, held)
		if err := s.yieldLockKeeping(ctx, held, 1); err != nil {
			return total, mapErr(op, err)
		}
	}
}

// purgeHoldTarget is how long a purge batch should hold the write lock: a batch that held
// it longer halves the next one (down to purgeBatchMin rows), one that held it less than
// half as long doubles it (up to purgeBatch). Rows cost more on some tables (sessions, with
// four indexes over random pages) and at some moments (pages not in memory, a busy CPU);
// the size follows, so the lock holds stay near the target whatever the table.
const purgeHoldTarget = 20 * time.Millisecond

// purgeBatchMin is the smallest batch nextPurgeLimit goes down to.
const purgeBatchMin = 10

// nextPurgeLimit is the size of the batch after one of limit rows that held the lock for
// held.
func nextPurgeLimit(limit int, held time.Duration) int {
	switch {
	case held > purgeHoldTarget:
		return max(limit/2, min(purgeBatchMin, purgeBatch))
	case held < purgeHoldTarget/2:
		return min(limit*2, purgeBatch)
	}
	return limit
}

// purgeConn is the connection a purge runs its batches on, with automatic checkpoints
// off until release.
type purgeConn struct {
	c         *sql.Conn
	autoPages int // the connection's wal_autocheckpoint, restored by release
}

// purgeConn takes a connection from the pool and turns its automatic checkpoints off.
func (s *Store) purgeConn(ctx context.Context, op string) (*purgeConn, error) {
	c, err := s.db.Conn(ctx)
	if err != nil {
		return nil, mapErr(op, err)
	}
	p := &purgeConn{c: c}
	if err := c.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&p.autoPages); err == nil {
		_, err = c.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`)
	}
	if err != nil {
		_ = c.Close()
		return nil, mapErr(op, err)
	}
	return p, nil
}

// release restores the connection's automatic checkpoints and returns it to the pool; a
// connection whose setting could not be restored is closed instead of being returned.
func (p *purgeConn) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.c.ExecContext(ctx, fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, p.autoPages)); err != nil {
		_ = p.c.Raw(func(any) error { return driver.ErrBadConn }) // the pool drops it
	}
	_ = p.c.Close()
}

// batch runs st(arg, limit) in a transaction of its own and returns the rows it deleted
// and how long it held the write lock: from BEGIN IMMEDIATE's return (the wait for the
// lock excluded) to COMMIT's.
func (p *purgeConn) batch(ctx context.Context, op string, st *sql.Stmt, arg int64, limit int) (int, time.Duration, error) {
	tx, err := p.c.BeginTx(ctx, nil) // BEGIN IMMEDIATE (the DSN's _txlock)
	if err != nil {
		return 0, 0, mapErr(op, err)
	}
	start := time.Now()
	res, err := tx.StmtContext(ctx, st).ExecContext(ctx, arg, limit)
	n, err := rowCount(op, res, err)
	if err != nil {
		_ = tx.Rollback()
		return 0, time.Since(start), err
	}
	if err := tx.Commit(); err != nil {
		return 0, time.Since(start), mapErr(op, err)
	}
	return n, time.Since(start), nil
}

// checkpoint copies the WAL's frames into the database without taking the write lock or
// waiting for anyone (PASSIVE): frames a reader still needs stay for a later one.
func (p *purgeConn) checkpoint(ctx context.Context, op string) error {
	start := time.Now()
	var busy, logFrames, done int
	if err := p.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done); err != nil {
		return mapErr(op, err)
	}
	if f := purgeCheckpointDone; f != nil {
		f(logFrames, done, time.Since(start))
	}
	return nil
}
