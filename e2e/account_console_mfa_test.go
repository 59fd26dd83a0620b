package e2e

// Browser tests of the account console's second factors and passkeys (web/console/
// account.*): a real headless Chromium with a virtual authenticator (the DevTools
// protocol's WebAuthn domain: CTAP2, internal, resident keys, user verification), against
// the real server of the end-to-end harness with its defaults (--salt=yes, --anojwt=yes).
//
// A WebAuthn relying party must be a domain, never an IP address, and its origins are
// fixed when the server starts, before the harness's test server has a port. So the
// browser talks to http://localhost:PORT, a reverse proxy in front of the harness's
// server on a port chosen first, which the server is configured with
// (--webauthn-rp-id=localhost, --webauthn-origins=http://localhost:PORT). Chromium
// treats http://localhost as a secure context, as WebAuthn requires.
//
// What they prove, each checked over GraphQL or in the store, not only on the page: a
// passkey registered on the account page signs in alone, discoverable (no email typed)
// and for the email typed, at aal2; an authenticator app enrolled from the secret the
// page shows gives recovery codes once, and a password sign-in then asks for its code
// (or a recovery code) before the account shows; a passkey serves as the second factor
// of a password sign-in, and removing it (after a confirmation) turns MFA off; a
// passkey whose signature counter went back (a cloned authenticator) is refused with a
// message and audited as webauthn_clone; a role that requires a second factor, and a
// session that must verify one, show the two-factor section and the verification step
// instead of an error. No page's Content-Security-Policy blocks anything.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/store"
)

const (
	amcPasskeyAddedEN  = "The passkey was added."
	amcTotpAddedEN     = "The authenticator app was added."
	amcWrongCodeEN     = "This code is wrong or has expired. Enter the code the app shows now."
	amcPasskeyRefused  = "This passkey was not accepted. If this keeps happening, sign in another way and register the passkey again."
	amcEnrollNeededEN  = "Your role requires two-factor authentication: add an authenticator app or a passkey to use your account."
	amcVerifyFirstEN   = "To continue, confirm it is you with your second factor."
	amcCodesRemaining  = "You have %d unused recovery codes."
	amcRecoveryCodeLen = 10
)

// amcView is what the console shows of its second factors, as the tests read it.
type amcView struct {
	SignIn        bool                  `json:"signIn"`
	MFA           bool                  `json:"mfa"`
	Account       bool                  `json:"account"`
	Active        string                `json:"active"`
	Status        map[string]acctStatus `json:"status"`
	MFAPasskey    bool                  `json:"mfaPasskey"`
	RecoveryField bool                  `json:"recoveryField"`
	Factors       []amcFactorItem       `json:"factors"`
	State         string                `json:"state"`
	Remaining     string                `json:"remaining"`
	Codes         []string              `json:"codes"`
	Secret        string                `json:"secret"`
	QRSrc         string                `json:"qrSrc"`
	QRWidth       int                   `json:"qrWidth"`
	RemoveText    string                `json:"removeText"`
}

type amcFactorItem struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Title string `json:"title"`
	Meta  string `json:"meta"`
	Label string `json:"label"`
}

const amcViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const vis = (id) => { const el = $(id); return !!el && !el.hidden && el.getClientRects().length > 0; };
  const status = {};
  for (const el of document.querySelectorAll('[role="status"]')) status[el.id] = { state: el.getAttribute('data-state') || '', text: el.textContent };
  return {
    signIn: vis('signin-view'), mfa: vis('mfa-view'), account: vis('account-view'),
    active: document.activeElement ? (document.activeElement.id || document.activeElement.tagName) : '',
    status,
    mfaPasskey: vis('mfa-passkey'), recoveryField: vis('mfa-recovery-field'),
    factors: [...document.querySelectorAll('#factors-list > li')].map((li) => ({
      id: li.getAttribute('data-factor'), type: li.getAttribute('data-type'),
      title: li.querySelector('.item-title').textContent, meta: li.querySelector('.item-meta').textContent,
      label: li.querySelector('button').getAttribute('aria-label'),
    })),
    state: $('twofactor-state').textContent,
    remaining: $('recovery-remaining').textContent,
    codes: vis('recovery-box') ? [...document.querySelectorAll('#recovery-list li')].map((li) => li.textContent) : [],
    secret: vis('totp-enroll') ? $('totp-secret').textContent : '',
    qrSrc: $('totp-qr').getAttribute('src') || '',
    qrWidth: $('totp-qr').naturalWidth,
    removeText: vis('factor-remove') ? $('factor-remove-text').textContent : '',
  };
})()`

func amcRead(b *browserSession) amcView {
	b.t.Helper()
	return browserEval[amcView](b, "read the console's second factors", amcViewJS)
}

// amcConsole is a browser, the server behind a localhost reverse proxy, and the
// virtual authenticator of the browser's tab.
type amcConsole struct {
	b      *browserSession
	e      *testEnv
	sink   *mailSink
	origin string // http://localhost:PORT, the proxy, the WebAuthn origin
	auth   webauthn.AuthenticatorID
}

// amcStart starts a browser with a virtual authenticator and the harness's server (its
// clock at the real time) configured as the relying party of http://localhost:PORT,
// with edit (may be nil) applied, behind a reverse proxy on that port.
func amcStart(t *testing.T, edit func(*config.Config)) *amcConsole {
	t.Helper()
	b := browserStart(t) // first: skips at once where no browser is installed
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	e, sink := acctStartEnv(t, func(c *config.Config) {
		c.MFA.WebAuthnRPID = "localhost"
		c.MFA.WebAuthnOrigins = []string{origin}
		if edit != nil {
			edit(c)
		}
	})
	target, err := url.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The proxy keeps the browser's Host header (localhost:PORT), so that the server
	// sees the browser's requests as same-origin ones.
	proxy := &http.Server{Handler: httputil.NewSingleHostReverseProxy(target), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = proxy.Serve(ln) }()
	t.Cleanup(func() { _ = proxy.Close() })

	c := &amcConsole{b: b, e: e, sink: sink, origin: origin}
	c.auth = browserRun(b, "add a virtual authenticator", func(ctx context.Context, _ *chromedp.Target) (webauthn.AuthenticatorID, error) {
		if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return "", err
		}
		res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21,
				Transport: webauthn.AuthenticatorTransportInternal, HasResidentKey: true, HasUserVerification: true,
				IsUserVerified: true, AutomaticPresenceSimulation: true,
			},
		})
		return res.AuthenticatorID, err
	})
	return c
}

// open opens the account console through the proxy.
func (c *amcConsole) open() {
	c.b.t.Helper()
	pagesOpen(c.b, c.origin+"/account")
}

// credentials returns the virtual authenticator's credentials.
func (c *amcConsole) credentials() []*webauthn.Credential {
	c.b.t.Helper()
	res := browserRun(c.b, "read the authenticator's credentials", func(ctx context.Context, _ *chromedp.Target) (webauthn.GetCredentialsResult, error) {
		return chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: c.auth})
	})
	return res.Credentials
}

// act runs a click with consoleAct (statusID shows its outcome) and reads the console.
func (c *amcConsole) act(statusID, what, sel string) amcView {
	c.b.t.Helper()
	consoleAct(c.b, statusID, what, acctClick(sel))
	return amcRead(c.b)
}

// response waits until the tab's latest request of the operation op, sent after the
// first since requests, has finished, and decodes its response into v.
func (c *amcConsole) response(since int, op string, v any) {
	b := c.b
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	for {
		var found *browserRequest
		for _, r := range pagesSentSince(b, since) {
			b.mu.Lock()
			done := b.done[r.ID]
			b.mu.Unlock()
			if pagesOpName(r) == op && done {
				found = &r
			}
		}
		if found != nil {
			id := found.ID
			res := browserRun(b, "read the response to "+op, func(ctx context.Context, _ *chromedp.Target) (network.GetResponseBodyResult, error) {
				return chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: id})
			})
			if err := json.Unmarshal(res.Body, v); err != nil {
				b.t.Fatalf("the response to %s is not JSON: %v: %s", op, err, res.Body)
			}
			return
		}
		if !browserSleep(ctx, 50*time.Millisecond) {
			b.t.Fatalf("browser: timed out waiting for the response to %s; sent %v", op, pagesOps(pagesSentSince(b, since)))
		}
	}
}

// amcAuth is an AuthPayload as the console asked for it.
type amcAuth struct {
	AccessToken string
	Aal         string
	MfaRequired bool
	User        struct{ Email string }
}

// authOf returns the AuthPayload at data[field] (or data[field].auth) of the response to
// op sent after since, failing on errors.
func (c *amcConsole) authOf(since int, op, field string, nested bool) amcAuth {
	c.b.t.Helper()
	var res struct {
		Data   map[string]json.RawMessage
		Errors []gqlError
	}
	c.response(since, op, &res)
	if len(res.Errors) > 0 || res.Data[field] == nil {
		c.b.t.Fatalf("%s answered errors %+v", op, res.Errors)
	}
	raw := res.Data[field]
	if nested {
		var wrap struct{ Auth json.RawMessage }
		if err := json.Unmarshal(raw, &wrap); err != nil {
			c.b.t.Fatal(err)
		}
		raw = wrap.Auth
	}
	var a amcAuth
	if err := json.Unmarshal(raw, &a); err != nil || a.AccessToken == "" {
		c.b.t.Fatalf("%s payload %s (%v)", op, raw, err)
	}
	return a
}

// checkLevel checks, with the token service and the store, that the access token is of
// a session at aal with the methods amr.
func (c *amcConsole) checkLevel(what, accessToken, aal string, amr ...string) {
	t := c.b.t
	t.Helper()
	claims, err := c.e.app.Support().Tokens().VerifyAccessFull(accessToken, c.e.clock.Now())
	if err != nil {
		t.Fatalf("%s: the access token does not verify: %v", what, err)
	}
	if claims.AAL != aal || !slices.Equal(claims.AMR, amr) {
		t.Errorf("%s: the access token says aal %q amr %v, want %s %v", what, claims.AAL, claims.AMR, aal, amr)
	}
	sess, err := c.e.app.Support().Session(t.Context(), claims.SessionID)
	if err != nil || sess.Level() != aal {
		t.Errorf("%s: the stored session %s is at %q (%v), want %s", what, claims.SessionID, sess.Level(), err, aal)
	}
}

// amcMe is what the tests ask of the user over GraphQL.
type amcMe struct {
	MfaEnabled             bool
	RecoveryCodesRemaining int
	Factors                []struct {
		ID, Type, Name string
		Confirmed      bool
		LastUsedAt     *string
	}
}

func (c *amcConsole) me(accessToken string) amcMe {
	c.b.t.Helper()
	var resp struct{ Me amcMe }
	c.e.mustData(c.e.gql(accessToken, `{ me { mfaEnabled recoveryCodesRemaining factors { id type name confirmed lastUsedAt } } }`, nil), &resp)
	return resp.Me
}

// signOut clicks the top bar's sign-out button and waits for the sign-in view.
func (c *amcConsole) signOut() {
	c.b.t.Helper()
	browserRun(c.b, "sign out", acctClick("#signout"))
	browserWaitFor(c.b, "the sign-in view", `!document.getElementById('signin-view').hidden`)
}

// passwordSignIn submits the sign-in form and waits for the verification step.
func (c *amcConsole) passwordSignIn(email, password string) amcView {
	c.b.t.Helper()
	acctFill(c.b, "signin-email", email, "signin-password", password)
	browserRun(c.b, "submit the sign-in form", acctClick("#signin-submit"))
	browserWaitFor(c.b, "the verification step", `!document.getElementById('mfa-view').hidden`)
	return amcRead(c.b)
}

// addPasskey registers a passkey named name on the account page and returns the view
// with the recovery codes shown (the first factor's) and the payload's tokens.
func (c *amcConsole) addPasskey(name string) (amcView, amcAuth) {
	c.b.t.Helper()
	sent := len(c.b.graphqlRequests())
	acctFill(c.b, "passkey-name", name)
	v := c.act("passkey-status", "add a passkey", "#passkey-add")
	if v.Status["passkey-status"] != (acctStatus{"ok", amcPasskeyAddedEN}) {
		c.b.t.Fatalf("after adding a passkey: %+v", v)
	}
	a := c.authOf(sent, "TokTokConsoleFinishPasskey", "finishWebAuthnRegistration", true)
	browserWaitFor(c.b, "the factor listed", `document.querySelectorAll('#factors-list > li[data-type="WEBAUTHN"]').length > 0`)
	return amcRead(c.b), a
}

// passkeySignIn clicks "Sign in with a passkey" (email typed first, "" for none) and
// waits for the account view; it returns the session's tokens.
func (c *amcConsole) passkeySignIn(email string) amcAuth {
	b := c.b
	b.t.Helper()
	browserEval[chromedp.Void](b, "empty the email", `document.getElementById('signin-email').value = ''`)
	if email != "" {
		acctFill(b, "signin-email", email)
	}
	sent := len(b.graphqlRequests())
	browserRun(b, "sign in with a passkey", acctClick("#signin-passkey"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden && document.querySelectorAll('#sessions-list > li').length > 0`)
	// beginPasskeyLogin went with the anonymous token, and the email typed (or none),
	// encrypted.
	var begin *browserRequest
	for _, r := range pagesSentSince(b, sent) {
		if pagesOpName(r) == "TokTokConsoleBeginPasskeyLogin" {
			begin = &r
		}
	}
	if begin == nil || !strings.HasPrefix(begin.Authorization, "Bearer ") {
		b.t.Fatalf("no beginPasskeyLogin with a bearer token: %v", pagesOps(pagesSentSince(b, sent)))
	}
	var vars struct{ Email *string }
	if err := json.Unmarshal(begin.Body.Variables, &vars); err != nil {
		b.t.Fatal(err)
	}
	if vars.Email != nil {
		// The address travels encrypted, as login's does (--salt is on here).
		got, err := browserCredentialBox(b.t, c.e).Decrypt(*vars.Email)
		if err != nil || got != email || *vars.Email == email {
			b.t.Errorf("beginPasskeyLogin was sent email %q (opens to %q, %v), want %q encrypted", *vars.Email, got, err, email)
		}
	} else if email != "" {
		b.t.Errorf("beginPasskeyLogin was sent no email, want %q", email)
	}
	return c.authOf(sent, "TokTokConsoleFinishPasskeyLogin", "finishPasskeyLogin", false)
}

// TestAccountConsoleMFAPasskey: a passkey registered on the account page (the first
// factor: recovery codes shown once) signs in alone, without the email typed
// (discoverable) and with it, each time a session at aal2.
func TestAccountConsoleMFAPasskey(t *testing.T) {
	c := amcStart(t, nil)
	const email = "pia.passkey@example.com"
	acctUser(t, c.e, c.sink, email, strongPassword)
	c.open()
	acctSignIn(c.b, email, strongPassword)

	v, reg := c.addPasskey("Laptop")
	if len(v.Codes) != amcRecoveryCodeLen || v.Active != "recovery-codes-title" || len(v.Factors) != 1 ||
		v.Factors[0].Type != "WEBAUTHN" || v.Factors[0].Title != "Laptop" || v.Factors[0].Label != "Remove Laptop" ||
		v.State != "Two-factor authentication is on." || v.Remaining != fmt.Sprintf(amcCodesRemaining, 10) {
		t.Fatalf("after registering a passkey: %+v", v)
	}
	c.checkLevel("the console's session after the registration", reg.AccessToken, "aal2", "pwd", "webauthn")
	if me := c.me(reg.AccessToken); !me.MfaEnabled || me.RecoveryCodesRemaining != 10 || len(me.Factors) != 1 ||
		me.Factors[0].Type != "WEBAUTHN" || me.Factors[0].Name != "Laptop" || !me.Factors[0].Confirmed {
		t.Fatalf("the stored factors: %+v", me)
	}
	if creds := c.credentials(); len(creds) != 1 || !creds[0].IsResidentCredential || creds[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v, want one discoverable credential of localhost", creds)
	}
	browserRun(c.b, "close the codes", acctClick("#recovery-done"))
	if v = amcRead(c.b); len(v.Codes) != 0 || v.Active != "recovery-title" {
		t.Fatalf("after closing the codes: %+v", v)
	}

	// Without the email: the device offers its passkey for this site.
	c.signOut()
	a := c.passkeySignIn("")
	c.checkLevel("a discoverable passkey sign-in", a.AccessToken, "aal2", "webauthn")
	if a.User.Email != email || a.Aal != "aal2" || a.MfaRequired {
		t.Fatalf("finishPasskeyLogin without the email: %+v", a)
	}
	if v := acctRead(c.b); v.Email != email || v.Active != "account-title" {
		t.Fatalf("the account after a passkey sign-in: %+v", v)
	}

	// With the email typed.
	c.signOut()
	a = c.passkeySignIn(email)
	c.checkLevel("a passkey sign-in for the email typed", a.AccessToken, "aal2", "webauthn")
	if a.User.Email != email {
		t.Fatalf("finishPasskeyLogin with the email: %+v", a)
	}
	if me := c.me(a.AccessToken); me.Factors[0].LastUsedAt == nil {
		t.Errorf("the passkey's last use was not recorded: %+v", me)
	}
	b := c.b
	b.checkPageClean()
}

// TestAccountConsoleMFATotp: an authenticator app enrolled from the secret the page
// shows (a QR code too), recovery codes shown once and made anew; then a password
// sign-in asks for a code (a wrong one refused) before the account shows, and a
// recovery code does as well.
func TestAccountConsoleMFATotp(t *testing.T) {
	c := amcStart(t, nil)
	b, e := c.b, c.e
	const email = "tom.totp@example.com"
	acctUser(t, e, c.sink, email, strongPassword)
	c.open()
	acctSignIn(b, email, strongPassword)

	acctFill(b, "totp-name", "Phone")
	v := c.act("totp-status", "add an authenticator app", "#totp-start")
	secret := strings.ReplaceAll(v.Secret, " ", "")
	if v.Status["totp-status"].State != "ok" || len(secret) < 16 || v.Active != "totp-code" ||
		!strings.HasPrefix(v.QRSrc, "data:image/svg+xml") || v.QRWidth == 0 {
		t.Fatalf("after starting the enrolment (secret %q): %+v", secret, v)
	}
	if len(v.Factors) != 1 || !strings.Contains(v.Factors[0].Title, "Awaiting its first code") {
		t.Errorf("the pending factor is not listed as such: %+v", v.Factors)
	}
	consoleScreenshot(b, "account-mfa-enrol.png", "twofactor")
	consoleCheckA11y(b, "the authenticator app's enrolment")
	acctFill(b, "totp-code", "000000")
	if code, _ := mfa.TOTPCode(secret, e.clock.Now()); code == "000000" {
		acctFill(b, "totp-code", "999999")
	}
	v = c.act("totp-status", "confirm a wrong code", "#totp-confirm")
	if v.Status["totp-status"] != (acctStatus{"error", amcWrongCodeEN}) || v.Active != "totp-code" {
		t.Fatalf("after a wrong code: %+v", v)
	}
	code, err := mfa.TOTPCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	sent := len(b.graphqlRequests())
	acctFill(b, "totp-code", code)
	v = c.act("totp-status", "confirm the code", "#totp-confirm")
	if v.Status["totp-status"] != (acctStatus{"ok", amcTotpAddedEN}) || len(v.Codes) != amcRecoveryCodeLen ||
		v.Active != "recovery-codes-title" || v.Secret != "" || len(v.Factors) != 1 || v.Factors[0].Title != "Phone" {
		t.Fatalf("after confirming the code: %+v", v)
	}
	enrolled := c.authOf(sent, "TokTokConsoleConfirmTotp", "confirmTotp", true)
	c.checkLevel("the console's session after the enrolment", enrolled.AccessToken, "aal2", "pwd", "otp")
	if me := c.me(enrolled.AccessToken); !me.MfaEnabled || me.RecoveryCodesRemaining != 10 || len(me.Factors) != 1 ||
		me.Factors[0].Type != "TOTP" || !me.Factors[0].Confirmed {
		t.Fatalf("the stored factors: %+v", me)
	}

	// New recovery codes, after a confirmation step: the old ones replaced.
	first := v.Codes
	browserRun(b, "ask for new codes", acctClick("#recovery-done"))
	browserRun(b, "ask for new codes", acctClick("#recovery-regenerate"))
	if v = amcRead(b); v.Active != "recovery-confirm-text" || len(v.Codes) != 0 {
		t.Fatalf("the confirmation step of new codes: %+v", v)
	}
	v = c.act("recovery-status", "generate new codes", "#recovery-confirm-yes")
	if len(v.Codes) != amcRecoveryCodeLen || slices.Equal(v.Codes, first) || v.Active != "recovery-codes-title" {
		t.Fatalf("after generating new codes: %+v (first %v)", v, first)
	}
	codes := v.Codes
	consoleScreenshot(b, "account-mfa-codes.png", "recovery-title")
	consoleCheckA11y(b, "the recovery codes")

	// A password sign-in: the code step, a wrong code, then the right one. The clock
	// moves to the next time step: a code of the step just used does not work twice.
	c.signOut()
	sent = len(b.graphqlRequests())
	v = c.passwordSignIn(email, strongPassword)
	if !v.MFA || v.Account || v.Active != "mfa-title" || v.MFAPasskey || v.RecoveryField {
		t.Fatalf("after the password: %+v", v)
	}
	var login struct {
		Data struct{ Login amcAuth }
	}
	c.response(sent, acctLoginOp, &login)
	if !login.Data.Login.MfaRequired || login.Data.Login.Aal != "aal1" {
		t.Fatalf("the login answered %+v", login.Data.Login)
	}
	e.clock.Advance(time.Minute)
	acctFill(b, "mfa-code", "000000")
	if code, _ = mfa.TOTPCode(secret, e.clock.Now()); code == "000000" {
		acctFill(b, "mfa-code", "999999")
	}
	v = c.act("mfa-status", "verify a wrong code", "#mfa-submit")
	if v.Status["mfa-status"] != (acctStatus{"error", amcWrongCodeEN}) || v.Active != "mfa-code" || v.Account {
		t.Fatalf("after a wrong code: %+v", v)
	}
	consoleScreenshot(b, "account-mfa-verify.png", "")
	consoleCheckA11y(b, "the verification step")
	// The keyboard only: the code typed, then Enter.
	sent = len(b.graphqlRequests())
	acctFill(b, "mfa-code", code+"\r")
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden && document.querySelectorAll('#sessions-list > li').length > 0`)
	a := c.authOf(sent, "TokTokConsoleVerifyMfa", "verifyMfa", false)
	c.checkLevel("a password and a TOTP code", a.AccessToken, "aal2", "pwd", "otp")
	if av := acctRead(b); av.Email != email || av.Active != "account-title" {
		t.Fatalf("the account after the code: %+v", av)
	}

	// A recovery code instead.
	c.signOut()
	c.passwordSignIn(email, strongPassword)
	browserRun(b, "use a recovery code", acctClick("#mfa-toggle"))
	if v = amcRead(b); !v.RecoveryField || v.Active != "mfa-recovery" {
		t.Fatalf("after choosing a recovery code: %+v", v)
	}
	sent = len(b.graphqlRequests())
	acctFill(b, "mfa-recovery", codes[3])
	browserRun(b, "verify the recovery code", acctClick("#mfa-submit"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden`)
	a = c.authOf(sent, "TokTokConsoleVerifyMfa", "verifyMfa", false)
	c.checkLevel("a password and a recovery code", a.AccessToken, "aal2", "pwd", "recovery")
	if me := c.me(a.AccessToken); me.RecoveryCodesRemaining != 9 {
		t.Errorf("recovery codes left after using one: %d, want 9", me.RecoveryCodesRemaining)
	}
	browserWaitFor(b, "the codes left", `document.getElementById('recovery-remaining').textContent === `+browserJSString(fmt.Sprintf(amcCodesRemaining, 9)))
	for _, r := range b.graphqlRequests() {
		if strings.Contains(r.Raw, strongPassword) {
			t.Errorf("the console sent the password in plain text: %s", r.Raw)
		}
	}
	b.checkPageClean()
}

// TestAccountConsoleMFAPasskeySecondFactor: after a password, a passkey verifies the
// second factor; then removing it, after a confirmation step, turns MFA off.
func TestAccountConsoleMFAPasskeySecondFactor(t *testing.T) {
	c := amcStart(t, nil)
	b := c.b
	const email = "sam.second@example.com"
	acctUser(t, c.e, c.sink, email, strongPassword)
	c.open()
	acctSignIn(b, email, strongPassword)
	c.addPasskey("Security key")
	browserRun(b, "close the codes", acctClick("#recovery-done"))

	c.signOut()
	v := c.passwordSignIn(email, strongPassword)
	browserWaitFor(b, "the passkey button", `!document.getElementById('mfa-passkey').hidden`)
	sent := len(b.graphqlRequests())
	browserRun(b, "use the passkey", acctClick("#mfa-passkey"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden && document.querySelectorAll('#factors-list > li').length > 0`)
	a := c.authOf(sent, "TokTokConsoleVerifyMfa", "verifyMfa", false)
	c.checkLevel("a password and a passkey", a.AccessToken, "aal2", "pwd", "webauthn")
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Contains(ops, "TokTokConsoleBeginMfa") {
		t.Errorf("the console sent %v, want beginMfaChallenge first", ops)
	}

	// Remove it: a confirmation step, then MFA is off.
	v = amcRead(b)
	browserRun(b, "remove the passkey", acctClick(`#factors-list > li[data-factor="`+v.Factors[0].ID+`"] button`))
	v = amcRead(b)
	if !strings.HasPrefix(v.RemoveText, "Remove Security key? It is your last second factor") || v.Active != "factor-remove-text" {
		t.Fatalf("the removal's confirmation step: %+v", v)
	}
	browserRun(b, "cancel", acctClick("#factor-remove-no"))
	if v = amcRead(b); v.RemoveText != "" || len(v.Factors) != 1 {
		t.Fatalf("after cancelling: %+v", v)
	}
	browserRun(b, "remove the passkey", acctClick(`#factors-list > li button`))
	v = c.act("twofactor-status", "confirm the removal", "#factor-remove-yes")
	if v.Status["twofactor-status"] != (acctStatus{"ok", "Security key was removed."}) || len(v.Factors) != 0 ||
		v.State != "Two-factor authentication is off." || v.Active != "twofactor-title" {
		t.Fatalf("after removing the passkey: %+v", v)
	}
	if me := c.me(a.AccessToken); me.MfaEnabled || len(me.Factors) != 0 || me.RecoveryCodesRemaining != 0 {
		t.Fatalf("the stored factors after the removal: %+v", me)
	}
	b.checkPageClean()
}

// TestAccountConsoleMFAClonedPasskey: a passkey whose signature counter went back below
// what the server saw (a copied authenticator) is refused with a message, and the server
// records a webauthn_clone audit event.
func TestAccountConsoleMFAClonedPasskey(t *testing.T) {
	c := amcStart(t, nil)
	b, e := c.b, c.e
	const email = "cleo.clone@example.com"
	acctUser(t, e, c.sink, email, strongPassword)
	c.open()
	acctSignIn(b, email, strongPassword)
	c.addPasskey("")
	browserRun(b, "close the codes", acctClick("#recovery-done"))
	c.signOut()
	c.passkeySignIn("") // the counter moves on
	c.signOut()

	// The same key with its counter set back: what a copy of it would send.
	creds := c.credentials()
	if len(creds) != 1 || creds[0].SignCount < 1 {
		t.Fatalf("the authenticator holds %+v, want one credential that signed", creds)
	}
	// (Sent as raw JSON: cdproto's Credential always sends generateCmtgKeyOnNextOperation,
	// which Chromium refuses for an authenticator without CMTG.)
	orig := creds[0]
	clone := map[string]any{
		"credentialId": orig.CredentialID, "isResidentCredential": orig.IsResidentCredential, "rpId": orig.RpID,
		"privateKey": orig.PrivateKey, "userHandle": orig.UserHandle, "signCount": 0,
	}
	browserRun(b, "set the counter back", chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, webauthn.RemoveCredential, webauthn.RemoveCredentialParams{AuthenticatorID: c.auth, CredentialID: orig.CredentialID}); err != nil {
			return err
		}
		return tgt.Call(ctx, webauthn.CommandAddCredential, map[string]any{"authenticatorId": c.auth, "credential": clone}, nil)
	}))
	if creds = c.credentials(); len(creds) != 1 || creds[0].SignCount != 0 {
		t.Fatalf("the authenticator holds %+v after setting the counter back", creds)
	}
	browserEval[chromedp.Void](b, "empty the email", `document.getElementById('signin-email').value = ''`)
	sent := len(b.graphqlRequests())
	v := c.act("signin-status", "sign in with the cloned passkey", "#signin-passkey")
	if v.Status["signin-status"] != (acctStatus{"error", amcPasskeyRefused}) || v.Account || !v.SignIn {
		t.Fatalf("after a cloned passkey: %+v", v)
	}
	var res struct{ Errors []gqlError }
	c.response(sent, "TokTokConsoleFinishPasskeyLogin", &res)
	if len(res.Errors) == 0 || res.Errors[0].Code() != "INVALID_CREDENTIALS" {
		t.Fatalf("finishPasskeyLogin with the clone answered %+v, want INVALID_CREDENTIALS", res.Errors)
	}
	u := browserUser(t, e, email)
	events, err := e.app.Support().Audit(t.Context(), u.ID, 50)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(events, func(ev store.AuditEvent) bool { return ev.Type == "webauthn_clone" && ev.Outcome == "failure" }) {
		var types []string
		for _, ev := range events {
			types = append(types, ev.Type+"/"+ev.Outcome)
		}
		t.Fatalf("no webauthn_clone audit event; the user's events: %v", types)
	}
	b.checkPageClean()
}

// TestAccountConsoleMFARequired: a role that requires a second factor shows, at sign-in,
// the two-factor section with why instead of an error; once a factor is enrolled
// elsewhere, the console's own session (aal1) is asked to verify it instead of failing,
// and goes on after the code.
func TestAccountConsoleMFARequired(t *testing.T) {
	c := amcStart(t, func(cfg *config.Config) { cfg.MFA.RequiredRoles = []string{"USER"} })
	b, e := c.b, c.e
	const email = "rita.required@example.com"
	acctUser(t, e, c.sink, email, strongPassword)
	c.open()
	acctFill(b, "signin-email", email, "signin-password", strongPassword)
	browserRun(b, "sign in", acctClick("#signin-submit"))
	browserWaitFor(b, "the enrolment message", `document.getElementById('twofactor-status').getAttribute('data-state') === 'error'`)
	v := amcRead(b)
	if !v.Account || v.Status["twofactor-status"] != (acctStatus{"error", amcEnrollNeededEN}) || v.Active != "twofactor-title" {
		t.Fatalf("a role that requires a second factor: %+v", v)
	}

	// A factor enrolled from another session: this one, at aal1, must verify it.
	other := acctLoginAs(e, email, strongPassword, acctOtherAgent)
	var en struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(other.AccessToken, `mutation { enrollTotp { factorId secret } }`, nil), &en)
	code, err := mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	e.mustData(e.gql(other.AccessToken, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { factor { id } } }`,
		map[string]any{"id": en.EnrollTotp.FactorID, "code": code}), &struct{}{})
	browserRun(b, "refresh the sessions", acctClick("#sessions-reload"))
	browserWaitFor(b, "the verification step", `!document.getElementById('mfa-view').hidden`)
	if v = amcRead(b); v.Status["mfa-status"].Text != amcVerifyFirstEN || v.Active != "mfa-title" || v.Account {
		t.Fatalf("an aal1 session of a user with a factor: %+v", v)
	}
	e.clock.Advance(time.Minute)
	if code, err = mfa.TOTPCode(en.EnrollTotp.Secret, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	acctFill(b, "mfa-code", code)
	browserRun(b, "verify the code", acctClick("#mfa-submit"))
	browserWaitFor(b, "the account view", `!document.getElementById('account-view').hidden && document.querySelectorAll('#factors-list > li').length > 0`)
	v = c.act("sessions-status", "refresh the sessions", "#sessions-reload")
	if v.Status["sessions-status"].State != "ok" || !v.Account || v.State != "Two-factor authentication is on." {
		t.Fatalf("after verifying: %+v", v)
	}
	b.checkPageClean()
}
