package store

import (
	"context"
	"errors"
	"time"
)

// The admin operations on other users (updateUser, deleteUser) and the last-admin rule:
// the last active ADMIN, a user whose Role is ADMIN and who is not disabled (nor being
// deleted), is never demoted, disabled or deleted through them, whoever asks, even when
// two admins act at once. Each backend decides the rule atomically: SQLite in the one
// statement that writes (its WHERE requires another active ADMIN), MongoDB under a lease
// on a guard document that serialises the writes that remove an active ADMIN
// (mongodb/adminops.go). Writes that only add active ADMINs need no guard.

// ErrLastAdmin: the write would leave no active ADMIN, and was not made.
var ErrLastAdmin = errors.New("store: the last active ADMIN cannot be demoted, disabled or deleted")

// AccessUpdate says which of a user's role, disabled flag and email confirmation
// UpdateAccess changes: those that are not nil.
type AccessUpdate struct {
	Role           *Role
	Disabled       *bool
	EmailConfirmed *bool
}

// AdminOps are the store operations of the admin mutations; Store embeds them.
type AdminOps interface {
	// UpdateAccess, one atomic write under the last-admin rule, sets the fields a says
	// and UpdatedAt=now, and returns the updated user. ErrLastAdmin, writing nothing,
	// when the user is an active ADMIN, would not be one after, and no other active
	// ADMIN exists; ErrNotFound for an unknown user (or one whose deletion has begun).
	UpdateAccess(ctx context.Context, userID string, a AccessUpdate, now time.Time) (User, error)
	// BeginAdminDeletion is BeginUserDeletion under the last-admin rule: ErrLastAdmin,
	// deleting nothing, when the user is the last active ADMIN.
	BeginAdminDeletion(ctx context.Context, userID string, now time.Time) (Deletion, error)
}

// ActiveAdmin reports whether u counts for the last-admin rule.
func (u User) ActiveAdmin() bool { return u.Role == RoleAdmin && !u.Disabled }
