package e2e

// Browser tests of the hosted pages that email links land on, /confirm-email and
// /reset-password (web/pages.go, web/pages/*): a real headless Chromium, driven with
// chromedp through the helpers of e2e_browser_test.go, against the real server of the
// end-to-end harness with its defaults (--salt=yes, --anojwt=yes), with the mails read
// from a real SMTP server (mailsink_test.go).
//
// The links in the mails point at the public URL (http://localhost:4100 in tests), which
// is not the test server: the tests check the link's path and fragment, then open the
// same path, query and fragment on the test server.
//
// What they prove: opening a link never consumes its token (the confirm page posts it
// only when its button is clicked, the reset page only when its form is submitted); the
// confirm page confirms, once; the reset page resets, once, encrypting the new password
// under the published key (in either --salt-alg scheme: a JWE for ecdh-es, the default,
// an RSA-OAEP ciphertext for rsa-oaep-256) and sending an anonymous token, shows the policy's reasons,
// checks the confirmation field without asking the server, and a refused password does
// not burn the link; the confirm page also applies an email change (or says the address
// was taken); a link without a token sends nothing; the pages speak French (?lang=fr or
// Accept-Language); and their strict Content-Security-Policy blocks nothing that they do, and no script throws.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
)

// The pages' text that the tests expect (web/pages_text.go), English unless named.
const (
	pagesConfirmTitleEN    = "Confirm your email address"
	pagesConfirmTitleFR    = "Confirmez votre adresse e-mail"
	pagesConfirmButtonFR   = "Confirmer mon adresse e-mail"
	pagesResetTitleEN      = "Choose a new password"
	pagesInvalidTokenEN    = "This link is invalid or has expired. Request a new one from the app."
	pagesMissingTokenEN    = "This link is incomplete. Open it again from the email, or copy its whole address into your browser."
	pagesMissingTokenFR    = "Ce lien est incomplet."
	pagesWeakPasswordEN    = "This password cannot be used:"
	pagesMismatchEN        = "The two passwords differ: type the same password twice."
	pagesResetDoneEN       = "Your password was changed. Sign in with your new password in the app."
	pagesReasonTooShortEN  = "It is too short: use at least 12 characters."
	pagesReasonCommonEN    = "It is one of the most common passwords."
	pagesLengthHintPrefix  = "Use 12 to 256 characters."
	pagesConfirmOp         = "TokTokPageConfirmEmail"
	pagesResetOp           = "TokTokPageResetPassword"
	pagesAuthConfigOp      = "TokTokPageAuthConfig"
	pagesAnonymousTokenOp  = "TokTokPageAnonymousToken"
	pagesConfirmedFRFormat = "Votre adresse e-mail %s est confirmée."
)

// pagesView is what a page shows, as the tests read it.
type pagesView struct {
	Ready          bool   `json:"ready"`
	Lang           string `json:"lang"`
	Title          string `json:"title"`
	State          string `json:"state"` // #status's data-state: "", "busy", "success" or "error"
	Text           string `json:"text"`  // #status's text
	Button         bool   `json:"button"`
	ButtonText     string `json:"buttonText"`
	ButtonDisabled bool   `json:"buttonDisabled"`
	Form           bool   `json:"form"`
	Hint           string `json:"hint"`
	ReasonsHidden  bool   `json:"reasonsHidden"`
	Reasons        []struct {
		Code string `json:"code"`
		Text string `json:"text"`
	} `json:"reasons"`
	LangSwitch      string `json:"langSwitch"`
	Search          string `json:"search"`
	Hash            string `json:"hash"`
	PasswordInvalid bool   `json:"passwordInvalid"`
	ConfirmInvalid  bool   `json:"confirmInvalid"`
}

const pagesViewJS = `(() => {
  const $ = (id) => document.getElementById(id);
  const s = $('status'), r = $('reasons'), btn = $('confirm-button'), h1 = document.querySelector('h1');
  const pw = $('password'), pc = $('password-confirm'), sw = $('lang-switch'), hint = $('password-hint');
  return {
    ready: !!document.body && document.body.getAttribute('data-ready') === 'true',
    lang: document.documentElement.getAttribute('lang') || '',
    title: h1 ? h1.textContent : '',
    state: s ? (s.getAttribute('data-state') || '') : '',
    text: s ? s.textContent : '',
    button: !!btn,
    buttonText: btn ? btn.textContent : '',
    buttonDisabled: !!(btn && btn.disabled),
    form: !!$('reset-form'),
    hint: hint ? hint.textContent : '',
    reasonsHidden: r ? r.hidden : true,
    reasons: r ? [...r.querySelectorAll('li[data-reason]')].map((li) => ({ code: li.getAttribute('data-reason'), text: li.textContent })) : [],
    langSwitch: sw ? (sw.getAttribute('href') || '') : '',
    search: location.search,
    hash: location.hash,
    passwordInvalid: !!(pw && pw.getAttribute('aria-invalid') === 'true'),
    confirmInvalid: !!(pc && pc.getAttribute('aria-invalid') === 'true'),
  };
})()`

// pagesRead returns what the page shows now.
func pagesRead(b *browserSession) pagesView {
	b.t.Helper()
	return browserEval[pagesView](b, "read the page", pagesViewJS)
}

// pagesCheckDocClean fails the test if the current document's CSP blocked anything
// (browserCSPRecorder starts afresh in every document, so call it before leaving one).
func pagesCheckDocClean(b *browserSession) {
	b.t.Helper()
	v := browserEval[[]browserCSPViolation](b, "read the CSP violations", `window.__browserCSPViolations || []`)
	if len(v) > 0 {
		b.t.Errorf("the page's Content-Security-Policy blocked something: %+v", v)
	}
}

// pagesOpen checks the document it leaves, then opens rawURL afresh (through
// about:blank, so that opening the same URL again loads the page again instead of
// only moving to its fragment), checks the response's headers, and waits until the
// page's script has started (body[data-ready="true"]).
func pagesOpen(b *browserSession, rawURL string) pagesView {
	b.t.Helper()
	pagesCheckDocClean(b)
	browserRun(b, "leave the page", chromedp.Navigate("about:blank"))
	resp := browserRun(b, "open "+rawURL, chromedp.NavigateResponse(rawURL))
	if resp.Status != http.StatusOK {
		b.t.Fatalf("GET %s: HTTP %d", rawURL, resp.Status)
	}
	hdr := map[string]string{}
	for k, v := range resp.Headers {
		if s, ok := v.(string); ok {
			hdr[strings.ToLower(k)] = s
		}
	}
	csp := hdr["content-security-policy"]
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			b.t.Errorf("GET %s: Content-Security-Policy %q lacks %q", rawURL, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-") {
		b.t.Errorf("GET %s: Content-Security-Policy %q allows something unsafe", rawURL, csp)
	}
	if hdr["cache-control"] != "no-store" || hdr["referrer-policy"] != "no-referrer" {
		b.t.Errorf("GET %s: Cache-Control %q, Referrer-Policy %q; want no-store and no-referrer", rawURL, hdr["cache-control"], hdr["referrer-policy"])
	}
	browserWaitFor(b, "the page's script to start", `document.body && document.body.getAttribute('data-ready') === 'true'`)
	return pagesRead(b)
}

// pagesAct clears #status (so that a repeated outcome is told from the previous one),
// clicks sel, and waits until #status shows an outcome and nothing is in flight.
func pagesAct(b *browserSession, what string, sel chromedp.ID) pagesView {
	b.t.Helper()
	browserEval[chromedp.Void](b, "clear #status", `(() => {
  const s = document.getElementById('status');
  s.removeAttribute('data-state');
  s.textContent = '';
})()`)
	browserRun(b, what, chromedp.Click(sel))
	browserWaitFor(b, "the outcome of: "+what, `(() => {
  const st = document.getElementById('status').getAttribute('data-state');
  const busy = [...document.querySelectorAll('[aria-busy="true"]')].length > 0;
  return (st === 'success' || st === 'error') && !busy;
})()`)
	return pagesRead(b)
}

// pagesType replaces the value of the input with the given id by typing value; a
// trailing "\r" presses Enter once the rest is typed and checked.
func pagesType(b *browserSession, id, value string) {
	b.t.Helper()
	value, enter := strings.CutSuffix(value, "\r")
	// (chromedp.SetValue cannot set "": it passes the empty string as undefined.)
	browserEval[chromedp.Void](b, "empty #"+id, `document.getElementById(`+browserJSString(id)+`).value = ''`)
	browserRun(b, "type into #"+id, chromedp.SendKeys(chromedp.ID(id), value))
	if got := browserRun(b, "read #"+id, chromedp.Value(chromedp.ID(id))); got != value {
		b.t.Fatalf("#%s holds %q after typing %q", id, got, value)
	}
	if enter {
		browserRun(b, "press Enter in #"+id, chromedp.SendKeys(chromedp.ID(id), "\r"))
	}
}

// pagesSubmitReset types password and confirmation into the reset form and submits it.
func pagesSubmitReset(b *browserSession, password, confirmation string) pagesView {
	b.t.Helper()
	pagesType(b, "password", password)
	pagesType(b, "password-confirm", confirmation)
	return pagesAct(b, "submit the reset form", chromedp.ID("submit"))
}

var pagesOpPattern = regexp.MustCompile(`^\s*(?:query|mutation)\s+(\w+)`)

// pagesOpName names a request by its operation (the pages send no operationName).
func pagesOpName(r browserRequest) string {
	if r.Body.OperationName != "" {
		return r.Body.OperationName
	}
	if m := pagesOpPattern.FindStringSubmatch(r.Body.Query); m != nil {
		return m[1]
	}
	return strings.Join(strings.Fields(r.Body.Query), " ")
}

// pagesSentSince returns the POSTs to /graphql that the tab sent after the first n.
func pagesSentSince(b *browserSession, n int) []browserRequest {
	b.t.Helper()
	reqs := b.graphqlRequests()
	if n > len(reqs) {
		n = len(reqs)
	}
	return reqs[n:]
}

// pagesOps lists the operation names of reqs.
func pagesOps(reqs []browserRequest) []string {
	var ops []string
	for _, r := range reqs {
		ops = append(ops, pagesOpName(r))
	}
	return ops
}

// pagesLinkURL checks a mail's link (the public URL's host, the page's path, the token
// in the fragment) and returns the token and the same link on the test server.
func pagesLinkURL(t *testing.T, e *testEnv, m sinkMail, path string) (token, pageURL string) {
	t.Helper()
	token = m.Token()
	if token == "" {
		t.Fatalf("mail %q has no token:\n%s", m.Subject, m.Text)
	}
	u, err := url.Parse(m.Link())
	if err != nil {
		t.Fatalf("mail %q: link %q: %v", m.Subject, m.Link(), err)
	}
	if base := u.Scheme + "://" + u.Host; base != e.app.Support().PublicURL() {
		t.Errorf("mail %q: link %q is not on the public URL %s", m.Subject, m.Link(), e.app.Support().PublicURL())
	}
	if u.Path != path {
		t.Fatalf("mail %q: link %q has path %q, want %q", m.Subject, m.Link(), u.Path, path)
	}
	if u.Fragment != "token="+token || u.Query().Has("token") {
		t.Fatalf("mail %q: link %q: want the token %q in the fragment only", m.Subject, m.Link(), token)
	}
	return token, e.srv.URL + u.RequestURI() + "#" + u.EscapedFragment()
}

// pagesStartEnv starts the harness's server, with both security defaults, its mail
// going to a new sink.
func pagesStartEnv(t *testing.T) (*testEnv, *mailSink) {
	t.Helper()
	return pagesStartEnvWith(t, nil)
}

// pagesStartEnvWith is pagesStartEnv with the configuration changed by edit (may be nil).
func pagesStartEnvWith(t *testing.T, edit func(*config.Config)) (*testEnv, *mailSink) {
	t.Helper()
	sink := startMailSink(t)
	e := newTestEnv(t, func(c *config.Config) {
		sink.Configure(c)
		if edit != nil {
			edit(c)
		}
	})
	if !e.cfg.Credentials.Encrypt || !e.cfg.Account.AnonJWT {
		t.Fatalf("the pages must be tested with both defaults on: --salt=%v --anojwt=%v", e.cfg.Credentials.Encrypt, e.cfg.Account.AnonJWT)
	}
	return e, sink
}

// TestPagesConfirmEmail: opening the confirmation link confirms nothing and sends
// nothing; the button confirms, once; a tampered token is refused; the page speaks
// French, and takes a token from the query (dropping it from the address bar).
func TestPagesConfirmEmail(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e, sink := pagesStartEnv(t)

	const email = "confirm.page@example.com"
	e.register(email, strongPassword)
	token, link := pagesLinkURL(t, e, sink.NextTo(email), "/confirm-email")

	// 1. Opening the link: the page is ready, and nothing was sent or consumed.
	sent := len(b.graphqlRequests())
	v := pagesOpen(b, link)
	if v.Lang != "en" || v.Title != pagesConfirmTitleEN || !v.Button || v.ButtonDisabled || v.State != "" {
		t.Fatalf("the confirm page as opened: %+v", v)
	}
	if want := "?lang=fr#token=" + token; v.LangSwitch != want {
		t.Errorf("#lang-switch href = %q, want %q (the same page in French, token in the fragment)", v.LangSwitch, want)
	}
	if reqs := pagesSentSince(b, sent); len(reqs) != 0 {
		t.Fatalf("opening the confirm page sent %v; want nothing", pagesOps(reqs))
	}
	if browserUser(t, e, email).EmailConfirmed {
		t.Fatal("opening the confirmation link confirmed the address")
	}

	// 2. A tampered token: refused, the button removed, nothing confirmed.
	i := len(token) / 2
	swap := byte('A')
	if token[i] == 'A' {
		swap = 'B'
	}
	tampered := token[:i] + string(swap) + token[i+1:]
	pagesOpen(b, e.srv.URL+"/confirm-email#token="+tampered)
	v = pagesAct(b, "click #confirm-button (tampered token)", chromedp.ID("confirm-button"))
	if v.State != "error" || v.Text != pagesInvalidTokenEN || v.Button {
		t.Fatalf("the confirm page after a tampered token: %+v; want the invalid-link error and no button", v)
	}
	if browserUser(t, e, email).EmailConfirmed {
		t.Fatal("a tampered token confirmed the address")
	}

	// 3. The real link, clicked: confirmed, once, with the token as the mail carries it.
	sent = len(b.graphqlRequests())
	pagesOpen(b, link)
	v = pagesAct(b, "click #confirm-button", chromedp.ID("confirm-button"))
	if v.State != "success" || !strings.Contains(v.Text, email) || v.Button {
		t.Fatalf("the confirm page after the click: %+v; want success naming %s, no button", v, email)
	}
	if !browserUser(t, e, email).EmailConfirmed {
		t.Fatal("the page says confirmed, the store says not")
	}
	reqs := pagesSentSince(b, sent)
	if ops := pagesOps(reqs); !slices.Equal(ops, []string{pagesConfirmOp}) {
		t.Fatalf("the click sent %v; want one %s", ops, pagesConfirmOp)
	}
	if string(reqs[0].Body.Variables) != `{"t":"`+token+`"}` || reqs[0].Authorization != "" {
		t.Errorf("%s went with variables %s and Authorization %q; want the link's token and no bearer",
			pagesConfirmOp, reqs[0].Body.Variables, reqs[0].Authorization)
	}

	// 4. The same link again: opening is harmless, clicking says the link is used.
	v = pagesOpen(b, link)
	if v.State != "" || !v.Button {
		t.Fatalf("the used link, as opened: %+v; want the button and no outcome before a click", v)
	}
	v = pagesAct(b, "click #confirm-button (used link)", chromedp.ID("confirm-button"))
	if v.State != "error" || v.Text != pagesInvalidTokenEN || v.Button {
		t.Fatalf("the used link, clicked: %+v; want the invalid-link error and no button", v)
	}

	// 5. French, with the token in the query as a front end may send it.
	const frEmail = "marie.page@example.com"
	var reg struct{ Register authPayload }
	e.mustData(e.registerReq(frEmail, strongPassword, map[string]any{"lang": "fr"}), &reg)
	frMail := sink.NextTo(frEmail)
	frToken, frLink := pagesLinkURL(t, e, frMail, "/confirm-email")
	if u, err := url.Parse(frLink); err != nil || u.Query().Get("lang") != "fr" {
		t.Errorf("the French user's link %q does not ask for ?lang=fr (%v)", frMail.Link(), err)
	}
	v = pagesOpen(b, e.srv.URL+"/confirm-email?lang=fr&token="+url.QueryEscape(frToken))
	if v.Lang != "fr" || v.Title != pagesConfirmTitleFR || v.ButtonText != pagesConfirmButtonFR || v.State != "" {
		t.Fatalf("the confirm page with ?lang=fr: %+v; want it in French", v)
	}
	if v.Search != "?lang=fr" {
		t.Errorf("after opening ?lang=fr&token=..., location.search = %q; want the token dropped from the address bar", v.Search)
	}
	if want := "?lang=en#token=" + frToken; v.LangSwitch != want {
		t.Errorf("#lang-switch href = %q, want %q", v.LangSwitch, want)
	}
	if browserUser(t, e, frEmail).EmailConfirmed {
		t.Fatal("opening the French page confirmed the address")
	}
	v = pagesAct(b, "click #confirm-button (French)", chromedp.ID("confirm-button"))
	if want := strings.Replace(pagesConfirmedFRFormat, "%s", frEmail, 1); v.State != "success" || v.Text != want {
		t.Fatalf("the French page after the click: %+v; want success %q", v, want)
	}
	if !browserUser(t, e, frEmail).EmailConfirmed {
		t.Fatal("the French page says confirmed, the store says not")
	}

	b.checkPageClean()
}

// TestPagesResetPassword: with --salt=yes and --anojwt=yes, for each --salt-alg, opening
// the reset link consumes nothing; a short password is refused by the page, a common one
// by the server (with its reasons) without burning the link; differing fields are caught
// without a request; a strong password resets, encrypted in the published scheme, ending
// the user's sessions; the link then is used.
func TestPagesResetPassword(t *testing.T) {
	for _, alg := range browserSaltAlgs {
		t.Run(alg, func(t *testing.T) { pagesResetPassword(t, alg) })
	}
}

func pagesResetPassword(t *testing.T, alg string) {
	b := browserStart(t)
	e, sink := pagesStartEnvWith(t, func(c *config.Config) { c.Credentials.Alg = alg })
	box := browserCredentialBox(t, e)

	const (
		email       = "reset.page@example.com"
		newPassword = "violet lantern over quiet harbours"
		again       = "another fresh pass phrase 42"
	)
	reg := e.register(email, strongPassword)
	sink.NextTo(email) // the confirmation mail
	login := e.login(email, strongPassword)
	before := browserUser(t, e, email)

	var forgot struct{ ForgotPassword bool }
	e.mustData(e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc(email)}), &forgot)
	if !forgot.ForgotPassword {
		t.Fatal("forgotPassword answered false")
	}
	token, link := pagesLinkURL(t, e, sink.NextTo(email), "/reset-password")

	// 1. Opening the link reads the public authConfig, and nothing else.
	sent := len(b.graphqlRequests())
	v := pagesOpen(b, link)
	if v.Lang != "en" || v.Title != pagesResetTitleEN || !v.Form || v.State != "" {
		t.Fatalf("the reset page as opened: %+v", v)
	}
	browserWaitFor(b, "the length hint from authConfig",
		`document.getElementById('password-hint').textContent.startsWith(`+browserJSString(pagesLengthHintPrefix)+`)`)
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Equal(ops, []string{pagesAuthConfigOp}) {
		t.Fatalf("opening the reset page sent %v; want %s only", ops, pagesAuthConfigOp)
	}

	// 2. Too short: the page refuses it itself, with its reason, and sends nothing.
	sent = len(b.graphqlRequests())
	v = pagesSubmitReset(b, "password123", "password123")
	if v.State != "error" || v.Text != pagesWeakPasswordEN || v.ReasonsHidden || len(v.Reasons) != 1 ||
		v.Reasons[0].Code != "too_short" || v.Reasons[0].Text != pagesReasonTooShortEN || !v.Form || !v.PasswordInvalid {
		t.Fatalf("the reset page after a short password: %+v; want the too_short reason", v)
	}
	if reqs := pagesSentSince(b, sent); len(reqs) != 0 {
		t.Fatalf("a password shorter than authConfig's minimum was sent: %v", pagesOps(reqs))
	}

	// 3. Common: the server refuses it with its reasons; the link stays usable.
	sent = len(b.graphqlRequests())
	v = pagesSubmitReset(b, "password1234", "password1234")
	if v.State != "error" || v.Text != pagesWeakPasswordEN || v.ReasonsHidden || len(v.Reasons) == 0 || !v.Form {
		t.Fatalf("the reset page after a common password: %+v; want the server's reasons", v)
	}
	var codes []string
	for _, r := range v.Reasons {
		codes = append(codes, r.Code)
		if r.Code == "common" && r.Text != pagesReasonCommonEN {
			t.Errorf("reason common reads %q, want %q", r.Text, pagesReasonCommonEN)
		}
	}
	if !slices.Contains(codes, "common") {
		t.Errorf("the listed reasons are %v; want common among them", codes)
	}
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Contains(ops, pagesResetOp) {
		t.Fatalf("submitting a common password sent %v; want %s (the server judges it)", ops, pagesResetOp)
	}
	if u := browserUser(t, e, email); u.PasswordHash != before.PasswordHash {
		t.Fatal("a refused password changed the stored password")
	}

	// 4. The two fields differ: caught by the page, nothing sent.
	sent = len(b.graphqlRequests())
	v = pagesSubmitReset(b, newPassword, newPassword+"!")
	if v.State != "error" || v.Text != pagesMismatchEN || !v.ConfirmInvalid || len(v.Reasons) != 0 || !v.Form {
		t.Fatalf("the reset page after differing fields: %+v; want the mismatch error", v)
	}
	if reqs := pagesSentSince(b, sent); len(reqs) != 0 {
		t.Fatalf("differing fields were sent: %v", pagesOps(reqs))
	}

	// 5. A strong password, twice: reset, the form gone.
	sent = len(b.graphqlRequests())
	v = pagesSubmitReset(b, newPassword, newPassword)
	if v.State != "success" || v.Text != pagesResetDoneEN || v.Form || len(v.Reasons) != 0 {
		t.Fatalf("the reset page after a strong password: %+v; want success and no form", v)
	}

	// What went over the wire: the token, the password encrypted under the published
	// key, an anonymous token; never a typed password in plain text.
	var resets []browserRequest
	all := b.graphqlRequests()
	for _, r := range all {
		for _, typed := range []string{"password123", "password1234", newPassword} {
			if strings.Contains(r.Raw, typed) {
				t.Errorf("the page sent a password in plain text: %s", r.Raw)
			}
		}
		if pagesOpName(r) == pagesResetOp {
			resets = append(resets, r)
		}
	}
	if len(resets) != 2 {
		t.Fatalf("the page sent %d %s, want 2 (the common password, then the strong one); all: %v", len(resets), pagesResetOp, pagesOps(all))
	}
	for i, want := range []string{"password1234", newPassword} {
		var vars struct{ T, P string }
		if err := json.Unmarshal(resets[i].Body.Variables, &vars); err != nil {
			t.Fatalf("%s variables %s: %v", pagesResetOp, resets[i].Body.Variables, err)
		}
		if vars.T != token {
			t.Errorf("%s #%d sent token %q, want the link's %q", pagesResetOp, i+1, vars.T, token)
		}
		browserCheckCiphertext(t, box, fmt.Sprintf("%s #%d sent newPassword (%q typed)", pagesResetOp, i+1, want), vars.P, want)
		if !strings.HasPrefix(resets[i].Authorization, "Bearer ") {
			t.Errorf("%s #%d went with Authorization %q; want the anonymous token (authConfig.anonymousTokenRequired)", pagesResetOp, i+1, resets[i].Authorization)
		}
	}
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Contains(ops, pagesResetOp) || slices.Contains(ops, pagesAuthConfigOp) {
		t.Errorf("the strong password's submit sent %v", ops)
	}

	// Over HTTP: the new password signs in, the old one not; the sessions that existed
	// before the reset are ended; the reset proved the mailbox; a notice was mailed.
	e.login(email, newPassword)
	e.wantCode(e.loginReq(email, strongPassword), "INVALID_CREDENTIALS")
	e.wantCode(e.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")
	e.wantCode(e.refreshReq(login.RefreshToken), "INVALID_REFRESH_TOKEN")
	if !browserUser(t, e, email).EmailConfirmed {
		t.Error("a reset through the mailed link left the address unconfirmed")
	}
	if notice := sink.NextTo(email); notice.Token() != "" {
		t.Errorf("the password-changed notice %q carries a token", notice.Subject)
	}

	// 6. The same link again: opening is harmless, submitting says the link is used.
	v = pagesOpen(b, link)
	if v.State != "" || !v.Form {
		t.Fatalf("the used reset link, as opened: %+v; want the form", v)
	}
	browserWaitFor(b, "the length hint from authConfig",
		`document.getElementById('password-hint').textContent.startsWith(`+browserJSString(pagesLengthHintPrefix)+`)`)
	v = pagesSubmitReset(b, again, again)
	if v.State != "error" || v.Text != pagesInvalidTokenEN || v.Form {
		t.Fatalf("the used reset link, submitted: %+v; want the invalid-link error and no form", v)
	}
	e.login(email, newPassword) // unchanged
	e.wantCode(e.loginReq(email, again), "INVALID_CREDENTIALS")

	b.checkPageClean()
}

// TestPagesMissingToken: a link without a token says so and sends nothing.
func TestPagesMissingToken(t *testing.T) {
	b := browserStart(t)
	e, sink := pagesStartEnv(t)

	const email = "no.token@example.com"
	e.register(email, strongPassword)
	sink.NextTo(email)
	before := browserUser(t, e, email)

	sent := len(b.graphqlRequests())
	for _, tc := range []struct {
		path, want string
		lang       string
	}{
		{"/confirm-email", pagesMissingTokenEN, "en"},
		{"/confirm-email#token=", pagesMissingTokenEN, "en"},
		{"/confirm-email?token=%20#other=1", pagesMissingTokenEN, "en"},
		{"/confirm-email?lang=fr", pagesMissingTokenFR, "fr"},
		{"/reset-password", pagesMissingTokenEN, "en"},
		{"/reset-password#token=", pagesMissingTokenEN, "en"},
		{"/reset-password?lang=fr", pagesMissingTokenFR, "fr"},
	} {
		v := pagesOpen(b, e.srv.URL+tc.path)
		if v.Lang != tc.lang || v.State != "error" || !strings.HasPrefix(v.Text, tc.want) || v.Button || v.Form {
			t.Errorf("%s: %+v; want the missing-token error in %s, no button, no form", tc.path, v, tc.lang)
		}
	}
	// A browser that prefers French gets the pages in French, unless ?lang= says otherwise.
	browserRun(b, "prefer French", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"},
		})
		return err
	}))
	if v := pagesOpen(b, e.srv.URL+"/reset-password"); v.Lang != "fr" || !strings.HasPrefix(v.Text, pagesMissingTokenFR) {
		t.Errorf("/reset-password with Accept-Language fr-CA: %+v; want it in French", v)
	}
	if v := pagesOpen(b, e.srv.URL+"/confirm-email?lang=en"); v.Lang != "en" || v.Text != pagesMissingTokenEN {
		t.Errorf("/confirm-email?lang=en with Accept-Language fr-CA: %+v; want it in English", v)
	}
	if reqs := pagesSentSince(b, sent); len(reqs) != 0 {
		t.Errorf("pages without a token sent %v; want nothing", pagesOps(reqs))
	}

	after := browserUser(t, e, email)
	if after.EmailConfirmed || after.PasswordHash != before.PasswordHash || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Errorf("the user changed: before %+v, after %+v", before, after)
	}

	b.checkPageClean()
}

// TestPagesCSP: both pages do all their work (scripts, style sheet, GraphQL requests,
// WebCrypto) under their Content-Security-Policy without a violation or an uncaught
// exception; and the recorder does see a violation on these pages, so that the check
// is not vacuous.
func TestPagesCSP(t *testing.T) {
	b := browserStart(t)
	e, _ := pagesStartEnv(t)
	const bogus = "bogus-token-for-the-csp-test"

	pagesOpen(b, e.srv.URL+"/confirm-email#token="+bogus)
	if v := pagesAct(b, "click #confirm-button", chromedp.ID("confirm-button")); v.State != "error" || v.Text != pagesInvalidTokenEN {
		t.Fatalf("confirm page with a bogus token: %+v", v)
	}
	// The style sheet applied (style-src 'self'): the page is not unstyled.
	if font := browserEval[string](b, "read the body's font", `getComputedStyle(document.body).fontFamily`); strings.HasPrefix(font, `"Times New Roman"`) || font == "" {
		t.Errorf("the page's style sheet did not apply: body font-family %q", font)
	}
	pagesCheckDocClean(b)

	pagesOpen(b, e.srv.URL+"/reset-password#token="+bogus)
	browserWaitFor(b, "the length hint from authConfig",
		`document.getElementById('password-hint').textContent.startsWith(`+browserJSString(pagesLengthHintPrefix)+`)`)
	sent := len(b.graphqlRequests())
	if v := pagesSubmitReset(b, strongPassword, strongPassword); v.State != "error" || v.Text != pagesInvalidTokenEN {
		t.Fatalf("reset page with a bogus token: %+v", v)
	}
	if ops := pagesOps(pagesSentSince(b, sent)); !slices.Contains(ops, pagesAnonymousTokenOp) || !slices.Contains(ops, pagesResetOp) {
		t.Errorf("the reset page sent %v; want an anonymous token and %s", ops, pagesResetOp)
	}
	b.checkPageClean()

	// The recorder sees what the policy forbids on these pages.
	browserEval[chromedp.Void](b, "make a request that the CSP forbids", `fetch('http://127.0.0.1:1/pages-csp-probe').catch(() => {})`)
	browserWaitFor(b, "the probe's CSP violation", `window.__browserCSPViolations.length > 0`)
	if v := b.cspViolations(); len(v) != 1 || v[0].Directive != "connect-src" || !strings.Contains(v[0].BlockedURI, "127.0.0.1:1") {
		t.Fatalf("CSP violations after the probe = %+v, want the probe's connect-src only", v)
	}
}

// TestPagesConfirmEmailChange: the confirm page also consumes the link that an email
// change mails to the new address: it shows the new address, or, when another account
// took that address meanwhile, says so. Pasting another link into the tab (only the
// fragment changes) starts the page again with the new token.
func TestPagesConfirmEmailChange(t *testing.T) {
	b := browserStart(t)
	e, sink := pagesStartEnv(t)

	changeEmail := func(p authPayload, newEmail string) {
		t.Helper()
		var resp struct{ ChangeEmail bool }
		e.mustData(e.gql(p.AccessToken, `mutation($e: String!, $p: String!) { changeEmail(newEmail: $e, currentPassword: $p) }`,
			map[string]any{"e": e.enc(newEmail), "p": e.enc(strongPassword)}), &resp)
		if !resp.ChangeEmail {
			t.Fatal("changeEmail answered false")
		}
	}
	// mailTo returns the next mail to addr, keeping those to other addresses for later
	// (the worker sends an email change's link and its notice in either order).
	held := map[string][]sinkMail{}
	mailTo := func(addr string) sinkMail {
		t.Helper()
		// Each turn takes one mail (sink.Next waits a bounded time): a few suffice, as the
		// test queues at most two mails at a time.
		const maxTurns = 5
		for turn := range maxTurns + 1 {
			if q := held[addr]; len(q) > 0 {
				held[addr] = q[1:]
				return q[0]
			}
			if turn == maxTurns {
				break
			}
			m := sink.Next()
			if len(m.To) != 1 {
				t.Fatalf("mail to %v", m.To)
			}
			held[m.To[0]] = append(held[m.To[0]], m)
		}
		t.Fatalf("no mail to %s among the next %d mails (held: %v)", addr, maxTurns, held)
		return sinkMail{}
	}

	// 1. A change of address, confirmed on the page.
	const oldEmail, newEmail = "old.address@example.com", "new.address@example.com"
	ann := e.register(oldEmail, strongPassword)
	mailTo(oldEmail)
	changeEmail(ann, newEmail)
	_, link := pagesLinkURL(t, e, mailTo(newEmail), "/confirm-email")
	v := pagesOpen(b, link)
	if v.State != "" || !v.Button {
		t.Fatalf("the email-change link, as opened: %+v", v)
	}
	if u := browserUser(t, e, oldEmail); u.Email != oldEmail {
		t.Fatalf("opening the email-change link changed the address to %s", u.Email)
	}
	v = pagesAct(b, "click #confirm-button (email change)", chromedp.ID("confirm-button"))
	if v.State != "success" || !strings.Contains(v.Text, newEmail) || v.Button {
		t.Fatalf("the email-change link, clicked: %+v; want success naming %s", v, newEmail)
	}
	if u := browserUser(t, e, newEmail); u.ID != ann.User.ID {
		t.Fatalf("%s belongs to %s, want %s", newEmail, u.ID, ann.User.ID)
	}

	// 2. The new address taken by another account before the link is used.
	const bobEmail, contested = "bob.address@example.com", "contested@example.com"
	bob := e.register(bobEmail, strongPassword)
	mailTo(bobEmail)
	changeEmail(bob, contested)
	bobToken, bobLink := pagesLinkURL(t, e, mailTo(contested), "/confirm-email")
	e.register(contested, strongPassword)
	mailTo(contested) // the new account's confirmation

	// Pasting the link into the tab that shows ann's used one: only the fragment
	// changes, and the page starts again with bob's token.
	if !strings.HasSuffix(bobLink, "#token="+bobToken) {
		t.Fatalf("bob's link %q", bobLink)
	}
	browserEval[chromedp.Void](b, "paste bob's link's fragment", `location.hash = `+browserJSString("#token="+bobToken))
	browserWaitFor(b, "the page to start again with the new token",
		`document.body && document.body.getAttribute('data-ready') === 'true' && !!document.getElementById('confirm-button') && !document.getElementById('status').getAttribute('data-state')`)
	v = pagesAct(b, "click #confirm-button (taken address)", chromedp.ID("confirm-button"))
	if v.State != "error" || v.Text != "This address is already used by another account." || v.Button {
		t.Fatalf("the email-change link to a taken address, clicked: %+v; want the address-taken error, no button", v)
	}
	if u := browserUser(t, e, bobEmail); u.ID != bob.User.ID {
		t.Fatalf("bob's address changed to %s", u.Email)
	}

	b.checkPageClean()
}
