package account

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// forgot asks for a reset link for email, waits for the work done after the answer, and
// returns the link's token read from the queued mail.
func (f *fixture) forgot(email string) string {
	f.t.Helper()
	if err := f.svc.ForgotPassword(f.t.Context(), email, nil); err != nil {
		f.t.Fatal(err)
	}
	f.svc.Wait()
	to, err := CanonicalEmail("email", email)
	if err != nil {
		f.t.Fatal(err)
	}
	return linkToken(f.t, f.onlyMail(mailer.KindReset, to))
}

func TestForgotAndResetPassword(t *testing.T) {
	f := newFixture(t)
	reg := f.register("ann@example.com", strongPW)
	other := f.login("ann@example.com", strongPW)
	f.mails() // the confirmation

	raw := f.forgot("ANN@example.com ")
	// A refused password does not burn the link.
	err := f.svc.ResetPassword(t.Context(), raw, weakPW)
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "newPassword" || len(e.Reasons) == 0 {
		t.Errorf("weak password refused as %+v", e)
	}
	if err := f.svc.ResetPassword(t.Context(), raw, strongPW2); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}

	for _, tok := range []Tokens{reg, other} {
		if s := f.sessionOf(tok); s.RevokedAt == nil || s.RevokedReason != "password_reset" {
			t.Errorf("session %s: revoked %v (%q), want revoked by the reset", s.ID, s.RevokedAt, s.RevokedReason)
		}
	}
	u := f.user("ann@example.com")
	if !u.EmailConfirmed {
		t.Error("following a reset link did not confirm the address it was sent to")
	}
	f.onlyMail(mailer.KindPasswordChanged, "ann@example.com")
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("old password after a reset: %v", err)
	}
	f.login("ann@example.com", strongPW2)

	if err := f.svc.ResetPassword(t.Context(), raw, "yet another fine passphrase"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("second use of a reset link = %v, want INVALID_TOKEN", err)
	}
	if got := f.auditTypes(u.ID); !slices.Contains(got, "password_reset:success") {
		t.Errorf("audit = %v", got)
	}
}

func TestResetLinkRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		// spoil returns the token to present after doing what makes it invalid.
		spoil func(f *fixture, raw string) string
	}{
		{"expired", func(f *fixture, raw string) string {
			f.clock.Advance(f.cfg.Links.ResetTTL)
			return raw
		}},
		{"voided by a newer link", func(f *fixture, raw string) string {
			f.forgot("ann@example.com")
			return raw
		}},
		{"address changed since", func(f *fixture, raw string) string {
			f.changeEmail(f.login("ann@example.com", strongPW), "ann@example.com", "ann.new@example.org")
			if _, err := f.svc.ConfirmEmail(f.t.Context(), linkToken(f.t, f.mailsByKind()[mailer.KindEmailChange])); err != nil {
				f.t.Fatal(err)
			}
			return raw
		}},
		{"a confirmation link", func(f *fixture, _ string) string {
			ok, err := f.svc.ResendConfirmation(f.t.Context(), f.principal(f.login("ann@example.com", strongPW)))
			if err != nil || !ok {
				f.t.Fatalf("ResendConfirmation = %v, %v", ok, err)
			}
			return linkToken(f.t, f.onlyMail(mailer.KindConfirm, "ann@example.com"))
		}},
		{"unknown", func(*fixture, string) string { return "bm90LWEtdG9rZW4" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			id := f.register("ann@example.com", strongPW).User.ID
			f.mails()
			raw := f.forgot("ann@example.com")
			if err := f.svc.ResetPassword(t.Context(), tc.spoil(f, raw), strongPW2); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ResetPassword = %v, want INVALID_TOKEN", err)
			}
			u, err := f.store.UserByID(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _, err := f.hasher.Verify(t.Context(), strongPW, u.PasswordHash); !ok || err != nil {
				t.Errorf("a refused reset changed the password (%v)", err)
			}
		})
	}
}

// The link is good until just before it expires.
func TestResetLinkJustInTime(t *testing.T) {
	f := newFixture(t)
	f.register("ann@example.com", strongPW)
	f.mails()
	raw := f.forgot("ann@example.com")
	f.clock.Advance(f.cfg.Links.ResetTTL - time.Millisecond)
	if err := f.svc.ResetPassword(t.Context(), raw, strongPW2); err != nil {
		t.Fatal(err)
	}
}

// forgotPassword answers the same for any address; only a known one gets a mail, and no
// more than ResetMails allows.
func TestForgotPasswordQuiet(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.ResetMails = Rate{N: 1, Window: time.Hour} })
	f.register("ann@example.com", strongPW)
	f.mails()
	for _, email := range []string{"nobody@example.com", "not an address", "ann@example.com", "ann@example.com"} {
		if err := f.svc.ForgotPassword(t.Context(), email, nil); err != nil {
			t.Errorf("ForgotPassword(%q) = %v, want nil", email, err)
		}
	}
	f.svc.Wait()
	f.onlyMail(mailer.KindReset, "ann@example.com")
	if got := f.auditTypes(""); !slices.Contains(got, "password_reset_requested:failure") {
		t.Errorf("audit = %v", got)
	}
}

func TestChangePassword(t *testing.T) {
	f := newFixture(t)
	name := "Ann"
	if _, err := f.svc.Register(t.Context(), RegisterInput{Email: "ann@example.com", Password: strongPW, Name: &name}); err != nil {
		t.Fatal(err)
	}
	here := f.login("ann@example.com", strongPW)
	there := f.login("ann@example.com", strongPW)
	f.changeEmail(here, "ann@example.com", "ann.new@example.com")
	if err := f.svc.ForgotPassword(t.Context(), "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	byKind := f.mailsByKind()
	resetRaw, changeRaw := linkToken(t, byKind[mailer.KindReset]), linkToken(t, byKind[mailer.KindEmailChange])

	tok, err := f.svc.ChangePassword(t.Context(), f.principal(here), strongPW, strongPW2)
	if err != nil {
		t.Fatal(err)
	}
	// Every session ends, the caller's too: an access token minted before the change
	// (which whoever knew the old password may have copied) is refused at once.
	for name, old := range map[string]Tokens{"other": there, "caller's": here} {
		if s := f.sessionOf(old); s.RevokedAt == nil || s.RevokedReason != "password_change" {
			t.Errorf("%s session: revoked %v (%q), want revoked by the change", name, s.RevokedAt, s.RevokedReason)
		}
		if _, err := f.svc.Authenticate(f.accessCtx(old)); err == nil {
			t.Errorf("%s session's access token still authenticates after the change", name)
		}
	}
	cur := f.sessionOf(tok)
	if cur.ID == f.sessionOf(here).ID || !cur.Live(f.clock.Now()) || cur.Counter != 0 {
		t.Errorf("answer's session %+v: want a new, live session", cur)
	}
	f.principal(tok)
	f.refreshOK(tok.RefreshToken)
	if u := f.user("ann@example.com"); u.PendingEmail != nil {
		t.Errorf("pending email %q survived a password change", *u.PendingEmail)
	}
	if err := f.svc.ResetPassword(t.Context(), resetRaw, "yet another fine passphrase"); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("reset link after a password change = %v, want INVALID_TOKEN", err)
	}
	if _, err := f.svc.ConfirmEmail(t.Context(), changeRaw); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("email-change link after a password change = %v, want INVALID_TOKEN", err)
	}
	// Ann never confirmed her address: the notice carries nothing she typed, her name
	// included (TestMailsToUnprovenAddresses covers a confirmed address).
	if m := f.onlyMail(mailer.KindPasswordChanged, "ann@example.com"); !strings.Contains(m.Text, "Hello,") || strings.Contains(m.Text, "Ann") {
		t.Errorf("password-changed notice:\n%s", m.Text)
	}
	f.login("ann@example.com", strongPW2)
}

func TestChangePasswordRefused(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.LoginFailures.N = 2 })
	p := f.principal(f.register("ann@example.com", strongPW))

	_, err := f.svc.ChangePassword(t.Context(), p, strongPW, weakPW)
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "newPassword" {
		t.Errorf("weak new password: field %q", e.Field)
	}
	// Wrong current passwords count toward the login limiter of the address.
	for range 2 {
		if _, err := f.svc.ChangePassword(t.Context(), p, strongPW2, strongPW2); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong current password = %v, want INVALID_CREDENTIALS", err)
		}
	}
	_, err = f.svc.ChangePassword(t.Context(), p, strongPW, strongPW2)
	wantCode(t, err, CodeRateLimited)
	_, err = f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW})
	wantCode(t, err, CodeRateLimited)
	if ms := f.mails(); len(ms) != 1 {
		t.Errorf("%d mails, want only the confirmation", len(ms))
	}
}

// changeEmail asks to move the signed-in account of tok from email to newEmail.
func (f *fixture) changeEmail(tok Tokens, email, newEmail string) {
	f.t.Helper()
	if err := f.svc.ChangeEmail(f.t.Context(), f.principal(tok), newEmail, strongPW); err != nil {
		f.t.Fatalf("ChangeEmail(%s -> %s): %v", email, newEmail, err)
	}
}

func TestChangeEmail(t *testing.T) {
	f := newFixture(t)
	name := "Call +1 555 0100 to win"
	reg, err := f.svc.Register(t.Context(), RegisterInput{Email: "ann@example.com", Password: strongPW, Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	f.mails()
	f.changeEmail(reg, "ann@example.com", " Ann.New@Example.org")
	if u := f.user("ann@example.com"); u.PendingEmail == nil || *u.PendingEmail != "ann.new@example.org" {
		t.Fatalf("pending email = %v", u.PendingEmail)
	}

	byKind := f.mailsByKind()
	link, notice := byKind[mailer.KindEmailChange], byKind[mailer.KindEmailChangeNotice]
	if link.To != "ann.new@example.org" || notice.To != "ann@example.com" || len(byKind) != 2 {
		t.Fatalf("mails: %d, link to %q, notice to %q", len(byKind), link.To, notice.To)
	}
	if strings.Contains(link.Text, name) {
		t.Error("the link to the unproven address carries the requester's name")
	}
	// Ann never confirmed ann@example.com: the notice to it carries nothing she typed.
	if strings.Contains(notice.Text, name) || !strings.Contains(notice.Text, "a***@e***.org") || strings.Contains(notice.Text, "token=") {
		t.Errorf("notice to the old address:\n%s", notice.Text)
	}

	u, err := f.svc.ConfirmEmail(t.Context(), linkToken(t, link))
	if err != nil {
		t.Fatal(err)
	}
	if u.Email != "ann.new@example.org" || !u.EmailConfirmed || u.PendingEmail != nil {
		t.Errorf("after confirming: %+v", u)
	}
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("login with the old address: %v", err)
	}
	f.login("ann.new@example.org", strongPW)
	if _, err := f.svc.ConfirmEmail(t.Context(), linkToken(t, link)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("second use of the link: %v", err)
	}
}

func TestChangeEmailRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		cfg      func(*Config)
		newEmail string
		current  string
		want     Code
		field    string
	}{
		{name: "wrong current password", newEmail: "ann.new@example.org", current: strongPW2, want: CodeInvalidCredentials},
		{name: "same address", newEmail: "ANN@example.com", current: strongPW, want: CodeBadUserInput, field: "newEmail"},
		{name: "not an address", newEmail: "ann.new", current: strongPW, want: CodeBadUserInput, field: "newEmail"},
		{name: "taken", newEmail: "bob@example.com", current: strongPW, want: CodeEmailTaken, field: "newEmail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			p := f.principal(f.register("ann@example.com", strongPW))
			f.seedUser(store.User{Email: "bob@example.com", PasswordHash: f.hash(strongPW)})
			f.mails()
			err := f.svc.ChangeEmail(t.Context(), p, tc.newEmail, tc.current)
			if e := wantCode(t, err, tc.want); e.Field != tc.field {
				t.Errorf("field %q, want %q", e.Field, tc.field)
			}
			if ms := f.mails(); len(ms) != 0 {
				t.Errorf("%d mails queued by a refused change", len(ms))
			}
			if u := f.user("ann@example.com"); u.PendingEmail != nil {
				t.Errorf("pending email set to %q", *u.PendingEmail)
			}
		})
	}
}

func TestChangeEmailLink(t *testing.T) {
	for _, tc := range []struct {
		name string
		// between runs after the change was asked for, before the link is followed.
		between func(f *fixture)
		want    error
		// owner is whose address ends up holding the account.
		owner string
	}{
		{"just in time", func(f *fixture) { f.clock.Advance(f.cfg.Links.EmailChangeTTL - time.Millisecond) }, nil, "ann.new@example.org"},
		{"expired", func(f *fixture) { f.clock.Advance(f.cfg.Links.EmailChangeTTL) }, ErrInvalidToken, "ann@example.com"},
		{"address taken meanwhile", func(f *fixture) { f.register("ann.new@example.org", strongPW) }, ErrEmailTaken, "ann@example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			reg := f.register("ann@example.com", strongPW)
			id := reg.User.ID
			f.changeEmail(reg, "ann@example.com", "ann.new@example.org")
			raw := linkToken(t, f.mailsByKind()[mailer.KindEmailChange])
			tc.between(f)
			_, err := f.svc.ConfirmEmail(t.Context(), raw)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ConfirmEmail = %v, want %v", err, tc.want)
			}
			u := f.user(tc.owner)
			if u.ID != id {
				t.Fatalf("%s belongs to another account", tc.owner)
			}
			// A pending address that now belongs to someone else is no longer shown; an
			// expired link leaves it pending, to ask again.
			if pending := u.PendingEmail != nil; pending != errors.Is(tc.want, ErrInvalidToken) {
				t.Errorf("pending email %v after %s", u.PendingEmail, tc.name)
			}
		})
	}
}

func TestChangeEmailLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.EmailChanges = Rate{N: 1, Window: 24 * time.Hour} })
	reg := f.register("ann@example.com", strongPW)
	f.changeEmail(reg, "ann@example.com", "ann.new@example.org")
	err := f.svc.ChangeEmail(t.Context(), f.principal(reg), "ann.other@example.org", strongPW)
	wantCode(t, err, CodeRateLimited)
	f.clock.Advance(24 * time.Hour)
	f.changeEmail(f.login("ann@example.com", strongPW), "ann@example.com", "ann.other@example.org")
}
