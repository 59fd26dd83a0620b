package account

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// registerUnconfirmed registers email and returns its tokens and the confirmation link's
// token, taken from the outbox.
func (f *fixture) registerUnconfirmed(email string) (Tokens, string) {
	f.t.Helper()
	tok := f.register(email, strongPW)
	return tok, linkToken(f.t, f.onlyMail(mailer.KindConfirm, email))
}

// confirm follows a confirmation link in the signed-in tab of tok (whose session it keeps)
// and returns the user as ConfirmEmail answers it.
func (f *fixture) confirm(tok Tokens, raw string) store.User {
	f.t.Helper()
	u, err := f.svc.ConfirmEmail(f.accessCtx(tok), raw)
	if err != nil {
		f.t.Fatalf("ConfirmEmail: %v", err)
	}
	return u
}

// roleChanges returns the role_change events of userID as their details, newest first.
func (f *fixture) roleChanges(userID string) []map[string]string {
	f.t.Helper()
	evs, err := f.store.AuditEvents(f.t.Context(), userID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []map[string]string
	for _, e := range evs {
		if e.Type != "role_change" {
			continue
		}
		var d map[string]string
		if err := json.Unmarshal(e.Detail, &d); err != nil {
			f.t.Fatalf("role_change detail %s: %v", e.Detail, err)
		}
		d["actor"] = e.ActorID
		out = append(out, d)
	}
	return out
}

// wantPromoted fails unless userID's only role change is from USER to ADMIN for reason,
// by actor.
func (f *fixture) wantPromoted(userID, reason, actor string) {
	f.t.Helper()
	got := f.roleChanges(userID)
	want := map[string]string{"from": "USER", "to": "ADMIN", "reason": reason, "actor": actor}
	if len(got) != 1 || !mapsEqual(got[0], want) {
		f.t.Errorf("role changes of %s: %v, want one %v", userID, got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func firstAdminOn(c *Config) { c.FirstAdmin = true }

// The first account to confirm becomes the ADMIN, at once: ConfirmEmail answers it as one,
// and the next refresh issues an access token with the role. The second stays a USER.
func TestFirstConfirmationMakesTheAdmin(t *testing.T) {
	f := newFixture(t, firstAdminOn)
	annTok, annLink := f.registerUnconfirmed("ann@example.com")
	bobTok, bobLink := f.registerUnconfirmed("bob@example.com")

	if u := f.confirm(annTok, annLink); u.Role != store.RoleAdmin || !u.EmailConfirmed {
		t.Fatalf("ConfirmEmail(ann) = role %s, confirmed %v; want ADMIN, confirmed", u.Role, u.EmailConfirmed)
	}
	if got := f.claims(annTok).Role; got != "USER" {
		t.Fatalf("the token issued before the promotion says %s", got)
	}
	refreshed, err := f.svc.Refresh(t.Context(), annTok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.claims(refreshed).Role; got != "ADMIN" {
		t.Errorf("the access token of the refresh after the promotion says role %q, want ADMIN", got)
	}
	ann := f.user("ann@example.com")
	f.wantPromoted(ann.ID, ReasonFirstAdmin, "")

	if u := f.confirm(bobTok, bobLink); u.Role != store.RoleUser {
		t.Errorf("ConfirmEmail(bob) after ann = role %s, want USER", u.Role)
	}
	if got := f.roleChanges(f.user("bob@example.com").ID); len(got) != 0 {
		t.Errorf("bob's role changes: %v", got)
	}
}

// --first-admin=no: the first confirmation leaves a USER.
func TestFirstAdminOff(t *testing.T) {
	f := newFixture(t) // FirstAdmin false
	tok, link := f.registerUnconfirmed("ann@example.com")
	if u := f.confirm(tok, link); u.Role != store.RoleUser {
		t.Fatalf("ConfirmEmail with the rule off = role %s, want USER", u.Role)
	}
	if got := f.roleChanges(f.user("ann@example.com").ID); len(got) != 0 {
		t.Errorf("role changes: %v", got)
	}
}

// An address of --admin-emails (listed in any case) becomes an ADMIN when it is
// confirmed, though an ADMIN exists, and with the first-admin rule off; by a signup link
// or by an email change to it.
func TestAdminEmailsConfirming(t *testing.T) {
	for _, first := range []bool{true, false} {
		f := newFixture(t, func(c *Config) {
			c.FirstAdmin = first
			c.AdminEmails = []string{"root@example.org", " Boss@Example.COM"}
		})
		f.seedUser(store.User{Email: "admin@example.com", PasswordHash: f.hash(strongPW)})
		if err := f.store.SetRole(t.Context(), f.user("admin@example.com").ID, store.RoleAdmin, f.clock.Now()); err != nil {
			t.Fatal(err)
		}
		tok, link := f.registerUnconfirmed("boss@example.com")
		if u := f.confirm(tok, link); u.Role != store.RoleAdmin {
			t.Fatalf("first-admin %v: ConfirmEmail(boss) = role %s, want ADMIN", first, u.Role)
		}
		f.wantPromoted(f.user("boss@example.com").ID, ReasonAdminEmails, "")

		tok, link = f.registerUnconfirmed("eve@example.com")
		if u := f.confirm(tok, link); u.Role != store.RoleUser {
			t.Fatalf("ConfirmEmail(eve) = role %s, want USER", u.Role)
		}
		f.changeEmail(tok, "eve@example.com", "root@example.org")
		change := f.mailsByKind()[mailer.KindEmailChange]
		if u := f.confirm(tok, linkToken(t, change)); u.Role != store.RoleAdmin || u.Email != "root@example.org" {
			t.Fatalf("ConfirmEmail(email change to root@) = %s as %s, want ADMIN", u.Email, u.Role)
		}
		f.wantPromoted(f.user("root@example.org").ID, ReasonAdminEmails, "")
	}
}

// A reset that confirms the address counts as the first confirmation; a reset of an
// account confirmed before (when the rule was off, say) does not make it an ADMIN.
func TestResetConfirmingMakesTheAdmin(t *testing.T) {
	f := newFixture(t, firstAdminOn)
	f.seedUser(store.User{Email: "old@example.com", PasswordHash: f.hash(strongPW), EmailConfirmed: true})
	if err := f.svc.ResetPassword(t.Context(), f.forgot("old@example.com"), strongPW2); err != nil {
		t.Fatal(err)
	}
	if u := f.user("old@example.com"); u.Role != store.RoleUser {
		t.Fatalf("a reset of a confirmed account made it %s", u.Role)
	}
	f.mails() // the password-changed notice

	f.registerUnconfirmed("ann@example.com")
	if err := f.svc.ResetPassword(t.Context(), f.forgot("ann@example.com"), strongPW2); err != nil {
		t.Fatal(err)
	}
	ann := f.user("ann@example.com")
	if !ann.EmailConfirmed || ann.Role != store.RoleAdmin {
		t.Fatalf("after the reset that confirmed it: confirmed %v, role %s; want ADMIN", ann.EmailConfirmed, ann.Role)
	}
	f.wantPromoted(ann.ID, ReasonFirstAdmin, "")
	tok := f.login("ann@example.com", strongPW2)
	if got := f.claims(tok).Role; got != "ADMIN" {
		t.Errorf("the sign-in after the promotion issues role %q", got)
	}
}

// The command line: promote an account (once: again says it is one), refuse an unknown
// address; create a confirmed ADMIN under register's password policy, refusing a taken
// address. Its events name the actor cli.
func TestAdminCommandLine(t *testing.T) {
	f := newFixture(t)
	adm := NewAdmin(f.cfg, AdminDeps{Store: f.store, Hasher: f.hasher, Now: f.clock.Now})
	f.register("ann@example.com", strongPW)

	p, err := adm.Promote(t.Context(), " ANN@example.com")
	if err != nil || !p.Changed() || p.From != store.RoleUser || p.User.Role != store.RoleAdmin || p.User.Email != "ann@example.com" {
		t.Fatalf("Promote(ann) = %+v, %v", p, err)
	}
	if u := f.user("ann@example.com"); u.Role != store.RoleAdmin {
		t.Fatalf("stored role %s", u.Role)
	}
	f.wantPromoted(p.User.ID, ReasonCLI, ActorCLI)
	if p, err := adm.Promote(t.Context(), "ann@example.com"); err != nil || p.Changed() || p.From != store.RoleAdmin {
		t.Errorf("Promote(ann) again = %+v, %v; want unchanged", p, err)
	}
	if len(f.roleChanges(p.User.ID)) != 1 {
		t.Error("promoting an ADMIN recorded a change")
	}
	if _, err := adm.Promote(t.Context(), "nobody@example.com"); !errors.Is(err, ErrNoAccount) || !strings.Contains(err.Error(), "nobody@example.com") {
		t.Errorf("Promote(unknown) = %v, want ErrNoAccount naming the address", err)
	}

	if _, err := adm.Create(t.Context(), "root@example.com", weakPW); err == nil {
		t.Fatal("Create with a weak password succeeded")
	} else if e := wantCode(t, err, CodeBadUserInput); len(e.Reasons) == 0 {
		t.Errorf("weak password refused without reasons: %+v", e)
	}
	if _, err := f.store.UserByEmail(t.Context(), "root@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused create left an account: %v", err)
	}
	u, err := adm.Create(t.Context(), "Root@Example.com", strongPW)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.user("root@example.com"); got.ID != u.ID || got.Role != store.RoleAdmin || !got.EmailConfirmed {
		t.Errorf("created %+v", got)
	}
	if tok := f.login("root@example.com", strongPW); f.claims(tok).Role != "ADMIN" || !f.claims(tok).EmailVerified {
		t.Errorf("the created account signs in with claims %+v", f.claims(tok))
	}
	// Events recorded at one instant come back in no fixed order: look for the register
	// event rather than at a position.
	evs, err := f.store.AuditEvents(t.Context(), u.ID, 10)
	registered := false
	for _, ev := range evs {
		registered = registered || ev.Type == "register" && ev.ActorID == ActorCLI
	}
	if err != nil || !registered {
		t.Errorf("audit of the created account: no register event by %s in %+v, %v", ActorCLI, evs, err)
	}
	wantCode(t, func() error { _, err := adm.Create(t.Context(), "ann@example.com", strongPW2); return err }(), CodeEmailTaken)
}
