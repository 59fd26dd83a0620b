package account

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/store"
)

// Passkeys (WebAuthn). Every ceremony is two calls: begin stores a challenge (kind, owner,
// session or anonymous token, expiry) and returns the options for the browser; finish
// takes the challenge out of the store (single use, any instance) and checks the
// browser's answer against it with the passkey package. User verification is required
// throughout, so a passkey alone makes aal2.

// WebAuthnChallenge is a begun ceremony: its id (for the finish call) and the options for
// navigator.credentials.create() or .get(), in WebAuthn Level 3 JSON form.
type WebAuthnChallenge struct {
	ID      string
	Options json.RawMessage
}

// errBadCeremony answers a finish call whose challenge is unknown, used, expired, of
// another ceremony or another session: one answer for all.
var errBadCeremony = badInput("challengeId", "no ceremony of yours is waiting with this id; begin again")

// errNoPasskeys answers the passkey operations of a server whose relying party could not
// be set up (its public URL's host is an IP address).
var errNoPasskeys = &Error{Code: CodeForbidden, Message: "passkeys are not available on this server: its public URL must name a domain (--public-url or --webauthn-rp-id)"}

// passkeysOn reports errNoPasskeys when the server has no WebAuthn relying party.
func (s *Service) passkeysOn() error {
	if s.passkeys == nil {
		return errNoPasskeys
	}
	return nil
}

// passkeyUser is u as the ceremonies see it, with its confirmed passkeys.
func (s *Service) passkeyUser(ctx context.Context, u store.User) (passkey.User, error) {
	fs, err := s.store.Factors(ctx, u.ID, s.now())
	if err != nil {
		return passkey.User{}, err
	}
	pu := passkey.User{ID: u.ID, Name: u.Email, DisplayName: u.Email}
	if u.Name != nil && *u.Name != "" {
		pu.DisplayName = *u.Name
	}
	for _, f := range fs {
		if f.Type == store.FactorWebAuthn && f.Confirmed {
			pu.Credentials = append(pu.Credentials, f)
		}
	}
	return pu, nil
}

// begin stores a challenge for a ceremony and returns it with its options.
func (s *Service) begin(ctx context.Context, c store.Challenge, options json.RawMessage, data []byte) (WebAuthnChallenge, error) {
	now := s.now()
	c.ID, c.Data, c.CreatedAt, c.ExpiresAt = newID(), data, now, now.Add(challengeTTL)
	if err := s.store.CreateChallenge(ctx, c); err != nil {
		return WebAuthnChallenge{}, err
	}
	return WebAuthnChallenge{ID: c.ID, Options: options}, nil
}

// BeginWebAuthnRegistration starts registering a passkey for the caller (aal2 when the
// user already has a factor; Gate sees to it).
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, p Principal, name *string) (WebAuthnChallenge, error) {
	if err := s.passkeysOn(); err != nil {
		return WebAuthnChallenge{}, err
	}
	label, err := factorName(name, "Passkey")
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	if err := s.limitIP(ctx, "login", s.limits.IPLogin); err != nil {
		return WebAuthnChallenge{}, err
	}
	if err := s.factorRoom(ctx, p.User.ID, s.now()); err != nil {
		return WebAuthnChallenge{}, err
	}
	pu, err := s.passkeyUser(ctx, p.User)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	options, data, err := s.passkeys.BeginRegistration(pu)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	s.audit(ctx, "mfa_enroll_start", "success", p.User.ID, map[string]any{"type": string(store.FactorWebAuthn)})
	return s.begin(ctx, store.Challenge{
		Kind: store.ChallengeRegister, UserID: p.User.ID, SessionID: p.Session.ID, Name: label,
	}, options, data)
}

// FinishWebAuthnRegistration checks the browser's new credential against the challenge
// and stores it as a confirmed factor; like confirmTotp, it raises the caller's session to
// aal2 and returns recovery codes with the user's first factor.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, p Principal, challengeID string, credential json.RawMessage) (MFAEnrolled, error) {
	if err := s.passkeysOn(); err != nil {
		return MFAEnrolled{}, err
	}
	c, err := s.takeChallenge(ctx, challengeID, store.ChallengeRegister)
	if err != nil {
		return MFAEnrolled{}, err
	}
	if c.UserID != p.User.ID || c.SessionID != p.Session.ID {
		return MFAEnrolled{}, errBadCeremony
	}
	pu, err := s.passkeyUser(ctx, p.User)
	if err != nil {
		return MFAEnrolled{}, err
	}
	cred, err := s.passkeys.FinishRegistration(pu, c.Data, credential)
	if err != nil {
		s.audit(ctx, "mfa_enroll", "failure", p.User.ID, map[string]any{"type": string(store.FactorWebAuthn), "reason": "invalid_credential"})
		if errors.Is(err, passkey.ErrInvalid) {
			return MFAEnrolled{}, badInput("credential", "the passkey could not be verified").with(err)
		}
		return MFAEnrolled{}, err
	}
	now := s.now()
	f := store.Factor{
		ID: newID(), UserID: p.User.ID, Type: store.FactorWebAuthn, Name: c.Name, Secret: cred.Record,
		CredentialID: cred.ID, Confirmed: true, CreatedAt: now, LastUsedAt: &now, SignCount: cred.SignCount,
	}
	if err := s.store.CreateFactor(ctx, f); err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.audit(ctx, "mfa_enroll", "failure", p.User.ID, map[string]any{"type": string(store.FactorWebAuthn), "reason": "duplicate_credential"})
			return MFAEnrolled{}, badInput("credential", "this passkey is already registered")
		}
		return MFAEnrolled{}, err
	}
	return s.enrolled(ctx, p, f, amrWebAuthn)
}

// takeChallenge takes a challenge of kind out of the store, or errBadCeremony.
func (s *Service) takeChallenge(ctx context.Context, id string, kind store.ChallengeKind) (store.Challenge, error) {
	if id == "" || len(id) > maxIDLen {
		return store.Challenge{}, errBadCeremony
	}
	c, err := s.store.TakeChallenge(ctx, id, kind, s.now())
	if errors.Is(err, store.ErrNotFound) {
		return store.Challenge{}, errBadCeremony.with(err)
	}
	return c, err
}

// BeginMfaChallenge starts a passkey assertion as the second factor of the caller's
// session (verifyMfa finishes it).
func (s *Service) BeginMfaChallenge(ctx context.Context, p Principal) (WebAuthnChallenge, error) {
	if err := s.passkeysOn(); err != nil {
		return WebAuthnChallenge{}, err
	}
	if err := s.limitIP(ctx, "login", s.limits.IPLogin); err != nil {
		return WebAuthnChallenge{}, err
	}
	pu, err := s.passkeyUser(ctx, p.User)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	if len(pu.Credentials) == 0 {
		return WebAuthnChallenge{}, badInput("input", "this account has no passkey; verify with a TOTP or recovery code")
	}
	options, data, err := s.passkeys.BeginLogin(pu)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	return s.begin(ctx, store.Challenge{Kind: store.ChallengeMFA, UserID: p.User.ID, SessionID: p.Session.ID}, options, data)
}

// verifyPasskey finishes a second-factor assertion for verifyMfa: false for a credential
// that does not verify, a cloned authenticator (refused, audited and notified), or a
// challenge that is not this session's.
func (s *Service) verifyPasskey(ctx context.Context, p Principal, challengeID string, credential json.RawMessage) (bool, error) {
	if err := s.passkeysOn(); err != nil {
		return false, err
	}
	c, err := s.takeChallenge(ctx, challengeID, store.ChallengeMFA)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return false, nil
		}
		return false, err
	}
	if c.UserID != p.User.ID || c.SessionID != p.Session.ID {
		return false, nil
	}
	pu, err := s.passkeyUser(ctx, p.User)
	if err != nil {
		return false, err
	}
	a, err := s.passkeys.FinishLogin(pu, c.Data, credential)
	if err != nil {
		if errors.Is(err, passkey.ErrInvalid) {
			return false, nil
		}
		return false, err
	}
	return s.usePasskey(ctx, p.User, pu, a)
}

// usePasskey records an assertion's signature counter; a counter that did not move
// forward means a copied authenticator: refused, audited and mailed.
func (s *Service) usePasskey(ctx context.Context, u store.User, pu passkey.User, a passkey.Assertion) (bool, error) {
	err := errors.New("clone warning")
	if !a.CloneWarning {
		err = s.store.UseWebAuthn(ctx, u.ID, a.FactorID, a.SignCount, s.now())
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case a.CloneWarning || errors.Is(err, store.ErrConflict):
		name := ""
		for _, f := range pu.Credentials {
			if f.ID == a.FactorID {
				name = f.Name
			}
		}
		s.audit(ctx, "webauthn_clone", "failure", u.ID, map[string]any{"factor": a.FactorID, "counter": a.SignCount})
		s.mfaNotice(ctx, u, "passkey_clone", name, 0)
		return false, nil
	default:
		return false, err
	}
}

// BeginPasskeyLogin starts a passwordless sign-in. Every passkey is discoverable, so the
// options never list credentials: they are the same whoever asks, and tell nobody which
// addresses have accounts or passkeys. With an email, the sign-in must end as that account
// (the finish refuses a passkey of another); without one, any passkey of this site will do.
// It needs an anonymous token when --anojwt is on, and counts toward the per-IP login
// limit. An email in clear or, with --salt, encrypted like login's is accepted.
func (s *Service) BeginPasskeyLogin(ctx context.Context, email *string) (WebAuthnChallenge, error) {
	if err := s.passkeysOn(); err != nil {
		return WebAuthnChallenge{}, err
	}
	anon, err := s.passkeyGate(ctx)
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	c := store.Challenge{Kind: store.ChallengeLogin, AnonSubject: anon}
	if email != nil && *email != "" {
		canonical, err := CanonicalEmail("email", s.maybeDecrypt(*email))
		if err != nil {
			return WebAuthnChallenge{}, err
		}
		u, err := s.store.UserByEmail(ctx, canonical)
		switch {
		case err == nil:
			c.UserID = u.ID
		case errors.Is(err, store.ErrNotFound):
			// An address with no account: the sign-in can only fail, and must look the
			// same until then.
			c.UserID = "-"
		default:
			return WebAuthnChallenge{}, err
		}
	}
	options, data, err := s.passkeys.BeginDiscoverableLogin()
	if err != nil {
		return WebAuthnChallenge{}, err
	}
	return s.begin(ctx, c, options, data)
}

// maybeDecrypt opens v when credentials are encrypted and v is a ciphertext of the
// published key, and returns v as it is otherwise.
func (s *Service) maybeDecrypt(v string) string {
	if s.box == nil {
		return v
	}
	if p, err := s.box.Decrypt(v); err == nil {
		return p
	}
	return v
}

// passkeyGate applies the anonymous-token requirement and the per-IP login limit to the
// passwordless calls, and returns the anonymous token's subject (empty without one).
func (s *Service) passkeyGate(ctx context.Context) (string, error) {
	a := AuthFrom(ctx)
	if s.cfg.AnonJWT && a.Kind != KindAnonymous {
		return "", ErrAnonymousTokenRequired
	}
	if err := s.limitIP(ctx, "login", s.limits.IPLogin); err != nil {
		return "", err
	}
	if a.Kind == KindAnonymous {
		return a.Anon.Subject, nil
	}
	return "", nil
}

// FinishPasskeyLogin checks a passwordless sign-in's assertion and starts an aal2 session
// (amr ["webauthn"]). Every refusal of the credential is INVALID_CREDENTIALS.
func (s *Service) FinishPasskeyLogin(ctx context.Context, challengeID string, credential json.RawMessage) (Tokens, error) {
	if err := s.passkeysOn(); err != nil {
		return Tokens{}, err
	}
	anon, err := s.passkeyGate(ctx)
	if err != nil {
		return Tokens{}, err
	}
	c, err := s.takeChallenge(ctx, challengeID, store.ChallengeLogin)
	if err != nil {
		return Tokens{}, err
	}
	if c.AnonSubject != anon {
		return Tokens{}, errBadCeremony
	}
	u, pu, a, err := s.finishPasskeyAssertion(ctx, c, credential)
	if err != nil {
		return Tokens{}, err
	}
	ok, err := s.usePasskey(ctx, u, pu, a)
	if err != nil {
		return Tokens{}, err
	}
	if !ok {
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "passkey_refused", "method": amrWebAuthn})
		return Tokens{}, ErrInvalidCredentials
	}
	if u.Disabled {
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "disabled", "method": amrWebAuthn})
		return Tokens{}, ErrAccountDisabled
	}
	now := s.now()
	if u, err = s.store.RecordLogin(ctx, u.ID, now); err != nil {
		return Tokens{}, err
	}
	tok, err := s.startSessionLevel(ctx, u, now, store.AAL2, []string{amrWebAuthn})
	if err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, "login", "success", u.ID, map[string]any{"method": amrWebAuthn})
	return tok, nil
}

// finishPasskeyAssertion verifies a sign-in assertion against the passkey the credential
// names (its user handle must be that passkey's owner) and, when the ceremony began with
// an email, requires that account.
func (s *Service) finishPasskeyAssertion(ctx context.Context, c store.Challenge, credential json.RawMessage) (store.User, passkey.User, passkey.Assertion, error) {
	var u store.User
	pu, a, err := s.passkeys.FinishDiscoverableLogin(c.Data, credential, func(credentialID, userHandle []byte) (passkey.User, error) {
		f, err := s.store.FactorByCredentialID(ctx, credentialID)
		if err != nil {
			return passkey.User{}, err
		}
		if f.UserID != string(userHandle) || (c.UserID != "" && f.UserID != c.UserID) {
			return passkey.User{}, passkey.ErrInvalid
		}
		if u, err = s.store.UserByID(ctx, f.UserID); err != nil {
			return passkey.User{}, err
		}
		return s.passkeyUser(ctx, u)
	})
	switch {
	case err == nil:
		return u, pu, a, nil
	case errors.Is(err, passkey.ErrInvalid), errors.Is(err, store.ErrNotFound):
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "invalid_passkey", "method": amrWebAuthn})
		return u, pu, a, ErrInvalidCredentials.with(err)
	}
	return u, pu, a, err
}
