// Package account holds TokTok's business rules: who may register and sign in, how
// sessions and refresh tokens rotate, which errors a client sees. It orchestrates the
// store, password hashing, tokens and the audit log, and knows nothing of GraphQL or HTTP,
// so every rule is tested without either.
package account

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/text/unicode/norm"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/internal/textcut"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/token"
)

// Config is the account section of the configuration, in the terms the rules need.
type Config struct {
	AnonJWT            bool // register/login need an anonymous token
	Antispam           bool
	AntispamValue      string
	RegistrationOpen   bool
	Policy             password.Policy
	AccessTTL          time.Duration
	RefreshIdleTTL     time.Duration
	RefreshAbsoluteTTL time.Duration
	RefreshGrace       time.Duration
	HashWait           time.Duration // longest wait for a hashing slot; 0 = no bound
	Links              LinksConfig
	Limits             Limits
	// The admin rules (firstadmin.go), applied when an address is confirmed: FirstAdmin
	// makes the first account to confirm an ADMIN while there is none; an address of
	// AdminEmails (canonical) becomes an ADMIN whenever it is confirmed.
	FirstAdmin  bool
	AdminEmails []string
	// EnumerationProtection (--enumeration-protection, enumeration.go): register answers
	// an address already used as it answers a new one, signs in neither, and login needs
	// a confirmed address.
	EnumerationProtection bool
	// MFA is the second-factor rules (mfa.go).
	MFA MFAConfig
}

// Deps are the parts the rules orchestrate, as New receives them. The Service keeps each
// one in an unexported field, behind a small interface of its own where it uses only a few
// methods, so nothing outside the package can reach past the rules to the store or the
// keys through it.
type Deps struct {
	Store        store.Store
	Hasher       *password.Hasher
	Tokens       *token.Service
	RefreshCodec *token.RefreshCodec
	Box          *credentials.Box // nil when credentials travel in clear
	// Mail queues the mails the flows send. It is the concrete *mailer.Queue on purpose:
	// only mailer.NewQueue makes one, and it refuses to run without a Sealer, so no
	// stand-in can write a link token to the outbox in clear.
	Mail *mailer.Queue
	Now  func() time.Time // injected clock; UTC is applied here (default time.Now)
	Log  *slog.Logger     // default: discard
	// Observer, when set, is told of every security event and rate-limit refusal (the
	// metrics package counts them).
	Observer Observer
	// Tracer makes the spans of password hashing (default: OpenTelemetry's no-op).
	Tracer trace.Tracer
	// MFAKeys seal TOTP secrets and key the recovery-code hashes; Passkeys runs the
	// WebAuthn ceremonies. Both are required.
	MFAKeys  *mfa.Keys
	Passkeys *passkey.Service
}

// Observer is told of events worth counting. Its methods are called on the request's
// path: they must be cheap and must not block. The values are from fixed sets (audit
// event types and outcomes, limit names), never user data.
type Observer interface {
	SecurityEvent(typ, outcome string)
	RateLimited(limit string)
}

// noObserver is the Observer of a Service built without one.
type noObserver struct{}

func (noObserver) SecurityEvent(string, string) {}
func (noObserver) RateLimited(string)           {}

// The account package's views of its dependencies: only the methods the rules call.
type (
	// passwordHasher is *password.Hasher as hashing uses it.
	passwordHasher interface {
		Hash(ctx context.Context, pw string) (string, error)
		Verify(ctx context.Context, pw, encoded string) (ok, needsRehash bool, err error)
		VerifyDummy(ctx context.Context, pw string) error
	}
	// tokenIssuer mints the JWTs a sign-in returns; verification is the middleware's.
	tokenIssuer interface {
		IssueAccessLevel(userID, sessionID, role string, emailVerified bool, aal string, amr []string, now time.Time) (string, token.AccessClaims, error)
		IssueAnonymous(now time.Time) (string, token.AnonymousClaims, error)
	}
	// refreshCodec names a session and its rotation counter in a refresh token.
	refreshCodec interface {
		Encode(sessionID string, counter int64) string
		Decode(tok string) (sessionID string, counter int64, err error)
	}
	// mailQueue renders, seals and queues one mail (mailer.Queue.Send).
	mailQueue interface {
		Send(ctx context.Context, req mailer.Request) (id string, err error)
	}
)

var (
	_ passwordHasher = (*password.Hasher)(nil)
	_ tokenIssuer    = (*token.Service)(nil)
	_ refreshCodec   = (*token.RefreshCodec)(nil)
	_ mailQueue      = (*mailer.Queue)(nil)
)

// Service applies the rules. Build it with New; it is safe for concurrent use.
type Service struct {
	cfg     Config
	links   LinksConfig
	limits  Limits
	store   store.Store
	hash    hashing
	tokens  tokenIssuer
	refresh refreshCodec
	// box stays a pointer: nil means "credentials in clear", which an interface holding a
	// nil *credentials.Box would hide.
	box   *credentials.Box
	mail  mailQueue
	clock func() time.Time
	log   *slog.Logger
	obs   Observer
	bg    sync.WaitGroup // work that outlives its request (forgotPassword's mail)
	// mfaKeys and passkeys are the second factors' keys and WebAuthn ceremonies.
	mfaKeys  *mfa.Keys
	passkeys *passkey.Service
}

// New builds the service from its configuration and dependencies.
func New(cfg Config, d Deps) *Service {
	s := &Service{
		cfg: cfg, links: cfg.Links, limits: cfg.Limits,
		store: d.Store, hash: hashing{h: d.Hasher, wait: cfg.HashWait, tracer: d.Tracer},
		tokens: d.Tokens, refresh: d.RefreshCodec, box: d.Box, mail: d.Mail,
		clock: d.Now, log: d.Log, obs: d.Observer,
		mfaKeys: d.MFAKeys, passkeys: d.Passkeys,
	}
	if s.obs == nil {
		s.obs = noObserver{}
	}
	if s.hash.tracer == nil {
		s.hash.tracer = noop.NewTracerProvider().Tracer("")
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// background runs f after the request has answered; Wait waits for every such f.
func (s *Service) background(f func()) {
	s.bg.Go(f)
}

// Wait blocks until background work has finished (call it before closing the store).
func (s *Service) Wait() { s.bg.Wait() }

func (s *Service) now() time.Time { return s.clock().UTC().Truncate(time.Millisecond) }

// AuthConfigView is what authConfig publishes.
type AuthConfigView struct {
	AnonymousTokenRequired bool
	EncryptedCredentials   bool
	EncryptionKey          string
	EncryptionJWK          map[string]any
	EncryptionAlgorithm    string
	AntispamRequired       bool
	PasswordMinLength      int
	PasswordMaxLength      int
	RegistrationOpen       bool
}

// AuthConfig tells clients what they must do to register and sign in.
func (s *Service) AuthConfig() AuthConfigView {
	v := AuthConfigView{
		AnonymousTokenRequired: s.cfg.AnonJWT,
		EncryptedCredentials:   s.box != nil,
		AntispamRequired:       s.cfg.Antispam,
		PasswordMinLength:      s.cfg.Policy.MinLength,
		PasswordMaxLength:      s.cfg.Policy.MaxLength,
		RegistrationOpen:       s.cfg.RegistrationOpen,
	}
	if s.box != nil {
		v.EncryptionKey = s.box.PublicKeyPEM()
		v.EncryptionJWK = s.box.PublicJWK()
		v.EncryptionAlgorithm = s.box.Algorithm()
		// One OAEP block carries so many bytes: promise no more than can be sent. A JWE
		// adds no limit (Capacity 0).
		if c := s.box.Capacity(); c > 0 {
			v.PasswordMaxLength = min(v.PasswordMaxLength, c)
		}
	}
	return v
}

// AnonymousToken issues a stateless anonymous token.
func (s *Service) AnonymousToken(ctx context.Context) (string, time.Time, error) {
	if err := s.limitIP(ctx, "anonymous", s.limits.IPAnonymousToken); err != nil {
		return "", time.Time{}, err
	}
	tok, claims, err := s.tokens.IssueAnonymous(s.now())
	if err != nil {
		return "", time.Time{}, err
	}
	return tok, claims.ExpiresAt, nil
}

// Tokens is what a successful sign-in, registration or refresh returns.
type Tokens struct {
	AccessToken      string
	AccessExpiresAt  time.Time
	AccessExpiresIn  int // seconds
	RefreshToken     string
	RefreshExpiresAt time.Time
	User             store.User
	// AAL is the session's assurance level, AMR the methods behind it; MFARequired says
	// the user has a second factor this session has not verified yet (verifyMfa).
	AAL         string
	AMR         []string
	MFARequired bool
}

// RegisterInput is register's arguments, still encrypted when --salt is on.
type RegisterInput struct {
	Email, Password       string
	Name, Surname, Pseudo *string
	Lang                  *string
	Agreement             *bool
	Data                  map[string]any
	Antispam              *string
}

// Register creates an unconfirmed USER account and signs it in. With
// --enumeration-protection it signs nobody in, and an address already used answers as a
// new one would, creates nothing and mails its owner a notice (enumeration.go).
func (s *Service) Register(ctx context.Context, in RegisterInput) (Tokens, error) {
	if !s.cfg.RegistrationOpen {
		return Tokens{}, ErrRegistrationClosed
	}
	if err := s.gate(ctx, in.Antispam); err != nil {
		return Tokens{}, err
	}
	if err := s.limitIP(ctx, "register", s.limits.IPRegister); err != nil {
		return Tokens{}, err
	}
	email, pw, err := s.decrypt(in.Email, in.Password)
	if err != nil {
		return Tokens{}, err
	}
	pw = norm.NFC.String(pw)
	u := store.User{Role: store.RoleUser}
	if u.Email, err = CanonicalEmail("email", email); err != nil {
		return Tokens{}, err
	}
	if reasons := s.cfg.Policy.Check(pw, u.Email); len(reasons) > 0 {
		return Tokens{}, &Error{Code: CodeBadUserInput, Field: "password", Message: "the password is too weak", Reasons: reasons}
	}
	if u.Name, err = cleanName("name", in.Name); err != nil {
		return Tokens{}, err
	}
	if u.Surname, err = cleanName("surname", in.Surname); err != nil {
		return Tokens{}, err
	}
	if u.Pseudo, err = cleanName("pseudo", in.Pseudo); err != nil {
		return Tokens{}, err
	}
	if u.Lang, err = cleanLang(in.Lang); err != nil {
		return Tokens{}, err
	}
	if in.Agreement != nil {
		u.Agreement = *in.Agreement
	}
	if u.Data, err = cleanData("data", in.Data); err != nil {
		return Tokens{}, err
	}
	if u.PasswordHash, err = s.hash.Hash(ctx, pw); err != nil {
		return Tokens{}, err
	}
	now := s.now()
	u.ID = newID()
	u.CreatedAt, u.UpdatedAt = now, now
	protect := s.cfg.EnumerationProtection
	if !protect {
		// Registering signs the user in: it is their first login.
		u.LastLoginAt, u.LoginCount = &now, 1
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			s.audit(ctx, "register", "failure", "", map[string]any{"reason": "email_taken"})
			if protect {
				s.noticeSignupAttempt(ctx, u.Email)
				return notSignedIn(u, now), nil
			}
			return Tokens{}, ErrEmailTaken
		}
		return Tokens{}, err
	}
	s.audit(ctx, "register", "success", u.ID, nil)
	if err := s.sendConfirmation(ctx, u); err != nil {
		// The account exists; the user can ask for the link again (resendConfirmation).
		s.log.ErrorContext(ctx, "confirmation mail not queued", "user", u.ID, "err", err)
	}
	if protect {
		return notSignedIn(u, now), nil
	}
	return s.startSession(ctx, u, now)
}

// LoginInput is login's arguments, still encrypted when --salt is on.
type LoginInput struct {
	Email, Password string
	Antispam        *string
}

// Login checks a password and starts a session. Unknown email, wrong password and
// undecryptable input answer the same error after the same work (one hash verification);
// with --enumeration-protection, so does an unconfirmed address, and every
// INVALID_CREDENTIALS carries the one message that names all three (enumeration.go).
func (s *Service) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	tok, err := s.login(ctx, in)
	return tok, s.loginError(err)
}

// login is Login before its error is worded.
func (s *Service) login(ctx context.Context, in LoginInput) (Tokens, error) {
	canonical, typed, pw, err := s.loginInput(ctx, in)
	if err != nil {
		return Tokens{}, err
	}
	try, err := s.loginAttempt(ctx, canonical)
	if err != nil {
		s.audit(ctx, "login", "failure", "", map[string]any{"reason": "cooldown"})
		return Tokens{}, err
	}
	u, err := s.store.UserByEmail(ctx, canonical)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			try.notChecked()
			return Tokens{}, err
		}
		if err := s.hash.dummyLogin(ctx, typed); err != nil {
			try.notChecked()
			return Tokens{}, err
		}
		try.checked(false)
		s.audit(ctx, "login", "failure", "", map[string]any{"reason": "unknown_email"})
		return Tokens{}, ErrInvalidCredentials
	}
	ok, rehash, err := s.verifyLogin(ctx, u.PasswordHash, typed)
	if err != nil {
		try.notChecked()
		return Tokens{}, err
	}
	// With --enumeration-protection an unconfirmed address fails as a wrong password does,
	// the limiter's count included, before anything else about the account is told.
	unconfirmed := s.cfg.EnumerationProtection && !u.EmailConfirmed
	if ok && !unconfirmed && u.MFAEnabled {
		// The password is right but the second factor is still owed: the count of
		// failures stays until verifyMfa passes (attempt.halfway).
		try.halfway()
	} else {
		try.checked(ok && !unconfirmed)
	}
	if !ok {
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "wrong_password"})
		return Tokens{}, ErrInvalidCredentials
	}
	if unconfirmed {
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "unconfirmed"})
		return Tokens{}, ErrInvalidCredentials
	}
	if u.Disabled {
		s.audit(ctx, "login", "failure", u.ID, map[string]any{"reason": "disabled"})
		return Tokens{}, ErrAccountDisabled
	}
	checked := u.PasswordHash
	if rehash {
		checked = s.upgradeHash(ctx, u, pw)
	}
	now := s.now()
	if u, err = s.store.RecordLogin(ctx, u.ID, now); err != nil {
		return Tokens{}, err
	}
	tok, err := s.startSession(ctx, u, now)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.passwordStillHolds(ctx, u.ID, checked, typed, tok); err != nil {
		return Tokens{}, err
	}
	s.audit(ctx, "login", "success", u.ID, nil)
	return tok, nil
}

// loginInput passes login's gates (anonymous token, antispam, per-IP limit) and opens its
// credentials: the canonical email, the password as typed and in NFC (passwords are hashed
// in NFC so the same password typed on two keyboards that compose accents differently is
// one password; a legacy hash also gets the password as typed). Input that cannot name an
// account answers INVALID_CREDENTIALS after the work of a wrong password.
func (s *Service) loginInput(ctx context.Context, in LoginInput) (canonical, typed, pw string, err error) {
	if err := s.gate(ctx, in.Antispam); err != nil {
		return "", "", "", err
	}
	if err := s.limitIP(ctx, "login", s.limits.IPLogin); err != nil {
		return "", "", "", err
	}
	email, pw, err := s.decrypt(in.Email, in.Password)
	if err != nil {
		if err := s.hash.VerifyDummy(ctx, in.Password); err != nil {
			return "", "", "", err
		}
		s.audit(ctx, "login", "failure", "", map[string]any{"reason": "undecryptable"})
		return "", "", "", ErrInvalidCredentials
	}
	typed = pw
	pw = norm.NFC.String(pw)
	canonical, err = CanonicalEmail("email", email)
	if err != nil || max(len(typed), len(pw)) > maxPasswordByte {
		if err := s.hash.dummyLogin(ctx, typed); err != nil {
			return "", "", "", err
		}
		s.audit(ctx, "login", "failure", "", map[string]any{"reason": "invalid_input"})
		return "", "", "", ErrInvalidCredentials
	}
	return canonical, typed, pw, nil
}

// verifyLogin checks the password as typed against a stored hash with the uniform check
// (hashing.checkLogin), so the answer's timing does not single out accounts not yet
// migrated from the Flask service.
func (s *Service) verifyLogin(ctx context.Context, encoded, typed string) (ok, rehash bool, err error) {
	return s.hash.checkLogin(ctx, typed, encoded)
}

// upgradeHash replaces a legacy or outdated hash after a successful login. It is best
// effort: the login succeeds whether or not the upgrade does.
// It returns the hash stored afterwards as far as this login knows: the new one, or the
// old one when the upgrade did not happen.
func (s *Service) upgradeHash(ctx context.Context, u store.User, pw string) string {
	h, err := s.hash.Hash(ctx, pw)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, u.ID, u.PasswordHash, h, s.now())
	}
	if err != nil {
		if !errors.Is(err, store.ErrConflict) {
			s.log.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "err", err)
		}
		return u.PasswordHash
	}
	s.log.InfoContext(ctx, "password hash upgraded", "user", u.ID)
	return h
}

// passwordStillHolds re-reads the user once the login's session exists. A password change
// or reset that landed while this login was hashing has ended every session it could
// see, but not this one, opened after it: the session is ended here and the login refused,
// as it would have been a moment later. A legacy hash another login upgraded meanwhile is
// not a change: the password is checked against the new hash.
func (s *Service) passwordStillHolds(ctx context.Context, userID, checked, typed string, tok Tokens) error {
	cur, err := s.store.UserByID(ctx, userID)
	if err == nil && !cur.Disabled {
		if cur.PasswordHash == checked {
			return nil
		}
		if legacyHash(checked) && !legacyHash(cur.PasswordHash) {
			if ok, _, verr := s.hash.verifyStored(ctx, typed, cur.PasswordHash); verr == nil && ok {
				return nil
			}
		}
	}
	if sid, _, derr := s.refresh.Decode(tok.RefreshToken); derr == nil {
		if _, rerr := s.store.RevokeSession(context.WithoutCancel(ctx), sid, userID, s.now(), "password_change"); rerr != nil {
			s.log.WarnContext(ctx, "session of a superseded login not revoked", "user", userID, "err", rerr)
		}
	}
	if err != nil {
		return err
	}
	s.audit(ctx, "login", "failure", userID, map[string]any{"reason": "password_changed_meanwhile"})
	return ErrInvalidCredentials
}

// gate applies the anonymous-token and antispam requirements of register, login and
// forgotPassword.
func (s *Service) gate(ctx context.Context, antispam *string) error {
	if s.cfg.AnonJWT && AuthFrom(ctx).Kind != KindAnonymous {
		return ErrAnonymousTokenRequired
	}
	if s.cfg.Antispam && (antispam == nil || *antispam != s.cfg.AntispamValue) {
		return badInput("antispam", "the antispam field is missing or wrong")
	}
	return nil
}

// decrypt opens the credential fields when --salt is on. An undecryptable value is
// reported as BAD_USER_INPUT on the field; Login turns it into INVALID_CREDENTIALS.
func (s *Service) decrypt(email, pw string) (string, string, error) {
	if s.box == nil {
		return email, pw, nil
	}
	e, err := s.box.Decrypt(email)
	if err != nil {
		return "", "", badInput("email", "the value is not a ciphertext under the published encryptionKey").with(err)
	}
	p, err := s.box.Decrypt(pw)
	if err != nil {
		return "", "", badInput("password", "the value is not a ciphertext under the published encryptionKey").with(err)
	}
	return e, p, nil
}

// startSession records a new password session (aal1, amr ["pwd"]) for u and issues its
// tokens.
func (s *Service) startSession(ctx context.Context, u store.User, now time.Time) (Tokens, error) {
	return s.startSessionLevel(ctx, u, now, store.AAL1, []string{amrPassword})
}

// startSessionLevel records a new session for u at level aal, reached by the methods amr,
// and issues its tokens.
func (s *Service) startSessionLevel(ctx context.Context, u store.User, now time.Time, aal string, amr []string) (Tokens, error) {
	c := ClientFrom(ctx)
	sess := store.Session{
		ID: newID(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
		IdleExpiresAt:     now.Add(s.cfg.RefreshIdleTTL),
		AbsoluteExpiresAt: now.Add(s.cfg.RefreshAbsoluteTTL),
		UserAgent:         textcut.Bytes(c.UserAgent, 512), IP: c.IP,
		AAL: aal, AMR: amr,
	}
	if sess.IdleExpiresAt.After(sess.AbsoluteExpiresAt) {
		sess.IdleExpiresAt = sess.AbsoluteExpiresAt
	}
	if err := s.store.CreateSession(ctx, sess); err != nil {
		return Tokens{}, err
	}
	return s.issueTokens(u, sess, sess.Counter, now)
}

func (s *Service) issueTokens(u store.User, sess store.Session, counter int64, now time.Time) (Tokens, error) {
	level := sess.Level()
	at, claims, err := s.tokens.IssueAccessLevel(u.ID, sess.ID, string(u.Role), u.EmailConfirmed, level, sess.AMR, now)
	if err != nil {
		return Tokens{}, err
	}
	exp := sess.IdleExpiresAt
	if sess.AbsoluteExpiresAt.Before(exp) {
		exp = sess.AbsoluteExpiresAt
	}
	return Tokens{
		AccessToken: at, AccessExpiresAt: claims.ExpiresAt,
		AccessExpiresIn: int(claims.ExpiresAt.Sub(now) / time.Second),
		RefreshToken:    s.refresh.Encode(sess.ID, counter), RefreshExpiresAt: exp,
		User: u, AAL: level, AMR: sess.AMR,
		MFARequired: u.MFAEnabled && level != store.AAL2,
	}, nil
}

// Refresh rotates a refresh token. The presented token names a session and a rotation
// counter: the current counter rotates (one conditional update in the store); the previous
// one, within the grace window, answers with the current token again (two tabs refreshing
// at once); anything else is a replay and ends the session. A store failure is reported as
// such and never taken for a replay.
func (s *Service) Refresh(ctx context.Context, presented string) (Tokens, error) {
	sid, counter, err := s.refresh.Decode(presented)
	if err != nil {
		return Tokens{}, ErrInvalidRefreshToken.with(err)
	}
	now := s.now()
	// The common case in one store call, where the store can: the rotation that also
	// reads the owner. Refused for any reason, it changed nothing, and the general path
	// below finds out why.
	if su, ok := s.store.(store.SessionUserStore); ok {
		sess, u, err := su.AdvanceSessionWithUser(ctx, sid, counter, now, now.Add(s.cfg.RefreshIdleTTL))
		switch {
		case err == nil:
			return s.issueTokens(u, sess, sess.Counter, now)
		case !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound):
			return Tokens{}, err
		}
	}
	// Everything the answer needs is read before the rotation, so that no store call can
	// fail after it: a call answered UNAVAILABLE has not spent the token it presented.
	u, err := s.refreshOwner(ctx, sid)
	if err != nil {
		return Tokens{}, err
	}
	sess, err := s.store.AdvanceSession(ctx, sid, counter, now, now.Add(s.cfg.RefreshIdleTTL))
	switch {
	case err == nil:
		counter = sess.Counter
	case errors.Is(err, store.ErrNotFound):
		return Tokens{}, ErrInvalidRefreshToken.with(err)
	case errors.Is(err, store.ErrConflict):
		if sess, err = s.store.SessionByID(ctx, sid); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Tokens{}, ErrInvalidRefreshToken.with(err)
			}
			return Tokens{}, err
		}
		if !sess.Live(now) {
			return Tokens{}, ErrInvalidRefreshToken.with(errors.New("session ended"))
		}
		// A grace of 0 means none; a negative age (clock skew between instances) counts as
		// inside the window only when there is one.
		if s.cfg.RefreshGrace > 0 && sess.Counter == counter+1 && now.Sub(sess.RotatedAt) <= s.cfg.RefreshGrace {
			counter = sess.Counter // the concurrent winner's token, recomputed
			break
		}
		if _, err := s.store.RevokeSession(ctx, sid, "", now, "refresh_reuse"); err != nil && !errors.Is(err, store.ErrNotFound) {
			return Tokens{}, err
		}
		s.audit(ctx, "refresh_reuse", "failure", sess.UserID, map[string]any{"session": sid, "presented": counter, "current": sess.Counter})
		s.log.WarnContext(ctx, "refresh token replayed: session revoked", "session", sid, "user", sess.UserID)
		return Tokens{}, ErrInvalidRefreshToken.with(errors.New("replay"))
	default:
		return Tokens{}, err
	}
	return s.issueTokens(u, sess, counter, now)
}

// refreshOwner reads the user of session sid for a refresh: an unknown session or user,
// or a disabled account, is INVALID_REFRESH_TOKEN; a store failure is itself.
func (s *Service) refreshOwner(ctx context.Context, sid string) (store.User, error) {
	_, u, err := s.sessionWithUser(ctx, sid)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.User{}, ErrInvalidRefreshToken.with(err)
	case err != nil:
		return store.User{}, err
	case u.Disabled:
		return store.User{}, ErrInvalidRefreshToken.with(errors.New("account disabled"))
	}
	return u, nil
}

// Principal is the signed-in caller: a verified access token whose session is live.
type Principal struct {
	User    store.User
	Session store.Session
}

// Authenticate turns the request's access token into a Principal, checking at the store
// that the session is still live (so logout bites at once) and the account usable.
func (s *Service) Authenticate(ctx context.Context) (Principal, error) {
	a := AuthFrom(ctx)
	if a.Kind != KindAccess {
		return Principal{}, ErrUnauthenticated
	}
	now := s.now()
	sess, u, err := s.sessionWithUser(ctx, a.Access.SessionID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, ErrUnauthenticated.with(err)
		}
		return Principal{}, err
	}
	if !sess.Live(now) || sess.UserID != a.Access.UserID {
		return Principal{}, ErrUnauthenticated.with(errors.New("session ended"))
	}
	if u.Disabled {
		return Principal{}, ErrUnauthenticated.with(errors.New("account disabled"))
	}
	return Principal{User: u, Session: sess}, nil
}

// sessionWithUser reads session sid and its user, in one store call when the store can
// (store.SessionUserStore); ErrNotFound when either is missing.
func (s *Service) sessionWithUser(ctx context.Context, sid string) (store.Session, store.User, error) {
	if su, ok := s.store.(store.SessionUserStore); ok {
		return su.SessionWithUser(ctx, sid)
	}
	sess, err := s.store.SessionByID(ctx, sid)
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	u, err := s.store.UserByID(ctx, sess.UserID)
	return sess, u, err
}

// Me returns the signed-in user, nil with no token or an anonymous one. A presented
// access token that is invalid, expired or whose session ended is UNAUTHENTICATED, so
// the client knows to refresh rather than to show a signed-out page.
func (s *Service) Me(ctx context.Context) (*store.User, error) {
	switch AuthFrom(ctx).Kind {
	case KindNone, KindAnonymous:
		return nil, nil
	}
	p, err := s.Authenticate(ctx)
	if err != nil {
		return nil, err
	}
	return &p.User, nil
}

// LogoutScope says which sessions Logout ends.
type LogoutScope string

// The scopes of the API's LogoutScope.
const (
	LogoutCurrent LogoutScope = "CURRENT"
	LogoutOthers  LogoutScope = "OTHERS"
	LogoutAll     LogoutScope = "ALL"
)

// Logout ends the caller's current session, the others, or all of them.
func (s *Service) Logout(ctx context.Context, p Principal, scope LogoutScope) error {
	// A session that still owes its second factor may end itself, not the user's others:
	// a password alone must not throw the owner's verified sessions out.
	if scope != LogoutCurrent && scope != "" && p.User.MFAEnabled && p.Session.Level() != store.AAL2 {
		return mfaRequired(ReasonVerify)
	}
	now := s.now()
	var err error
	n := 0
	switch scope {
	case LogoutCurrent, "":
		var ok bool
		ok, err = s.store.RevokeSession(ctx, p.Session.ID, p.User.ID, now, "logout")
		if ok {
			n = 1
		}
	case LogoutOthers:
		n, err = s.store.RevokeUserSessions(ctx, p.User.ID, p.Session.ID, now, "logout_others")
	case LogoutAll:
		n, err = s.store.RevokeUserSessions(ctx, p.User.ID, "", now, "logout_all")
	default:
		return badInput("scope", "unknown logout scope")
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.audit(ctx, "logout", "success", p.User.ID, map[string]any{"scope": string(scope), "sessions": n})
	return nil
}

// Sessions lists the caller's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, p Principal) ([]store.Session, error) {
	return s.store.ListLiveSessions(ctx, p.User.ID, s.now())
}

// RevokeSession ends one of the caller's sessions. It reports false when there was
// nothing to end: no such session, another user's, or already ended (indistinguishable on
// purpose).
func (s *Service) RevokeSession(ctx context.Context, p Principal, id string) (bool, error) {
	ok, err := s.store.RevokeSession(ctx, id, p.User.ID, s.now(), "revoked_by_user")
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if ok {
		s.audit(ctx, "session_revoke", "success", p.User.ID, map[string]any{"session": id})
	}
	return ok, nil
}

// audit records a security event in the store and the log. A failure to record is logged,
// never returned: the event itself already happened.
func (s *Service) audit(ctx context.Context, typ, outcome, userID string, detail map[string]any) {
	var d []byte
	if detail != nil {
		d, _ = json.Marshal(detail)
	}
	c := ClientFrom(ctx)
	ev := store.AuditEvent{ID: newID(), At: s.now(), Type: typ, Outcome: outcome, UserID: userID, IP: c.IP, Detail: d}
	if a := AuthFrom(ctx); a.Kind == KindAccess {
		ev.ActorID = a.Access.UserID
	}
	level := slog.LevelInfo
	if outcome != "success" {
		level = slog.LevelWarn
	}
	s.obs.SecurityEvent(typ, outcome)
	s.log.Log(ctx, level, "audit", "type", typ, "outcome", outcome, "user", userID, "ip", c.IP, "detail", string(d))
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), ev); err != nil {
		s.log.ErrorContext(ctx, "audit event not recorded", "type", typ, "err", err)
	}
}

// newID returns a random identifier with 130 bits of entropy (base32).
func newID() string { return rand.Text() }
