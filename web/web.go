// Package web serves the browser pages that TokTok hosts itself.
//
// The GraphiQL IDE at /playground lives here because a stock GraphiQL page
// cannot use the API with its security defaults on: register, login and
// forgotPassword need an anonymous token, and credentials must travel
// encrypted under the key that authConfig publishes (JWE ECDH-ES, or
// RSA-OAEP with --salt-alg=rsa-oaep-256). The page's own fetcher
// (playground/toktok-fetcher.js, with the encryption helpers of
// shared/toktok-crypto.js that the hosted pages use too) does both, and
// keeps the session that login returns, so that the API can be tried by
// hand. All of the page is embedded in the binary, GraphiQL included
// (playground/vendor: the npm releases, checked against pinned integrity
// values), so that the IDE works without Internet access; GraphiQL can come
// from the pinned CDN instead, or from a local directory.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

//go:embed playground
var playgroundFiles embed.FS

// The page's URL paths. The handler answers only under these.
const (
	pagePath   = "/playground"
	assetsPath = "/playground/assets/"
)

// GraphiQL 3.x is the last line of GraphiQL with UMD builds, and React 18
// the last React with them; both are pinned to exact versions.
const (
	cdnOrigin = "https://unpkg.com"

	reactFile    = "react.production.min.js"
	reactDOMFile = "react-dom.production.min.js"
	graphiQLJS   = "graphiql.min.js"
	graphiQLCSS  = "graphiql.min.css"
)

// asset is a script or style sheet of the page. Integrity is its
// Subresource Integrity value, or empty for local files.
type asset struct {
	URL       string
	Integrity string
}

// pinned are GraphiQL's files: the name, the path on the CDN and the
// integrity value, the sha384 of the file in the npm tarballs
// react-18.3.1.tgz, react-dom-18.3.1.tgz and graphiql-3.9.0.tgz, which unpkg
// serves byte for byte and playground/vendor holds (scripts/playground-assets.sh
// checks each against these values). A browser refuses a file whose hash
// differs. The scripts come first, in load order; the style sheet last.
var pinned = []struct{ name, cdnPath, integrity string }{
	{reactFile, "/react@18.3.1/umd/" + reactFile, "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z"},
	{reactDOMFile, "/react-dom@18.3.1/umd/" + reactDOMFile, "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1"},
	{graphiQLJS, "/graphiql@3.9.0/" + graphiQLJS, "sha384-8NGfVj4CVlqHajlZj+bPJT4thxPMHMJYn7DWK2CvtopLd02E7qsPHazniBYvVjOO"},
	{graphiQLCSS, "/graphiql@3.9.0/" + graphiQLCSS, "sha384-QMux00XgRtwRLSYIY3kw2rj1ovk5AuuliAchk+HSQbqdbGFnz9GYuqIlOqxhwCE2"},
}

// pinnedAssets returns GraphiQL's scripts, in load order, and style sheet:
// on the CDN (cdn), else under /playground/assets/; with their integrity
// values unless the files come from an operator's directory (dir), which
// may hold other builds.
func pinnedAssets(cdn, dir bool) (scripts []asset, css asset) {
	for _, p := range pinned {
		a := asset{URL: assetsPath + p.name}
		if cdn {
			a.URL = cdnOrigin + p.cdnPath
		}
		if !dir {
			a.Integrity = p.integrity
		}
		scripts = append(scripts, a)
	}
	return scripts[:len(scripts)-1], scripts[len(scripts)-1]
}

// cdnAssets returns GraphiQL's files on the CDN.
func cdnAssets() (scripts []asset, css asset) { return pinnedAssets(true, false) }

// localAssets returns the same files served from PlaygroundOptions.AssetsDir.
func localAssets() (scripts []asset, css asset) { return pinnedAssets(false, true) }

// vendorDir is where the binary embeds GraphiQL's files.
const vendorDir = "playground/vendor"

// PlaygroundOptions configures Playground.
type PlaygroundOptions struct {
	// Endpoint is the URL of the GraphQL API that the IDE posts to: a path
	// on the same origin such as "/graphql" (the default when empty), or an
	// absolute http(s) URL, whose origin is then added to the page's
	// connect-src and must allow the page's origin in its CORS settings.
	Endpoint string

	// AssetsDir, when set, is a local directory from which the page loads
	// GraphiQL, under /playground/assets/, instead of the copy built into the
	// binary: for other builds of the same versions (the server's
	// --playground-assets-dir, TOKTOK_PLAYGROUND_ASSETS_DIR). It
	// must hold react.production.min.js, react-dom.production.min.js,
	// graphiql.min.js and graphiql.min.css, taken from the npm packages
	// react@18.3.1, react-dom@18.3.1 and graphiql@3.9.0, the versions the CDN
	// page uses. From the repository root,
	//
	//	scripts/playground-assets.sh DIR
	//
	// fetches them into DIR (with npm pack, from the npm registry).
	//
	// Only regular files are served: no directory listings, no dot files.
	// Request paths cannot leave the directory, but symbolic links inside
	// it are followed, as the operator put them there.
	AssetsDir string

	// CDN loads GraphiQL from unpkg.com (pinned versions, with integrity
	// values) instead of the copies embedded in the binary (the default,
	// which needs no Internet access): the server's --playground-cdn.
	// AssetsDir wins over it.
	CDN bool

	// Title is the page's title; "TokTok GraphiQL" when empty.
	Title string

	// DevInboxURL, when set, is the URL of the development inbox (the mails
	// the server would have sent, such as /dev/mail): the page's bar then
	// shows a "Mails (dev inbox)" link to it, opening in a new tab, so that a
	// developer who registered in the IDE finds the confirmation mail. Like
	// Endpoint, a path on the same origin or an absolute http(s) URL. Set it
	// only where the inbox exists (development).
	DevInboxURL string
}

// Playground returns the handler of the GraphiQL IDE. It serves
//
//	/playground                 the page (GET and HEAD)
//	/playground/toktok-*.js     the page's scripts, embedded (toktok-crypto.js,
//	                            the encryption helpers, shared with the hosted pages)
//	/playground/toktok.css      the page's style sheet, embedded
//	/playground/assets/*        GraphiQL: the built-in copy, or the files of opts.AssetsDir (none with CDN)
//
// and 404 for anything else, so mount it on both "/playground" and
// "/playground/". The page carries a Content-Security-Policy that allows
// scripts only from the server itself and, with CDN, GraphiQL's exact URLs
// there (no inline scripts), and connections only to the endpoint. Playground fails when an option is
// invalid or AssetsDir lacks a file, so that a misconfigured server does
// not start with a blank IDE.
func Playground(opts PlaygroundOptions) (http.Handler, error) {
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = "/graphql"
	}
	endpointOrigin, err := checkEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	if opts.DevInboxURL != "" {
		if _, err := checkURL("dev inbox URL", opts.DevInboxURL); err != nil {
			return nil, err
		}
	}
	title := opts.Title
	if title == "" {
		title = "TokTok GraphiQL"
	}

	p := &playground{static: map[string]staticFile{}}
	var scripts []asset
	var css asset
	source := "embedded" // where GraphiQL comes from, for the page's message when it fails
	switch {
	case opts.AssetsDir != "":
		if p.assets, err = assetHandler(opts.AssetsDir); err != nil {
			return nil, err
		}
		scripts, css = localAssets()
		source = "dir"
	case opts.CDN:
		scripts, css = cdnAssets()
		source = cdnOrigin
	default:
		vendor, err := fs.Sub(playgroundFiles, vendorDir)
		if err != nil {
			return nil, err
		}
		p.assets = http.StripPrefix(strings.TrimSuffix(assetsPath, "/"), http.FileServerFS(assetFS{vendor}))
		scripts, css = pinnedAssets(false, false)
	}
	p.csp = contentSecurityPolicy(scripts, css, endpointOrigin)

	tmpl, err := template.ParseFS(playgroundFiles, "playground/index.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse the playground page: %w", err)
	}
	var page bytes.Buffer
	err = tmpl.Execute(&page, struct {
		Title, Endpoint, Source, DevInboxURL string
		Scripts                              []asset
		CSS                                  asset
	}{title, endpoint, source, opts.DevInboxURL, scripts, css})
	if err != nil {
		return nil, fmt.Errorf("web: render the playground page: %w", err)
	}
	p.page = page.Bytes()

	err = embeddedAssets(playgroundFiles, "playground", []string{"toktok-fetcher.js", "toktok-boot.js", "toktok.css"}, p.static, pagePath+"/")
	if err != nil {
		return nil, err
	}
	return p, nil
}

// checkEndpoint accepts an absolute path or an absolute http(s) URL, and
// returns the URL's origin ("" for a path).
func checkEndpoint(endpoint string) (origin string, err error) {
	return checkURL("endpoint", endpoint)
}

// checkURL accepts an absolute path or an absolute http(s) URL, and returns
// the URL's origin ("" for a path); what names the option in errors.
func checkURL(what, raw string) (origin string, err error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("web: playground %s %q: %s", what, raw, why)
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == '\\' || r == 0x7f }) {
		return bad("has white space, a control character or a backslash")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad(err.Error())
	}
	switch {
	case u.Scheme == "" && u.Host == "" && strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//"):
		return "", nil
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil:
		if strings.ContainsAny(u.Host, ";,'\"") {
			return bad("has an invalid host")
		}
		return u.Scheme + "://" + u.Host, nil
	}
	return bad(`want a path such as "/graphql" or an absolute http(s) URL`)
}

// contentSecurityPolicy allows scripts and styles from the server and, of
// the assets, those on another origin by their exact URL (never a whole CDN
// host), and connections to the server and endpointOrigin. GraphiQL sets
// inline styles, hence 'unsafe-inline' for styles only, and embeds its fonts
// as data: URLs.
func contentSecurityPolicy(scripts []asset, css asset, endpointOrigin string) string {
	sources := func(assets ...asset) string {
		src := "'self'"
		for _, a := range assets {
			if strings.HasPrefix(a.URL, "https://") {
				src += " " + a.URL
			}
		}
		return src
	}
	connect := "'self'"
	if endpointOrigin != "" {
		connect += " " + endpointOrigin
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src " + sources(scripts...),
		"style-src " + sources(css) + " 'unsafe-inline'",
		"img-src 'self' data:",
		"font-src 'self' data:",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// assetHandler serves dir's regular files, after checking that GraphiQL's
// files are there.
func assetHandler(dir string) (http.Handler, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("web: playground assets dir: %w", err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("web: playground assets dir: %w (%s)", err, fetchHint(abs))
	} else if !st.IsDir() {
		return nil, fmt.Errorf("web: playground assets dir %s is not a directory", abs)
	}
	fsys := assetFS{os.DirFS(abs)}
	var missing []string
	for _, name := range []string{reactFile, reactDOMFile, graphiQLJS, graphiQLCSS} {
		f, err := fsys.Open(name)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		f.Close()
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("web: playground assets dir %s lacks %s: %s", abs, strings.Join(missing, ", "), fetchHint(abs))
	}
	return http.StripPrefix(strings.TrimSuffix(assetsPath, "/"), http.FileServerFS(fsys)), nil
}

// fetchHint tells how to fill the assets directory dir, or do without it.
func fetchHint(dir string) string {
	return fmt.Sprintf("scripts/playground-assets.sh %s, run from TokTok's repository root, fetches GraphiQL's files into it; "+
		"or leave --playground-assets-dir (TOKTOK_PLAYGROUND_ASSETS_DIR) unset to use the copy built into the binary", shellQuote(dir))
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// assetFS hides directories and dot files, so that http.FileServerFS
// lists no directory and serves no .git or the like.
type assetFS struct{ fsys fs.FS }

func (a assetFS) Open(name string) (fs.File, error) {
	for part := range strings.SplitSeq(name, "/") {
		if strings.HasPrefix(part, ".") {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
	}
	f, err := a.fsys.Open(name)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && !st.Mode().IsRegular() {
		err = &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// playground is the handler that Playground returns. It is immutable and
// safe for concurrent use.
type playground struct {
	page   []byte
	csp    string
	static map[string]staticFile
	assets http.Handler // nil without AssetsDir
}

func (p *playground) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !allowGetOnly(w, r) {
		return
	}
	path := r.URL.Path
	switch {
	case path == pagePath:
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", p.csp)
		h.Set("X-Frame-Options", "DENY")
		writeBody(w, r, p.page)
	case path == pagePath+"/":
		http.Redirect(w, r, pagePath, http.StatusMovedPermanently)
	case strings.HasPrefix(path, assetsPath):
		if p.assets == nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		p.assets.ServeHTTP(w, r)
	default:
		serveStatic(w, r, p.static)
	}
}
