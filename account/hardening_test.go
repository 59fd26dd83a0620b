package account

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// Regression tests of the second hardening round's review findings: each failed before
// its fix.

// TestChangeEmailLimitsComeFirst: changeEmail is limited per account and per client IP,
// and both limits answer before any password check, so a limited caller costs no argon2
// and learns nothing (not even whether the password or the address is right).
func TestChangeEmailLimitsComeFirst(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Limits.EmailChanges = Rate{N: 2, Window: time.Hour}
		c.Limits.IPEmailChanges = Rate{N: 3, Window: 2 * time.Hour}
	})
	hashing := f.countHashing()
	from := func(ip string) context.Context { return WithClient(t.Context(), Client{IP: ip}) }
	ann := f.principal(f.register("ann@example.com", strongPW))
	bob := f.principal(f.register("bob@example.com", strongPW))
	hashing.work()

	// Per account: two requests, then RATE_LIMITED even with a wrong password, no check.
	for i, to := range []string{"ann.a@example.com", "ann.b@example.com"} {
		if err := f.svc.ChangeEmail(from("203.0.113.1"), ann, to, strongPW); err != nil {
			t.Fatalf("change %d: %v", i+1, err)
		}
	}
	hashing.work()
	for _, pw := range []string{strongPW, "not the password"} {
		e := wantCode(t, f.svc.ChangeEmail(from("203.0.113.2"), ann, "ann.c@example.com", pw), CodeRateLimited)
		if e.RetryAfter != 3600 {
			t.Errorf("per-account retryAfter %d, want 3600", e.RetryAfter)
		}
	}
	if w := hashing.work(); w != (hashWork{}) {
		t.Errorf("a limited changeEmail cost %+v hash work, want none", w)
	}

	// Per IP: 203.0.113.1 has made two calls and .2 two (both counted, limited or not);
	// Bob's first call from .1 is its third, his next its fourth: RATE_LIMITED, no check.
	if err := f.svc.ChangeEmail(from("203.0.113.1"), bob, "bob.a@example.com", strongPW); err != nil {
		t.Fatalf("third call from one IP: %v", err)
	}
	hashing.work()
	e := wantCode(t, f.svc.ChangeEmail(from("203.0.113.1"), bob, "bob.b@example.com", strongPW), CodeRateLimited)
	if e.RetryAfter != 7200 {
		t.Errorf("per-IP retryAfter %d, want 7200", e.RetryAfter)
	}
	if w := hashing.work(); w != (hashWork{}) {
		t.Errorf("a changeEmail limited by IP cost %+v hash work, want none", w)
	}
	// Another IP, under both limits for Bob, goes through.
	if err := f.svc.ChangeEmail(from("198.51.100.7"), bob, "bob.b@example.com", strongPW); err != nil {
		t.Fatalf("another IP: %v", err)
	}
}

// TestMailsToUnprovenAddresses: whatever the requester typed at sign-up (the name) never
// reaches an address nobody has proven, in any mail: the reset link, the "password
// changed" notice, the email-change notice. Once the address is confirmed, the mails
// greet its owner by name. Names refuse Unicode format characters.
func TestMailsToUnprovenAddresses(t *testing.T) {
	f := newFixture(t)
	bait := "URGENT call +1 555 0100 http://evil.example"
	if _, err := f.svc.Register(t.Context(), RegisterInput{Email: "victim@example.com", Password: strongPW, Name: &bait}); err != nil {
		t.Fatal(err)
	}
	f.mails() // the confirmation, covered elsewhere
	noBait := func(what string, m store.Mail) {
		t.Helper()
		if strings.Contains(m.Text+m.HTML, "URGENT") || strings.Contains(m.Text+m.HTML, "evil.example") {
			t.Errorf("%s mail to an unproven address carries the requester's text:\n%s", what, m.Text)
		}
	}
	if err := f.svc.ForgotPassword(t.Context(), "victim@example.com", nil); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	noBait("reset", f.onlyMail(mailer.KindReset, "victim@example.com"))

	// The one who registered still holds a session: change the password and the address.
	tok, err := f.svc.ChangePassword(t.Context(), f.principal(f.login("victim@example.com", strongPW)), strongPW, strongPW2)
	if err != nil {
		t.Fatal(err)
	}
	noBait("password-changed", f.onlyMail(mailer.KindPasswordChanged, "victim@example.com"))
	if err := f.svc.ChangeEmail(t.Context(), f.principal(tok), "other@example.com", strongPW2); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.mails() {
		if m.To == "victim@example.com" {
			noBait(m.Kind, m)
		}
	}

	// A confirmed address is greeted by name in what its signed-in owner causes, never in
	// the reset mail, which anyone can have sent (the name may still be what someone else
	// typed before the owner confirmed the address).
	name := "Ann"
	confirmed := f.seedUser(store.User{Email: "ann@example.com", PasswordHash: f.hash(strongPW), Name: &name, EmailConfirmed: true})
	if err := f.svc.ForgotPassword(t.Context(), confirmed.Email, nil); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	if m := f.onlyMail(mailer.KindReset, "ann@example.com"); strings.Contains(m.Text+m.HTML, "Ann") {
		t.Errorf("reset mail greets by name:\n%s", m.Text)
	}
	if _, err := f.svc.ChangePassword(t.Context(), f.principal(f.login("ann@example.com", strongPW)), strongPW, strongPW2); err != nil {
		t.Fatal(err)
	}
	if m := f.onlyMail(mailer.KindPasswordChanged, "ann@example.com"); !strings.Contains(m.Text, "Hello Ann,") {
		t.Errorf("password-changed notice to a confirmed address does not greet by name:\n%s", m.Text)
	}

	for _, bad := range []string{"Ann\u202Egnp.exe", "A\u200Bnn", "\u2066Ann\u2069", "Ann\u00AD", "\uFEFFAnn"} {
		_, err := f.svc.Register(t.Context(), RegisterInput{Email: "cf@example.com", Password: strongPW, Name: &bad})
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "name" {
			t.Errorf("name %+q: field %q", bad, e.Field)
		}
	}
}

// sheddingHasher is the real hasher that, while shed is set, fails every call as the
// hashing-slot wait does under overload (its bound ends before a slot frees).
type sheddingHasher struct {
	passwordHasher
	shed atomic.Bool
}

func (h *sheddingHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	if h.shed.Load() {
		return false, false, context.DeadlineExceeded
	}
	return h.passwordHasher.Verify(ctx, pw, encoded)
}

func (h *sheddingHasher) VerifyDummy(ctx context.Context, pw string) error {
	if h.shed.Load() {
		return context.DeadlineExceeded
	}
	return h.passwordHasher.VerifyDummy(ctx, pw)
}

// TestShedPasswordChecksDoNotCount: logins (known and unknown addresses) and current
// password checks shed before their hash ran do not count toward the per-account failure
// limit, so overload locks nobody out; checks that ran still count.
func TestShedPasswordChecksDoNotCount(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.LoginFailures = Rate{N: 2, Window: time.Hour} })
	h := &sheddingHasher{passwordHasher: f.svc.hash.h}
	f.svc.hash.h = h
	ann := f.register("ann@example.com", strongPW)

	h.shed.Store(true)
	for range 5 {
		for _, email := range []string{"ann@example.com", "nobody@example.com"} {
			_, err := f.svc.Login(t.Context(), LoginInput{Email: email, Password: strongPW})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("shed login for %s = %v, want the shedding error", email, err)
			}
		}
		if _, err := f.svc.ChangePassword(t.Context(), f.principal(ann), strongPW, strongPW2); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("shed changePassword = %v, want the shedding error", err)
		}
	}
	for _, email := range []string{"ann@example.com", "nobody@example.com"} {
		c, err := f.store.PeekCounter(t.Context(), loginKey(email), f.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if c.Count != 0 {
			t.Errorf("%s: %d failures counted for checks that never ran", email, c.Count)
		}
	}
	h.shed.Store(false)
	f.login("ann@example.com", strongPW)

	// Checks that ran count as before: two wrong passwords, then a cooldown.
	for range 2 {
		if _, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: "wrong password here"}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	_, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW})
	wantCode(t, err, CodeRateLimited)
}

// userReadFails is the real store whose UserByID fails, while fail is set, as a store
// outage would between two calls of one request.
type userReadFails struct {
	store.Store
	fail atomic.Bool
}

func (s *userReadFails) UserByID(ctx context.Context, id string) (store.User, error) {
	if s.fail.Load() {
		return store.User{}, store.ErrUnavailable
	}
	return s.Store.UserByID(ctx, id)
}

// TestRefreshFailedCallSpendsNothing: a refresh that fails on the store answers the
// store's error and leaves the presented token unspent, even with no grace window (where
// presenting a spent token again is a replay that ends the session): everything the
// answer needs is read before the rotation.
func TestRefreshFailedCallSpendsNothing(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RefreshGrace = 0 })
	tok := f.register("ann@example.com", strongPW)
	failing := &userReadFails{Store: f.svc.store}
	f.svc.store = failing
	failing.fail.Store(true)
	if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("refresh during the outage = %v, want the store's ErrUnavailable", err)
	}
	failing.fail.Store(false)
	next := f.refreshOK(tok.RefreshToken)
	f.refreshOK(next.RefreshToken)
}

// setPasswordFails is the real store whose SetPassword fails, as a crash or an outage
// between the writes of a password change would leave it.
type setPasswordFails struct{ store.Store }

func (setPasswordFails) SetPassword(context.Context, string, string, time.Time) error {
	return store.ErrUnavailable
}

func (setPasswordFails) SetPasswordHash(context.Context, string, string, string, time.Time) error {
	return store.ErrUnavailable
}

// TestPasswordChangeEndsSessionsFirst: the sessions end before the new hash is written,
// so a change cut between its writes leaves no session of the old password's era behind
// (the kill -9 drill's finding), for changePassword and resetPassword alike.
func TestPasswordChangeEndsSessionsFirst(t *testing.T) {
	f := newFixture(t)
	caller := f.register("ann@example.com", strongPW)
	other := f.login("ann@example.com", strongPW)
	f.mails() // the confirmation
	resetRaw := f.forgot("ann@example.com")
	p := f.principal(caller)
	st := f.svc.store
	f.svc.store = setPasswordFails{st}
	if _, err := f.svc.ChangePassword(t.Context(), p, strongPW, strongPW2); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ChangePassword with a failing write = %v", err)
	}
	for name, tok := range map[string]Tokens{"caller's": caller, "other": other} {
		if access, refresh := f.sessionLive(tok); access || refresh {
			t.Errorf("%s session after a cut password change: access %v, refresh %v", name, access, refresh)
		}
	}
	third := f.login("ann@example.com", strongPW) // the old password still holds
	if err := f.svc.ResetPassword(t.Context(), resetRaw, strongPW2); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("ResetPassword with a failing write = %v", err)
	}
	if access, refresh := f.sessionLive(third); access || refresh {
		t.Errorf("session after a cut reset: access %v, refresh %v", access, refresh)
	}
	f.svc.store = st
	f.login("ann@example.com", strongPW)
}

// TestChangePasswordLosesToAResetThatLandedFirst: a changePassword whose current password
// was checked against the hash a reset has since replaced writes nothing and opens no
// session: the reset's password holds and the one who knew only the old password is out.
func TestChangePasswordLosesToAResetThatLandedFirst(t *testing.T) {
	f := newFixture(t)
	attacker := f.principal(f.register("ann@example.com", strongPW)) // read before the reset
	f.mails()
	if err := f.svc.ResetPassword(t.Context(), f.forgot("ann@example.com"), strongPW2); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.ChangePassword(t.Context(), attacker, strongPW, "attacker's brand new passphrase")
	wantCode(t, err, CodeInvalidCredentials)
	f.login("ann@example.com", strongPW2)
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: "attacker's brand new passphrase"}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the losing change's password signs in: %v", err)
	}
}

// pausingHasher is the real hasher that, once armed, holds the next Verify after it has
// run until released: a login paused between its password check and its session.
type pausingHasher struct {
	passwordHasher
	armed            atomic.Bool
	paused, released chan struct{}
}

func (h *pausingHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	ok, rehash, err := h.passwordHasher.Verify(ctx, pw, encoded)
	if h.armed.CompareAndSwap(true, false) {
		close(h.paused)
		<-h.released
	}
	return ok, rehash, err
}

// TestLoginRacingAPasswordChange: a login that checked the old password before a change
// landed, and opens its session after the change ended every session, is refused and its
// session ended: the old password opens nothing once the change is answered.
func TestLoginRacingAPasswordChange(t *testing.T) {
	f := newFixture(t)
	owner := f.register("ann@example.com", strongPW)
	h := &pausingHasher{passwordHasher: f.svc.hash.h, paused: make(chan struct{}), released: make(chan struct{})}
	f.svc.hash.h = h
	h.armed.Store(true)
	type result struct {
		tok Tokens
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW})
		done <- result{tok, err}
	}()
	<-h.paused
	if _, err := f.svc.ChangePassword(t.Context(), f.principal(owner), strongPW, strongPW2); err != nil {
		close(h.released)
		t.Fatal(err)
	}
	close(h.released)
	r := <-done
	if !errors.Is(r.err, ErrInvalidCredentials) {
		t.Fatalf("the login that checked the old password = %+v, %v; want INVALID_CREDENTIALS", r.tok, r.err)
	}
	sessions, err := f.store.ListLiveSessions(t.Context(), f.user("ann@example.com").ID, f.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(sessions) != 1 { // the change's own new session
		t.Errorf("%d live sessions, want only the one changePassword answered with", len(sessions))
	}
}

// TestConcurrentRefusedLoginsGiveBack: attempts refused by the count (while others wait
// for a hashing slot) give their place back; when the waiting ones are shed, the account
// is not left locked without a wrong password.
func TestConcurrentRefusedLoginsGiveBack(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.LoginFailures = Rate{N: 2, Window: time.Hour} })
	f.register("ann@example.com", strongPW)
	ctx := t.Context()
	// Two attempts hold their places (as logins waiting for a slot would), two more are
	// refused past the count, then the two holding ones are shed.
	var held []*attempt
	for range 2 {
		a, err := f.svc.loginAttempt(ctx, "ann@example.com")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, a)
	}
	for range 2 {
		_, err := f.svc.loginAttempt(ctx, "ann@example.com")
		wantCode(t, err, CodeRateLimited)
	}
	for _, a := range held {
		a.notChecked()
	}
	f.login("ann@example.com", strongPW)
}
