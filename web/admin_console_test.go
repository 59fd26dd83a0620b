package web

import (
	"encoding/json"
	"maps"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Tests of the admin console's handler and files (admin_console.go,
// console/admin.*, console/i18n/admin.*.json): its routes and headers,
// its languages, its markup (labels, table headers, status regions, no
// inline script or style), its text in both languages, and the pure
// helpers of admin.js under Node. What it does in a browser against a
// real server is e2e/admin_console_test.go's business. The helpers have
// names of their own (adminConsole*).

// adminConsoleIDs are the ids that admin.js and the browser tests use.
var adminConsoleIDs = []string{
	"signin-form", "signin-email", "signin-password", "signin-submit", "signin-status",
	"who", "signout", "staff-only", "staff-only-title", "console-view", "readonly-note",
	"nav-users", "nav-audit",
	"users-view", "users-title", "search-form", "search-query", "search-role", "search-confirmed",
	"search-disabled", "search-first", "search-submit", "users-status", "users-table", "users-caption",
	"users-body", "users-prev", "users-next",
	"user-view", "user-back", "user-title", "user-fields", "user-status", "user-actions",
	"role-form", "role-select", "role-save", "confirm-email", "disable-toggle", "revoke-sessions",
	"send-reset", "user-audit", "delete-form", "delete-confirm", "delete-hint", "delete-submit",
	"audit-view", "audit-title", "audit-form", "audit-user", "audit-first", "audit-submit",
	"audit-status", "audit-table", "audit-caption", "audit-body", "audit-prev", "audit-next",
	"messages", "lang-switch",
}

func TestAdminConsoleRoutes(t *testing.T) {
	h := newHandler(t, AdminConsole, ConsoleOptions{Endpoint: "/graphql", AppName: "Acme", DefaultLang: "en"})
	for _, path := range []string{AdminConsolePath, AdminConsolePath + "/", AdminConsolePath + "?lang=fr"} {
		res, body := get(t, h, http.MethodGet, path, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, res.StatusCode)
		}
		for k, v := range pagesHTMLHeaders {
			if got := res.Header.Get(k); got != v {
				t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
			}
		}
		if !strings.Contains(body, `<script src="/admin/admin.js"></script>`) || strings.Contains(body, "account.js") {
			t.Errorf("GET %s: not the admin console:\n%s", path, body)
		}
	}
	res, body := get(t, h, http.MethodHead, AdminConsolePath, nil)
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: %d, %d bytes, Content-Length %q", res.StatusCode, len(body), res.Header.Get("Content-Length"))
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if res, _ := get(t, h, m, AdminConsolePath, nil); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, res.StatusCode)
		}
	}
	for _, path := range []string{"/admin/nope", "/admin/account.js", "/admin/admin.html",
		"/admin/i18n/admin.en.json", "/admin/console/admin.js", "/adminx"} {
		if res, _ := get(t, h, http.MethodGet, path, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, res.StatusCode)
		}
	}

	// The assets: the embedded files themselves, as what they are.
	for name, want := range map[string]struct{ file, contentType string }{
		"admin.js":         {"console/admin.js", "text/javascript; charset=utf-8"},
		"console.js":       {"console/console.js", "text/javascript; charset=utf-8"},
		"console.css":      {"console/console.css", "text/css; charset=utf-8"},
		"pages.js":         {"pages/pages.js", "text/javascript; charset=utf-8"},
		"toktok-crypto.js": {sharedCryptoScript, "text/javascript; charset=utf-8"},
	} {
		checkStaticFile(t, h, "/admin/"+name, embeddedFile(t, want.file), want.contentType)
	}
}

func TestAdminConsoleLanguages(t *testing.T) {
	h := newHandler(t, AdminConsole, ConsoleOptions{})
	for _, tc := range []struct {
		name, target string
		header       http.Header
		opts         *ConsoleOptions
		lang, title  string
	}{
		{"default", "/admin", nil, nil, "en", "Sign in to the admin console"},
		{"query", "/admin?lang=fr", nil, nil, "fr", "Connexion à la console d’administration"},
		{"query wins", "/admin?lang=en", http.Header{"Accept-Language": {"fr"}}, nil, "en", "Sign in to the admin console"},
		{"Accept-Language", "/admin", http.Header{"Accept-Language": {"de, fr-CA;q=0.8, en;q=0.5"}}, nil, "fr", "Connexion à la console d’administration"},
		{"DefaultLang", "/admin", http.Header{"Accept-Language": {"de"}}, &ConsoleOptions{DefaultLang: "fr"}, "fr", "Connexion à la console d’administration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := h
			if tc.opts != nil {
				hh = newHandler(t, AdminConsole, *tc.opts)
			}
			_, body := get(t, hh, http.MethodGet, tc.target, tc.header)
			if !strings.Contains(body, `<html lang="`+tc.lang+`">`) || !strings.Contains(body, tc.title) {
				t.Errorf("want the page in %s with %q:\n%s", tc.lang, tc.title, body)
			}
			other := map[string]string{"en": "fr", "fr": "en"}[tc.lang]
			if !strings.Contains(body, `<a id="lang-switch" href="?lang=`+other+`" hreflang="`+other+`" lang="`+other+`">`) {
				t.Errorf("no switch to %s", other)
			}
			_, messages := pagesMessages(t, body)
			want := map[string]string{"en": "No audit event.", "fr": "Aucun événement d’audit."}[tc.lang]
			if messages["auditNone"] != want {
				t.Errorf("messages.auditNone = %q, want %q", messages["auditNone"], want)
			}
		})
	}
	// The application's name reaches the text, escaped.
	_, body := get(t, newHandler(t, AdminConsole, ConsoleOptions{AppName: "Acme & <Co>"}), http.MethodGet, "/admin", nil)
	if !strings.Contains(body, "account of Acme &amp; &lt;Co&gt; to browse users") || strings.Contains(body, "{app}") {
		t.Errorf("the app name is not in the intro, escaped:\n%s", body)
	}
}

var (
	adminConsoleLabelRE   = regexp.MustCompile(`<label[^>]* for="([^"]+)"`)
	adminConsoleControlRE = regexp.MustCompile(`<(input|select|textarea)\b[^>]*\bid="([^"]+)"`)
	adminConsoleTableRE   = regexp.MustCompile(`(?s)<table\b.*?</table>`)
)

func TestAdminConsoleMarkup(t *testing.T) {
	h := newHandler(t, AdminConsole, ConsoleOptions{})
	for _, lang := range []string{"en", "fr"} {
		_, body := get(t, h, http.MethodGet, "/admin?lang="+lang, nil)
		for _, id := range adminConsoleIDs {
			if n := strings.Count(body, ` id="`+id+`"`); n != 1 {
				t.Errorf("%s: id %q appears %d times", lang, id, n)
			}
		}
		// Scripts: files of the console's own path only, in order; the
		// messages block is JSON, which browsers never run.
		scripts := pagesScriptTagRE.FindAllStringSubmatch(body, -1)
		var srcs []string
		for _, m := range scripts {
			attrs, content := m[1], m[2]
			switch {
			case strings.HasPrefix(strings.TrimSpace(attrs), `src="/admin/`) && strings.TrimSpace(content) == "":
				srcs = append(srcs, strings.TrimSpace(attrs))
			case strings.TrimSpace(attrs) == `type="application/json" id="messages"`:
			default:
				t.Errorf("%s: inline script %q", lang, m[0])
			}
		}
		wantSrcs := []string{`src="/admin/toktok-crypto.js"`, `src="/admin/pages.js"`, `src="/admin/console.js"`, `src="/admin/admin.js"`}
		if !slices.Equal(srcs, wantSrcs) {
			t.Errorf("%s: scripts %v, want %v", lang, srcs, wantSrcs)
		}
		lower := strings.ToLower(body)
		for _, bad := range []string{"<style", " style=", " onclick=", " onsubmit=", " oninput=", " onload=", "http://", "https://", `="javascript:`} {
			if strings.Contains(lower, bad) {
				t.Errorf("%s: the page contains %q", lang, bad)
			}
		}
		// Every control has a label.
		labels := map[string]bool{}
		for _, m := range adminConsoleLabelRE.FindAllStringSubmatch(body, -1) {
			labels[m[1]] = true
		}
		for _, m := range adminConsoleControlRE.FindAllStringSubmatch(body, -1) {
			if !labels[m[2]] {
				t.Errorf("%s: <%s id=%q> has no <label for>", lang, m[1], m[2])
			}
		}
		// Tables: a caption, and every header cell scoped.
		tables := adminConsoleTableRE.FindAllString(body, -1)
		if len(tables) != 2 {
			t.Errorf("%s: %d tables, want 2", lang, len(tables))
		}
		for _, table := range tables {
			if !strings.Contains(table, "<caption id=") {
				t.Errorf("%s: a table has no caption: %s", lang, table)
			}
			if strings.Count(table, "<th ") != strings.Count(table, `<th scope="col">`) || !strings.Contains(table, `<th scope="col">`) {
				t.Errorf("%s: a header cell has no scope: %s", lang, table)
			}
		}
		// Outcomes are announced.
		for _, id := range []string{"signin-status", "users-status", "user-status", "audit-status"} {
			if !strings.Contains(body, `id="`+id+`" class="status" role="status" aria-live="polite" aria-atomic="true"`) {
				t.Errorf("%s: #%s is not a polite status region", lang, id)
			}
		}
		// The delete button starts disabled: typing the address enables it.
		if !strings.Contains(body, `<button id="delete-submit" class="danger" type="submit" disabled>`) {
			t.Errorf("%s: #delete-submit does not start disabled", lang)
		}
		raw, _ := pagesMessages(t, body)
		if strings.ContainsAny(raw, "<>&") {
			t.Errorf("%s: the messages block is not HTML-safe: %s", lang, raw)
		}
	}
}

// adminConsoleCatalog reads one of the console's i18n files.
func adminConsoleCatalog(t *testing.T, file string) consoleCatalog {
	t.Helper()
	cat, err := consoleReadCatalog("console/i18n/" + file)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// adminConsoleSame are the keys whose text is the same in both languages.
var adminConsoleSame = map[string]bool{
	"sectionsNav": true, "actionsHeading": true, "fieldId": true, "empty": true,
}

func TestAdminConsoleCatalog(t *testing.T) {
	en, fr := adminConsoleCatalog(t, "admin.en.json"), adminConsoleCatalog(t, "admin.fr.json")
	ph := regexp.MustCompile(`\{\w+\}`)
	check := func(section string, en, fr map[string]string) {
		if !slices.Equal(slices.Sorted(maps.Keys(en)), slices.Sorted(maps.Keys(fr))) {
			t.Errorf("%s: admin.en.json and admin.fr.json have different keys", section)
		}
		for k, v := range en {
			f := fr[k]
			if strings.TrimSpace(v) == "" || strings.TrimSpace(f) == "" {
				t.Errorf("%s.%s is empty", section, k)
			}
			if v == f && !adminConsoleSame[k] {
				t.Errorf("%s.%s is not translated: %q", section, k, v)
			}
			if !slices.Equal(slices.Sorted(slices.Values(ph.FindAllString(v, -1))), slices.Sorted(slices.Values(ph.FindAllString(f, -1)))) {
				t.Errorf("%s.%s: placeholders differ: %q / %q", section, k, v, f)
			}
			for _, p := range []string{" :", " ;", " ?", " !"} {
				if strings.Contains(f, p) {
					t.Errorf("%s.%s: French wants a no-break space before %q: %q", section, k, p[1:], f)
				}
			}
		}
	}
	check("text", en.Text, fr.Text)
	strs := func(m map[string]any) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				t.Errorf("messages.%s is not a string", k)
			}
			out[k] = s
		}
		return out
	}
	check("messages", strs(en.Messages), strs(fr.Messages))

	// The console's keys override the shared ones: none does by accident.
	for _, lang := range []string{"en", "fr"} {
		shared := adminConsoleCatalog(t, "console."+lang+".json")
		own := adminConsoleCatalog(t, "admin."+lang+".json")
		for k := range own.Text {
			if _, ok := shared.Text[k]; ok {
				t.Errorf("%s: text.%s of admin.%s.json hides the shared one", lang, k, lang)
			}
		}
		for k := range own.Messages {
			if _, ok := shared.Messages[k]; ok {
				t.Errorf("%s: messages.%s of admin.%s.json hides the shared one", lang, k, lang)
			}
		}
	}
}

// TestAdminConsoleScriptUsesKnownMessages: every message admin.js names
// (t('key'), the detail's field labels, the role names it builds) is in both languages, and the
// script writes no HTML.
func TestAdminConsoleScriptUsesKnownMessages(t *testing.T) {
	src, err := consoleFiles.ReadFile("console/admin.js")
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{"roleUSER": true, "roleSTAFF": true, "roleADMIN": true}
	quoted := regexp.MustCompile(`'(\w+)'`)
	for _, call := range regexp.MustCompile(`\bt\(([^{)]*)`).FindAllStringSubmatch(string(src), -1) {
		for _, m := range quoted.FindAllStringSubmatch(call[1], -1) {
			keys[m[1]] = true
		}
	}
	// The detail's labels are named in a table of the script.
	for _, m := range regexp.MustCompile(`'(field\w+)'`).FindAllStringSubmatch(string(src), -1) {
		keys[m[1]] = true
	}
	if len(keys) < 40 {
		t.Fatalf("found only %d message keys in admin.js: %v", len(keys), slices.Sorted(maps.Keys(keys)))
	}
	for _, lang := range []string{"en", "fr"} {
		cat, err := consoleLoadCatalog("admin", lang)
		if err != nil {
			t.Fatal(err)
		}
		for k := range keys {
			if s, ok := cat.Messages[k].(string); !ok || s == "" {
				t.Errorf("admin.js uses message %q, which %s lacks", k, lang)
			}
		}
	}
	for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "localStorage", "sessionStorage", "document.cookie", ".style."} {
		if strings.Contains(string(src), bad) {
			t.Errorf("admin.js uses %s", bad)
		}
	}
}

// TestAdminConsoleScriptHelpers runs admin.js's pure helpers under Node:
// the script exports them (window.toktokAdmin) before it touches the
// page, so a window whose console set-up throws is enough.
func TestAdminConsoleScriptHelpers(t *testing.T) {
	node := nodePath(t)
	script := `
const path = process.argv[1];
const stop = new Error('stop');
globalThis.window = { toktokPages: {}, toktokConsole: { setup() { throw stop; } }, document: {} };
try { require(path); } catch (e) { if (e !== stop) throw e; }
const A = window.toktokAdmin;
const p = A.createPager();
const trail = [];
const look = () => trail.push([p.page, p.after, p.hasPrevious]);
look();
p.next('c1'); look();
p.next(''); look();
p.next('c2'); look();
p.previous(); look();
p.next('c2b'); look();
p.previous(); p.previous(); p.previous(); look();
p.next('c1'); p.reset(); look();
console.log(JSON.stringify({
  trail,
  filters: [
    A.readFilter({ query: '  Ann ', role: 'STAFF', emailConfirmed: 'true', disabled: 'false' }),
    A.readFilter({ query: ' ', role: '', emailConfirmed: '', disabled: '' }),
    A.readFilter({ role: 'ROOT', emailConfirmed: 'yes' }),
  ],
  sizes: ['10', '100', '0', '101', 'x', '2.5'].map(A.pageSize),
  details: [
    A.detailText({ fields: ['role', 'disabled'] }),
    A.detailText({ sessions: 2, reason: 'mail_limit' }),
    A.detailText({ nested: { a: 1 } }),
    A.detailText(null),
  ],
}));`
	path, err := filepath.Abs(filepath.Join("console", "admin.js"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), node, "-e", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	var got struct {
		Trail   [][]any
		Filters []map[string]any
		Sizes   []int
		Details []string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	wantTrail := `[[1,null,false],[2,"c1",true],[2,"c1",true],[3,"c2",true],[2,"c1",true],[3,"c2b",true],[1,null,false],[1,null,false]]`
	if b, _ := json.Marshal(got.Trail); string(b) != wantTrail {
		t.Errorf("pager trail %s, want %s", b, wantTrail)
	}
	wantFilters := `[{"disabled":false,"emailConfirmed":true,"query":"Ann","role":"STAFF"},{},{}]`
	if b, _ := json.Marshal(got.Filters); string(b) != wantFilters {
		t.Errorf("filters %s, want %s", b, wantFilters)
	}
	if !slices.Equal(got.Sizes, []int{10, 100, 20, 20, 20, 20}) {
		t.Errorf("page sizes %v", got.Sizes)
	}
	if want := []string{"fields: role, disabled", "sessions: 2; reason: mail_limit", `nested: {"a":1}`, ""}; !slices.Equal(got.Details, want) {
		t.Errorf("details %q, want %q", got.Details, want)
	}
}
