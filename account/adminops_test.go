package account

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

// adminFixture is a fixture with one ADMIN (adm) and one USER (ann), both signed in.
type adminFixture struct {
	*fixture
	adm, ann Tokens
}

func newAdminFixture(t *testing.T, edit ...func(*Config)) adminFixture {
	t.Helper()
	f := newFixture(t, edit...)
	a := adminFixture{fixture: f}
	a.adm = f.register("adm@example.com", strongPW)
	if err := f.store.SetRole(t.Context(), a.adm.User.ID, store.RoleAdmin, f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	a.ann = f.register("ann@example.com", strongPW)
	f.mails() // the confirmations
	return a
}

// adminEvent returns the one audit event of typ about userID, failing without one.
func (a adminFixture) adminEvent(userID, typ string) store.AuditEvent {
	a.t.Helper()
	evs, err := a.store.AuditEvents(a.t.Context(), userID, 1000)
	if err != nil {
		a.t.Fatal(err)
	}
	var found []store.AuditEvent
	for _, e := range evs {
		if e.Type == typ {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		a.t.Fatalf("%d %s events about %s, want one", len(found), typ, userID)
	}
	return found[0]
}

func TestAdminUpdateUser(t *testing.T) {
	a := newAdminFixture(t)
	ctx, admin := a.accessCtx(a.adm), a.principal(a.adm)
	annID := a.ann.User.ID
	other := a.login("ann@example.com", strongPW)

	// Role, confirmation and profile at once; the fields left out keep their values.
	staff := store.RoleStaff
	u, err := a.svc.AdminUpdateUser(ctx, admin, annID, AdminUserInput{
		Role: &staff, EmailConfirmed: new(true),
		Profile: ProfileInput{Name: new("Ann"), Lang: new("fr-CA"), Present: ProfileFields{Name: true, Lang: true}},
	})
	if err != nil {
		t.Fatalf("AdminUpdateUser: %v", err)
	}
	if u.Role != store.RoleStaff || !u.EmailConfirmed || u.Name == nil || *u.Name != "Ann" || u.Lang != "fr-CA" || u.Disabled {
		t.Errorf("updated user = %+v", u)
	}
	// The role counts on ann's next request.
	if _, err := a.svc.Authorize(a.accessCtx(a.ann), store.RoleStaff); err != nil {
		t.Errorf("ann as STAFF on the next request: %v", err)
	}
	ev := a.adminEvent(annID, "admin_update_user")
	var detail struct{ Fields []string }
	if err := json.Unmarshal(ev.Detail, &detail); err != nil {
		t.Fatal(err)
	}
	if ev.ActorID != admin.User.ID || ev.Outcome != "success" ||
		!slices.Equal(detail.Fields, []string{"role", "emailConfirmed", "name", "lang"}) {
		t.Errorf("audit event = %+v (%s)", ev, ev.Detail)
	}

	// Bad input writes nothing: every field is checked first.
	bad := []struct {
		in    AdminUserInput
		field string
	}{
		{AdminUserInput{Role: new(store.Role("ROOT"))}, "role"},
		{AdminUserInput{Disabled: new(true), Profile: ProfileInput{Lang: new("not a tag!"), Present: ProfileFields{Lang: true}}}, "lang"},
		{AdminUserInput{Disabled: new(true), Profile: ProfileInput{Present: ProfileFields{Lang: true}}}, "lang"},
		{AdminUserInput{Disabled: new(true), Profile: ProfileInput{Name: new("a\u0000b"), Present: ProfileFields{Name: true}}}, "name"},
	}
	for _, b := range bad {
		_, err := a.svc.AdminUpdateUser(ctx, admin, annID, b.in)
		if e := wantCode(t, err, CodeBadUserInput); e.Field != b.field {
			t.Errorf("field %q, want %q", e.Field, b.field)
		}
	}
	if got := a.user("ann@example.com"); got.Disabled || got.Lang != "fr-CA" {
		t.Errorf("after refused updates: %+v", got)
	}
	for _, id := range []string{"nobody", ""} {
		_, err := a.svc.AdminUpdateUser(ctx, admin, id, AdminUserInput{Disabled: new(true)})
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "id" {
			t.Errorf("unknown id: field %q", e.Field)
		}
	}

	// Disabling ends every session at once; login tells the disabled account apart only
	// with the right password.
	if _, err := a.svc.AdminUpdateUser(ctx, admin, annID, AdminUserInput{Disabled: new(true)}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []Tokens{a.ann, other} {
		if _, err := a.svc.Authenticate(a.accessCtx(tok)); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("a disabled user's access token: %v", err)
		}
		if s := a.sessionOf(tok); s.RevokedAt == nil {
			t.Errorf("session %s of a disabled user not revoked", s.ID)
		}
	}
	_, err = a.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW})
	wantCode(t, err, CodeAccountDisabled)
	_, err = a.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW2})
	wantCode(t, err, CodeInvalidCredentials)
	if _, err := a.svc.AdminUpdateUser(ctx, admin, annID, AdminUserInput{Disabled: new(false)}); err != nil {
		t.Fatal(err)
	}
	a.login("ann@example.com", strongPW)

	// A request that changes nothing writes nothing.
	before := a.user("ann@example.com")
	a.clock.Advance(time.Minute)
	if u, err := a.svc.AdminUpdateUser(ctx, admin, annID, AdminUserInput{Role: &staff, Disabled: new(false)}); err != nil || !u.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("no-op update: %v, updatedAt %v -> %v", err, before.UpdatedAt, u.UpdatedAt)
	}
}

// Every admin operation refuses a principal below ADMIN, even called without the
// directive, and leaves the target as it was.
func TestAdminOpsCheckTheRole(t *testing.T) {
	a := newAdminFixture(t)
	annID := a.ann.User.ID
	bob := a.register("bob@example.com", strongPW)
	p := a.principal(bob)
	ctx := a.accessCtx(bob)
	before := a.user("ann@example.com")
	for _, role := range []store.Role{store.RoleUser, store.RoleStaff} {
		p.User.Role = role
		_, err := a.svc.AdminUpdateUser(ctx, p, annID, AdminUserInput{Disabled: new(true)})
		wantCode(t, err, CodeForbidden)
		wantCode(t, a.svc.AdminDeleteUser(ctx, p, annID), CodeForbidden)
		wantCode(t, a.svc.AdminRevokeSessions(ctx, p, annID), CodeForbidden)
		wantCode(t, a.svc.AdminSendPasswordReset(ctx, p, annID), CodeForbidden)
	}
	if got := a.user("ann@example.com"); got.Disabled != before.Disabled || !got.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("target changed by refused calls: %+v", got)
	}
	if _, err := a.svc.Authenticate(a.accessCtx(a.ann)); err != nil {
		t.Errorf("target's session after refused calls: %v", err)
	}
}

// The last active ADMIN cannot demote, disable or delete itself, nor be by another admin;
// with a second one it can.
func TestAdminLastAdmin(t *testing.T) {
	a := newAdminFixture(t)
	ctx, admin := a.accessCtx(a.adm), a.principal(a.adm)
	admID, annID := a.adm.User.ID, a.ann.User.ID
	user, adminRole := store.RoleUser, store.RoleAdmin
	check := func(err error, field string) {
		t.Helper()
		e := wantCode(t, err, CodeBadUserInput)
		if e.Field != field || e.Message != LastAdminMessage {
			t.Errorf("refusal = %q on %q, want %q on %q", e.Message, e.Field, LastAdminMessage, field)
		}
	}
	_, err := a.svc.AdminUpdateUser(ctx, admin, admID, AdminUserInput{Role: &user})
	check(err, "role")
	_, err = a.svc.AdminUpdateUser(ctx, admin, admID, AdminUserInput{Disabled: new(true)})
	check(err, "disabled")
	check(a.svc.AdminDeleteUser(ctx, admin, admID), "id")
	if got := a.user("adm@example.com"); !got.ActiveAdmin() {
		t.Fatalf("the last admin after refusals: %+v", got)
	}

	// ann becomes an ADMIN; she demotes adm, then is the last one herself.
	if _, err := a.svc.AdminUpdateUser(ctx, admin, annID, AdminUserInput{Role: &adminRole}); err != nil {
		t.Fatal(err)
	}
	annCtx := a.accessCtx(a.ann)
	ann, err := a.svc.Authorize(annCtx, store.RoleAdmin)
	if err != nil {
		t.Fatalf("ann as ADMIN on her next request: %v", err)
	}
	if _, err := a.svc.AdminUpdateUser(annCtx, ann, admID, AdminUserInput{Role: &user}); err != nil {
		t.Fatalf("demoting adm beside ann: %v", err)
	}
	if _, err := a.svc.Authorize(ctx, store.RoleAdmin); !errors.Is(err, ErrForbidden) {
		t.Errorf("adm as ADMIN after his demotion: %v", err)
	}
	_, err = a.svc.AdminUpdateUser(annCtx, ann, annID, AdminUserInput{Role: &user})
	check(err, "role")
	check(a.svc.AdminDeleteUser(annCtx, ann, annID), "id")
}

func TestAdminDeleteUser(t *testing.T) {
	a := newAdminFixture(t)
	ctx, admin := a.accessCtx(a.adm), a.principal(a.adm)
	annID := a.ann.User.ID
	if err := a.svc.AdminDeleteUser(ctx, admin, annID); err != nil {
		t.Fatalf("AdminDeleteUser: %v", err)
	}
	if _, err := a.svc.Authenticate(a.accessCtx(a.ann)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("deleted user's token: %v", err)
	}
	if _, err := a.store.SessionByID(t.Context(), a.sessionOf(a.adm).ID); err != nil {
		t.Errorf("the admin's own session: %v", err)
	}
	a.onlyMail(mailer.KindAccountDeleted, "ann@example.com")
	if ev := a.adminEvent(annID, "admin_delete_user"); ev.ActorID != admin.User.ID {
		t.Errorf("audit event = %+v", ev)
	}
	wantCode(t, a.svc.AdminDeleteUser(ctx, admin, annID), CodeBadUserInput)
	if again := a.register("ann@example.com", strongPW2); again.User.ID == annID {
		t.Error("the address registered again under the deleted id")
	}
}

func TestAdminRevokeSessions(t *testing.T) {
	a := newAdminFixture(t)
	ctx, admin := a.accessCtx(a.adm), a.principal(a.adm)
	annID := a.ann.User.ID
	other := a.login("ann@example.com", strongPW)
	if err := a.svc.AdminRevokeSessions(ctx, admin, annID); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []Tokens{a.ann, other} {
		if _, err := a.svc.Authenticate(a.accessCtx(tok)); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("access token after revocation: %v", err)
		}
	}
	if _, err := a.svc.Authenticate(ctx); err != nil {
		t.Errorf("the admin's own session: %v", err)
	}
	a.login("ann@example.com", strongPW) // the account itself is fine
	ev := a.adminEvent(annID, "admin_revoke_sessions")
	if ev.ActorID != admin.User.ID || string(ev.Detail) != `{"sessions":2}` {
		t.Errorf("audit event = %+v (%s)", ev, ev.Detail)
	}
	wantCode(t, a.svc.AdminRevokeSessions(ctx, admin, "nobody"), CodeBadUserInput)
}

func TestAdminSendPasswordReset(t *testing.T) {
	a := newAdminFixture(t, func(c *Config) { c.Limits.ResetMails = Rate{N: 2, Window: time.Hour} })
	ctx, admin := a.accessCtx(a.adm), a.principal(a.adm)
	annID := a.ann.User.ID
	if err := a.svc.AdminSendPasswordReset(ctx, admin, annID); err != nil {
		t.Fatal(err)
	}
	m := a.onlyMail(mailer.KindReset, "ann@example.com")
	// forgotPassword counts under the same per-account limit.
	if err := a.svc.ForgotPassword(anonCtx(t.Context()), "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	a.svc.Wait()
	a.mails()
	e := wantCode(t, a.svc.AdminSendPasswordReset(ctx, admin, annID), CodeRateLimited)
	if e.RetryAfter < 1 {
		t.Errorf("retryAfter %d", e.RetryAfter)
	}
	if n := len(a.mails()); n != 0 {
		t.Errorf("%d mails past the limit", n)
	}
	// The first link is void (a newer one was issued); mail the latest again after the
	// window and reset through it.
	a.clock.Advance(time.Hour + time.Second)
	if err := a.svc.AdminSendPasswordReset(ctx, admin, annID); err != nil {
		t.Fatal(err)
	}
	latest := a.onlyMail(mailer.KindReset, "ann@example.com")
	if err := a.svc.ResetPassword(t.Context(), linkToken(t, m), strongPW2); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("an older link: %v", err)
	}
	if err := a.svc.ResetPassword(t.Context(), linkToken(t, latest), strongPW2); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	a.login("ann@example.com", strongPW2)
	evs, err := a.store.AuditEvents(t.Context(), annID, 100)
	if err != nil {
		t.Fatal(err)
	}
	var ok, refused int
	for _, ev := range evs {
		if ev.Type == "admin_send_password_reset" {
			if ev.ActorID != admin.User.ID {
				t.Errorf("actor %q", ev.ActorID)
			}
			switch ev.Outcome {
			case "success":
				ok++
			default:
				refused++
			}
		}
	}
	if ok != 2 || refused != 1 {
		t.Errorf("admin_send_password_reset events: %d ok, %d refused; want 2 and 1", ok, refused)
	}
	wantCode(t, a.svc.AdminSendPasswordReset(ctx, admin, "nobody"), CodeBadUserInput)
}
