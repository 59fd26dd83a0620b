package web

// The hosted pages that email links land on when no front-end URL is
// configured: /confirm-email and /reset-password.
//
// They are small, self-contained HTML pages (no external asset) with a
// strict Content-Security-Policy: the HTML comes from pages/page.html (with
// pages/footer.html, which the consoles share), an html/template rendered
// once per page and language when Pages is called;
// the scripts (shared/toktok-crypto.js, the credential encryption helpers
// (JWE ECDH-ES and RSA-OAEP) that the playground uses too, pages/pages.js, common to both pages, then
// pages/confirm.js or pages/reset.js) and the style sheet (pages/pages.css)
// are files, served under /pages/, so that no inline script or style is
// needed. The strings the scripts show reach them in a
// <script type="application/json"> block, which browsers never execute.
//
// The token travels in the URL fragment (#token=...), which browsers never
// send to the server; a page also accepts ?token= for front ends
// configured that way, and then drops it from the address bar at once.
// Opening a link never consumes its token: the confirm page posts it only
// when its button is clicked (so a mail scanner that fetches the link
// confirms nothing), the reset page only when its form is submitted.
//
// This file keeps, under another name, its own copy of web.go's endpoint
// check (stricter: same origin only), so that the two pages do not depend
// on the playground's internals; what the handlers answer alike is in
// serve.go.

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

//go:embed pages
var pagesFiles embed.FS

// The URL paths that the Pages handler answers.
const (
	confirmEmailPath  = "/confirm-email"
	resetPasswordPath = "/reset-password"
	pagesAssetsPath   = "/pages/"
)

// pagesCSP is the Content-Security-Policy of both pages: scripts, styles
// and connections to the server itself only, no inline script or style, no
// form submission, no framing.
const pagesCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self' data:; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// PagesOptions configures Pages.
type PagesOptions struct {
	// Endpoint is the path of the GraphQL API on the same origin, such as
	// "/graphql" (the default when empty). The pages' CSP allows
	// connections to their own origin only, so absolute URLs are refused.
	Endpoint string

	// AppName is the name of the application shown on the pages; "TokTok"
	// when empty.
	AppName string

	// DefaultLang is the language of the pages, "en" (the default when
	// empty) or "fr", when neither the URL's ?lang= nor the browser's
	// Accept-Language header picks one of them.
	DefaultLang string
}

// Pages returns the handler of the hosted pages. It serves
//
//	/confirm-email            the email confirmation page (GET and HEAD)
//	/reset-password           the password reset page (GET and HEAD)
//	/pages/toktok-crypto.js   the encryption helpers, shared with the playground
//	/pages/pages.js           the pages' shared script
//	/pages/confirm.js         the confirmation page's script
//	/pages/reset.js           the reset page's script
//	/pages/pages.css          the pages' style sheet
//
// 405 for other methods and 404 for other paths, so mount it on
// "/confirm-email", "/reset-password" and "/pages/". Each page is in
// English or in French: the one that ?lang=en|fr names, else the one the
// browser's Accept-Language prefers, else opts.DefaultLang. Pages fails
// when an option is invalid.
func Pages(opts PagesOptions) (http.Handler, error) {
	endpoint, appName, defaultLang, err := pagesCheckOptions("pages", opts)
	if err != nil {
		return nil, err
	}
	tmpl, err := template.ParseFS(pagesFiles, "pages/page.html", "pages/footer.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse the hosted pages: %w", err)
	}
	h := &pages{
		defaultLang: defaultLang,
		html:        map[string]map[string][]byte{},
		assets:      map[string]staticFile{},
	}
	for _, page := range []string{"confirm", "reset"} {
		h.html[page] = map[string][]byte{}
		for _, lang := range pagesLangs {
			body, err := renderPage(tmpl, page, lang, endpoint, appName)
			if err != nil {
				return nil, err
			}
			h.html[page][lang] = body
		}
	}
	err = embeddedAssets(pagesFiles, "pages", []string{"pages.js", "confirm.js", "reset.js", "pages.css"}, h.assets, pagesAssetsPath)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// pageData is what pages/page.html is executed with.
type pageData struct {
	Page      string // "confirm" or "reset"
	Lang      string
	Title     string
	AppName   string
	Endpoint  string
	T         map[string]string // the page's text in Lang, {app} replaced
	OtherLang string            // the language the switch link leads to
	Messages  map[string]any    // what the scripts show, as JSON
}

// renderPage renders one page in one language.
func renderPage(tmpl *template.Template, page, lang, endpoint, appName string) ([]byte, error) {
	cat := pagesCatalog[lang]
	t := pagesText(cat.Text, appName)
	messages := make(map[string]any, len(cat.Messages)+1)
	for k, v := range cat.Messages {
		messages[k] = v
	}
	messages["reasons"] = cat.Reasons
	data := pageData{
		Page:      page,
		Lang:      lang,
		Title:     t[page+"Title"],
		AppName:   appName,
		Endpoint:  endpoint,
		T:         t,
		OtherLang: otherLang(lang),
		Messages:  messages,
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, data); err != nil {
		return nil, fmt.Errorf("web: render the %s page in %s: %w", page, lang, err)
	}
	return buf.Bytes(), nil
}

// pagesCheckOptions validates the options of the hosted pages or of a
// console (what names them in errors) and fills in the defaults.
func pagesCheckOptions(what string, opts PagesOptions) (endpoint, appName, defaultLang string, err error) {
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
		return "", "", "", fmt.Errorf("web: %s app name %q has a control character", what, opts.AppName)
	}
	defaultLang = "en"
	if opts.DefaultLang != "" {
		defaultLang = pagesNormalizeLang(opts.DefaultLang)
		if defaultLang == "" {
			return "", "", "", fmt.Errorf(`web: %s default language %q: want "en" or "fr"`, what, opts.DefaultLang)
		}
	}
	return endpoint, appName, defaultLang, nil
}

// pagesText is a page's text with "{app}" replaced by the application's
// name.
func pagesText(text map[string]string, appName string) map[string]string {
	t := make(map[string]string, len(text))
	for k, v := range text {
		t[k] = strings.ReplaceAll(v, "{app}", appName)
	}
	return t
}

// otherLang is the language that the switch link of a page in lang leads
// to.
func otherLang(lang string) string {
	if lang == "fr" {
		return "en"
	}
	return "fr"
}

// pagesCheckEndpoint accepts an absolute path on the same origin (a copy,
// stricter, of checkEndpoint in web.go: no absolute URL, as the pages' CSP
// allows connections to 'self' only).
func pagesCheckEndpoint(endpoint string) error {
	bad := func(why string) error {
		return fmt.Errorf("web: pages endpoint %q: %s", endpoint, why)
	}
	if strings.ContainsFunc(endpoint, func(r rune) bool { return r <= ' ' || r == '\\' || r == 0x7f }) {
		return bad("has white space, a control character or a backslash")
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return bad(err.Error())
	}
	if u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" ||
		!strings.HasPrefix(endpoint, "/") || strings.HasPrefix(endpoint, "//") {
		return bad(`want a path on the same origin such as "/graphql"`)
	}
	return nil
}

// pagesLangs are the languages of the pages.
var pagesLangs = []string{"en", "fr"}

// pagesNormalizeLang returns "en" or "fr" for a language tag whose primary
// subtag is one of them ("fr", "FR", "fr-CA", "en_GB"), and "" otherwise.
func pagesNormalizeLang(tag string) string {
	tag = strings.TrimSpace(tag)
	if i := strings.IndexAny(tag, "-_"); i >= 0 {
		tag = tag[:i]
	}
	switch strings.ToLower(tag) {
	case "en":
		return "en"
	case "fr":
		return "fr"
	}
	return ""
}

// pagesAcceptLanguage returns the language, "en" or "fr", that an
// Accept-Language header prefers: the one with the higher quality value,
// the first listed on a tie; "" when it names neither (a wildcard does not
// count) or refuses both (q=0). At most maxItems entries are read.
func pagesAcceptLanguage(values []string) string {
	const maxItems = 64
	best, bestQ, n := "", 0.0, 0
	for _, value := range values {
		for item := range strings.SplitSeq(value, ",") {
			if n++; n > maxItems {
				return best
			}
			tag, params, _ := strings.Cut(item, ";")
			lang := pagesNormalizeLang(tag)
			if lang == "" {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok || !strings.EqualFold(strings.TrimSpace(k), "q") {
					continue
				}
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0 // malformed: ignore the entry
				}
				q = f
			}
			if q > bestQ {
				best, bestQ = lang, q
			}
		}
	}
	return best
}

// pages is the handler that Pages returns. It is immutable and safe for
// concurrent use.
type pages struct {
	defaultLang string
	html        map[string]map[string][]byte // page -> lang -> HTML
	assets      map[string]staticFile        // URL path -> file
}

func (p *pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowGetOnly(w, r) {
		return
	}
	var page string
	switch r.URL.Path {
	case confirmEmailPath:
		page = "confirm"
	case resetPasswordPath:
		page = "reset"
	default:
		serveStatic(w, r, p.assets)
		return
	}
	serveLocalizedPage(w, r, p.html[page][pickLang(r, p.defaultLang)])
}
