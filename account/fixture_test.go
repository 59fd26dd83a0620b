package account

import (
	"context"
	"crypto/rand"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
)

// The rules are tested on real parts: a SQLite store in a temporary directory, argon2id
// with cheap parameters, the real token service and refresh codec, and a real mail queue
// whose outbox the tests read back through the Sealer, as the worker would. Only the
// clock is a stand-in, so that expiries and cooldowns are crossed without sleeping.

// fixture is one Service and the parts a test inspects or drives.
type fixture struct {
	t       *testing.T
	cfg     Config
	svc     *Service
	store   *sqlite.Store
	dbPath  string // the SQLite file (its -wal and -shm sit beside it)
	clock   *testclock.Clock
	hasher  *password.Hasher
	tokens  *token.Service
	refresh *token.RefreshCodec
	sealer  *mailer.Sealer
	box     *credentials.Box // nil unless the test asked for --salt
}

// The passwords of the tests: strong ones pass the default policy.
const (
	strongPW  = "correct horse battery staple"
	strongPW2 = "tr0ub4dor & 3 purple elephants"
	weakPW    = "short"
)

// testConfig is a configuration with every rule the tests exercise at a known value.
func testConfig() Config {
	return Config{
		RegistrationOpen:   true,
		Policy:             password.DefaultPolicy(),
		AccessTTL:          15 * time.Minute,
		RefreshIdleTTL:     24 * time.Hour,
		RefreshAbsoluteTTL: 30 * 24 * time.Hour,
		RefreshGrace:       30 * time.Second,
		Links: LinksConfig{
			AppName:    "TokTok",
			ConfirmURL: "https://app.example/confirm", ResetURL: "https://app.example/reset",
			ConfirmTTL: 24 * time.Hour, ResetTTL: time.Hour, EmailChangeTTL: 24 * time.Hour,
		},
		Limits: Limits{
			LoginFailures:    Rate{N: 3, Window: time.Minute},
			LoginMaxCooldown: 4 * time.Minute,
		},
	}
}

// newFixture builds a Service on fresh parts; edit changes the configuration first.
func newFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, cfg: testConfig(), clock: testclock.New(time.Time{})}
	for _, e := range edit {
		e(&f.cfg)
	}
	f.dbPath = filepath.Join(t.TempDir(), "toktok.db")
	st, err := sqlite.Open(t.Context(), f.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	f.store = st
	key, _, err := token.LoadOrGenerateKey(token.ES256, filepath.Join(t.TempDir(), "jwt-es256.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if f.tokens, err = token.New(token.Config{Issuer: "https://toktok.test", Audience: "toktok-test", AccessTTL: f.cfg.AccessTTL}, key); err != nil {
		t.Fatal(err)
	}
	secret := randomBytes(t, 32)
	if f.refresh, err = token.NewRefreshCodec(secret); err != nil {
		t.Fatal(err)
	}
	if f.sealer, err = mailer.NewSealer(secret); err != nil {
		t.Fatal(err)
	}
	renderer, err := mailer.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	queue, err := mailer.NewQueue(st, renderer, f.sealer, nil, f.clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.hasher = password.New(password.Params{Memory: 64, Time: 1, Threads: 1}, 2)
	mfaKeys, err := mfa.NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	passkeys, err := passkey.New(passkey.Config{RPID: "app.example", RPDisplayName: "TokTok", Origins: []string{"https://app.example"}})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = New(f.cfg, Deps{
		Store: st, Hasher: f.hasher, Tokens: f.tokens, RefreshCodec: f.refresh,
		Mail: queue, Now: f.clock.Now, MFAKeys: mfaKeys, Passkeys: passkeys,
	})
	// Background work (forgotPassword's mail) ends before the store closes.
	t.Cleanup(func() {
		f.svc.Wait()
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return f
}

// withBox turns --salt on: credentials arrive RSA-OAEP encrypted.
func (f *fixture) withBox(box *credentials.Box) {
	f.box = box
	f.svc.box = box
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// register signs up email with pw and fails the test on any error.
func (f *fixture) register(email, pw string) Tokens {
	f.t.Helper()
	tok, err := f.svc.Register(f.t.Context(), RegisterInput{Email: email, Password: pw})
	if err != nil {
		f.t.Fatalf("Register(%q): %v", email, err)
	}
	return tok
}

// login signs in and fails the test on any error.
func (f *fixture) login(email, pw string) Tokens {
	f.t.Helper()
	tok, err := f.svc.Login(f.t.Context(), LoginInput{Email: email, Password: pw})
	if err != nil {
		f.t.Fatalf("Login(%q): %v", email, err)
	}
	return tok
}

// principal authenticates the access token of tok as the middleware and directives do.
func (f *fixture) principal(tok Tokens) Principal {
	f.t.Helper()
	p, err := f.svc.Authenticate(f.accessCtx(tok))
	if err != nil {
		f.t.Fatalf("Authenticate: %v", err)
	}
	return p
}

// accessCtx is a request context carrying tok's verified access token.
func (f *fixture) accessCtx(tok Tokens) context.Context {
	f.t.Helper()
	claims, err := f.tokens.VerifyAccess(tok.AccessToken, f.clock.Now())
	if err != nil {
		f.t.Fatalf("VerifyAccess: %v", err)
	}
	return WithAuth(f.t.Context(), Auth{Kind: KindAccess, Access: claims})
}

// claims are tok's access claims as verified just before the token expires, so a test can
// present them after moving the clock past what the session allows.
func (f *fixture) claims(tok Tokens) token.AccessClaims {
	f.t.Helper()
	c, err := f.tokens.VerifyAccess(tok.AccessToken, tok.AccessExpiresAt.Add(-time.Second))
	if err != nil {
		f.t.Fatalf("VerifyAccess: %v", err)
	}
	return c
}

// sessionOf reads the session a refresh token names, as stored.
func (f *fixture) sessionOf(tok Tokens) store.Session {
	f.t.Helper()
	sid, _, err := f.refresh.Decode(tok.RefreshToken)
	if err != nil {
		f.t.Fatal(err)
	}
	sess, err := f.store.SessionByID(f.t.Context(), sid)
	if err != nil {
		f.t.Fatal(err)
	}
	return sess
}

func (f *fixture) user(email string) store.User {
	f.t.Helper()
	u, err := f.store.UserByEmail(f.t.Context(), email)
	if err != nil {
		f.t.Fatalf("UserByEmail(%q): %v", email, err)
	}
	return u
}

// seedUser stores an account directly (a legacy hash, a disabled flag).
func (f *fixture) seedUser(u store.User) store.User {
	f.t.Helper()
	now := f.clock.Now()
	if u.ID == "" {
		u.ID = newID()
	}
	u.Role, u.CreatedAt, u.UpdatedAt = store.RoleUser, now, now
	if err := f.store.CreateUser(f.t.Context(), u); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// seedDisabledWithSession stores a disabled account with a live session of the given id,
// as if it had been disabled after signing in.
func (f *fixture) seedDisabledWithSession(email, sessionID string) store.User {
	f.t.Helper()
	u := f.seedUser(store.User{Email: email, PasswordHash: f.hash(strongPW), Disabled: true})
	now := f.clock.Now()
	if err := f.store.CreateSession(f.t.Context(), store.Session{
		ID: sessionID, UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
		IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour),
	}); err != nil {
		f.t.Fatal(err)
	}
	return u
}

// hash is the argon2id hash of pw as the service would store it.
func (f *fixture) hash(pw string) string {
	f.t.Helper()
	h, err := f.hasher.Hash(f.t.Context(), pw)
	if err != nil {
		f.t.Fatal(err)
	}
	return h
}

// mails takes every mail queued since the last call from the outbox, as the worker does
// (claim, then record it sent), checks that each was stored sealed, and returns them
// opened.
func (f *fixture) mails() []store.Mail {
	f.t.Helper()
	ctx, now := f.t.Context(), f.clock.Now()
	claimed, err := f.store.ClaimMails(ctx, "test", now, now.Add(time.Minute), 100)
	if err != nil {
		f.t.Fatal(err)
	}
	out := make([]store.Mail, 0, len(claimed))
	for _, m := range claimed {
		if !strings.HasPrefix(m.Text, "sealed:v1:") || !strings.HasPrefix(m.HTML, "sealed:v1:") {
			f.t.Errorf("mail %s (%s) is stored unsealed", m.ID, m.Kind)
		}
		if strings.Contains(m.Text+m.HTML, "token=") {
			f.t.Errorf("mail %s (%s) holds a link in clear", m.ID, m.Kind)
		}
		opened, err := f.sealer.Open(m)
		if err != nil {
			f.t.Fatalf("open mail %s: %v", m.ID, err)
		}
		if err := f.store.MarkMailSent(ctx, m.ID, "test", now); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, opened)
	}
	return out
}

// mailsByKind is mails() indexed by kind; it fails on two mails of one kind.
func (f *fixture) mailsByKind() map[string]store.Mail {
	f.t.Helper()
	byKind := make(map[string]store.Mail)
	for _, m := range f.mails() {
		if _, dup := byKind[m.Kind]; dup {
			f.t.Fatalf("two %s mails queued", m.Kind)
		}
		byKind[m.Kind] = m
	}
	return byKind
}

// onlyMail returns the one queued mail, which must be of kind and to to.
func (f *fixture) onlyMail(kind, to string) store.Mail {
	f.t.Helper()
	ms := f.mails()
	if len(ms) != 1 {
		f.t.Fatalf("%d mails queued, want one %s mail", len(ms), kind)
	}
	if ms[0].Kind != kind || ms[0].To != to {
		f.t.Fatalf("queued a %s mail to %s, want a %s mail to %s", ms[0].Kind, ms[0].To, kind, to)
	}
	return ms[0]
}

// linkToken reads the link token out of an opened mail's text, as its reader would.
func linkToken(t *testing.T, m store.Mail) string {
	t.Helper()
	_, rest, ok := strings.Cut(m.Text, "token=")
	if !ok {
		t.Fatalf("%s mail carries no link token:\n%s", m.Kind, m.Text)
	}
	tok, _, _ := strings.Cut(rest, "\n")
	return strings.TrimSpace(tok)
}

// wantCode fails unless err is an *Error with code.
func wantCode(t *testing.T, err error, code Code) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	return e
}

// anonCtx is a request context carrying a valid anonymous token.
func anonCtx(ctx context.Context) context.Context {
	return WithAuth(ctx, Auth{Kind: KindAnonymous})
}

// auditTypes lists userID's audit events as "type:outcome" (events of one instant come in
// no particular order).
func (f *fixture) auditTypes(userID string) []string {
	f.t.Helper()
	evs, err := f.store.AuditEvents(f.t.Context(), userID, 1000)
	if err != nil {
		f.t.Fatal(err)
	}
	types := make([]string, len(evs))
	for i, e := range evs {
		types[i] = e.Type + ":" + e.Outcome
	}
	return types
}
