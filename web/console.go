package web

// The consoles: the account console at /account, where a user signs in
// and manages their own account, and the admin console at /admin
// (admin_console.go). Both are plain files served by the binary, with no
// build step, under the same strict Content-Security-Policy as the hosted
// pages (pages.go): no inline script or style, connections to the server
// itself only.
//
// A console is one HTML page, console/<name>.html, an html/template
// rendered once per language when the handler is built, and its scripts
// and style sheet, served next to it under <path>/:
//
//	toktok-crypto.js  the credential encryption helpers (web/shared)
//	pages.js          the hosted pages' helpers (window.toktokPages:
//	                  GraphQL client, errors, encryption)
//	console.js        what both consoles share (window.toktokConsole:
//	                  the in-memory session, the sign-in form, messages)
//	console.css       the consoles' style sheet
//	<name>.js         the console's own script
//
// The text comes from two JSON files per language, console/i18n/
// console.<lang>.json (shared: sign-in form, errors, language switch) and
// console/i18n/<name>.<lang>.json, each {"text": {...}, "messages":
// {...}}: "text" is what the template renders (as .T, "{app}" replaced
// by the application's name), "messages" what the scripts show (rendered
// as JSON into <script type="application/json" id="messages">, which
// browsers never execute). A console's keys override shared ones of the
// same name. The template runs with missingkey=error, so a key that the
// page uses and a language lacks fails the construction, not a page.
//
// The tokens of a signed-in user live in the page's memory only (never
// in storage or cookies): a reload or another tab starts signed out.

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed console
var consoleFiles embed.FS

// The URL paths of the consoles.
const (
	AccountConsolePath = "/account"
	AdminConsolePath   = "/admin"
)

// ConsoleOptions configures a console.
type ConsoleOptions struct {
	Endpoint    string // the GraphQL API's path on the same origin ("/graphql" when empty)
	AppName     string // shown on the pages; "TokTok" when empty
	DefaultLang string // "en" (when empty) or "fr"
}

// consoleSpec describes one console for newConsole.
type consoleSpec struct {
	Name string // "account" or "admin": its template, script and i18n files
	Path string // its URL path
}

// AccountConsole returns the handler of the account console. It serves
//
//	/account, /account/          the console (GET and HEAD)
//	/account/toktok-crypto.js    the encryption helpers
//	/account/pages.js            the hosted pages' helpers
//	/account/console.js          the consoles' shared script
//	/account/console.css         the consoles' style sheet
//	/account/account.js          the account console's script
//
// 405 for other methods and 404 for other paths. The page is in English
// or in French: the one that ?lang=en|fr names, else the one the
// browser's Accept-Language prefers, else opts.DefaultLang.
func AccountConsole(opts ConsoleOptions) (http.Handler, error) {
	return newConsole(consoleSpec{Name: "account", Path: AccountConsolePath}, opts)
}

// consoleData is what console/<name>.html is executed with.
type consoleData struct {
	Lang      string
	OtherLang string // the language the switch link leads to
	AppName   string
	Endpoint  string
	Path      string            // the console's URL path, for its assets
	T         map[string]string // the page's text in Lang, {app} replaced
	Messages  map[string]any    // what the scripts show, as JSON
}

// consoleCatalog is one i18n file: {"text": {...}, "messages": {...}}.
type consoleCatalog struct {
	Text     map[string]string `json:"text"`
	Messages map[string]any    `json:"messages"`
}

// console is the handler that newConsole returns. It is immutable and
// safe for concurrent use.
type console struct {
	path        string
	defaultLang string
	html        map[string][]byte     // lang -> HTML
	assets      map[string]pagesAsset // URL path -> file
}

// newConsole builds the handler of the console spec names.
func newConsole(spec consoleSpec, opts ConsoleOptions) (http.Handler, error) {
	endpoint, appName, defaultLang, err := consoleCheckOptions(opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := consoleTemplate(spec.Name)
	if err != nil {
		return nil, err
	}
	c := &console{
		path:        spec.Path,
		defaultLang: defaultLang,
		html:        map[string][]byte{},
		assets:      map[string]pagesAsset{},
	}
	for _, lang := range pagesLangs {
		cat, err := consoleLoadCatalog(spec.Name, lang)
		if err != nil {
			return nil, err
		}
		data := consoleData{
			Lang:      lang,
			OtherLang: consoleOtherLang(lang),
			AppName:   appName,
			Endpoint:  endpoint,
			Path:      spec.Path,
			T:         make(map[string]string, len(cat.Text)),
			Messages:  cat.Messages,
		}
		for k, v := range cat.Text {
			data.T[k] = strings.ReplaceAll(v, "{app}", appName)
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("web: render the %s console in %s: %w", spec.Name, lang, err)
		}
		c.html[lang] = buf.Bytes()
	}
	add := func(name string, body []byte, contentType, etag string) {
		c.assets[spec.Path+"/"+name] = pagesAsset{body, contentType, etag}
	}
	// pages.js is the hosted pages' file, served here too, so that both
	// share one GraphQL client and one encryption path.
	if err := embeddedAssets(pagesFiles, "pages", []string{"pages.js"}, add); err != nil {
		return nil, err
	}
	if err := embeddedAssets(consoleFiles, "console", []string{"console.js", "console.css", spec.Name + ".js"}, add); err != nil {
		return nil, err
	}
	return c, nil
}

// consoleTemplate parses console/<name>.html. A key that the page uses
// and its language lacks is an error, not an empty string.
func consoleTemplate(name string) (*template.Template, error) {
	tmpl, err := template.New(name+".html").Option("missingkey=error").
		ParseFS(consoleFiles, "console/"+name+".html")
	if err != nil {
		return nil, fmt.Errorf("web: parse the %s console: %w", name, err)
	}
	return tmpl, nil
}

// consoleCheckOptions validates opts as Pages does and fills in defaults.
func consoleCheckOptions(opts ConsoleOptions) (endpoint, appName, defaultLang string, err error) {
	endpoint = opts.Endpoint
	if endpoint == "" {
		endpoint = "/graphql"
	}
	if err := pagesCheckEndpoint(endpoint); err != nil {
		return "", "", "", err
	}
	appName = strings.TrimSpace(opts.AppName)
	if appName == "" {
		appName = "TokTok"
	}
	if strings.ContainsFunc(appName, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", "", "", fmt.Errorf("web: console app name %q has a control character", opts.AppName)
	}
	defaultLang = "en"
	if opts.DefaultLang != "" {
		defaultLang = pagesNormalizeLang(opts.DefaultLang)
		if defaultLang == "" {
			return "", "", "", fmt.Errorf(`web: console default language %q: want "en" or "fr"`, opts.DefaultLang)
		}
	}
	return endpoint, appName, defaultLang, nil
}

// consoleOtherLang is the language that the switch link of a page in lang
// leads to.
func consoleOtherLang(lang string) string {
	if lang == "fr" {
		return "en"
	}
	return "fr"
}

// consoleLoadCatalog reads and merges the shared and the console's i18n
// files of lang (the console's keys win).
func consoleLoadCatalog(name, lang string) (consoleCatalog, error) {
	merged := consoleCatalog{Text: map[string]string{}, Messages: map[string]any{}}
	for _, file := range []string{"console", name} {
		cat, err := consoleReadCatalog("console/i18n/" + file + "." + lang + ".json")
		if err != nil {
			return consoleCatalog{}, err
		}
		for k, v := range cat.Text {
			merged.Text[k] = v
		}
		for k, v := range cat.Messages {
			merged.Messages[k] = v
		}
	}
	return merged, nil
}

// consoleReadCatalog decodes one i18n file strictly: a typo in a section
// name, or a value of the wrong kind, fails the construction.
func consoleReadCatalog(file string) (consoleCatalog, error) {
	raw, err := consoleFiles.ReadFile(file)
	if err != nil {
		return consoleCatalog{}, fmt.Errorf("web: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var cat consoleCatalog
	if err := dec.Decode(&cat); err != nil {
		return consoleCatalog{}, fmt.Errorf("web: %s: %w", file, err)
	}
	if dec.More() {
		return consoleCatalog{}, fmt.Errorf("web: %s: data after the JSON object", file)
	}
	return cat, nil
}

// lang picks the language of a request's page.
func (c *console) lang(r *http.Request) string {
	if lang := pagesNormalizeLang(r.URL.Query().Get("lang")); lang != "" {
		return lang
	}
	if lang := pagesAcceptLanguage(r.Header.Values("Accept-Language")); lang != "" {
		return lang
	}
	return c.defaultLang
}

func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path != c.path && r.URL.Path != c.path+"/" {
		f, ok := c.assets[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		h.Set("Content-Type", f.contentType)
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", f.etag)
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(f.body))
		return
	}
	body := c.html[c.lang(r)]
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pagesCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Vary", "Accept-Language")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
