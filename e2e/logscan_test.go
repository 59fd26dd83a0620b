package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Nothing secret reaches the logs (SECURITY.md, "Secrets"). Every app the harness starts
// logs through a logScan at debug level; the scan notes every secret the test handled on
// the wire (passwords, ciphertexts, access, refresh, anonymous and link tokens, seen in
// request variables and response fields) and the key material in the data directory, and
// when the test ends it fails the test if any of them appears in any log line.

// logSenderMessage is the log sender's record: in default mode mails go to the log on
// purpose (links included), and production refuses that sender. It is the one record
// exempt from the scan.
const logSenderMessage = "mail (log sender, not delivered)"

// minSecretLen keeps short values (a 6-digit code, "yes") from matching by chance.
const minSecretLen = 8

// secretKeys are the JSON keys whose values are secrets, in requests and responses.
var secretKeys = map[string]bool{
	"password": true, "newpassword": true, "currentpassword": true,
	"token": true, "refreshtoken": true, "accesstoken": true,
}

// credentialKeys carry a secret when they are ciphertexts (--salt): an address in clear
// is not a secret, its ciphertext is.
var credentialKeys = map[string]bool{"email": true, "newemail": true}

type logScan struct {
	t testing.TB

	mu      sync.Mutex
	lines   bytes.Buffer
	secrets map[string]string // value -> where it was seen
	dirs    []string          // data directories whose key files are secrets
}

// scans holds each running test's scan: the apps one test starts share it, so a secret
// sent to one is looked for in the logs of all.
var scans sync.Map // testing.TB -> *logScan

// scanFor returns t's scan, made (and its check registered) on first use.
func scanFor(t testing.TB) *logScan {
	if s, ok := scans.Load(t); ok {
		return s.(*logScan)
	}
	s := newLogScan(t)
	scans.Store(t, s)
	t.Cleanup(func() { scans.Delete(t) })
	return s
}

// newLogScan returns a scan that checks t's logs when t ends (registered now, so it runs
// after the cleanups registered later, the app's Close among them).
func newLogScan(t testing.TB) *logScan {
	s := &logScan{t: t, secrets: map[string]string{}}
	t.Cleanup(s.check)
	return s
}

// Handler records every record at every level and passes it on to next (nil: nowhere).
func (s *logScan) Handler(next slog.Handler) slog.Handler {
	rec := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.lines.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	return scanHandler{rec: rec, next: next}
}

// Watch makes c record the secrets of every request it sends and every answer it reads.
func (s *logScan) Watch(c *http.Client) {
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = scanTransport{base: base, scan: s}
}

// KeysIn adds the key files of a data directory (read when the test ends).
func (s *logScan) KeysIn(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dirs = append(s.dirs, dir)
}

// Secret notes one secret value the test used.
func (s *logScan) Secret(v, where string) {
	v = strings.TrimSpace(v)
	if len(v) < minSecretLen {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.secrets[v]; !ok {
		s.secrets[v] = where
	}
}

// noteJSON notes the secrets in a JSON document: the values of secretKeys, and of
// credentialKeys when they are not addresses in clear.
func (s *logScan) noteJSON(body []byte, where string) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if str, ok := val.(string); ok {
					lk := strings.ToLower(k)
					if secretKeys[lk] || (credentialKeys[lk] && !strings.Contains(str, "@")) {
						s.Secret(str, where+" "+k)
					}
					continue
				}
				walk(val)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
}

// noteKeys notes the key material the app generated or read in dir: each base64 line of a
// PEM file, and the refresh secret.
func (s *logScan) noteKeys(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // the test removed it, or never made one
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".pem") || name == "refresh-secret") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			s.t.Errorf("read key file %s: %v", name, err)
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if line := sc.Text(); !strings.HasPrefix(line, "-----") {
				s.Secret(line, "key file "+name)
			}
		}
	}
}

func (s *logScan) check() {
	s.mu.Lock()
	dirs := s.dirs
	s.mu.Unlock()
	for _, d := range dirs {
		s.noteKeys(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	logs := s.lines.String()
	for v, where := range s.secrets {
		if i := strings.Index(logs, v); i >= 0 {
			start := strings.LastIndexByte(logs[:i], '\n') + 1
			end := strings.IndexByte(logs[i:], '\n')
			if end < 0 {
				end = len(logs) - i
			}
			s.t.Errorf("a secret (%s) is in the log: %.300s", where, logs[start:i+end])
		}
	}
}

// scanHandler sends each record to the scan's recorder (the log sender's excepted) and to
// next.
type scanHandler struct {
	rec, next slog.Handler
}

func (h scanHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h scanHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message != logSenderMessage {
		if err := h.rec.Handle(ctx, r); err != nil {
			return err
		}
	}
	if h.next != nil && h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h scanHandler) WithAttrs(as []slog.Attr) slog.Handler {
	h.rec = h.rec.WithAttrs(as)
	if h.next != nil {
		h.next = h.next.WithAttrs(as)
	}
	return h
}

func (h scanHandler) WithGroup(name string) slog.Handler {
	h.rec = h.rec.WithGroup(name)
	if h.next != nil {
		h.next = h.next.WithGroup(name)
	}
	return h
}

// scanTransport notes the secrets of requests and responses.
type scanTransport struct {
	base http.RoundTripper
	scan *logScan
}

func (t scanTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil && r.GetBody != nil {
		if body, err := r.GetBody(); err == nil {
			b, err := io.ReadAll(body)
			if err == nil {
				t.scan.noteJSON(b, "request")
			}
			body.Close()
		}
	}
	if v := r.URL.Query().Get("variables"); v != "" {
		t.scan.noteJSON([]byte(v), "request")
	}
	if a := r.Header.Get("Authorization"); a != "" {
		_, tok, _ := strings.Cut(a, " ")
		t.scan.Secret(tok, "Authorization header")
	}
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	t.scan.noteJSON(b, "response")
	return resp, nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// scanProbe is a testing.TB that keeps what a logScan reports and runs its check on demand.
type scanProbe struct {
	testing.TB
	errs    []string
	cleanup []func()
}

func (p *scanProbe) Errorf(format string, a ...any) { p.errs = append(p.errs, format) }
func (p *scanProbe) Cleanup(f func())               { p.cleanup = append(p.cleanup, f) }
func (p *scanProbe) Helper()                        {}

func (p *scanProbe) end() {
	for i := len(p.cleanup) - 1; i >= 0; i-- {
		p.cleanup[i]()
	}
}

// TestLogScanCatchesSecrets: the scan itself fails a test whose app logs a password, a
// token seen in an answer, or key material; and it lets the log sender's mail through.
func TestLogScanCatchesSecrets(t *testing.T) {
	for _, tc := range []struct {
		name string
		log  func(l *slog.Logger, tok string)
		want bool
	}{
		{"clean", func(l *slog.Logger, _ string) { l.Info("login", "user", "U1") }, false},
		{"password", func(l *slog.Logger, _ string) { l.Debug("oops", "pw", strongPassword) }, true},
		{"token from an answer", func(l *slog.Logger, tok string) { l.Warn("refresh failed", "token", tok) }, true},
		{"key material", func(l *slog.Logger, _ string) { l.Error("key", "pem", "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49") }, true},
		{"log sender", func(l *slog.Logger, tok string) { l.Info(logSenderMessage, "text", "link #token="+tok) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			probe := &scanProbe{TB: t}
			scan := newLogScan(probe)
			dir := t.TempDir()
			key := "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----\n"
			if err := os.WriteFile(filepath.Join(dir, "jwt-es256.pem"), []byte(key), 0o600); err != nil {
				t.Fatal(err)
			}
			scan.KeysIn(dir)
			const tok = "eyJhbGciOiJFUzI1NiJ9.answer.signature"
			scan.noteJSON([]byte(`{"query":"...","variables":{"input":{"email":"ann@example.com","password":"`+strongPassword+`"}}}`), "request")
			scan.noteJSON([]byte(`{"data":{"login":{"accessToken":"`+tok+`","user":{"email":"ann@example.com"}}}}`), "response")
			tc.log(slog.New(scan.Handler(nil)), tok)
			probe.end()
			if got := len(probe.errs) > 0; got != tc.want {
				t.Errorf("reported %v (%d errors), want %v", got, len(probe.errs), tc.want)
			}
		})
	}
}
