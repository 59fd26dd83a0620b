package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// The admin rules: how a deployment gets its ADMINs without anyone touching its database.
//
//   - The first-admin rule (Config.FirstAdmin, --first-admin): the first account to
//     confirm its address while no ADMIN exists becomes one. "First confirm" is a signup
//     link, or a password reset, which proves the address as well, of an account whose
//     address was not confirmed yet. The store decides it atomically
//     (store.Store.PromoteFirstAdmin): two first confirmations at one instant make one
//     ADMIN.
//   - The admin addresses (Config.AdminEmails, --admin-emails): an account whose listed
//     address is confirmed (a signup link, a reset that confirms it, or an email change to
//     it) becomes an ADMIN, whether or not an ADMIN exists.
//   - The command line (`toktok admin promote|create`, Admin below): an operator makes an
//     existing account an ADMIN, or creates a confirmed ADMIN account.
//
// A promotion takes effect at once: the account's role is read from the store at every
// authenticated request and every refresh, so the next refresh issues access tokens whose
// role claim is ADMIN. Each promotion is recorded in the audit log (role_change, with from,
// to and the reason: first_admin, admin_emails or cli) and logged.
//
// A promotion follows a confirmation that has happened: if it fails (the store is down),
// the confirmation stands, the failure is logged, and the account stays as it was; the
// command line promotes it.

// The reasons of a role_change audit event, and the actor of the command line's events.
const (
	ReasonFirstAdmin  = "first_admin"
	ReasonAdminEmails = "admin_emails"
	ReasonCLI         = "cli"
	ActorCLI          = "cli"
)

// afterConfirm applies the admin rules to u, whose address a link has just confirmed
// (first: it was the account's first confirmation), and returns u as it is then. The
// promotion is not cut short by the request's end: the confirmation it follows is done.
func (s *Service) afterConfirm(ctx context.Context, u store.User, first bool) store.User {
	if u.Role == store.RoleAdmin {
		return u
	}
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	if s.isAdminEmail(u.Email) {
		if err := s.store.SetRole(ctx, u.ID, store.RoleAdmin, now); err != nil {
			s.log.ErrorContext(ctx, "admin address not promoted", "user", u.ID, "err", err)
			return u
		}
		s.roleChanged(ctx, "", store.RoleChange{UserID: u.ID, From: u.Role, To: store.RoleAdmin}, ReasonAdminEmails)
		u.Role, u.UpdatedAt = store.RoleAdmin, now
		return u
	}
	if !first || !s.cfg.FirstAdmin {
		return u
	}
	c, err := s.store.PromoteFirstAdmin(ctx, u.ID, now)
	if err != nil {
		s.log.ErrorContext(ctx, "first-admin rule not applied", "user", u.ID, "err", err)
		return u
	}
	if c.Changed() {
		// The change may be another account's: one whose promotion was in progress or
		// interrupted by a crash, completed by this call (store/roles.go).
		s.roleChanged(ctx, "", c, ReasonFirstAdmin)
	}
	if c.UserID == u.ID {
		u.Role, u.UpdatedAt = store.RoleAdmin, now
		return u
	}
	// Another call may have completed this account's own promotion: answer as stored.
	if cur, err := s.store.UserByID(ctx, u.ID); err == nil {
		return cur
	}
	return u
}

// isAdminEmail reports whether the canonical address email is one of --admin-emails.
func (s *Service) isAdminEmail(email string) bool {
	for _, a := range s.cfg.AdminEmails {
		if c, err := CanonicalEmail("admin-emails", a); err == nil && c == email {
			return true
		}
	}
	return false
}

// roleChanged logs a role change and records it in the audit log, by actor ("" for the
// rules themselves).
func (s *Service) roleChanged(ctx context.Context, actor string, c store.RoleChange, reason string) {
	s.log.InfoContext(ctx, "role changed", "user", c.UserID, "from", string(c.From), "to", string(c.To),
		"reason", reason, "actor", actor)
	s.appendAudit(ctx, actor, "role_change", c.UserID,
		map[string]any{"from": string(c.From), "to": string(c.To), "reason": reason})
}

// appendAudit records a successful event by actor without the log line of audit (its
// caller logs its own).
func (s *Service) appendAudit(ctx context.Context, actor, typ, userID string, detail map[string]any) {
	d, _ := json.Marshal(detail)
	ev := store.AuditEvent{
		ID: newID(), At: s.now(), Type: typ, Outcome: "success", UserID: userID, ActorID: actor,
		IP: ClientFrom(ctx).IP, Detail: d,
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not recorded", "type", typ, "err", err)
	}
}

// ErrNoAccount is the command line's answer for an address no account has.
var ErrNoAccount = errors.New("no account has this address")

// Admin is the account operations of the command line (`toktok admin`). It has the store
// and the password hasher, and no keys, tokens or mail: it signs nobody in and sends
// nothing. Its audit events name the actor "cli".
type Admin struct {
	s *Service
	h *password.Hasher // for ImportLegacy's wrapper
}

// AdminDeps are the parts Admin uses.
type AdminDeps struct {
	Store  store.Store
	Hasher *password.Hasher
	Now    func() time.Time // default time.Now
	Log    *slog.Logger     // default: discard
}

// NewAdmin builds the command line's operations on cfg's rules (the password policy).
func NewAdmin(cfg Config, d AdminDeps) *Admin {
	return &Admin{s: New(cfg, Deps{Store: d.Store, Hasher: d.Hasher, Now: d.Now, Log: d.Log}), h: d.Hasher}
}

// Promotion is what Promote did: the account as it is now, and the role it had.
type Promotion struct {
	User store.User
	From store.Role
}

// Changed reports whether the account was not an ADMIN already.
func (p Promotion) Changed() bool { return p.From != store.RoleAdmin }

// Promote makes the account of email an ADMIN. An account that is one already is left as
// it is. ErrNoAccount (wrapped, with the address) when no account has the address.
func (a *Admin) Promote(ctx context.Context, email string) (Promotion, error) {
	s := a.s
	canonical, err := CanonicalEmail("email", email)
	if err != nil {
		return Promotion{}, err
	}
	u, err := s.store.UserByEmail(ctx, canonical)
	if errors.Is(err, store.ErrNotFound) {
		return Promotion{}, fmt.Errorf("%w: %s", ErrNoAccount, canonical)
	}
	if err != nil {
		return Promotion{}, err
	}
	p := Promotion{User: u, From: u.Role}
	if !p.Changed() {
		return p, nil
	}
	now := s.now()
	if err := s.store.SetRole(ctx, u.ID, store.RoleAdmin, now); err != nil {
		if errors.Is(err, store.ErrNotFound) { // deleted meanwhile
			return Promotion{}, fmt.Errorf("%w: %s", ErrNoAccount, canonical)
		}
		return Promotion{}, err
	}
	s.roleChanged(ctx, ActorCLI, store.RoleChange{UserID: u.ID, From: u.Role, To: store.RoleAdmin}, ReasonCLI)
	p.User.Role, p.User.UpdatedAt = store.RoleAdmin, now
	return p, nil
}

// Create creates an ADMIN account with email and password pw, its address confirmed. The
// password policy is register's: a weak password is BAD_USER_INPUT with its reasons; a
// registered address is EMAIL_TAKEN.
func (a *Admin) Create(ctx context.Context, email, pw string) (store.User, error) {
	s := a.s
	canonical, err := CanonicalEmail("email", email)
	if err != nil {
		return store.User{}, err
	}
	pw = norm.NFC.String(pw)
	if err := s.checkPassword("password", pw, canonical); err != nil {
		return store.User{}, err
	}
	h, err := s.hash.Hash(ctx, pw)
	if err != nil {
		return store.User{}, err
	}
	now := s.now()
	u := store.User{
		ID: newID(), Email: canonical, EmailConfirmed: true, PasswordHash: h, Role: store.RoleAdmin,
		Lang: defaultLang, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.User{}, ErrEmailTaken
		}
		return store.User{}, err
	}
	s.log.InfoContext(ctx, "account created", "user", u.ID, "role", string(u.Role), "actor", ActorCLI)
	s.appendAudit(ctx, ActorCLI, "register", u.ID,
		map[string]any{"role": string(u.Role), "email_confirmed": true, "reason": ReasonCLI})
	return u, nil
}

// MFAReset is what ResetMFA did: the account, and how many factors and sessions it ended.
type MFAReset struct {
	User     store.User
	Factors  int
	Sessions int
}

// ResetMFA removes every second factor and recovery code of the account of email and ends
// its sessions, as an ADMIN's resetUserMfa does: the way back in for an ADMIN who lost
// every factor when no other ADMIN can help. No notice is mailed (the command line sends
// nothing); the audit event names the actor "cli". ErrNoAccount (wrapped) when no account
// has the address.
func (a *Admin) ResetMFA(ctx context.Context, email string) (MFAReset, error) {
	s := a.s
	canonical, err := CanonicalEmail("email", email)
	if err != nil {
		return MFAReset{}, err
	}
	u, err := s.store.UserByEmail(ctx, canonical)
	if errors.Is(err, store.ErrNotFound) {
		return MFAReset{}, fmt.Errorf("%w: %s", ErrNoAccount, canonical)
	}
	if err != nil {
		return MFAReset{}, err
	}
	r := MFAReset{User: u}
	if r.Factors, err = s.store.DeleteUserFactors(ctx, u.ID); err != nil {
		return MFAReset{}, err
	}
	r.Sessions, err = s.store.RevokeUserSessions(ctx, u.ID, "", s.now(), "mfa_reset")
	detail := map[string]any{"factors": r.Factors, "sessions": r.Sessions, "reason": ReasonCLI}
	if err != nil {
		detail["sessions_error"] = true
	}
	s.appendAudit(ctx, ActorCLI, "mfa_reset", u.ID, detail)
	if err != nil {
		return MFAReset{}, err
	}
	r.User.MFAEnabled = false
	return r, nil
}
