package account

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// --enumeration-protection (enumeration.go): register answers a used address as a new one
// and signs in neither; login needs a confirmed address.

func protectedFixture(t *testing.T, edit ...func(*Config)) *fixture {
	t.Helper()
	return newFixture(t, append([]func(*Config){func(c *Config) {
		c.EnumerationProtection = true
		c.Limits.ConfirmResends = Rate{N: 2, Window: time.Hour}
	}}, edit...)...)
}

// wantNotSignedIn checks register's protected answer: no tokens, both expiries now, a
// USER account never signed in, with email and a real-looking id.
func wantNotSignedIn(t *testing.T, f *fixture, tok Tokens, email string) {
	t.Helper()
	now := f.clock.Now().UTC().Truncate(time.Millisecond)
	if tok.AccessToken != "" || tok.RefreshToken != "" || tok.AccessExpiresIn != 0 ||
		!tok.AccessExpiresAt.Equal(now) || !tok.RefreshExpiresAt.Equal(now) {
		t.Errorf("tokens = %+v, want none, expiring now", tok)
	}
	u := tok.User
	if u.Email != email || u.Role != store.RoleUser || u.EmailConfirmed || u.Disabled || u.LoginCount != 0 ||
		u.LastLoginAt != nil || u.PasswordHash != "" || !u.CreatedAt.Equal(now) || !u.UpdatedAt.Equal(now) {
		t.Errorf("user = %+v", u)
	}
	if len(u.ID) != len(newID()) || strings.Trim(u.ID, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		t.Errorf("user id %q does not look like an id", u.ID)
	}
}

func TestEnumerationProtectionRegister(t *testing.T) {
	f := protectedFixture(t)
	ctx := t.Context()
	hashes := f.countHashing()
	fr := "fr"
	tok, err := f.svc.Register(ctx, RegisterInput{Email: "Ann@example.com", Password: strongPW, Lang: &fr})
	if err != nil {
		t.Fatal(err)
	}
	wantNotSignedIn(t, f, tok, "ann@example.com")
	if w := hashes.work(); w != (hashWork{Hash: 1}) {
		t.Errorf("new address: hash work %+v, want one hash", w)
	}
	ann := f.user("ann@example.com")
	if ann.ID != tok.User.ID || ann.LoginCount != 0 || ann.LastLoginAt != nil {
		t.Errorf("stored %+v: a protected registration is no login", ann)
	}
	if live, err := f.store.ListLiveSessions(ctx, ann.ID, f.clock.Now()); err != nil || len(live) != 0 {
		t.Errorf("sessions after a protected registration: %v, %v", live, err)
	}
	confirm := f.onlyMail(mailer.KindConfirm, "ann@example.com")

	// The same address again, with everything a requester could type.
	name, surname, pseudo, en, agree := "Mallory Name", "Mallory Surname", "mallory-pseudo", "en", true
	data := map[string]any{"note": "mallory-data"}
	again := RegisterInput{
		Email: " ANN@example.com", Password: strongPW2, Name: &name, Surname: &surname, Pseudo: &pseudo,
		Lang: &en, Agreement: &agree, Data: data,
	}
	fake, err := f.svc.Register(ctx, again)
	if err != nil {
		t.Fatalf("used address: %v, want the answer of a new one", err)
	}
	wantNotSignedIn(t, f, fake, "ann@example.com")
	if w := hashes.work(); w != (hashWork{Hash: 1}) {
		t.Errorf("used address: hash work %+v, want one hash as for a new one", w)
	}
	if fake.User.ID == ann.ID || *fake.User.Name != name || *fake.User.Surname != surname || *fake.User.Pseudo != pseudo ||
		fake.User.Lang != "en" || !fake.User.Agreement || !reflect.DeepEqual(DecodeData(fake.User.Data), data) {
		t.Errorf("made-up user %+v does not echo the input as a new account would", fake.User)
	}
	// Nothing was created or changed.
	if _, err := f.store.UserByID(ctx, fake.User.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the made-up id %s exists: %v", fake.User.ID, err)
	}
	if now := f.user("ann@example.com"); !reflect.DeepEqual(now, ann) {
		t.Errorf("the account changed:\n%+v\nwas\n%+v", now, ann)
	}

	// Its owner is told, in the owner's language, with nothing the requester typed.
	notice := f.onlyMail(mailer.KindSignupAttempt, "ann@example.com")
	if !strings.Contains(notice.Subject, "Quelqu'un") {
		t.Errorf("notice subject %q, want the owner's language (fr)", notice.Subject)
	}
	for _, typed := range []string{name, surname, pseudo, "mallory-data", strongPW2, "ANN@", "token", "http"} {
		if strings.Contains(notice.Subject+notice.Text+notice.HTML, typed) {
			t.Errorf("notice carries %q:\n%s", typed, notice.Text)
		}
	}
	if !slices.Contains(f.auditTypes(""), "register:failure") {
		t.Errorf("no register failure audited: %v", f.auditTypes(""))
	}

	// The made-up account answers with the fields a real one of this input has.
	fresh, err := f.svc.Register(ctx, RegisterInput{
		Email: "bob@example.com", Password: strongPW2, Name: &name, Surname: &surname, Pseudo: &pseudo,
		Lang: &en, Agreement: &agree, Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	hashes.work()
	a, b := fake.User, fresh.User
	a.ID, a.Email, b.ID, b.Email = "", "", "", ""
	if !reflect.DeepEqual(a, b) {
		t.Errorf("made-up user %+v\nreal new user %+v", a, b)
	}
	f.onlyMail(mailer.KindConfirm, "bob@example.com")

	// Two notices per window, then none; the answer stays the same.
	if _, err := f.svc.Register(ctx, again); err != nil {
		t.Fatal(err)
	}
	f.onlyMail(mailer.KindSignupAttempt, "ann@example.com")
	tok3, err := f.svc.Register(ctx, again)
	if err != nil {
		t.Fatalf("past the notice limit: %v, want the same answer", err)
	}
	wantNotSignedIn(t, f, tok3, "ann@example.com")
	if ms := f.mails(); len(ms) != 0 {
		t.Errorf("past the notice limit, %d mails queued", len(ms))
	}
	f.clock.Advance(time.Hour + time.Second)
	if _, err := f.svc.Register(ctx, again); err != nil {
		t.Fatal(err)
	}
	f.onlyMail(mailer.KindSignupAttempt, "ann@example.com")

	// The new address's link confirms it; then the password signs in.
	if _, err := f.svc.ConfirmEmail(ctx, linkToken(t, confirm)); err != nil {
		t.Fatal(err)
	}
	if got := f.login("ann@example.com", strongPW); got.User.ID != ann.ID || got.User.LoginCount != 1 {
		t.Errorf("login after confirmation: %+v", got.User)
	}
}

func TestEnumerationProtectionLogin(t *testing.T) {
	f := protectedFixture(t)
	ctx := t.Context()
	f.register("ann@example.com", strongPW)
	confirm := f.onlyMail(mailer.KindConfirm, "ann@example.com")
	hashes := f.countHashing()

	login := func(email, pw string) *Error {
		t.Helper()
		_, err := f.svc.Login(ctx, LoginInput{Email: email, Password: pw})
		return wantCode(t, err, CodeInvalidCredentials)
	}
	// The right password of an unconfirmed address costs what a wrong one does.
	right := login("ann@example.com", strongPW)
	rightWork := hashes.work()
	wrong := login("ann@example.com", strongPW2)
	if w := hashes.work(); w != rightWork || w.Verify != 1 {
		t.Errorf("hash work: right password %+v, wrong password %+v, want the same, one verification", rightWork, w)
	}
	unknown := login("nobody@example.com", strongPW)
	for _, e := range []*Error{right, wrong, unknown} {
		if e.Message != errInvalidCredentialsProtected.Message || e.Field != "" {
			t.Errorf("message %q (field %q), want %q for every cause", e.Message, e.Field, errInvalidCredentialsProtected.Message)
		}
	}
	evs, err := f.store.AuditEvents(ctx, f.user("ann@example.com").ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool {
		return e.Type == "login" && e.Outcome == "failure" && strings.Contains(string(e.Detail), `"unconfirmed"`)
	}) {
		t.Errorf("no login failure audited as unconfirmed: %+v", evs)
	}

	// The right password of an unconfirmed address counts as a wrong one: the third
	// failure (LoginFailures is 3 a minute) starts the cooldown, as it would.
	login("ann@example.com", strongPW)
	_, err = f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW})
	wantCode(t, err, CodeRateLimited)
	f.clock.Advance(5 * time.Minute)

	// A disabled unconfirmed account tells nothing of being disabled.
	f.seedUser(store.User{Email: "dis@example.com", PasswordHash: f.hash(strongPW), Disabled: true})
	login("dis@example.com", strongPW)

	// Confirmed, the password signs in.
	if _, err := f.svc.ConfirmEmail(ctx, linkToken(t, confirm)); err != nil {
		t.Fatal(err)
	}
	if tok := f.login("ann@example.com", strongPW); tok.AccessToken == "" || f.principal(tok).User.Email != "ann@example.com" {
		t.Errorf("login after confirmation: %+v", tok)
	}
	// A disabled confirmed account is still ACCOUNT_DISABLED, as without the setting.
	f.seedUser(store.User{Email: "off@example.com", PasswordHash: f.hash(strongPW), Disabled: true, EmailConfirmed: true})
	_, err = f.svc.Login(ctx, LoginInput{Email: "off@example.com", Password: strongPW})
	wantCode(t, err, CodeAccountDisabled)
}

// An unconfirmed account's owner who lost the confirmation mail resets the password: the
// reset confirms the address, and the new password signs in.
func TestEnumerationProtectionResetConfirms(t *testing.T) {
	f := protectedFixture(t)
	f.register("ann@example.com", strongPW)
	f.onlyMail(mailer.KindConfirm, "ann@example.com")
	if err := f.svc.ResetPassword(t.Context(), f.forgot("ann@example.com"), strongPW2); err != nil {
		t.Fatal(err)
	}
	if u := f.login("ann@example.com", strongPW2).User; !u.EmailConfirmed {
		t.Errorf("signed in unconfirmed: %+v", u)
	}
}

// Off (the default), register of a used address is EMAIL_TAKEN and mails nobody, and
// login's message stays the plain one.
func TestEnumerationProtectionOff(t *testing.T) {
	f := newFixture(t)
	tok := f.register("ann@example.com", strongPW)
	if tok.AccessToken == "" || tok.User.LoginCount != 1 {
		t.Errorf("register off: %+v", tok)
	}
	f.onlyMail(mailer.KindConfirm, "ann@example.com")
	_, err := f.svc.Register(t.Context(), RegisterInput{Email: "ann@example.com", Password: strongPW2})
	wantCode(t, err, CodeEmailTaken)
	if ms := f.mails(); len(ms) != 0 {
		t.Errorf("EMAIL_TAKEN queued %d mails", len(ms))
	}
	f.login("ann@example.com", strongPW) // unconfirmed signs in
	_, err = f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW2})
	if e := wantCode(t, err, CodeInvalidCredentials); e.Message != ErrInvalidCredentials.Message {
		t.Errorf("message %q", e.Message)
	}
}
