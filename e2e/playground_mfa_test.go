package e2e

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
)

// playgroundWalkthrough returns the walkthrough of toktok-boot.js (the IDE's default
// query) as a page without a dev inbox shows it, so that the test runs its operations as
// a person who picks them in GraphiQL does.
func playgroundWalkthrough(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("../web/playground/toktok-boot.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)const WALKTHROUGH = `(.*?)`;").FindSubmatch(src)
	if m == nil {
		t.Fatal("toktok-boot.js: no WALKTHROUGH template")
	}
	w := strings.ReplaceAll(string(m[1]), "${CONFIRM}", "")
	if strings.Contains(w, "${") || strings.Contains(w, `\`) {
		t.Fatalf("the walkthrough has substitutions or escapes this test does not know:\n%s", w)
	}
	return w
}

// playgroundFetch runs operationName of the walkthrough through the page's fetcher, and
// returns the answer and the Authorization header the fetcher sent with it.
func playgroundFetch(b *browserSession, query string, variables map[string]any, operationName string) (browserGQLResult, string) {
	b.t.Helper()
	res := browserFetch(b, query, variables, operationName)
	reqs := b.graphqlRequests()
	if len(reqs) == 0 {
		b.t.Fatalf("%s: the browser sent nothing", operationName)
	}
	return res, reqs[len(reqs)-1].Authorization
}

// playgroundData decodes field of res into v, failing on errors.
func playgroundData(t *testing.T, res browserGQLResult, field string, v any) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("%s through the fetcher: %+v", field, res.Errors)
	}
	if err := json.Unmarshal(res.Data[field], v); err != nil {
		t.Fatalf("%s data %s: %v", field, res.Data[field], err)
	}
}

// TestBrowserPlaygroundMFA drives the walkthrough's second-factor steps through the
// page's fetcher in a real browser: enrollTotp and confirmTotp (whose auth raises the
// session to aal2: the fetcher keeps its tokens), a new password login (aal1,
// mfaRequired: mySessions answers MFA_REQUIRED), then verifyMfa with a TOTP code and,
// on another login, with a recovery code: the fetcher sends verifyMfa's token next, so
// mySessions answers.
func TestBrowserPlaygroundMFA(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e := browserStartEnv(t, func(c *config.Config) { c.HTTP.PlaygroundCDN = true })
	browserRun(b, "block the CDN", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "https://unpkg.com/*", Block: true}},
		})
		return err
	}))
	browserOpenPlayground(b, e)
	browserWaitFor(b, "the fetcher script", `typeof window.createToktokFetcher === 'function'`)
	browserEval[chromedp.Void](b, "make the fetcher", `(() => {
  window.__browserFetcher = window.createToktokFetcher({ endpoint: document.body.dataset.endpoint || '/graphql' });
})()`)
	walk := playgroundWalkthrough(t)
	scan := scanFor(t)

	const email = "playground.mfa@example.com"
	input := map[string]any{"email": email, "password": strongPassword}
	run := func(op string, vars map[string]any) (browserGQLResult, string) {
		t.Helper()
		vars["input"] = input // the walkthrough's variables stay in the editor
		return playgroundFetch(b, walk, vars, op)
	}
	var reg mfaAuth
	res, _ := run("Register", map[string]any{})
	playgroundData(t, res, "register", &reg)

	// 5. enrollTotp, with the sign-up session.
	var en totpEnrollment
	res, bearer := run("EnrollTotp", map[string]any{})
	playgroundData(t, res, "enrollTotp", &en)
	if bearer != "Bearer "+reg.AccessToken || en.FactorID == "" || en.Secret == "" ||
		!strings.HasPrefix(en.OtpauthURI, "otpauth://totp/") {
		t.Fatalf("enrollTotp sent with %q answered %s", bearer, res.Data["enrollTotp"])
	}
	scan.Secret(en.Secret, "the TOTP secret")

	// 6. confirmTotp with a code of the env's clock: auth is the session at aal2, and the
	// fetcher sends its token next.
	var done mfaEnrolled
	res, _ = run("ConfirmTotp", map[string]any{"factorId": en.FactorID, "code": mfaCodeAt(t, en.Secret, e.clock.Now())})
	playgroundData(t, res, "confirmTotp", &done)
	if len(done.RecoveryCodes) != 10 || done.Auth.Aal != "aal2" || done.Auth.AccessToken == "" ||
		done.Auth.AccessToken == reg.AccessToken {
		t.Fatalf("confirmTotp answered %s", res.Data["confirmTotp"])
	}
	for _, c := range done.RecoveryCodes {
		scan.Secret(c, "a recovery code")
	}
	playgroundSessions(t, b, done.Auth.AccessToken, "")

	// 7. A new password login is aal1 with mfaRequired: mySessions is refused.
	login := playgroundLogin(t, b, walk, input)
	playgroundSessions(t, b, login.AccessToken, "MFA_REQUIRED")
	// verifyMfa with the app's next code (the confirmation's one was used).
	e.clock.Advance(mfa.Period)
	var v mfaAuth
	res, bearer = run("VerifyMfa", map[string]any{"code": mfaCodeAt(t, en.Secret, e.clock.Now())})
	playgroundData(t, res, "verifyMfa", &v)
	if bearer != "Bearer "+login.AccessToken || v.Aal != "aal2" || v.AccessToken == "" || v.AccessToken == login.AccessToken {
		t.Fatalf("verifyMfa sent with %q answered %s; want it sent with login's token", bearer, res.Data["verifyMfa"])
	}
	playgroundSessions(t, b, v.AccessToken, "")

	// The same with a recovery code, as step 7 says (recoveryCode instead of totpCode).
	login = playgroundLogin(t, b, walk, input)
	playgroundSessions(t, b, login.AccessToken, "MFA_REQUIRED")
	recovery := strings.Replace(walk, "verifyMfa(input: {totpCode: $code})", "verifyMfa(input: {recoveryCode: $code})", 1)
	if recovery == walk {
		t.Fatal("the walkthrough has no verifyMfa(input: {totpCode: $code})")
	}
	res, _ = playgroundFetch(b, recovery, map[string]any{"code": done.RecoveryCodes[0], "input": input}, "VerifyMfa")
	playgroundData(t, res, "verifyMfa", &v)
	if v.Aal != "aal2" || v.AccessToken == login.AccessToken {
		t.Fatalf("verifyMfa with a recovery code answered %s", res.Data["verifyMfa"])
	}
	playgroundSessions(t, b, v.AccessToken, "")

	state := browserEval[struct {
		SignedInAs       string
		AccessTokenValid bool
		RefreshToken     bool
	}](b, "read the fetcher's state", `window.__browserFetcher.state()`)
	if state.SignedInAs != email || !state.AccessTokenValid || !state.RefreshToken {
		t.Fatalf("fetcher state after verifyMfa = %+v", state)
	}
	b.checkPageClean()
}

// playgroundLogin runs the walkthrough's Login and checks that it answers an aal1
// session with mfaRequired.
func playgroundLogin(t *testing.T, b *browserSession, walk string, input map[string]any) mfaAuth {
	t.Helper()
	var login mfaAuth
	res, bearer := playgroundFetch(b, walk, map[string]any{"input": input}, "Login")
	playgroundData(t, res, "login", &login)
	if !strings.HasPrefix(bearer, "Bearer ") || login.Aal != "aal1" || !login.MfaRequired {
		t.Fatalf("login sent with %q answered %s; want aal1 with mfaRequired", bearer, res.Data["login"])
	}
	return login
}

// playgroundSessions runs mySessions through the fetcher and checks that it went with
// accessToken and answered data, or the error code wantCode.
func playgroundSessions(t *testing.T, b *browserSession, accessToken, wantCode string) {
	t.Helper()
	res, bearer := playgroundFetch(b, `query MySessions { mySessions { id current } }`, nil, "MySessions")
	if bearer != "Bearer "+accessToken {
		t.Errorf("mySessions went with Authorization %q, want the last remembered access token", bearer)
	}
	if wantCode == "" {
		var sessions []struct {
			ID      string
			Current bool
		}
		playgroundData(t, res, "mySessions", &sessions)
		if len(sessions) == 0 {
			t.Fatalf("mySessions answered no session: %s", res.Data["mySessions"])
		}
		return
	}
	if len(res.Errors) == 0 || res.Errors[0].Code() != wantCode {
		t.Fatalf("mySessions answered data %s, errors %+v; want %s", res.Data["mySessions"], res.Errors, wantCode)
	}
}
