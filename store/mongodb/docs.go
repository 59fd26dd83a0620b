package mongodb

import (
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/toktok/toktok/store"
)

// The stored form of each record. Field names are snake_case; _id is the application's
// string ID (the hash for link tokens, the key for counters). Times are BSON datetimes,
// milliseconds since the epoch; nil pointers and absent times are null; byte slices are
// binary, nil being null, so nil and empty stay distinct.

type userDoc struct {
	ID             string         `bson:"_id"`
	Email          string         `bson:"email"`
	EmailConfirmed bool           `bson:"email_confirmed"`
	PendingEmail   *string        `bson:"pending_email"`
	PasswordHash   string         `bson:"password_hash"`
	Role           string         `bson:"role"`
	Name           *string        `bson:"name"`
	Surname        *string        `bson:"surname"`
	Pseudo         *string        `bson:"pseudo"`
	Lang           string         `bson:"lang"`
	Agreement      bool           `bson:"agreement"`
	Data           []byte         `bson:"data"`
	Disabled       bool           `bson:"disabled"`
	CreatedAt      bson.DateTime  `bson:"created_at"`
	UpdatedAt      bson.DateTime  `bson:"updated_at"`
	LastLoginAt    *bson.DateTime `bson:"last_login_at"`
	LoginCount     int64          `bson:"login_count"`
	// The folded copies of name, surname and pseudo that ListUsers' query compares
	// (admin.go): not part of store.User, written with the fields they copy.
	NameFold    string `bson:"name_fold"`
	SurnameFold string `bson:"surname_fold"`
	PseudoFold  string `bson:"pseudo_fold"`
	// MFAFactors holds the IDs of the user's confirmed factors, and at worst a few more
	// (mfa.go says when): User.MFAEnabled is that it is not empty. Absent until the first
	// factor, never null, so that $addToSet and $pullAll apply.
	MFAFactors []string `bson:"mfa_factors,omitempty"`
}

func toUserDoc(u store.User) userDoc {
	return userDoc{
		ID: u.ID, Email: u.Email, EmailConfirmed: u.EmailConfirmed, PendingEmail: u.PendingEmail,
		PasswordHash: u.PasswordHash, Role: string(u.Role), Name: u.Name, Surname: u.Surname,
		Pseudo: u.Pseudo, Lang: u.Lang, Agreement: u.Agreement, Data: u.Data, Disabled: u.Disabled,
		CreatedAt: dt(u.CreatedAt), UpdatedAt: dt(u.UpdatedAt), LastLoginAt: dtPtr(u.LastLoginAt),
		LoginCount: int64(u.LoginCount),
		NameFold:   foldName(u.Name), SurnameFold: foldName(u.Surname), PseudoFold: foldName(u.Pseudo),
	}
}

func (d userDoc) user() store.User {
	return store.User{
		ID: d.ID, Email: d.Email, EmailConfirmed: d.EmailConfirmed, PendingEmail: d.PendingEmail,
		PasswordHash: d.PasswordHash, Role: store.Role(d.Role), Name: d.Name, Surname: d.Surname,
		Pseudo: d.Pseudo, Lang: d.Lang, Agreement: d.Agreement, Data: d.Data, Disabled: d.Disabled,
		CreatedAt: fromDT(d.CreatedAt), UpdatedAt: fromDT(d.UpdatedAt), LastLoginAt: timePtr(d.LastLoginAt),
		LoginCount: int(d.LoginCount), MFAEnabled: len(d.MFAFactors) > 0,
	}
}

type sessionDoc struct {
	ID                string         `bson:"_id"`
	UserID            string         `bson:"user_id"`
	CreatedAt         bson.DateTime  `bson:"created_at"`
	LastUsedAt        bson.DateTime  `bson:"last_used_at"`
	IdleExpiresAt     bson.DateTime  `bson:"idle_expires_at"`
	AbsoluteExpiresAt bson.DateTime  `bson:"absolute_expires_at"`
	RevokedAt         *bson.DateTime `bson:"revoked_at"`
	RevokedReason     string         `bson:"revoked_reason"`
	UserAgent         string         `bson:"user_agent"`
	IP                string         `bson:"ip"`
	Counter           int64          `bson:"counter"`
	RotatedAt         bson.DateTime  `bson:"rotated_at"`
	AAL               string         `bson:"aal"`
	AMR               []string       `bson:"amr"` // nil is null
	// PurgeAt is when the session is over: the earliest of its expiries and its
	// revocation. PurgeExpired and the TTL index go by it.
	PurgeAt bson.DateTime `bson:"purge_at"`
}

func toSessionDoc(s store.Session) sessionDoc {
	d := sessionDoc{
		ID: s.ID, UserID: s.UserID, CreatedAt: dt(s.CreatedAt), LastUsedAt: dt(s.LastUsedAt),
		IdleExpiresAt: dt(s.IdleExpiresAt), AbsoluteExpiresAt: dt(s.AbsoluteExpiresAt),
		RevokedAt: dtPtr(s.RevokedAt), RevokedReason: s.RevokedReason, UserAgent: s.UserAgent,
		IP: s.IP, Counter: s.Counter, RotatedAt: dt(s.RotatedAt), AAL: s.AAL, AMR: s.AMR,
	}
	d.PurgeAt = min(d.IdleExpiresAt, d.AbsoluteExpiresAt)
	if d.RevokedAt != nil {
		d.PurgeAt = min(d.PurgeAt, *d.RevokedAt)
	}
	return d
}

func (d sessionDoc) session() store.Session {
	return store.Session{
		ID: d.ID, UserID: d.UserID, CreatedAt: fromDT(d.CreatedAt), LastUsedAt: fromDT(d.LastUsedAt),
		IdleExpiresAt: fromDT(d.IdleExpiresAt), AbsoluteExpiresAt: fromDT(d.AbsoluteExpiresAt),
		RevokedAt: timePtr(d.RevokedAt), RevokedReason: d.RevokedReason, UserAgent: d.UserAgent,
		IP: d.IP, Counter: d.Counter, RotatedAt: fromDT(d.RotatedAt), AAL: d.AAL, AMR: d.AMR,
	}
}

type auditDoc struct {
	ID      string        `bson:"_id"`
	At      bson.DateTime `bson:"at"`
	Type    string        `bson:"type"`
	Outcome string        `bson:"outcome"`
	UserID  string        `bson:"user_id"`
	ActorID string        `bson:"actor_id"`
	IP      string        `bson:"ip"`
	Detail  []byte        `bson:"detail"`
}

type linkTokenDoc struct {
	Hash      string         `bson:"_id"`
	UserID    string         `bson:"user_id"`
	Purpose   string         `bson:"purpose"`
	Email     string         `bson:"email"`
	CreatedAt bson.DateTime  `bson:"created_at"`
	ExpiresAt bson.DateTime  `bson:"expires_at"`
	UsedAt    *bson.DateTime `bson:"used_at"`
	// PurgeAt is when the token is over: the earlier of its expiry and its use.
	// PurgeExpired and the TTL index go by it.
	PurgeAt bson.DateTime `bson:"purge_at"`
}

func toLinkTokenDoc(t store.LinkToken) linkTokenDoc {
	d := linkTokenDoc{
		Hash: t.Hash, UserID: t.UserID, Purpose: string(t.Purpose), Email: t.Email,
		CreatedAt: dt(t.CreatedAt), ExpiresAt: dt(t.ExpiresAt), UsedAt: dtPtr(t.UsedAt),
	}
	d.PurgeAt = d.ExpiresAt
	if d.UsedAt != nil {
		d.PurgeAt = min(d.PurgeAt, *d.UsedAt)
	}
	return d
}

func (d linkTokenDoc) linkToken() store.LinkToken {
	return store.LinkToken{
		Hash: d.Hash, UserID: d.UserID, Purpose: store.LinkPurpose(d.Purpose), Email: d.Email,
		CreatedAt: fromDT(d.CreatedAt), ExpiresAt: fromDT(d.ExpiresAt), UsedAt: timePtr(d.UsedAt),
	}
}

type mailDoc struct {
	ID            string         `bson:"_id"`
	Kind          string         `bson:"kind"`
	To            string         `bson:"to"`
	Subject       string         `bson:"subject"`
	Text          string         `bson:"text"`
	HTML          string         `bson:"html"`
	State         string         `bson:"state"`
	Attempts      int64          `bson:"attempts"`
	CreatedAt     bson.DateTime  `bson:"created_at"`
	NextAttemptAt bson.DateTime  `bson:"next_attempt_at"`
	LeaseOwner    string         `bson:"lease_owner"`
	LeaseUntil    *bson.DateTime `bson:"lease_until"` // null: no lease (the zero LeaseUntil)
	SentAt        *bson.DateTime `bson:"sent_at"`
	LastError     string         `bson:"last_error"`
	// FinishedAt is when the mail became sent or failed, which PurgeExpired dates it by;
	// it is not part of store.Mail.
	FinishedAt *bson.DateTime `bson:"finished_at"`
}

func (d mailDoc) mail() store.Mail {
	m := store.Mail{
		ID: d.ID, Kind: d.Kind, To: d.To, Subject: d.Subject, Text: d.Text, HTML: d.HTML,
		State: store.MailState(d.State), Attempts: int(d.Attempts), CreatedAt: fromDT(d.CreatedAt),
		NextAttemptAt: fromDT(d.NextAttemptAt), LeaseOwner: d.LeaseOwner, SentAt: timePtr(d.SentAt),
		LastError: d.LastError,
	}
	if d.LeaseUntil != nil {
		m.LeaseUntil = fromDT(*d.LeaseUntil)
	}
	return m
}

type counterDoc struct {
	Key     string        `bson:"_id"`
	Count   int64         `bson:"count"`
	ResetAt bson.DateTime `bson:"reset_at"`
}

func (d counterDoc) counter() store.Counter {
	return store.Counter{Count: int(d.Count), ResetAt: fromDT(d.ResetAt)}
}

type factorDoc struct {
	ID           string         `bson:"_id"`
	UserID       string         `bson:"user_id"`
	Type         string         `bson:"type"`
	Name         string         `bson:"name"`
	Secret       []byte         `bson:"secret"`
	CredentialID []byte         `bson:"credential_id"`
	Confirmed    bool           `bson:"confirmed"`
	CreatedAt    bson.DateTime  `bson:"created_at"`
	ExpiresAt    *bson.DateTime `bson:"expires_at"`
	LastUsedAt   *bson.DateTime `bson:"last_used_at"`
	LastStep     int64          `bson:"last_step"`
	SignCount    int64          `bson:"sign_count"`
	// CredKey is what the unique index on credentials holds (mfa.go): the credential id,
	// binary, or for a factor without one its _id, a string, which no binary equals. Not
	// part of store.Factor.
	CredKey any `bson:"cred_key"`
}

func toFactorDoc(f store.Factor) factorDoc {
	d := factorDoc{
		ID: f.ID, UserID: f.UserID, Type: string(f.Type), Name: f.Name, Secret: f.Secret,
		CredentialID: f.CredentialID, Confirmed: f.Confirmed, CreatedAt: dt(f.CreatedAt),
		ExpiresAt: dtPtr(f.ExpiresAt), LastUsedAt: dtPtr(f.LastUsedAt), LastStep: f.LastStep,
		SignCount: int64(f.SignCount), CredKey: f.ID,
	}
	if len(f.CredentialID) > 0 {
		d.CredKey = f.CredentialID
	}
	return d
}

func (d factorDoc) factor() store.Factor {
	return store.Factor{
		ID: d.ID, UserID: d.UserID, Type: store.FactorType(d.Type), Name: d.Name, Secret: d.Secret,
		CredentialID: d.CredentialID, Confirmed: d.Confirmed, CreatedAt: fromDT(d.CreatedAt),
		ExpiresAt: timePtr(d.ExpiresAt), LastUsedAt: timePtr(d.LastUsedAt), LastStep: d.LastStep,
		SignCount: uint32(d.SignCount),
	}
}

// recoveryDoc holds one user's recovery codes (_id is the user's ID): the hashes of the
// unused ones, and the used ones with when, so that replacing the set is one write.
type recoveryDoc struct {
	UserID    string        `bson:"_id"`
	Unused    []string      `bson:"unused"` // never null: $pull applies
	Used      []usedCodeDoc `bson:"used"`
	CreatedAt bson.DateTime `bson:"created_at"`
}

type usedCodeDoc struct {
	Hash   string        `bson:"hash"`
	UsedAt bson.DateTime `bson:"used_at"`
}

type challengeDoc struct {
	ID          string        `bson:"_id"`
	Kind        string        `bson:"kind"`
	UserID      string        `bson:"user_id"`
	SessionID   string        `bson:"session_id"`
	AnonSubject string        `bson:"anon_subject"`
	Name        string        `bson:"name"`
	Data        []byte        `bson:"data"`
	CreatedAt   bson.DateTime `bson:"created_at"`
	ExpiresAt   bson.DateTime `bson:"expires_at"`
}

func toChallengeDoc(c store.Challenge) challengeDoc {
	return challengeDoc{
		ID: c.ID, Kind: string(c.Kind), UserID: c.UserID, SessionID: c.SessionID,
		AnonSubject: c.AnonSubject, Name: c.Name, Data: c.Data, CreatedAt: dt(c.CreatedAt),
		ExpiresAt: dt(c.ExpiresAt),
	}
}

func (d challengeDoc) challenge() store.Challenge {
	return store.Challenge{
		ID: d.ID, Kind: store.ChallengeKind(d.Kind), UserID: d.UserID, SessionID: d.SessionID,
		AnonSubject: d.AnonSubject, Name: d.Name, Data: d.Data, CreatedAt: fromDT(d.CreatedAt),
		ExpiresAt: fromDT(d.ExpiresAt),
	}
}

// dt is the stored form of a time: milliseconds since the epoch, UTC by definition.
// Truncating first rounds pre-1970 instants down like later ones.
func dt(t time.Time) bson.DateTime {
	return bson.DateTime(t.Truncate(time.Millisecond).UnixMilli())
}

func fromDT(d bson.DateTime) time.Time { return time.UnixMilli(int64(d)).UTC() }

func dtPtr(t *time.Time) *bson.DateTime {
	if t == nil {
		return nil
	}
	d := dt(*t)
	return &d
}

func timePtr(d *bson.DateTime) *time.Time {
	if d == nil {
		return nil
	}
	t := fromDT(*d)
	return &t
}

// dtOrNull stores the zero time (no lease) as null.
func dtOrNull(t time.Time) *bson.DateTime {
	if t.IsZero() {
		return nil
	}
	d := dt(t)
	return &d
}
