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

	"github.com/toktok/toktok/internal/textcut"
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
	// MFAEnabled is true while the user has at least one confirmed second factor; the
	// backend keeps it (MFAStore), it is never set through CreateUser or an update.
	MFAEnabled bool
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
	// AAL is the session's assurance level (AAL1 or AAL2; empty is read as AAL1) and AMR
	// the methods that reached it ("pwd", "otp", "recovery", "webauthn"). CreateSession
	// stores them as given; only RaiseSessionLevel changes them.
	AAL string
	AMR []string
}

// Level returns the session's assurance level, AAL1 when none was recorded.
func (s Session) Level() string {
	if s.AAL == "" {
		return AAL1
	}
	return s.AAL
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
	// CountLiveSessions counts the sessions live at now whose ID is in [from, to) (to ""
	// means no upper bound), stopping at limit when limit > 0. It reads that range of IDs
	// only: the active-sessions gauge samples a few ranges instead of counting them all.
	CountLiveSessions(ctx context.Context, from, to string, now time.Time, limit int) (int, error)
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
	// PurgeAudit deletes the events whose At is before before (the retention) and
	// returns how many it removed.
	PurgeAudit(ctx context.Context, before time.Time) (int, error)

	// The staff API (admin.go has the types).
	//
	// ListUsers returns up to limit users (none when limit <= 0) matching f, in the order
	// of UserKey (CreatedAt, then ID, ascending), strictly after the key after when it is
	// not nil: a keyset, so a user that exists throughout a pagination is returned exactly
	// once whatever is inserted or deleted between pages, and the key after need not be a
	// user's any more. Users are compared at the stored millisecond precision. A user
	// whose deletion has begun is in no listing and no count.
	ListUsers(ctx context.Context, f UserFilter, after *UserKey, limit int) ([]User, error)
	// CountUsers returns how many users match f.
	CountUsers(ctx context.Context, f UserFilter) (int, error)
	// AuditEventsAfter returns up to limit events (none when limit <= 0), newest first
	// (At, then ID, descending), only those of userID when it is not empty, strictly
	// after (older than) the key after when it is not nil: a keyset, like ListUsers.
	AuditEventsAfter(ctx context.Context, userID string, after *AuditKey, limit int) ([]AuditEvent, error)
	// SetRole sets the user's Role and UpdatedAt=now. ErrNotFound for an unknown user (or
	// one whose deletion has begun).
	SetRole(ctx context.Context, userID string, role Role, now time.Time) error
	// SetDisabled sets the user's Disabled flag and UpdatedAt=now (its sessions are left
	// as they are: authentication refuses a disabled account's). ErrNotFound for an
	// unknown user (or one whose deletion has begun).
	SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error
	// PromoteFirstAdmin is the first-admin rule (roles.go says more): it makes the user an
	// ADMIN, with UpdatedAt=now, when no user is an ADMIN, atomically: of concurrent calls
	// for different users while there is none, exactly one promotes. It returns what it
	// changed: the zero RoleChange when it promoted nobody (an ADMIN exists, the user
	// included). ErrNotFound for an unknown user (or one whose deletion has begun).
	PromoteFirstAdmin(ctx context.Context, userID string, now time.Time) (RoleChange, error)
	// The admin mutations under the last-admin rule (adminops.go).
	AdminOps

	// ConfirmEmail sets EmailConfirmed=true and UpdatedAt=now when the user's current Email
	// equals email (the address the link was sent to) and returns the user. ErrConflict when
	// the address changed since, ErrNotFound for an unknown user. Idempotent: on an already
	// confirmed user with that Email it changes nothing (UpdatedAt included) and returns
	// the user.
	ConfirmEmail(ctx context.Context, userID, email string, now time.Time) (User, error)
	// SetPendingEmail sets (or clears, with nil) PendingEmail and sets UpdatedAt=now.
	// ErrNotFound for an unknown user.
	SetPendingEmail(ctx context.Context, userID string, pending *string, now time.Time) error
	// ApplyEmailChange, one atomic conditional update, sets Email=newEmail,
	// EmailConfirmed=true, PendingEmail=nil and UpdatedAt=now only if PendingEmail still
	// equals newEmail, and returns the updated user. ErrConflict when PendingEmail differs
	// (or is nil) or newEmail is now another account's (the unique email index decides);
	// ErrNotFound for an unknown user.
	ApplyEmailChange(ctx context.Context, userID, newEmail string, now time.Time) (User, error)
	// SetPassword replaces the password hash unconditionally (reset, change) and sets
	// UpdatedAt=now. ErrNotFound for an unknown user.
	SetPassword(ctx context.Context, userID, hash string, now time.Time) error
	// UpdateProfile, one atomic update, sets the profile fields p says (ProfileUpdate) and
	// UpdatedAt=now, leaves every other field as it is, and returns the updated user.
	// ErrNotFound for an unknown user, or one whose deletion has begun.
	UpdateProfile(ctx context.Context, userID string, p ProfileUpdate, now time.Time) (User, error)

	// CreateLinkToken inserts t as given. ErrConflict on a duplicate Hash.
	CreateLinkToken(ctx context.Context, t LinkToken) error
	// ConsumeLinkToken atomically marks the token with this hash used (UsedAt=now) when it
	// has this purpose, is unused and ExpiresAt is after now, and returns it as updated.
	// Otherwise ErrNotFound, one answer whether it is unknown, used, expired or for another
	// purpose (which leaves it unused). Of concurrent consumers exactly one succeeds.
	ConsumeLinkToken(ctx context.Context, hash string, purpose LinkPurpose, now time.Time) (LinkToken, error)
	// LinkToken returns the token with this hash when it has this purpose, is unused and
	// ExpiresAt is after now, without consuming it (a reset checks the new password before
	// it spends the link). ErrNotFound otherwise, with one answer for every reason.
	LinkToken(ctx context.Context, hash string, purpose LinkPurpose, now time.Time) (LinkToken, error)
	// VoidLinkTokens marks every unused token of userID with this purpose, expired ones
	// included, used at now (a newer link voids older ones) and returns how many.
	VoidLinkTokens(ctx context.Context, userID string, purpose LinkPurpose, now time.Time) (int, error)

	// EnqueueMail inserts m into the outbox with State pending, whatever m.State says;
	// the other fields are stored as given (LastError cut as in MarkMailRetry).
	// ErrConflict on a duplicate ID.
	EnqueueMail(ctx context.Context, m Mail) error
	// ClaimMails atomically takes up to n (none when n <= 0) pending mails whose
	// NextAttemptAt <= now and whose lease is free or expired (LeaseUntil <= now), choosing
	// the oldest NextAttemptAt first (ties by ID); sets LeaseOwner=worker,
	// LeaseUntil=leaseUntil and Attempts+1; and returns them as updated, in that order.
	// Concurrent claimers never get the same mail.
	ClaimMails(ctx context.Context, worker string, now, leaseUntil time.Time, n int) ([]Mail, error)
	// MarkMailSent sets State=sent and SentAt=now, clears the lease (LeaseOwner "",
	// LeaseUntil zero) and scrubs Text and HTML (they may hold a link token), only if the
	// mail is pending and worker (not empty) holds its lease, LeaseOwner==worker, whether or
	// not LeaseUntil has passed. ErrConflict otherwise (another worker took the mail over,
	// or it is already final); ErrNotFound for an unknown id. LastError is kept.
	MarkMailSent(ctx context.Context, id, worker string, now time.Time) error
	// MarkMailRetry keeps the mail pending with NextAttemptAt=next and LastError=lastErr
	// cut to at most 500 bytes (at a UTF-8 character boundary), and clears the lease; the
	// body and Attempts are kept. Same lease condition and errors as MarkMailSent.
	MarkMailRetry(ctx context.Context, id, worker string, next time.Time, lastErr string) error
	// MarkMailFailed sets State=failed and LastError=lastErr (cut as in MarkMailRetry),
	// clears the lease and scrubs Text and HTML. now is when the mail became final, which
	// PurgeExpired dates it by (Mail has no field for it; SentAt stays nil). Same lease
	// condition and errors as MarkMailSent.
	MarkMailFailed(ctx context.Context, id, worker string, now time.Time, lastErr string) error
	// MailByID returns a mail whatever its state (operations and tests). ErrNotFound when
	// unknown.
	MailByID(ctx context.Context, id string) (Mail, error)
	// MailsTo returns every outbox mail whose To is to, whatever its state, oldest first
	// (CreatedAt, ties by ID): no mails and a nil error, never ErrNotFound, when there is
	// none. to is matched exactly, as EnqueueMail stored it, so callers pass the canonical
	// address. Mails come back as stored, every field as MailByID returns it: the bodies
	// of pending mails as queued (sealed: mailer.Queue seals them), those of sent and
	// failed mails scrubbed (empty); mails PurgeExpired removed are gone. For operations
	// (the admin console) and tests.
	MailsTo(ctx context.Context, to string) ([]Mail, error)
	// OutboxStats reads the outbox as operators watch it at now (OutboxStats says what
	// each field counts). It reads no mail body, and only pending and failed mails (by
	// the index on state), never the sent ones, the bulk of the outbox; so it is cheap to
	// call about every minute, as the worker's backlog watch and a metrics gauge do. Where
	// the backend cannot read every field in one query, the fields are not a snapshot of
	// one instant, but they are consistent: OldestCreatedAt is zero exactly when Pending
	// is 0, and Due <= Pending.
	OutboxStats(ctx context.Context, now time.Time) (OutboxStats, error)

	// Hit counts one event for key in a fixed window, in one atomic operation: when the key
	// is new or its window has ended (ResetAt <= now), Count becomes 1 and ResetAt
	// now+window; otherwise Count+1 with ResetAt unchanged. Returns the counter after the
	// hit, so of concurrent hits each sees a different Count. Counters are shared by every
	// instance through the store.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (Counter, error)
	// PeekCounter returns key's counter as of now without counting; the zero Counter
	// (Count 0, zero ResetAt) when the key is absent or its window has ended
	// (ResetAt <= now).
	PeekCounter(ctx context.Context, key string, now time.Time) (Counter, error)
	// HoldCounter atomically moves key's ResetAt to until if that is later (a cooldown),
	// keeping Count, or creates the key with Count 0 and ResetAt until if absent. It knows
	// no now: holding a key whose window has already ended revives its old Count, so
	// callers hold right after a Hit.
	HoldCounter(ctx context.Context, key string, until time.Time) error
	// ResetCounter deletes key (a password reset clears login cooldowns). An absent key is
	// not an error.
	ResetCounter(ctx context.Context, key string) error
	// ReleaseHit takes back one event that Hit counted for key and answered with c, in
	// one atomic operation: Count-1 when the key is still in c's window (the same
	// ResetAt) and Count > 0; otherwise nothing, as a new window, a cooldown (which moves
	// ResetAt) or a reset has already made the event moot. It is for an event that turned
	// out not to happen: a login shed before its password was checked must not count
	// toward the account's failure limit.
	ReleaseHit(ctx context.Context, key string, c Counter) error
	// PurgeExpired deletes what can no longer matter at now and returns how many records
	// it removed in all: counters with ResetAt <= now; link tokens whose ExpiresAt or
	// UsedAt is more than a day before now; sessions whose earlier expiry (idle or
	// absolute) or revocation is more than a day before now; sent and failed mails that
	// became final (MarkMailSent's or MarkMailFailed's now) more than 7 days before now;
	// WebAuthn challenges whose ExpiresAt is before now; pending factors whose ExpiresAt is
	// more than a day before now. "More than" is strict: exactly a day (7 days) before now is kept. Pending mails,
	// users and audit events are never purged. It is not one transaction: a backend may
	// delete in batches (SQLite does, so that other writers get the lock between them); on
	// an error or a cancelled ctx it returns the count deleted so far with the error, and
	// the next call deletes the rest.
	PurgeExpired(ctx context.Context, now time.Time) (int, error)

	// BeginUserDeletion is the first step of deleting an account, one atomic write: from
	// its return on, UserByID, UserByEmail, RecordLogin and UpdateProfile answer
	// ErrNotFound for the user (so every session of it is refused, and its links find no
	// account), its Email is free for CreateUser and ApplyEmailChange, and a deletion
	// record remains until FinishUserDeletion, which a crash in between leaves to
	// FinishDeletions. It returns the record, At=now. ErrNotFound for an unknown user or
	// one whose deletion has begun; ErrConflict (retry) from a backend that must read the
	// addresses before its write, when they kept changing in between. Audit events are
	// the user's history: they stay (PurgeAudit ages them out).
	BeginUserDeletion(ctx context.Context, userID string, now time.Time) (Deletion, error)
	// FinishUserDeletion removes what a begun deletion left, then its record: every
	// session, link token, factor, recovery code and WebAuthn challenge of userID, and the
	// pending mails to the account's address or pending address (Deletion.Email,
	// PendingEmail) queued before the deletion began
	// (CreatedAt < Deletion.At, so that a mail queued since, the deletion notice or a new
	// account's confirmation, is kept) and not leased to a worker at now. It returns how
	// many records it removed, the deletion record included. Idempotent: a second call, or
	// one for a user with no deletion begun, removes nothing and succeeds. Each removal is
	// atomic; a failure part way leaves the record, so a later call finishes the rest.
	FinishUserDeletion(ctx context.Context, userID string, now time.Time) (int, error)
	// FinishDeletions runs FinishUserDeletion at now for every deletion begun at or before
	// now (the periodic purge: a crash between the two steps leaves one behind) and returns
	// how many records it removed in all.
	FinishDeletions(ctx context.Context, now time.Time) (int, error)
	// BeginUnconfirmedDeletions begins, as BeginUserDeletion does at now, the deletion of
	// up to limit accounts (none when limit <= 0) whose address is unconfirmed
	// (EmailConfirmed false: a pending email change does not count) and whose CreatedAt
	// is before createdBefore, oldest first, and returns their records. Each deletion is
	// conditional on both, atomically: an account confirmed meanwhile is kept, and of
	// concurrent calls each account is begun by exactly one. FinishUserDeletion (or
	// FinishDeletions) does the rest.
	BeginUnconfirmedDeletions(ctx context.Context, createdBefore, now time.Time, limit int) ([]Deletion, error)

	// Second factors, recovery codes, session levels and WebAuthn challenges (mfa.go).
	MFAStore

	// Ping reports whether the backend is reachable (ErrUnavailable otherwise).
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// SessionUserStore is implemented by stores that can read a session together with its
// user, and rotate a session and read its user, each in one statement: the hot paths of
// every authenticated request and of every refresh. The account service uses it when the
// store has it and otherwise makes the same checks with SessionByID, UserByID and
// AdvanceSession; the answers are the same either way.
type SessionUserStore interface {
	// SessionWithUser returns the session whatever its state and its user, or ErrNotFound
	// when either does not exist.
	SessionWithUser(ctx context.Context, id string) (Session, User, error)
	// AdvanceSessionWithUser is AdvanceSession that also requires the session's user to
	// exist and not to be disabled, and returns it. On any refusal it changes nothing and
	// answers ErrConflict or ErrNotFound without saying which rule refused: the caller then
	// takes the general path (SessionByID, UserByID, AdvanceSession), which tells.
	AdvanceSessionWithUser(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (Session, User, error)
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
// does not depend on templates changing later. Its body carries the link token, so it is
// stored sealed (mailer.Queue is the one way mails are queued, and it always seals) and
// scrubbed once sent: the outbox is the one place a link token exists unhashed, encrypted
// at rest, for as long as delivery needs it.
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

// OutboxStats is the outbox at one instant, for operators: each count is a gauge, read
// again at every scrape or check, never a counter to add up. A backlog shows as Pending
// and OldestAge growing together: mails are queued (requests succeed) but not leaving.
// Due then says why: near Pending, no worker claims them (none runs, or none keeps up);
// near 0, they wait for their retry, and LastError of the pending mails says what the
// relay answered.
type OutboxStats struct {
	// Pending is the backlog's depth: mails neither sent nor failed, whether a worker
	// holds them or they wait for their next attempt.
	Pending int
	// Due is how many of Pending are due at now (NextAttemptAt <= now): they wait for no
	// backoff, a worker is sending them or may claim them now.
	Due int
	// Failed is how many mails are kept as failed (refused for good, or out of attempts):
	// PurgeExpired removes them 7 days after they failed, so it counts about a week.
	Failed int
	// OldestCreatedAt is when the oldest pending mail was queued (its CreatedAt); zero
	// when nothing is pending.
	OldestCreatedAt time.Time
}

// OldestAge is how long the oldest pending mail has waited at now: zero when nothing is
// pending, and never negative (a clock that went back, or another instance's ahead).
func (s OutboxStats) OldestAge(now time.Time) time.Duration {
	if s.OldestCreatedAt.IsZero() || now.Before(s.OldestCreatedAt) {
		return 0
	}
	return now.Sub(s.OldestCreatedAt)
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

// Counter is a fixed-window rate-limit counter: Count events since the window began, which
// ends at ResetAt.
type Counter struct {
	Count   int
	ResetAt time.Time
}

// MaxLastError is the most bytes of an error message a mail keeps (Mail.LastError).
const MaxLastError = 500

// TruncateLastError cuts msg to at most MaxLastError bytes at a character boundary,
// dropping invalid UTF-8, so the stored text is always valid UTF-8 (BSON strings must be,
// and so must JSON). Backends apply it in EnqueueMail, MarkMailRetry and MarkMailFailed.
func TruncateLastError(msg string) string {
	return textcut.Bytes(msg, MaxLastError)
}

// ProfileUpdate says which profile fields UpdateProfile changes: those whose Set flag is
// true, to the value beside it. A nil Name, Surname, Pseudo or Data clears the field (nil
// Data is no document, as in User); Lang is never cleared, callers validate it. Callers
// validate every value first (account's input rules): the store writes what it is given.
type ProfileUpdate struct {
	SetName    bool
	Name       *string
	SetSurname bool
	Surname    *string
	SetPseudo  bool
	Pseudo     *string
	SetLang    bool
	Lang       string
	SetData    bool
	Data       []byte
}

// Deletion is an account deletion that BeginUserDeletion began and FinishUserDeletion has
// not finished yet: which account, the addresses it had (its queued mails go to them) and
// when it began.
type Deletion struct {
	UserID       string
	Email        string  // the account's address when the deletion began, canonical
	PendingEmail *string // its pending new address then, if an email change was pending
	At           time.Time
}
