// Package passkey runs the WebAuthn ceremonies: registering a passkey, and asserting one
// as a second factor or to sign in without a password. It is pure ceremony logic on top of
// go-webauthn: the caller keeps the factors and the challenges in the store, hands this
// package the user's credentials and the session data it got from a Begin call, and
// records what a Finish call returns (the new credential, the new signature counter).
//
// Nothing is kept in memory between a Begin and its Finish, so any instance built from the
// same Config can finish a ceremony another began.
package passkey

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/toktok/toktok/store"
)

// ErrInvalid is wrapped (with %w) by every verification failure: a response that does not
// verify, session data that is malformed or expired, a credential that is not the user's.
// Callers map it to INVALID_CREDENTIALS; any other error is the caller's or the server's
// fault (a corrupt credential record, a failing lookup).
var ErrInvalid = errors.New("passkey: invalid credential or ceremony")

// ErrNoCredentials is returned by BeginLogin for a user without a passkey. It wraps
// ErrInvalid: there is nothing to assert with.
var ErrNoCredentials = fmt.Errorf("%w: the user has no passkey", ErrInvalid)

// DefaultTimeout is the ceremony timeout when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Config is the relying party: who the browser binds passkeys to and where from.
type Config struct {
	// RPID is the relying party id, a registrable domain ("auth.example.com",
	// "localhost"); a passkey works on this domain and its subdomains only.
	RPID          string
	RPDisplayName string
	// Origins are the origins a ceremony may come from ("https://auth.example.com",
	// "http://localhost:8080"); the client data names one.
	Origins []string
	// Timeout is advertised to the browser and enforced when a ceremony is finished
	// (DefaultTimeout when zero).
	Timeout time.Duration
}

// Service runs the ceremonies of one relying party. It is safe for concurrent use.
type Service struct {
	wa *webauthn.WebAuthn
}

// New checks cfg and returns a Service for it.
func New(cfg Config) (*Service, error) {
	if cfg.RPID == "" || cfg.RPDisplayName == "" || len(cfg.Origins) == 0 {
		return nil, errors.New("passkey: RPID, RPDisplayName and Origins are required")
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	each := webauthn.TimeoutConfig{Enforce: true, Timeout: timeout, TimeoutUVD: timeout}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPDisplayName,
		RPOrigins:             append([]string(nil), cfg.Origins...),
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: protocol.ResidentKeyRequired(),
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{Login: each, Registration: each},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{wa: wa}, nil
}

// User is the account as a ceremony sees it. ID is our user id (random, opaque): it is the
// WebAuthn user handle. Credentials are the user's confirmed WEBAUTHN factors; factors of
// another type or not confirmed are ignored.
type User struct {
	ID, Name, DisplayName string // Name = email, DisplayName = name or email
	Credentials           []store.Factor
}

// Credential is a passkey a registration created, for the caller to store as a confirmed
// WEBAUTHN factor.
type Credential struct {
	ID        []byte // the credential id: store.Factor.CredentialID
	Record    []byte // the credential record (JSON of webauthn.Credential): store.Factor.Secret
	SignCount uint32 // the authenticator's counter at registration: store.Factor.SignCount
}

// Assertion is the outcome of a verified assertion.
type Assertion struct {
	// FactorID is the store.Factor.ID of the credential used.
	FactorID string
	// SignCount is the authenticator's new signature counter, for the caller to record
	// atomically (store.MFAStore.UseWebAuthn refuses one that did not increase).
	SignCount uint32
	// CloneWarning says the counter did not increase when it should have: two copies of
	// the key may exist. The signature verified, but the caller refuses and audits.
	CloneWarning bool
	// Record is the credential record updated with this assertion's flags and counter;
	// nil on a CloneWarning (nothing of that assertion should be kept).
	Record []byte
}

// waUser is a User as go-webauthn wants it, with its credential records decoded.
type waUser struct {
	id, name, displayName string
	creds                 []webauthn.Credential
	factorIDs             []string // factorIDs[i] is the factor of creds[i]
}

func (u *waUser) WebAuthnID() []byte                         { return []byte(u.id) }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.displayName }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// factorID returns the factor id of the credential with this id, or "".
func (u *waUser) factorID(credentialID []byte) string {
	for i, c := range u.creds {
		if bytes.Equal(c.ID, credentialID) {
			return u.factorIDs[i]
		}
	}
	return ""
}

// newWAUser decodes the credential records of u's confirmed WEBAUTHN factors. The counter
// a record is checked against is the larger of the record's and the factor's SignCount,
// since the store advances Factor.SignCount on each assertion without rewriting the record.
func newWAUser(u User) (*waUser, error) {
	if u.ID == "" || len(u.ID) > protocol.MaximumUserHandleLength {
		return nil, fmt.Errorf("passkey: a user id must be 1 to %d bytes", protocol.MaximumUserHandleLength)
	}
	w := &waUser{id: u.ID, name: u.Name, displayName: u.DisplayName}
	if w.displayName == "" {
		w.displayName = u.Name
	}
	for _, f := range u.Credentials {
		if f.Type != store.FactorWebAuthn || !f.Confirmed {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(f.Secret, &c); err != nil {
			return nil, fmt.Errorf("passkey: factor %s: credential record: %w", f.ID, err)
		}
		if len(c.ID) == 0 || (f.CredentialID != nil && !bytes.Equal(c.ID, f.CredentialID)) {
			return nil, fmt.Errorf("passkey: factor %s: the record's credential id is not the factor's", f.ID)
		}
		c.Authenticator.SignCount = max(c.Authenticator.SignCount, f.SignCount)
		c.Authenticator.CloneWarning = false // this assertion's verdict only
		w.creds = append(w.creds, c)
		w.factorIDs = append(w.factorIDs, f.ID)
	}
	return w, nil
}

// invalid wraps a verification failure with ErrInvalid, keeping go-webauthn's detail.
func invalid(err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return fmt.Errorf("%w: %w (%s)", ErrInvalid, err, pe.DevInfo)
	}
	return fmt.Errorf("%w: %w", ErrInvalid, err)
}

// decodeSession parses session data a Begin call returned. It is decoded into a fresh
// value, as go-webauthn requires. Every ceremony of this package requires user
// verification and has an expiry, whatever the session data says.
func decodeSession(session []byte) (webauthn.SessionData, error) {
	var sd webauthn.SessionData
	if err := json.Unmarshal(session, &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("%w: session data: %w", ErrInvalid, err)
	}
	if sd.Expires.IsZero() {
		return webauthn.SessionData{}, fmt.Errorf("%w: session data without an expiry", ErrInvalid)
	}
	sd.UserVerification = protocol.VerificationRequired
	return sd, nil
}

// encode marshals the options and the session data of a Begin call.
func encode(options any, session *webauthn.SessionData) (json.RawMessage, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: options: %w", err)
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, fmt.Errorf("passkey: session data: %w", err)
	}
	return o, s, nil
}
