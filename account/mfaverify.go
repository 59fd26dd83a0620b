package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/toktok/toktok/store"
)

// MFAVerifyInput is verifyMfa's input: exactly one kind of proof.
type MFAVerifyInput struct {
	TotpCode            *string
	RecoveryCode        *string
	WebAuthnChallengeID *string
	WebAuthnCredential  json.RawMessage
}

// kind names the one proof in, or "" when there is none or more than one.
func (in MFAVerifyInput) kind() string {
	var kinds []string
	if in.TotpCode != nil {
		kinds = append(kinds, amrOTP)
	}
	if in.RecoveryCode != nil {
		kinds = append(kinds, amrRecovery)
	}
	if in.WebAuthnChallengeID != nil || len(in.WebAuthnCredential) > 0 {
		if in.WebAuthnChallengeID == nil || len(in.WebAuthnCredential) == 0 {
			return ""
		}
		kinds = append(kinds, amrWebAuthn)
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// VerifyMFA checks a second factor on the caller's session and raises it to aal2: new
// tokens for the same session. A wrong code or credential is INVALID_CREDENTIALS and
// counts toward the account's login-failure limit (RATE_LIMITED past it); a check that did
// not run (a store failure) does not count.
func (s *Service) VerifyMFA(ctx context.Context, p Principal, in MFAVerifyInput) (Tokens, error) {
	method := in.kind()
	if method == "" {
		return Tokens{}, badInput("input", "give exactly one of totpCode, recoveryCode, or webauthnChallengeId with webauthnCredential")
	}
	if !p.User.MFAEnabled {
		return Tokens{}, badInput("input", "this account has no second factor to verify")
	}
	try, err := s.loginAttempt(ctx, p.User.Email)
	if err != nil {
		s.audit(ctx, "mfa_verify", "failure", p.User.ID, map[string]any{"reason": "cooldown", "method": method})
		return Tokens{}, err
	}
	var ok bool
	switch method {
	case amrOTP:
		ok, err = s.verifyTotp(ctx, p.User.ID, *in.TotpCode)
	case amrRecovery:
		ok, err = s.verifyRecovery(ctx, p.User, *in.RecoveryCode)
	case amrWebAuthn:
		ok, err = s.verifyPasskey(ctx, p, *in.WebAuthnChallengeID, in.WebAuthnCredential)
	}
	if err != nil {
		try.notChecked()
		return Tokens{}, err
	}
	try.checked(ok)
	if !ok {
		s.audit(ctx, "mfa_verify", "failure", p.User.ID, map[string]any{"reason": "wrong_code", "method": method})
		return Tokens{}, errWrongCode
	}
	tok, err := s.raise(ctx, p, method)
	if err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, "mfa_verify", "success", p.User.ID, map[string]any{"method": method})
	return tok, nil
}

// verifyTotp checks code against the user's confirmed TOTP factors and spends its time
// step: a code is accepted once, its replay is a wrong code.
func (s *Service) verifyTotp(ctx context.Context, userID, code string) (bool, error) {
	now := s.now()
	fs, err := s.store.Factors(ctx, userID, now)
	if err != nil {
		return false, err
	}
	for _, f := range fs {
		if f.Type != store.FactorTOTP || !f.Confirmed {
			continue
		}
		step, ok := s.checkTotp(f, code, now)
		if !ok {
			continue
		}
		err := s.store.UseTotpStep(ctx, userID, f.ID, step, now)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
			// A replay, or the factor removed meanwhile: not a valid code.
			return false, nil
		default:
			return false, err
		}
	}
	return false, nil
}

// verifyRecovery spends one of the user's recovery codes and mails a notice saying how
// many are left.
func (s *Service) verifyRecovery(ctx context.Context, u store.User, code string) (bool, error) {
	// HashRecoveryCode normalises the code (case, spaces, dashes) and hashes a malformed
	// one as it is, so that it costs what a wrong one does.
	left, err := s.store.UseRecoveryCode(ctx, u.ID, s.mfaKeys.HashRecoveryCode(u.ID, code), s.now())
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.mfaNotice(ctx, u, "recovery_used", "", left)
	s.audit(ctx, "mfa_recovery_used", "success", u.ID, map[string]any{"remaining": left})
	return true, nil
}

// challengeTTL is how long a WebAuthn ceremony may take between its begin and finish.
const challengeTTL = 5 * time.Minute
