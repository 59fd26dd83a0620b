package account

import (
	"context"
	"errors"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// Enumeration protection (--enumeration-protection, Config.EnumerationProtection).
//
// Off, register answers EMAIL_TAKEN for an address that already has an account, which
// tells anyone whether an address is registered. On:
//
//   - register signs nobody in. A new address gets its account and its confirmation
//     mail; an address already used gets nothing created, and its owner a signup_attempt
//     notice (limited per account). Both answer the same AuthPayload: empty tokens,
//     expiresIn 0, both expiry instants now, and a USER account never signed in, which for
//     a used address is made up from the input with an id of its own that is never stored.
//     Both paths do the same work up to the insert (input checks, one argon2id hash) and
//     a few store writes after it.
//   - login answers INVALID_CREDENTIALS for an unconfirmed address even with the right
//     password, after the same hash work, counting as a wrong password for the limiter:
//     otherwise "register, then log in with the same password" would tell a new address
//     from a used one. Every INVALID_CREDENTIALS of login then carries one message,
//     errInvalidCredentialsProtected, which names the unconfirmed address among its
//     causes. A completed password reset still confirms the address.

// errInvalidCredentialsProtected is login's INVALID_CREDENTIALS under
// --enumeration-protection, whatever the cause.
var errInvalidCredentialsProtected = &Error{
	Code:    CodeInvalidCredentials,
	Message: "the email or password is wrong, or the address is not confirmed yet",
}

// loginError words login's INVALID_CREDENTIALS for the mode; other errors are unchanged.
func (s *Service) loginError(err error) error {
	if err == nil || !s.cfg.EnumerationProtection || !errors.Is(err, ErrInvalidCredentials) {
		return err
	}
	return errInvalidCredentialsProtected.with(err)
}

// notSignedIn is register's answer under --enumeration-protection, for a new address and
// a used one alike: u with no session.
func notSignedIn(u store.User, now time.Time) Tokens {
	u.PasswordHash = ""
	return Tokens{AccessExpiresAt: now, RefreshExpiresAt: now, User: u}
}

// noticeSignupAttempt mails the owner of email (canonical) that someone tried to register
// with it, in the owner's language, at most s.limits.ConfirmResends times per account and
// window (--limit-confirm-resends): past it, or on any failure, no mail, and register's
// answer is the same. The notice carries nothing the requester typed: the address and the
// app's name only, not even the owner's name, which whoever registered the address first
// may have typed before its owner confirmed it.
func (s *Service) noticeSignupAttempt(ctx context.Context, email string) {
	owner, err := s.store.UserByEmail(ctx, email)
	if err != nil {
		// Deleted meanwhile: nobody to tell.
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "signup-attempt notice: owner not read", "err", err)
		}
		return
	}
	if err := s.limit(ctx, "signupnotice:"+owner.ID, s.limits.ConfirmResends); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeRateLimited {
			s.log.InfoContext(ctx, "signup-attempt notice skipped: per-account limit", "user", owner.ID)
		} else {
			s.log.ErrorContext(ctx, "signup-attempt notice: limit not counted", "user", owner.ID, "err", err)
		}
		return
	}
	if _, err := s.mail.Send(ctx, mailer.Request{
		Kind: mailer.KindSignupAttempt, To: owner.Email, Lang: owner.Lang, UserID: owner.ID,
		Data: mailer.Data{AppName: s.links.AppName, Email: owner.Email},
	}); err != nil {
		s.log.ErrorContext(ctx, "signup-attempt notice not queued", "user", owner.ID, "err", err)
	}
}
