package app

import (
	"context"
	"time"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/token"
)

// Support is the test-support API: the few things the end-to-end suite and the benchmarks
// do besides speaking HTTP and SMTP to the app. Each exists because the contract has no
// way to do it: seed what the API cannot create (a legacy password hash, many sessions at
// once), read what it never shows (the stored form of a mail, the audit log, a session's
// counter), mint tokens an attacker would forge, wait for work that outlives a request, and
// take the store away. Production code never calls it; the server has no route to it.
type Support struct{ a *App }

// Support returns the test-support API of a.
func (a *App) Support() Support { return Support{a} }

// Now is the app's clock.
func (s Support) Now() time.Time { return s.a.now() }

// PublicURL is the base of the app's links and pages (--public-url, else this listener's
// configured address).
func (s Support) PublicURL() string { return s.a.w.PublicURL }

// User reads an account by canonical address as stored.
func (s Support) User(ctx context.Context, email string) (store.User, error) {
	return s.a.store.UserByEmail(ctx, email)
}

// SeedUser stores u as it is (a legacy hash, a disabled flag, any timestamps).
func (s Support) SeedUser(ctx context.Context, u store.User) error {
	return s.a.store.CreateUser(ctx, u)
}

// SeedSession stores a session as it is.
func (s Support) SeedSession(ctx context.Context, sess store.Session) error {
	return s.a.store.CreateSession(ctx, sess)
}

// Session reads a session as stored (its counter, revocation and reason).
func (s Support) Session(ctx context.Context, id string) (store.Session, error) {
	return s.a.store.SessionByID(ctx, id)
}

// Audit returns up to n of the user's audit events, newest first.
func (s Support) Audit(ctx context.Context, userID string, n int) ([]store.AuditEvent, error) {
	return s.a.store.AuditEvents(ctx, userID, n)
}

// Mail reads one outbox mail as stored (its state, attempts, last error).
func (s Support) Mail(ctx context.Context, id string) (store.Mail, error) {
	return s.a.store.MailByID(ctx, id)
}

// ClaimMails takes up to n due mails from the outbox as a worker would, under a one-minute
// lease, and returns them as stored (bodies sealed). Use it with Options.NoWorker.
func (s Support) ClaimMails(ctx context.Context, n int) ([]store.Mail, error) {
	now := s.a.now().UTC()
	return s.a.store.ClaimMails(ctx, "test-support", now, now.Add(time.Minute), n)
}

// OpenMail unseals a stored mail's body as the outbox worker does before sending.
func (s Support) OpenMail(m store.Mail) (store.Mail, error) { return s.a.sealer.Open(m) }

// RefreshToken is the refresh token for a session at a rotation counter, as the server
// would mint it (to present a token ahead of the session, or for a seeded session).
func (s Support) RefreshToken(sessionID string, counter int64) string {
	return s.a.refresh.Encode(sessionID, counter)
}

// AccessToken issues an access token for a user's session now, as sign-in would.
func (s Support) AccessToken(userID, sessionID, role string, emailConfirmed bool) (string, error) {
	tok, _, err := s.a.tokens.IssueAccess(userID, sessionID, role, emailConfirmed, s.a.now())
	return tok, err
}

// Tokens is the app's token service (benchmarks verify with it to measure the floor).
func (s Support) Tokens() *token.Service { return s.a.tokens }

// HashParams are the argon2id parameters the app hashes with.
func (s Support) HashParams() password.Params { return s.a.hasher.Params() }

// Settle waits until work that outlives its request (forgotPassword's mail) has finished.
func (s Support) Settle() { s.a.account.Wait() }

// CloseStore closes the store under the running app, as an outage would.
func (s Support) CloseStore() error { return s.a.store.Close() }
