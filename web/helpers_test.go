package web

// Test helpers for every handler of the package: the playground
// (web_test.go), the hosted pages (pages_test.go), the consoles
// (console_test.go, admin_console_test.go) and the dev inbox
// (devmail_test.go).

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
)

// newHandler builds a handler, such as newHandler(t, Pages, opts), and
// fails the test when build refuses opts.
func newHandler[O any](t *testing.T, build func(O) (http.Handler, error), opts O) http.Handler {
	t.Helper()
	h, err := build(opts)
	if err != nil {
		t.Fatalf("the handler with %+v: %v", opts, err)
	}
	return h
}

// newRequest returns a request with header's fields set.
func newRequest(method, target string, header http.Header) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	return req
}

// get runs one request through h and returns the response and its body.
func get(t *testing.T, h http.Handler, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	return serve(t, h, newRequest(method, target, header))
}

// serve runs req through h and returns the response and its body.
func serve(t *testing.T, h http.Handler, req *http.Request) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// nodeRSAKey returns a new RSA key, and its public half in PEM for the
// scripts that encrypt to it under Node (TOKTOK_TEST_PEM).
func nodeRSAKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// nodeCheckCiphertexts runs cmd, a script (named script in errors) that
// encrypted with nodeRSAKey's key and printed {"Ciphertexts": {label:
// base64}, "Plaintexts": {label: text}}, and decrypts each ciphertext (at
// least atLeast of them) as the server would.
func nodeCheckCiphertexts(t *testing.T, cmd *exec.Cmd, script string, key *rsa.PrivateKey, atLeast int) {
	t.Helper()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	var got struct {
		Ciphertexts map[string]string
		Plaintexts  map[string]string
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s output: %v\n%s", script, err, out)
	}
	if len(got.Ciphertexts) < atLeast {
		t.Fatalf("%s made %d ciphertexts, want %d or more", script, len(got.Ciphertexts), atLeast)
	}
	for label, b64 := range got.Ciphertexts {
		ct, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			t.Errorf("%s: not standard base64: %v", label, err)
			continue
		}
		pt, err := rsa.DecryptOAEP(sha256.New(), nil, key, ct, nil)
		if err != nil {
			t.Errorf("%s: RSA-OAEP-SHA256 decryption: %v", label, err)
			continue
		}
		if want := got.Plaintexts[label]; string(pt) != want {
			t.Errorf("%s: decrypted %q, want %q", label, pt, want)
		}
	}
}

// checkStaticFile checks how h serves target, an embedded script or style
// sheet: the file's bytes with its content type and serveStatic's headers,
// 304 for its own ETag, and HEAD without the body.
func checkStaticFile(t *testing.T, h http.Handler, target string, want []byte, ctype string) {
	t.Helper()
	res, body := get(t, h, http.MethodGet, target, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", target, res.StatusCode)
	}
	if body != string(want) {
		t.Errorf("%s: not the embedded file", target)
	}
	for k, v := range map[string]string{
		"Content-Type":           ctype,
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
		"Cache-Control":          "no-cache",
	} {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s: %s = %q, want %q", target, k, got, v)
		}
	}
	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Errorf("%s: no ETag", target)
	}
	res, body = get(t, h, http.MethodGet, target, http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("%s with If-None-Match: status %d", target, res.StatusCode)
	}
	res, body = get(t, h, http.MethodHead, target, nil)
	if res.StatusCode != http.StatusOK || body != "" || res.Header.Get("Content-Type") != ctype {
		t.Errorf("HEAD %s: status %d, %d bytes, %q", target, res.StatusCode, len(body), res.Header.Get("Content-Type"))
	}
}

// embeddedFile returns one of the files the package embeds, by its path
// there, such as "pages/pages.js".
func embeddedFile(t *testing.T, file string) []byte {
	t.Helper()
	dir, _, _ := strings.Cut(file, "/")
	fsys := map[string]embed.FS{"console": consoleFiles, "pages": pagesFiles, "playground": playgroundFiles, "shared": sharedFiles}[dir]
	b, err := fsys.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
