package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/store"
)

// End-to-end tests of second factors over GraphQL (API.md, "Multi-factor authentication
// and passkeys"): TOTP enrolment, the aal1 gate and verifyMfa, refresh keeping the level,
// replays, the login-failure cooldown, recovery codes, removing factors, an admin's reset,
// MFA required by role, and the TOTP secret kept out of logs and mails. Passkeys are in
// passkey_test.go.

// recoveryCodePattern is the form of a recovery code: 10 base32 symbols as xxxxx-xxxxx.
var recoveryCodePattern = regexp.MustCompile(`^[a-z2-7]{5}-[a-z2-7]{5}$`)

// wantRecoveryCodes fails the test unless codes are 10 distinct well-formed codes.
func wantRecoveryCodes(t testing.TB, codes []string) {
	t.Helper()
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10: %v", len(codes), codes)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodePattern.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q malformed or repeated in %v", c, codes)
		}
		seen[c] = true
	}
}

// TestMFATotpEnrolment: enrollTotp gives a secret, its otpauth URI and QR code, and a
// pending factor; a wrong code is refused; the right one confirms the factor, returns 10
// recovery codes and raises the session to aal2; a pending factor expires in 15 minutes.
func TestMFATotpEnrolment(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	reg := e.registerMFA("ann@example.com")
	if reg.Aal != "aal1" || reg.MfaRequired {
		t.Fatalf("register: aal %q mfaRequired %t", reg.Aal, reg.MfaRequired)
	}
	en := e.enrollTotp(reg.AccessToken)

	u, err := url.Parse(en.OtpauthURI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("otpauthUri %q: %v", en.OtpauthURI, err)
	}
	if label, err := url.PathUnescape(strings.TrimPrefix(u.EscapedPath(), "/")); err != nil || label != "TokTok:ann@example.com" {
		t.Errorf("otpauthUri label %q (%v), want TokTok:ann@example.com", label, err)
	}
	if q := u.Query(); q.Get("secret") != en.Secret || q.Get("issuer") != "TokTok" {
		t.Errorf("otpauthUri query %v: secret or issuer wrong", q)
	}
	if !strings.HasPrefix(en.QrCodeSvg, "<svg") {
		t.Errorf("qrCodeSvg starts %.40q", en.QrCodeSvg)
	}

	me := e.me(reg.AccessToken)
	if me.MfaEnabled || me.RecoveryCodesRemaining != 0 || len(me.Factors) != 1 {
		t.Fatalf("me after enrollTotp: %+v", me)
	}
	if f := me.Factors[0]; f.ID != en.FactorID || f.Type != "TOTP" || f.Confirmed || f.Name == nil || *f.Name != "Phone" {
		t.Fatalf("pending factor %+v", f)
	}

	e.wantCode(e.confirmTotpReq(reg.AccessToken, en.FactorID, e.wrongCode(en.Secret)), "INVALID_CREDENTIALS")
	if me := e.me(reg.AccessToken); me.MfaEnabled || me.Factors[0].Confirmed {
		t.Fatalf("a wrong code confirmed the factor: %+v", me)
	}

	done := e.confirmTotp(reg.AccessToken, en.FactorID, e.code(en.Secret))
	if f := done.Factor; f.ID != en.FactorID || f.Type != "TOTP" || !f.Confirmed {
		t.Fatalf("confirmed factor %+v", f)
	}
	wantRecoveryCodes(t, done.RecoveryCodes)
	wantLevel(t, done.Auth, "aal2", false, "pwd", "otp")
	if sid := mfaClaims(t, done.Auth.AccessToken)["sid"]; sid != mfaClaims(t, reg.AccessToken)["sid"] {
		t.Errorf("confirmTotp changed the session: %v, was %v", sid, mfaClaims(t, reg.AccessToken)["sid"])
	}
	me = e.me(done.Auth.AccessToken)
	if !me.MfaEnabled || me.RecoveryCodesRemaining != 10 || len(me.Factors) != 1 || !me.Factors[0].Confirmed || me.Factors[0].LastUsedAt == nil {
		t.Fatalf("me after confirmTotp: %+v", me)
	}
	m := e.mail.wait(t, "ann@example.com", mfaSubjectAdded)
	// The factor's name is text the user typed: not in a mail to an unconfirmed address.
	if !strings.Contains(m.Text, "ann@example.com") || strings.Contains(m.Text, "Phone") {
		t.Errorf("factor-added notice to an unconfirmed address:\n%s", m.Text)
	}

	// A pending factor of another user expires after 15 minutes.
	bob := e.registerMFA("bob@example.com")
	pending := e.enrollTotp(bob.AccessToken)
	e.clock.Advance(15*time.Minute + time.Second)
	bob = e.refreshMFA(bob.RefreshToken) // the access token may have expired meanwhile
	e.wantCode(e.confirmTotpReq(bob.AccessToken, pending.FactorID, e.code(pending.Secret)), "BAD_USER_INPUT")
	if me := e.me(bob.AccessToken); len(me.Factors) != 0 || me.MfaEnabled {
		t.Fatalf("me lists an expired enrolment: %+v", me)
	}
}

// mfaUserOps are the @auth operations other than those an aal1 session may call (logout,
// beginMfaChallenge, verifyMfa), each with arguments that change nothing when it runs.
var mfaUserOps = map[string]string{
	"mySessions":                 `{ mySessions { id } }`,
	"updateProfile":              `mutation { updateProfile(input: {name: "Mallory"}) { id } }`,
	"changePassword":             `mutation { changePassword(currentPassword: "x", newPassword: "y") { accessToken } }`,
	"changeEmail":                `mutation { changeEmail(newEmail: "new@example.com", currentPassword: "x") }`,
	"deleteAccount":              `mutation { deleteAccount(currentPassword: "x") }`,
	"resendConfirmation":         `mutation { resendConfirmation }`,
	"revokeSession":              `mutation { revokeSession(id: "nope") }`,
	"enrollTotp":                 `mutation { enrollTotp { factorId } }`,
	"confirmTotp":                `mutation { confirmTotp(factorId: "nope", code: "123456") { factor { id } } }`,
	"beginWebAuthnRegistration":  `mutation { beginWebAuthnRegistration { challengeId } }`,
	"finishWebAuthnRegistration": `mutation { finishWebAuthnRegistration(challengeId: "nope", credential: {type: "public-key"}) { factor { id } } }`,
	"removeFactor":               `mutation { removeFactor(id: "nope") }`,
	"regenerateRecoveryCodes":    `mutation { regenerateRecoveryCodes }`,
}

// mfaAdminOps are the @hasRole operations, likewise.
var mfaAdminOps = map[string]string{
	"users":              `{ users { totalCount } }`,
	"user":               `{ user(id: "nope") { id } }`,
	"auditEvents":        `{ auditEvents { nodes { id } } }`,
	"updateUser":         `mutation { updateUser(id: "nope", input: {name: "x"}) { id } }`,
	"deleteUser":         `mutation { deleteUser(id: "nope") }`,
	"revokeUserSessions": `mutation { revokeUserSessions(id: "nope") }`,
	"sendPasswordReset":  `mutation { sendPasswordReset(id: "nope") }`,
	"resetUserMfa":       `mutation { resetUserMfa(id: "nope") }`,
}

// mfaAAL1Ops are the guarded operations an aal1 session may call.
var mfaAAL1Ops = []string{"logout", "beginMfaChallenge", "verifyMfa"}

// guardedFields returns the fields of schema.graphqls under @auth or @hasRole.
func guardedFields(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile("../schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^\s+(\w+)\s*(\(.*\))?\s*:.*@(auth|hasRole)\b`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestMFAOperationTableIsComplete: the tables of TestMFALoginRequiresSecondFactor name
// every guarded operation of the schema, so a new one cannot slip past the gate's test.
func TestMFAOperationTableIsComplete(t *testing.T) {
	t.Parallel()
	fields := guardedFields(t)
	if len(fields) < 20 {
		t.Fatalf("found only %d guarded fields in the schema: %v", len(fields), fields)
	}
	for _, f := range fields {
		_, user := mfaUserOps[f]
		_, admin := mfaAdminOps[f]
		if !user && !admin && !slices.Contains(mfaAAL1Ops, f) {
			t.Errorf("guarded operation %s is in no table of the MFA gate test", f)
		}
	}
	for name := range mfaUserOps {
		if !slices.Contains(fields, name) {
			t.Errorf("table operation %s is not guarded in the schema", name)
		}
	}
	for name := range mfaAdminOps {
		if !slices.Contains(fields, name) {
			t.Errorf("table operation %s is not guarded in the schema", name)
		}
	}
}

// TestMFALoginRequiresSecondFactor: a password login of a user with a factor is aal1;
// the session may call me, logout, refreshToken, beginMfaChallenge and verifyMfa, and
// every other guarded operation answers MFA_REQUIRED "verify"; verifyMfa raises the same
// session to aal2, after which everything answers.
func TestMFALoginRequiresSecondFactor(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	for _, role := range []store.Role{store.RoleUser, store.RoleAdmin} {
		t.Run(string(role), func(t *testing.T) {
			e := e.in(t)
			u := e.totpSignUp(strings.ToLower(string(role)) + "@example.com")
			staffSetRole(e.testEnv, u.ID, role)
			ops := map[string]string{}
			for k, v := range mfaUserOps {
				ops[k] = v
			}
			if role == store.RoleAdmin {
				for k, v := range mfaAdminOps {
					ops[k] = v
				}
			}

			l := e.loginMFA(u.Email, strongPassword)
			wantLevel(t, l, "aal1", true, "pwd")
			if me := e.me(l.AccessToken); me.ID != u.ID || !me.MfaEnabled {
				t.Fatalf("me at aal1: %+v", me)
			}
			for _, name := range slices.Sorted(maps.Keys(ops)) {
				t.Run("aal1 "+name, func(t *testing.T) {
					e.in(t).wantMFARequired(e.in(t).gql(l.AccessToken, ops[name], nil), "verify")
				})
			}
			// Allowed at aal1: beginMfaChallenge (no passkey here), refreshToken and logout
			// (on a second aal1 session, so that the first keeps its refresh token).
			e.wantCode(e.beginMfaChallengeReq(l.AccessToken), "BAD_USER_INPUT")
			// logout ends this session only: a password alone ends no verified session.
			for _, scope := range []string{"OTHERS", "ALL"} {
				e.in(t).wantMFARequired(e.gql(l.AccessToken, `mutation { logout(scope: `+scope+`) }`, nil), "verify")
			}
			l2 := e.loginMFA(u.Email, strongPassword)
			r2 := e.refreshMFA(l2.RefreshToken)
			wantLevel(t, r2, "aal1", true, "pwd")
			var out struct{ Logout bool }
			e.mustData(e.gql(r2.AccessToken, `mutation { logout }`, nil), &out)
			if !out.Logout {
				t.Fatal("logout at aal1 answered false")
			}

			v := e.verifyMfa(l.AccessToken, map[string]any{"totpCode": e.code(u.Secret)})
			wantLevel(t, v, "aal2", false, "pwd", "otp")
			if a, b := mfaClaims(t, l.AccessToken)["sid"], mfaClaims(t, v.AccessToken)["sid"]; a != b || a == nil {
				t.Fatalf("verifyMfa moved the session: sid %v then %v", a, b)
			}
			var sess struct {
				MySessions []struct {
					ID      string
					Current bool
				}
			}
			e.mustData(e.gql(v.AccessToken, `{ mySessions { id current } }`, nil), &sess)
			current := 0
			for _, s := range sess.MySessions {
				if s.Current {
					current++
				}
			}
			// The sign-up session and this login's: verifyMfa started none.
			if len(sess.MySessions) != 2 || current != 1 {
				t.Fatalf("mySessions after verifyMfa: %+v", sess.MySessions)
			}
			for _, name := range slices.Sorted(maps.Keys(ops)) {
				if r := e.gql(v.AccessToken, ops[name], nil); r.Code() == "MFA_REQUIRED" || r.Code() == "FORBIDDEN" || r.Code() == "UNAUTHENTICATED" {
					t.Errorf("%s at aal2: %s", name, r.Raw)
				}
			}
			// The login's refresh token still refreshes, at aal2.
			wantLevel(t, e.refreshMFA(l.RefreshToken), "aal2", false, "pwd", "otp")
		})
	}
}

// TestMFARefreshKeepsLevel: refreshing an aal1 session answers aal1 and mfaRequired;
// refreshing an aal2 session answers aal2, with the claims to match.
func TestMFARefreshKeepsLevel(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.totpSignUp("ann@example.com")
	l := e.loginMFA(u.Email, strongPassword)
	r := e.refreshMFA(l.RefreshToken)
	wantLevel(t, r, "aal1", true, "pwd")
	e.wantMFARequired(e.gql(r.AccessToken, mfaUserOps["mySessions"], nil), "verify")

	v := e.loginVerified(u)
	r = e.refreshMFA(v.RefreshToken)
	wantLevel(t, r, "aal2", false, "pwd", "otp")
	e.mustData(e.gql(r.AccessToken, mfaUserOps["mySessions"], nil), nil)
	// The sign-up session, raised by the confirmation, refreshes at aal2 too.
	wantLevel(t, e.refreshMFA(u.Auth.RefreshToken), "aal2", false, "pwd", "otp")

	// changePassword at aal2 starts its new session at the caller's level.
	const newPassword = "another long passphrase 42"
	var cp struct{ ChangePassword mfaAuth }
	e.mustData(e.gql(r.AccessToken, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { `+mfaFields+` } }`,
		map[string]any{"c": e.enc(strongPassword), "n": e.enc(newPassword)}), &cp)
	wantLevel(t, cp.ChangePassword, "aal2", false, "pwd", "otp")
	wantLevel(t, e.loginMFA(u.Email, newPassword), "aal1", true, "pwd")
}

// TestMFATotpReplay: a TOTP code is accepted once; the same code on another session in
// the same time step is a wrong code.
func TestMFATotpReplay(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.totpSignUp("ann@example.com")
	l1 := e.loginMFA(u.Email, strongPassword)
	l2 := e.loginMFA(u.Email, strongPassword)
	code := e.code(u.Secret)
	e.verifyMfa(l1.AccessToken, map[string]any{"totpCode": code})
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{"totpCode": code}), "INVALID_CREDENTIALS")
	e.wantMFARequired(e.gql(l2.AccessToken, mfaUserOps["mySessions"], nil), "verify")
	// The confirmation's code is spent too (its step is before this one).
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{"totpCode": mfaCodeAt(t, u.Secret, e.clock.Now().Add(-mfa.Period))}), "INVALID_CREDENTIALS")
	e.clock.Advance(mfa.Period)
	wantLevel(t, e.verifyMfa(l2.AccessToken, map[string]any{"totpCode": e.code(u.Secret)}), "aal2", false, "pwd", "otp")
}

// TestMFAWrongCodesCooldown: wrong codes count toward the account's login-failure limit;
// past it verifyMfa and the password login are both in cooldown.
func TestMFAWrongCodesCooldown(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.totpSignUp("ann@example.com")
	l := e.loginMFA(u.Email, strongPassword)
	n := e.cfg.Limits.LoginFailures.N
	if n <= 0 {
		t.Fatalf("login-failure limit %d", n)
	}
	// The password login that still owes its second factor may count as one attempt
	// (account/limits.go, attempt.halfway): n-1 or n wrong codes reach the limit.
	wrong := 0
	for ; wrong <= n; wrong++ {
		r := e.verifyMfaReq(l.AccessToken, map[string]any{"totpCode": e.wrongCode(u.Secret)})
		if r.Code() == "RATE_LIMITED" {
			break
		}
		e.wantCode(r, "INVALID_CREDENTIALS")
	}
	if wrong < n-1 || wrong > n {
		t.Fatalf("%d wrong codes checked before the cooldown, want %d (or %d)", wrong, n, n-1)
	}
	r := e.verifyMfaReq(l.AccessToken, map[string]any{"totpCode": e.code(u.Secret)})
	ge := e.wantCode(r, "RATE_LIMITED")
	if ra, ok := ge.Extensions["retryAfter"].(float64); !ok || ra <= 0 {
		t.Fatalf("retryAfter %v: %s", ge.Extensions["retryAfter"], r.Raw)
	}
	e.wantCode(e.loginMFAReq(u.Email, strongPassword), "RATE_LIMITED")
	e.wantMFARequired(e.gql(l.AccessToken, mfaUserOps["mySessions"], nil), "verify")
	// Recovery codes are under the same limit.
	e.wantCode(e.verifyMfaReq(l.AccessToken, map[string]any{"recoveryCode": u.Codes[0]}), "RATE_LIMITED")
	// After the cooldown (15 minutes for a first one) the code works again.
	e.clock.Advance(15*time.Minute + time.Second)
	l = e.loginMFA(u.Email, strongPassword)
	wantLevel(t, e.verifyMfa(l.AccessToken, map[string]any{"totpCode": e.code(u.Secret)}), "aal2", false, "pwd", "otp")

	// Wrong codes to confirmTotp count as well.
	bob := e.registerMFA("bob@example.com")
	en := e.enrollTotp(bob.AccessToken)
	for range n {
		e.wantCode(e.confirmTotpReq(bob.AccessToken, en.FactorID, e.wrongCode(en.Secret)), "INVALID_CREDENTIALS")
	}
	e.wantCode(e.confirmTotpReq(bob.AccessToken, en.FactorID, e.code(en.Secret)), "RATE_LIMITED")
	e.wantCode(e.loginMFAReq("bob@example.com", strongPassword), "RATE_LIMITED")
	if me := e.me(bob.AccessToken); me.MfaEnabled {
		t.Fatalf("a refused confirmation enabled MFA: %+v", me)
	}
}

// TestMFARecoveryCodes: a recovery code verifies a session once and mails a notice with
// the count left; regenerating replaces every code; verifyMfa takes exactly one proof.
func TestMFARecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.totpSignUp("ann@example.com")
	l := e.loginMFA(u.Email, strongPassword)
	v := e.verifyMfa(l.AccessToken, map[string]any{"recoveryCode": u.Codes[0]})
	wantLevel(t, v, "aal2", false, "pwd", "recovery")
	l2 := e.loginMFA(u.Email, strongPassword)
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{"recoveryCode": u.Codes[0]}), "INVALID_CREDENTIALS")
	if me := e.me(v.AccessToken); me.RecoveryCodesRemaining != 9 {
		t.Fatalf("recoveryCodesRemaining %d, want 9", me.RecoveryCodesRemaining)
	}
	m := e.mail.wait(t, u.Email, mfaSubjectRecovery)
	if !strings.Contains(m.Text, "recovery code") || !strings.Contains(m.Text, "9") {
		t.Errorf("recovery notice does not say a recovery code was used and 9 are left:\n%s", m.Text)
	}
	notices := 0
	for _, om := range e.outboxTo(u.Email) {
		if om.Kind == "mfa_notice" {
			notices++
		}
	}
	if notices != 2 { // the factor added, the recovery code used
		t.Errorf("%d mfa_notice mails in the outbox, want 2", notices)
	}

	var regen struct{ RegenerateRecoveryCodes []string }
	e.mustData(e.gql(v.AccessToken, `mutation { regenerateRecoveryCodes }`, nil), &regen)
	fresh := regen.RegenerateRecoveryCodes
	for _, c := range fresh {
		e.secret(c, "recovery code")
	}
	wantRecoveryCodes(t, fresh)
	for _, c := range fresh {
		if slices.Contains(u.Codes, c) {
			t.Fatalf("regenerated code %s was an old one", c)
		}
	}
	e.mail.wait(t, u.Email, mfaSubjectRegen)
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{"recoveryCode": u.Codes[1]}), "INVALID_CREDENTIALS")
	if me := e.me(v.AccessToken); me.RecoveryCodesRemaining != 10 {
		t.Fatalf("recoveryCodesRemaining %d after regenerating, want 10", me.RecoveryCodesRemaining)
	}
	wantLevel(t, e.verifyMfa(l2.AccessToken, map[string]any{"recoveryCode": fresh[3]}), "aal2", false, "pwd", "recovery")

	l3 := e.loginMFA(u.Email, strongPassword)
	for name, in := range map[string]map[string]any{
		"none":                        {},
		"totp and recovery":           {"totpCode": e.code(u.Secret), "recoveryCode": fresh[4]},
		"recovery and passkey":        {"recoveryCode": fresh[4], "webauthnChallengeId": "x", "webauthnCredential": map[string]any{"type": "public-key"}},
		"challenge without assertion": {"webauthnChallengeId": "x"},
	} {
		if r := e.verifyMfaReq(l3.AccessToken, in); r.Code() != "BAD_USER_INPUT" {
			t.Errorf("verifyMfa with %s: %s", name, r.Raw)
		}
	}
	if me := e.me(v.AccessToken); me.RecoveryCodesRemaining != 9 {
		t.Fatalf("recoveryCodesRemaining %d: refused inputs spent a code", me.RecoveryCodesRemaining)
	}
}

// mfaAuditNodes returns the audit events of userID as an ADMIN reads them.
func (e *mfaEnv) auditNodes(admin, userID string) []staffAuditNode {
	e.t.Helper()
	return staffAudit(e.testEnv, admin, map[string]any{"userId": userID, "first": 100}).Nodes
}

// findAudit returns the first event of type typ, failing the test without one.
func findAudit(t testing.TB, nodes []staffAuditNode, typ string) staffAuditNode {
	t.Helper()
	for _, n := range nodes {
		if n.Type == typ {
			return n
		}
	}
	var types []string
	for _, n := range nodes {
		types = append(types, n.Type)
	}
	t.Fatalf("no audit event %q among %v", typ, types)
	return staffAuditNode{}
}

// TestMFARemoveFactor: removeFactor ends the user's other sessions, keeps the caller's,
// mails a notice and writes an audit event; removing the last factor turns MFA off.
func TestMFARemoveFactor(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	root := e.registerMFA("root@example.com")
	e.makeAdmin(root.User.ID)
	u := e.totpSignUp("ann@example.com")
	pk := e.registerPasskey(u.Auth.AccessToken, newAuthenticator())
	if pk.RecoveryCodes != nil {
		t.Fatalf("a second factor returned recovery codes %v", pk.RecoveryCodes)
	}
	verified := e.loginVerified(u)
	unverified := e.loginMFA(u.Email, strongPassword)

	var rm struct{ RemoveFactor bool }
	e.mustData(e.gql(u.Auth.AccessToken, `mutation { removeFactor(id: "nope") }`, nil), &rm)
	if rm.RemoveFactor {
		t.Fatal("removeFactor of an unknown id answered true")
	}
	e.mustData(e.gql(u.Auth.AccessToken, `mutation($id: ID!) { removeFactor(id: $id) }`, map[string]any{"id": u.FactorID}), &rm)
	if !rm.RemoveFactor {
		t.Fatal("removeFactor answered false")
	}
	e.wantCode(e.refreshMFAReq(verified.RefreshToken), "INVALID_REFRESH_TOKEN")
	e.wantCode(e.refreshMFAReq(unverified.RefreshToken), "INVALID_REFRESH_TOKEN")
	// The caller's session lives on, refresh token included.
	u.Auth = e.refreshMFA(u.Auth.RefreshToken)
	wantLevel(t, u.Auth, "aal2", false, "pwd", "otp", "webauthn") // both factors were proven on it
	me := e.me(u.Auth.AccessToken)
	if !me.MfaEnabled || me.RecoveryCodesRemaining != 10 || len(me.Factors) != 1 || me.Factors[0].Type != "WEBAUTHN" {
		t.Fatalf("me after removing one of two factors: %+v", me)
	}
	if m := e.mail.wait(t, u.Email, mfaSubjectRemoved); !strings.Contains(m.Text, u.Email) {
		t.Errorf("removal notice does not name the account:\n%s", m.Text)
	}
	ev := findAudit(t, e.auditNodes(root.AccessToken, u.ID), "mfa_factor_remove")
	if ev.Outcome != "success" || ev.UserID == nil || *ev.UserID != u.ID {
		t.Errorf("audit event %+v", ev)
	}
	if d := strings.Join(mfaDetailStrings(ev.Detail), " "); strings.Contains(d, u.Secret) || strings.Contains(strings.ToLower(d), strings.ToLower(u.Secret)) {
		t.Errorf("audit detail holds the TOTP secret: %v", ev.Detail)
	}

	// The last factor: MFA off, recovery codes void.
	e.mustData(e.gql(u.Auth.AccessToken, `mutation($id: ID!) { removeFactor(id: $id) }`, map[string]any{"id": pk.Factor.ID}), &rm)
	if !rm.RemoveFactor {
		t.Fatal("removeFactor of the passkey answered false")
	}
	if me := e.me(u.Auth.AccessToken); me.MfaEnabled || me.RecoveryCodesRemaining != 0 || len(me.Factors) != 0 {
		t.Fatalf("me after removing the last factor: %+v", me)
	}
	l := e.loginMFA(u.Email, strongPassword)
	wantLevel(t, l, "aal1", false, "pwd")
	e.mustData(e.gql(l.AccessToken, mfaUserOps["mySessions"], nil), nil)
	e.mustData(e.gql(l.AccessToken, mfaUserOps["updateProfile"], nil), nil)
	e.wantCode(e.verifyMfaReq(l.AccessToken, map[string]any{"recoveryCode": u.Codes[0]}), "BAD_USER_INPUT")
}

// mfaDetailStrings flattens an audit detail's values to strings.
func mfaDetailStrings(d map[string]any) []string {
	var out []string
	for k, v := range d {
		out = append(out, k)
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestMFAResetUserMfa: an ADMIN (at aal2, or without a factor) removes every factor of a
// user: its sessions end, it is mailed, the audit log says so; a USER may not.
func TestMFAResetUserMfa(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	admin := e.totpSignUp("root@example.com")
	e.makeAdmin(admin.ID)
	plainAdmin := e.registerMFA("boss@example.com")
	e.makeAdmin(plainAdmin.User.ID)
	user := e.registerMFA("bob@example.com")
	staffSetRole(e.testEnv, user.User.ID, store.RoleUser)

	for _, tc := range []struct {
		name, bearer, adminID string
	}{
		{"ADMIN at aal2", admin.Auth.AccessToken, admin.ID},
		{"ADMIN without MFA", plainAdmin.AccessToken, plainAdmin.User.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			target := e.totpSignUp("target-" + strings.ReplaceAll(strings.ToLower(tc.name), " ", "-") + "@example.com")
			verified := e.loginVerified(target)
			unverified := e.loginMFA(target.Email, strongPassword)
			reset := `mutation($id: ID!) { resetUserMfa(id: $id) }`
			vars := map[string]any{"id": target.ID}

			e.wantCode(e.gql(user.AccessToken, reset, vars), "FORBIDDEN")
			var out struct{ ResetUserMfa bool }
			e.mustData(e.gql(tc.bearer, reset, vars), &out)
			if !out.ResetUserMfa {
				t.Fatal("resetUserMfa answered false")
			}
			var got struct {
				User *struct {
					MfaEnabled             bool
					RecoveryCodesRemaining int
					Factors                []mfaFactor
				}
			}
			e.mustData(e.gql(tc.bearer, `query($id: ID!) { user(id: $id) { mfaEnabled recoveryCodesRemaining factors { id } } }`, vars), &got)
			if got.User == nil || got.User.MfaEnabled || got.User.RecoveryCodesRemaining != 0 || len(got.User.Factors) != 0 {
				t.Fatalf("target after resetUserMfa: %+v", got.User)
			}
			for _, rt := range []string{target.Auth.RefreshToken, verified.RefreshToken, unverified.RefreshToken} {
				e.wantCode(e.refreshMFAReq(rt), "INVALID_REFRESH_TOKEN")
			}
			e.wantCode(e.gql(target.Auth.AccessToken, mfaUserOps["mySessions"], nil), "UNAUTHENTICATED")
			e.mail.wait(t, target.Email, mfaSubjectReset)
			ev := findAudit(t, e.auditNodes(tc.bearer, target.ID), "mfa_reset")
			if ev.Outcome != "success" || ev.ActorID == nil || *ev.ActorID != tc.adminID {
				t.Errorf("mfa_reset event %+v, want actor %s", ev, tc.adminID)
			}
			// The password alone signs in again, with full access.
			l := e.loginMFA(target.Email, strongPassword)
			wantLevel(t, l, "aal1", false, "pwd")
			e.mustData(e.gql(l.AccessToken, mfaUserOps["mySessions"], nil), nil)
		})
	}
}

// TestMFARequiredRoles: with MFA required of ADMINs, an ADMIN without a factor may only
// enrol one (MFA_REQUIRED "enroll" elsewhere); once it has, everything answers. A USER is
// unaffected.
func TestMFARequiredRoles(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, func(c *config.Config) { c.MFA.RequiredRoles = []string{"ADMIN"} })
	admin := e.registerMFA("root@example.com")
	e.makeAdmin(admin.User.ID)
	user := e.registerMFA("ann@example.com")
	staffSetRole(e.testEnv, user.User.ID, store.RoleUser)

	for _, op := range []string{"users", "auditEvents", "user"} {
		e.in(t).wantMFARequired(e.gql(admin.AccessToken, mfaAdminOps[op], nil), "enroll")
	}
	for _, op := range []string{"updateProfile", "mySessions", "changePassword", "regenerateRecoveryCodes", "removeFactor"} {
		e.in(t).wantMFARequired(e.gql(admin.AccessToken, mfaUserOps[op], nil), "enroll")
	}
	if me := e.me(admin.AccessToken); me.ID != admin.User.ID {
		t.Fatalf("me %+v", me)
	}
	other := e.loginMFA("root@example.com", strongPassword)
	wantLevel(t, other, "aal1", false, "pwd")
	other = e.refreshMFA(other.RefreshToken)
	var out struct{ Logout bool }
	e.mustData(e.gql(other.AccessToken, `mutation { logout }`, nil), &out)
	if !out.Logout {
		t.Fatal("logout answered false")
	}

	en := e.enrollTotp(admin.AccessToken)
	done := e.confirmTotp(admin.AccessToken, en.FactorID, e.code(en.Secret))
	wantLevel(t, done.Auth, "aal2", false, "pwd", "otp")
	for _, op := range []string{"users", "auditEvents"} {
		e.mustData(e.gql(done.Auth.AccessToken, mfaAdminOps[op], nil), nil)
	}
	e.mustData(e.gql(done.Auth.AccessToken, mfaUserOps["mySessions"], nil), nil)
	e.mustData(e.gql(done.Auth.AccessToken, mfaUserOps["updateProfile"], nil), nil)

	wantLevel(t, user, "aal1", false, "pwd")
	e.mustData(e.gql(user.AccessToken, mfaUserOps["mySessions"], nil), nil)
	e.mustData(e.gql(user.AccessToken, mfaUserOps["updateProfile"], nil), nil)
}

// TestMFATotpSecretNeverLeaks: the TOTP secret is in no log line (the harness's log scan,
// which enrollTotp's helper tells about it) and in no mail, through enrolment, wrong and
// right codes, recovery, regeneration and removal.
func TestMFATotpSecretNeverLeaks(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.totpSignUp("ann@example.com")
	// The scan that checks the log when the test ends knows the secret.
	e.scan.mu.Lock()
	_, noted := e.scan.secrets[u.Secret]
	e.scan.mu.Unlock()
	if !noted {
		t.Fatal("the log scan was not told the TOTP secret")
	}
	l := e.loginMFA(u.Email, strongPassword)
	e.wantCode(e.verifyMfaReq(l.AccessToken, map[string]any{"totpCode": e.wrongCode(u.Secret)}), "INVALID_CREDENTIALS")
	v := e.verifyMfa(l.AccessToken, map[string]any{"totpCode": e.code(u.Secret)})
	l2 := e.loginMFA(u.Email, strongPassword)
	e.verifyMfa(l2.AccessToken, map[string]any{"recoveryCode": u.Codes[0]})
	e.mustData(e.gql(v.AccessToken, `mutation { regenerateRecoveryCodes }`, nil), nil)
	pending := e.enrollTotp(v.AccessToken)
	e.wantCode(e.confirmTotpReq(v.AccessToken, pending.FactorID, e.wrongCode(pending.Secret)), "INVALID_CREDENTIALS")
	e.mustData(e.gql(v.AccessToken, `mutation($id: ID!) { removeFactor(id: $id) }`, map[string]any{"id": u.FactorID}), nil)

	mails := e.mail.drain(e.testEnv, u.Email)
	if len(mails) < 4 { // sign-up confirmation, factor added, recovery used, regenerated, removed
		t.Fatalf("only %d mails", len(mails))
	}
	for _, m := range mails {
		raw := strings.ToLower(string(m.Raw) + m.Text + m.HTML)
		for _, s := range []string{u.Secret, pending.Secret} {
			if strings.Contains(raw, strings.ToLower(s)) {
				t.Errorf("mail %q holds a TOTP secret", m.Subject)
			}
		}
	}
	for _, ev := range e.audit(u.ID) {
		if strings.Contains(string(ev.Detail), u.Secret) || strings.Contains(string(ev.Detail), pending.Secret) {
			t.Errorf("audit event %s holds a TOTP secret: %s", ev.Type, ev.Detail)
		}
	}
}

// mfaRace sends the n requests made by req at once and returns their error codes ("" for
// a success), failing the test on a transport error.
func mfaRace(t *testing.T, n int, req func(i int) (gqlResponse, error)) []string {
	t.Helper()
	codes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := req(i)
			codes[i], errs[i] = r.Code(), err
			if err == nil && r.Code() == "" && r.Status != http.StatusOK {
				errs[i] = fmt.Errorf("HTTP %d: %s", r.Status, r.Raw)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return codes
}

// wantOneWinner fails the test unless exactly one of codes is a success and every other
// is loser.
func wantOneWinner(t *testing.T, codes []string, loser string) {
	t.Helper()
	won := 0
	for _, c := range codes {
		switch c {
		case "":
			won++
		case loser:
		default:
			t.Fatalf("codes %v: unexpected %s", codes, c)
		}
	}
	if won != 1 {
		t.Fatalf("%d of %d concurrent uses succeeded, want 1: %v", won, len(codes), codes)
	}
}

// TestMFAConcurrentUse: a TOTP code, a recovery code and a passkey challenge sent on
// several sessions at once are each accepted exactly once (the stores' single-use
// updates). The login-failure limit is raised so that it does not decide the race.
func TestMFAConcurrentUse(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, func(c *config.Config) { c.Limits.LoginFailures.N = 1000 })
	const n = 6
	u := e.totpSignUp("ann@example.com")
	sessions := func() []string {
		out := make([]string, n)
		for i := range out {
			out[i] = e.loginMFA(u.Email, strongPassword).AccessToken
		}
		return out
	}
	verify := `mutation($in: MfaVerifyInput!) { verifyMfa(input: $in) { aal } }`

	ss := sessions()
	code := e.code(u.Secret)
	wantOneWinner(t, mfaRace(t, n, func(i int) (gqlResponse, error) {
		return e.tryGQL(ss[i], verify, map[string]any{"in": map[string]any{"totpCode": code}})
	}), "INVALID_CREDENTIALS")

	ss = sessions()
	wantOneWinner(t, mfaRace(t, n, func(i int) (gqlResponse, error) {
		return e.tryGQL(ss[i], verify, map[string]any{"in": map[string]any{"recoveryCode": u.Codes[0]}})
	}), "INVALID_CREDENTIALS")
	if me := e.me(u.Auth.AccessToken); me.RecoveryCodesRemaining != 9 {
		t.Fatalf("recoveryCodesRemaining %d after one code was used, want 9", me.RecoveryCodesRemaining)
	}

	key := newAuthenticator()
	e.registerPasskey(u.Auth.AccessToken, key)
	anon := e.anon()
	c := e.beginPasskeyLogin(anon, nil)
	cred := mfaGet(t, key, c.Options)
	finish := `mutation($id: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $id, credential: $cred) { aal } }`
	wantOneWinner(t, mfaRace(t, n, func(int) (gqlResponse, error) {
		return e.tryGQL(anon, finish, map[string]any{"id": c.ChallengeID, "cred": cred})
	}), "BAD_USER_INPUT")

	// One pending TOTP factor confirmed several times at once (a double-clicked button):
	// one confirmation, one set of recovery codes.
	bob := e.registerMFA("bob@example.com")
	en := e.enrollTotp(bob.AccessToken)
	bc := e.code(en.Secret)
	confirm := `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { recoveryCodes } }`
	codes := mfaRace(t, n, func(int) (gqlResponse, error) {
		return e.tryGQL(bob.AccessToken, confirm, map[string]any{"id": en.FactorID, "code": bc})
	})
	// A loser may also see MFA_REQUIRED: ConfirmTotp sets the user's MFAEnabled
	// (ConfirmFactor) before it raises the session (enrolled, after the recovery codes
	// are written), and a request of the same session in between finds an aal1 session of
	// a user with a factor.
	for i, c := range codes {
		if c == "MFA_REQUIRED" {
			codes[i] = "BAD_USER_INPUT"
		}
	}
	wantOneWinner(t, codes, "BAD_USER_INPUT")
	if me := e.me(bob.AccessToken); !me.MfaEnabled || me.RecoveryCodesRemaining != 10 || len(me.Factors) != 1 {
		t.Fatalf("bob after concurrent confirmations %v: %+v", codes, me)
	}
}
