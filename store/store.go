// Package store defines what TokTok keeps and the atomic operations it needs on it, in the
// domain's terms. Backends (sqlite, mongodb) implement Store; storetest holds the
// conformance suite they all pass, so the account logic never depends on which one runs.
//
// Contract for every backend:
//   - Every check-then-act is one atomic operation in the backend (a conditional update or a
//     unique index), never a read followed by a write in Go.
//   - Failures are the sentinels below, wrapped with %w: ErrNotFound, ErrConflict,
//     ErrUnavailable. A method never returns a zero value with a nil error for a missing
//     record.
//   - Times are stored and returned in UTC at millisecond precision; callers pass times from
//     an injected clock, backends never read the wall clock for domain decisions.
//   - Emails are stored exactly as given: callers canonicalise them first, and the stored
//     form carries the unique index.
package store

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Backends wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound: no record matches (including records that exist but are expired or
	// revoked where the method says so).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a uniqueness constraint or an expected-state condition failed.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable: the backend could not be reached or timed out. The operation may or
	// may not have happened; it is never a statement about the data.
	ErrUnavailable = errors.New("store: unavailable")
)

// Role is a user's role. The values are those of the API's Role enum.
type Role string

// The roles, least to most privileged.
const (
	RoleUser  Role = "USER"
	RoleStaff Role = "STAFF"
	RoleAdmin Role = "ADMIN"
)

// User is an account.
type User struct {
	ID             string
	Email          string // canonical form; unique
	EmailConfirmed bool
	PendingEmail   *string // canonical; set while an email change awaits confirmation
	PasswordHash   string  // PHC string (argon2id) or a legacy hash
	Role           Role
	Name           *string
	Surname        *string
	Pseudo         *string
	Lang           string
	Agreement      bool
	Data           []byte // a JSON object as sent by the client, or nil
	Disabled       bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastLoginAt    *time.Time
	LoginCount     int
}

// Session is one sign-in. Its refresh token is derived from (ID, Counter) with an HMAC; the
// store never sees a token, only the counter that says which one is current.
type Session struct {
	ID                string
	UserID            string
	CreatedAt         time.Time
	LastUsedAt        time.Time
	IdleExpiresAt     time.Time // moves forward at every rotation
	AbsoluteExpiresAt time.Time // fixed at creation
	RevokedAt         *time.Time
	RevokedReason     string
	UserAgent         string
	IP                string
	Counter           int64     // rotation counter: the current refresh token is for this value
	RotatedAt         time.Time // when Counter last advanced (CreatedAt at first)
}

// Live reports whether the session can still be used at now.
func (s Session) Live(now time.Time) bool {
	return s.RevokedAt == nil && now.Before(s.IdleExpiresAt) && now.Before(s.AbsoluteExpiresAt)
}

// AuditEvent is one security-relevant event. Detail is a JSON object or nil and never holds
// secrets (no passwords, tokens or keys).
type AuditEvent struct {
	ID      string
	At      time.Time
	Type    string // e.g. "login", "register", "refresh_reuse", "logout"
	Outcome string // "success" or "failure"
	UserID  string // may be empty
	ActorID string // may be empty
	IP      string
	Detail  []byte
}

// Store is what the account logic needs from a backend.
type Store interface {
	// CreateUser inserts u. ErrConflict when u.Email (or u.ID) is already used.
	CreateUser(ctx context.Context, u User) error
	// UserByID returns the user or ErrNotFound.
	UserByID(ctx context.Context, id string) (User, error)
	// UserByEmail returns the user whose canonical email is email, or ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// RecordLogin atomically sets LastLoginAt=now, increments LoginCount and sets
	// UpdatedAt=now, returning the updated user. ErrNotFound for an unknown id.
	RecordLogin(ctx context.Context, userID string, now time.Time) (User, error)
	// SetPasswordHash replaces the password hash only if it still equals oldHash (so a
	// concurrent change is not overwritten by a rehash). ErrConflict when it changed,
	// ErrNotFound for an unknown id.
	SetPasswordHash(ctx context.Context, userID, oldHash, newHash string, now time.Time) error

	// CreateSession inserts s. ErrConflict on a duplicate ID.
	CreateSession(ctx context.Context, s Session) error
	// SessionByID returns the session whatever its state, or ErrNotFound.
	SessionByID(ctx context.Context, id string) (Session, error)
	// AdvanceSession is the refresh rotation, one atomic conditional update: when the
	// session's Counter equals from, it is not revoked, and both expiries are after now, it
	// sets Counter=from+1, RotatedAt=LastUsedAt=now, IdleExpiresAt=idleExpiresAt (never past
	// AbsoluteExpiresAt) and returns the updated session. Otherwise ErrConflict when the
	// session exists (whatever the reason), ErrNotFound when it does not.
	AdvanceSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (Session, error)
	// ListLiveSessions returns the user's sessions that are live at now, newest first.
	ListLiveSessions(ctx context.Context, userID string, now time.Time) ([]Session, error)
	// RevokeSession marks the user's session revoked at now with reason when it is not
	// already revoked. It reports whether this call revoked it; ErrNotFound when no session
	// with that id belongs to userID (an empty userID matches any owner).
	RevokeSession(ctx context.Context, id, userID string, now time.Time, reason string) (bool, error)
	// RevokeUserSessions revokes every unrevoked session of userID except exceptID (may be
	// empty) and returns how many it revoked.
	RevokeUserSessions(ctx context.Context, userID, exceptID string, now time.Time, reason string) (int, error)

	// AppendAudit records an event. ErrConflict on a duplicate ID.
	AppendAudit(ctx context.Context, e AuditEvent) error
	// AuditEvents returns up to limit events, newest first (ties broken by ID descending),
	// only those of userID when it is not empty.
	AuditEvents(ctx context.Context, userID string, limit int) ([]AuditEvent, error)

	// Ping reports whether the backend is reachable (ErrUnavailable otherwise).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// MailState is where an outbox mail stands.
type MailState string

// The outbox states: pending mails are sent by a worker; sent and failed are final.
const (
	MailPending MailState = "pending"
	MailSent    MailState = "sent"
	MailFailed  MailState = "failed"
)

// Mail is one message in the durable outbox, rendered when queued so that what is sent
// does not depend on templates changing later. Its body holds the link token in clear
// until it is sent, then the body is scrubbed: the outbox is the one place a link token
// exists unhashed, for as long as delivery needs it.
type Mail struct {
	ID            string
	Kind          string // template name, for logs and metrics: "confirm", "reset", ...
	To            string
	Subject       string
	Text          string
	HTML          string
	State         MailState
	Attempts      int
	CreatedAt     time.Time
	NextAttemptAt time.Time // not sent before this
	LeaseOwner    string    // the worker holding the mail, while LeaseUntil is in the future
	LeaseUntil    time.Time
	SentAt        *time.Time
	LastError     string // short, no secrets
}

// LinkPurpose says what an email-link token may do.
type LinkPurpose string

// The purposes of email-link tokens; a token is never accepted for another purpose.
const (
	LinkConfirm     LinkPurpose = "confirm"
	LinkReset       LinkPurpose = "reset"
	LinkEmailChange LinkPurpose = "email_change"
)

// LinkToken is a single-use email-link token, stored only as a hash of its value.
type LinkToken struct {
	Hash      string // hex SHA-256 of the token; the token itself is never stored
	UserID    string
	Purpose   LinkPurpose
	Email     string // the address the link was mailed to (the new address for email_change)
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time // set when consumed or voided
}
