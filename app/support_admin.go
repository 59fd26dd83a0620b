package app

import (
	"context"

	"github.com/toktok/toktok/store"
)

// Roles and the disabled flag as the end-to-end suite sets them past the API (no
// mutation changes them yet): the staff API's tests promote, demote and disable an
// account between two requests with one access token, to show each takes effect on the
// very next request.

// SetRole sets a user's role in the store at the app's now (store.Store.SetRole).
func (s Support) SetRole(ctx context.Context, userID string, role store.Role) error {
	return s.a.store.SetRole(ctx, userID, role, s.a.now().UTC())
}

// SetDisabled sets a user's disabled flag in the store at the app's now
// (store.Store.SetDisabled).
func (s Support) SetDisabled(ctx context.Context, userID string, disabled bool) error {
	return s.a.store.SetDisabled(ctx, userID, disabled, s.a.now().UTC())
}
