package e2e

// Browser tests of the admin console's second factors (web/console/admin.*, and the
// second sign-in step that console.js shares with the account console): a real headless
// Chromium against the real server of the end-to-end harness with its defaults
// (--salt=yes, --anojwt=yes), its clock at the real time so that the TOTP codes the
// tests compute with mfa.TOTPCode at the harness's clock are the server's.
//
// What they prove, each checked on the server's side too: an ADMIN with an authenticator
// app (enrolled over GraphQL) signs in with the password and is asked for a code before
// the console shows anything (no admin operation is sent before); a wrong code is
// refused with a message and the focus back on the field; the recovery-code choice
// swaps the fields; the right code, typed and sent with Enter, opens the console on a
// session at aal2, and the users are listed. A factor enrolled from another session
// while the console is open brings up the step (MFA_REQUIRED "verify") at the next
// search, and the console carries on after it. With --mfa-required-roles=ADMIN, an ADMIN
// without a factor is told, in English and in French, that the role requires one, with
// a link to the account console. A user's second factors: the list says 2FA on or off
// (without reading factors), the user's page lists them (names as text, pending ones
// marked), STAFF reads them without the reset, and an ADMIN resets them after a
// confirmation (the factors, recovery codes and sessions gone, a notice mailed, an
// audit event). No page's Content-Security-Policy blocks anything.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/store"
)

const (
	admMfaWrongCodeEN = "This code is wrong or has expired. Enter the code the app shows now."
	admMfaEnrollEN    = "Your role requires two-factor authentication, and your account has no second factor yet. " +
		"Add an authenticator app or a passkey in the account console, then come back here."
	admMfaEnrollFR = "Votre rôle exige l’authentification à deux facteurs, et votre compte n’a pas encore de second " +
		"facteur. Ajoutez une application d’authentification ou une clé d’accès dans la console de compte, puis revenez ici."
)

// admMfaView is what the admin console shows of its second factors, as the tests read it.
type admMfaView struct {
	SignIn        bool                  `json:"signIn"`
	MFA           bool                  `json:"mfa"`
	Enroll        bool                  `json:"enroll"`
	Console       bool                  `json:"console"`
	Who           string                `json:"who"`
	SignOut       bool                  `json:"signOut"`
	Active        string                `json:"active"`
	Status        map[string]acctStatus `json:"status"`
	RecoveryField bool                  `json:"recoveryField"`
	CodeField     bool                  `json:"codeField"`
	CodeInvalid   bool                  `json:"codeInvalid"`
	MFAPasskey    bool                  `json:"mfaPasskey"`
	EnrollText    string                `json:"enrollText"`
	EnrollHref    string                `json:"enrollHref"`
	Rows          []string              `json:"rows"`
}

const admMfaViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const vis = (id) => { const el = $(id); return !!el && !el.hidden && el.getClientRects().length > 0; };
  const status = {};
  for (const el of document.querySelectorAll('[role="status"]')) status[el.id] = { state: el.getAttribute('data-state') || '', text: el.textContent };
  return {
    signIn: vis('signin-view'), mfa: vis('mfa-view'), enroll: vis('mfa-enroll'), console: vis('console-view'),
    who: vis('who') ? $('who').textContent : '', signOut: vis('signout'),
    active: document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : '',
    status,
    recoveryField: vis('mfa-recovery-field'), codeField: vis('mfa-totp-field'),
    codeInvalid: $('mfa-code').getAttribute('aria-invalid') === 'true',
    mfaPasskey: vis('mfa-passkey'),
    enrollText: $('mfa-enroll-text').textContent, enrollHref: $('mfa-enroll-link').getAttribute('href'),
    rows: [...document.querySelectorAll('#users-body button[data-user-id]')].map((b) => b.textContent),
  };
})()`

func admMfaRead(b *browserSession) admMfaView {
	b.t.Helper()
	return browserEval[admMfaView](b, "read the admin console", admMfaViewJS)
}

// admMfaSignIn submits the sign-in form with email and strongPassword, and waits until
// the page shows one of the views wait names ("mfa-view", "mfa-enroll", ...).
func admMfaSignIn(b *browserSession, email, wait string) admMfaView {
	b.t.Helper()
	acctFill(b, "signin-email", email, "signin-password", strongPassword)
	browserRun(b, "submit the sign-in form", acctClick("#signin-submit"))
	browserWaitFor(b, "#"+wait, `!document.getElementById(`+browserJSString(wait)+`).hidden`)
	return admMfaRead(b)
}

// TestAdminConsoleMFATotp: an ADMIN with an authenticator app signs in to /admin: the
// code step first (nothing of the console before), a wrong code refused, then the right
// code opens the console at aal2 with the users listed.
func TestAdminConsoleMFATotp(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, _ := acctStartEnv(t, nil)
	const email = "ada.admin@example.com"
	admin := staffSignUp(e, email, store.RoleAdmin)
	e.register("member01@example.com", strongPassword)

	// The factor, enrolled and confirmed over GraphQL.
	var en struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(admin.AccessToken, `mutation { enrollTotp(name: "Phone") { factorId secret } }`, nil), &en)
	code, err := mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.mustData(e.gql(admin.AccessToken, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { factor { id } } }`,
		map[string]any{"id": en.EnrollTotp.FactorID, "code": code}), &struct{}{})
	// The next time step: a code is accepted once per step.
	e.clock.Advance(time.Minute)

	adminConsoleOpen(b, e, "")
	sent := len(b.graphqlRequests())
	v := admMfaSignIn(b, email, "mfa-view")
	if !v.MFA || v.Console || v.SignIn || v.Enroll || v.Active != "mfa-title" || !v.CodeField || v.RecoveryField || v.MFAPasskey {
		t.Fatalf("after the password: %+v", v)
	}
	for _, op := range pagesOps(pagesSentSince(b, sent)) {
		if strings.HasPrefix(op, "TokTokAdmin") {
			t.Errorf("the console sent %s before the second factor", op)
		}
	}
	consoleCheckA11y(b, "the admin console's verification step")

	// The recovery code instead, and back.
	browserRun(b, "use a recovery code", acctClick("#mfa-toggle"))
	if v = admMfaRead(b); !v.RecoveryField || v.CodeField || v.Active != "mfa-recovery" {
		t.Fatalf("after choosing a recovery code: %+v", v)
	}
	browserRun(b, "use the app's code", acctClick("#mfa-toggle"))
	if v = admMfaRead(b); v.RecoveryField || !v.CodeField || v.Active != "mfa-code" {
		t.Fatalf("after choosing the app's code again: %+v", v)
	}

	// A wrong code.
	if code, err = mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if code == wrong {
		wrong = "999999"
	}
	acctFill(b, "mfa-code", wrong)
	consoleAct(b, "mfa-status", "verify a wrong code", acctClick("#mfa-submit"))
	if v = admMfaRead(b); v.Status["mfa-status"] != (acctStatus{"error", admMfaWrongCodeEN}) || v.Active != "mfa-code" ||
		!v.CodeInvalid || v.Console || !v.MFA {
		t.Fatalf("after a wrong code: %+v", v)
	}

	// The right code, from the keyboard: typed, then Enter.
	sent = len(b.graphqlRequests())
	acctFill(b, "mfa-code", code+"\r")
	browserWaitFor(b, "the users listed", `!document.getElementById('console-view').hidden && document.querySelectorAll('#users-body button[data-user-id]').length > 0`)
	v = admMfaRead(b)
	if v.MFA || !v.Console || !strings.Contains(v.Who, email) || !v.SignOut || !strings.Contains(strings.Join(v.Rows, " "), "member01@example.com") {
		t.Fatalf("after the right code: %+v", v)
	}
	var verify struct {
		Data struct{ VerifyMfa amcAuth }
	}
	(&amcConsole{b: b, e: e}).response(sent, "TokTokConsoleVerifyMfa", &verify)
	if verify.Data.VerifyMfa.Aal != "aal2" || verify.Data.VerifyMfa.MfaRequired {
		t.Errorf("verifyMfa answered %+v", verify.Data.VerifyMfa)
	}
	(&amcConsole{b: b, e: e}).checkLevel("the admin console's session", verify.Data.VerifyMfa.AccessToken, "aal2", "pwd", "otp")
	b.checkPageClean()
}

// TestAdminConsoleMFAEnroll: with --mfa-required-roles=ADMIN, an ADMIN without a factor
// signs in and is told that the role requires a second factor, with a link to the
// account console, in English and in French; no user is listed.
func TestAdminConsoleMFAEnroll(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, _ := acctStartEnv(t, func(c *config.Config) { c.MFA.RequiredRoles = []string{"ADMIN"} })
	const email = "eve.enrol@example.com"
	staffSignUp(e, email, store.RoleAdmin)

	for _, tc := range []struct{ lang, text string }{{"en", admMfaEnrollEN}, {"fr", admMfaEnrollFR}} {
		adminConsoleOpen(b, e, "?lang="+tc.lang)
		v := admMfaSignIn(b, email, "mfa-enroll")
		if !v.Enroll || v.Console || v.MFA || v.SignIn || v.Active != "mfa-enroll-title" || v.EnrollText != tc.text ||
			v.EnrollHref != "/account?lang="+tc.lang || !strings.Contains(v.Who, email) || !v.SignOut || len(v.Rows) != 0 {
			t.Fatalf("%s: an ADMIN without a factor: %+v", tc.lang, v)
		}
		browserRun(b, "follow the link", chromedp.Click(chromedp.ID("mfa-enroll-link"), chromedp.NodeVisible))
		browserWaitFor(b, "the account console", `location.pathname === '/account' && document.body.getAttribute('data-console') === 'account'`)
		b.checkPageClean()
	}
}

// TestAdminConsoleMFAVerifyLater: an ADMIN signed in without a factor enrols one from
// another session; the console's own session (aal1) then gets MFA_REQUIRED "verify" on
// its next search, which brings up the code step with why, instead of an error; after
// the code the console lists the users again.
func TestAdminConsoleMFAVerifyLater(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, _ := acctStartEnv(t, nil)
	const email = "vic.verify@example.com"
	admin := staffSignUp(e, email, store.RoleAdmin)

	adminConsoleOpen(b, e, "")
	adminConsoleSignIn(b, email)
	browserWaitFor(b, "the users listed", `document.querySelectorAll('#users-body button[data-user-id]').length > 0`)

	var en struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(admin.AccessToken, `mutation { enrollTotp { factorId secret } }`, nil), &en)
	code, err := mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.mustData(e.gql(admin.AccessToken, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { factor { id } } }`,
		map[string]any{"id": en.EnrollTotp.FactorID, "code": code}), &struct{}{})

	browserRun(b, "search", acctClick("#search-submit"))
	browserWaitFor(b, "the verification step", `!document.getElementById('mfa-view').hidden`)
	v := admMfaRead(b)
	if v.Status["mfa-status"].Text != amcVerifyFirstEN || v.Active != "mfa-title" || v.Console || v.Status["users-status"].State == "error" {
		t.Fatalf("an aal1 session of an admin with a factor: %+v", v)
	}
	e.clock.Advance(time.Minute)
	if code, err = mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	acctFill(b, "mfa-code", code)
	browserRun(b, "verify the code", acctClick("#mfa-submit"))
	browserWaitFor(b, "the users listed again", `!document.getElementById('console-view').hidden && `+
		`document.querySelectorAll('#users-body button[data-user-id]').length > 0 && document.activeElement.id === 'users-title'`)
	if v = admMfaRead(b); v.MFA || !v.Console || !strings.Contains(v.Who, email) {
		t.Fatalf("after the code: %+v", v)
	}
	b.checkPageClean()
}

// admMfaFactor is one factor of a user's page, as the tests read it.
type admMfaFactor struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Confirmed string `json:"confirmed"`
	Title     string `json:"title"`
	Badge     string `json:"badge"`
	Meta      string `json:"meta"`
	Markup    bool   `json:"markup"` // an element that the factor's name would make if it were HTML
}

// admMfaUserView is what a user's page shows of its second factors.
type admMfaUserView struct {
	Facts       map[string]string `json:"facts"`
	Factors     []admMfaFactor    `json:"factors"`
	None        bool              `json:"none"`
	ResetBox    bool              `json:"resetBox"` // #mfa-reset-box is in the document
	Confirm     bool              `json:"confirm"`
	ConfirmText string            `json:"confirmText"`
	Expanded    string            `json:"expanded"`
	Status      acctStatus        `json:"status"`
	Focus       string            `json:"focus"`
	Buttons     []string          `json:"buttons"` // the ids of the page's buttons but #user-back
	ListMFA     map[string]string `json:"listMfa"` // email: "on|On" in the users' list
}

const admMfaUserViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const shown = (id) => { const el = $(id); return !!el && !el.hidden && el.getClientRects().length > 0; };
  const facts = {};
  for (const dd of document.querySelectorAll('#user-mfa-facts dd[data-field]')) facts[dd.getAttribute('data-field')] = dd.textContent;
  const listMfa = {};
  for (const tr of document.querySelectorAll('#users-body tr')) {
    const b = tr.querySelector('button[data-user-id]');
    const td = tr.querySelector('td[data-mfa]');
    if (b) listMfa[b.textContent] = td ? td.getAttribute('data-mfa') + '|' + td.textContent : '';
  }
  const s = $('user-mfa-status');
  return {
    facts,
    factors: [...document.querySelectorAll('#user-factors > li')].map((li) => {
      const title = li.querySelector('.item-title');
      const badge = li.querySelector('.badge');
      return {
        id: li.getAttribute('data-factor'), type: li.getAttribute('data-type'), confirmed: li.getAttribute('data-confirmed'),
        title: title ? title.firstChild.textContent : '', badge: badge ? badge.textContent : '',
        meta: (li.querySelector('.item-meta') || {}).textContent || '', markup: !!li.querySelector('b, i, img, script'),
      };
    }),
    none: shown('user-factors-none'),
    resetBox: !!$('mfa-reset-box'),
    confirm: shown('mfa-reset-confirm'),
    confirmText: $('mfa-reset-text') ? $('mfa-reset-text').textContent : '',
    expanded: $('mfa-reset') ? $('mfa-reset').getAttribute('aria-expanded') : '',
    status: { state: s.getAttribute('data-state') || '', text: s.textContent },
    focus: document.activeElement ? document.activeElement.id : '',
    buttons: [...document.querySelectorAll('#user-view button')].filter((b) => b.id !== 'user-back').map((b) => b.id),
    listMfa,
  };
})()`

func admMfaUserRead(b *browserSession) admMfaUserView {
	b.t.Helper()
	return browserEval[admMfaUserView](b, "read the user's second factors", admMfaUserViewJS)
}

// admMfaUserQ reads what the API says of a user's second factors.
type admMfaUserQ struct {
	MfaEnabled             bool
	RecoveryCodesRemaining int
	Factors                []struct{ ID string }
}

func admMfaUser(e *testEnv, bearer, id string) admMfaUserQ {
	e.t.Helper()
	var resp struct{ User *admMfaUserQ }
	e.mustData(e.gql(bearer, `query($id: ID!) { user(id: $id) { mfaEnabled recoveryCodesRemaining factors { id } } }`,
		map[string]any{"id": id}), &resp)
	if resp.User == nil {
		e.t.Fatalf("no user %s", id)
	}
	return *resp.User
}

// TestAdminConsoleMFAReset: a USER enrols an authenticator app over GraphQL (a name
// with markup in it) and starts a second one. The list shows 2FA on for that user and
// off for another; STAFF reads the user's factors without a reset button; an ADMIN
// (without MFA: the console opens at once) opens the user, cancels the confirmation
// (nothing happens), then resets: the page shows MFA off and no factor, and the API
// says the same, with the user's sessions ended, the notice mailed and "mfa_reset"
// audited with the ADMIN as actor. The list never reads factors.
func TestAdminConsoleMFAReset(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, sink := acctStartEnv(t, nil)
	const (
		adminEmail = "rita.reset@example.com"
		staffEmail = "sam.staff@example.com"
		userEmail  = "tom.totp@example.com"
		otherEmail = "nora.none@example.com"
		name       = "Phone <b>1</b> & co"
	)
	admin := staffSignUp(e, adminEmail, store.RoleAdmin)
	staffSignUp(e, staffEmail, store.RoleStaff)
	user := e.register(userEmail, strongPassword)
	e.register(otherEmail, strongPassword)

	var en struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(user.AccessToken, `mutation($name: String) { enrollTotp(name: $name) { factorId secret } }`,
		map[string]any{"name": name}), &en)
	code, err := mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var confirmed struct {
		ConfirmTotp struct {
			Auth struct{ AccessToken, RefreshToken string }
		}
	}
	e.mustData(e.gql(user.AccessToken, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { auth { accessToken refreshToken } } }`,
		map[string]any{"id": en.EnrollTotp.FactorID, "code": code}), &confirmed)
	aal2 := confirmed.ConfirmTotp.Auth
	e.clock.Advance(time.Minute)
	var pending struct{ EnrollTotp struct{ FactorID string } }
	e.mustData(e.gql(aal2.AccessToken, `mutation { enrollTotp { factorId } }`, nil), &pending)
	if got := admMfaUser(e, admin.AccessToken, user.User.ID); !got.MfaEnabled || got.RecoveryCodesRemaining != 10 || len(got.Factors) != 2 {
		t.Fatalf("the user before the reset: %+v", got)
	}

	t.Run("Staff", func(t *testing.T) {
		b := browserStart(t)
		adminConsoleOpen(b, e, "")
		adminConsoleSignIn(b, staffEmail)
		browserWaitFor(b, "the users listed", `document.querySelectorAll('#users-body button[data-user-id]').length === 4`)
		adminConsoleOpenUser(b, userEmail)
		v := admMfaUserRead(b)
		if v.Facts["fieldMfa"] != "On" || v.Facts["fieldRecoveryCodes"] != "10" || len(v.Factors) != 2 || v.None ||
			v.ResetBox || len(v.Buttons) != 0 {
			t.Fatalf("STAFF's page of a user with factors: %+v; want them read-only", v)
		}
		b.checkPageClean()
	})

	adminConsoleOpen(b, e, "")
	sent := len(b.graphqlRequests())
	adminConsoleSignIn(b, adminEmail)
	browserWaitFor(b, "the users listed", `document.querySelectorAll('#users-body button[data-user-id]').length === 4`)
	v := admMfaUserRead(b)
	if v.ListMFA[userEmail] != "on|On" || v.ListMFA[otherEmail] != "off|Off" || v.ListMFA[adminEmail] != "off|Off" {
		t.Fatalf("the 2FA column: %v", v.ListMFA)
	}
	for _, r := range pagesSentSince(b, sent) {
		if pagesOpName(r) == "TokTokAdminUsers" && (strings.Contains(r.Body.Query, "factors") || !strings.Contains(r.Body.Query, "mfaEnabled")) {
			t.Errorf("the list reads factors, or not mfaEnabled: %s", r.Body.Query)
		}
	}

	// The user's page: the factors, oldest first, the name as text, the pending one marked.
	adminConsoleOpenUser(b, userEmail)
	v = admMfaUserRead(b)
	if v.Facts["fieldMfa"] != "On" || v.Facts["fieldRecoveryCodes"] != "10" || len(v.Factors) != 2 || v.None || !v.ResetBox ||
		v.Confirm || v.Expanded != "false" {
		t.Fatalf("the ADMIN's page of a user with factors: %+v", v)
	}
	first, second := v.Factors[0], v.Factors[1]
	if first.ID != en.EnrollTotp.FactorID || first.Type != "TOTP" || first.Confirmed != "true" || first.Title != name || first.Badge != "" ||
		first.Markup || !strings.HasPrefix(first.Meta, "Authenticator app, added ") {
		t.Errorf("the confirmed factor: %+v", first)
	}
	if second.ID != pending.EnrollTotp.FactorID || second.Confirmed != "false" || second.Title != "Authenticator app" || second.Badge != "Pending" ||
		!strings.HasSuffix(second.Meta, ", never used") {
		t.Errorf("the pending factor: %+v", second)
	}
	if !slices.Equal(v.Buttons[:3], []string{"mfa-reset", "mfa-reset-yes", "mfa-reset-no"}) {
		t.Errorf("the ADMIN's buttons: %v", v.Buttons)
	}
	consoleCheckA11y(b, "a user's second factors")

	// Asked, then cancelled: nothing is sent, the focus goes back to the button.
	browserRun(b, "click #mfa-reset", chromedp.Click(chromedp.ID("mfa-reset"), chromedp.NodeVisible))
	v = admMfaUserRead(b)
	wantQuestion := "Remove every second factor and recovery code of " + userEmail + "? Its sessions end, and it is mailed a notice; " +
		"it then signs in with its password alone and enrols again. Check who is asking first: this is the way around a second factor."
	if !v.Confirm || v.ConfirmText != wantQuestion || v.Focus != "mfa-reset-text" || v.Expanded != "true" {
		t.Fatalf("the confirmation: %+v", v)
	}
	sent = len(b.graphqlRequests())
	browserRun(b, "click #mfa-reset-no", chromedp.Click(chromedp.ID("mfa-reset-no"), chromedp.NodeVisible))
	if v = admMfaUserRead(b); v.Confirm || v.Focus != "mfa-reset" || v.Expanded != "false" || len(pagesSentSince(b, sent)) != 0 {
		t.Fatalf("after Cancel: %+v", v)
	}
	if got := admMfaUser(e, admin.AccessToken, user.User.ID); len(got.Factors) != 2 {
		t.Fatalf("Cancel changed the factors: %+v", got)
	}

	// Reset.
	browserRun(b, "click #mfa-reset", chromedp.Click(chromedp.ID("mfa-reset"), chromedp.NodeVisible))
	if st, text := adminConsoleAct(b, "mfa-reset-yes", "user-mfa-status"); st != "ok" ||
		text != "The second factors of "+userEmail+" were removed and its sessions ended." {
		t.Fatalf("reset: %s %q", st, text)
	}
	v = admMfaUserRead(b)
	if v.Facts["fieldMfa"] != "Off" || v.Facts["fieldRecoveryCodes"] != "0" || len(v.Factors) != 0 || !v.None || v.ResetBox ||
		v.Focus != "user-mfa-title" || slices.Contains(v.Buttons, "mfa-reset") {
		t.Fatalf("the page after the reset: %+v", v)
	}
	if got := admMfaUser(e, admin.AccessToken, user.User.ID); got.MfaEnabled || got.RecoveryCodesRemaining != 0 || len(got.Factors) != 0 {
		t.Fatalf("the API after the reset: %+v", got)
	}
	e.wantCode(e.refreshReq(aal2.RefreshToken), "INVALID_REFRESH_TOKEN")
	(&mfaMailbox{sink: sink}).wait(t, userEmail, mfaSubjectReset)
	ev := findAudit(t, staffAudit(e, admin.AccessToken, map[string]any{"userId": user.User.ID, "first": 100}).Nodes, "mfa_reset")
	if ev.Outcome != "success" || ev.ActorID == nil || *ev.ActorID != admin.User.ID {
		t.Errorf("the mfa_reset event: %+v, want the ADMIN %s as actor", ev, admin.User.ID)
	}

	// The list, searched again, says off.
	browserRun(b, "click Users", chromedp.Click(chromedp.ID("nav-users")))
	browserRun(b, "search", chromedp.Click(chromedp.ID("search-submit")))
	browserWaitFor(b, "2FA off for "+userEmail, `(() => {
  const b = [...document.querySelectorAll('#users-body button[data-user-id]')].find((el) => el.textContent === `+browserJSString(userEmail)+`);
  return !!b && b.closest('tr').querySelector('td[data-mfa]').getAttribute('data-mfa') === 'off';
})()`)
	b.checkPageClean()
}
