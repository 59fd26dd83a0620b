package store

import (
	"context"
	"time"
)

// FactorType is a kind of second factor. The values are those of the API's FactorType.
type FactorType string

// The kinds of factor.
const (
	FactorTOTP     FactorType = "TOTP"
	FactorWebAuthn FactorType = "WEBAUTHN"
)

// Assurance levels of a session (NIST SP 800-63B): a password alone is aal1; a second
// factor verified on the session, or a passkey with user verification, makes it aal2.
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// Factor is one second factor of a user: a TOTP secret or a WebAuthn credential (passkey).
// A factor is pending until it is confirmed (a first TOTP code, or the end of a WebAuthn
// registration, which creates it confirmed); a pending factor expires at ExpiresAt and is
// never used to sign in.
type Factor struct {
	ID     string
	UserID string
	Type   FactorType
	Name   string // the user's label; may be empty
	// Secret is, for TOTP, the shared secret sealed by the caller (never in clear); for
	// WebAuthn, the credential record as the WebAuthn library serialises it (public key,
	// flags, transports: nothing secret). The store keeps it as given.
	Secret []byte
	// CredentialID is the WebAuthn credential id (unique among all factors); nil for TOTP.
	CredentialID []byte
	Confirmed    bool
	CreatedAt    time.Time
	// ExpiresAt is when a pending factor stops being confirmable; nil once confirmed.
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	// LastStep is, for TOTP, the last time step (Unix time / 30 s) a code was accepted for:
	// a code is accepted once, so a step at or before it is a replay.
	LastStep int64
	// SignCount is, for WebAuthn, the authenticator's signature counter last seen.
	SignCount uint32
}

// Challenge is a WebAuthn ceremony between its begin and finish calls, kept in the store so
// that any instance can finish a ceremony another began. It is single use (TakeChallenge
// removes it) and bound to what began it: the session (registration, second factor) or
// the anonymous token's subject (passwordless sign-in; empty when none was required).
type Challenge struct {
	ID          string
	Kind        ChallengeKind
	UserID      string // empty for a discoverable passwordless sign-in
	SessionID   string // registration and second factor
	AnonSubject string // passwordless sign-in under --anojwt
	Name        string // registration: the passkey's label
	// Data is the WebAuthn library's session data (the challenge, allowed credentials, user
	// verification), serialised by the caller.
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// ChallengeKind says which ceremony a Challenge belongs to; a challenge is never finished
// by another kind of ceremony.
type ChallengeKind string

// The WebAuthn ceremonies.
const (
	ChallengeRegister ChallengeKind = "register"
	ChallengeMFA      ChallengeKind = "mfa"
	ChallengeLogin    ChallengeKind = "login"
)

// MFAStore is what second factors need from a backend. Every method is one atomic
// operation. User.MFAEnabled is kept by the backend: it is true exactly while the user has
// at least one confirmed factor, so the hot path (SessionWithUser) knows without a query.
type MFAStore interface {
	// CreateFactor inserts f as given (a TOTP factor pending, a WebAuthn factor confirmed;
	// a confirmed one sets the user's MFAEnabled). ErrConflict on a duplicate ID or
	// CredentialID; ErrNotFound for an unknown user (or one whose deletion has begun).
	CreateFactor(ctx context.Context, f Factor) error
	// Factors returns the user's confirmed factors and its pending ones whose ExpiresAt is
	// after now, oldest first (CreatedAt, then ID). No factors and a nil error when none.
	Factors(ctx context.Context, userID string, now time.Time) ([]Factor, error)
	// FactorByCredentialID returns the confirmed WebAuthn factor with this credential id,
	// whoever's it is, or ErrNotFound.
	FactorByCredentialID(ctx context.Context, credentialID []byte) (Factor, error)
	// ConfirmFactor confirms the user's pending factor id when its ExpiresAt is after now:
	// Confirmed=true, ExpiresAt=nil, LastUsedAt=now, LastStep=step; it sets the user's
	// MFAEnabled and returns the factor as updated. ErrNotFound when there is no such
	// pending, unexpired factor of that user.
	ConfirmFactor(ctx context.Context, userID, id string, step int64, now time.Time) (Factor, error)
	// UseTotpStep records that a code of the user's confirmed TOTP factor id was accepted
	// for time step step: LastStep=step and LastUsedAt=now, only when LastStep < step. Of
	// concurrent calls with one step exactly one succeeds. ErrConflict when step <=
	// LastStep (a replay); ErrNotFound when the user has no such confirmed factor.
	UseTotpStep(ctx context.Context, userID, id string, step int64, now time.Time) error
	// UseWebAuthn records an assertion of the user's confirmed WebAuthn factor id with the
	// authenticator's counter count: SignCount=count and LastUsedAt=now, only when count >
	// SignCount, or when both are 0 (an authenticator without a counter). ErrConflict
	// otherwise (a cloned authenticator); ErrNotFound when the user has no such factor.
	UseWebAuthn(ctx context.Context, userID, id string, count uint32, now time.Time) error
	// DeleteFactor removes the user's factor id (pending or confirmed). When no confirmed
	// factor remains, it also clears MFAEnabled and removes the user's recovery codes. It
	// returns how many confirmed factors remain. ErrNotFound when the user has no such
	// factor.
	DeleteFactor(ctx context.Context, userID, id string) (remaining int, err error)
	// DeleteUserFactors removes every factor and recovery code of the user and clears
	// MFAEnabled (an admin's reset). It returns how many factors it removed.
	DeleteUserFactors(ctx context.Context, userID string) (int, error)

	// ReplaceRecoveryCodes replaces the user's recovery codes, used or not, with hashes
	// (the caller hashes them with a key; the store never sees a code). now is when they
	// were made.
	ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error
	// UseRecoveryCode marks the user's unused code with this hash used at now and returns
	// how many unused codes remain. Of concurrent calls with one hash exactly one succeeds.
	// ErrNotFound when the user has no unused code with that hash.
	UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (remaining int, err error)
	// CountRecoveryCodes returns how many unused recovery codes the user has.
	CountRecoveryCodes(ctx context.Context, userID string) (int, error)

	// RaiseSessionLevel sets the live session's AAL=AAL2 and AMR=amr, when the session
	// belongs to userID, is not revoked and both expiries are after now, and returns it as
	// updated (its Counter unchanged). ErrNotFound otherwise.
	RaiseSessionLevel(ctx context.Context, id, userID string, amr []string, now time.Time) (Session, error)

	// CreateChallenge inserts c. ErrConflict on a duplicate ID.
	CreateChallenge(ctx context.Context, c Challenge) error
	// TakeChallenge removes the challenge id of this kind and returns it, when its
	// ExpiresAt is after now. ErrNotFound otherwise (unknown, taken, expired, or of another
	// kind, which leaves it in place). Of concurrent calls exactly one gets it.
	TakeChallenge(ctx context.Context, id string, kind ChallengeKind, now time.Time) (Challenge, error)
}
