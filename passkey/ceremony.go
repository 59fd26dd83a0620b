package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/toktok/toktok/store"
)

// BeginRegistration starts registering a passkey for u: user verification and a resident
// (discoverable) key required, no attestation, u's existing credentials excluded. options
// is the PublicKeyCredentialCreationOptions JSON for the browser; session is for
// FinishRegistration.
func (s *Service) BeginRegistration(u User) (options json.RawMessage, session []byte, err error) {
	w, err := newWAUser(u)
	if err != nil {
		return nil, nil, err
	}
	creation, sd, err := s.wa.BeginRegistration(w,
		webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()))
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return encode(creation.Response, sd)
}

// FinishRegistration verifies the browser's RegistrationResponseJSON against the session
// BeginRegistration returned for the same user, and returns the new credential.
func (s *Service) FinishRegistration(u User, session []byte, credential json.RawMessage) (Credential, error) {
	w, err := newWAUser(u)
	if err != nil {
		return Credential{}, err
	}
	sd, err := decodeSession(session)
	if err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return Credential{}, invalid(err)
	}
	c, err := s.wa.CreateCredential(w, sd, parsed)
	if err != nil {
		return Credential{}, invalid(err)
	}
	if w.factorID(c.ID) != "" {
		return Credential{}, fmt.Errorf("%w: the credential is already registered", ErrInvalid)
	}
	record, err := json.Marshal(c)
	if err != nil {
		return Credential{}, fmt.Errorf("passkey: credential record: %w", err)
	}
	return Credential{ID: c.ID, Record: record, SignCount: c.Authenticator.SignCount}, nil
}

// BeginLogin starts an assertion by u (a second factor, or a passwordless sign-in with the
// email typed): u's credentials allowed, user verification required. ErrNoCredentials
// when u has none.
func (s *Service) BeginLogin(u User) (options json.RawMessage, session []byte, err error) {
	w, err := newWAUser(u)
	if err != nil {
		return nil, nil, err
	}
	if len(w.creds) == 0 {
		return nil, nil, ErrNoCredentials
	}
	assertion, sd, err := s.wa.BeginLogin(w)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin login: %w", err)
	}
	return encode(assertion.Response, sd)
}

// BeginDiscoverableLogin starts a passwordless sign-in without a user: no credentials
// listed, so the authenticator offers its passkeys for this relying party; user
// verification required.
func (s *Service) BeginDiscoverableLogin() (options json.RawMessage, session []byte, err error) {
	assertion, sd, err := s.wa.BeginDiscoverableLogin()
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: begin discoverable login: %w", err)
	}
	return encode(assertion.Response, sd)
}

// FinishLogin verifies the browser's AuthenticationResponseJSON against the session
// BeginLogin returned for the same user.
func (s *Service) FinishLogin(u User, session []byte, credential json.RawMessage) (Assertion, error) {
	w, err := newWAUser(u)
	if err != nil {
		return Assertion{}, err
	}
	sd, err := decodeSession(session)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return Assertion{}, invalid(err)
	}
	c, err := s.wa.ValidateLogin(w, sd, parsed)
	if err != nil {
		return Assertion{}, invalid(err)
	}
	return assertionOf(w, c, parsed)
}

// FinishDiscoverableLogin verifies the browser's AuthenticationResponseJSON against the
// session BeginDiscoverableLogin returned. lookup finds the user by the response's user
// handle (our user id; credentialID is given too, for logging); the credential must be one
// of that user's. A lookup error is returned wrapped; when it is store.ErrNotFound the
// result also wraps ErrInvalid (an unknown user handle is a bad credential).
func (s *Service) FinishDiscoverableLogin(session []byte, credential json.RawMessage,
	lookup func(credentialID, userHandle []byte) (User, error)) (User, Assertion, error) {
	sd, err := decodeSession(session)
	if err != nil {
		return User{}, Assertion{}, err
	}
	if len(sd.UserID) != 0 {
		return User{}, Assertion{}, fmt.Errorf("%w: the session is not a discoverable login", ErrInvalid)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return User{}, Assertion{}, invalid(err)
	}
	handle := parsed.Response.UserHandle
	if len(handle) == 0 {
		return User{}, Assertion{}, fmt.Errorf("%w: the response has no user handle", ErrInvalid)
	}
	u, err := lookup(parsed.RawID, handle)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return User{}, Assertion{}, fmt.Errorf("%w: user handle: %w", ErrInvalid, err)
		}
		return User{}, Assertion{}, fmt.Errorf("passkey: user handle lookup: %w", err)
	}
	w, err := newWAUser(u)
	if err != nil {
		return User{}, Assertion{}, err
	}
	if !bytes.Equal(w.WebAuthnID(), handle) || w.factorID(parsed.RawID) == "" {
		return User{}, Assertion{}, fmt.Errorf("%w: the credential is not the user's", ErrInvalid)
	}
	_, c, err := s.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return w, nil }, sd, parsed)
	if err != nil {
		return User{}, Assertion{}, invalid(err)
	}
	a, err := assertionOf(w, c, parsed)
	if err != nil {
		return User{}, Assertion{}, err
	}
	return u, a, nil
}

// assertionOf makes the Assertion of a verified response with credential c of w.
func assertionOf(w *waUser, c *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (Assertion, error) {
	a := Assertion{
		FactorID:     w.factorID(c.ID),
		SignCount:    parsed.Response.AuthenticatorData.Counter,
		CloneWarning: c.Authenticator.CloneWarning,
	}
	if a.FactorID == "" { // go-webauthn found it among w's credentials: cannot happen
		return Assertion{}, fmt.Errorf("%w: unknown credential", ErrInvalid)
	}
	if !a.CloneWarning {
		record, err := json.Marshal(c)
		if err != nil {
			return Assertion{}, fmt.Errorf("passkey: credential record: %w", err)
		}
		a.Record = record
	}
	return a, nil
}
