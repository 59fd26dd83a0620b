package web

// The consoles: the account console at /account, where a user signs in
// and manages their own account, and the admin console at /admin
// (admin_console.go). Both are plain files served by the binary, with no
// build step, under the same strict Content-Security-Policy as the hosted
// pages (pages.go): no inline script or style, connections to the server
// itself only.
//
// A console is one HTML page, an html/template rendered once per language
// when the handler is built: console/layout.html, what both consoles
// share (head, header, sign-in form, footer, scripts), with the parts
// that console/<name>.html defines. Its scripts and style sheet are
// served next to it under <path>/:
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
)

//go:embed console
var consoleFiles embed.FS

// The URL paths of the consoles.
const (
	AccountConsolePath = "/account"
	AdminConsolePath   = "/admin"
)

// ConsoleOptions configures a console. Its fields are those of
// PagesOptions, and are checked the same way (pagesCheckOptions).
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

// consoleData is what console/layout.html, with console/<name>.html, is
// executed with.
type consoleData struct {
	Name      string // the console's name: its script is <name>.js
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
	assets      map[string]staticFile // URL path -> file
}

// newConsole builds the handler of the console spec names.
func newConsole(spec consoleSpec, opts ConsoleOptions) (http.Handler, error) {
	endpoint, appName, defaultLang, err := pagesCheckOptions("console", PagesOptions(opts))
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
		assets:      map[string]staticFile{},
	}
	for _, lang := range pagesLangs {
		cat, err := consoleLoadCatalog(spec.Name, lang)
		if err != nil {
			return nil, err
		}
		data := consoleData{
			Name:      spec.Name,
			Lang:      lang,
			OtherLang: otherLang(lang),
			AppName:   appName,
			Endpoint:  endpoint,
			Path:      spec.Path,
			T:         pagesText(cat.Text, appName),
			Messages:  cat.Messages,
		}
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, data); err != nil {
			return nil, fmt.Errorf("web: render the %s console in %s: %w", spec.Name, lang, err)
		}
		c.html[lang] = buf.Bytes()
	}
	// pages.js is the hosted pages' file, served here too, so that both
	// share one GraphQL client and one encryption path.
	if err := embeddedAssets(pagesFiles, "pages", []string{"pages.js"}, c.assets, spec.Path+"/"); err != nil {
		return nil, err
	}
	if err := embeddedAssets(consoleFiles, "console", []string{"console.js", "console.css", spec.Name + ".js"}, c.assets, spec.Path+"/"); err != nil {
		return nil, err
	}
	return c, nil
}

// consoleTemplate parses console/layout.html with console/<name>.html,
// which defines the layout's parts, and the hosted pages' footer;
// executing it renders the page. A key
// that the page uses and its language lacks is an error, not an empty
// string.
func consoleTemplate(name string) (*template.Template, error) {
	tmpl, err := template.New("layout.html").Option("missingkey=error").
		ParseFS(consoleFiles, "console/layout.html", "console/"+name+".html")
	if err == nil {
		tmpl, err = tmpl.ParseFS(pagesFiles, "pages/footer.html")
	}
	if err != nil {
		return nil, fmt.Errorf("web: parse the %s console: %w", name, err)
	}
	return tmpl, nil
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

func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowGetOnly(w, r) {
		return
	}
	if r.URL.Path != c.path && r.URL.Path != c.path+"/" {
		serveStatic(w, r, c.assets)
		return
	}
	serveLocalizedPage(w, r, c.html[pickLang(r, c.defaultLang)])
}
