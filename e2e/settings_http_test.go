package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The HTTP server's settings: the four timeouts, shown on raw TCP connections to
// app.App.Serve (httptest.Server would use its own), and the body limit.

// settingsServer is an app served by app.App.Serve on a loopback listener of the test's
// own, as the command serves it.
type settingsServer struct {
	addr   string
	cancel context.CancelFunc // starts the graceful shutdown
	done   chan struct{}      // closed when Serve has returned
	err    error              // what Serve returned, once done is closed
}

// settingsServe builds the app on settingsPlain changed by edit and serves it until the
// test ends (or cancel).
func settingsServe(t *testing.T, edit func(*config.Config)) *settingsServer {
	t.Helper()
	cfg := settingsPlain(t)
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{Now: newTestClock().Now, Store: mongoStoreFor(t, cfg)})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		if cerr := a.Close(); cerr != nil {
			t.Error(cerr)
		}
		t.Fatal(err)
	}
	// Not t.Context(): the test decides when the shutdown starts, and the cleanup below
	// waits for it.
	ctx, cancel := context.WithCancel(context.Background())
	s := &settingsServer{addr: ln.Addr().String(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.err = a.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(settingsWait):
			t.Errorf("Serve did not return within %v of the end of the test", settingsWait)
		}
		if err := a.Close(); err != nil {
			t.Errorf("close app: %v", err)
		}
	})
	return s
}

// dial opens a raw connection to the server; every read and write on it gives up after
// settingsWait.
func (s *settingsServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.addr, settingsWait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(settingsWait)); err != nil {
		t.Fatal(err)
	}
	return c
}

// served reports whether Serve has returned, without waiting.
func (s *settingsServer) served() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// wait waits for Serve to return and gives its result.
func (s *settingsServer) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(settingsWait):
		t.Fatalf("Serve did not return within %v", settingsWait)
		return nil
	}
}

// settingsWrite writes s on c, failing the test on error.
func settingsWrite(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// settingsHangUp reads r until the server closes the connection, and fails the test if
// it has not within the connection's deadline. It returns what the server sent first.
func settingsHangUp(t *testing.T, r io.Reader, what string) []byte {
	t.Helper()
	got, err := io.ReadAll(r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("%s: the server kept the connection open for %v", what, settingsWait)
	}
	// A reset is a close too; anything else is a broken test.
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("%s: %v", what, err)
	}
	return got
}

// settingsReadOK reads one response from br and checks it is 200 with a body.
func settingsReadOK(t *testing.T, br *bufio.Reader, what string) []byte {
	t.Helper()
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s: no response: %v", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d, %v: %s", what, resp.StatusCode, err, body)
	}
	return body
}

const settingsHealthz = "GET /healthz HTTP/1.1\r\nHost: toktok.test\r\n\r\n"

// TestSettingsReadTimeout: a client that sends half a request is disconnected after
// --read-timeout, without an answer; with a long read timeout a request as old is still
// awaited, and answered once complete.
func TestSettingsReadTimeout(t *testing.T) {
	short := settingsServe(t, func(c *config.Config) { c.HTTP.ReadTimeout = 100 * time.Millisecond })
	long := settingsServe(t, func(c *config.Config) { c.HTTP.ReadTimeout = time.Hour })
	head, rest, _ := strings.Cut(settingsHealthz, "Host")
	lc := long.dial(t)
	settingsWrite(t, lc, head)
	sc := short.dial(t)
	settingsWrite(t, sc, head)

	if got := settingsHangUp(t, sc, "--read-timeout=100ms, half a request"); len(got) != 0 {
		t.Errorf("the server answered a half-sent request: %q", got)
	}
	// The long server's request was begun before the short server's: it is older than the
	// one just dropped, and still awaited.
	settingsWrite(t, lc, "Host"+rest)
	settingsReadOK(t, bufio.NewReader(lc), "--read-timeout=1h, the request completed later")
}

// TestSettingsIdleTimeout: a keep-alive connection left idle is closed by the server after
// --idle-timeout; with a long idle timeout a connection idle as long serves a second
// request.
func TestSettingsIdleTimeout(t *testing.T) {
	short := settingsServe(t, func(c *config.Config) {
		c.HTTP.IdleTimeout, c.HTTP.ReadTimeout = 100*time.Millisecond, time.Hour
	})
	long := settingsServe(t, func(c *config.Config) { c.HTTP.IdleTimeout, c.HTTP.ReadTimeout = time.Hour, time.Hour })
	lc := long.dial(t)
	lr := bufio.NewReader(lc)
	settingsWrite(t, lc, settingsHealthz)
	settingsReadOK(t, lr, "--idle-timeout=1h, first request")
	sc := short.dial(t)
	sr := bufio.NewReader(sc)
	settingsWrite(t, sc, settingsHealthz)
	settingsReadOK(t, sr, "--idle-timeout=100ms, first request")

	if got := settingsHangUp(t, sr, "--idle-timeout=100ms, idle keep-alive connection"); len(got) != 0 {
		t.Errorf("the server sent %q on an idle connection", got)
	}
	// The long server's connection has been idle longer than the one just closed.
	settingsWrite(t, lc, settingsHealthz)
	settingsReadOK(t, lr, "--idle-timeout=1h, second request on the idle connection")
}

// TestSettingsWriteTimeout: an answer that takes longer to produce than --write-timeout
// (a login, which costs an argon2id verification at the default cost) never reaches the
// client; with a long write timeout it does.
func TestSettingsWriteTimeout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		answer  bool
	}{
		{"1ms", time.Millisecond, false},
		{"1h", time.Hour, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := settingsServe(t, func(c *config.Config) {
				c.HTTP.WriteTimeout = tc.timeout
				c.Password = config.Default().Password // a real hash: milliseconds at least
			})
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: settingsWait}
			defer client.CloseIdleConnections()
			body := `{"query":"mutation { login(input: {email: \"nobody@example.com\", password: \"not the password at all\"}) { accessToken } }"}`
			resp, err := client.Post("http://"+s.addr+"/graphql", "application/json", strings.NewReader(body))
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
			intact := err == nil && bytes.Contains(got, []byte(`"INVALID_CREDENTIALS"`))
			if intact != tc.answer {
				t.Fatalf("--write-timeout=%v: answer intact %v (%v, %q), want %v", tc.timeout, intact, err, got, tc.answer)
			}
		})
	}
}

// settingsSlowRequest starts a POST /graphql on a raw connection and leaves it in flight:
// the handler is reading the body (the server said 100 Continue) when it returns. The
// caller sends rest to complete it.
func settingsSlowRequest(t *testing.T, s *settingsServer) (c net.Conn, br *bufio.Reader, rest string) {
	t.Helper()
	body := `{"query":"{ authConfig { registrationOpen } }"}`
	c = s.dial(t)
	br = bufio.NewReader(c)
	settingsWrite(t, c, fmt.Sprintf("POST /graphql HTTP/1.1\r\nHost: toktok.test\r\nContent-Type: application/json\r\n"+
		"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body)))
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v, %v", resp, err)
	}
	settingsWrite(t, c, body[:10])
	return c, br, body[10:]
}

// TestSettingsShutdownTimeout: when the context of Serve ends with a request in flight,
// Serve waits for it at most --shutdown-timeout: a short one gives up and reports the
// shutdown error; a long one lets the request finish, answers it, and returns nil.
func TestSettingsShutdownTimeout(t *testing.T) {
	t.Run("50ms", func(t *testing.T) {
		s := settingsServe(t, func(c *config.Config) {
			c.HTTP.ShutdownTimeout, c.HTTP.ReadTimeout = 50*time.Millisecond, time.Hour
		})
		settingsSlowRequest(t, s) // never completed
		s.cancel()
		err := s.wait(t)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "shutdown") {
			t.Fatalf("Serve = %v, want the shutdown deadline error", err)
		}
	})
	t.Run("1h", func(t *testing.T) {
		s := settingsServe(t, func(c *config.Config) {
			c.HTTP.ShutdownTimeout, c.HTTP.ReadTimeout = time.Hour, time.Hour
		})
		c, br, rest := settingsSlowRequest(t, s)
		s.cancel()
		// The shutdown has begun once the listener refuses connections.
		settingsUntil(t, func() bool {
			nc, err := net.DialTimeout("tcp", s.addr, settingsWait)
			if err == nil {
				nc.Close()
			}
			return err != nil
		}, func() string { return "the listener still accepts connections after cancel" })
		if s.served() {
			t.Fatalf("Serve returned (%v) with a request in flight", s.err)
		}
		settingsWrite(t, c, rest)
		if body := settingsReadOK(t, br, "the request in flight at shutdown"); !bytes.Contains(body, []byte(`"registrationOpen":true`)) {
			t.Errorf("answer %s", body)
		}
		if err := s.wait(t); err != nil {
			t.Fatalf("Serve after draining = %v, want nil", err)
		}
	})
}

// TestSettingsBodyLimit: --body-limit=2048 refuses a body of 2049 bytes with 413 and
// accepts 2048 and 2047; the default limit accepts the 2049-byte body.
func TestSettingsBodyLimit(t *testing.T) {
	padded := func(size int) []byte {
		b := []byte(`{"query":"{ authConfig { registrationOpen } }"}`)
		out := append([]byte{'{'}, bytes.Repeat([]byte{' '}, size-len(b))...)
		out = append(out, b[1:]...)
		if len(out) != size {
			t.Fatalf("body is %d bytes, want %d", len(out), size)
		}
		return out
	}
	small := newTestEnv(t, func(c *config.Config) { c.HTTP.BodyLimit = 2048 })
	dflt := newTestEnv(t, nil)
	for _, tc := range []struct {
		name string
		e    *testEnv
		size int
		want int
	}{
		{"2048, one byte over", small, 2049, http.StatusRequestEntityTooLarge},
		{"2048, at the limit", small, 2048, http.StatusOK},
		{"2048, one byte under", small, 2047, http.StatusOK},
		{"default, 2049 bytes", dflt, 2049, http.StatusOK},
	} {
		r := tc.e.post("", "application/json", padded(tc.size), nil)
		if r.Status != tc.want {
			t.Errorf("--body-limit=%s: HTTP %d, want %d: %.200s", tc.name, r.Status, tc.want, r.Raw)
		} else if tc.want == http.StatusOK && (len(r.Errors) > 0 || !bytes.Contains(r.Data, []byte(`"registrationOpen":true`))) {
			t.Errorf("--body-limit=%s: %s", tc.name, r.Raw)
		}
	}
}

// TestSettingsDocumentLimits: --token-limit, --depth-limit, --alias-limit and
// --complexity-limit, each at a value of its own, accept a document at the limit and
// refuse one just over it with GRAPHQL_VALIDATION_FAILED, where the defaults judge
// otherwise.
func TestSettingsDocumentLimits(t *testing.T) {
	repeat := func(s string, n int) string { return strings.TrimSpace(strings.Repeat(s+" ", n)) }
	// { __schema { types { name×(n-8) } } } is n tokens.
	tokens := func(n int) string { return `{ __schema { types { ` + repeat("name", n-8) + ` } } }` }
	// Introspection down to depth d (the limit for introspection is at least 15).
	depth := func(d int) string {
		return `{ __schema { types { fields { type { ` + strings.Repeat("ofType { ", d-5) + `name` + strings.Repeat(" }", d-5) + ` } } } } }`
	}
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: authConfig { registrationOpen } ", i)
		}
		return "{ " + b.String() + "}"
	}
	// authConfig costs 1 and each selection under it 1.
	complexity := func(c int) string { return `{ authConfig { ` + repeat("registrationOpen", c-1) + ` } }` }
	limited := newTestEnv(t, func(c *config.Config) {
		c.HTTP.TokenLimit, c.HTTP.DepthLimit, c.HTTP.AliasLimit, c.HTTP.ComplexityLimit = 100, 20, 3, 20
	})
	dflt := newTestEnv(t, nil)
	for _, tc := range []struct {
		name     string
		at, over string
		// contrast is a document the defaults judge otherwise: over the limit (which they
		// accept), or at it (which they refuse: introspection depth stops at 15 there).
		contrast   string
		contrastOK bool
	}{
		{"token-limit=100", tokens(100), tokens(101), tokens(101), true},
		{"depth-limit=20", depth(20), depth(21), depth(20), false},
		{"alias-limit=3", aliases(3), aliases(4), aliases(4), true},
		{"complexity-limit=20", complexity(20), complexity(21), complexity(21), true},
	} {
		for _, c := range []struct {
			e     *testEnv
			query string
			ok    bool
			what  string
		}{
			{limited, tc.at, true, "at the limit"},
			{limited, tc.over, false, "over the limit"},
			{dflt, tc.contrast, tc.contrastOK, "at the defaults"},
		} {
			r := c.e.gql("", c.query, nil)
			if ok := r.Status == http.StatusOK && len(r.Errors) == 0; ok != c.ok {
				t.Errorf("%s, %s: HTTP %d %.300s", tc.name, c.what, r.Status, r.Raw)
			} else if !c.ok && r.Code() != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("%s, %s: code %q, want GRAPHQL_VALIDATION_FAILED", tc.name, c.what, r.Code())
			}
		}
	}
}

// TestSettingsPlaygroundAssetsDir: the IDE page loads GraphiQL and React from
// /playground/assets/: by default the copies built into the binary, with
// --playground-assets-dir that directory's files; with --playground-cdn from unpkg.com
// instead, and nothing is served under /playground/assets/.
func TestSettingsPlaygroundAssetsDir(t *testing.T) {
	dir := t.TempDir()
	files := []string{"graphiql.min.js", "graphiql.min.css", "react.production.min.js", "react-dom.production.min.js"}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("/* local "+f+" */"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	local := newTestEnv(t, func(c *config.Config) { c.HTTP.PlaygroundAssetsDir = dir })
	embedded := newTestEnv(t, nil)
	cdn := newTestEnv(t, func(c *config.Config) { c.HTTP.PlaygroundCDN = true })
	get := func(e *testEnv, path string) (int, string) {
		resp, err := e.srv.Client().Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	if _, page := get(local, "/playground"); !strings.Contains(page, `src="/playground/assets/graphiql.min.js"`) || strings.Contains(page, "unpkg.com") {
		t.Errorf("with the assets dir, the page:\n%s", page)
	}
	for _, f := range files {
		if code, body := get(local, "/playground/assets/"+f); code != http.StatusOK || body != "/* local "+f+" */" {
			t.Errorf("GET /playground/assets/%s: HTTP %d %q", f, code, body)
		}
	}
	// Without it, the copy built into the binary: the same paths, the real files.
	if _, page := get(embedded, "/playground"); !strings.Contains(page, `src="/playground/assets/graphiql.min.js" integrity="sha384-`) || strings.Contains(page, "unpkg.com") {
		t.Errorf("by default, the page:\n%s", page)
	}
	if code, body := get(embedded, "/playground/assets/graphiql.min.js"); code != http.StatusOK || len(body) < 100_000 || strings.Contains(body, "/* local") {
		t.Errorf("by default, /playground/assets/graphiql.min.js: HTTP %d, %d bytes", code, len(body))
	}
	// --playground-cdn: from unpkg.com, named by exact URL in the CSP; nothing under assets.
	code, page := get(cdn, "/playground")
	if code != http.StatusOK || strings.Contains(page, "/playground/assets/") || !strings.Contains(page, `src="https://unpkg.com/graphiql@3.9.0/graphiql.min.js"`) {
		t.Errorf("--playground-cdn, the page:\n%s", page)
	}
	if code, _ := get(cdn, "/playground/assets/graphiql.min.js"); code != http.StatusNotFound {
		t.Errorf("--playground-cdn, /playground/assets/graphiql.min.js: HTTP %d", code)
	}
}
