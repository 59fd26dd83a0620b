package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/toktok/toktok/store"
)

// The first-admin rule (store.Store.PromoteFirstAdmin) is one UPDATE: its NOT EXISTS reads
// the users under the same write lock as the update writes, so of concurrent promotions
// exactly one finds no ADMIN, and nothing can make one in between. The role the user had is
// read first only to report it: the update is conditional on it, so the report is exact.
// The partial index users_admin (migration 0004) answers the NOT EXISTS without a scan.
const (
	promoteFirstAdminSQL = `UPDATE users SET role = 'ADMIN', updated_at = ?3
		WHERE id = ?1 AND role = ?2
			AND NOT EXISTS (SELECT 1 FROM users WHERE role = 'ADMIN')`
	adminExistsSQL = `SELECT EXISTS (SELECT 1 FROM users WHERE role = 'ADMIN')`
)

// promoteRounds bounds PromoteFirstAdmin's read-then-update: a round is lost only to a
// change of the user's role between the two.
const promoteRounds = 3

// PromoteFirstAdmin makes the user an ADMIN when no user is one, in one conditional
// UPDATE. The zero RoleChange when an ADMIN exists (the user included); store.ErrNotFound
// for an unknown user.
func (s *Store) PromoteFirstAdmin(ctx context.Context, userID string, now time.Time) (store.RoleChange, error) {
	const op = "promote first admin"
	if err := s.checkOpen(op); err != nil {
		return store.RoleChange{}, err
	}
	for range promoteRounds {
		u, err := s.UserByID(ctx, userID)
		if err != nil {
			return store.RoleChange{}, err
		}
		if u.Role == store.RoleAdmin {
			return store.RoleChange{}, nil
		}
		res, err := s.db.ExecContext(ctx, promoteFirstAdminSQL, userID, string(u.Role), millis(now))
		n, err := rowCount(op, res, err)
		if err != nil {
			return store.RoleChange{}, err
		}
		if n == 1 {
			return store.RoleChange{UserID: userID, From: u.Role, To: store.RoleAdmin}, nil
		}
		// Refused: an ADMIN exists, or the user's role changed since it was read (the
		// next round reads it again).
		var exists bool
		if err := s.db.QueryRowContext(ctx, adminExistsSQL).Scan(&exists); err != nil {
			return store.RoleChange{}, mapErr(op, err)
		}
		if exists {
			return store.RoleChange{}, nil
		}
	}
	return store.RoleChange{}, fmt.Errorf("sqlite: %s: the user's role kept changing: %w", op, store.ErrConflict)
}
