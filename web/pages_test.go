package web

import (
	"encoding/json"
	"html"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// pagesHTMLHeaders are the headers of both pages, and of the consoles'
// pages, exactly.
var pagesHTMLHeaders = map[string]string{
	"Content-Type":            "text/html; charset=utf-8",
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
	"Referrer-Policy":         "no-referrer",
	"X-Content-Type-Options":  "nosniff",
	"Cache-Control":           "no-store",
	"X-Frame-Options":         "DENY",
	"Vary":                    "Accept-Language",
}

// pagesIDs are the ids each page has, for the browser tests.
var pagesIDs = map[string][]string{
	confirmEmailPath:  {"not-you", "confirm-button", "status", "messages", "lang-switch"},
	resetPasswordPath: {"reset-form", "password", "password-confirm", "password-hint", "submit", "status", "reasons", "messages", "lang-switch"},
}

var (
	pagesScriptTagRE = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script\s*>`)
	pagesMessagesRE  = regexp.MustCompile(`(?s)<script type="application/json" id="messages">(.*?)</script>`)
)

// pagesMessages returns the JSON messages block of a page, parsed.
func pagesMessages(t *testing.T, body string) (raw string, messages map[string]any) {
	t.Helper()
	m := pagesMessagesRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no messages block in %s", body)
	}
	if err := json.Unmarshal([]byte(m[1]), &messages); err != nil {
		t.Fatalf("the messages block is not valid JSON: %v\n%s", err, m[1])
	}
	return m[1], messages
}

func TestPagesRenderInBothLanguages(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{Endpoint: "/graphql", AppName: "Acme", DefaultLang: "en"})
	for _, tc := range []struct {
		name, target, acceptLanguage, want string
	}{
		{"default", "", "", "en"},
		{"query en", "?lang=en", "", "en"},
		{"query fr", "?lang=fr", "", "fr"},
		{"query FR-ca", "?lang=FR-ca", "", "fr"},
		{"query wins over header", "?lang=en", "fr-FR,fr;q=0.9", "en"},
		{"query fr wins over header", "?lang=fr", "en-US", "fr"},
		{"unknown query, header", "?lang=de", "fr", "fr"},
		{"header fr", "", "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"},
		{"header en", "", "en-GB,en;q=0.9,fr;q=0.8", "en"},
		{"header prefers fr by q", "", "de;q=1, en;q=0.5, fr;q=0.8", "fr"},
		{"header prefers en by q", "", "fr;q=0.3, en;q=0.4", "en"},
		{"header neither", "", "de-DE,es", "en"},
		{"header fr refused", "", "fr;q=0, *", "en"},
		{"header token in query too", "?token=abc&lang=fr", "", "fr"},
	} {
		for _, path := range []string{confirmEmailPath, resetPasswordPath} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				header := http.Header{}
				if tc.acceptLanguage != "" {
					header.Set("Accept-Language", tc.acceptLanguage)
				}
				res, body := get(t, h, http.MethodGet, path+tc.target, header)
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200", res.StatusCode)
				}
				if !strings.Contains(body, `<html lang="`+tc.want+`">`) {
					t.Errorf("page is not in %s: %.200s", tc.want, body)
				}
				page := "confirm"
				if path == resetPasswordPath {
					page = "reset"
				}
				text := pagesCatalog[tc.want].Text
				for _, key := range []string{page + "Title", page + "Intro", "noscript", "otherLangName"} {
					want := html.EscapeString(strings.ReplaceAll(text[key], "{app}", "Acme"))
					if !strings.Contains(body, want) {
						t.Errorf("page lacks %s %q", key, want)
					}
				}
				_, messages := pagesMessages(t, body)
				if got, want := messages["invalidToken"], pagesCatalog[tc.want].Messages["invalidToken"]; got != want {
					t.Errorf("messages are not in %s: invalidToken = %q", tc.want, got)
				}
				if !strings.Contains(body, "<title>"+html.EscapeString(text[page+"Title"])+" · Acme</title>") {
					t.Errorf("title missing in %s", body)
				}
				if res.Header.Get("Vary") != "Accept-Language" {
					t.Errorf("Vary = %q", res.Header.Get("Vary"))
				}
			})
		}
	}
}

func TestPagesFrenchText(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{})
	_, body := get(t, h, http.MethodGet, confirmEmailPath+"?lang=fr", nil)
	for _, want := range []string{
		"Confirmez votre adresse e-mail",
		"Confirmer mon adresse e-mail",
		`<a id="lang-switch" href="?lang=en" hreflang="en" lang="en">English</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("French confirm page lacks %q", want)
		}
	}
	_, body = get(t, h, http.MethodGet, resetPasswordPath, http.Header{"Accept-Language": {"fr-CA"}})
	for _, want := range []string{"Choisissez un nouveau mot de passe", "Nouveau mot de passe", "Changer mon mot de passe"} {
		if !strings.Contains(body, want) {
			t.Errorf("French reset page lacks %q", want)
		}
	}
	_, messages := pagesMessages(t, body)
	if got := messages["resetDone"]; got != "Votre mot de passe a été changé. Connectez-vous avec votre nouveau mot de passe dans l’application." {
		t.Errorf("resetDone = %q", got)
	}
	if got := messages["rateLimited"]; got != "Trop de tentatives\u00a0; réessayez dans {n} secondes." {
		t.Errorf("rateLimited = %q", got)
	}
	_, body = get(t, h, http.MethodGet, confirmEmailPath+"?lang=en", nil)
	if !strings.Contains(body, `<a id="lang-switch" href="?lang=fr" hreflang="fr" lang="fr">Français</a>`) {
		t.Error("English page lacks the link to French")
	}
}

func TestPagesHeaders(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{})
	for _, path := range []string{confirmEmailPath, resetPasswordPath, confirmEmailPath + "?lang=fr", resetPasswordPath + "?token=x"} {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			res, body := get(t, h, method, path, nil)
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s %s: status %d", method, path, res.StatusCode)
			}
			for k, want := range pagesHTMLHeaders {
				if got := res.Header.Values(k); len(got) != 1 || got[0] != want {
					t.Errorf("%s %s: %s = %q, want %q", method, path, k, got, want)
				}
			}
			if method == http.MethodHead && body != "" {
				t.Errorf("HEAD %s has a body", path)
			}
			if method == http.MethodGet && res.Header.Get("Content-Length") != "" && len(body) == 0 {
				t.Errorf("GET %s: empty body", path)
			}
		}
	}

	csp := pagesHTMLHeaders["Content-Security-Policy"]
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "http:", "https:", "//", "*", "nonce-", "sha256-"} {
		if strings.Contains(csp, bad) {
			t.Errorf("CSP %q contains %q", csp, bad)
		}
	}
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for _, name := range []string{"script-src", "style-src", "connect-src"} {
		if directives[name] != "'self'" {
			t.Errorf("CSP %s = %q, want 'self'", name, directives[name])
		}
	}
}

func TestPagesMarkup(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{})
	var rawMessages []string
	for _, lang := range []string{"en", "fr"} {
		for _, path := range []string{confirmEmailPath, resetPasswordPath} {
			_, body := get(t, h, http.MethodGet, path+"?lang="+lang, nil)

			for _, id := range pagesIDs[path] {
				if n := strings.Count(body, ` id="`+id+`"`); n != 1 {
					t.Errorf("%s %s: id %q appears %d times", lang, path, id, n)
				}
			}
			for _, want := range []string{
				`<meta name="viewport" content="width=device-width, initial-scale=1">`,
				`<meta charset="utf-8">`,
				`<link rel="stylesheet" href="/pages/pages.css">`,
				`<script src="/pages/toktok-crypto.js"></script>` + "\n" + `<script src="/pages/pages.js"></script>`,
				`data-endpoint="/graphql"`,
				`<p id="status" role="status" aria-live="polite" aria-atomic="true"></p>`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("%s %s lacks %q", lang, path, want)
				}
			}

			// No inline executable script: every <script> has a src and no
			// content, but the JSON block.
			scripts := pagesScriptTagRE.FindAllStringSubmatch(body, -1)
			if len(scripts) != 4 {
				t.Errorf("%s %s: %d scripts, want 4", lang, path, len(scripts))
			}
			for _, m := range scripts {
				attrs, content := m[1], m[2]
				switch {
				case strings.Contains(attrs, ` src="/pages/`) && strings.TrimSpace(content) == "":
				case strings.TrimSpace(attrs) == `type="application/json" id="messages"`:
				default:
					t.Errorf("%s %s: inline script %q", lang, path, m[0])
				}
			}
			if strings.Count(strings.ToLower(body), "<script") != len(scripts) {
				t.Errorf("%s %s: unbalanced <script> tags", lang, path)
			}
			// No inline style, no inline event handler, no external URL.
			for _, bad := range []string{"<style", " style=", " onclick=", " onsubmit=", " onload=", "http://", "https://", `="javascript:`} {
				if strings.Contains(strings.ToLower(body), bad) {
					t.Errorf("%s %s contains %q", lang, path, bad)
				}
			}
			// Every local asset the page names is served, as what it is.
			for _, m := range regexp.MustCompile(`(?:src|href)="(/pages/[^"]+)"`).FindAllStringSubmatch(body, -1) {
				res, _ := get(t, h, http.MethodGet, m[1], nil)
				if res.StatusCode != http.StatusOK {
					t.Errorf("%s %s: %s answers %d", lang, path, m[1], res.StatusCode)
				}
			}

			raw, messages := pagesMessages(t, body)
			rawMessages = append(rawMessages, raw)
			if strings.ContainsAny(raw, "<>&") || strings.Contains(raw, "\u2028") || strings.Contains(raw, "\u2029") {
				t.Errorf("%s %s: the messages block is not HTML-safe: %s", lang, path, raw)
			}
			reasons, ok := messages["reasons"].(map[string]any)
			if !ok {
				t.Fatalf("%s %s: no reasons in the messages", lang, path)
			}
			for _, code := range []string{"too_short", "too_long", "contains_email", "contains_service_name", "common", "other"} {
				if s, _ := reasons[code].(string); s == "" {
					t.Errorf("%s %s: no text for reason %s", lang, path, code)
				}
			}
		}
	}

	// The reset page only has the form; the confirm page only the button.
	_, confirmBody := get(t, h, http.MethodGet, confirmEmailPath, nil)
	_, resetBody := get(t, h, http.MethodGet, resetPasswordPath, nil)
	if strings.Contains(confirmBody, "<form") || strings.Contains(confirmBody, `src="/pages/reset.js"`) || !strings.Contains(confirmBody, `src="/pages/confirm.js"`) {
		t.Error("the confirm page has the reset page's parts")
	}
	if strings.Contains(resetBody, `id="confirm-button"`) || strings.Contains(resetBody, `src="/pages/confirm.js"`) || !strings.Contains(resetBody, `src="/pages/reset.js"`) {
		t.Error("the reset page has the confirm page's parts")
	}
	for _, want := range []string{
		`<input id="password" type="password" autocomplete="new-password"`,
		`<input id="password-confirm" type="password" autocomplete="new-password"`,
		`<label for="password">`,
		`<label for="password-confirm">`,
		`<form id="reset-form" method="post" novalidate>`,
		`<button id="submit" type="submit" disabled>`,
		`<ul id="reasons" hidden></ul>`,
	} {
		if !strings.Contains(resetBody, want) {
			t.Errorf("the reset page lacks %q", want)
		}
	}
	if !strings.Contains(confirmBody, `<button id="confirm-button" type="button" disabled>`) {
		t.Error("the confirm page lacks its (initially disabled) button")
	}
	if len(slices.Compact(slices.Sorted(slices.Values(rawMessages)))) != 2 {
		t.Error("want one messages block per language, the same on both pages")
	}
}

// TestPagesConfirmNotYou: the confirm page is where a link lands for whoever owns the
// address, who may not be who registered it (a typo, or an attacker pre-registering someone
// else's address). Before its button, in both languages, the page tells that reader not to
// click, and how to take the address back (a reset, which ends every session); the text is
// static markup, so the strict CSP needs nothing inline for it. The reset page has none of
// it.
func TestPagesConfirmNotYou(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{AppName: "Acme & Co"})
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"en", []string{"Did not create an account with Acme &amp; Co", "do not click the button", "nothing is confirmed",
			"Forgot password", "signs out anyone else"}},
		{"fr", []string{"Vous n’avez pas créé de compte Acme &amp; Co", "ne cliquez pas sur le bouton", "rien n’est confirmé",
			"Mot de passe oublié", "déconnecte aussi toute autre personne"}},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			_, body := get(t, h, http.MethodGet, confirmEmailPath+"?lang="+tc.lang, nil)
			m := regexp.MustCompile(`<p id="not-you" class="note">([^<]*)</p>\s*<button id="confirm-button"`).FindStringSubmatch(body)
			if m == nil {
				t.Fatalf("no not-you paragraph right before the button:\n%s", body)
			}
			for _, want := range tc.want {
				if !strings.Contains(m[1], want) {
					t.Errorf("the not-you paragraph lacks %q: %s", want, m[1])
				}
			}
			_, reset := get(t, h, http.MethodGet, resetPasswordPath+"?lang="+tc.lang, nil)
			if strings.Contains(reset, `id="not-you"`) {
				t.Error("the reset page carries the confirm page's not-you paragraph")
			}
		})
	}
	css, err := pagesFiles.ReadFile("pages/pages.css")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\.note \{`).Match(css) {
		t.Error("pages.css does not style .note")
	}
}

// TestPagesScriptsUseKnownMessages checks that every message the scripts
// name (M.name, reasonText.name) exists in both languages.
func TestPagesScriptsUseKnownMessages(t *testing.T) {
	for _, name := range []string{"pages.js", "confirm.js", "reset.js"} {
		src, err := pagesFiles.ReadFile("pages/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`\bM\.(\w+)`).FindAllStringSubmatch(string(src), -1) {
			key := m[1]
			for lang, cat := range pagesCatalog {
				if _, ok := cat.Messages[key]; !ok && key != "reasons" {
					t.Errorf("%s uses M.%s, which %s lacks", name, key, lang)
				}
			}
		}
		if strings.Contains(string(src), "innerHTML") || strings.Contains(string(src), "insertAdjacentHTML") ||
			strings.Contains(string(src), "document.write") || strings.Contains(string(src), "eval(") {
			t.Errorf("%s writes HTML", name)
		}
	}
}

func TestPagesCatalog(t *testing.T) {
	en, fr := pagesCatalog["en"], pagesCatalog["fr"]
	for _, pair := range []struct {
		name   string
		en, fr map[string]string
	}{{"Text", en.Text, fr.Text}, {"Messages", en.Messages, fr.Messages}, {"Reasons", en.Reasons, fr.Reasons}} {
		if !slices.Equal(slices.Sorted(maps.Keys(pair.en)), slices.Sorted(maps.Keys(pair.fr))) {
			t.Errorf("%s: the languages have different keys", pair.name)
		}
		for k, v := range pair.en {
			f := pair.fr[k]
			if v == "" || f == "" {
				t.Errorf("%s.%s is empty", pair.name, k)
			}
			if v == f && k != "otherLangName" {
				t.Errorf("%s.%s is not translated: %q", pair.name, k, v)
			}
			// The same placeholders in both languages.
			ph := regexp.MustCompile(`\{\w+\}`)
			if !slices.Equal(slices.Sorted(slices.Values(ph.FindAllString(v, -1))), slices.Sorted(slices.Values(ph.FindAllString(f, -1)))) {
				t.Errorf("%s.%s: placeholders differ: %q / %q", pair.name, k, v, f)
			}
			if strings.Contains(f, " :") || strings.Contains(f, " ;") {
				t.Errorf("%s.%s: French wants a no-break space before : and ;: %q", pair.name, k, f)
			}
		}
	}
	for _, want := range []struct{ got, want string }{
		{en.Messages["invalidToken"], "This link is invalid or has expired. Request a new one from the app."},
		{en.Messages["emailTaken"], "This address is already used by another account."},
		{en.Messages["confirmed"], "Your email address {email} is confirmed."},
		{en.Messages["resetDone"], "Your password was changed. Sign in with your new password in the app."},
		{en.Messages["rateLimited"], "Too many attempts; try again in {n} seconds."},
		{en.Text["confirmButton"], "Confirm my email address"},
	} {
		if want.got != want.want {
			t.Errorf("got %q, want %q", want.got, want.want)
		}
	}
}

func TestPagesAssets(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{})
	for path, ctype := range map[string]string{
		"/pages/toktok-crypto.js": "text/javascript; charset=utf-8",
		"/pages/pages.js":         "text/javascript; charset=utf-8",
		"/pages/confirm.js":       "text/javascript; charset=utf-8",
		"/pages/reset.js":         "text/javascript; charset=utf-8",
		"/pages/pages.css":        "text/css; charset=utf-8",
	} {
		file := "pages/" + strings.TrimPrefix(path, "/pages/")
		if path == "/pages/toktok-crypto.js" {
			file = sharedCryptoScript
		}
		checkStaticFile(t, h, path, embeddedFile(t, file), ctype)
	}
}

func TestPagesMethodsAndPaths(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{})
	for _, path := range []string{confirmEmailPath, resetPasswordPath, "/pages/reset.js", "/pages/pages.css", "/nope"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions} {
			res, _ := get(t, h, method, path, nil)
			if res.StatusCode != http.StatusMethodNotAllowed {
				t.Errorf("%s %s: status %d, want 405", method, path, res.StatusCode)
			}
			if got := res.Header.Get("Allow"); got != "GET, HEAD" {
				t.Errorf("%s %s: Allow = %q", method, path, got)
			}
		}
	}
	for _, path := range []string{"/", "/confirm-email/", "/reset-password/x", "/pages/", "/pages/page.html",
		"/pages/../pages.go", "/pages/nope.js", "/playground", "/pages/PAGES.JS",
		"/pages/shared/toktok-crypto.js", "/pages/toktok-fetcher.js", "/playground/toktok-crypto.js"} {
		if res, _ := get(t, h, http.MethodGet, path, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
}

func TestPagesOptions(t *testing.T) {
	h := newHandler(t, Pages, PagesOptions{
		Endpoint:    "/api/graphql?x=1&y=2",
		AppName:     `Evil <script>alert("x")</script> & Co`,
		DefaultLang: "FR",
	})
	_, body := get(t, h, http.MethodGet, resetPasswordPath, nil)
	if strings.Contains(body, "<script>alert") {
		t.Error("the app name is not escaped")
	}
	if !strings.Contains(body, `Evil &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co`) {
		t.Errorf("the app name is missing: %s", body)
	}
	if !strings.Contains(body, `data-endpoint="/api/graphql?x=1&amp;y=2"`) {
		t.Error("the endpoint is missing or not escaped")
	}
	if !strings.Contains(body, `<html lang="fr">`) {
		t.Error(`DefaultLang "FR" is not honoured`)
	}
	if _, body := get(t, h, http.MethodGet, resetPasswordPath, http.Header{"Accept-Language": {"en"}}); !strings.Contains(body, `<html lang="en">`) {
		t.Error("Accept-Language does not win over DefaultLang")
	}

	// Defaults.
	h = newHandler(t, Pages, PagesOptions{})
	_, body = get(t, h, http.MethodGet, confirmEmailPath, nil)
	for _, want := range []string{`data-endpoint="/graphql"`, `<html lang="en">`, `<p class="app-name">TokTok</p>`} {
		if !strings.Contains(body, want) {
			t.Errorf("defaults: page lacks %q", want)
		}
	}

	for _, opts := range []PagesOptions{
		{Endpoint: "https://api.example.com/graphql"},
		{Endpoint: "//evil.example/graphql"},
		{Endpoint: "graphql"},
		{Endpoint: "/graph ql"},
		{Endpoint: `/graphql\x`},
		{Endpoint: "/graphql#frag"},
		{Endpoint: "javascript:alert(1)"},
		{DefaultLang: "de"},
		{DefaultLang: "english"},
		{AppName: "bad\nname"},
	} {
		if _, err := Pages(opts); err == nil {
			t.Errorf("Pages(%+v) = nil error", opts)
		}
	}
}

func TestPagesAcceptLanguage(t *testing.T) {
	for _, tc := range []struct {
		header []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"*"}, ""},
		{[]string{"fr"}, "fr"},
		{[]string{"FR-fr"}, "fr"},
		{[]string{"en-US,en;q=0.9"}, "en"},
		{[]string{"fr;q=0.5,en;q=0.5"}, "fr"},
		{[]string{"en;q=0.5,fr;q=0.5"}, "en"},
		{[]string{"en;q=0.1", "fr;q=0.2"}, "fr"},
		{[]string{"fr;q=0"}, ""},
		{[]string{"fr;q=abc,en;q=0.1"}, "en"},
		{[]string{"fr;q=2,en;q=0.1"}, "en"},
		{[]string{"de, fr ; q = 0.7 , en;q=0.6"}, "fr"},
		{[]string{"fr_CA"}, "fr"},
		{[]string{"french"}, ""},
		{[]string{strings.Repeat("de,", 100) + "fr"}, ""},
	} {
		if got := pagesAcceptLanguage(tc.header); got != tc.want {
			t.Errorf("pagesAcceptLanguage(%q) = %q, want %q", tc.header, got, tc.want)
		}
	}
}

// TestPagesJavaScriptSyntax parses the pages' scripts with node (see nodePath).
func TestPagesJavaScriptSyntax(t *testing.T) {
	node := nodePath(t)
	for _, name := range []string{filepath.FromSlash(sharedCryptoScript), filepath.Join("pages", "pages.js"),
		filepath.Join("pages", "confirm.js"), filepath.Join("pages", "reset.js")} {
		out, err := exec.CommandContext(t.Context(), node, "--check", name).CombinedOutput()
		if err != nil {
			t.Errorf("node --check %s: %v\n%s", name, err, out)
		}
	}
}

// TestPagesWithNode runs testdata/pages_check.js, which drives the pages'
// scripts in a fake DOM against a fake server under Node's WebCrypto,
// with the messages of the rendered pages, and decrypts here the new
// password it saw encrypted, as the server would.
func TestPagesWithNode(t *testing.T) {
	node := nodePath(t)
	key, pemKey := nodeRSAKey(t)

	h := newHandler(t, Pages, PagesOptions{})
	messages := map[string]json.RawMessage{}
	for _, lang := range []string{"en", "fr"} {
		_, body := get(t, h, http.MethodGet, resetPasswordPath+"?lang="+lang, nil)
		raw, _ := pagesMessages(t, body)
		messages[lang] = json.RawMessage(raw)
	}
	msgJSON, err := json.Marshal(messages)
	if err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "pages_check.js"), "pages",
		filepath.FromSlash(sharedCryptoScript))
	cmd.Env = append(os.Environ(), "TOKTOK_TEST_PEM="+string(pemKey), "TOKTOK_PAGES_MESSAGES="+string(msgJSON))
	nodeCheckCiphertexts(t, cmd, "pages_check.js", key, 1)
}

// TestSharedCryptoScript checks that the pages and the playground serve the
// same toktok-crypto.js, the embedded file, with the same headers, and that
// neither pages.js nor toktok-fetcher.js keeps a copy of its helpers.
func TestSharedCryptoScript(t *testing.T) {
	want, err := sharedFiles.ReadFile(sharedCryptoScript)
	if err != nil {
		t.Fatal(err)
	}
	pagesRes, pagesBody := get(t, newHandler(t, Pages, PagesOptions{}), http.MethodGet, "/pages/toktok-crypto.js", nil)
	pgRes, pgBody := get(t, newHandler(t, Playground, PlaygroundOptions{}), http.MethodGet, "/playground/toktok-crypto.js", nil)
	if pagesRes.StatusCode != http.StatusOK || pgRes.StatusCode != http.StatusOK {
		t.Fatalf("status %d (pages), %d (playground)", pagesRes.StatusCode, pgRes.StatusCode)
	}
	if pagesBody != string(want) || pgBody != string(want) {
		t.Error("toktok-crypto.js: not the embedded file")
	}
	for _, k := range []string{"Content-Type", "ETag", "Cache-Control", "X-Content-Type-Options", "Referrer-Policy"} {
		if a, b := pagesRes.Header.Get(k), pgRes.Header.Get(k); a == "" || a != b {
			t.Errorf("toktok-crypto.js %s: %q (pages), %q (playground)", k, a, b)
		}
	}
	for _, file := range []string{"pages/pages.js", "playground/toktok-fetcher.js"} {
		fsys := pagesFiles
		if strings.HasPrefix(file, "playground/") {
			fsys = playgroundFiles
		}
		src, err := fsys.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, def := range []string{"function requireSubtle", "function pemToDer", "function importPublicKey",
			"function bytesToBase64", "function encryptValue", "function encryptJWE", "function concatKDF",
			"function importServerKey", "root.toktokCrypto"} {
			if has := strings.Contains(string(src), def); has != (def == "root.toktokCrypto") {
				t.Errorf("%s: contains %q = %v", file, def, has)
			}
		}
	}
}
