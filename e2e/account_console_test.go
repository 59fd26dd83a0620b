package e2e

// Browser tests of the account console, /account (web/console.go, web/console/*): a real
// headless Chromium, driven with chromedp through the helpers of browser_test.go, against
// the real server of the end-to-end harness with its defaults (--salt=yes with ECDH-ES,
// --anojwt=yes), its mail read from a real SMTP server (mailsink_test.go).
//
// What they prove: a user signs in with the console's form (anonymous token, credentials
// encrypted under the published key, never in plain text on the wire), edits the
// profile, ends another session, changes the password (and signs in with the new one),
// asks for an email change (the link is mailed to the new address), signs out
// everywhere, and deletes the account, each checked over GraphQL afterwards; the
// console speaks French; its sign-in form works with the keyboard only; its strict
// Content-Security-Policy blocks nothing it does; --account-console=no removes it.
//
// With TOKTOK_UPDATE_SCREENSHOTS=1, TestAccountConsoleFlow also writes the screenshots
// of docs/screenshots/ (account-signin.png, account-overview.png) that the README shows.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
)

const (
	acctLoginOp          = "TokTokConsoleLogin"
	acctOtherAgent       = "curl/8.5.0"
	acctSignedOutEN      = "You are signed out."
	acctSignedOutAllEN   = "You are signed out on every device."
	acctDeletedEN        = "Your account was deleted. You are signed out."
	acctInvalidCredsEN   = "The email address or the password is wrong."
	acctInvalidCredsFR   = "L’adresse e-mail ou le mot de passe est incorrect."
	acctProfileSavedEN   = "Your profile was saved."
	acctPasswordDoneEN   = "Your password was changed. Your other devices are signed out."
	acctSignInTitleFR    = "Connectez-vous à votre compte"
	acctForgotSentFR     = "Si un compte utilise claire.console@example.com, un lien pour choisir un nouveau mot de passe lui a été envoyé."
	acctAccountTitleEN   = "Your account"
	acctWrongPasswordEN  = "The current password is wrong."
	acctEmailChangeEN    = "A confirmation link was mailed to %s. Your address changes when you open it."
	acctSessionEndedEN   = "The session of curl was ended."
	acctPasswordMismatch = "The two new passwords differ: type the same password twice."
)

// acctView is what the console shows, as the tests read it.
type acctView struct {
	Ready        bool   `json:"ready"`
	Lang         string `json:"lang"`
	SignIn       bool   `json:"signIn"`  // the sign-in view is shown
	Account      bool   `json:"account"` // the account view is shown
	H1           string `json:"h1"`
	Who          string `json:"who"`
	Email        string `json:"email"`
	Role         string `json:"role"`
	Name         string `json:"name"`
	Pending      string `json:"pending"`
	Active       string `json:"active"` // the id of the focused element
	Status       map[string]acctStatus
	Sessions     []acctSessionItem `json:"sessions"`
	DeleteOpen   bool              `json:"deleteOpen"`
	LangSwitch   string            `json:"langSwitch"`
	SignInButton string            `json:"signInButton"`
}

type acctStatus struct {
	State string `json:"state"`
	Text  string `json:"text"`
}

type acctSessionItem struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Meta    string `json:"meta"`
	Current bool   `json:"current"`
	Label   string `json:"label"`
}

const acctViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const vis = (id) => { const el = $(id); return !!el && !el.hidden && el.getClientRects().length > 0; };
  const h1 = [...document.querySelectorAll('h1')].find((h) => h.getClientRects().length > 0);
  const status = {};
  for (const el of document.querySelectorAll('[role="status"]')) status[el.id] = { state: el.getAttribute('data-state') || '', text: el.textContent };
  return {
    ready: !!document.body && document.body.getAttribute('data-ready') === 'true',
    lang: document.documentElement.getAttribute('lang') || '',
    signIn: vis('signin-view'),
    account: vis('account-view'),
    h1: h1 ? h1.textContent : '',
    who: vis('who') ? $('who').textContent : '',
    email: $('fact-email').textContent,
    role: $('fact-role').textContent,
    name: $('profile-name').value,
    pending: vis('email-pending') ? $('email-pending').textContent : '',
    active: document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : '',
    Status: status,
    sessions: [...document.querySelectorAll('#sessions-list > li')].map((li) => ({
      id: li.getAttribute('data-session'),
      title: li.querySelector('.item-title').firstChild.textContent,
      meta: li.querySelector('.item-meta').textContent,
      current: li.getAttribute('data-current') === 'true',
      label: li.querySelector('button').getAttribute('aria-label'),
    })),
    deleteOpen: vis('delete-form'),
    langSwitch: $('lang-switch').getAttribute('href'),
    signInButton: $('signin-submit').textContent,
  };
})()`

func acctRead(b *browserSession) acctView {
	b.t.Helper()
	return browserEval[acctView](b, "read the console", acctViewJS)
}

// acctOpen opens path on the server afresh, checks the page's headers, and waits until
// the console's script has started.
func acctOpen(b *browserSession, e *testEnv, path string) acctView {
	b.t.Helper()
	pagesOpen(b, e.srv.URL+path) // the hosted pages' checks hold for the consoles too
	return acctRead(b)
}

// acctAct runs what (a click, a key) with consoleAct, which waits until the status
// element statusID shows its outcome, and reads the console.
func acctAct(b *browserSession, statusID, what string, a chromedp.Action[chromedp.Void]) acctView {
	b.t.Helper()
	consoleAct(b, statusID, what, a)
	return acctRead(b)
}

// acctClick clicks the element with the given CSS selector.
func acctClick(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Click(chromedp.CSS(sel))
}

// acctFill types values into the inputs with the given ids (emptied first).
func acctFill(b *browserSession, fields ...string) {
	b.t.Helper()
	for i := 0; i+1 < len(fields); i += 2 {
		pagesType(b, fields[i], fields[i+1])
	}
}

// acctSignIn fills and submits the sign-in form and waits for the account view.
func acctSignIn(b *browserSession, email, password string) acctView {
	b.t.Helper()
	acctFill(b, "signin-email", email, "signin-password", password)
	browserRun(b, "submit the sign-in form", acctClick("#signin-submit"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden && document.querySelectorAll('#sessions-list > li').length > 0`)
	return acctRead(b)
}

// acctStartEnv starts the harness's server with both security defaults, its mail going
// to a new sink, its clock at the real time (the console shows dates), with edit (may be
// nil) applied.
func acctStartEnv(t *testing.T, edit func(*config.Config)) (*testEnv, *mailSink) {
	t.Helper()
	e, sink := pagesStartEnvWith(t, edit)
	e.clock.Advance(time.Since(e.clock.Now()))
	if e.cfg.Credentials.Alg != config.SaltECDH {
		t.Fatalf("the console must be tested with the default --salt-alg, not %s", e.cfg.Credentials.Alg)
	}
	return e, sink
}

// acctUser registers email with password and confirms it through the mailed link. The
// first confirmed account of a server becomes ADMIN: a bystander takes that role first,
// so that the console's user is a plain USER.
func acctUser(t *testing.T, e *testEnv, sink *mailSink, email, password string) authPayload {
	t.Helper()
	confirm := func(addr string) {
		var resp struct{ ConfirmEmail struct{ Email string } }
		e.mustData(e.gql("", `mutation($t: String!) { confirmEmail(token: $t) { email } }`,
			map[string]any{"t": sink.NextTo(addr).Token()}), &resp)
	}
	const admin = "first.admin@example.com"
	e.register(admin, strongPassword)
	confirm(admin)
	p := e.register(email, password)
	confirm(email)
	return p
}

// acctLoginAs signs email in over GraphQL with a User-Agent of its own.
func acctLoginAs(e *testEnv, email, password, userAgent string) authPayload {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{
		"query":     `mutation($input: LoginInput!) { login(input: $input) { ` + payloadFields + ` } }`,
		"variables": map[string]any{"input": map[string]any{"email": e.enc(email), "password": e.enc(password)}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	var resp struct{ Login authPayload }
	e.mustData(e.post(e.anon(), "application/json", body, map[string]string{"User-Agent": userAgent}), &resp)
	return resp.Login
}

// TestAccountConsoleFlow: sign in, edit the profile, end another session, change the
// password, sign in again with it, ask for an email change; each checked over GraphQL.
func TestAccountConsoleFlow(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, sink := acctStartEnv(t, nil)
	box := browserCredentialBox(t, e)
	const (
		email    = "ann.console@example.com"
		password = "correct horse battery staple"
		newPass  = "a brand new pass phrase for ann"
		newEmail = "ann.renamed@example.com"
	)
	acctUser(t, e, sink, email, password)
	browserRun(b, "a 1000x800 viewport", chromedp.EmulateViewport(1000, 800))

	// 1. The page, signed out; the sign-in form, as the screenshot shows it.
	v := acctOpen(b, e, "/account")
	if v.Lang != "en" || !v.SignIn || v.Account || v.H1 != "Sign in to your account" || v.LangSwitch != "?lang=fr" {
		t.Fatalf("the console as opened: %+v", v)
	}
	acctFill(b, "signin-email", email)
	consoleScreenshot(b, "account-signin.png", "")

	// 2. A wrong password: a localized error, the focus back on the password field.
	sent := len(b.graphqlRequests())
	acctFill(b, "signin-password", "not the password at all")
	v = acctAct(b, "signin-status", "submit a wrong password", acctClick("#signin-submit"))
	if v.Status["signin-status"] != (acctStatus{"error", acctInvalidCredsEN}) || v.Active != "signin-password" || v.Account {
		t.Fatalf("after a wrong password: %+v", v)
	}

	// 3. The right one: the account view, focus on its heading, the profile and the
	// sessions shown. On the wire: an anonymous token, both fields encrypted.
	v = acctSignIn(b, email, password)
	if !v.Account || v.SignIn || v.H1 != acctAccountTitleEN || v.Active != "account-title" ||
		v.Email != email || v.Role != "User" || v.Who != "Signed in as "+email {
		t.Fatalf("after signing in: %+v", v)
	}
	var logins []browserRequest
	for _, r := range pagesSentSince(b, sent) {
		if pagesOpName(r) == acctLoginOp {
			logins = append(logins, r)
		}
	}
	if len(logins) != 2 {
		t.Fatalf("sent %d logins, want 2: %v", len(logins), pagesOps(pagesSentSince(b, sent)))
	}
	var in struct {
		Input struct{ Email, Password string }
	}
	if err := json.Unmarshal(logins[1].Body.Variables, &in); err != nil {
		t.Fatal(err)
	}
	browserCheckCiphertext(t, box, "login email", in.Input.Email, email)
	browserCheckCiphertext(t, box, "login password", in.Input.Password, password)
	if !strings.HasPrefix(logins[1].Authorization, "Bearer ") {
		t.Errorf("login went with Authorization %q, want the anonymous token", logins[1].Authorization)
	}

	// 4. The profile: a new name, saved and stored.
	acctFill(b, "profile-name", "Ann", "profile-surname", "Console", "profile-pseudo", "annie")
	v = acctAct(b, "profile-status", "save the profile", acctClick("#profile-submit"))
	if v.Status["profile-status"] != (acctStatus{"ok", acctProfileSavedEN}) || v.Name != "Ann" {
		t.Fatalf("after saving the profile: %+v", v)
	}
	other := acctLoginAs(e, email, password, acctOtherAgent)
	var me struct {
		Me struct{ Name, Surname, Pseudo string }
	}
	e.mustData(e.gql(other.AccessToken, `{ me { name surname pseudo } }`, nil), &me)
	if me.Me.Name != "Ann" || me.Me.Surname != "Console" || me.Me.Pseudo != "annie" {
		t.Fatalf("the stored profile: %+v", me.Me)
	}

	// 5. The sessions: this browser's (current, "Chrome on Linux") and the curl one.
	v = acctAct(b, "sessions-status", "refresh the sessions", acctClick("#sessions-reload"))
	if len(v.Sessions) != 2 || !v.Sessions[0].Current || !strings.HasPrefix(v.Sessions[0].Title, "Chrome") ||
		v.Sessions[1].Current || v.Sessions[1].Title != "curl" || !strings.Contains(v.Sessions[1].Meta, "127.0.0.1") {
		t.Fatalf("the sessions: %+v", v.Sessions)
	}
	consoleScreenshot(b, "account-overview.png", "")
	v = acctAct(b, "sessions-status", "end the curl session", acctClick(`#sessions-list > li[data-session="`+v.Sessions[1].ID+`"] button`))
	if v.Status["sessions-status"] != (acctStatus{"ok", acctSessionEndedEN}) || len(v.Sessions) != 1 || !v.Sessions[0].Current {
		t.Fatalf("after ending the curl session: %+v", v)
	}
	e.wantCode(e.refreshReq(other.RefreshToken), "INVALID_REFRESH_TOKEN")
	e.wantCode(e.meReqCode(other.AccessToken), "UNAUTHENTICATED")

	// 6. The password: a mismatch caught by the page; a wrong current password; then
	// the change, after which the console keeps working with its new session.
	acctFill(b, "password-current", password, "password-new", newPass, "password-confirm", newPass+"!")
	v = acctAct(b, "password-status", "change the password (mismatch)", acctClick("#password-submit"))
	if v.Status["password-status"] != (acctStatus{"error", acctPasswordMismatch}) || v.Active != "password-confirm" {
		t.Fatalf("after a mismatch: %+v", v)
	}
	acctFill(b, "password-current", "wrong current password", "password-confirm", newPass)
	v = acctAct(b, "password-status", "change the password (wrong current)", acctClick("#password-submit"))
	if v.Status["password-status"] != (acctStatus{"error", acctWrongPasswordEN}) || v.Active != "password-current" {
		t.Fatalf("after a wrong current password: %+v", v)
	}
	acctFill(b, "password-current", password)
	v = acctAct(b, "password-status", "change the password", acctClick("#password-submit"))
	if v.Status["password-status"] != (acctStatus{"ok", acctPasswordDoneEN}) || !v.Account {
		t.Fatalf("after changing the password: %+v", v)
	}
	e.wantCode(e.loginReq(email, password), "INVALID_CREDENTIALS")
	e.login(email, newPass)
	v = acctAct(b, "sessions-status", "refresh the sessions after the change", acctClick("#sessions-reload"))
	if !v.Account || len(v.Sessions) != 2 || !v.Sessions[0].Current {
		t.Fatalf("the sessions after the change (the console's new one and the login above): %+v", v.Sessions)
	}

	// 7. Sign out, then in again with the new password.
	browserRun(b, "sign out", acctClick("#signout"))
	browserWaitFor(b, "the sign-in view", `!document.getElementById('signin-view').hidden`)
	if v = acctRead(b); v.Status["signin-status"] != (acctStatus{"ok", acctSignedOutEN}) || v.Active != "signin-title" {
		t.Fatalf("after signing out: %+v", v)
	}
	v = acctSignIn(b, email, newPass)
	if !v.Account || v.Name != "Ann" {
		t.Fatalf("signing in with the new password: %+v", v)
	}

	// 8. The email: a change asked for, the link mailed to the new address.
	sink.NextTo(email) // the password-changed notice
	acctFill(b, "email-new", newEmail, "email-password", newPass)
	v = acctAct(b, "email-status", "change the email", acctClick("#email-submit"))
	if v.Status["email-status"] != (acctStatus{"ok", fmt.Sprintf(acctEmailChangeEN, newEmail)}) || !strings.Contains(v.Pending, newEmail) {
		t.Fatalf("after asking for an email change: %+v", v)
	}
	var got []string
	for range 2 { // the link to the new address and the notice to the old, in either order
		m := sink.Next()
		got = append(got, m.To...)
		if slices.Equal(m.To, []string{newEmail}) && m.Token() == "" {
			t.Errorf("the mail to %s has no link", newEmail)
		}
	}
	if !slices.Contains(got, newEmail) {
		t.Fatalf("mails went to %v, want one to %s", got, newEmail)
	}

	// Nothing typed went over the wire in plain text.
	for _, r := range b.graphqlRequests() {
		for _, typed := range []string{password, newPass, "wrong current password", newEmail} {
			if strings.Contains(r.Raw, typed) {
				t.Errorf("the console sent %q in plain text: %s", typed, r.Raw)
			}
		}
	}
	b.checkPageClean()
}

// meReqCode asks for mySessions, which needs a live session (me answers null instead).
func (e *testEnv) meReqCode(bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `{ mySessions { id } }`, nil)
}

// TestAccountConsoleSignOutEverywhereAndDelete: "sign out everywhere" ends every session
// of the user; deleting the account needs the password and the tick, then login fails.
func TestAccountConsoleSignOutEverywhereAndDelete(t *testing.T) {
	b := browserStart(t)
	e, sink := acctStartEnv(t, nil)
	const email, password = "bob.console@example.com", "correct horse battery staple"
	acctUser(t, e, sink, email, password)

	acctOpen(b, e, "/account")
	acctSignIn(b, email, password)

	// The access token expires (15 minutes later): the console refreshes it once, with
	// its refresh token, and the request goes through.
	e.clock.Advance(20 * time.Minute)
	sent := len(b.graphqlRequests())
	v := acctAct(b, "sessions-status", "refresh the sessions with an expired access token", acctClick("#sessions-reload"))
	if !v.Account || v.Status["sessions-status"].State != "ok" || len(v.Sessions) != 1 {
		t.Fatalf("after the access token expired: %+v", v)
	}
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Equal(ops, []string{"TokTokConsoleSessions", "TokTokConsoleRefresh", "TokTokConsoleSessions"}) {
		t.Fatalf("with an expired access token the console sent %v; want the query, one refresh, the query again", ops)
	}

	// Ending this device's own session from the list signs the console out.
	v = acctAct(b, "signin-status", "end the current session", acctClick(`#sessions-list > li[data-current="true"] button`))
	if !v.SignIn || v.Account || v.Status["signin-status"] != (acctStatus{"ok", acctSignedOutEN}) {
		t.Fatalf("after ending the current session: %+v", v)
	}

	// Sign out everywhere.
	acctSignIn(b, email, password)
	other := acctLoginAs(e, email, password, acctOtherAgent)
	v = acctAct(b, "signin-status", "sign out everywhere", acctClick("#signout-all"))
	if !v.SignIn || v.Account || v.Status["signin-status"] != (acctStatus{"ok", acctSignedOutAllEN}) {
		t.Fatalf("after signing out everywhere: %+v", v)
	}
	e.wantCode(e.refreshReq(other.RefreshToken), "INVALID_REFRESH_TOKEN")
	e.wantCode(e.meReqCode(other.AccessToken), "UNAUTHENTICATED")

	v = acctSignIn(b, email, password)
	browserRun(b, "open the deletion form", acctClick("#delete-start"))
	if v = acctRead(b); !v.DeleteOpen || v.Active != "delete-password" {
		t.Fatalf("the deletion form: %+v", v)
	}
	// No tick: refused by the page, nothing sent.
	acctFill(b, "delete-password", password)
	sent = len(b.graphqlRequests())
	v = acctAct(b, "delete-status", "delete without the tick", acctClick("#delete-confirm"))
	if v.Status["delete-status"].State != "error" || v.Active != "delete-understand" || len(pagesSentSince(b, sent)) != 0 {
		t.Fatalf("deleting without the tick: %+v (sent %v)", v, pagesOps(pagesSentSince(b, sent)))
	}
	// A wrong password: refused by the server, the account kept.
	browserRun(b, "tick the box", acctClick("#delete-understand"))
	acctFill(b, "delete-password", "not my password at all")
	v = acctAct(b, "delete-status", "delete with a wrong password", acctClick("#delete-confirm"))
	if v.Status["delete-status"] != (acctStatus{"error", acctWrongPasswordEN}) || !v.Account {
		t.Fatalf("deleting with a wrong password: %+v", v)
	}
	acctFill(b, "delete-password", password)
	v = acctAct(b, "signin-status", "delete the account", acctClick("#delete-confirm"))
	if !v.SignIn || v.Status["signin-status"] != (acctStatus{"ok", acctDeletedEN}) {
		t.Fatalf("after deleting the account: %+v", v)
	}
	e.wantCode(e.loginReq(email, password), "INVALID_CREDENTIALS")
	b.checkPageClean()
}

// TestAccountConsoleFrench: ?lang=fr (and Accept-Language) give the console in French,
// errors included.
func TestAccountConsoleFrench(t *testing.T) {
	b := browserStart(t)
	e, sink := acctStartEnv(t, nil)
	acctUser(t, e, sink, "claire.console@example.com", strongPassword)

	v := acctOpen(b, e, "/account?lang=fr")
	if v.Lang != "fr" || v.H1 != acctSignInTitleFR || v.SignInButton != "Se connecter" || v.LangSwitch != "?lang=en" {
		t.Fatalf("/account?lang=fr: %+v", v)
	}
	acctFill(b, "signin-email", "claire.console@example.com", "signin-password", "pas le bon mot de passe")
	v = acctAct(b, "signin-status", "submit a wrong password", acctClick("#signin-submit"))
	if v.Status["signin-status"] != (acctStatus{"error", acctInvalidCredsFR}) {
		t.Fatalf("a wrong password in French: %+v", v)
	}
	// "Mot de passe oublié ?": a reset link mailed to the address typed.
	v = acctAct(b, "signin-status", "ask for a reset link", acctClick("#signin-forgot"))
	if v.Status["signin-status"] != (acctStatus{"ok", acctForgotSentFR}) {
		t.Fatalf("forgot password, in French: %+v", v)
	}
	if _, link := pagesLinkURL(t, e, sink.NextTo("claire.console@example.com"), "/reset-password"); link == "" {
		t.Fatal("no reset link")
	}
	v = acctSignIn(b, "claire.console@example.com", strongPassword)
	if v.H1 != "Votre compte" || v.Who != "Connecté en tant que claire.console@example.com" || v.Role != "Utilisateur" {
		t.Fatalf("signed in, in French: %+v", v)
	}
	b.checkPageClean()
}

// TestAccountConsoleKeyboard: the sign-in form is completed with the keyboard only
// (Tab, typing, Enter), and the focus then lands on the account's heading.
func TestAccountConsoleKeyboard(t *testing.T) {
	b := browserStart(t)
	e, _ := acctStartEnv(t, nil)
	const email = "dan.console@example.com"
	e.register(email, strongPassword)

	acctOpen(b, e, "/account")
	// From the top of the page: the skip link, then the email field.
	for i := 0; ; i++ {
		if i == 6 {
			t.Fatal("Tab never reached #signin-email")
		}
		browserRun(b, "press Tab", chromedp.KeyEvent("\t"))
		if browserEval[string](b, "read the focus", `document.activeElement.id`) == "signin-email" {
			break
		}
	}
	browserRun(b, "type the email", chromedp.KeyEvent(email))
	browserRun(b, "press Tab", chromedp.KeyEvent("\t"))
	if id := browserEval[string](b, "read the focus", `document.activeElement.id`); id != "signin-password" {
		t.Fatalf("Tab from the email field went to %q", id)
	}
	browserRun(b, "type the password", chromedp.KeyEvent(strongPassword))
	browserRun(b, "press Enter", chromedp.KeyEvent("\r"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden`)
	if v := acctRead(b); v.Active != "account-title" || v.Email != email {
		t.Fatalf("after signing in with the keyboard: %+v", v)
	}
	// Every text shown meets WCAG's 4.5:1 contrast against its background, and the
	// control focused from the keyboard has a visible outline.
	consoleCheckA11y(b, "the account view")
	// Leaving the page ends its session on the server: its tokens are gone with it.
	other := acctLoginAs(e, email, strongPassword, acctOtherAgent)
	before := len(sessList(e, other.AccessToken)) // register's, the console's, curl's
	defer func() {
		browserRun(b, "leave the console", chromedp.Navigate("about:blank"))
		deadline := time.Now().Add(browserStepTimeout)
		for len(sessList(e, other.AccessToken)) != before-1 {
			if time.Now().After(deadline) {
				t.Fatalf("the console's session outlived its page: %+v", sessList(e, other.AccessToken))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	b.checkPageClean()
}

// TestAccountConsoleOff: --account-console=no serves no console (404 on /account and
// its assets); the default serves it.
func TestAccountConsoleOff(t *testing.T) {
	for _, tc := range []struct {
		name string
		on   bool
		want int
	}{{"--account-console=yes (default)", true, http.StatusOK}, {"--account-console=no", false, http.StatusNotFound}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, func(c *config.Config) { c.HTTP.AccountConsole = tc.on })
			for _, path := range []string{"/account", "/account/", "/account/console.js", "/account/account.js"} {
				if got := consoleGetStatus(t, e, path); got != tc.want {
					t.Errorf("GET %s: %d, want %d", path, got, tc.want)
				}
			}
		})
	}
}
