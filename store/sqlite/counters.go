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

// PurgeExpired deletes, in one transaction, the counters, link tokens, sessions and final
// mails that can no longer matter at now, and returns how many rows it removed.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	const op = "purge expired"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	graceCutoff := millis(now.Add(-purgeGrace))
	total := 0
	for _, p := range []struct {
		st  *sql.Stmt
		arg int64
	}{
		{s.st.purgeCounters, millis(now)},
		{s.st.purgeLinkTokens, graceCutoff},
		{s.st.purgeSessions, graceCutoff},
		{s.st.purgeFinishedMail, millis(now.Add(-mailsRetention))},
	} {
		res, err := tx.StmtContext(ctx, p.st).ExecContext(ctx, p.arg)
		n, err := rowCount(op, res, err)
		if err != nil {
			return 0, err
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, mapErr(op, err)
	}
	return total, nil
}
