package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/toktok/toktok/store"
)

// The last-admin rule (store.AdminOps). SQLite runs one writer at a time, and a statement's
// subqueries read under the same write lock as its write, so a WHERE that requires another
// active ADMIN decides the rule atomically: of two admins demoting each other at once, the
// second statement finds no other active ADMIN and changes nothing.
const (
	// ?1 id, ?2 role or NULL, ?3 disabled or NULL, ?4 email_confirmed or NULL, ?5 now.
	// The WHERE reads the row as it was: the write is allowed when the user is not an
	// active ADMIN, stays one, or another active ADMIN exists.
	updateAccessSQL = `UPDATE users SET
			role = COALESCE(?2, role),
			disabled = COALESCE(?3, disabled),
			email_confirmed = COALESCE(?4, email_confirmed),
			updated_at = ?5
		WHERE id = ?1 AND (
			NOT (role = 'ADMIN' AND disabled = 0)
			OR (COALESCE(?2, role) = 'ADMIN' AND COALESCE(?3, disabled) = 0)
			OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'ADMIN' AND o.disabled = 0 AND o.id <> ?1))
		RETURNING ` + userCols
	// deleteGuardedSQL is BeginUserDeletion's DELETE with the rule.
	deleteGuardedSQL = `DELETE FROM users
		WHERE id = ?1 AND (
			NOT (role = 'ADMIN' AND disabled = 0)
			OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'ADMIN' AND o.disabled = 0 AND o.id <> ?1))
		RETURNING email, pending_email`
)

// UpdateAccess sets the user's role, disabled flag and confirmation in one conditional
// UPDATE under the last-admin rule. When it matches no row, a read tells an unknown user
// (store.ErrNotFound) from a refusal (store.ErrLastAdmin).
func (s *Store) UpdateAccess(ctx context.Context, userID string, a store.AccessUpdate, now time.Time) (store.User, error) {
	const op = "update access"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	var role, disabled, confirmed any
	if a.Role != nil {
		role = string(*a.Role)
	}
	if a.Disabled != nil {
		disabled = *a.Disabled
	}
	if a.EmailConfirmed != nil {
		confirmed = *a.EmailConfirmed
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, updateAccessSQL, userID, role, disabled, confirmed, millis(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, s.refusal(ctx, op, userID)
	}
	if err != nil {
		return store.User{}, mapErr(op, err)
	}
	return u, nil
}

// BeginAdminDeletion is BeginUserDeletion with the rule in its DELETE, in one transaction
// with the deletion record.
func (s *Store) BeginAdminDeletion(ctx context.Context, userID string, now time.Time) (store.Deletion, error) {
	return s.beginDeletion(ctx, "begin admin deletion", deleteGuardedSQL, userID, now, s.refusal)
}

// refusal says why a guarded write matched no row: the user is unknown, or the rule
// refused it (the user exists).
func (s *Store) refusal(ctx context.Context, op, userID string) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	case err != nil:
		return mapErr(op, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, store.ErrLastAdmin)
}
