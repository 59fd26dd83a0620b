package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/token"
)

const testIssuer = "http://127.0.0.1:4100"

// testKey writes a fresh ES256 key, as TokTok does in its data dir, and returns its path
// and a service that issues tokens with it.
func testKey(t *testing.T) (string, *token.Service) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwt-es256.pem")
	key, _, err := token.LoadOrGenerateKey(token.ES256, path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := token.New(token.Config{Issuer: testIssuer, Audience: "toktok"}, key)
	if err != nil {
		t.Fatal(err)
	}
	return path, s
}

type meAnswerJSON struct {
	Data *struct {
		Me struct{ ID, Email, Role string }
	}
	Errors []struct {
		Message    string
		Extensions struct{ Code string }
	}
}

func post(t *testing.T, url, bearer string) meAnswerJSON {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(`{"query":"{ me { id email role } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("HTTP %d %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
	var a meAnswerJSON
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return a
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestHandler(t *testing.T) {
	path, issuer := testKey(t)
	key, err := token.LoadKeyFile(token.ES256, path)
	if err != nil {
		t.Fatal(err)
	}
	floor, err := token.New(token.Config{Issuer: testIssuer, Audience: "toktok"}, key)
	if err != nil {
		t.Fatal(err)
	}
	var log lockedBuffer // written once, by the first refusal
	srv := httptest.NewServer(newHandler(floor, time.Now, &log))
	defer srv.Close()

	tok, _, err := issuer.IssueAccess("u_123", "s_1", "STAFF", true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	a := post(t, srv.URL+"/graphql", tok)
	if a.Data == nil || a.Data.Me.ID != "u_123" || a.Data.Me.Role != "STAFF" || a.Data.Me.Email != floorEmail || len(a.Errors) > 0 {
		t.Errorf("valid token: got %+v", a)
	}

	_, forger := testKey(t) // another key: a forged token
	forged, _, err := forger.IssueAccess("u_123", "s_1", "ADMIN", true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := issuer.IssueAccess("u_123", "s_1", "USER", true, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	anon, _, err := issuer.IssueAnonymous(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for name, bearer := range map[string]string{"absent": "", "garbage": "not.a.token", "forged": forged, "expired": expired, "anonymous": anon} {
		a := post(t, srv.URL+"/graphql", bearer)
		if a.Data != nil || len(a.Errors) != 1 || a.Errors[0].Extensions.Code != "UNAUTHENTICATED" {
			t.Errorf("%s token: got %+v", name, a)
		}
	}

	if got := log.String(); strings.Count(got, "first token refused") != 1 {
		t.Errorf("the log of refusals: %q", got)
	}

	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("healthz: HTTP %d %q", resp.StatusCode, body)
	}
}

func TestFlagErrors(t *testing.T) {
	path, _ := testKey(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-issuer", testIssuer}, "-key is required"},
		{[]string{"-key", path}, "-issuer is required"},
		{[]string{"-key", path, "-issuer", testIssuer, "-addr", "0.0.0.0:0"}, "not loopback"},
		{[]string{"-key", path, "-issuer", testIssuer, "-addr", ":0"}, "not loopback"},
		{[]string{"-key", path, "-issuer", testIssuer, "extra"}, "unexpected arguments"},
		{[]string{"-key", filepath.Join(t.TempDir(), "none.pem"), "-issuer", testIssuer}, "no such file"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		var stderr bytes.Buffer
		err := run(t.Context(), tc.args, io.Discard, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run %q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}

// -allow-remote is what lets the floor listen on an address that is not loopback, the one
// the flag errors above refuse.
func TestAllowRemote(t *testing.T) {
	path, _ := testKey(t)
	o, err := parseFlags([]string{"-key", path, "-issuer", testIssuer, "-addr", "0.0.0.0:0", "-allow-remote"}, io.Discard)
	if err != nil || !o.allowRemote || o.addr != "0.0.0.0:0" {
		t.Errorf("-allow-remote -addr 0.0.0.0:0: %+v, %v", o, err)
	}
}

// TestRun starts the floor as main does, reads its one line, asks it, and stops it.
func TestRun(t *testing.T) {
	path, issuer := testKey(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-key", path, "-issuer", testIssuer}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "toktok-floor listening on ")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	tok, _, err := issuer.IssueAccess("u_9", "s_9", "USER", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if a := post(t, url+"/graphql", tok); a.Data == nil || a.Data.Me.ID != "u_9" || a.Data.Me.Role != "USER" {
		t.Errorf("got %+v", a)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after the context ended")
	}
}
