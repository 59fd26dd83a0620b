package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
)

// The admin rules through the API, on the store the suite runs on (SQLite, or MongoDB
// with TOKTOK_TEST_STORE=mongodb): the first account to confirm becomes the ADMIN, even
// when several confirm at one instant; --first-admin=no and --admin-emails change that.

// firstAdminEnv starts an app on testConfig edited by edit, without outbox worker: the
// links are read from the queued mails.
func firstAdminEnv(t *testing.T, edit func(*config.Config)) *testEnv {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return startEnvWith(t, cfg, newTestClock(), app.Options{NoWorker: true})
}

// firstAdminLink returns the token of the newest queued mail of kind to addr.
func firstAdminLink(e *testEnv, addr, kind string) string {
	e.t.Helper()
	e.app.Support().Settle()
	ms := e.outboxTo(addr)
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Kind != kind || ms[i].State != store.MailPending {
			continue
		}
		opened, err := e.app.Support().OpenMail(ms[i])
		if err != nil {
			e.t.Fatal(err)
		}
		_, tok, ok := strings.Cut(opened.Text, "token=")
		if !ok {
			e.t.Fatalf("the %s mail to %s carries no link", kind, addr)
		}
		tok, _, _ = strings.Cut(tok, "\n")
		return strings.TrimSpace(tok)
	}
	e.t.Fatalf("no pending %s mail to %s", kind, addr)
	return ""
}

// firstAdminRole reads the stored role of addr.
func firstAdminRole(e *testEnv, addr string) store.Role {
	e.t.Helper()
	u, err := e.app.Support().User(e.t.Context(), addr)
	if err != nil {
		e.t.Fatalf("user %s: %v", addr, err)
	}
	return u.Role
}

// firstAdminConfirm confirms with tok in the tab of bearer and returns the role the answer
// shows.
func firstAdminConfirm(e *testEnv, bearer, tok string) string {
	e.t.Helper()
	var resp struct{ ConfirmEmail struct{ Role string } }
	e.mustData(e.gql(bearer, `mutation($t: String!) { confirmEmail(token: $t) { role } }`, map[string]any{"t": tok}), &resp)
	return resp.ConfirmEmail.Role
}

// firstAdminChanges returns the role_change events of addr's account, as their details.
func firstAdminChanges(e *testEnv, addr string) []map[string]any {
	e.t.Helper()
	u, err := e.app.Support().User(e.t.Context(), addr)
	if err != nil {
		e.t.Fatal(err)
	}
	evs, err := e.app.Support().Audit(e.t.Context(), u.ID, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []map[string]any
	for _, ev := range evs {
		if ev.Type == "role_change" {
			var d map[string]any
			if err := json.Unmarshal(ev.Detail, &d); err != nil {
				e.t.Fatal(err)
			}
			out = append(out, d)
		}
	}
	return out
}

// wantRoleChange fails unless addr's account changed role once, to ADMIN for reason.
func wantRoleChange(e *testEnv, addr, reason string) {
	e.t.Helper()
	got := firstAdminChanges(e, addr)
	if len(got) != 1 || got[0]["from"] != "USER" || got[0]["to"] != "ADMIN" || got[0]["reason"] != reason {
		e.t.Errorf("role changes of %s: %v, want one USER -> ADMIN for %s", addr, got, reason)
	}
}

// Accounts confirming at one instant through the API: exactly one becomes the ADMIN. Its
// next refresh issues an access token whose role is ADMIN, and me says so; a sign-in too.
func TestFirstAdminConcurrentConfirmations(t *testing.T) {
	e := firstAdminEnv(t, nil)
	const n = 8
	addrs := make([]string, n)
	regs := make([]authPayload, n)
	links := make([]string, n)
	for i := range n {
		addrs[i] = fmt.Sprintf("u%d@example.com", i)
		regs[i] = e.register(addrs[i], strongPassword)
		links[i] = firstAdminLink(e, addrs[i], "confirm")
	}
	answers := make([]gqlResponse, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			answers[i], errs[i] = e.tryGQL(regs[i].AccessToken, `mutation($t: String!) { confirmEmail(token: $t) { email role } }`,
				map[string]any{"t": links[i]})
		})
	}
	close(start)
	wg.Wait()

	admin := -1
	for i := range n {
		if errs[i] != nil || answers[i].Code() != "" {
			t.Fatalf("confirmEmail of %s: %v %s", addrs[i], errs[i], answers[i].Raw)
		}
		var resp struct{ ConfirmEmail struct{ Email, Role string } }
		e.mustData(answers[i], &resp)
		stored := firstAdminRole(e, addrs[i])
		if string(stored) != resp.ConfirmEmail.Role {
			t.Errorf("%s: confirmEmail answered %s, stored %s", addrs[i], resp.ConfirmEmail.Role, stored)
		}
		if stored == store.RoleAdmin {
			if admin >= 0 {
				t.Fatalf("two ADMINs: %s and %s", addrs[admin], addrs[i])
			}
			admin = i
		}
	}
	if admin < 0 {
		t.Fatalf("no ADMIN among %d first confirmations", n)
	}
	wantRoleChange(e, addrs[admin], "first_admin")

	if _, c := authJWT(t, regs[admin].AccessToken); c["role"] != "USER" {
		t.Fatalf("the token issued at registration says %v", c["role"])
	}
	ref := e.refresh(regs[admin].RefreshToken)
	if _, c := authJWT(t, ref.AccessToken); c["role"] != "ADMIN" || ref.User.Role != "ADMIN" {
		t.Errorf("refresh after the promotion: token role %v, user role %s; want ADMIN", c["role"], ref.User.Role)
	}
	var me struct{ Me struct{ Role string } }
	e.mustData(e.meReq(regs[admin].AccessToken), &me)
	if me.Me.Role != "ADMIN" {
		t.Errorf("me with the token of before the promotion: role %s, want ADMIN (read from the store)", me.Me.Role)
	}
	if _, c := authJWT(t, e.login(addrs[admin], strongPassword).AccessToken); c["role"] != "ADMIN" {
		t.Errorf("a sign-in of the ADMIN issues role %v", c["role"])
	}
}

// --first-admin=no: the first confirmation makes no ADMIN. --admin-emails: a listed
// address becomes an ADMIN when it confirms, though an ADMIN exists; others do not. A
// password reset that confirms the address counts as the first confirmation.
func TestFirstAdminSettings(t *testing.T) {
	t.Run("first-admin=no", func(t *testing.T) {
		e := firstAdminEnv(t, func(c *config.Config) { c.Account.FirstAdmin = false })
		reg := e.register("ann@example.com", strongPassword)
		if role := firstAdminConfirm(e, reg.AccessToken, firstAdminLink(e, "ann@example.com", "confirm")); role != "USER" {
			t.Errorf("first confirmation with --first-admin=no: %s, want USER", role)
		}
		if got := firstAdminChanges(e, "ann@example.com"); len(got) != 0 {
			t.Errorf("role changes: %v", got)
		}
	})
	t.Run("admin-emails", func(t *testing.T) {
		e := firstAdminEnv(t, func(c *config.Config) { c.Account.AdminEmails = []string{"boss@example.com"} })
		for _, tc := range []struct{ addr, want, reason string }{
			{"ann@example.com", "ADMIN", "first_admin"},
			{"bob@example.com", "USER", ""},
			{"Boss@Example.com", "ADMIN", "admin_emails"},
		} {
			reg := e.register(tc.addr, strongPassword)
			addr := strings.ToLower(tc.addr)
			if role := firstAdminConfirm(e, reg.AccessToken, firstAdminLink(e, addr, "confirm")); role != tc.want {
				t.Errorf("%s confirms: %s, want %s", tc.addr, role, tc.want)
			}
			if tc.reason != "" {
				wantRoleChange(e, addr, tc.reason)
			}
		}
	})
	t.Run("reset confirms", func(t *testing.T) {
		e := firstAdminEnv(t, nil)
		e.register("ann@example.com", strongPassword)
		var ok struct{ ForgotPassword bool }
		e.mustData(e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc("ann@example.com")}), &ok)
		tok := firstAdminLink(e, "ann@example.com", "reset")
		var done struct{ ResetPassword bool }
		e.mustData(e.gql("", `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`,
			map[string]any{"t": tok, "p": e.enc("a brand new passphrase 42")}), &done)
		if role := firstAdminRole(e, "ann@example.com"); !done.ResetPassword || role != store.RoleAdmin {
			t.Errorf("after a reset that confirmed the address: %v, role %s; want ADMIN", done.ResetPassword, role)
		}
		wantRoleChange(e, "ann@example.com", "first_admin")
	})
}
