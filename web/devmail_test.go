package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
)

// devMailInbox returns an inbox holding mails, sent in order (so the last is the newest).
func devMailInbox(t *testing.T, mails ...mailer.Envelope) *mailer.DevInbox {
	t.Helper()
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)
	in := mailer.NewDevInbox(mailer.DevInboxConfig{
		Log: slog.New(slog.DiscardHandler),
		Now: func() time.Time { at = at.Add(time.Minute); return at },
	})
	for _, m := range mails {
		if err := in.Send(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// devMailGet sends one request from peer (host:port) with the Host header host.
func devMailGet(t *testing.T, h http.Handler, method, target, peer, host string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := newRequest(method, target, header)
	req.RemoteAddr, req.Host = peer, host
	return serve(t, h, req)
}

const (
	devMailLocal = "127.0.0.1:51000"
	devMailHost  = "localhost:4100"
)

var (
	devMailConfirm = mailer.Envelope{
		ID: "CONFIRM1", To: "ann@example.com", Subject: "Confirm your email address for TokTok",
		Text: "Hello,\n\nOpen this link:\n\nhttp://localhost:4100/confirm-email#token=abc-_123\n\nThe TokTok team\n",
		HTML: `<!DOCTYPE html><html><head><title>c</title></head><body><p><a href="http://localhost:4100/confirm-email#token=abc-_123">Confirm</a></p></body></html>`,
	}
	devMailReset = mailer.Envelope{
		ID: "RESET2", To: "bob@example.com", Subject: "Reset <your> TokTok password",
		Text: "Hi <b>Bob</b> & co,\n<script>alert(1)</script>\nhttp://localhost:4100/reset-password#token=xyz\n",
		HTML: `<p>Reset: <a href="http://localhost:4100/reset-password#token=xyz">here</a></p><script>alert(1)</script>`,
	}
)

// TestDevMailList: newest first, each mail with its links as links; no script and the
// headers of a page that holds secrets.
func TestDevMailList(t *testing.T) {
	h := newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t, devMailConfirm, devMailReset), PlaygroundPath: "/playground"})
	res, body := devMailGet(t, h, http.MethodGet, "/dev/mail", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /dev/mail: HTTP %d %s\n%s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	devMailCheckPageHeaders(t, res)
	ids := regexp.MustCompile(`<li class="mail" id="mail-(\w+)"`).FindAllStringSubmatch(body, -1)
	if len(ids) != 2 || ids[0][1] != "RESET2" || ids[1][1] != "CONFIRM1" {
		t.Fatalf("mails listed %v, want RESET2 then CONFIRM1 (newest first)", ids)
	}
	for _, want := range []string{
		`<a class="mail-link" href="http://localhost:4100/reset-password#token=xyz">http://localhost:4100/reset-password#token=xyz</a>`,
		`<a class="mail-link" href="http://localhost:4100/confirm-email#token=abc-_123">`,
		`<a class="mail-subject" href="/dev/mail/RESET2">Reset &lt;your&gt; TokTok password</a>`,
		`<span class="mail-address">bob@example.com</span>`,
		`<a id="nav-playground" href="/playground">`,
		`<link rel="stylesheet" href="/dev/mail/devmail.css">`,
		"in memory only",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the list lacks %s\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "<b>") {
		t.Errorf("the list holds markup from a mail:\n%s", body)
	}

	res, body = devMailGet(t, newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t)}), http.MethodGet, "/dev/mail", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(body, `id="empty"`) || strings.Contains(body, "nav-playground") {
		t.Errorf("the empty inbox: HTTP %d\n%s", res.StatusCode, body)
	}
	// /dev/mail/ leads to the list.
	if res, _ := devMailGet(t, h, http.MethodGet, "/dev/mail/", devMailLocal, devMailHost, nil); res.StatusCode != http.StatusFound || res.Header.Get("Location") != "/dev/mail" {
		t.Errorf("GET /dev/mail/: HTTP %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
}

func devMailCheckPageHeaders(t *testing.T, res *http.Response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	if csp != devMailCSP || strings.Contains(csp, "script-src") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("page CSP %q", csp)
	}
	for k, want := range map[string]string{
		"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
}

// TestDevMailPage: one mail, its text part escaped with its URL made a link, its HTML part
// framed from its own URL in a sandbox.
func TestDevMailPage(t *testing.T) {
	h := newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t, devMailConfirm, devMailReset)})
	res, body := devMailGet(t, h, http.MethodGet, "/dev/mail/RESET2", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d\n%s", res.StatusCode, body)
	}
	devMailCheckPageHeaders(t, res)
	for _, want := range []string{
		`<h1 id="subject">Reset &lt;your&gt; TokTok password</h1>`,
		`<dd id="to">bob@example.com</dd>`,
		`<pre id="text-part" class="text-part">Hi &lt;b&gt;Bob&lt;/b&gt; &amp; co,` + "\n" + `&lt;script&gt;alert(1)&lt;/script&gt;` + "\n" +
			`<a href="http://localhost:4100/reset-password#token=xyz">http://localhost:4100/reset-password#token=xyz</a>` + "\n</pre>",
		`<iframe id="html-part" class="html-part" src="/dev/mail/RESET2/html" sandbox="` + devMailSandbox + `"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the mail page lacks %s\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") || strings.Contains(body, "<b>") {
		t.Errorf("the mail page holds markup from the mail:\n%s", body)
	}
}

// TestDevMailHTMLPart: the HTML part as it is, under the sandbox policy, frameable by the
// inbox only, its links opening a new tab.
func TestDevMailHTMLPart(t *testing.T) {
	h := newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t, devMailConfirm, devMailReset)})
	res, body := devMailGet(t, h, http.MethodGet, "/dev/mail/CONFIRM1/html", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("HTTP %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{
		"sandbox allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation;",
		"default-src 'none'", "style-src 'unsafe-inline'", "img-src data:", "frame-ancestors 'self'",
	} {
		if !strings.Contains(csp, want) {
			t.Errorf("HTML part CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "allow-scripts") || strings.Contains(csp, "allow-same-origin") || strings.Contains(csp, "script-src") {
		t.Errorf("HTML part CSP %q lets scripts run or reach the inbox's origin", csp)
	}
	if res.Header.Get("X-Frame-Options") != "SAMEORIGIN" || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("X-Frame-Options %q, Cache-Control %q", res.Header.Get("X-Frame-Options"), res.Header.Get("Cache-Control"))
	}
	want := `<!DOCTYPE html><html><head>` + devMailHTMLPrefix + `<title>c</title></head><body><p><a href="http://localhost:4100/confirm-email#token=abc-_123">Confirm</a></p></body></html>`
	if body != want {
		t.Errorf("HTML part:\n got %s\nwant %s", body, want)
	}
	// Without <head>, the prefix goes first; the rest is as it was.
	_, body = devMailGet(t, h, http.MethodGet, "/dev/mail/RESET2/html", devMailLocal, devMailHost, nil)
	if body != devMailHTMLPrefix+devMailReset.HTML {
		t.Errorf("HTML part without <head>: %s", body)
	}

	res, body = devMailGet(t, h, http.MethodGet, "/dev/mail/RESET2/text", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/plain; charset=utf-8" || body != devMailReset.Text {
		t.Errorf("text part: HTTP %d %s %q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}

func TestDevMailNotFoundAndMethods(t *testing.T) {
	h := newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t, devMailConfirm)})
	for _, path := range []string{"/dev/mail/NOPE", "/dev/mail/NOPE/html", "/dev/mail/NOPE/text", "/dev/mail/CONFIRM1/raw", "/dev/mail/a/b/c"} {
		if res, body := devMailGet(t, h, http.MethodGet, path, devMailLocal, devMailHost, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: HTTP %d, want 404\n%s", path, res.StatusCode, body)
		}
	}
	if res, _ := devMailGet(t, h, http.MethodPost, "/dev/mail", devMailLocal, devMailHost, nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /dev/mail: HTTP %d, want 405", res.StatusCode)
	}
	if res, body := devMailGet(t, h, http.MethodHead, "/dev/mail/CONFIRM1", devMailLocal, devMailHost, nil); res.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: HTTP %d, body %q", res.StatusCode, body)
	}
	res, body := devMailGet(t, h, http.MethodGet, "/dev/mail/devmail.css", devMailLocal, devMailHost, nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(body, ".mail-link") {
		t.Errorf("style sheet: HTTP %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}

// TestDevMailAccess: only loopback peers, not through a proxy, unless AllowRemote; and
// always a Host that a page of another site cannot borrow.
func TestDevMailAccess(t *testing.T) {
	in := devMailInbox(t, devMailConfirm)
	for _, tc := range []struct {
		name   string
		remote bool
		peer   string
		host   string
		header http.Header
		want   string // "" for 200, else a part of the 403's explanation
	}{
		{"loopback v4", false, "127.0.0.1:5000", "localhost:4100", nil, ""},
		{"loopback v6", false, "[::1]:5000", "[::1]:4100", nil, ""},
		{"loopback v4-mapped", false, "[::ffff:127.0.0.1]:5000", "127.0.0.1:4100", nil, ""},
		{"other loopback address", false, "127.0.0.2:5000", "127.0.0.1", nil, ""},
		{"name under .localhost", false, "127.0.0.1:5000", "toktok.localhost:4100", nil, ""},
		{"public host", false, "127.0.0.1:5000", "Auth.Example.COM:8443", nil, ""},
		{"LAN peer", false, "192.168.1.20:5000", "192.168.1.5:4100", nil, "--dev-inbox-remote"},
		{"public peer", false, "203.0.113.9:5000", "localhost:4100", nil, "--dev-inbox-remote"},
		{"X-Forwarded-For", false, "127.0.0.1:5000", "localhost:4100", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, "--dev-inbox-remote"},
		{"Forwarded", false, "127.0.0.1:5000", "localhost:4100", http.Header{"Forwarded": {"for=203.0.113.9"}}, "proxy"},
		{"X-Real-IP", false, "127.0.0.1:5000", "localhost:4100", http.Header{"X-Real-Ip": {"203.0.113.9"}}, "proxy"},
		{"Via", false, "127.0.0.1:5000", "127.0.0.1:4100", http.Header{"Via": {"1.1 nginx"}}, "proxy"},
		{"X-Forwarded-Proto", false, "127.0.0.1:5000", "127.0.0.1:4100", http.Header{"X-Forwarded-Proto": {"https"}}, "proxy"},
		{"CF-Connecting-IP", false, "127.0.0.1:5000", "127.0.0.1:4100", http.Header{"Cf-Connecting-Ip": {"203.0.113.9"}}, "proxy"},
		{"rebound name", false, "127.0.0.1:5000", "evil.example:4100", nil, "Host"},
		{"look-alike name", false, "127.0.0.1:5000", "localhost.evil.example", nil, "Host"},
		{"no Host", false, "127.0.0.1:5000", "", nil, "Host"},
		{"remote: LAN peer by address", true, "192.168.1.20:5000", "192.168.1.5:4100", nil, ""},
		{"remote: through a proxy", true, "127.0.0.1:5000", "auth.example.com", http.Header{"X-Forwarded-For": {"203.0.113.9"}}, ""},
		{"remote: rebound name", true, "192.168.1.20:5000", "evil.example:4100", nil, "Host"},
		{"remote: a LAN name", true, "192.168.1.20:5000", "devbox.lan:4100", nil, "auth.example.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHandler(t, DevMail, DevMailOptions{Inbox: in, AllowRemote: tc.remote, PublicURL: "https://auth.example.com"})
			for _, path := range []string{"/dev/mail", "/dev/mail/CONFIRM1", "/dev/mail/CONFIRM1/html", "/dev/mail/devmail.css"} {
				res, body := devMailGet(t, h, http.MethodGet, path, tc.peer, tc.host, tc.header)
				if tc.want == "" {
					if res.StatusCode != http.StatusOK {
						t.Errorf("GET %s: HTTP %d, want 200: %s", path, res.StatusCode, body)
					}
					continue
				}
				if res.StatusCode != http.StatusForbidden || !strings.Contains(body, tc.want) ||
					strings.Count(body, "\n") != 1 || strings.Contains(body, "token=") || res.Header.Get("Cache-Control") != "no-store" {
					t.Errorf("GET %s: HTTP %d %q, want 403 with one line naming %q", path, res.StatusCode, body, tc.want)
				}
			}
		})
	}
}

func TestDevMailOptions(t *testing.T) {
	in := devMailInbox(t)
	for _, opts := range []DevMailOptions{
		{},
		{Inbox: in, PublicURL: "not a url"},
		{Inbox: in, PlaygroundPath: "javascript:alert(1)"},
	} {
		if _, err := DevMail(opts); err == nil {
			t.Errorf("DevMail(%+v) accepted", opts)
		}
	}
}

// TestDevMailJSON: the JSON view lists the mails newest first with their links and text,
// keeps only the mails to ?to= when given (in any case), and is refused like the pages to
// a client the inbox does not serve.
func TestDevMailJSON(t *testing.T) {
	h := newHandler(t, DevMail, DevMailOptions{Inbox: devMailInbox(t, devMailConfirm, devMailReset)})
	type mail struct {
		ID, To, Subject, Text string
		At                    time.Time
		Links                 []string
	}
	get := func(target string) []mail {
		t.Helper()
		res, body := devMailGet(t, h, http.MethodGet, target, devMailLocal, devMailHost, nil)
		if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("GET %s: HTTP %d, %s, Cache-Control %q\n%s", target, res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), body)
		}
		var out struct{ Mails []mail }
		if err := json.Unmarshal([]byte(body), &out); err != nil {
			t.Fatalf("GET %s: %v\n%s", target, err, body)
		}
		return out.Mails
	}
	all := get("/dev/mail/mails.json")
	if len(all) != 2 || all[0].ID != "RESET2" || all[1].ID != "CONFIRM1" || !all[0].At.After(all[1].At) {
		t.Fatalf("mails %+v, want RESET2 then CONFIRM1", all)
	}
	if c := all[1]; c.To != "ann@example.com" || c.Subject != devMailConfirm.Subject || c.Text != devMailConfirm.Text ||
		len(c.Links) != 1 || c.Links[0] != "http://localhost:4100/confirm-email#token=abc-_123" {
		t.Errorf("confirm mail %+v", c)
	}
	if got := get("/dev/mail/mails.json?to=ANN@example.com"); len(got) != 1 || got[0].ID != "CONFIRM1" {
		t.Errorf("?to=ANN@example.com: %+v", got)
	}
	if got := get("/dev/mail/mails.json?to=nobody@example.com"); got == nil || len(got) != 0 {
		t.Errorf("?to=nobody: %+v, want an empty list", got)
	}
	if res, _ := devMailGet(t, h, http.MethodGet, "/dev/mail/mails.json", "192.0.2.7:5000", devMailHost, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("a remote peer: HTTP %d, want 403", res.StatusCode)
	}
}
