package account

import (
	"context"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// The admin mutations on any user (updateUser, deleteUser, revokeUserSessions,
// sendPasswordReset). ADMIN only: each method checks the Principal's role again, so a
// resolver wired without @hasRole still refuses. An unknown id is BAD_USER_INPUT on field
// "id" (their results are not nullable). Each records an audit event about the target
// (userId) whose actor is the admin (actorId), with no secret in its detail.
//
// The last-admin rule: the last active ADMIN (role ADMIN, not disabled) cannot be demoted,
// disabled or deleted, by itself or by another admin. The store decides it atomically
// (store.AdminOps), so two admins demoting each other at once leave one ADMIN.

// LastAdminMessage is the message of the last-admin refusal.
const LastAdminMessage = "the last active ADMIN cannot be demoted, disabled or deleted"

// AdminUserInput is updateUser's input: the access fields (nil keeps the value) and the
// profile fields, as updateProfile reads them (Present says which the request holds).
type AdminUserInput struct {
	Role           *store.Role
	EmailConfirmed *bool
	Disabled       *bool
	Profile        ProfileInput
}

// adminTarget checks the caller is an ADMIN and returns the user id names, or
// BAD_USER_INPUT on field "id" when there is none.
func (s *Service) adminTarget(ctx context.Context, p Principal, id string) (store.User, error) {
	if !RoleAtLeast(p.User.Role, store.RoleAdmin) {
		return store.User{}, ErrForbidden
	}
	if id == "" || len(id) > maxIDLen || !utf8.ValidString(id) {
		return store.User{}, errNoSuchUser
	}
	u, err := s.store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, errNoSuchUser.with(err)
	}
	return u, err
}

var errNoSuchUser = badInput("id", "no user has this id")

// AdminUpdateUser changes a user's role, email confirmation, disabled flag and profile
// fields (under updateProfile's rules: every field is checked before anything is
// written). Disabling ends every session of the user at once. A role change counts from
// the user's next request (Authorize reads the store). The last-admin rule refuses a
// demotion or a disabling of the last active ADMIN with BAD_USER_INPUT on "role" or
// "disabled". The changed fields are recorded by name in an "admin_update_user" event; a
// request that changes nothing writes nothing (and records nothing).
func (s *Service) AdminUpdateUser(ctx context.Context, p Principal, id string, in AdminUserInput) (store.User, error) {
	u, err := s.adminTarget(ctx, p, id)
	if err != nil {
		return store.User{}, err
	}
	if in.Role != nil && roleRank(*in.Role) == 0 {
		return store.User{}, badInput("role", "unknown role")
	}
	up, changed, err := profileChanges(u, in.Profile)
	if err != nil {
		return store.User{}, err
	}
	var (
		access       store.AccessUpdate
		accessFields []string
	)
	if in.Role != nil && *in.Role != u.Role {
		access.Role = in.Role
		accessFields = append(accessFields, "role")
	}
	if in.EmailConfirmed != nil && *in.EmailConfirmed != u.EmailConfirmed {
		access.EmailConfirmed = in.EmailConfirmed
		accessFields = append(accessFields, "emailConfirmed")
	}
	if in.Disabled != nil && *in.Disabled != u.Disabled {
		access.Disabled = in.Disabled
		accessFields = append(accessFields, "disabled")
	}
	if len(accessFields) == 0 && len(changed) == 0 {
		return u, nil
	}
	now := s.now()
	if len(accessFields) > 0 {
		u, err = s.store.UpdateAccess(ctx, id, access, now)
		if err != nil {
			return store.User{}, s.adminStoreErr(ctx, id, err, lastAdminField(access))
		}
		if access.Disabled != nil && *access.Disabled {
			n, err := s.store.RevokeUserSessions(ctx, id, "", now, "admin_disabled")
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				// The account is disabled already, which refuses its sessions
				// (Authenticate); revoking them is the belt to those braces.
				s.log.ErrorContext(ctx, "sessions of a disabled user not revoked", "user", id, "err", err)
			} else {
				s.log.InfoContext(ctx, "user disabled", "user", id, "sessions", n)
			}
		}
	}
	if len(changed) > 0 {
		u, err = s.store.UpdateProfile(ctx, id, up, now)
		if err != nil {
			return store.User{}, s.adminStoreErr(ctx, id, err, "")
		}
	}
	s.audit(ctx, "admin_update_user", "success", id, map[string]any{"fields": append(accessFields, changed...)})
	return u, nil
}

// lastAdminField is the field a last-admin refusal of a names: the role when it demotes,
// the flag otherwise.
func lastAdminField(a store.AccessUpdate) string {
	if a.Role != nil && *a.Role != store.RoleAdmin {
		return "role"
	}
	return "disabled"
}

// adminStoreErr maps a store error of an admin write: the last-admin refusal (recorded as
// a failed "admin_last_admin" event) and a user gone meanwhile to BAD_USER_INPUT.
func (s *Service) adminStoreErr(ctx context.Context, id string, err error, field string) error {
	switch {
	case errors.Is(err, store.ErrLastAdmin):
		s.audit(ctx, "admin_last_admin", "failure", id, map[string]any{"field": field})
		return badInput(field, LastAdminMessage).with(err)
	case errors.Is(err, store.ErrNotFound):
		return errNoSuchUser.with(err)
	}
	return err
}

// AdminDeleteUser deletes a user's account as DeleteAccount does, without a password, and
// the caller's own as well: the same two steps (store.BeginAdminDeletion, which adds the
// last-admin rule, BAD_USER_INPUT on "id"; then store.FinishUserDeletion, which the purge
// completes if it fails), the "account deleted" notice to the address, and an
// "admin_delete_user" event.
func (s *Service) AdminDeleteUser(ctx context.Context, p Principal, id string) error {
	u, err := s.adminTarget(ctx, p, id)
	if err != nil {
		return err
	}
	d, err := s.store.BeginAdminDeletion(ctx, id, s.now())
	if err != nil {
		return s.adminStoreErr(ctx, id, err, "id")
	}
	s.audit(ctx, "admin_delete_user", "success", id, nil)
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if n, err := s.store.FinishUserDeletion(bg, d.UserID, s.now()); err != nil {
		s.log.WarnContext(ctx, "account deletion not finished: the purge will finish it", "user", d.UserID, "err", err)
	} else {
		s.log.InfoContext(ctx, "account deleted by an admin", "user", d.UserID, "records", n)
	}
	if err := s.queueMail(bg, mailer.KindAccountDeleted, d.Email, u, mailer.Data{Email: d.Email}); err != nil {
		s.log.ErrorContext(ctx, "account-deleted notice not queued", "user", d.UserID, "err", err)
	}
	return nil
}

// AdminRevokeSessions ends every session of the user (the caller's own too, when it is
// the user) and records an "admin_revoke_sessions" event with how many it ended.
func (s *Service) AdminRevokeSessions(ctx context.Context, p Principal, id string) error {
	if _, err := s.adminTarget(ctx, p, id); err != nil {
		return err
	}
	n, err := s.store.RevokeUserSessions(ctx, id, "", s.now(), "admin_revoke")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(ctx, "admin_revoke_sessions", "success", id, map[string]any{"sessions": n})
	return nil
}

// AdminSendPasswordReset mails a reset link to the user's address through forgotPassword's
// code path and under its per-account limit: RATE_LIMITED (with retryAfter) past it. It
// records an "admin_send_password_reset" event, a failed one when refused.
func (s *Service) AdminSendPasswordReset(ctx context.Context, p Principal, id string) error {
	u, err := s.adminTarget(ctx, p, id)
	if err != nil {
		return err
	}
	if err := s.mailReset(ctx, u); err != nil {
		if errors.Is(err, errResetMailLimit) {
			s.audit(ctx, "admin_send_password_reset", "failure", id, map[string]any{"reason": "mail_limit"})
		}
		return err
	}
	s.audit(ctx, "admin_send_password_reset", "success", id, nil)
	return nil
}
