package e2e

// Browser tests of the GraphiQL playground (/playground, package web): a real headless
// Chromium, driven with chromedp, against the real server of the end-to-end harness.
//
// TestBrowserPlaygroundFetcher always runs (where a browser is installed): it opens the
// page as served by default (GraphiQL from the CDN, which these machines cannot reach)
// and drives the page's own fetcher, toktok-fetcher.js, exactly as GraphiQL calls it,
// with both security defaults on (--salt=yes, --anojwt=yes), once for each --salt-alg
// (ecdh-es, the default: JWEs; rsa-oaep-256: RSA-OAEP ciphertexts).
//
// TestBrowserPlaygroundGraphiQL runs the full IDE when TOKTOK_TEST_PLAYGROUND_ASSETS
// names a directory with GraphiQL's files (scripts/playground-assets.sh fetches them):
//
//	scripts/playground-assets.sh /tmp/pg-assets
//	TOKTOK_TEST_PLAYGROUND_ASSETS=/tmp/pg-assets go test -race -count=1 -run Browser -v .
//
// (a relative TOKTOK_TEST_PLAYGROUND_ASSETS is taken from the repository root). Without a
// browser, or for the full IDE without TOKTOK_TEST_PLAYGROUND_ASSETS, the tests skip
// through skipnote, so that go test without -v prints a line that says so, except
// under CI (CI set), where they fail: CI must run them (.ci/run installs chromium and
// fetches the assets). On failure, a screenshot of the page goes to the test's artifact directory
// (kept with go test -artifacts -outputdir DIR).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/internal/testkit/skipnote"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/web"
)

const (
	// browserBudget bounds the whole life of one test's browser: when it ends, the
	// browser is killed and every pending action fails.
	browserBudget = 60 * time.Second
	// browserStepTimeout bounds each action (navigation, evaluation, wait, click).
	browserStepTimeout = 20 * time.Second
	// browserAssetsEnv names the directory of GraphiQL's files for the full-UI test.
	browserAssetsEnv = "TOKTOK_TEST_PLAYGROUND_ASSETS"
)

// browserCSPRecorder runs in every document before the page's own scripts
// (Page.addScriptToEvaluateOnNewDocument) and records the page's Content-Security-Policy
// violations, so that the test asks the browser itself whether the policy blocked
// anything.
const browserCSPRecorder = `(() => {
  const seen = [];
  Object.defineProperty(window, '__browserCSPViolations', { value: seen });
  window.addEventListener('securitypolicyviolation', (e) => {
    seen.push({
      directive: e.effectiveDirective || e.violatedDirective,
      blockedURI: e.blockedURI,
      sourceFile: e.sourceFile,
      line: e.lineNumber,
      sample: e.sample,
    });
  }, true);
})();`

// browserExecPath finds a Chromium-family browser in PATH, or "".
func browserExecPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserSession is one headless browser with one tab, and what the tab reported.
type browserSession struct {
	t   *testing.T
	ctx context.Context // the tab; ends with browserBudget at the latest

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	requests []*network.EventRequestWillBeSent
	done     map[network.RequestID]bool // requests that finished or failed
}

// browserLockedBuffer collects the browser's output from chromedp's goroutines.
type browserLockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *browserLockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *browserLockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// browserStart starts a headless browser for t, with a fresh profile, that records the
// tab's console, its requests and its CSP violations (from its first document on). It
// skips t when no browser is installed (through skipnote, which says so after the
// package's tests), unless CI is set. Everything stops when t ends.
func browserStart(t *testing.T) *browserSession {
	t.Helper()
	execPath := browserExecPath()
	if execPath == "" {
		skipnote.Skip(t, "no chromium, chromium-browser or google-chrome in PATH", "Debian: sudo apt-get install chromium")
	}
	// Both directories are made before the cleanup below is registered, so that they are
	// removed after the browser stopped.
	userDataDir := t.TempDir()
	artifacts := t.ArtifactDir()

	output := &browserLockedBuffer{}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(execPath),
		chromedp.UserDataDir(userDataDir),
		chromedp.NoSandbox, // tests run as root
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(output),
	)
	budget, cancelBudget := context.WithTimeout(context.Background(), browserBudget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(budget, opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	b := &browserSession{t: t, ctx: ctx, done: map[network.RequestID]bool{}}

	consoleDone := make(chan struct{})
	started := false
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits until the browser process has exited
		cancelBudget()
		if started {
			<-consoleDone
		}
		if t.Failed() {
			var lines []string
			for line := range strings.Lines(output.String()) {
				if !strings.Contains(line, "dbus") { // no D-Bus in a container: noise
					lines = append(lines, line)
				}
			}
			t.Logf("browser output:\n%s", strings.Join(lines, ""))
			b.mu.Lock()
			for _, m := range b.console {
				t.Logf("browser console: %s", m)
			}
			b.mu.Unlock()
		}
	})

	// The first action starts the browser and ties its life to ctx, so to browserBudget.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start the browser %s: %v\n%s", execPath, err, output.String())
	}
	started = true
	messages := chromedp.Console(ctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	if err := chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			b.requests = append(b.requests, ev)
		case *network.EventLoadingFinished:
			b.done[ev.RequestID] = true
		case *network.EventLoadingFailed:
			b.done[ev.RequestID] = true
		}
	}); err != nil {
		t.Fatalf("listen to the tab: %v", err)
	}
	browserRun(b, "install the CSP violation recorder", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: browserCSPRecorder})
		return err
	}))

	// Registered after the cleanup above, so it runs before it: while the browser runs.
	t.Cleanup(func() {
		if t.Failed() {
			b.screenshot(filepath.Join(artifacts, "page.png"))
		}
	})
	return b
}

// screenshot saves a PNG of the whole page to path and logs where it is.
func (b *browserSession) screenshot(path string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("no screenshot of the page: %v", err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("no screenshot of the page: %v", err)
		return
	}
	b.t.Logf("screenshot of the page: %s (kept with go test -artifacts -outputdir DIR)", path)
}

// browserRun runs one action with browserStepTimeout and fails the test on error.
func browserRun[T any](b *browserSession, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// browserEval evaluates a JavaScript expression in the page, awaits the promise it may
// return, and decodes its JSON value into T.
func browserEval[T any](b *browserSession, what, expr string) T {
	b.t.Helper()
	return browserRun(b, what, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise, chromedp.EvalAsValue))
}

// browserWaitFor polls the JavaScript condition expr until it is truthy, for at most
// browserStepTimeout. (chromedp.Poll compiles its predicate with new Function, which the
// page's CSP rightly forbids.)
func browserWaitFor(b *browserSession, what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	var last error
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("(async () => !!(await ("+expr+")))()", chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return
		}
		if err != nil {
			last = err
		}
		if !browserSleep(ctx, 50*time.Millisecond) {
			b.t.Fatalf("browser: timed out after %v waiting for %s (%s); last error: %v", browserStepTimeout, what, expr, last)
		}
	}
}

// browserSleep waits for d, and reports false if ctx ended first.
func browserSleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}

// responseTo waits until the tab's POST /graphql of the operation opName has finished,
// and returns the body of its response.
func (b *browserSession) responseTo(opName string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	for {
		for _, r := range b.graphqlRequests() {
			b.mu.Lock()
			done := b.done[r.ID]
			b.mu.Unlock()
			if r.Body.OperationName == opName && done {
				res := browserRun(b, "read the response to "+opName, func(ctx context.Context, _ *chromedp.Target) (network.GetResponseBodyResult, error) {
					return chromedp.Call(ctx, network.GetResponseBody, network.GetResponseBodyParams{RequestID: r.ID})
				})
				return string(res.Body)
			}
		}
		if !browserSleep(ctx, 50*time.Millisecond) {
			b.t.Fatalf("browser: timed out after %v waiting for the response to %s", browserStepTimeout, opName)
		}
	}
}

// browserCSPViolation is one securitypolicyviolation event that the page saw.
type browserCSPViolation struct {
	Directive  string `json:"directive"`
	BlockedURI string `json:"blockedURI"`
	SourceFile string `json:"sourceFile"`
	Line       int    `json:"line"`
	Sample     string `json:"sample"`
}

// cspViolations returns the violations that browserCSPRecorder recorded in the page.
func (b *browserSession) cspViolations() []browserCSPViolation {
	b.t.Helper()
	return browserEval[[]browserCSPViolation](b, "read the CSP violations", `window.__browserCSPViolations`)
}

// checkPageClean fails the test if the page's CSP blocked anything (as the page itself
// and the console tell), or if a script threw an uncaught exception.
func (b *browserSession) checkPageClean() {
	b.t.Helper()
	if v := b.cspViolations(); len(v) > 0 {
		b.t.Errorf("the page's Content-Security-Policy blocked something: %+v", v)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		if strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Content-Security-Policy") {
			b.t.Errorf("console reports a CSP violation: %s", m)
		}
		if m.IsException() {
			b.t.Errorf("uncaught exception in the page: %s", m)
		}
	}
}

// browserRequest is a POST to /graphql as the browser sent it.
type browserRequest struct {
	ID            network.RequestID
	Authorization string
	Body          struct {
		Query         string          `json:"query"`
		Variables     json.RawMessage `json:"variables"`
		OperationName string          `json:"operationName"`
	}
	Raw string
}

// graphqlRequests returns the POSTs to /graphql that the tab sent so far, in order.
func (b *browserSession) graphqlRequests() []browserRequest {
	b.t.Helper()
	b.mu.Lock()
	evs := slices.Clone(b.requests)
	b.mu.Unlock()
	var out []browserRequest
	for _, ev := range evs {
		r := ev.Request
		if r == nil || r.Method != http.MethodPost || !strings.HasSuffix(strings.SplitN(r.URL, "?", 2)[0], "/graphql") {
			continue
		}
		var body []byte
		for _, e := range r.PostDataEntries {
			body = append(body, e.Bytes...)
		}
		if len(body) == 0 && r.HasPostData {
			res := browserRun(b, "read a request body", func(ctx context.Context, _ *chromedp.Target) (network.GetRequestPostDataResult, error) {
				return chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: ev.RequestID})
			})
			body = res.PostData
		}
		req := browserRequest{ID: ev.RequestID}
		for k, v := range r.Headers {
			if strings.EqualFold(k, "Authorization") {
				req.Authorization = fmt.Sprint(v)
			}
		}
		req.Raw = string(body)
		if err := json.Unmarshal(body, &req.Body); err != nil {
			b.t.Fatalf("a POST /graphql body is not JSON: %v: %q", err, body)
		}
		out = append(out, req)
	}
	return out
}

// browserGQLResult is what a GraphiQL fetcher resolves to.
type browserGQLResult struct {
	Data   map[string]json.RawMessage `json:"data"`
	Errors []gqlError                 `json:"errors"`
}

// browserFetch calls the fetcher window.__browserFetcher (made as toktok-boot.js makes
// it) as GraphiQL 3 does: fetcher({query, variables, operationName},
// {headers, documentAST, shouldPersistHeaders}), with the variables as the object that
// GraphiQL parses from its variables editor, and no headers of the user's.
func browserFetch(b *browserSession, query string, variables map[string]any, operationName string) browserGQLResult {
	b.t.Helper()
	params := map[string]any{"query": query}
	if variables != nil {
		params["variables"] = variables
	}
	if operationName != "" {
		params["operationName"] = operationName
	}
	js, err := json.Marshal(params)
	if err != nil {
		b.t.Fatal(err)
	}
	expr := `(async () => {
  const result = await window.__browserFetcher(` + string(js) + `, { headers: {}, documentAST: undefined, shouldPersistHeaders: false });
  return JSON.parse(JSON.stringify(result));
})()`
	return browserEval[browserGQLResult](b, "run "+strings.Join(strings.Fields(query), " ")+" through the fetcher", expr)
}

// browserOpenPlayground opens the server's /playground and checks the response headers.
func browserOpenPlayground(b *browserSession, e *testEnv) {
	b.t.Helper()
	resp := browserRun(b, "open /playground", chromedp.NavigateResponse(e.srv.URL+"/playground"))
	if resp.Status != http.StatusOK {
		b.t.Fatalf("GET /playground: HTTP %d", resp.Status)
	}
	csp := ""
	for k, v := range resp.Headers {
		if strings.EqualFold(k, "Content-Security-Policy") {
			csp = fmt.Sprint(v)
		}
	}
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") {
		b.t.Fatalf("the page's Content-Security-Policy is %q: the test expects the strict one of package web", csp)
	}
}

// browserStartEnv starts the end-to-end server with edit (may be nil), and sets its clock
// to the real time: the fetcher judges token expiry by the browser's clock, which the
// harness's fixed test clock would otherwise put hours away.
func browserStartEnv(t *testing.T, edit func(*config.Config)) *testEnv {
	t.Helper()
	e := newTestEnv(t, edit)
	if !e.cfg.Credentials.Encrypt || !e.cfg.Account.AnonJWT {
		t.Fatalf("the playground must be tested with both defaults on: --salt=%v --anojwt=%v",
			e.cfg.Credentials.Encrypt, e.cfg.Account.AnonJWT)
	}
	e.clock.Advance(time.Since(e.clock.Now()))
	return e
}

// browserCredentialBox opens the env's --salt key, of its --salt-alg, to read what the
// browser sent: the key file the configuration names, else the one the server generated
// (or the harness wrote) in the data dir.
func browserCredentialBox(t *testing.T, e *testEnv) *credentials.Box {
	t.Helper()
	path := e.cfg.Credentials.CurrentKeyFile()
	if path == "" {
		name := "credentials-ec.pem"
		if e.cfg.Credentials.Alg == config.SaltRSA {
			name = "credentials-rsa.pem"
		}
		path = filepath.Join(e.cfg.Store.DataDir, name)
	}
	box, err := credentials.LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := credentials.AlgorithmECDH
	if e.cfg.Credentials.Alg == config.SaltRSA {
		want = credentials.AlgorithmRSA
	}
	if box.Algorithm() != want {
		t.Fatalf("%s holds a key for %s, the server runs --salt-alg=%s", path, box.Algorithm(), e.cfg.Credentials.Alg)
	}
	return box
}

// browserSaltAlgs are the --salt-alg values that the browser tests of encryption run
// with, the default first.
var browserSaltAlgs = []string{config.SaltECDH, config.SaltRSA}

// browserUser returns the stored user with the canonical email, failing if there is none.
func browserUser(t *testing.T, e *testEnv, email string) store.User {
	t.Helper()
	u, err := e.app.Support().User(t.Context(), email)
	if err != nil {
		t.Fatalf("store: user %s: %v", email, err)
	}
	return u
}

// TestBrowserPlaygroundFetcher drives the playground's fetcher in a real browser, on the
// page as served by default, with --salt=yes and --anojwt=yes, for each --salt-alg:
// register, me and login work with credentials typed in plain text as variables, because
// the fetcher gets an anonymous token and encrypts them with the published key in the
// published scheme; inline literals are refused.
func TestBrowserPlaygroundFetcher(t *testing.T) {
	for _, alg := range browserSaltAlgs {
		t.Run(alg, func(t *testing.T) { browserPlaygroundFetcher(t, alg) })
	}
}

func browserPlaygroundFetcher(t *testing.T, alg string) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e := browserStartEnv(t, func(c *config.Config) { c.Credentials.Alg = alg; c.HTTP.PlaygroundCDN = true })

	// GraphiQL comes from the CDN (--playground-cdn). These machines have no Internet;
	// block it anyway, so that the test behaves the same where the CDN could be reached.
	browserRun(b, "block the CDN", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "https://unpkg.com/*", Block: true}},
		})
		return err
	}))
	browserOpenPlayground(b, e)
	browserWaitFor(b, "the fetcher script", `typeof window.createToktokFetcher === 'function'`)
	// Without GraphiQL the page says what to do instead of staying blank: the server's
	// option and the script that fetches GraphiQL's files.
	browserWaitFor(b, "the page's no-GraphiQL message",
		`document.getElementById('graphiql').textContent.includes('GraphiQL could not be loaded')`)
	msg := browserEval[string](b, "read the no-GraphiQL message", `document.getElementById('graphiql').textContent`)
	for _, want := range []string{"https://unpkg.com", "without --playground-cdn", "--playground-assets-dir DIR", "TOKTOK_PLAYGROUND_ASSETS_DIR=DIR", "scripts/playground-assets.sh DIR"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the no-GraphiQL message %q lacks %q", msg, want)
		}
	}

	// The fetcher as toktok-boot.js makes it.
	browserEval[chromedp.Void](b, "make the fetcher", `(() => {
  window.__browserFetcher = window.createToktokFetcher({ endpoint: document.body.dataset.endpoint || '/graphql' });
})()`)

	const (
		email    = "playground.user@example.com"
		password = strongPassword
	)
	input := map[string]any{"input": map[string]any{"email": email, "password": password}}

	// 1. Register, with the credentials in plain text in the variables, as a person
	// types them in GraphiQL's variables editor.
	reg := browserFetch(b, `mutation Register($input: RegisterInput!) {
  register(input: $input) { accessToken refreshToken expiresAt user { id email } }
}`, input, "Register")
	if len(reg.Errors) > 0 {
		t.Fatalf("register through the fetcher: %+v (ANONYMOUS_TOKEN_REQUIRED or BAD_USER_INPUT would mean "+
			"that the fetcher sent no anonymous token or plaintext credentials)", reg.Errors)
	}
	var regPayload struct {
		AccessToken  string
		RefreshToken string
		User         struct{ ID, Email string }
	}
	if err := json.Unmarshal(reg.Data["register"], &regPayload); err != nil {
		t.Fatalf("register data %s: %v", reg.Data["register"], err)
	}
	if regPayload.AccessToken == "" || regPayload.RefreshToken == "" || regPayload.User.Email != email {
		t.Fatalf("register payload = %s", reg.Data["register"])
	}
	user := browserUser(t, e, email)
	if user.ID != regPayload.User.ID {
		t.Fatalf("stored user %s, register returned %s", user.ID, regPayload.User.ID)
	}

	// 2. me, through the same fetcher: it remembered the access token.
	me := browserFetch(b, `query { me { email } }`, nil, "")
	var meData struct{ Email string }
	if err := json.Unmarshal(me.Data["me"], &meData); err != nil || len(me.Errors) > 0 || meData.Email != email {
		t.Fatalf("me through the fetcher after register: data %s, errors %+v", me.Data["me"], me.Errors)
	}

	// 3. Login, the same way.
	login := browserFetch(b, `mutation Login($input: LoginInput!) {
  login(input: $input) { accessToken user { email } }
}`, input, "Login")
	var loginPayload struct {
		AccessToken string
		User        struct{ Email string }
	}
	if len(login.Errors) > 0 {
		t.Fatalf("login through the fetcher: %+v", login.Errors)
	}
	if err := json.Unmarshal(login.Data["login"], &loginPayload); err != nil || loginPayload.AccessToken == "" || loginPayload.User.Email != email {
		t.Fatalf("login payload = %s (%v)", login.Data["login"], err)
	}
	if n := browserUser(t, e, email).LoginCount; n != 2 {
		t.Fatalf("stored loginCount = %d after register and login, want 2", n)
	}
	state := browserEval[struct {
		SignedInAs           string
		EncryptedCredentials bool
		AccessTokenValid     bool
	}](b, "read the fetcher's state", `window.__browserFetcher.state()`)
	if state.SignedInAs != email || !state.EncryptedCredentials || !state.AccessTokenValid {
		t.Fatalf("fetcher state after login = %+v", state)
	}

	// 4. A password written as an inline literal cannot be encrypted: the fetcher
	// refuses it (and sends nothing) or the server answers an error; never a session.
	sentBefore := len(b.graphqlRequests())
	const inlinePassword = "inline literal password 123"
	inline := browserFetch(b, `mutation { login(input: {email: "`+email+`", password: "`+inlinePassword+`"}) { accessToken } }`, nil, "")
	if len(inline.Errors) == 0 || strings.Contains(string(inline.Data["login"]), "accessToken") {
		t.Fatalf("login with inline literals: data %v, errors %+v; want an error and no session", inline.Data, inline.Errors)
	}
	if inline.Errors[0].Code() == "PLAYGROUND" {
		// The fetcher says that nothing was sent: check.
		if reqs := b.graphqlRequests(); len(reqs) != sentBefore {
			t.Fatalf("the fetcher refused the inline literals (%q) but sent %d request(s): %+v",
				inline.Errors[0].Message, len(reqs)-sentBefore, reqs[sentBefore:])
		}
	}

	// What went over the wire: what an SPA must send.
	reqs := browserCheckWire(t, b, e, []string{"Register", "Login"}, email, password, inlinePassword)
	// The fetcher asked authConfig for the key in both forms: it encrypts a JWE for
	// encryptionJwk, base64 of an RSA-OAEP ciphertext for encryptionKey.
	configQueries := 0
	for _, r := range reqs {
		if r.Body.OperationName != "TokTokPlaygroundAuthConfig" {
			continue
		}
		configQueries++
		for _, field := range []string{"encryptionJwk", "encryptionKey", "encryptionAlgorithm"} {
			if !regexp.MustCompile(`\b` + field + `\b`).MatchString(r.Body.Query) {
				t.Errorf("the fetcher's authConfig query lacks %s: %s", field, r.Body.Query)
			}
		}
	}
	if configQueries != 1 {
		t.Errorf("the fetcher asked for authConfig %d times, want once", configQueries)
	}
	var meReqs []browserRequest
	for _, r := range reqs {
		if strings.HasPrefix(r.Body.Query, "query { me") {
			meReqs = append(meReqs, r)
		}
	}
	if len(meReqs) != 1 || meReqs[0].Authorization != "Bearer "+regPayload.AccessToken {
		t.Errorf("me was sent %d time(s), first with Authorization %q; want once with register's access token",
			len(meReqs), func() string {
				if len(meReqs) == 0 {
					return ""
				}
				return meReqs[0].Authorization
			}())
	}

	// The CSP let the page's own scripts and the fetcher's requests through, as the
	// browser itself reports.
	b.checkPageClean()

	// And the recorder does see violations: a request that the policy forbids.
	browserEval[chromedp.Void](b, "make a request that the CSP forbids",
		`fetch('http://127.0.0.1:1/browser-csp-probe').catch(() => {})`)
	browserWaitFor(b, "the probe's CSP violation", `window.__browserCSPViolations.length > 0`)
	if v := b.cspViolations(); len(v) != 1 || v[0].Directive != "connect-src" || !strings.Contains(v[0].BlockedURI, "127.0.0.1:1") {
		t.Fatalf("CSP violations after the probe = %+v, want the probe's connect-src only", v)
	}
}

// TestBrowserPlaygroundDevInboxLink: with PlaygroundOptions.DevInboxURL, the page's bar
// shows a visible "Mails (dev inbox)" link that opens the inbox in a new tab, under the
// page's CSP. The page is package web's handler alone, the CDN blocked.
func TestBrowserPlaygroundDevInboxLink(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	pg, err := web.Playground(web.PlaygroundOptions{DevInboxURL: "/dev/mail", CDN: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/playground", pg)
	mux.Handle("/playground/", pg)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	browserRun(b, "block the CDN", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, network.SetBlockedURLs, network.SetBlockedURLsParams{
			URLPatterns: []*network.BlockPattern{{URLPattern: "https://unpkg.com/*", Block: true}},
		})
		return err
	}))
	if resp := browserRun(b, "open /playground", chromedp.NavigateResponse(srv.URL+"/playground")); resp.Status != http.StatusOK {
		t.Fatalf("GET /playground: HTTP %d", resp.Status)
	}
	browserWaitFor(b, "toktok-boot.js to have run", `document.getElementById('graphiql').classList.contains('toktok-error')`)
	link := browserEval[struct {
		Text, Href, Target, Rel string
		Visible                 bool
	}](b, "read the dev inbox link", `(() => {
  const a = document.getElementById('toktok-inbox');
  if (!a) return {};
  const r = a.getBoundingClientRect();
  const style = getComputedStyle(a);
  const visible = r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 &&
    r.bottom <= window.innerHeight && r.right <= window.innerWidth &&
    style.visibility === 'visible' && style.display !== 'none' && Number(style.opacity) > 0 &&
    document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === a;
  return { text: a.textContent, href: a.href, target: a.target, rel: a.rel, visible };
})()`)
	if link.Text != "Mails (dev inbox)" || link.Href != srv.URL+"/dev/mail" || link.Target != "_blank" ||
		!strings.Contains(link.Rel, "noopener") || !link.Visible {
		t.Errorf("the dev inbox link: %+v; want a visible \"Mails (dev inbox)\" to %s/dev/mail in a new tab", link, srv.URL)
	}
	b.checkPageClean()
}

// TestBrowserPlaygroundGraphiQL runs the whole IDE, with GraphiQL's files built into the
// binary (the default, no Internet needed) and from a local directory
// (--playground-assets-dir): GraphiQL renders under the page's CSP, and its execute
// button runs the walk-through's Register with its default variables, through the
// fetcher, then Me with the token that Register returned.
func TestBrowserPlaygroundGraphiQL(t *testing.T) {
	t.Run("Embedded", func(t *testing.T) {
		browserPlaygroundFullUI(t, nil)
	})
	t.Run("AssetsDir", func(t *testing.T) {
		dir := browserAssetsDir(t)
		t.Run("AssetsMatchCDN", func(t *testing.T) {
			browserCheckAssetsMatchCDN(t, dir)
		})
		browserPlaygroundFullUI(t, func(c *config.Config) { c.HTTP.PlaygroundAssetsDir = dir })
	})
}

func browserPlaygroundFullUI(t *testing.T, edit func(*config.Config)) {
	b := browserStart(t)
	e := browserStartEnv(t, edit)
	browserOpenPlayground(b, e)
	browserWaitFor(b, "GraphiQL", `document.querySelector('.graphiql-container .graphiql-query-editor .CodeMirror')`)

	// GraphiQL asks for the schema (docs, completion, validation) as it starts. The
	// server's default --depth-limit (8) refuses GraphiQL's introspection query, which is
	// nested deeper: a known bug of the server, reported, not asserted here, so that
	// this test checks what the playground promises. Once fixed, make this an error.
	var schema struct{ Errors []gqlError }
	if body := b.responseTo("IntrospectionQuery"); json.Unmarshal([]byte(body), &schema) != nil || len(schema.Errors) > 0 {
		t.Errorf("GraphiQL cannot load the schema, so it has no docs or completion: %s", body)
	}

	// A first visit shows the walk-through and its variables.
	editors := browserEval[struct{ Query, Variables string }](b, "read the editors", `(() => {
  const text = (sel) => [...document.querySelectorAll(sel)].map((el) => el.CodeMirror ? el.CodeMirror.getValue() : '').join('\n');
  return { query: text('.graphiql-query-editor .CodeMirror'), variables: text('.graphiql-editor-tool .CodeMirror') };
})()`)
	if !strings.Contains(editors.Query, "mutation Register($input: RegisterInput!)") {
		t.Fatalf("the query editor does not hold the walk-through:\n%s", editors.Query)
	}
	if !strings.Contains(editors.Variables, "alice@example.com") {
		t.Fatalf("the variables editor does not hold the walk-through's variables:\n%s", editors.Variables)
	}
	const email = "alice@example.com"

	// The editor holds several operations: the execute button opens a menu of them.
	register := browserRunOperation(b, "Register")
	var payload struct {
		Data struct {
			Register struct {
				AccessToken string
				User        struct{ Email string }
			}
		}
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(register), &payload); err != nil {
		t.Fatalf("the response pane does not hold JSON: %v\n%s", err, register)
	}
	if len(payload.Errors) > 0 || payload.Data.Register.AccessToken == "" || payload.Data.Register.User.Email != email {
		t.Fatalf("Register in GraphiQL answered:\n%s", register)
	}
	browserUser(t, e, email)
	browserWaitFor(b, "the status line to show the session",
		`document.getElementById('toktok-status').textContent.includes('signed in as: `+email+`')`)

	me := browserRunOperation(b, "Me")
	var mePayload struct {
		Data   struct{ Me struct{ Email string } }
		Errors []gqlError
	}
	if err := json.Unmarshal([]byte(me), &mePayload); err != nil || len(mePayload.Errors) > 0 || mePayload.Data.Me.Email != email {
		t.Fatalf("Me in GraphiQL after Register answered (%v):\n%s", err, me)
	}

	// Register went out as an SPA must send it, and Me with Register's access token.
	for _, r := range browserCheckWire(t, b, e, []string{"Register"}, email, strongPassword) {
		if r.Body.OperationName == "Me" && r.Authorization != "Bearer "+payload.Data.Register.AccessToken {
			t.Errorf("Me was sent with Authorization %q, want Register's access token", r.Authorization)
		}
	}

	b.checkPageClean()
}

// browserCheckWire checks the POSTs to /graphql that the browser sent so far, and returns
// them: the fetcher asked for an anonymous token; each operation of credentialOps went
// once, with a bearer token (the anonymous one) and input.email and input.password as
// ciphertexts of email and password under the published key, in the --salt-alg's scheme
// (browserCheckCiphertext); and no request held password or any of secrets in plain text.
func browserCheckWire(t *testing.T, b *browserSession, e *testEnv, credentialOps []string, email, password string, secrets ...string) []browserRequest {
	t.Helper()
	reqs := b.graphqlRequests()
	var sent []string
	for _, r := range reqs {
		sent = append(sent, fmt.Sprintf("%s(auth=%t)", cmp.Or(r.Body.OperationName, strings.Join(strings.Fields(r.Body.Query), " ")), r.Authorization != ""))
	}
	t.Logf("the browser sent %d GraphQL requests: %s", len(reqs), strings.Join(sent, ", "))

	box := browserCredentialBox(t, e)
	byOp := map[string][]browserRequest{}
	for _, r := range reqs {
		byOp[r.Body.OperationName] = append(byOp[r.Body.OperationName], r)
		for _, secret := range append([]string{password}, secrets...) {
			if strings.Contains(r.Raw, secret) {
				t.Errorf("the browser sent a password in plain text: %s", r.Raw)
			}
		}
	}
	if len(byOp["TokTokPlaygroundAnonymousToken"]) == 0 {
		t.Errorf("the fetcher never asked for an anonymous token; requests: %s", strings.Join(sent, ", "))
	}
	for _, op := range credentialOps {
		if len(byOp[op]) != 1 {
			t.Fatalf("%d %s requests were sent, want 1; requests: %s", len(byOp[op]), op, strings.Join(sent, ", "))
		}
		r := byOp[op][0]
		if !strings.HasPrefix(r.Authorization, "Bearer ") {
			t.Errorf("%s was sent with Authorization %q, want the anonymous token", op, r.Authorization)
		}
		var vars struct {
			Input struct{ Email, Password string }
		}
		if err := json.Unmarshal(r.Body.Variables, &vars); err != nil {
			t.Fatalf("%s variables %s: %v", op, r.Body.Variables, err)
		}
		for _, f := range []struct{ name, sent, want string }{
			{"email", vars.Input.Email, email},
			{"password", vars.Input.Password, password},
		} {
			browserCheckCiphertext(t, box, op+" sent input."+f.name, f.sent, f.want)
		}
	}
	return reqs
}

// browserJWE matches a JWE compact serialization with an empty encrypted key, what
// ECDH-ES direct key agreement gives: header..iv.ciphertext.tag, all base64url.
var browserJWE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$`)

// browserCheckCiphertext checks that sent, what the browser sent for what (a credential
// field), is the ciphertext of want under box's key, in box's scheme: a JWE compact
// serialization (ECDH-ES+A256GCM) whose protected header names the key, or standard
// base64 (RSA-OAEP-256).
func browserCheckCiphertext(t *testing.T, box *credentials.Box, what, sent, want string) {
	t.Helper()
	if got, err := box.Decrypt(sent); err != nil || got != want {
		t.Errorf("%s = %q: not a %s ciphertext of the typed value under the published key (%v)", what, sent, box.Algorithm(), err)
		return
	}
	if box.Algorithm() == credentials.AlgorithmRSA {
		if _, err := base64.StdEncoding.Strict().DecodeString(sent); err != nil {
			t.Errorf("%s = %q: not standard base64 (%v)", what, sent, err)
		}
		return
	}
	if !browserJWE.MatchString(sent) {
		t.Errorf("%s = %q: not a JWE compact serialization with an empty encrypted key", what, sent)
		return
	}
	raw, err := base64.RawURLEncoding.DecodeString(sent[:strings.IndexByte(sent, '.')])
	var header map[string]any
	if err == nil {
		err = json.Unmarshal(raw, &header)
	}
	if err != nil || header["alg"] != "ECDH-ES" || header["enc"] != "A256GCM" || header["kid"] != box.KeyID() || len(header) != 4 || header["epk"] == nil {
		t.Errorf("%s: protected header %s (%v); want alg ECDH-ES, enc A256GCM, kid %q and epk only", what, raw, err, box.KeyID())
	}
}

// browserAssetsDir returns the directory that TOKTOK_TEST_PLAYGROUND_ASSETS names (a
// relative path from the repository root), and skips t when it is unset or lacks
// GraphiQL's files; under CI (CI set) it fails t instead, whether the variable is unset
// or the directory unusable, so that neither a missing setting nor a broken download is
// hidden by a skip (.ci/run sets it).
func browserAssetsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(browserAssetsEnv)
	if dir == "" {
		skipnote.Skip(t, browserAssetsEnv+" unset",
			"scripts/playground-assets.sh DIR fetches GraphiQL's files; then "+browserAssetsEnv+"=DIR")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // the tests run in e2e/; the script and the README work from the root
	}
	for _, name := range []string{"react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || !st.Mode().IsRegular() {
			skipnote.Skip(t, fmt.Sprintf("%s=%s lacks GraphiQL's %s", browserAssetsEnv, os.Getenv(browserAssetsEnv), name),
				"scripts/playground-assets.sh DIR fills it")
		}
	}
	return dir
}

// browserRunOperation clicks GraphiQL's execute button, picks the operation from the
// menu that it opens, and returns the response pane's text once it changed.
func browserRunOperation(b *browserSession, name string) string {
	b.t.Helper()
	const response = `(() => { const el = document.querySelector('.graphiql-response .CodeMirror'); return el && el.CodeMirror ? el.CodeMirror.getValue() : ''; })()`
	before := browserEval[string](b, "read the response pane", response)
	sentBefore := b.countSent(name)
	// Until GraphiQL has parsed the editor, the button runs the document as it is.
	browserWaitFor(b, "the execute button to offer the operations", `document.querySelector('.graphiql-execute-button[aria-haspopup="menu"]')`)
	item := `[...document.querySelectorAll('.graphiql-dropdown-item')].find((el) => el.textContent.trim() === ` + browserJSString(name) + `)`
	// The menu is placed after it opens; a click before it settles can miss the item (and
	// close the menu), so wait until the item stays put, and click again when a click
	// sent nothing.
	settled := `(async () => {
  const el = ` + item + `;
  if (!el) return false;
  const a = el.getBoundingClientRect();
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const b = el.getBoundingClientRect();
  return el.isConnected && b.width > 0 && a.x === b.x && a.y === b.y;
})()`
	for attempt := 1; ; attempt++ {
		if !browserEval[bool](b, "see whether the menu is open", `document.querySelector('.graphiql-execute-button').getAttribute('aria-expanded') === 'true'`) {
			browserRun(b, "click the execute button", chromedp.Click(chromedp.CSS(".graphiql-execute-button"), chromedp.NodeVisible))
		}
		browserWaitFor(b, name+" in the execute menu", settled)
		browserRun(b, "pick "+name+" in the execute menu", chromedp.Click(chromedp.JSPath(item), chromedp.NodeVisible))
		if b.waitSent(name, sentBefore, 5*time.Second) {
			break
		}
		if attempt == 3 {
			b.t.Fatalf("browser: picking %s in the execute menu sent nothing, %d times", name, attempt)
		}
		b.t.Logf("picking %s in the execute menu sent nothing; again", name)
	}
	browserWaitFor(b, "the answer to "+name, `(() => { const v = `+response+`; return v !== '' && v !== `+browserJSString(before)+`; })()`)
	return browserEval[string](b, "read the response pane", response)
}

// countSent returns how many POSTs to /graphql of the operation opName the tab sent.
func (b *browserSession) countSent(opName string) int {
	b.t.Helper()
	n := 0
	for _, r := range b.graphqlRequests() {
		if r.Body.OperationName == opName {
			n++
		}
	}
	return n
}

// waitSent waits at most d until the tab sent more than before POSTs of opName.
func (b *browserSession) waitSent(opName string, before int, d time.Duration) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, d)
	defer cancel()
	for b.countSent(opName) <= before {
		if !browserSleep(ctx, 50*time.Millisecond) {
			return false
		}
	}
	return true
}

// browserJSString quotes s as a JavaScript string literal.
func browserJSString(s string) string {
	q, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(q)
}

// browserCheckAssetsMatchCDN checks that the local files are the ones that the page loads
// from the CDN (--playground-cdn): their sha384 equals the page's Subresource Integrity
// values.
func browserCheckAssetsMatchCDN(t *testing.T, dir string) {
	h, err := web.Playground(web.PlaygroundOptions{CDN: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/playground", nil))
	tags := regexp.MustCompile(`(?:src|href)="https://[^"]*/([^"/]+)" integrity="(sha384-[^"]+)"`).FindAllStringSubmatch(rec.Body.String(), -1)
	if len(tags) != 4 {
		t.Fatalf("the CDN page has %d CDN assets with an integrity value, want 4:\n%s", len(tags), rec.Body.String())
	}
	for _, m := range tags {
		name, want := m[1], html.UnescapeString(m[2]) // html/template writes "+" as "&#43;"
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sum := sha512.Sum384(data)
		if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != want {
			t.Errorf("%s in %s is %s, but the CDN page pins %s: not the version that web.go pins", name, dir, got, want)
		}
	}
	if t.Failed() {
		t.Log("refetch the files with scripts/playground-assets.sh")
	}
}
