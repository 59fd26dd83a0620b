package web

// What the handlers of this package answer alike: the headers of every
// answer, the 405 for methods other than GET and HEAD, the embedded scripts
// and style sheets, and a page's body. One copy here, so that a header the
// playground, the hosted pages and the consoles send cannot drift between
// them.

import (
	"bytes"
	"net/http"
	"strconv"
	"time"
)

// staticFile is an embedded script or style sheet, as embeddedAssets
// reads it.
type staticFile struct {
	body        []byte
	contentType string
	etag        string
}

// allowGetOnly sets the headers of every answer of a page's handler and,
// for a method other than GET and HEAD, answers 405 and returns false.
func allowGetOnly(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return false
	}
	return true
}

// serveStatic answers files[r.URL.Path], or 404. The files change only
// with the binary, so browsers revalidate them (no-cache) by their ETag.
func serveStatic(w http.ResponseWriter, r *http.Request, files map[string]staticFile) {
	f, ok := files[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(f.body))
}

// serveLocalizedPage answers a hosted page or a console in the language
// the request picked: under pagesCSP, never stored (the page is rendered
// per language), and varying with Accept-Language.
func serveLocalizedPage(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pagesCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Vary", "Accept-Language")
	writeBody(w, r, body)
}

// writeBody answers 200 with body, or with its length only for HEAD.
func writeBody(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// pickLang returns the language of a request's page: the one that ?lang=
// names, else the one Accept-Language prefers, else defaultLang.
func pickLang(r *http.Request, defaultLang string) string {
	if lang := pagesNormalizeLang(r.URL.Query().Get("lang")); lang != "" {
		return lang
	}
	if lang := pagesAcceptLanguage(r.Header.Values("Accept-Language")); lang != "" {
		return lang
	}
	return defaultLang
}
