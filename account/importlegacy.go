package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// Importing the original Flask service's users (toktok import). Each document is checked
// by the rules a registration or an admin edit obeys, then stored as a TokTok account with
// its werkzeug hash wrapped (password.Wrapper), so that the user signs in with the password
// they had and a wrong password costs what it costs on any account.

// ImportOutcome is what ImportLegacy did with one document.
type ImportOutcome int

const (
	// Imported: the account was created.
	Imported ImportOutcome = iota
	// AlreadyPresent: an account has the address already (imported by an earlier run, or
	// registered); it was left as it is.
	AlreadyPresent
	// Skipped: the document is not a person's account (the Flask service's robot user).
	Skipped
	// Invalid: the document breaks a rule; ImportResult.Reason says which.
	Invalid
)

// ImportResult is ImportLegacy's answer for one document.
type ImportResult struct {
	Outcome ImportOutcome
	// Reason, for Skipped and Invalid: the field and the rule, never a value of auth.pwd.
	Reason string
	User   store.User // for Imported (the account created) and AlreadyPresent (the one there)
}

// LegacyRole maps the Flask service's roles: admin, staff, and registred or guest (a
// registered user; "registred" is the original's spelling). ok is false for anything else.
func LegacyRole(role string) (r store.Role, ok bool) {
	switch role {
	case "admin":
		return store.RoleAdmin, true
	case "staff":
		return store.RoleStaff, true
	case "registred", "registered", "guest":
		return store.RoleUser, true
	}
	return "", false
}

// legacySystemUser reports whether the document is the Flask service's robot user: role
// "system", or the pseudo "system" (what the service created at its first start).
func legacySystemUser(u store.LegacyUser) bool {
	return (u.Role != nil && *u.Role == "system") || (u.Pseudo != nil && strings.EqualFold(strings.TrimSpace(*u.Pseudo), "system"))
}

// badHashReason is the one reason given for any auth.pwd that cannot be wrapped: the value
// might be a password stored in clear, so nothing of it is repeated.
const badHashReason = "auth.pwd: not a werkzeug sha256 or pbkdf2:sha256 hash"

// ImportLegacy imports one document read from the Flask service's users collection. w
// wraps the hashes (one Wrapper for a whole import, so it calibrates once per method);
// dryRun checks everything but writes nothing (no hash is wrapped then). An address
// already present is left alone, so running an import again changes nothing. An error is
// the store's (unavailable, ...) and stops nothing by itself: the caller decides.
func (a *Admin) ImportLegacy(ctx context.Context, w *password.Wrapper, lu store.LegacyUser, dryRun bool) (ImportResult, error) {
	s := a.s
	if lu.Problem != "" {
		return ImportResult{Outcome: Invalid, Reason: lu.Problem}, nil
	}
	if legacySystemUser(lu) {
		return ImportResult{Outcome: Skipped, Reason: "the Flask service's system user"}, nil
	}
	u, reason := legacyAccount(lu, s.now())
	if reason != "" {
		return ImportResult{Outcome: Invalid, Reason: reason}, nil
	}
	// Cheap before costly: an address already present is not wrapped again, so a second
	// run over the same collection is fast and changes nothing.
	if cur, err := s.store.UserByEmail(ctx, u.Email); err == nil {
		return ImportResult{Outcome: AlreadyPresent, User: cur}, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return ImportResult{}, err
	}
	if dryRun {
		return ImportResult{Outcome: Imported, User: u}, nil
	}
	var err error
	if u.PasswordHash, err = w.Wrap(ctx, *lu.PasswordHash); err != nil {
		if errors.Is(err, password.ErrMalformedHash) {
			return ImportResult{Outcome: Invalid, Reason: badHashReason}, nil
		}
		return ImportResult{}, err
	}
	u.ID = newID()
	if err := s.store.CreateUser(ctx, u); err != nil {
		if !errors.Is(err, store.ErrConflict) {
			return ImportResult{}, err
		}
		cur, err := s.store.UserByEmail(ctx, u.Email)
		if err != nil {
			return ImportResult{}, err
		}
		return ImportResult{Outcome: AlreadyPresent, User: cur}, nil
	}
	s.appendAudit(ctx, ActorCLI, "user_imported", u.ID, map[string]any{
		"source": "flask", "legacy_id": lu.SourceID, "role": string(u.Role),
		"email_confirmed": u.EmailConfirmed, "disabled": u.Disabled,
	})
	return ImportResult{Outcome: Imported, User: u}, nil
}

// legacyAccount is the account a document becomes under TokTok's rules, without its ID
// and hash, or the reason it cannot be one ("FIELD: rule").
func legacyAccount(lu store.LegacyUser, now time.Time) (store.User, string) {
	u := store.User{Role: store.RoleUser, EmailConfirmed: lu.Confirmed, Disabled: lu.Blacklisted, LoginCount: lu.LoginCount}
	var err error
	if lu.Email == nil {
		return u, "infos.email: missing"
	}
	if u.Email, err = CanonicalEmail("infos.email", *lu.Email); err != nil {
		return u, ruleReason("infos.email", err)
	}
	if lu.Role != nil {
		var ok bool
		if u.Role, ok = LegacyRole(*lu.Role); !ok {
			return u, "auth.role: not admin, staff, registred or guest"
		}
	}
	for _, f := range []struct {
		name string
		src  *string
		dst  **string
	}{{"infos.name", lu.Name, &u.Name}, {"infos.surname", lu.Surname, &u.Surname}, {"infos.pseudo", lu.Pseudo, &u.Pseudo}} {
		if *f.dst, err = cleanName(f.name, f.src); err != nil {
			return u, ruleReason(f.name, err)
		}
	}
	if u.Lang, err = cleanLang(lu.Lang); err != nil {
		return u, ruleReason("profile.lang", err)
	}
	if u.Data, err = cleanData("u_data", lu.Data); err != nil {
		return u, ruleReason("u_data", err)
	}
	if lu.PasswordHash == nil || *lu.PasswordHash == "" {
		return u, "auth.pwd: missing"
	}
	if !password.Werkzeug(*lu.PasswordHash) {
		return u, badHashReason
	}
	u.CreatedAt, u.UpdatedAt = now, now
	if lu.CreatedAt != nil && !lu.CreatedAt.After(now) {
		u.CreatedAt = *lu.CreatedAt
	}
	return u, ""
}

// ruleReason is a rule's message for a report line: "FIELD: message".
func ruleReason(field string, err error) string {
	var e *Error
	if errors.As(err, &e) && e.Message != "" {
		return field + ": " + e.Message
	}
	return fmt.Sprintf("%s: %v", field, err)
}

// Wrapper returns a password.Wrapper on the Admin's hashing parameters, for one import.
func (a *Admin) Wrapper() *password.Wrapper { return a.h.NewWrapper() }
