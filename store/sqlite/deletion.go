package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/toktok/toktok/store"
)

// Account deletion (migration 0005): the users row goes at once, with a record of the
// deletion in user_deletions, in one transaction; the account's other rows go in a second
// one, which removes the record last. SQLite makes each step atomic, so a crash leaves
// either the whole account, or no user and a record that FinishDeletions completes.

// BeginUserDeletion deletes the user's row and records the deletion, in one transaction.
// The unique email index then no longer holds the address. store.ErrNotFound for an
// unknown user (a deleted one has no row).
func (s *Store) BeginUserDeletion(ctx context.Context, userID string, now time.Time) (store.Deletion, error) {
	return s.beginDeletion(ctx, "begin user deletion", `DELETE FROM users WHERE id = ? RETURNING email, pending_email`, userID, now, nil)
}

// beginDeletion runs deleteSQL (a DELETE of the user ?1 RETURNING email, pending_email)
// and records the deletion, in one transaction. When deleteSQL matches no row, refused
// (nil: store.ErrNotFound) says why.
func (s *Store) beginDeletion(ctx context.Context, op, deleteSQL, userID string, now time.Time,
	refused func(ctx context.Context, op, userID string) error) (store.Deletion, error) {
	if err := s.checkOpen(op); err != nil {
		return store.Deletion{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Deletion{}, mapErr(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	d := store.Deletion{UserID: userID, At: fromMillis(millis(now))}
	var pending sql.NullString
	err = tx.QueryRowContext(ctx, deleteSQL, userID).Scan(&d.Email, &pending)
	if errors.Is(err, sql.ErrNoRows) && refused != nil {
		_ = tx.Rollback()
		return store.Deletion{}, refused(ctx, op, userID)
	}
	if err != nil {
		return store.Deletion{}, mapErr(op, err)
	}
	d.PendingEmail = stringPtr(pending)
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_deletions (user_id, email, pending_email, deleted_at)
		VALUES (?, ?, ?, ?)`, d.UserID, d.Email, nullString(d.PendingEmail), millis(d.At)); err != nil {
		return store.Deletion{}, mapErr(op, err)
	}
	if err := tx.Commit(); err != nil {
		return store.Deletion{}, mapErr(op, err)
	}
	return d, nil
}

// finishSQL are FinishUserDeletion's deletions, in order, each served by an index
// (TestPurgeQueriesUseIndexes): one account's rows only, so the transaction is short.
var finishSQL = [...]string{
	`DELETE FROM sessions WHERE user_id = ?`,    // sessions_user
	`DELETE FROM link_tokens WHERE user_id = ?`, // link_tokens_user
	// Pending mails to either address queued before the deletion began, and held by no
	// worker now (one that is being sent goes out anyway). The mails_rcpt index serves
	// the address and the date; a NULL pending address matches nothing.
	`DELETE FROM mails WHERE rcpt IN (?1, ?2) AND created_at < ?3 AND state = 'pending'
		AND (lease_until IS NULL OR lease_until <= ?4)`,
	`DELETE FROM mfa_factors WHERE user_id = ?`,         // mfa_factors_user
	`DELETE FROM mfa_recovery_codes WHERE user_id = ?`,  // its primary key
	`DELETE FROM webauthn_challenges WHERE user_id = ?`, // webauthn_challenges_user
	`DELETE FROM user_deletions WHERE user_id = ?`,
}

// FinishUserDeletion removes the sessions, link tokens, queued mails, factors, recovery
// codes and WebAuthn challenges of a begun deletion, then its record, in one
// transaction. Nothing, and no error, when userID has no deletion record: the user's rows
// are never touched unless its row is gone.
func (s *Store) FinishUserDeletion(ctx context.Context, userID string, now time.Time) (int, error) {
	const op = "finish user deletion"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapErr(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var (
		email     string
		pending   sql.NullString
		deletedAt int64
	)
	err = tx.QueryRowContext(ctx, `SELECT email, pending_email, deleted_at FROM user_deletions WHERE user_id = ?`, userID).
		Scan(&email, &pending, &deletedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, mapErr(op, err)
	}
	total := 0
	for _, del := range []struct {
		query string
		args  []any
	}{
		{finishSQL[0], []any{userID}},
		{finishSQL[1], []any{userID}},
		{finishSQL[2], []any{email, pending, deletedAt, millis(now)}},
		{finishSQL[3], []any{userID}},
		{finishSQL[4], []any{userID}},
		{finishSQL[5], []any{userID}},
		{finishSQL[6], []any{userID}},
	} {
		res, err := tx.ExecContext(ctx, del.query, del.args...)
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

// FinishDeletions finishes every deletion begun at or before now, oldest first, each in
// its own transaction; it stops at the first failure, leaving the rest to the next run.
func (s *Store) FinishDeletions(ctx context.Context, now time.Time) (int, error) {
	const op = "finish deletions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	ids, err := s.deletionsBefore(ctx, op, now)
	if err != nil {
		return 0, err
	}
	total := 0
	for i, id := range ids {
		start := time.Now()
		n, err := s.FinishUserDeletion(ctx, id, now)
		if err != nil {
			return total, err
		}
		total += n
		// Between two accounts, the writers waiting for the lock have it (yield.go).
		if i < len(ids)-1 {
			if err := s.yieldLock(ctx, time.Since(start)); err != nil {
				return total, mapErr(op, err)
			}
		}
	}
	return total, nil
}

// deletionsBeforeSQL reads user_deletions_at, in order.
const deletionsBeforeSQL = `SELECT user_id FROM user_deletions WHERE deleted_at <= ?
	ORDER BY deleted_at, user_id`

// deletionsBefore lists the users whose deletion began at or before now, oldest first.
func (s *Store) deletionsBefore(ctx context.Context, op string, now time.Time) ([]string, error) {
	return s.queryIDs(ctx, op, deletionsBeforeSQL, millis(now))
}

// queryIDs runs q, which selects one text column, and returns its values in order.
func (s *Store) queryIDs(ctx context.Context, op, q string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, mapErr(op, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return ids, nil
}

// unconfirmedChunk is how many accounts BeginUnconfirmedDeletions deletes in one
// transaction: each account is a users row and up to eleven index entries, so a chunk
// holds the write lock about 15 ms at a million users (docs/benchmarks.md), whatever
// the limit.
var unconfirmedChunk = 20

const (
	// unconfirmedSQL lists the candidates through the partial index users_unconfirmed.
	unconfirmedSQL = `SELECT id FROM users WHERE email_confirmed = 0 AND created_at < ?
		ORDER BY created_at, id LIMIT ?`
	// deleteUnconfirmedSQL deletes one of them with the conditions repeated, by key.
	deleteUnconfirmedSQL = `DELETE FROM users WHERE id = ? AND email_confirmed = 0 AND created_at < ?
		RETURNING email, pending_email`
	insertDeletionSQL = `INSERT INTO user_deletions (user_id, email, pending_email, deleted_at)
		VALUES (?, ?, ?, ?)`
)

// BeginUnconfirmedDeletions selects up to limit unconfirmed accounts created before
// createdBefore, oldest first, and deletes each with the conditions repeated, recording
// the deletions, unconfirmedChunk accounts a transaction (DELETE … LIMIT is not compiled
// into every SQLite). A concurrent confirmation or deletion makes the DELETE match
// nothing: the account is skipped. On a failure it returns the deletions of the chunks
// already committed with the error.
func (s *Store) BeginUnconfirmedDeletions(ctx context.Context, createdBefore, now time.Time, limit int) ([]store.Deletion, error) {
	const op = "begin unconfirmed deletions"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	cutoff := millis(createdBefore)
	ids, err := s.unconfirmedBefore(ctx, op, cutoff, limit)
	if err != nil {
		return nil, err
	}
	at := fromMillis(millis(now))
	var out []store.Deletion
	done := 0
	for chunk := range slices.Chunk(ids, max(unconfirmedChunk, 1)) {
		start := time.Now()
		ds, err := s.deleteUnconfirmed(ctx, op, chunk, cutoff, at)
		if err != nil {
			return out, err
		}
		out = append(out, ds...)
		// Between two chunks, the writers waiting for the lock have it (yield.go).
		if done += len(chunk); done < len(ids) {
			if err := s.yieldLock(ctx, time.Since(start)); err != nil {
				return out, mapErr(op, err)
			}
		}
	}
	return out, nil
}

// unconfirmedBefore lists up to limit unconfirmed accounts created before cutoff, oldest
// first.
func (s *Store) unconfirmedBefore(ctx context.Context, op string, cutoff int64, limit int) ([]string, error) {
	return s.queryIDs(ctx, op, unconfirmedSQL, cutoff, limit)
}

// deleteUnconfirmed deletes the accounts ids that are still unconfirmed and created
// before cutoff, and records their deletions at at, in one transaction.
func (s *Store) deleteUnconfirmed(ctx context.Context, op string, ids []string, cutoff int64, at time.Time) ([]store.Deletion, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit

	var out []store.Deletion
	for _, id := range ids {
		d := store.Deletion{UserID: id, At: at}
		var pending sql.NullString
		err := tx.QueryRowContext(ctx, deleteUnconfirmedSQL, id, cutoff).Scan(&d.Email, &pending)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, mapErr(op, err)
		}
		d.PendingEmail = stringPtr(pending)
		if _, err := tx.ExecContext(ctx, insertDeletionSQL,
			d.UserID, d.Email, nullString(d.PendingEmail), millis(d.At)); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, d)
	}
	if err := tx.Commit(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}
