package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The tests of the consoles' framework (console.go), on the account
// console; the admin console's own tests are in admin_console_test.go.

// consoleAccountIDs are the ids that account.js and the browser tests use.
var consoleAccountIDs = []string{
	"signin-form", "signin-email", "signin-password", "signin-submit", "signin-status", "signin-forgot",
	"account-view", "account-title", "account-status", "who", "signout",
	"profile-form", "profile-name", "profile-surname", "profile-pseudo", "profile-lang", "profile-status",
	"sessions-list", "sessions-status", "signout-all", "sessions-reload",
	"password-form", "password-current", "password-new", "password-confirm", "password-status", "password-reasons",
	"email-form", "email-new", "email-password", "email-status", "email-pending",
	"delete-start", "delete-form", "delete-password", "delete-understand", "delete-confirm", "delete-cancel", "delete-status",
	"messages", "lang-switch", "main",
	// Second factors and passkeys.
	"signin-passkey", "signin-passkey-box",
	"mfa-view", "mfa-title", "mfa-form", "mfa-code", "mfa-recovery", "mfa-totp-field", "mfa-recovery-field",
	"mfa-submit", "mfa-toggle", "mfa-passkey", "mfa-cancel", "mfa-status",
	"twofactor", "twofactor-title", "twofactor-state", "twofactor-status", "factors-list",
	"factor-remove", "factor-remove-text", "factor-remove-yes", "factor-remove-no",
	"totp-start-form", "totp-name", "totp-start", "totp-enroll", "totp-qr", "totp-secret",
	"totp-confirm-form", "totp-code", "totp-confirm", "totp-cancel", "totp-status",
	"recovery-title", "recovery-remaining", "recovery-regenerate", "recovery-confirm", "recovery-confirm-text",
	"recovery-confirm-yes", "recovery-confirm-no", "recovery-box", "recovery-codes-title", "recovery-list",
	"recovery-copy", "recovery-download", "recovery-done", "recovery-status",
	"passkeys", "passkeys-title", "passkey-form", "passkey-name", "passkey-add", "passkey-status",
}

// consoleAccountStatusIDs are the account console's live status regions.
var consoleAccountStatusIDs = []string{
	"signin-status", "account-status", "profile-status", "sessions-status", "password-status", "email-status", "delete-status",
	"mfa-status", "twofactor-status", "totp-status", "recovery-status", "passkey-status",
}

func TestConsoleLanguage(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	hFR := newHandler(t, AccountConsole, ConsoleOptions{DefaultLang: "FR"})
	for _, tc := range []struct {
		name           string
		h              http.Handler
		target, accept string
		want           string
	}{
		{"default", h, "/account", "", "en"},
		{"slash", h, "/account/", "", "en"},
		{"query fr", h, "/account?lang=fr", "", "fr"},
		{"query fr-CA", h, "/account/?lang=fr-CA", "", "fr"},
		{"query wins", h, "/account?lang=en", "fr", "en"},
		{"bad query", h, "/account?lang=de", "fr;q=0.8", "fr"},
		{"accept fr", h, "/account", "de, fr-CH;q=0.9, en;q=0.8", "fr"},
		{"accept en", hFR, "/account", "en-GB", "en"},
		{"default fr", hFR, "/account", "de", "fr"},
	} {
		hdr := http.Header{}
		if tc.accept != "" {
			hdr.Set("Accept-Language", tc.accept)
		}
		res, body := get(t, tc.h, http.MethodGet, tc.target, hdr)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", tc.name, res.StatusCode)
		}
		if !strings.Contains(body, `<html lang="`+tc.want+`">`) {
			t.Errorf("%s: not in %s", tc.name, tc.want)
		}
		other := map[string]string{"en": "fr", "fr": "en"}[tc.want]
		if !strings.Contains(body, `href="?lang=`+other+`"`) {
			t.Errorf("%s: no switch link to %s", tc.name, other)
		}
	}
	_, en := get(t, h, http.MethodGet, "/account?lang=en", nil)
	_, fr := get(t, h, http.MethodGet, "/account?lang=fr", nil)
	for _, want := range []string{"Sign in to your account", "Change your password", "Sign out everywhere", "Delete your account"} {
		if !strings.Contains(en, want) {
			t.Errorf("the English page lacks %q", want)
		}
	}
	for _, want := range []string{"Connectez-vous à votre compte", "Changer votre mot de passe", "Se déconnecter partout", "Supprimer votre compte"} {
		if !strings.Contains(fr, want) {
			t.Errorf("the French page lacks %q", want)
		}
	}
}

func TestConsoleHeaders(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	res, body := get(t, h, http.MethodGet, "/account", nil)
	for k, v := range pagesHTMLHeaders {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	head, headBody := get(t, h, http.MethodHead, "/account", nil)
	if head.StatusCode != http.StatusOK || headBody != "" {
		t.Errorf("HEAD /account: status %d, %d bytes", head.StatusCode, len(headBody))
	}
	if got, want := head.Header.Get("Content-Length"), res.Header.Get("Content-Length"); got == "" || got != want {
		t.Errorf("HEAD Content-Length %q, GET %q", got, want)
	}
	if res.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %s for %d bytes", res.Header.Get("Content-Length"), len(body))
	}
}

// TestConsoleMarkup: no inline script or style anywhere (the CSP would
// block them), the scripts in their order from the console's own path,
// every id once, every input labelled.
func TestConsoleMarkup(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{AppName: "Acme"})
	for _, lang := range pagesLangs {
		_, body := get(t, h, http.MethodGet, "/account?lang="+lang, nil)
		var srcs []string
		for _, m := range pagesScriptTagRE.FindAllStringSubmatch(body, -1) {
			attrs, content := m[1], m[2]
			if strings.Contains(attrs, `type="application/json"`) {
				continue
			}
			if strings.TrimSpace(content) != "" {
				t.Errorf("%s: inline script %q", lang, content)
			}
			src := regexp.MustCompile(`src="([^"]+)"`).FindStringSubmatch(attrs)
			if src == nil {
				t.Errorf("%s: a script without src: %s", lang, attrs)
				continue
			}
			srcs = append(srcs, src[1])
		}
		want := []string{"/account/toktok-crypto.js", "/account/pages.js", "/account/console.js", "/account/account.js"}
		if !slices.Equal(srcs, want) {
			t.Errorf("%s: scripts %v, want %v", lang, srcs, want)
		}
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`(?i)<style\b`),
			regexp.MustCompile(`(?i)\sstyle=`),
			regexp.MustCompile(`(?i)\son[a-z]+=`),
			regexp.MustCompile(`(?i)(?:href|src|action)="\s*javascript:`),
		} {
			if loc := bad.FindStringIndex(body); loc != nil {
				t.Errorf("%s: inline code or style: %q", lang, body[loc[0]:min(len(body), loc[1]+40)])
			}
		}
		if !strings.Contains(body, `<link rel="stylesheet" href="/account/console.css">`) {
			t.Errorf("%s: no style sheet link", lang)
		}
		for _, id := range consoleAccountIDs {
			if n := strings.Count(body, ` id="`+id+`"`); n != 1 {
				t.Errorf("%s: id %q appears %d times", lang, id, n)
			}
		}
		for _, m := range regexp.MustCompile(`<(?:input|select)\b[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			if !strings.Contains(body, `<label for="`+m[1]+`"`) && !strings.Contains(body, `<label class="check" for="`+m[1]+`"`) {
				t.Errorf("%s: input #%s has no label", lang, m[1])
			}
		}
		for _, id := range consoleAccountStatusIDs {
			if !strings.Contains(body, `id="`+id+`" class="status" role="status" aria-live="polite"`) {
				t.Errorf("%s: #%s is no live status region", lang, id)
			}
		}
		if !strings.Contains(body, `data-endpoint="/graphql"`) || !strings.Contains(body, `<title>`) {
			t.Errorf("%s: no endpoint or title", lang)
		}
		_, messages := pagesMessages(t, body)
		if messages["errInvalidCredentials"] == nil || messages["profileSaved"] == nil {
			t.Errorf("%s: the messages lack the shared or the account keys: %v", lang, slices.Sorted(maps.Keys(messages)))
		}
	}
}

func TestConsoleAppName(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{AppName: `<Acme & "Co">`})
	_, body := get(t, h, http.MethodGet, "/account", nil)
	if strings.Contains(body, `<Acme`) || !strings.Contains(body, "&lt;Acme &amp; &#34;Co&#34;&gt;") {
		t.Errorf("the app name is not escaped")
	}
	if strings.Contains(body, "{app}") {
		t.Errorf("a {app} placeholder is left")
	}
}

func TestConsoleOptions(t *testing.T) {
	for _, opts := range []ConsoleOptions{
		{Endpoint: "https://evil.example/graphql"},
		{Endpoint: "//evil.example/graphql"},
		{Endpoint: "graphql"},
		{Endpoint: "/graph ql"},
		{AppName: "Acme\nCo"},
		{DefaultLang: "de"},
	} {
		if _, err := AccountConsole(opts); err == nil {
			t.Errorf("AccountConsole(%+v) accepted", opts)
		}
	}
	h := newHandler(t, AccountConsole, ConsoleOptions{Endpoint: "/api/graphql"})
	if _, body := get(t, h, http.MethodGet, "/account", nil); !strings.Contains(body, `data-endpoint="/api/graphql"`) {
		t.Errorf("the endpoint is not on the page")
	}
	if _, err := newConsole(consoleSpec{Name: "nonesuch", Path: "/nonesuch"}, ConsoleOptions{}); err == nil {
		t.Error("a console without a template was built")
	}
}

func TestConsoleAssets(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	for name, ctype := range map[string]string{
		"toktok-crypto.js": "text/javascript; charset=utf-8",
		"pages.js":         "text/javascript; charset=utf-8",
		"console.js":       "text/javascript; charset=utf-8",
		"account.js":       "text/javascript; charset=utf-8",
		"console.css":      "text/css; charset=utf-8",
	} {
		file := "console/" + name
		switch name {
		case "toktok-crypto.js":
			file = sharedCryptoScript
		case "pages.js":
			file = "pages/pages.js"
		}
		checkStaticFile(t, h, "/account/"+name, embeddedFile(t, file), ctype)
	}
}

func TestConsoleMethodsAndPaths(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
		for _, target := range []string{"/account", "/account/console.js", "/account/nope"} {
			res, _ := get(t, h, method, target, nil)
			if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: status %d, Allow %q", method, target, res.StatusCode, res.Header.Get("Allow"))
			}
		}
	}
	for _, target := range []string{
		"/account/nope", "/account/account.html", "/account/i18n/account.en.json", "/account/console/console.js",
		"/account//console.js", "/account/admin.js", "/accounts", "/account/pages.css", "/account/confirm.js",
	} {
		if res, _ := get(t, h, http.MethodGet, target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
}

// consoleCatalogKeys lists the keys of a JSON object, nested ones as
// "a.b", for the comparison of two languages.
func consoleCatalogKeys(prefix string, v any, out map[string]any) {
	m, ok := v.(map[string]any)
	if !ok {
		out[prefix] = v
		return
	}
	for k, sub := range m {
		name := k
		if prefix != "" {
			name = prefix + "." + k
		}
		consoleCatalogKeys(name, sub, out)
	}
}

// TestConsoleCatalogs: every i18n file (of every console, admin's too)
// decodes strictly, and its English and French versions have the same
// keys, in both sections, with the same placeholders and no empty text;
// the shared and account files are also checked for untranslated text and
// French typography (a no-break space before : ; ?).
func TestConsoleCatalogs(t *testing.T) {
	files, err := fs.Glob(consoleFiles, "console/i18n/*.en.json")
	if err != nil || len(files) < 2 {
		t.Fatalf("i18n files: %v %v", files, err)
	}
	placeholder := regexp.MustCompile(`\{\w+\}`)
	same := map[string]bool{"text.otherLangName": true, "text.sessionsTitle": true, "text.langNav": false}
	for _, enFile := range files {
		frFile := strings.TrimSuffix(enFile, ".en.json") + ".fr.json"
		flat := map[string]map[string]any{}
		for lang, file := range map[string]string{"en": enFile, "fr": frFile} {
			if _, err := consoleReadCatalog(file); err != nil {
				t.Errorf("%s: %v", file, err)
				continue
			}
			raw, _ := consoleFiles.ReadFile(file)
			var v map[string]any
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			flat[lang] = map[string]any{}
			consoleCatalogKeys("", v, flat[lang])
		}
		if flat["en"] == nil || flat["fr"] == nil {
			continue
		}
		if en, fr := slices.Sorted(maps.Keys(flat["en"])), slices.Sorted(maps.Keys(flat["fr"])); !slices.Equal(en, fr) {
			t.Errorf("%s and %s have different keys:\n en %v\n fr %v", enFile, frFile, en, fr)
		}
		for k, ev := range flat["en"] {
			es, _ := ev.(string)
			frs, _ := flat["fr"][k].(string)
			if es == "" || frs == "" {
				t.Errorf("%s: %s is empty or no string", path.Base(enFile), k)
				continue
			}
			if es == frs && !same[k] && path.Base(enFile) == "account.en.json" {
				t.Errorf("%s: %s is not translated: %q", path.Base(enFile), k, es)
			}
			if !slices.Equal(slices.Sorted(slices.Values(placeholder.FindAllString(es, -1))),
				slices.Sorted(slices.Values(placeholder.FindAllString(frs, -1)))) {
				t.Errorf("%s: %s: placeholders differ: %q / %q", path.Base(enFile), k, es, frs)
			}
			mine := path.Base(enFile) == "account.en.json" || path.Base(enFile) == "console.en.json"
			if mine && (strings.Contains(frs, " :") || strings.Contains(frs, " ;") || strings.Contains(frs, " ?")) {
				t.Errorf("%s: %s: French wants a no-break space before : ; ?: %q", path.Base(frFile), k, frs)
			}
		}
	}
}

// TestConsoleMissingKey: a key that the template uses and a language
// lacks fails the rendering, so the construction.
func TestConsoleMissingKey(t *testing.T) {
	tmpl, err := consoleTemplate("account")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := consoleLoadCatalog("account", "en")
	if err != nil {
		t.Fatal(err)
	}
	data := consoleData{Lang: "en", OtherLang: "fr", AppName: "A", Endpoint: "/graphql", Path: "/account", T: cat.Text, Messages: cat.Messages}
	if err := tmpl.Execute(&bytes.Buffer{}, data); err != nil {
		t.Fatalf("the full catalog: %v", err)
	}
	data.T = maps.Clone(cat.Text)
	delete(data.T, "deleteConfirm")
	if err := tmpl.Execute(&bytes.Buffer{}, data); err == nil || !strings.Contains(err.Error(), "deleteConfirm") {
		t.Fatalf("a missing key: %v, want an error naming it", err)
	}
}

// TestConsoleScriptsUseKnownMessages: every message key that the scripts
// name exists in both languages, and no script writes HTML.
func TestConsoleScriptsUseKnownMessages(t *testing.T) {
	messages := map[string]map[string]any{}
	for _, lang := range pagesLangs {
		cat, err := consoleLoadCatalog("account", lang)
		if err != nil {
			t.Fatal(err)
		}
		messages[lang] = cat.Messages
	}
	keyRE := regexp.MustCompile(`\bt\((?:M, )?'(\w+)'|: '(err\w+)'|\bM\.(\w+)`)
	for _, name := range []string{"console.js", "account.js"} {
		src, err := consoleFiles.ReadFile("console/" + name)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, m := range keyRE.FindAllStringSubmatch(string(src), -1) {
			key := m[1] + m[2] + m[3]
			n++
			for lang, msgs := range messages {
				if _, ok := msgs[key]; !ok {
					t.Errorf("%s uses the message %q, which %s lacks", name, key, lang)
				}
			}
		}
		if n < 5 {
			t.Errorf("%s: only %d message keys found: the pattern is stale", name, n)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "document.cookie"} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
		// Tokens live in memory only.
		if m := regexp.MustCompile(`\b(?:localStorage|sessionStorage|indexedDB)\s*[.\[]`).FindString(string(src)); m != "" {
			t.Errorf("%s uses storage: %s", name, m)
		}
	}
}

// TestConsoleJavaScriptSyntax parses the consoles' scripts with node.
func TestConsoleJavaScriptSyntax(t *testing.T) {
	node := nodePath(t)
	for _, name := range []string{"console.js", "account.js"} {
		out, err := exec.CommandContext(t.Context(), node, "--check", filepath.Join("console", name)).CombinedOutput()
		if err != nil {
			t.Errorf("node --check %s: %v\n%s", name, err, out)
		}
	}
}

// TestConsoleWithNode runs testdata/console_check.js: console.js's pure
// helpers, and its session against a fake server (anonymous token,
// login, one refresh on UNAUTHENTICATED, sign-out when it fails).
func TestConsoleWithNode(t *testing.T) {
	node := nodePath(t)
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	_, body := get(t, h, http.MethodGet, "/account?lang=en", nil)
	raw, _ := pagesMessages(t, body)
	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "console_check.js"))
	cmd.Env = append(os.Environ(), "TOKTOK_CONSOLE_MESSAGES="+raw)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("console_check.js: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok") {
		t.Fatalf("console_check.js said: %s", out)
	}
}

// TestConsoleMFAMarkup: the second-factor parts of the account console. The
// passkey sign-in button is the account console's only (the admin
// console's sign-in form has none); the code fields ask for digits and
// one-time codes; the QR code is an image with a text alternative, whose
// data: URL account.js builds and the page's CSP (img-src) allows; the
// sections are labelled by their headings, in both languages.
func TestConsoleMFAMarkup(t *testing.T) {
	h := newHandler(t, AccountConsole, ConsoleOptions{})
	for lang, want := range map[string][]string{
		"en": {"Sign in with a passkey", "Two-step verification", "Use a recovery code", "Use a passkey",
			"Two-factor authentication", "Add an authenticator app", "Generate new recovery codes", "They are shown only once",
			"Passkeys", "Add a passkey", `alt="QR code to scan with your authenticator app"`},
		"fr": {"Se connecter avec une clé d’accès", "Vérification en deux étapes", "Utiliser un code de secours",
			"Authentification à deux facteurs", "Ajouter une application d’authentification", "Générer de nouveaux codes de secours",
			"Ils ne sont affichés qu’une fois", "Clés d’accès", "Ajouter une clé d’accès"},
	} {
		res, body := get(t, h, http.MethodGet, "/account?lang="+lang, nil)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
		for _, id := range []string{"mfa-code", "totp-code"} {
			m := regexp.MustCompile(`<input id="` + id + `"[^>]*>`).FindString(body)
			if !strings.Contains(m, `inputmode="numeric"`) || !strings.Contains(m, `autocomplete="one-time-code"`) {
				t.Errorf("%s: #%s is not a one-time-code field: %s", lang, id, m)
			}
		}
		for id, title := range map[string]string{"mfa-view": "mfa-title", "twofactor": "twofactor-title", "passkeys": "passkeys-title"} {
			if !regexp.MustCompile(`<section id="` + id + `"[^>]*aria-labelledby="` + title + `"`).MatchString(body) {
				t.Errorf("%s: section #%s is not labelled by its heading #%s", lang, id, title)
			}
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !regexp.MustCompile(`(?:^|;)\s*img-src [^;]*\bdata:`).MatchString(csp) || strings.Contains(csp, "unsafe-") {
			t.Errorf("%s: the CSP %q does not let the QR code's data: URL in, or allows something unsafe", lang, csp)
		}
	}
	src, err := consoleFiles.ReadFile("console/account.js")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), `'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(`) {
		t.Error("account.js no longer shows the QR code as a data: URL, which the CSP test above assumes")
	}
	admin := newHandler(t, AdminConsole, ConsoleOptions{})
	if _, body := get(t, admin, http.MethodGet, "/admin", nil); strings.Contains(body, "signin-passkey") {
		t.Error("the admin console's sign-in form offers a passkey sign-in, which admin.js does not run")
	}
}

// TestConsoleWebAuthnWithNode runs testdata/account_webauthn_check.js:
// the WebAuthn JSON helpers of account.js (base64url, the options'
// conversion without parse*OptionsFromJSON, the credential's JSON
// without toJSON).
func TestConsoleWebAuthnWithNode(t *testing.T) {
	node := nodePath(t)
	out, err := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "account_webauthn_check.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("account_webauthn_check.js: %v\n%s", err, out)
	}
	if strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("account_webauthn_check.js said: %s", out)
	}
}

// consoleMFAStepIDs are the ids of layout.html's "mfaStep" block, the second sign-in
// step that console.js's mountMfaStep wires on both consoles.
var consoleMFAStepIDs = []string{
	"mfa-view", "mfa-title", "mfa-form", "mfa-code", "mfa-recovery", "mfa-totp-field", "mfa-recovery-field",
	"mfa-submit", "mfa-toggle", "mfa-passkey", "mfa-cancel", "mfa-status",
}

// TestAdminConsoleMFAMarkup: the admin console has the same second sign-in step as the
// account console (each id once, the code fields labelled, a one-time-code field, the
// status a live region, the section labelled by its focusable heading), and the notice
// for a role that requires a second factor, with a link to the account console in the
// page's language; both in English and in French.
func TestAdminConsoleMFAMarkup(t *testing.T) {
	h := newHandler(t, AdminConsole, ConsoleOptions{})
	for lang, want := range map[string][]string{
		"en": {"Two-step verification", "Code from your authenticator app", "Use a recovery code", "Use a passkey",
			"Cancel and sign out", "Two-factor authentication required", "Add a second factor in the account console"},
		"fr": {"Vérification en deux étapes", "Code de votre application d’authentification", "Utiliser un code de secours",
			"Utiliser une clé d’accès", "Annuler et se déconnecter", "Authentification à deux facteurs exigée",
			"Ajouter un second facteur dans la console de compte"},
	} {
		_, body := get(t, h, http.MethodGet, "/admin?lang="+lang, nil)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
		for _, id := range append(slices.Clone(consoleMFAStepIDs), "mfa-enroll", "mfa-enroll-title", "mfa-enroll-text", "mfa-enroll-link") {
			if n := strings.Count(body, ` id="`+id+`"`); n != 1 {
				t.Errorf("%s: id %q appears %d times", lang, id, n)
			}
		}
		for _, id := range []string{"mfa-code", "mfa-recovery"} {
			if !strings.Contains(body, `<label for="`+id+`">`) {
				t.Errorf("%s: #%s has no label", lang, id)
			}
		}
		if m := regexp.MustCompile(`<input id="mfa-code"[^>]*>`).FindString(body); !strings.Contains(m, `inputmode="numeric"`) ||
			!strings.Contains(m, `autocomplete="one-time-code"`) {
			t.Errorf("%s: #mfa-code is not a one-time-code field: %s", lang, m)
		}
		if !strings.Contains(body, `id="mfa-status" class="status" role="status" aria-live="polite" aria-atomic="true"`) {
			t.Errorf("%s: #mfa-status is no live status region", lang)
		}
		for id, title := range map[string]string{"mfa-view": "mfa-title", "mfa-enroll": "mfa-enroll-title"} {
			if !regexp.MustCompile(`<section id="` + id + `"[^>]*aria-labelledby="` + title + `"`).MatchString(body) {
				t.Errorf("%s: section #%s is not labelled by its heading #%s", lang, id, title)
			}
			if !regexp.MustCompile(`<section id="` + id + `"[^>]*\bhidden\b`).MatchString(body) {
				t.Errorf("%s: section #%s is not hidden at first", lang, id)
			}
			if !strings.Contains(body, `<h1 id="`+title+`" tabindex="-1">`) {
				t.Errorf("%s: #%s cannot take the focus", lang, title)
			}
		}
		if !strings.Contains(body, `<a id="mfa-enroll-link" href="/account?lang=`+lang+`">`) {
			t.Errorf("%s: no link to the account console in %s", lang, lang)
		}
		if !strings.Contains(body, `<button id="mfa-passkey" class="secondary" type="button" hidden>`) {
			t.Errorf("%s: #mfa-passkey is not hidden until the admin is known to have a passkey", lang)
		}
	}
}

// TestConsoleMFAStepMessages: every message that console.js's second sign-in step and
// passkey ceremony may show, and every text of layout.html's "mfaStep" block, is in the
// catalogs of both consoles, in both languages (the step is shared; its keys are not).
func TestConsoleMFAStepMessages(t *testing.T) {
	src, err := consoleFiles.ReadFile("console/console.js")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	from, to := strings.Index(s, "async function ceremony("), strings.Index(s, "// Page set-up.")
	if from < 0 || to < from {
		t.Fatal("console.js: the ceremony and the step are not where the test looks")
	}
	messages := map[string]bool{}
	for _, m := range regexp.MustCompile(`'((?:mfa|passkey)\w+|err[A-Z]\w*)'`).FindAllStringSubmatch(s[from:to], -1) {
		messages[m[1]] = true
	}
	layout, err := consoleFiles.ReadFile("console/layout.html")
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?s)\{\{define "mfaStep"\}\}(.*?)\{\{end`).FindSubmatch(layout)
	if block == nil {
		t.Fatal(`layout.html has no "mfaStep" block`)
	}
	texts := map[string]bool{}
	for _, m := range regexp.MustCompile(`\{\{\.T\.(\w+)\}\}`).FindAllSubmatch(block[1], -1) {
		texts[string(m[1])] = true
	}
	if len(messages) < 12 || len(texts) < 8 {
		t.Fatalf("found %d messages and %d texts: the patterns are stale", len(messages), len(texts))
	}
	for _, name := range []string{"account", "admin"} {
		for _, lang := range pagesLangs {
			cat, err := consoleLoadCatalog(name, lang)
			if err != nil {
				t.Fatal(err)
			}
			for k := range messages {
				if s, ok := cat.Messages[k].(string); !ok || s == "" {
					t.Errorf("%s.%s.json lacks the step's message %q", name, lang, k)
				}
			}
			for k := range texts {
				if cat.Text[k] == "" {
					t.Errorf("%s.%s.json lacks the step's text %q", name, lang, k)
				}
			}
		}
	}
}

// adminConsoleMFAIDs are the ids of a user's second factors on the admin console's user
// page (admin.html's #user-mfa), which admin.js and e2e/admin_console_mfa_test.go use.
var adminConsoleMFAIDs = []string{
	"user-mfa", "user-mfa-title", "user-mfa-facts", "user-factors", "user-factors-none",
	"mfa-reset-box", "mfa-reset", "mfa-reset-confirm", "mfa-reset-text", "mfa-reset-yes", "mfa-reset-no",
	"user-mfa-status",
}

// TestAdminConsoleUserMFAMarkup: the user page's second factors, in English and in
// French: each id once, the section labelled by its focusable heading, the confirmation
// hidden at first and its text focusable, the reset button saying what it opens, the
// outcome a live status region, the 2FA column scoped; every text and message it uses
// is in both catalogs. The users' list reads mfaEnabled and never factors, which cost a
// query per user; the user's page reads both.
func TestAdminConsoleUserMFAMarkup(t *testing.T) {
	h := newHandler(t, AdminConsole, ConsoleOptions{})
	for lang, want := range map[string][]string{
		"en": {`<th scope="col">2FA</th>`, "Second factors", "This user has no second factor.", "Reset second factors", "Yes, reset them"},
		"fr": {`<th scope="col">A2F</th>`, "Seconds facteurs", "Cet utilisateur n’a aucun second facteur.",
			"Réinitialiser les seconds facteurs", "Oui, les réinitialiser"},
	} {
		_, body := get(t, h, http.MethodGet, "/admin?lang="+lang, nil)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: the page lacks %q", lang, w)
			}
		}
		for _, id := range adminConsoleMFAIDs {
			if n := strings.Count(body, ` id="`+id+`"`); n != 1 {
				t.Errorf("%s: id %q appears %d times", lang, id, n)
			}
		}
		for _, frag := range []string{
			`<section id="user-mfa" aria-labelledby="user-mfa-title">`,
			`<h2 id="user-mfa-title" tabindex="-1">`,
			`<button id="mfa-reset" class="secondary" type="button" aria-expanded="false" aria-controls="mfa-reset-confirm">`,
			`<div id="mfa-reset-confirm" class="confirm-box" hidden>`,
			`<p id="mfa-reset-text" tabindex="-1"></p>`,
			`<p id="user-factors-none" hidden>`,
			`id="user-mfa-status" class="status" role="status" aria-live="polite" aria-atomic="true"`,
		} {
			if !strings.Contains(body, frag) {
				t.Errorf("%s: the page lacks %s", lang, frag)
			}
		}
		// The section sits in the user's page, before the ADMIN's actions.
		view, mfa, actions := strings.Index(body, `id="user-view"`), strings.Index(body, `id="user-mfa"`), strings.Index(body, `id="user-actions"`)
		if view < 0 || mfa < view || actions < mfa {
			t.Errorf("%s: #user-mfa is not between #user-view and #user-actions", lang)
		}
	}

	texts := []string{"colMfa", "userMfaHeading", "userMfaFactsLabel", "userFactorsLabel", "userFactorsNone",
		"mfaResetButton", "mfaResetYes", "mfaResetNo"}
	messages := []string{"mfaStateOn", "mfaStateOff", "fieldMfa", "fieldRecoveryCodes", "factorTypeTOTP",
		"factorTypeWEBAUTHN", "factorPending", "factorMeta", "factorMetaUnused", "mfaResetQuestion", "mfaResetSelf", "mfaResetDone"}
	for _, lang := range pagesLangs {
		cat, err := consoleLoadCatalog("admin", lang)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range texts {
			if cat.Text[k] == "" {
				t.Errorf("admin.%s.json lacks the text %q", lang, k)
			}
		}
		for _, k := range messages {
			if s, ok := cat.Messages[k].(string); !ok || s == "" {
				t.Errorf("admin.%s.json lacks the message %q", lang, k)
			}
		}
	}

	src, err := consoleFiles.ReadFile("console/admin.js")
	if err != nil {
		t.Fatal(err)
	}
	js := string(src)
	list := regexp.MustCompile(`(?s)const USERS_QUERY = (.*?);\n`).FindStringSubmatch(js)
	if list == nil {
		t.Fatal("admin.js has no USERS_QUERY where the test looks")
	}
	if !strings.Contains(list[1], "mfaEnabled") || strings.Contains(list[1], "factors") || strings.Contains(list[1], "recoveryCodesRemaining") {
		t.Errorf("the users' list must read mfaEnabled and neither factors nor recoveryCodesRemaining: %s", list[1])
	}
	fields := regexp.MustCompile(`(?s)const USER_FIELDS = (.*?);\n`).FindStringSubmatch(js)
	if fields == nil || !strings.Contains(fields[1], "factors { id type name createdAt lastUsedAt confirmed }") ||
		!strings.Contains(fields[1], "recoveryCodesRemaining") || !strings.Contains(fields[1], "mfaEnabled") {
		t.Errorf("a user's page does not read its factors: %v", fields)
	}
	for _, k := range []string{"TOTP: 'factorTypeTOTP'", "WEBAUTHN: 'factorTypeWEBAUTHN'", "resetUserMfa(id: $id)"} {
		if !strings.Contains(js, k) {
			t.Errorf("admin.js lacks %s", k)
		}
	}
}
