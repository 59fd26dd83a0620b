package account

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// Mail-driven flows: confirmation, forgotten password, reset, password and email change.
// Every mail is queued by the operation that needs it, through mailer.Queue (rendered,
// sealed and written to the store's outbox in one call); the outbox worker sends it, so an
// SMTP outage never fails a request.

// LinksConfig says where email links point and how long their tokens live.
type LinksConfig struct {
	AppName        string
	ConfirmURL     string // absolute; the token is appended
	ResetURL       string
	TokenInQuery   bool // ?token= instead of #token=
	ConfirmTTL     time.Duration
	ResetTTL       time.Duration
	EmailChangeTTL time.Duration
	// UnconfirmedTTL is how long an unconfirmed account is kept (--unconfirmed-ttl),
	// which the confirmation mail says; 0: forever, and the mail says nothing.
	UnconfirmedTTL time.Duration
}

// ErrInvalidToken is the one answer for an email-link token that is unknown, expired,
// used, or of another purpose.
var ErrInvalidToken = &Error{Code: CodeInvalidToken, Message: "this link is invalid or has expired"}

// newLinkToken returns a token of 256 random bits and the hash under which it is stored.
func newLinkToken() (raw, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	raw = base64.RawURLEncoding.EncodeToString(b)
	return raw, hashLinkToken(raw)
}

func hashLinkToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// link builds the URL a mail carries. The token goes in the fragment by default, which
// browsers never send to servers or in Referer; the language helps the hosted pages.
func (s *Service) link(base, raw, lang string) string {
	q := url.Values{}
	if lang != "" {
		q.Set("lang", lang)
	}
	if s.links.TokenInQuery {
		q.Set("token", raw)
		return base + sep(base) + q.Encode()
	}
	u := base
	if len(q) > 0 {
		u += sep(base) + q.Encode()
	}
	return u + "#token=" + url.QueryEscape(raw)
}

func sep(base string) string {
	for i := 0; i < len(base); i++ {
		if base[i] == '?' {
			return "&"
		}
	}
	return "?"
}

// issueLink voids the user's older links of this purpose and stores a new one.
func (s *Service) issueLink(ctx context.Context, u store.User, purpose store.LinkPurpose, email string, ttl time.Duration) (string, error) {
	now := s.now()
	if _, err := s.store.VoidLinkTokens(ctx, u.ID, purpose, now); err != nil {
		return "", err
	}
	raw, hash := newLinkToken()
	err := s.store.CreateLinkToken(ctx, store.LinkToken{
		Hash: hash, UserID: u.ID, Purpose: purpose, Email: email, CreatedAt: now, ExpiresAt: now.Add(ttl),
	})
	return raw, err
}

// queueMail queues a mail about u in u's language (mailer.Queue renders, seals and
// stores it in one call).
func (s *Service) queueMail(ctx context.Context, kind, to string, u store.User, d mailer.Data) error {
	d.AppName = s.links.AppName
	// Mails to an address nobody has proven yet carry no text the requester chose, so the
	// service cannot be used to send someone a message of the requester's making: the
	// name (typed at sign-up by whoever registered the address) greets only a confirmed
	// address, and never in the mails that go to an address being proven.
	// Nor in the reset mail, which anyone can have sent to any address: a confirmed
	// address's name may still be what someone else typed before its owner confirmed it.
	if u.Name != nil && u.EmailConfirmed && kind != mailer.KindConfirm && kind != mailer.KindEmailChange && kind != mailer.KindReset {
		d.Name = *u.Name
	}
	_, err := s.mail.Send(ctx, mailer.Request{Kind: kind, To: to, Lang: u.Lang, Data: d, UserID: u.ID})
	return err
}

// sendConfirmation issues a confirmation link for the user's current address and mails it.
func (s *Service) sendConfirmation(ctx context.Context, u store.User) error {
	raw, err := s.issueLink(ctx, u, store.LinkConfirm, u.Email, s.links.ConfirmTTL)
	if err != nil {
		return err
	}
	return s.queueMail(ctx, mailer.KindConfirm, u.Email, u, mailer.Data{
		Link: s.link(s.links.ConfirmURL, raw, u.Lang), Email: u.Email, ExpiresIn: s.links.ConfirmTTL,
		UnconfirmedFor: s.links.UnconfirmedTTL,
	})
}

// ResendConfirmation mails a new confirmation link (older ones stop working). It reports
// false when the address is already confirmed (nothing to send).
func (s *Service) ResendConfirmation(ctx context.Context, p Principal) (bool, error) {
	if p.User.EmailConfirmed {
		return false, nil
	}
	if err := s.limit(ctx, "resend:"+p.User.ID, s.limits.ConfirmResends); err != nil {
		return false, err
	}
	if err := s.sendConfirmation(ctx, p.User); err != nil {
		return false, err
	}
	s.audit(ctx, "confirmation_resent", "success", p.User.ID, nil)
	return true, nil
}

// ConfirmEmail consumes a confirmation or email-change link. A signup link confirms the
// address it was sent to (if it is still the account's); an email-change link makes the
// new address the account's, unless another account took it meanwhile (EMAIL_TAKEN).
func (s *Service) ConfirmEmail(ctx context.Context, raw string) (store.User, error) {
	if err := s.limitIP(ctx, "links", s.limits.IPEmailLinks); err != nil {
		return store.User{}, err
	}
	hash, now := hashLinkToken(raw), s.now()
	t, err := s.store.ConsumeLinkToken(ctx, hash, store.LinkConfirm, now)
	if errors.Is(err, store.ErrNotFound) {
		t, err = s.store.ConsumeLinkToken(ctx, hash, store.LinkEmailChange, now)
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrInvalidToken
		}
		return store.User{}, err
	}
	if t.Purpose == store.LinkConfirm {
		return s.confirmSignup(ctx, t, now)
	}
	u, err := s.store.ApplyEmailChange(ctx, t.UserID, t.Email, now)
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			if other, err2 := s.store.UserByEmail(ctx, t.Email); err2 == nil && other.ID != t.UserID {
				s.audit(ctx, "email_change", "failure", t.UserID, map[string]any{"reason": "email_taken"})
				// The pending address now belongs to someone else: stop showing it.
				if u, err3 := s.store.UserByID(ctx, t.UserID); err3 == nil && u.PendingEmail != nil && *u.PendingEmail == t.Email {
					if err4 := s.store.SetPendingEmail(ctx, t.UserID, nil, now); err4 != nil {
						s.log.WarnContext(ctx, "pending email not cleared", "user", t.UserID, "err", err4)
					}
				}
				return store.User{}, ErrEmailTaken
			}
			return store.User{}, ErrInvalidToken.with(err)
		}
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrInvalidToken.with(err)
		}
		return store.User{}, err
	}
	// Links mailed to the old address must not act on the account any more.
	for _, p := range []store.LinkPurpose{store.LinkReset, store.LinkConfirm} {
		if _, err := s.store.VoidLinkTokens(ctx, u.ID, p, now); err != nil {
			s.log.WarnContext(ctx, "old-address links not voided", "user", u.ID, "err", err)
		}
	}
	s.audit(ctx, "email_change", "success", u.ID, nil)
	return s.afterConfirm(ctx, u, false), nil // the new address may be an admin one (firstadmin.go)
}

// confirmSignup confirms the address a signup link proved. Sessions opened before the
// proof end first (account pre-hijacking: whoever registered someone else's address must
// not stay signed in once its owner confirms it): every session of the account but the one
// presenting the link, whose holder has just shown they read the mailbox. They end before
// the confirmation, so a store failure in between leaves an unconfirmed account (a new
// link fixes it), never a confirmed one with a stranger's session.
func (s *Service) confirmSignup(ctx context.Context, t store.LinkToken, now time.Time) (store.User, error) {
	// A link of an address already confirmed (by a reset) or since changed confirms
	// nothing, and ends nothing.
	if cur, err := s.store.UserByID(ctx, t.UserID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.User{}, ErrInvalidToken.with(err)
		}
		return store.User{}, err
	} else if cur.EmailConfirmed || cur.Email != t.Email {
		return store.User{}, ErrInvalidToken.with(errors.New("address already confirmed or changed"))
	}
	keep := ""
	if a := AuthFrom(ctx); a.Kind == KindAccess && a.Access.UserID == t.UserID {
		keep = a.Access.SessionID
	}
	n, err := s.store.RevokeUserSessions(ctx, t.UserID, keep, now, "email_confirmed")
	if err != nil {
		return store.User{}, err
	}
	u, err := s.store.ConfirmEmail(ctx, t.UserID, t.Email, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			return store.User{}, ErrInvalidToken.with(err)
		}
		return store.User{}, err
	}
	s.audit(ctx, "email_confirmed", "success", u.ID, map[string]any{"sessions_ended": n})
	return s.afterConfirm(ctx, u, true), nil // firstadmin.go
}

// ForgotPassword mails a reset link to a registered address and answers the same for any
// address: the mail work happens after the answer, off the request's clock, so the
// response time does not tell whether the address exists.
func (s *Service) ForgotPassword(ctx context.Context, email string, antispam *string) error {
	if err := s.gate(ctx, antispam); err != nil {
		return err
	}
	if err := s.limitIP(ctx, "forgot", s.limits.IPForgotPassword); err != nil {
		return err
	}
	if s.box != nil {
		plain, err := s.box.Decrypt(email)
		if err != nil {
			return nil
		}
		email = plain
	}
	canonical, err := CanonicalEmail("email", email)
	if err != nil {
		return nil
	}
	// Everything that depends on whether the address exists happens after the answer.
	bg := context.WithoutCancel(ctx)
	s.background(func() {
		ctx, cancel := context.WithTimeout(bg, 30*time.Second)
		defer cancel()
		u, err := s.store.UserByEmail(ctx, canonical)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				s.audit(ctx, "password_reset_requested", "failure", "", map[string]any{"reason": "unknown_email"})
			} else {
				s.log.ErrorContext(ctx, "password reset lookup failed", "err", err)
			}
			return
		}
		if err := s.mailReset(ctx, u); err != nil {
			if errors.Is(err, errResetMailLimit) {
				s.audit(ctx, "password_reset_requested", "failure", u.ID, map[string]any{"reason": "mail_limit"})
			} else {
				s.log.ErrorContext(ctx, "password reset mail not queued", "user", u.ID, "err", err)
			}
			return
		}
		s.audit(ctx, "password_reset_requested", "success", u.ID, nil)
	})
	return nil
}

// errResetMailLimit marks mailReset's refusal past the per-account limit of reset mails.
var errResetMailLimit = errors.New("reset mail limit")

// mailReset is the reset mail of forgotPassword and of an admin's sendPasswordReset:
// counted under the per-account limit (RATE_LIMITED past it, wrapping
// errResetMailLimit), then a new reset link queued to the user's address.
func (s *Service) mailReset(ctx context.Context, u store.User) error {
	if err := s.limit(ctx, "resetmail:"+u.ID, s.limits.ResetMails); err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == CodeRateLimited {
			return e.with(errResetMailLimit)
		}
		return err
	}
	raw, err := s.issueLink(ctx, u, store.LinkReset, u.Email, s.links.ResetTTL)
	if err != nil {
		return err
	}
	return s.queueMail(ctx, mailer.KindReset, u.Email, u, mailer.Data{
		Link: s.link(s.links.ResetURL, raw, u.Lang), Email: u.Email, ExpiresIn: s.links.ResetTTL,
	})
}

// ResetPassword sets a new password through a reset link: once, ending every session of
// the user, clearing login cooldowns and mailing a notice. It returns no tokens: the user
// signs in again. The link is checked before the password policy and consumed only after
// it, so a refused password does not burn the link.
func (s *Service) ResetPassword(ctx context.Context, raw, newPassword string) error {
	if err := s.limitIP(ctx, "links", s.limits.IPEmailLinks); err != nil {
		return err
	}
	pw, err := s.decryptField("newPassword", newPassword)
	if err != nil {
		return err
	}
	pw = norm.NFC.String(pw)
	hash, now := hashLinkToken(raw), s.now()
	t, err := s.store.LinkToken(ctx, hash, store.LinkReset, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	u, err := s.store.UserByID(ctx, t.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	if t.Email != u.Email {
		return ErrInvalidToken // mailed to an address the account no longer has
	}
	if err := s.checkPassword("newPassword", pw, u.Email); err != nil {
		return err
	}
	h, err := s.hash.Hash(ctx, pw)
	if err != nil {
		return err
	}
	if _, err := s.store.ConsumeLinkToken(ctx, hash, store.LinkReset, s.now()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return ErrInvalidToken
		}
		return err
	}
	now = s.now()
	if err := s.replacePassword(ctx, u.ID, "", h, now, "password_reset"); err != nil {
		return err
	}
	s.clearLoginLimits(ctx, u.Email, true)
	s.voidAfterPasswordChange(ctx, u, now)
	// The link reached the mailbox: that proves the address as a confirmation would.
	if !u.EmailConfirmed {
		if cu, err := s.store.ConfirmEmail(ctx, u.ID, u.Email, now); err != nil {
			s.log.WarnContext(ctx, "email not confirmed by reset", "user", u.ID, "err", err)
		} else {
			s.afterConfirm(ctx, cu, true) // firstadmin.go
		}
	}
	if err := s.queueMail(ctx, mailer.KindPasswordChanged, u.Email, u, mailer.Data{Email: u.Email}); err != nil {
		s.log.ErrorContext(ctx, "password-changed notice not queued", "user", u.ID, "err", err)
	}
	s.audit(ctx, "password_reset", "success", u.ID, nil)
	return nil
}

// ChangePassword replaces the signed-in user's password after checking the current one
// (a wrong one counts toward the login limiter), ends every session of the user, the
// caller's included, voids outstanding reset links, mails a notice, and returns the tokens
// of a new session. Ending the caller's session too means no access token minted before
// the change stays valid for the rest of its lifetime: whoever held the old password may
// have copied this session's tokens.
func (s *Service) ChangePassword(ctx context.Context, p Principal, current, newPassword string) (Tokens, error) {
	cur, err := s.decryptField("currentPassword", current)
	if err != nil {
		return Tokens{}, err
	}
	pw, err := s.decryptField("newPassword", newPassword)
	if err != nil {
		return Tokens{}, err
	}
	pw = norm.NFC.String(pw)
	if err := s.checkCurrentPassword(ctx, p.User, cur); err != nil {
		return Tokens{}, err
	}
	if err := s.checkPassword("newPassword", pw, p.User.Email); err != nil {
		return Tokens{}, err
	}
	h, err := s.hash.Hash(ctx, pw)
	if err != nil {
		return Tokens{}, err
	}
	now := s.now()
	// The write is conditional on the hash the current password was checked against: a
	// reset (or another change) that landed while this one was hashing wins, and this one
	// ends with no session rather than overwrite it.
	if err := s.replacePassword(ctx, p.User.ID, p.User.PasswordHash, h, now, "password_change"); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return Tokens{}, ErrInvalidCredentials.with(err)
		}
		return Tokens{}, err
	}
	s.voidAfterPasswordChange(ctx, p.User, now)
	if err := s.queueMail(ctx, mailer.KindPasswordChanged, p.User.Email, p.User, mailer.Data{Email: p.User.Email}); err != nil {
		s.log.ErrorContext(ctx, "password-changed notice not queued", "user", p.User.ID, "err", err)
	}
	s.audit(ctx, "password_change", "success", p.User.ID, nil)
	u, err := s.store.UserByID(ctx, p.User.ID)
	if err != nil {
		return Tokens{}, err
	}
	// The new session keeps the level the change was made at: a user with a second
	// factor changes the password at aal2 only, and need not verify again.
	return s.startSessionLevel(ctx, u, now, p.Session.Level(), p.Session.AMR)
}

// replacePassword stores a new password hash and ends every session of the user. The two
// are separate writes, so the sessions end both before and after the hash changes: a
// crash between any two steps leaves either the old password with no session, or the
// new one with no session, never the new password beside sessions opened under the old
// one (found by the kill -9 drill). The second pass ends a session opened in between; a
// login that checked the old hash and opens its session later still is caught by Login's
// own re-check (sessionStillValid). With oldHash set, the write happens only if the hash
// is still oldHash (ErrConflict otherwise); a reset ("") overwrites whatever is there.
func (s *Service) replacePassword(ctx context.Context, userID, oldHash, hash string, now time.Time, reason string) error {
	if _, err := s.store.RevokeUserSessions(ctx, userID, "", now, reason); err != nil {
		return err
	}
	var err error
	if oldHash != "" {
		err = s.store.SetPasswordHash(ctx, userID, oldHash, hash, now)
	} else {
		err = s.store.SetPassword(ctx, userID, hash, now)
	}
	if err != nil {
		return err
	}
	_, err = s.store.RevokeUserSessions(ctx, userID, "", now, reason)
	return err
}

// ChangeEmail starts an email change: the address changes only when the link mailed to
// the new address is confirmed; the old address gets a notice at once. Each call mails an
// address the caller chooses and tells whether it is in use, so the per-IP and
// per-account limits come first, before any decryption or password check: a limited
// caller costs one counter each.
func (s *Service) ChangeEmail(ctx context.Context, p Principal, newEmail, current string) error {
	if err := s.limitIP(ctx, "emailchange", s.limits.IPEmailChanges); err != nil {
		return err
	}
	if err := s.limit(ctx, "emailchange:"+p.User.ID, s.limits.EmailChanges); err != nil {
		return err
	}
	ne, err := s.decryptField("newEmail", newEmail)
	if err != nil {
		return err
	}
	cur, err := s.decryptField("currentPassword", current)
	if err != nil {
		return err
	}
	canonical, err := CanonicalEmail("newEmail", ne)
	if err != nil {
		return err
	}
	if err := s.checkCurrentPassword(ctx, p.User, cur); err != nil {
		return err
	}
	if canonical == p.User.Email {
		return badInput("newEmail", "this is already the account's address")
	}
	if _, err := s.store.UserByEmail(ctx, canonical); err == nil {
		return ErrEmailTaken.withField("newEmail")
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.now()
	if err := s.store.SetPendingEmail(ctx, p.User.ID, &canonical, now); err != nil {
		return err
	}
	raw, err := s.issueLink(ctx, p.User, store.LinkEmailChange, canonical, s.links.EmailChangeTTL)
	if err != nil {
		return err
	}
	if err := s.queueMail(ctx, mailer.KindEmailChange, canonical, p.User, mailer.Data{
		Link: s.link(s.links.ConfirmURL, raw, p.User.Lang), Email: p.User.Email, NewEmail: canonical, ExpiresIn: s.links.EmailChangeTTL,
	}); err != nil {
		return err
	}
	if err := s.queueMail(ctx, mailer.KindEmailChangeNotice, p.User.Email, p.User, mailer.Data{
		Email: p.User.Email, NewEmail: canonical,
	}); err != nil {
		s.log.ErrorContext(ctx, "email-change notice not queued", "user", p.User.ID, "err", err)
	}
	s.audit(ctx, "email_change_requested", "success", p.User.ID, nil)
	return nil
}

// voidAfterPasswordChange voids the links a previous password holder may have started:
// reset links, and a pending email change (whoever knew the old password could have asked
// to move the account to their own address).
func (s *Service) voidAfterPasswordChange(ctx context.Context, u store.User, now time.Time) {
	for _, p := range []store.LinkPurpose{store.LinkReset, store.LinkEmailChange} {
		if _, err := s.store.VoidLinkTokens(ctx, u.ID, p, now); err != nil {
			s.log.WarnContext(ctx, "links not voided after a password change", "user", u.ID, "purpose", p, "err", err)
		}
	}
	if u.PendingEmail != nil {
		if err := s.store.SetPendingEmail(ctx, u.ID, nil, now); err != nil {
			s.log.WarnContext(ctx, "pending email not cleared", "user", u.ID, "err", err)
		}
	}
}

// checkCurrentPassword verifies the signed-in user's password (as typed: legacy hashes get
// it as typed and in NFC, like Login) under the login limiter.
func (s *Service) checkCurrentPassword(ctx context.Context, u store.User, pw string) error {
	try, err := s.loginAttempt(ctx, u.Email)
	if err != nil {
		return err
	}
	ok, _, err := s.hash.verifyStored(ctx, pw, u.PasswordHash)
	if err != nil {
		try.notChecked()
		return err
	}
	try.checked(ok)
	if !ok {
		s.audit(ctx, "password_check", "failure", u.ID, map[string]any{"reason": "wrong_password"})
		return ErrInvalidCredentials
	}
	return nil
}

// checkPassword applies the password policy to a new password.
func (s *Service) checkPassword(field, pw, email string) error {
	if reasons := s.cfg.Policy.Check(pw, email); len(reasons) > 0 {
		return &Error{Code: CodeBadUserInput, Field: field, Message: "the password is too weak", Reasons: reasons}
	}
	return nil
}

// decryptField opens one credential field when --salt is on (NFC for passwords is applied
// by the callers that hash). An undecryptable current password answers like a wrong one,
// as the contract says of credentials; new values are BAD_USER_INPUT on their field.
func (s *Service) decryptField(field, v string) (string, error) {
	if s.box == nil {
		return v, nil
	}
	p, err := s.box.Decrypt(v)
	if err != nil {
		if field == "currentPassword" {
			return "", ErrInvalidCredentials.with(err)
		}
		return "", badInput(field, "the value is not a ciphertext under the published encryptionKey").with(err)
	}
	return p, nil
}
