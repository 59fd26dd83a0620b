package web

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/toktok/toktok/internal/testkit/skipnote"
)

// cspDirectives splits a Content-Security-Policy into its directives.
func cspDirectives(t *testing.T, csp string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		out[name] = value
	}
	return out
}

// assetsDir makes a directory with GraphiQL's four files (fake contents),
// inside a parent directory that holds a secret file and a secret folder.
func assetsDir(t *testing.T) (dir, secret string) {
	t.Helper()
	parent := t.TempDir()
	dir = filepath.Join(parent, "assets")
	secret = "TOP-SECRET-" + rand.Text()
	for name, content := range map[string]string{
		"secret.txt":                         secret,
		"assets/react.production.min.js":     "/* react */",
		"assets/react-dom.production.min.js": "/* react-dom */",
		"assets/graphiql.min.js":             "/* graphiql */",
		"assets/graphiql.min.css":            ".graphiql-container{}",
		"assets/.hidden":                     secret,
		"assets/sub/file.js":                 "/* sub */",
	} {
		path := filepath.Join(parent, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, secret
}

// TestPlaygroundEmbeddedAssets: the copies of GraphiQL's files built into the binary are
// the npm releases the page pins: each one's sha384 is its integrity value (the browser
// would refuse any other), and each is served under /playground/assets/ with its type.
func TestPlaygroundEmbeddedAssets(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{})
	for _, p := range pinned {
		res, body := get(t, h, http.MethodGet, assetsPath+p.name, nil)
		sum := sha512.Sum384([]byte(body))
		if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); res.StatusCode != http.StatusOK || got != p.integrity {
			t.Errorf("%s: HTTP %d, %s; want %s", p.name, res.StatusCode, got, p.integrity)
		}
		want := "text/javascript; charset=utf-8"
		if strings.HasSuffix(p.name, ".css") {
			want = "text/css; charset=utf-8"
		}
		if ct := res.Header.Get("Content-Type"); ct != want {
			t.Errorf("%s: Content-Type %q, want %q", p.name, ct, want)
		}
	}
}

// TestPlaygroundCDN: with CDN (--playground-cdn) the page loads GraphiQL from unpkg.com,
// each file with its integrity value, and the CSP names those exact URLs, never the
// whole host.
func TestPlaygroundCDN(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{CDN: true})
	res, body := get(t, h, http.MethodGet, "/playground", nil)
	csp := cspDirectives(t, res.Header.Get("Content-Security-Policy"))
	scripts := "'self' https://unpkg.com/react@18.3.1/umd/react.production.min.js " +
		"https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js https://unpkg.com/graphiql@3.9.0/graphiql.min.js"
	if csp["script-src"] != scripts || csp["style-src"] != "'self' https://unpkg.com/graphiql@3.9.0/graphiql.min.css 'unsafe-inline'" {
		t.Errorf("CSP script-src %q, style-src %q", csp["script-src"], csp["style-src"])
	}
	for _, want := range []string{
		`<script src="https://unpkg.com/react@18.3.1/umd/react.production.min.js" integrity="sha384-`,
		`<script src="https://unpkg.com/react-dom@18.3.1/umd/react-dom.production.min.js" integrity="sha384-`,
		`<script src="https://unpkg.com/graphiql@3.9.0/graphiql.min.js" integrity="sha384-`,
		`<link rel="stylesheet" href="https://unpkg.com/graphiql@3.9.0/graphiql.min.css" integrity="sha384-`,
		`data-assets="https://unpkg.com"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, assetsPath) {
		t.Errorf("the CDN page references %s", assetsPath)
	}
}

// TestPlaygroundPageDefaults: by default GraphiQL comes from the copy built into the
// binary, under /playground/assets/, each file with its integrity value, and the page's
// CSP allows scripts and styles from the server alone.
func TestPlaygroundPageDefaults(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{Endpoint: "/graphql"})
	res, body := get(t, h, http.MethodGet, "/playground", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", res.StatusCode)
	}
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-store",
		"X-Frame-Options":        "DENY",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}

	csp := cspDirectives(t, res.Header.Get("Content-Security-Policy"))
	for name, want := range map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"style-src":       "'self' 'unsafe-inline'",
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
	} {
		if got := csp[name]; got != want {
			t.Errorf("CSP %s = %q, want %q", name, got, want)
		}
	}
	if strings.Contains(csp["script-src"], "unsafe") {
		t.Errorf("CSP script-src %q allows unsafe scripts", csp["script-src"])
	}

	for _, want := range []string{
		`data-endpoint="/graphql"`,
		`<title>TokTok GraphiQL</title>`,
		`<script src="/playground/assets/react.production.min.js" integrity="sha384-`,
		`<script src="/playground/assets/react-dom.production.min.js" integrity="sha384-`,
		`<script src="/playground/assets/graphiql.min.js" integrity="sha384-`,
		`<link rel="stylesheet" href="/playground/assets/graphiql.min.css" integrity="sha384-`,
		`crossorigin="anonymous"`,
		`data-assets="embedded"`,
		`<script src="/playground/toktok-crypto.js"></script>`,
		`<script src="/playground/toktok-fetcher.js"></script>`,
		`<script src="/playground/toktok-boot.js"></script>`,
		`Pass credentials as variables (not inline literals) so the IDE can encrypt them`,
		`id="toktok-status"`,
		`forget tokens`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "unpkg.com") {
		t.Error("the default page references the CDN")
	}
	// No inline script: every <script> has a src.
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script %q", tag)
		}
	}
	// The scripts load in order: React, ReactDOM, GraphiQL, ours.
	order := []string{"react.production", "react-dom.production", "graphiql.min.js", "toktok-crypto.js", "toktok-fetcher.js", "toktok-boot.js"}
	last := -1
	for _, s := range order {
		i := strings.Index(body, s)
		if i < last {
			t.Errorf("%s is loaded out of order", s)
		}
		last = i
	}

	// HEAD: the headers, no body.
	res, body = get(t, h, http.MethodHead, "/playground", nil)
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("HEAD: status %d, body %q, CSP %q", res.StatusCode, body, res.Header.Get("Content-Security-Policy"))
	}
}

func TestPlaygroundOptions(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{
		Endpoint: "https://api.example.com:8443/graphql?x=1&y=<2>",
		Title:    `Dev <script>alert("x")</script>`,
	})
	res, body := get(t, h, http.MethodGet, "/playground", nil)
	if strings.Contains(body, "<script>alert") {
		t.Error("the title is not escaped")
	}
	if !strings.Contains(body, "<title>Dev &lt;script&gt;") {
		t.Error("the title is missing")
	}
	if !strings.Contains(body, `data-endpoint="https://api.example.com:8443/graphql?x=1&amp;y=&lt;2&gt;"`) {
		t.Errorf("the endpoint is missing or not escaped in %s", body)
	}
	csp := cspDirectives(t, res.Header.Get("Content-Security-Policy"))
	if got, want := csp["connect-src"], "'self' https://api.example.com:8443"; got != want {
		t.Errorf("connect-src = %q, want %q", got, want)
	}

	// Defaults.
	h = newHandler(t, Playground, PlaygroundOptions{})
	if _, body := get(t, h, http.MethodGet, "/playground", nil); !strings.Contains(body, `data-endpoint="/graphql"`) {
		t.Error(`the default endpoint is not "/graphql"`)
	}
}

func TestPlaygroundBadOptions(t *testing.T) {
	dir, _ := assetsDir(t)
	incomplete := t.TempDir()
	if err := os.WriteFile(filepath.Join(incomplete, "graphiql.min.js"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts PlaygroundOptions
		want string
	}{
		{"relative endpoint", PlaygroundOptions{Endpoint: "graphql"}, "endpoint"},
		{"javascript endpoint", PlaygroundOptions{Endpoint: "javascript:alert(1)"}, "endpoint"},
		{"protocol-relative endpoint", PlaygroundOptions{Endpoint: "//evil.example/graphql"}, "endpoint"},
		{"backslash endpoint", PlaygroundOptions{Endpoint: `/\evil.example/graphql`}, "endpoint"},
		{"endpoint with space", PlaygroundOptions{Endpoint: "/graph ql"}, "endpoint"},
		{"endpoint with user", PlaygroundOptions{Endpoint: "https://u:p@api.example.com/graphql"}, "endpoint"},
		{"missing assets dir", PlaygroundOptions{AssetsDir: filepath.Join(dir, "nope")}, "assets dir"},
		{"assets dir is a file", PlaygroundOptions{AssetsDir: filepath.Join(dir, "graphiql.min.js")}, "not a directory"},
		{"incomplete assets dir", PlaygroundOptions{AssetsDir: incomplete}, "react.production.min.js, react-dom.production.min.js, graphiql.min.css"},
		{"relative dev inbox URL", PlaygroundOptions{DevInboxURL: "dev/mail"}, "dev inbox URL"},
		{"javascript dev inbox URL", PlaygroundOptions{DevInboxURL: "javascript:alert(1)"}, "dev inbox URL"},
		{"protocol-relative dev inbox URL", PlaygroundOptions{DevInboxURL: "//evil.example/dev/mail"}, "dev inbox URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := Playground(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Playground(%+v) = %v, %v; want an error about %q", tc.opts, h, err, tc.want)
			}
		})
	}
}

// TestPlaygroundAssetsDirHint: when the assets directory is missing or lacks a file,
// the error names the script that fills it and the server's option, not the Go API.
func TestPlaygroundAssetsDirHint(t *testing.T) {
	parent := t.TempDir()
	incomplete := filepath.Join(parent, "pg assets")
	if err := os.Mkdir(incomplete, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{incomplete, filepath.Join(parent, "nope")} {
		_, err := Playground(PlaygroundOptions{AssetsDir: dir})
		if err == nil {
			t.Fatalf("AssetsDir %s: no error", dir)
		}
		quoted := dir
		if strings.Contains(dir, " ") {
			quoted = "'" + dir + "'"
		}
		for _, want := range []string{
			"scripts/playground-assets.sh " + quoted + ", run from TokTok's repository root, fetches GraphiQL's files into it",
			"--playground-assets-dir (TOKTOK_PLAYGROUND_ASSETS_DIR)",
			"unset to use the copy built into the binary",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("AssetsDir %s: error %q lacks %q", dir, err, want)
			}
		}
		if strings.Contains(err.Error(), "PlaygroundOptions") {
			t.Errorf("AssetsDir %s: error %q names the Go API, not the server's option", dir, err)
		}
	}
	if got, want := shellQuote("/tmp/it's here"), `'/tmp/it'\''s here'`; got != want {
		t.Errorf("shellQuote = %s, want %s", got, want)
	}
}

// TestPlaygroundDevInboxLink: with DevInboxURL, the bar links to the dev inbox in a new
// tab, escaped; without it, there is no link.
func TestPlaygroundDevInboxLink(t *testing.T) {
	const text = ">Mails (dev inbox)</a>"
	_, body := get(t, newHandler(t, Playground, PlaygroundOptions{}), http.MethodGet, "/playground", nil)
	if strings.Contains(body, text) || strings.Contains(body, "toktok-inbox") || strings.Contains(body, "data-dev-inbox") {
		t.Errorf("page without DevInboxURL has a dev inbox link:\n%s", body)
	}

	_, body = get(t, newHandler(t, Playground, PlaygroundOptions{DevInboxURL: "/dev/mail"}), http.MethodGet, "/playground", nil)
	link := regexp.MustCompile(`<a [^>]*>Mails \(dev inbox\)</a>`).FindString(body)
	for _, want := range []string{`href="/dev/mail"`, `target="_blank"`, `rel="noopener noreferrer"`, `class="toktok-inbox"`} {
		if !strings.Contains(link, want) {
			t.Errorf("dev inbox link %q lacks %s", link, want)
		}
	}
	if i, j := strings.Index(body, "<header"), strings.Index(body, "</header>"); !strings.Contains(body[i:j], link) {
		t.Error("the dev inbox link is not in the page's bar")
	}
	if !strings.Contains(body, `data-dev-inbox="yes"`) {
		t.Error("<body> does not tell toktok-boot.js that there is a dev inbox")
	}

	_, body = get(t, newHandler(t, Playground, PlaygroundOptions{DevInboxURL: `https://dev.example/mail?a=1&b="><script>x</script>`}), http.MethodGet, "/playground", nil)
	if strings.Contains(body, "<script>x") || strings.Contains(body, `b="`) {
		t.Errorf("the dev inbox URL is not escaped:\n%s", body)
	}
	if !strings.Contains(body, `href="https://dev.example/mail?a=1&amp;b=%22%3e%3cscript%3ex%3c/script%3e"`) {
		t.Errorf("the escaped dev inbox URL is missing:\n%s", body)
	}
}

func TestPlaygroundAssetsDir(t *testing.T) {
	dir, secret := assetsDir(t)
	h := newHandler(t, Playground, PlaygroundOptions{Endpoint: "/graphql", AssetsDir: dir})

	res, body := get(t, h, http.MethodGet, "/playground", nil)
	for _, want := range []string{
		`<script src="/playground/assets/react.production.min.js"></script>`,
		`<script src="/playground/assets/react-dom.production.min.js"></script>`,
		`<script src="/playground/assets/graphiql.min.js"></script>`,
		`<link rel="stylesheet" href="/playground/assets/graphiql.min.css">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "unpkg.com") {
		t.Error("page with AssetsDir still uses the CDN")
	}
	csp := cspDirectives(t, res.Header.Get("Content-Security-Policy"))
	if csp["script-src"] != "'self'" || csp["style-src"] != "'self' 'unsafe-inline'" {
		t.Errorf("CSP with AssetsDir: script-src %q, style-src %q", csp["script-src"], csp["style-src"])
	}

	for name, ctype := range map[string]string{
		"graphiql.min.css":        "text/css",
		"graphiql.min.js":         "javascript",
		"react.production.min.js": "javascript",
	} {
		res, body := get(t, h, http.MethodGet, "/playground/assets/"+name, nil)
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK || body != string(want) {
			t.Errorf("GET %s: status %d, body %q", name, res.StatusCode, body)
		}
		if got := res.Header.Get("Content-Type"); !strings.Contains(got, ctype) {
			t.Errorf("GET %s: Content-Type %q, want %s", name, got, ctype)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", name)
		}
	}

	// No listings, no dot files, nothing outside the directory.
	for _, target := range []string{
		"/playground/assets/",
		"/playground/assets/sub",
		"/playground/assets/sub/",
		"/playground/assets/.hidden",
		"/playground/assets/sub/../.hidden",
		"/playground/assets/../secret.txt",
		"/playground/assets/../../secret.txt",
		"/playground/assets/..%2fsecret.txt",
		"/playground/assets/%2e%2e/secret.txt",
		"/playground/assets/%2e%2e%2fsecret.txt",
		"/playground/assets/..%5csecret.txt",
		"/playground/assets/../assets/../secret.txt",
		"/playground/assets/../web.go",
		"/playground/assets//etc/passwd",
	} {
		res, body := get(t, h, http.MethodGet, target, nil)
		if res.StatusCode == http.StatusOK || strings.Contains(body, secret) || strings.Contains(body, "package web") {
			t.Errorf("GET %s: status %d, body %.80q", target, res.StatusCode, body)
		}
	}
}

// TestPlaygroundMounted checks the handler behind a ServeMux, as the
// server mounts it, over real HTTP.
func TestPlaygroundMounted(t *testing.T) {
	dir, secret := assetsDir(t)
	h := newHandler(t, Playground, PlaygroundOptions{AssetsDir: dir})
	mux := http.NewServeMux()
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	for target, want := range map[string]int{
		"/playground":                         http.StatusOK,
		"/playground/toktok-fetcher.js":       http.StatusOK,
		"/playground/toktok-crypto.js":        http.StatusOK,
		"/playground/assets/graphiql.min.css": http.StatusOK,
		"/playground/":                        http.StatusMovedPermanently,
		"/playground/nope":                    http.StatusNotFound,
	} {
		res, err := client.Get(srv.URL + target)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: status %d, want %d", target, res.StatusCode, want)
		}
	}
	for _, target := range []string{
		"/playground/assets/../secret.txt",
		"/playground/assets/..%2fsecret.txt",
		"/playground/assets/%2e%2e/%2e%2e/secret.txt",
	} {
		req, err := http.NewRequest(http.MethodGet, srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatalf("GET %s: read the body: %v", target, err)
		}
		if res.StatusCode == http.StatusOK || strings.Contains(string(body), secret) {
			t.Errorf("GET %s: status %d, body %.80q", target, res.StatusCode, body)
		}
	}
}

func TestPlaygroundStaticFiles(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{})
	for target, want := range map[string]struct{ ctype, content string }{
		"/playground/toktok-crypto.js":  {"text/javascript; charset=utf-8", "root.toktokCrypto = "},
		"/playground/toktok-fetcher.js": {"text/javascript; charset=utf-8", "window.createToktokFetcher"},
		"/playground/toktok-boot.js":    {"text/javascript; charset=utf-8", "createToktokFetcher({"},
		"/playground/toktok.css":        {"text/css; charset=utf-8", ".toktok-bar"},
	} {
		res, body := get(t, h, http.MethodGet, target, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d", target, res.StatusCode)
		}
		if got := res.Header.Get("Content-Type"); got != want.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", target, got, want.ctype)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", target)
		}
		if !strings.Contains(body, want.content) {
			t.Errorf("GET %s: body lacks %q", target, want.content)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatalf("GET %s: no ETag", target)
		}
		res, _ = get(t, h, http.MethodGet, target, http.Header{"If-None-Match": {etag}})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: status %d, want 304", target, res.StatusCode)
		}
	}
	// The fetcher exports what a browser test calls.
	_, body := get(t, h, http.MethodGet, "/playground/toktok-fetcher.js", nil)
	for _, name := range []string{"encryptCredentials", "operationInfo", "pemToDer", "root.toktok = "} {
		if !strings.Contains(body, name) {
			t.Errorf("toktok-fetcher.js lacks %s", name)
		}
	}
}

func TestPlaygroundNotFound(t *testing.T) {
	h := newHandler(t, Playground, PlaygroundOptions{CDN: true})
	for _, target := range []string{
		"/playground/nope",
		"/playground/index.html",
		"/playground/playground/index.html",
		"/playground/assets/react.production.min.js", // GraphiQL from the CDN
		"/playground/assets/",
		"/playground/toktok-fetcher.js/",
		"/playground/shared/toktok-crypto.js",
		"/playground/pages.js",
		"/playgroundx",
		"/",
	} {
		if res, _ := get(t, h, http.MethodGet, target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
	// The embedded copy serves its four files, and no listing.
	embedded := newHandler(t, Playground, PlaygroundOptions{})
	for _, target := range []string{"/playground/assets/", "/playground/assets/.hidden", "/playground/assets/vendor/graphiql.min.js"} {
		if res, _ := get(t, embedded, http.MethodGet, target, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("embedded: GET %s: status %d, want 404", target, res.StatusCode)
		}
	}
	res, _ := get(t, h, http.MethodPost, "/playground", nil)
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /playground: status %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

// nodeMinMajor is the oldest Node the JavaScript tests run on: the first LTS line with the
// WebCrypto global (globalThis.crypto.subtle) that the scripts use.
const nodeMinMajor = 20

// nodePath returns a node of at least version nodeMinMajor for the JavaScript tests.
// Without one, t skips (through skipnote, which says so after the package's tests),
// except under CI (CI set), where it fails: CI must run them, and .ci/run installs or
// checks Node before the tests.
func nodePath(t *testing.T) string {
	t.Helper()
	enable := fmt.Sprintf("Node.js >= %d; Debian 13: sudo apt-get install nodejs", nodeMinMajor)
	node, err := exec.LookPath("node")
	if err != nil {
		skipnote.Skip(t, "no node in PATH", enable)
	}
	out, err := exec.CommandContext(t.Context(), node, "-p", "process.versions.node").CombinedOutput()
	if err != nil {
		skipnote.Skip(t, fmt.Sprintf("%s -p process.versions.node: %v %s", node, err, out), enable)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(version, ".")
	if n, err := strconv.Atoi(major); err != nil || n < nodeMinMajor {
		skipnote.Skip(t, fmt.Sprintf("%s is Node %s, older than %d", node, version, nodeMinMajor), enable)
	}
	if out, err := exec.CommandContext(t.Context(), node, "-e",
		"process.exit(globalThis.crypto && globalThis.crypto.subtle ? 0 : 1)").CombinedOutput(); err != nil {
		skipnote.Skip(t, fmt.Sprintf("Node %s has no WebCrypto global: %v %s", version, err, out), enable)
	}
	return node
}

// TestJavaScriptSyntax parses the embedded scripts with node (see nodePath).
func TestJavaScriptSyntax(t *testing.T) {
	node := nodePath(t)
	for _, name := range []string{filepath.FromSlash(sharedCryptoScript), filepath.Join("playground", "toktok-fetcher.js"), filepath.Join("playground", "toktok-boot.js")} {
		out, err := exec.CommandContext(t.Context(), node, "--check", name).CombinedOutput()
		if err != nil {
			t.Errorf("node --check %s: %v\n%s", name, err, out)
		}
	}
}

// TestBootWithNode runs testdata/boot_check.js, which boots toktok-boot.js in a
// stand-in for the page: without GraphiQL, the page names the server's option and the
// script that fetch GraphiQL's files; with a dev inbox, the walkthrough points to it.
func TestBootWithNode(t *testing.T) {
	node := nodePath(t)
	out, err := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "boot_check.js"),
		filepath.Join("playground", "toktok-boot.js")).CombinedOutput()
	if err != nil {
		t.Fatalf("boot_check.js: %v\n%s", err, out)
	}
	type result struct {
		Message string
		Classes []string
		Query   *string
	}
	var got struct{ CDN, Local, Embedded, Inbox, NoInbox result }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("boot_check.js output: %v\n%s", err, out)
	}
	for name, tc := range map[string]struct {
		r    result
		want []string
	}{
		"CDN": {got.CDN, []string{
			"GraphiQL could not be loaded from https://unpkg.com (--playground-cdn)",
			"without --playground-cdn (TOKTOK_PLAYGROUND_CDN)", "built in",
			"scripts/playground-assets.sh DIR", "TokTok's repository root",
			"--playground-assets-dir DIR", "TOKTOK_PLAYGROUND_ASSETS_DIR=DIR",
		}},
		"local": {got.Local, []string{
			"GraphiQL could not be loaded from /playground/assets/",
			"--playground-assets-dir (TOKTOK_PLAYGROUND_ASSETS_DIR)", "scripts/playground-assets.sh DIR",
		}},
		"embedded": {got.Embedded, []string{
			"GraphiQL could not be loaded from /playground/assets/, the copy built into the binary",
			"Reload the page", "console",
		}},
	} {
		for _, want := range tc.want {
			if !strings.Contains(tc.r.Message, want) {
				t.Errorf("%s: the message %q lacks %q", name, tc.r.Message, want)
			}
		}
		if strings.Contains(tc.r.Message, "package web") || strings.Contains(tc.r.Message, "AssetsDir") {
			t.Errorf("%s: the message %q names the Go API", name, tc.r.Message)
		}
		if len(tc.r.Classes) != 1 || tc.r.Classes[0] != "toktok-error" || tc.r.Query != nil {
			t.Errorf("%s: classes %q, GraphiQL rendered %v; want the error class and no GraphiQL", name, tc.r.Classes, tc.r.Query != nil)
		}
	}
	const confirm = `the dev inbox ("Mails (dev inbox)", top right)`
	if got.Inbox.Query == nil || !strings.Contains(*got.Inbox.Query, confirm) || !strings.Contains(*got.Inbox.Query, "mutation Register(") {
		t.Errorf("with a dev inbox, the walkthrough lacks %q: %v", confirm, got.Inbox.Query)
	}
	if got.NoInbox.Query == nil || strings.Contains(*got.NoInbox.Query, "dev inbox") {
		t.Errorf("without a dev inbox, the walkthrough mentions one: %v", got.NoInbox.Query)
	}
}

// TestFetcherWithNode runs testdata/fetcher_check.js, which drives the
// fetcher against a fake server under Node's WebCrypto, and decrypts here
// the ciphertexts it made, as the server would.
func TestFetcherWithNode(t *testing.T) {
	node := nodePath(t)
	key, pemKey := nodeRSAKey(t)

	cmd := exec.CommandContext(t.Context(), node, filepath.Join("testdata", "fetcher_check.js"),
		filepath.FromSlash(sharedCryptoScript), filepath.Join("playground", "toktok-fetcher.js"))
	cmd.Env = append(os.Environ(), "TOKTOK_TEST_PEM="+string(pemKey))
	nodeCheckCiphertexts(t, cmd, "fetcher_check.js", key, 5)
}

// TestAssetsScriptPinsWebGo: scripts/playground-assets.sh checks the files it fetches
// against the same integrity values as the page (pinned), so that it never installs,
// nor refreshes the built-in copy with, a file the browser would refuse.
func TestAssetsScriptPinsWebGo(t *testing.T) {
	b, err := os.ReadFile("../scripts/playground-assets.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^\s+\[([a-z.-]+)\]=(sha384-\S+)$`).FindAllStringSubmatch(string(b), -1) {
		script[m[1]] = m[2]
	}
	if len(script) != len(pinned) {
		t.Errorf("the script pins %d files, web.go %d", len(script), len(pinned))
	}
	for _, p := range pinned {
		if script[p.name] != p.integrity {
			t.Errorf("%s: the script pins %q, web.go %q", p.name, script[p.name], p.integrity)
		}
	}
}
