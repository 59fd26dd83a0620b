package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
)

// The admin mutations over HTTP (updateUser, deleteUser, revokeUserSessions,
// sendPasswordReset): refused for every caller below ADMIN with nothing done to the
// target; a disabling bites on the target's next request, a role change too; the last
// active ADMIN stays one, even when two admins demote each other at once; a deleted
// address registers again; an admin's reset mail reaches the SMTP sink and its link
// resets.

const (
	opsUpdateM = `mutation($id: ID!, $input: AdminUpdateUserInput!) {
		updateUser(id: $id, input: $input) { id role emailConfirmed disabled name lang } }`
	opsDeleteM = `mutation($id: ID!) { deleteUser(id: $id) }`
	opsRevokeM = `mutation($id: ID!) { revokeUserSessions(id: $id) }`
	opsResetM  = `mutation($id: ID!) { sendPasswordReset(id: $id) }`
	opsStaffQ  = `{ users(first: 1) { totalCount } }`
)

const opsNewPassword = "a brand new passphrase 42"

type opsUser struct {
	ID             string
	Role           string
	EmailConfirmed bool
	Disabled       bool
	Name           *string
	Lang           string
}

func opsUpdate(e *testEnv, bearer, id string, input map[string]any) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, opsUpdateM, map[string]any{"id": id, "input": input})
}

func opsUpdateOK(e *testEnv, bearer, id string, input map[string]any) opsUser {
	e.t.Helper()
	var resp struct{ UpdateUser opsUser }
	e.mustData(opsUpdate(e, bearer, id, input), &resp)
	return resp.UpdateUser
}

func opsTrue(e *testEnv, bearer, m, id string) {
	e.t.Helper()
	var resp map[string]bool
	e.mustData(e.gql(bearer, m, map[string]any{"id": id}), &resp)
	for k, v := range resp {
		if !v {
			e.t.Fatalf("%s = false", k)
		}
	}
}

// opsWantField checks r is BAD_USER_INPUT on field (with msg in its message, when set).
func opsWantField(e *testEnv, r gqlResponse, field, msg string) {
	e.t.Helper()
	ge := e.wantCode(r, "BAD_USER_INPUT")
	if ge.Extensions["field"] != field || !strings.Contains(ge.Message, msg) {
		e.t.Fatalf("BAD_USER_INPUT %q on %v, want %q on %q", ge.Message, ge.Extensions["field"], msg, field)
	}
}

func opsStoredUser(e *testEnv, email string) store.User {
	e.t.Helper()
	u, err := e.app.Support().User(e.t.Context(), email)
	if err != nil {
		e.t.Fatalf("User(%s): %v", email, err)
	}
	return u
}

// Each mutation for each kind of caller: no token or an anonymous one is UNAUTHENTICATED,
// USER and STAFF are FORBIDDEN, and none of these does anything to the target; an ADMIN's
// call works.
func TestAdminOpsByRole(t *testing.T) {
	e := newTestEnv(t, nil)
	target := staffSignUp(e, "target@example.com", store.RoleUser)
	user := staffSignUp(e, "user@example.com", store.RoleUser)
	staff := staffSignUp(e, "staff@example.com", store.RoleStaff)
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	before := opsStoredUser(e, "target@example.com")
	queued := e.outboxCount("target@example.com")

	ops := []struct {
		name, query string
		vars        map[string]any
	}{
		{"updateUser", opsUpdateM, map[string]any{"id": target.User.ID, "input": map[string]any{"role": "ADMIN", "disabled": true, "name": "X"}}},
		{"deleteUser", opsDeleteM, map[string]any{"id": target.User.ID}},
		{"revokeUserSessions", opsRevokeM, map[string]any{"id": target.User.ID}},
		{"sendPasswordReset", opsResetM, map[string]any{"id": target.User.ID}},
	}
	callers := []struct {
		name, bearer, code string
	}{
		{"no token", "", "UNAUTHENTICATED"},
		{"anonymous", e.anon(), "UNAUTHENTICATED"},
		{"USER", user.AccessToken, "FORBIDDEN"},
		{"STAFF", staff.AccessToken, "FORBIDDEN"},
	}
	for _, op := range ops {
		for _, c := range callers {
			r := e.gql(c.bearer, op.query, op.vars)
			if r.Code() != c.code || !strings.Contains(string(r.Data), "null") && len(r.Data) > 0 {
				t.Errorf("%s as %s: %s, want %s and no data", op.name, c.name, r.Raw, c.code)
			}
		}
	}
	after := opsStoredUser(e, "target@example.com")
	if after.Role != before.Role || after.Disabled != before.Disabled || after.Name != nil || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("target after refused calls: %+v", after)
	}
	mailWantLive(e, target.AccessToken)
	e.wantOutboxCount("target@example.com", queued)

	// ADMIN: every one works.
	u := opsUpdateOK(e, admin.AccessToken, target.User.ID, map[string]any{"role": "STAFF", "emailConfirmed": true, "name": "Tess", "lang": "fr"})
	if u.Role != "STAFF" || !u.EmailConfirmed || u.Name == nil || *u.Name != "Tess" || u.Lang != "fr" || u.Disabled {
		t.Errorf("updateUser = %+v", u)
	}
	opsTrue(e, admin.AccessToken, opsResetM, target.User.ID)
	e.wantOutboxCount("target@example.com", queued+1)
	opsTrue(e, admin.AccessToken, opsRevokeM, target.User.ID)
	e.wantCode(mailSessions(e, target.AccessToken), "UNAUTHENTICATED")
	e.wantCode(e.refreshReq(target.RefreshToken), "INVALID_REFRESH_TOKEN")
	opsTrue(e, admin.AccessToken, opsDeleteM, target.User.ID)
	e.wantCode(e.loginReq("target@example.com", strongPassword), "INVALID_CREDENTIALS")

	// Unknown ids, and profile rules as updateProfile's.
	for _, op := range ops {
		opsWantField(e, e.gql(admin.AccessToken, op.query, map[string]any{"id": "nobody", "input": map[string]any{"disabled": true}}), "id", "")
	}
	opsWantField(e, opsUpdate(e, admin.AccessToken, user.User.ID, map[string]any{"lang": nil, "disabled": true}), "lang", "")
	opsWantField(e, opsUpdate(e, admin.AccessToken, user.User.ID, map[string]any{"name": strings.Repeat("n", 101), "disabled": true}), "name", "")
	if opsStoredUser(e, "user@example.com").Disabled {
		t.Error("a refused update disabled the user")
	}

	// The audit log names the admin as actor and the fields by name.
	events := staffAudit(e, admin.AccessToken, map[string]any{"userId": target.User.ID, "first": 100}).Nodes
	seen := map[string]bool{}
	for _, ev := range events {
		if strings.HasPrefix(ev.Type, "admin_") {
			seen[ev.Type] = true
			if ev.ActorID == nil || *ev.ActorID != admin.User.ID {
				t.Errorf("%s: actor %v, want the admin", ev.Type, ev.ActorID)
			}
		}
		if ev.Type == "admin_update_user" && fmt.Sprint(ev.Detail["fields"]) != "[role emailConfirmed name lang]" {
			t.Errorf("admin_update_user detail %v", ev.Detail)
		}
	}
	for _, typ := range []string{"admin_update_user", "admin_send_password_reset", "admin_revoke_sessions", "admin_delete_user"} {
		if !seen[typ] {
			t.Errorf("no %s event about the target", typ)
		}
	}
}

// Disabling ends the user's sessions at once; login then answers ACCOUNT_DISABLED with the
// right password only. A role change counts on the user's very next request.
func TestAdminOpsDisableAndRole(t *testing.T) {
	e := newTestEnv(t, nil)
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	ann := staffSignUp(e, "ann@example.com", store.RoleUser)
	other := e.login("ann@example.com", strongPassword)

	e.wantCode(e.gql(ann.AccessToken, opsStaffQ, nil), "FORBIDDEN")
	opsUpdateOK(e, admin.AccessToken, ann.User.ID, map[string]any{"role": "STAFF"})
	e.mustData(e.gql(ann.AccessToken, opsStaffQ, nil), nil) // the same token, next request
	opsUpdateOK(e, admin.AccessToken, ann.User.ID, map[string]any{"role": "USER"})
	e.wantCode(e.gql(ann.AccessToken, opsStaffQ, nil), "FORBIDDEN")

	if u := opsUpdateOK(e, admin.AccessToken, ann.User.ID, map[string]any{"disabled": true}); !u.Disabled {
		t.Fatalf("updateUser(disabled) = %+v", u)
	}
	for _, s := range []authPayload{ann, other} {
		e.wantCode(e.meReq(s.AccessToken), "UNAUTHENTICATED")
		e.wantCode(e.refreshReq(s.RefreshToken), "INVALID_REFRESH_TOKEN")
	}
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "ACCOUNT_DISABLED")
	e.wantCode(e.loginReq("ann@example.com", "a wrong password, long enough"), "INVALID_CREDENTIALS")

	opsUpdateOK(e, admin.AccessToken, ann.User.ID, map[string]any{"disabled": false})
	again := e.login("ann@example.com", strongPassword)
	mailWantLive(e, again.AccessToken)
	// Old sessions stay ended.
	e.wantCode(e.meReq(ann.AccessToken), "UNAUTHENTICATED")
}

// The last active ADMIN cannot be demoted, disabled or deleted, by itself or another
// admin; two admins demoting each other at once leave one ADMIN every time.
func TestAdminOpsLastAdmin(t *testing.T) {
	e := newTestEnv(t, nil)
	a := staffSignUp(e, "a@example.com", store.RoleAdmin)
	b := staffSignUp(e, "b@example.com", store.RoleUser)
	const msg = "the last active ADMIN cannot be demoted, disabled or deleted"

	opsWantField(e, opsUpdate(e, a.AccessToken, a.User.ID, map[string]any{"role": "STAFF"}), "role", msg)
	opsWantField(e, opsUpdate(e, a.AccessToken, a.User.ID, map[string]any{"disabled": true}), "disabled", msg)
	opsWantField(e, e.gql(a.AccessToken, opsDeleteM, map[string]any{"id": a.User.ID}), "id", msg)
	// A disabled ADMIN is not an active one.
	opsUpdateOK(e, a.AccessToken, b.User.ID, map[string]any{"role": "ADMIN", "disabled": true})
	opsWantField(e, opsUpdate(e, a.AccessToken, a.User.ID, map[string]any{"role": "USER"}), "role", msg)
	if u := opsStoredUser(e, "a@example.com"); !u.ActiveAdmin() {
		t.Fatalf("the last admin after refusals: %+v", u)
	}

	// Two active admins demoting each other at once, in rounds.
	opsUpdateOK(e, a.AccessToken, b.User.ID, map[string]any{"disabled": false})
	const rounds = 6
	for r := range rounds {
		// Both signed in afresh (a disabling ends sessions) and both active ADMINs.
		ta := e.login("a@example.com", strongPassword)
		tb := e.login("b@example.com", strongPassword)
		inputs := []map[string]any{{"role": "USER"}, {"disabled": true}, {"role": "STAFF", "disabled": true}}
		var (
			wg     sync.WaitGroup
			rA, rB gqlResponse
			eA, eB error
		)
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			rA, eA = e.tryGQL(ta.AccessToken, opsUpdateM, map[string]any{"id": b.User.ID, "input": inputs[r%3]})
		})
		wg.Go(func() {
			<-start
			rB, eB = e.tryGQL(tb.AccessToken, opsUpdateM, map[string]any{"id": a.User.ID, "input": inputs[(r+1)%3]})
		})
		close(start)
		wg.Wait()
		if eA != nil || eB != nil {
			t.Fatalf("round %d: %v, %v", r, eA, eB)
		}
		ok := 0
		for _, resp := range []gqlResponse{rA, rB} {
			switch resp.Code() {
			case "":
				ok++
			case "BAD_USER_INPUT":
				if !strings.Contains(resp.Errors[0].Message, msg) {
					t.Fatalf("round %d: %s", r, resp.Raw)
				}
			default:
				// The loser may have been demoted or disabled before its own request was
				// authorised: FORBIDDEN or UNAUTHENTICATED, and nothing done.
				if c := resp.Code(); c != "FORBIDDEN" && c != "UNAUTHENTICATED" {
					t.Fatalf("round %d: %s", r, resp.Raw)
				}
			}
		}
		ua, ub := opsStoredUser(e, "a@example.com"), opsStoredUser(e, "b@example.com")
		if ok != 1 || ua.ActiveAdmin() == ub.ActiveAdmin() {
			t.Fatalf("round %d: %d succeeded; a %s disabled=%t, b %s disabled=%t; want exactly one active ADMIN",
				r, ok, ua.Role, ua.Disabled, ub.Role, ub.Disabled)
		}
		// The survivor restores the other for the next round.
		survivor, loser := ta, b.User.ID
		if ub.ActiveAdmin() {
			survivor, loser = tb, a.User.ID
		}
		opsUpdateOK(e, survivor.AccessToken, loser, map[string]any{"role": "ADMIN", "disabled": false})
	}

	// With two, an admin may delete itself; then the other is the last.
	ta := e.login("a@example.com", strongPassword)
	opsTrue(e, ta.AccessToken, opsDeleteM, a.User.ID)
	e.wantCode(e.meReq(ta.AccessToken), "UNAUTHENTICATED")
	tb := e.login("b@example.com", strongPassword)
	opsWantField(e, opsUpdate(e, tb.AccessToken, b.User.ID, map[string]any{"role": "STAFF"}), "role", msg)
}

// deleteUser as deleteAccount without the password: gone at once, the notice mailed, the
// address free to register again.
func TestAdminOpsDeleteUser(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	mailNext(t, sink, "admin@example.com")
	ann := staffSignUp(e, "ann@example.com", store.RoleUser)
	mailNext(t, sink, "ann@example.com")
	other := e.login("ann@example.com", strongPassword)

	opsTrue(e, admin.AccessToken, opsDeleteM, ann.User.ID)
	notice := mailNext(t, sink, "ann@example.com")
	mailCheckNoToken(t, notice)
	if !strings.Contains(notice.Subject, "account was deleted") {
		t.Errorf("notice %q", notice.Subject)
	}
	deleteWantGone(e, "ann@example.com", ann, other)
	opsWantField(e, e.gql(admin.AccessToken, opsDeleteM, map[string]any{"id": ann.User.ID}), "id", "")

	again := e.register("ann@example.com", strongPassword)
	if again.User.ID == ann.User.ID {
		t.Error("registered again under the deleted id")
	}
	mailNext(t, sink, "ann@example.com")
	mailWantLive(e, again.AccessToken)
	mailWantLive(e, admin.AccessToken)
	sink.wantNoMoreMail(e, "ann@example.com", "admin@example.com")
}

// sendPasswordReset mails a working reset link, under forgotPassword's per-account limit.
func TestAdminOpsSendPasswordReset(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) { c.Limits.ResetMails = config.Rate{N: 2, Window: c.Limits.ResetMails.Window} })
	admin := staffSignUp(e, "admin@example.com", store.RoleAdmin)
	mailNext(t, sink, "admin@example.com")
	ann := staffSignUp(e, "ann@example.com", store.RoleUser)
	mailNext(t, sink, "ann@example.com")

	opsTrue(e, admin.AccessToken, opsResetM, ann.User.ID)
	first := mailNext(t, sink, "ann@example.com")
	if first.Token() == "" {
		t.Fatalf("reset mail without a link:\n%s", first.Text)
	}
	mailForgotOK(e, "ann@example.com") // the same per-account count
	second := mailNext(t, sink, "ann@example.com")
	ge := e.wantCode(e.gql(admin.AccessToken, opsResetM, map[string]any{"id": ann.User.ID}), "RATE_LIMITED")
	if n, _ := ge.Extensions["retryAfter"].(float64); n < 1 {
		t.Errorf("retryAfter %v", ge.Extensions["retryAfter"])
	}
	// The newest link resets (a newer one voids the older).
	mailResetOK(e, second.Token(), opsNewPassword)
	e.wantCode(e.meReq(ann.AccessToken), "UNAUTHENTICATED")
	mailNext(t, sink, "ann@example.com") // the password-changed notice
	e.login("ann@example.com", opsNewPassword)
	sink.wantNoMoreMail(e, "ann@example.com")
}
