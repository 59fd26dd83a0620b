package account

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/store"
)

// Second factors (docs/mfa.md). A session's assurance level lives in the store
// (store.Session.AAL): a password makes aal1; verifyMfa, or confirming a first factor, raises
// the same session to aal2; a passkey sign-in starts at aal2. A user with a confirmed factor
// may, on an aal1 session, call only the operations of aal1Ops; a user whose role requires a
// factor (MFAConfig.RequiredRoles) and has none may call only those of enrollOps.

// The methods of the "amr" claim (RFC 8176 names where it has one; the API's otherwise).
const (
	amrPassword = "pwd"
	amrOTP      = "otp"
	amrRecovery = "recovery"
	amrWebAuthn = "webauthn"
)

const (
	// totpEnrollTTL is how long an unconfirmed TOTP factor can be confirmed.
	totpEnrollTTL = 15 * time.Minute
	// maxPendingFactors and maxFactors bound what one user can store.
	maxPendingFactors = 5
	maxFactors        = 10
)

// MFAConfig is the second-factor section of Config.
type MFAConfig struct {
	// RequiredRoles must enrol a second factor before anything else.
	RequiredRoles []store.Role
}

// The operations (the API's field names) a session may call below the level its user
// needs: aal1Ops for an unverified session of a user with a factor, enrollOps for a user
// whose role requires a factor it has not enrolled.
var (
	aal1Ops   = []string{"me", "verifyMfa", "beginMfaChallenge", "refreshToken", "logout"}
	enrollOps = []string{"me", "logout", "refreshToken", "enrollTotp", "confirmTotp",
		"beginWebAuthnRegistration", "finishWebAuthnRegistration"}
)

// The MFA_REQUIRED reasons.
const (
	ReasonVerify = "verify"
	ReasonEnroll = "enroll"
)

func mfaRequired(reason string) *Error {
	msg := "this session must verify a second factor first (verifyMfa)"
	if reason == ReasonEnroll {
		msg = "your role requires a second factor: enrol one first (enrollTotp or beginWebAuthnRegistration)"
	}
	return &Error{Code: CodeMFARequired, Message: msg, Reason: reason}
}

var errWrongCode = &Error{Code: CodeInvalidCredentials, Message: "the code or credential is not valid"}

// Gate applies the MFA rules to a signed-in caller about to run op (the API's field name):
// MFA_REQUIRED with reason "verify" for an aal1 session of a user with a factor, "enroll"
// for a user whose role requires one it lacks, outside the operations each may call.
func (s *Service) Gate(p Principal, op string) error {
	if p.User.MFAEnabled {
		if p.Session.Level() == store.AAL2 || slices.Contains(aal1Ops, op) {
			return nil
		}
		return mfaRequired(ReasonVerify)
	}
	if slices.Contains(s.cfg.MFA.RequiredRoles, p.User.Role) && !slices.Contains(enrollOps, op) {
		return mfaRequired(ReasonEnroll)
	}
	return nil
}

// AuthenticateFor is Authenticate followed by Gate for op.
func (s *Service) AuthenticateFor(ctx context.Context, op string) (Principal, error) {
	p, err := s.Authenticate(ctx)
	if err != nil {
		return Principal{}, err
	}
	return p, s.Gate(p, op)
}

// AuthorizeFor is Authorize followed by Gate for op.
func (s *Service) AuthorizeFor(ctx context.Context, least store.Role, op string) (Principal, error) {
	p, err := s.Authorize(ctx, least)
	if err != nil {
		return Principal{}, err
	}
	return p, s.Gate(p, op)
}

// TotpEnrollment is what enrollTotp returns: the secret to type or scan, once.
type TotpEnrollment struct {
	FactorID   string
	Secret     string
	OTPAuthURI string
	QRCodeSVG  string
}

// MFAEnrolled is a confirmed factor, the recovery codes when it is the user's first (shown
// once), and the tokens of the caller's session, now at aal2.
type MFAEnrolled struct {
	Factor        store.Factor
	RecoveryCodes []string
	Tokens        Tokens
}

// EnrollTotp starts a TOTP factor: a new secret, sealed at rest, pending until ConfirmTotp
// gets a code of it (within totpEnrollTTL).
func (s *Service) EnrollTotp(ctx context.Context, p Principal, name *string) (TotpEnrollment, error) {
	label, err := factorName(name, "Authenticator app")
	if err != nil {
		return TotpEnrollment{}, err
	}
	now := s.now()
	if err := s.factorRoom(ctx, p.User.ID, now); err != nil {
		return TotpEnrollment{}, err
	}
	secret, err := mfa.NewTOTPSecret()
	if err != nil {
		return TotpEnrollment{}, err
	}
	id := newID()
	exp := now.Add(totpEnrollTTL)
	f := store.Factor{
		ID: id, UserID: p.User.ID, Type: store.FactorTOTP, Name: label,
		Secret: s.mfaKeys.Seal(p.User.ID, id, []byte(secret)), CreatedAt: now, ExpiresAt: &exp,
	}
	if err := s.store.CreateFactor(ctx, f); err != nil {
		return TotpEnrollment{}, err
	}
	uri := mfa.OTPAuthURI(s.links.AppName, p.User.Email, secret)
	svg, err := mfa.QRCodeSVG(uri)
	if err != nil {
		return TotpEnrollment{}, err
	}
	s.audit(ctx, "mfa_enroll_start", "success", p.User.ID, map[string]any{"factor": id, "type": string(store.FactorTOTP)})
	return TotpEnrollment{FactorID: id, Secret: secret, OTPAuthURI: uri, QRCodeSVG: svg}, nil
}

// factorName checks a factor's label under the profile names' rules (cleanName: at most
// 100 characters, NFC, no control or invisible formatting characters: it goes into
// mails), dflt when empty.
func factorName(name *string, dflt string) (string, error) {
	n, err := cleanName("name", name)
	switch {
	case err != nil:
		return "", err
	case n == nil:
		return dflt, nil
	}
	return *n, nil
}

// factorRoom refuses a new factor past maxPendingFactors pending or maxFactors confirmed.
// The count and the insert are two steps: concurrent enrolments can pass the caps by a
// few, which bounds storage as well.
func (s *Service) factorRoom(ctx context.Context, userID string, now time.Time) error {
	fs, err := s.store.Factors(ctx, userID, now)
	if err != nil {
		return err
	}
	pending, confirmed := 0, 0
	for _, f := range fs {
		if f.Confirmed {
			confirmed++
		} else {
			pending++
		}
	}
	if confirmed >= maxFactors {
		return badInput("name", "this account has the most second factors it may have; remove one first")
	}
	if pending >= maxPendingFactors {
		return badInput("name", "too many enrolments are waiting for confirmation; confirm one or wait 15 minutes")
	}
	return nil
}

// ConfirmTotp confirms a pending TOTP factor with a first code of it. A wrong code is
// INVALID_CREDENTIALS and counts toward the account's login-failure limit.
func (s *Service) ConfirmTotp(ctx context.Context, p Principal, factorID, code string) (MFAEnrolled, error) {
	now := s.now()
	f, err := s.userFactor(ctx, p.User.ID, factorID, now)
	if err != nil {
		return MFAEnrolled{}, err
	}
	if f.Type != store.FactorTOTP || f.Confirmed {
		return MFAEnrolled{}, badInput("factorId", "no TOTP factor of yours awaits confirmation with this id")
	}
	try, err := s.loginAttempt(ctx, p.User.Email)
	if err != nil {
		return MFAEnrolled{}, err
	}
	step, ok := s.checkTotp(f, code, now)
	if !ok {
		try.checked(false)
		s.audit(ctx, "mfa_enroll", "failure", p.User.ID, map[string]any{"factor": f.ID, "reason": "wrong_code"})
		return MFAEnrolled{}, errWrongCode
	}
	f, err = s.store.ConfirmFactor(ctx, p.User.ID, f.ID, step, now)
	if err != nil {
		try.notChecked()
		if errors.Is(err, store.ErrNotFound) {
			return MFAEnrolled{}, badInput("factorId", "no TOTP factor of yours awaits confirmation with this id")
		}
		return MFAEnrolled{}, err
	}
	try.checked(true)
	return s.enrolled(ctx, p, f, amrOTP)
}

// userFactor returns the user's factor id (confirmed, or pending and unexpired), or
// BAD_USER_INPUT on "factorId".
func (s *Service) userFactor(ctx context.Context, userID, id string, now time.Time) (store.Factor, error) {
	fs, err := s.store.Factors(ctx, userID, now)
	if err != nil {
		return store.Factor{}, err
	}
	for _, f := range fs {
		if f.ID == id {
			return f, nil
		}
	}
	return store.Factor{}, badInput("factorId", "no factor of yours has this id")
}

// checkTotp checks code against the TOTP factor f and returns the time step it matched.
// A secret that does not open (the key changed) matches nothing.
func (s *Service) checkTotp(f store.Factor, code string, now time.Time) (int64, bool) {
	secret, err := s.mfaKeys.Open(f.UserID, f.ID, f.Secret)
	if err != nil {
		s.log.Error("TOTP secret does not open under the MFA key", "factor", f.ID, "err", err)
		return 0, false
	}
	return mfa.ValidateTOTP(string(secret), code, now)
}

// enrolled finishes an enrolment: recovery codes with the user's first factor, the caller's
// session raised to aal2 (it has just proven the factor), a notice and an audit event.
func (s *Service) enrolled(ctx context.Context, p Principal, f store.Factor, method string) (MFAEnrolled, error) {
	out := MFAEnrolled{Factor: f}
	var err error
	if !p.User.MFAEnabled {
		// The first factor: MFA is on from now, with a set of recovery codes shown once.
		if out.RecoveryCodes, err = s.replaceRecoveryCodes(ctx, p.User.ID); err != nil {
			return MFAEnrolled{}, err
		}
	}
	if out.Tokens, err = s.raise(ctx, p, method); err != nil {
		return MFAEnrolled{}, err
	}
	s.mfaNotice(ctx, out.Tokens.User, "factor_added", f.Name, 0)
	s.audit(ctx, "mfa_enroll", "success", p.User.ID, map[string]any{"factor": f.ID, "type": string(f.Type)})
	return out, nil
}

// raise sets the caller's session to aal2 with method added to its methods, and returns
// its tokens (the same session and refresh counter: the refresh token the client holds
// stays valid).
func (s *Service) raise(ctx context.Context, p Principal, method string) (Tokens, error) {
	amr := slices.Clone(p.Session.AMR)
	if !slices.Contains(amr, method) {
		amr = append(amr, method)
	}
	now := s.now()
	sess, err := s.store.RaiseSessionLevel(ctx, p.Session.ID, p.User.ID, amr, now)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Tokens{}, ErrUnauthenticated.with(err)
		}
		return Tokens{}, err
	}
	u, err := s.store.UserByID(ctx, p.User.ID)
	if err != nil {
		return Tokens{}, err
	}
	return s.issueTokens(u, sess, sess.Counter, now)
}

// replaceRecoveryCodes makes a new set of recovery codes, stores their keyed hashes in
// place of the old set, and returns the codes (the one time they are shown).
func (s *Service) replaceRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, err := mfa.NewRecoveryCodes()
	if err != nil {
		return nil, err
	}
	hashes := make([]string, len(codes))
	for i, c := range codes {
		hashes[i] = s.mfaKeys.HashRecoveryCode(userID, c)
	}
	if err := s.store.ReplaceRecoveryCodes(ctx, userID, hashes, s.now()); err != nil {
		return nil, err
	}
	return codes, nil
}

// mfaNotice mails the account's owner about a change to its second factors. Best effort:
// the change has happened.
func (s *Service) mfaNotice(ctx context.Context, u store.User, event, factorName string, remaining int) {
	d := mailer.Data{Email: u.Email, MFAEvent: event, Remaining: remaining}
	if u.EmailConfirmed {
		// A factor's name is text the user typed: never in a mail to an unproven address.
		d.FactorName = factorName
	}
	if err := s.queueMail(context.WithoutCancel(ctx), mailer.KindMFANotice, u.Email, u, d); err != nil {
		s.log.ErrorContext(ctx, "MFA notice not queued", "user", u.ID, "event", event, "err", err)
	}
}

// RegenerateRecoveryCodes replaces every recovery code of the caller (aal2; the user must
// have a factor) and returns the new ones.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, p Principal) ([]string, error) {
	if !p.User.MFAEnabled {
		return nil, &Error{Code: CodeBadUserInput, Message: "recovery codes come with a second factor: enrol one first"}
	}
	codes, err := s.replaceRecoveryCodes(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	s.mfaNotice(ctx, p.User, "recovery_regenerated", "", 0)
	s.audit(ctx, "mfa_recovery_regenerate", "success", p.User.ID, nil)
	return codes, nil
}

// RemoveFactor removes one of the caller's factors and ends the user's other sessions. It
// reports false when the caller has no factor with that id. Removing the last confirmed
// factor turns MFA off and voids the recovery codes.
func (s *Service) RemoveFactor(ctx context.Context, p Principal, id string) (bool, error) {
	now := s.now()
	f, err := s.userFactor(ctx, p.User.ID, id, now)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return false, nil
		}
		return false, err
	}
	remaining, err := s.store.DeleteFactor(ctx, p.User.ID, f.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The factor is gone: the notice and the audit event come first, whatever happens to
	// the other sessions. A failure to end them is the answer, so that the client can end
	// them (logout OTHERS) rather than believe them ended.
	if f.Confirmed {
		s.mfaNotice(ctx, p.User, "factor_removed", f.Name, 0)
	}
	n, rerr := s.store.RevokeUserSessions(ctx, p.User.ID, p.Session.ID, now, "factor_removed")
	detail := map[string]any{"factor": f.ID, "type": string(f.Type), "confirmed": f.Confirmed, "remaining": remaining, "sessions": n}
	if rerr != nil {
		detail["sessions_error"] = true
	}
	s.audit(ctx, "mfa_factor_remove", "success", p.User.ID, detail)
	if rerr != nil {
		return false, rerr
	}
	return true, nil
}

// ResetUserMFA removes every factor and recovery code of a user (an ADMIN's help for a
// user who lost them) and ends every session of that user.
func (s *Service) ResetUserMFA(ctx context.Context, p Principal, id string) error {
	u, err := s.adminTarget(ctx, p, id)
	if err != nil {
		return err
	}
	n, err := s.store.DeleteUserFactors(ctx, u.ID)
	if err != nil {
		return err
	}
	// The factors are gone: notice and audit first, then the sessions (their failure is
	// the answer; a retry removes nothing more and ends them).
	s.mfaNotice(ctx, u, "mfa_reset", "", 0)
	ended, rerr := s.store.RevokeUserSessions(ctx, u.ID, "", s.now(), "mfa_reset")
	detail := map[string]any{"factors": n, "sessions": ended}
	if rerr != nil {
		detail["sessions_error"] = true
	}
	s.audit(ctx, "mfa_reset", "success", u.ID, detail)
	return rerr
}

// Factors returns a user's factors for the API (confirmed and pending): to the user and to
// STAFF and above; none to anyone else (a User reached through confirmEmail's link, say).
func (s *Service) Factors(ctx context.Context, userID string) ([]store.Factor, error) {
	if ok, err := s.mayReadMFA(ctx, userID); !ok || err != nil {
		return nil, err
	}
	return s.store.Factors(ctx, userID, s.now())
}

// RecoveryCodesRemaining returns how many unused recovery codes a user has, to those
// Factors answers; 0 to anyone else.
func (s *Service) RecoveryCodesRemaining(ctx context.Context, userID string) (int, error) {
	if ok, err := s.mayReadMFA(ctx, userID); !ok || err != nil {
		return 0, err
	}
	return s.store.CountRecoveryCodes(ctx, userID)
}

// mayReadMFA reports whether the caller is the user userID or STAFF and above.
func (s *Service) mayReadMFA(ctx context.Context, userID string) (bool, error) {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		var err error
		if p, err = s.Authenticate(ctx); err != nil {
			var ae *Error
			if errors.As(err, &ae) {
				return false, nil
			}
			return false, err
		}
	}
	return p.User.ID == userID || RoleAtLeast(p.User.Role, store.RoleStaff), nil
}
