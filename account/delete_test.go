package account

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// deletable is an account with a bit of everything a deletion must end: two sessions, a
// confirmation link and a reset link, both still unsent in the outbox.
type deletable struct {
	reg, other     Tokens
	confirm, reset string // link tokens
}

func (f *fixture) deletable(email string) deletable {
	f.t.Helper()
	var d deletable
	d.reg = f.register(email, strongPW)
	d.other = f.login(email, strongPW)
	// Read the links as the worker would, then put the mails back as unsent: the queue is
	// what the deletion must empty.
	if err := f.svc.ForgotPassword(f.t.Context(), email, nil); err != nil {
		f.t.Fatal(err)
	}
	f.svc.Wait()
	ctx, now := f.t.Context(), f.clock.Now()
	claimed, err := f.store.ClaimMails(ctx, "peek", now, now, 10)
	if err != nil || len(claimed) != 2 {
		f.t.Fatalf("claimed %d mails, %v; want the confirmation and the reset", len(claimed), err)
	}
	for _, m := range claimed {
		opened, err := f.sealer.Open(m)
		if err != nil {
			f.t.Fatal(err)
		}
		switch m.Kind {
		case mailer.KindConfirm:
			d.confirm = linkToken(f.t, opened)
		case mailer.KindReset:
			d.reset = linkToken(f.t, opened)
		}
	}
	// The lease ended at now: the mails are pending and free again once the clock moves.
	f.clock.Advance(time.Minute)
	return d
}

func TestDeleteAccount(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	d := f.deletable("ann@example.com")
	bob := f.register("bob@example.com", strongPW)
	f.mails() // bob's confirmation, sent
	p := f.principal(d.reg)
	id := p.User.ID

	if err := f.svc.DeleteAccount(f.accessCtx(d.reg), p, strongPW); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}

	// Gone at once: login answers as for an unknown address, sessions and refresh tokens
	// are refused, links find no account.
	if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("login after deletion: %v", err)
	}
	for _, tok := range []Tokens{d.reg, d.other} {
		if _, err := f.svc.Authenticate(f.accessCtx(tok)); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("access token after deletion: %v", err)
		}
		if _, err := f.svc.Refresh(ctx, tok.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
			t.Errorf("refresh after deletion: %v", err)
		}
		if _, err := f.store.SessionByID(ctx, f.refreshSession(tok)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after deletion: %v, want it removed", err)
		}
	}
	if _, err := f.svc.ConfirmEmail(ctx, d.confirm); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("confirmation link after deletion: %v", err)
	}
	if err := f.svc.ResetPassword(ctx, d.reset, strongPW2); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("reset link after deletion: %v", err)
	}
	// The queued mails went with it; the notice did not.
	notice := f.onlyMail(mailer.KindAccountDeleted, "ann@example.com")
	if linkTokenIn(notice) {
		t.Errorf("the deletion notice carries a link:\n%s", notice.Text)
	}
	// The audit log keeps the account's history and the deletion.
	if got := f.auditTypes(id); !contains(got, "account_deleted:success") || !contains(got, "register:success") {
		t.Errorf("audit events of the deleted account = %v", got)
	}
	// Bob is untouched.
	if _, err := f.svc.Authenticate(f.accessCtx(bob)); err != nil {
		t.Errorf("another account after a deletion: %v", err)
	}

	// The address registers again at once, as a new account.
	again := f.register("ann@example.com", strongPW2)
	if again.User.ID == id {
		t.Error("the new account reuses the deleted one's id")
	}
	if got := f.auditTypes(again.User.ID); len(got) != 1 || got[0] != "register:success" {
		t.Errorf("the new account's audit events = %v, want only its registration", got)
	}
}

func contains(ss []string, s string) bool { return slices.Contains(ss, s) }

// linkTokenIn reports a link in either part of an opened mail.
func linkTokenIn(m store.Mail) bool {
	return strings.Contains(m.Text+m.HTML, "token=") || strings.Contains(m.Text+m.HTML, "href=")
}

// refreshSession is the session a refresh token names.
func (f *fixture) refreshSession(tok Tokens) string {
	f.t.Helper()
	sid, _, err := f.refresh.Decode(tok.RefreshToken)
	if err != nil {
		f.t.Fatal(err)
	}
	return sid
}

// The current password decides, as for changePassword: wrong or undecryptable is
// INVALID_CREDENTIALS and the account stays; wrong ones count toward the login limiter.
func TestDeleteAccountRefused(t *testing.T) {
	f := newFixture(t)
	box := testBox(t)
	enc := func(s string) string {
		t.Helper()
		c, err := credentials.Encrypt(box.PublicKey(), s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	reg := f.register("ann@example.com", strongPW)
	f.mails()
	f.withBox(box)
	ctx := f.accessCtx(reg)

	for _, tc := range []struct {
		name, password string
		code           Code
	}{
		{"undecryptable", strongPW, CodeInvalidCredentials},
		{"wrong", enc("not my password at all"), CodeInvalidCredentials},
		{"wrong again", enc("still not my password"), CodeInvalidCredentials},
		{"wrong a third time", enc("nor this one"), CodeInvalidCredentials},
		// Three failures (the fixture's limit): even the right one is refused now.
		{"limited", enc(strongPW), CodeRateLimited},
	} {
		err := f.svc.DeleteAccount(ctx, f.principal(reg), tc.password)
		wantCode(t, err, tc.code)
		if _, err := f.store.UserByID(t.Context(), reg.User.ID); err != nil {
			t.Fatalf("%s: the account after a refused deletion: %v", tc.name, err)
		}
	}
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: enc("ann@example.com"), Password: enc(strongPW)}); !errors.Is(err, &Error{Code: CodeRateLimited}) {
		t.Errorf("login after three wrong passwords to deleteAccount: %v, want RATE_LIMITED", err)
	}
	if n := len(f.mails()); n != 0 {
		t.Errorf("%d mails queued by refused deletions", n)
	}
	f.clock.Advance(time.Hour)
	fresh := f.login(enc("ann@example.com"), enc(strongPW))
	if err := f.svc.DeleteAccount(f.accessCtx(fresh), f.principal(fresh), enc(strongPW)); err != nil {
		t.Fatalf("DeleteAccount once the cooldown is over: %v", err)
	}
}

// A crash right after the first step: the account is already unusable; the purge's
// FinishDeletions removes what was left.
func TestDeleteAccountCrashAfterFirstStep(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	d := f.deletable("ann@example.com")
	id := d.reg.User.ID

	if _, err := f.store.BeginUserDeletion(ctx, id, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(f.accessCtx(d.reg)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("access token after the first step: %v", err)
	}
	if _, err := f.svc.Refresh(ctx, d.other.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("refresh after the first step: %v", err)
	}
	if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("login after the first step: %v", err)
	}
	if _, err := f.store.SessionByID(ctx, f.refreshSession(d.reg)); err != nil {
		t.Fatalf("the session before the purge: %v (the crash left it)", err)
	}

	f.clock.Advance(time.Minute)
	n, err := f.store.FinishDeletions(ctx, f.clock.Now())
	if err != nil || n != 2+2+2+1 { // sessions, links, mails, the record
		t.Fatalf("FinishDeletions = %d, %v; want 7 records", n, err)
	}
	for _, tok := range []Tokens{d.reg, d.other} {
		if _, err := f.store.SessionByID(ctx, f.refreshSession(tok)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session after the purge: %v", err)
		}
	}
	if n := len(f.mails()); n != 0 {
		t.Errorf("%d mails left after the purge", n)
	}
}

// Two deletions of one account at once: one deletes it, the other finds it gone.
func TestDeleteAccountConcurrent(t *testing.T) {
	f := newFixture(t)
	reg := f.register("ann@example.com", strongPW)
	p := f.principal(reg)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() { errs[i] = f.svc.DeleteAccount(f.accessCtx(reg), p, strongPW) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrUnauthenticated):
		default:
			t.Errorf("concurrent deletion: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d deletions succeeded, want 1", ok)
	}
	var notices int
	for _, m := range f.mails() {
		if m.Kind == mailer.KindAccountDeleted {
			notices++
		}
	}
	if notices != 1 {
		t.Errorf("%d deletion notices, want 1", notices)
	}
}
