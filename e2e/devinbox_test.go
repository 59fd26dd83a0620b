package e2e

// The dev inbox, /dev/mail (mailer/devinbox.go, web/devmail.go): in default mode the mails
// go to the log and to an in-memory inbox that a browser on this machine reads.
//
// TestDevInboxBrowser walks the developer's path in a real headless Chromium, against the
// real app with the suite's defaults (--salt=yes, --anojwt=yes): register over GraphQL,
// open /dev/mail, see the newest mail first, click its link, confirm on the hosted page;
// then forgotPassword, the reset mail's page (text and sandboxed HTML), its link, the
// reset page. The app's public URL is its own test server's (devInboxStart), so that the
// mails' links lead back to it as they lead to localhost:4100 in development.
//
// The other tests need no browser: the inbox is absent (404) with --dev-inbox=no, with
// --mail-sender=smtp, in dev_email mode and in production; a peer that is not loopback, a
// forwarded request and a Host that names another site are refused (403);
// --dev-inbox-remote=yes lets the other peer in, never the other site's name.

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The mails' subjects (mailer/templates/en).
const (
	devInboxConfirmSubject = "Confirm your email address for TokTok"
	devInboxResetSubject   = "Reset your TokTok password"
)

// devInboxStart starts the app on testConfig, in default mode with the inbox on (as
// config.Load's --dev-inbox=auto makes it), changed by edit (may be nil), listening on
// listen ("127.0.0.1:0" when empty), with its public URL on that listener: the mails'
// links lead to this server. It is the harness's launch, with the listener made first so
// that its address can be the public URL.
func devInboxStart(t *testing.T, listen string, edit func(*config.Config)) *testEnv {
	t.Helper()
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.HTTP.PublicURL = "http://" + ln.Addr().String()
	cfg.Mail.DevInbox = true
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		ln.Close()
		t.Fatalf("config: %v", err)
	}
	var verbose slog.Handler
	if testing.Verbose() {
		verbose = slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	clock := newTestClock()
	scan := scanFor(t)
	a, err := app.New(t.Context(), cfg, app.Options{
		Now: clock.Now, Log: slog.New(scan.Handler(verbose)), Store: mongoStoreFor(t, cfg),
	})
	if err != nil {
		ln.Close()
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			srv.Close()
			if err := a.Close(); err != nil {
				t.Errorf("close the app: %v", err)
			}
		})
	})
	scan.Watch(srv.Client())
	scan.KeysIn(cfg.Store.DataDir)
	e := &testEnv{t: t, cfg: cfg, app: a, srv: srv, clock: clock}
	if cfg.Credentials.Encrypt {
		e.pub, e.jwk = readPub(e)
	}
	return e
}

// devInboxMail is one mail of the list as the browser shows it.
type devInboxMail struct {
	ID      string   `json:"id"`
	Subject string   `json:"subject"`
	To      string   `json:"to"`
	Links   []string `json:"links"`
}

const devInboxListJS = `[...document.querySelectorAll('#mails > li.mail')].map((li) => ({
  id: li.getAttribute('data-id'),
  subject: li.querySelector('.mail-subject').textContent,
  to: li.querySelector('.mail-address').textContent,
  links: [...li.querySelectorAll('a.mail-link')].map((a) => a.href),
}))`

// devInboxOpen checks the document it leaves, opens /dev/mail, checks the answer's
// headers and returns the mails listed, in order.
func devInboxOpen(b *browserSession, e *testEnv) []devInboxMail {
	b.t.Helper()
	pagesCheckDocClean(b)
	resp := browserRun(b, "open /dev/mail", chromedp.NavigateResponse(e.srv.URL+"/dev/mail"))
	if resp.Status != http.StatusOK {
		b.t.Fatalf("GET /dev/mail: HTTP %d", resp.Status)
	}
	hdr := map[string]string{}
	for k, v := range resp.Headers {
		if s, ok := v.(string); ok {
			hdr[strings.ToLower(k)] = s
		}
	}
	if csp := hdr["content-security-policy"]; !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		b.t.Errorf("/dev/mail: Content-Security-Policy %q, want no script at all", csp)
	}
	if hdr["cache-control"] != "no-store" {
		b.t.Errorf("/dev/mail: Cache-Control %q, want no-store", hdr["cache-control"])
	}
	return browserEval[[]devInboxMail](b, "read the mails listed", devInboxListJS)
}

// devInboxOneLink checks that m lists one link, to path on the test server (the public
// URL) with the token in the fragment, and returns it.
func devInboxOneLink(t *testing.T, e *testEnv, m devInboxMail, path string) *url.URL {
	t.Helper()
	if len(m.Links) != 1 {
		t.Fatalf("mail %q lists the links %q; want one", m.Subject, m.Links)
	}
	u, err := url.Parse(m.Links[0])
	if err != nil || u.Scheme+"://"+u.Host != e.srv.URL || u.Path != path || !strings.HasPrefix(u.Fragment, "token=") || len(u.Fragment) < 40 {
		t.Fatalf("mail %q links to %q; want %s%s with #token=... (%v)", m.Subject, m.Links[0], e.srv.URL, path, err)
	}
	return u
}

// devInboxWaitPage waits until the hosted page at path has loaded and its script started.
func devInboxWaitPage(b *browserSession, path string) pagesView {
	b.t.Helper()
	browserWaitFor(b, "the page "+path, `location.pathname === `+browserJSString(path)+
		` && document.body && document.body.getAttribute('data-ready') === 'true'`)
	return pagesRead(b)
}

// TestDevInboxBrowser: from GraphQL to a confirmed address in two clicks (open the inbox,
// click the newest mail's link, then the page's button); and the reset mail read as text
// and HTML, its link followed to a reset.
func TestDevInboxBrowser(t *testing.T) {
	b := browserStart(t) // first: skips at once where no browser is installed
	e := devInboxStart(t, "", nil)
	if !e.cfg.Credentials.Encrypt || !e.cfg.Account.AnonJWT {
		t.Fatalf("want the suite's defaults: --salt=%v --anojwt=%v", e.cfg.Credentials.Encrypt, e.cfg.Account.AnonJWT)
	}
	const (
		first       = "first.user@example.com"
		email       = "inbox.user@example.com"
		newPassword = "violet lantern over quiet harbours"
	)
	// The first mail is sent before the second is queued: queued at one clock instant and
	// claimed together, the two would be sent in the order of their random ids.
	e.register(first, strongPassword)
	e.outboxSettle(first)
	reg := e.register(email, strongPassword)
	e.outboxSettle(email)

	// 1. The inbox lists both confirmation mails, the newest first, each with its link.
	mails := devInboxOpen(b, e)
	if len(mails) != 2 || mails[0].To != email || mails[1].To != first ||
		mails[0].Subject != devInboxConfirmSubject || mails[1].Subject != devInboxConfirmSubject {
		t.Fatalf("the inbox lists %+v; want %s's then %s's confirmation mail", mails, email, first)
	}
	confirmLink := devInboxOneLink(t, e, mails[0], "/confirm-email")

	// 2. One click on it: the hosted confirm page, which confirms on its button.
	pagesCheckDocClean(b)
	browserRun(b, "click the newest mail's link", chromedp.Click(chromedp.CSS(`#mails > li.mail:first-child a.mail-link`), chromedp.NodeVisible))
	v := devInboxWaitPage(b, "/confirm-email")
	if v.Title != pagesConfirmTitleEN || !v.Button || v.Hash != "#"+confirmLink.EscapedFragment() {
		t.Fatalf("after the click: %+v; want the confirm page with the mail's token", v)
	}
	v = pagesAct(b, "click #confirm-button", chromedp.ID("confirm-button"))
	if v.State != "success" || !strings.Contains(v.Text, email) {
		t.Fatalf("the confirm page after its button: %+v", v)
	}
	// The confirmation ended the sessions opened before it (account pre-hijacking): sign
	// in again to ask.
	e.wantCode(e.meReq(reg.AccessToken), "UNAUTHENTICATED")
	var me struct{ Me struct{ EmailConfirmed bool } }
	e.mustData(e.gql(e.login(email, strongPassword).AccessToken, `{ me { emailConfirmed } }`, nil), &me)
	if !me.Me.EmailConfirmed {
		t.Fatal("me { emailConfirmed } is false after the confirm page said confirmed")
	}

	// 3. forgotPassword: its mail is now the newest.
	var forgot struct{ ForgotPassword bool }
	e.mustData(e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc(email)}), &forgot)
	e.outboxSettle(email)
	mails = devInboxOpen(b, e)
	if len(mails) != 3 || mails[0].To != email || mails[0].Subject != devInboxResetSubject {
		t.Fatalf("after forgotPassword the inbox lists %+v; want the reset mail first", mails)
	}
	resetLink := devInboxOneLink(t, e, mails[0], "/reset-password").String()

	// 4. The reset mail's own page: the text part with its link as a link, the HTML part
	// framed from its own URL in a sandbox that the browser applies.
	pagesCheckDocClean(b)
	browserRun(b, "open the newest mail", chromedp.Click(chromedp.CSS(`#mails > li.mail:first-child a.mail-subject`), chromedp.NodeVisible))
	browserWaitFor(b, "the mail's page", `location.pathname === '/dev/mail/`+mails[0].ID+`' && !!document.getElementById('text-part')`)
	page := browserEval[struct {
		Subject   string   `json:"subject"`
		TextLinks []string `json:"textLinks"`
		Text      string   `json:"text"`
		FrameSrc  string   `json:"frameSrc"`
		Sandbox   string   `json:"sandbox"`
	}](b, "read the mail's page", `(() => {
  const f = document.getElementById('html-part');
  return {
    subject: document.getElementById('subject').textContent,
    textLinks: [...document.querySelectorAll('#text-part a')].map((a) => a.href),
    text: document.getElementById('text-part').textContent,
    frameSrc: f ? f.src : '',
    sandbox: f ? f.getAttribute('sandbox') : '',
  };
})()`)
	if page.Subject != devInboxResetSubject || len(page.TextLinks) != 1 || page.TextLinks[0] != resetLink ||
		!strings.Contains(page.Text, "To choose a new password, open this link:\n\n"+resetLink+"\n") {
		t.Fatalf("the reset mail's page: %+v; want its text with the link %s", page, resetLink)
	}
	if page.FrameSrc != e.srv.URL+"/dev/mail/"+mails[0].ID+"/html" || strings.Contains(page.Sandbox, "allow-scripts") ||
		strings.Contains(page.Sandbox, "allow-same-origin") {
		t.Fatalf("the HTML part's frame: src %q, sandbox %q", page.FrameSrc, page.Sandbox)
	}
	devInboxCheckFrame(t, b, page.FrameSrc, resetLink)

	// 5. Its link, clicked in the text part: the reset page, which resets.
	pagesCheckDocClean(b)
	browserRun(b, "click the link in the text part", chromedp.Click(chromedp.CSS(`#text-part a`), chromedp.NodeVisible))
	v = devInboxWaitPage(b, "/reset-password")
	if v.Title != pagesResetTitleEN || !v.Form {
		t.Fatalf("after the click: %+v; want the reset page", v)
	}
	browserWaitFor(b, "the length hint from authConfig",
		`document.getElementById('password-hint').textContent.startsWith(`+browserJSString(pagesLengthHintPrefix)+`)`)
	v = pagesSubmitReset(b, newPassword, newPassword)
	if v.State != "success" || v.Text != pagesResetDoneEN {
		t.Fatalf("the reset page after a strong password: %+v", v)
	}
	e.login(email, newPassword)
	e.wantCode(e.loginReq(email, strongPassword), "INVALID_CREDENTIALS")

	b.checkPageClean()
}

// devInboxCheckFrame checks that the browser rendered the mail's HTML part in its frame
// (not an error page: its headers let the inbox frame it) under the sandbox: an opaque
// origin, no script (one added to its document does not run); that its link is the
// mail's; and that its links open a new tab. The sandboxed frame runs in a process of its
// own, a target of type "iframe" that the test attaches to.
func devInboxCheckFrame(t *testing.T, b *browserSession, src, link string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserStepTimeout)
	defer cancel()
	var id target.ID
	for id == "" {
		infos, err := chromedp.Targets(ctx)
		if err != nil {
			t.Fatalf("browser: list the targets: %v", err)
		}
		for _, info := range infos {
			if info.Type == "iframe" && info.URL == src {
				id = info.TargetID
			}
		}
		if id == "" && !browserSleep(ctx, 50*time.Millisecond) {
			t.Fatalf("browser: timed out after %v waiting for the HTML part's frame at %s (refused by its headers?)", browserStepTimeout, src)
		}
	}
	frameCtx, cancelFrame := chromedp.NewContext(ctx, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel())
	defer cancelFrame()
	got, err := chromedp.Run(frameCtx, chromedp.Evaluate[struct{ Origin, ScriptRan, Link, LinkText, BaseTarget string }](`(() => {
  const s = document.createElement('script');
  s.textContent = 'document.documentElement.setAttribute("data-script-ran", "yes")';
  document.body.appendChild(s);
  const a = document.querySelector('a[href]');
  return {
    Origin: self.origin,
    ScriptRan: document.documentElement.getAttribute('data-script-ran') || '',
    Link: a ? a.href : '',
    LinkText: a ? a.textContent.trim() : '',
    BaseTarget: (document.querySelector('base[target]') || {}).target || '',
  };
})()`, chromedp.EvalAsValue))
	if err != nil {
		t.Fatalf("browser: read the HTML part in its frame: %v", err)
	}
	if got.Origin != "null" || got.ScriptRan != "" {
		t.Errorf("the HTML part runs with origin %q, and a script added to it ran: %q; want the sandbox's opaque origin, no script", got.Origin, got.ScriptRan)
	}
	if got.Link != link || got.LinkText != "Choose a new password" || got.BaseTarget != "_blank" {
		t.Errorf("the HTML part's first link: %+v; want %s, opening a new tab", got, link)
	}
}

// devInboxGet sends GET path to e's server at base (e.srv.URL when empty) with the Host
// header host (the URL's when empty) and the headers hdr, and returns the status and body.
func devInboxGet(e *testEnv, base, path, host string, hdr map[string]string) (int, string) {
	e.t.Helper()
	if base == "" {
		base = e.srv.URL
	}
	req, err := http.NewRequestWithContext(e.reqContext(), http.MethodGet, base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	res := httpSend(e, req, hdr)
	return res.Status, string(res.Body)
}

// devInboxLoaded is testConfig with the mode and the mail section that config.Load makes
// of args: what an operator's flags turn the dev inbox into.
func devInboxLoaded(t *testing.T, args ...string) config.Config {
	t.Helper()
	loaded, err := config.Load(append(args, "--data-dir="+t.TempDir()), httpNoEnv, io.Discard)
	if err != nil {
		t.Fatalf("Load %q: %v", args, err)
	}
	cfg := testConfig(t)
	cfg.Mode, cfg.Mail = loaded.Mode, loaded.Mail
	cfg.Mail.PollInterval = 20 * time.Millisecond
	return cfg
}

// TestDevInboxOnlyInDefaultMode: /dev/mail exists in default mode (--dev-inbox=auto), and
// is absent (404) with --dev-inbox=no, in dev_email mode and in production, where Load
// refuses --dev-inbox=yes.
func TestDevInboxOnlyInDefaultMode(t *testing.T) {
	sink := startMailSink(t)
	smtpArgs := []string{"--smtp-host=" + sink.Host(), "--smtp-port=" + strconv.Itoa(sink.Port()), "--smtp-tls=none"}
	for _, tc := range []struct {
		name string
		cfg  func(t *testing.T) config.Config
		want int
	}{
		{"default mode", func(t *testing.T) config.Config { return devInboxLoaded(t) }, http.StatusOK},
		{"--dev-inbox=no", func(t *testing.T) config.Config { return devInboxLoaded(t, "--dev-inbox=no") }, http.StatusNotFound},
		{"--mail-sender=smtp", func(t *testing.T) config.Config {
			return devInboxLoaded(t, append([]string{"--mail-sender=smtp"}, smtpArgs...)...)
		}, http.StatusNotFound},
		{"dev_email mode", func(t *testing.T) config.Config {
			return devInboxLoaded(t, append([]string{"--mode=dev_email"}, smtpArgs...)...)
		}, http.StatusNotFound},
		{"production", func(t *testing.T) config.Config {
			cfg, err := config.Load(append(httpProductionArgs(t, t.TempDir()), smtpArgs...), httpNoEnv, io.Discard)
			if err != nil {
				t.Fatalf("Load production: %v", err)
			}
			return cfg
		}, http.StatusNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := startEnv(t, tc.cfg(t), newTestClock())
			const email = "mode.user@example.com"
			e.register(email, strongPassword)
			e.outboxSettle(email)
			status, body := devInboxGet(e, "", "/dev/mail", "", nil)
			if status != tc.want {
				t.Fatalf("GET /dev/mail: HTTP %d, want %d\n%s", status, tc.want, body)
			}
			if status == http.StatusOK && !strings.Contains(body, email) {
				t.Errorf("the inbox does not list the mail to %s:\n%s", email, body)
			}
			// GraphiQL links to the inbox where there is one.
			if status, pg := devInboxGet(e, "", "/playground", "", nil); status == http.StatusOK {
				if got, want := strings.Contains(pg, `id="toktok-inbox"`), tc.want == http.StatusOK; got != want {
					t.Errorf("the IDE links to the inbox: %v, want %v", got, want)
				}
			}
			for _, path := range []string{"/dev/mail/", "/dev/mail/devmail.css"} {
				if got, _ := devInboxGet(e, "", path, "", nil); (got == http.StatusNotFound) != (tc.want == http.StatusNotFound) {
					t.Errorf("GET %s: HTTP %d", path, got)
				}
			}
		})
	}

	_, err := config.Load(append(httpProductionArgs(t, t.TempDir()), "--dev-inbox=yes"), httpNoEnv, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--dev-inbox=yes: only in default mode") {
		t.Errorf("production with --dev-inbox=yes: %v", err)
	}
}

// TestDevInboxAccess: over real HTTP, the inbox answers this machine's own clients; a
// forwarded request, a Host naming another site, and a peer that is not loopback are
// refused with 403 and a line naming the way out; --dev-inbox-remote=yes lets the other
// peer in, never the other site's name.
func TestDevInboxAccess(t *testing.T) {
	e := devInboxStart(t, "", nil)
	const email = "access.user@example.com"
	e.register(email, strongPassword)
	e.outboxSettle(email)
	port := e.srv.Listener.Addr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name string
		host string
		hdr  map[string]string
		want string // "" for 200
	}{
		{"127.0.0.1", "", nil, ""},
		{"localhost", "localhost:" + strconv.Itoa(port), nil, ""},
		{"X-Forwarded-For", "", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "--dev-inbox-remote"},
		{"Forwarded", "", map[string]string{"Forwarded": "for=203.0.113.9;proto=http"}, "--dev-inbox-remote"},
		{"another site's name", "rebind.example:" + strconv.Itoa(port), nil, `refused for Host "rebind.example:`},
	} {
		status, body := devInboxGet(e, "", "/dev/mail", tc.host, tc.hdr)
		switch {
		case tc.want == "" && (status != http.StatusOK || !strings.Contains(body, email)):
			t.Errorf("%s: HTTP %d, want 200 listing the mail\n%s", tc.name, status, body)
		case tc.want != "" && (status != http.StatusForbidden || !strings.Contains(body, tc.want) ||
			strings.Count(body, "\n") != 1 || strings.Contains(body, email)):
			t.Errorf("%s: HTTP %d %q, want 403 in one line naming %q", tc.name, status, body, tc.want)
		}
	}

	// A peer that is not loopback: this machine's own address on another interface.
	addr := devInboxOtherAddress(t)
	if addr == "" {
		t.Skip("no non-loopback IPv4 address on this machine: the peer rule is tested in package web")
	}
	for _, remote := range []bool{false, true} {
		e := devInboxStart(t, addr+":0", func(c *config.Config) { c.Mail.DevInboxRemote = remote })
		e.register(email, strongPassword)
		e.outboxSettle(email)
		status, body := devInboxGet(e, "", "/dev/mail", "", nil)
		if remote && (status != http.StatusOK || !strings.Contains(body, email)) {
			t.Errorf("peer %s with --dev-inbox-remote=yes: HTTP %d, want 200\n%s", addr, status, body)
		}
		if !remote && (status != http.StatusForbidden || !strings.Contains(body, "--dev-inbox-remote=yes")) {
			t.Errorf("peer %s: HTTP %d %q, want 403 naming --dev-inbox-remote=yes", addr, status, body)
		}
		if status, _ := devInboxGet(e, "", "/dev/mail", "rebind.example", nil); status != http.StatusForbidden {
			t.Errorf("peer %s, --dev-inbox-remote=%v, Host rebind.example: HTTP %d, want 403", addr, remote, status)
		}
	}
}

// devInboxOtherAddress returns an IPv4 address of this machine that is not loopback, or "".
func devInboxOtherAddress(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Logf("interface addresses: %v", err)
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	return ""
}
