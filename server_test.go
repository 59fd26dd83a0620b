package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/metrics"
)

// The command itself: serving over TCP and shutting down, --help, and refusing a
// production start with every problem named. Everything behind the listener is the
// end-to-end suite's (e2e/).

func noEnv(string) (string, bool) { return "", false }

// testRSAKey is a --salt key for the data dir, so dev mode does not spend a second
// generating one.
func testRSAKey(t testing.TB) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// seedDataDir puts the test RSA key where dev mode looks for it, so run() does not
// spend a second generating one.
func seedDataDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "credentials-rsa.pem"), testRSAKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := seedDataDir(t)
	ready := make(chan string, 1)
	var stdout, stderr bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--port=0", "--data-dir=" + dir, "--argon2-memory=64", "--argon2-time=1"},
			noEnv, &stdout, &stderr, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run returned before serving: %v\n%s", err, stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("run did not become ready")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/healthz over TCP: reading body: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz over TCP: HTTP %d: %s", resp.StatusCode, body)
	}
	resp, err = client.Post("http://"+addr+"/graphql", "application/json", strings.NewReader(`{"query":"{ authConfig { registrationOpen encryptedCredentials } }"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/graphql over TCP: reading body: %v", err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"registrationOpen":true`)) {
		t.Fatalf("/graphql over TCP: HTTP %d: %s", resp.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not shut down")
	}
	if _, port, _ := strings.Cut(addr, ":"); !strings.Contains(stdout.String(), ":"+port+"/graphql") {
		t.Errorf("stdout does not name the port of %s: %s", addr, stdout.String())
	}
	// Default mode shows where its mails are.
	if _, port, _ := strings.Cut(addr, ":"); !strings.Contains(stdout.String(), "  Mails:   http://localhost:"+port+"/dev/mail ") {
		t.Errorf("stdout does not name the dev inbox: %s", stdout.String())
	}
	// The server is gone.
	if resp, err := client.Get("http://" + addr + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("still serving after shutdown")
	}
}

func TestRunHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"--help"}, noEnv, &stdout, &stderr, nil)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run --help = %v, want flag.ErrHelp", err)
	}
	usage := stdout.String() + stderr.String()
	// Every flag line names its variable.
	re := regexp.MustCompile(`(?m)^\s*--([a-z0-9-]+)\s+\((TOKTOK_[A-Z0-9_]+)`)
	found := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(usage, -1) {
		found[m[1]] = true
		if want := config.EnvName(m[1]); m[2] != want {
			t.Errorf("--%s is documented with %s, want %s", m[1], m[2], want)
		}
	}
	for _, name := range []string{
		"mode", "host", "port", "salt", "rsa", "anojwt", "public-url", "cors-origins", "trusted-proxies",
		"body-limit", "graphql-get", "introspection", "playground", "complexity-limit", "depth-limit",
		"token-limit", "alias-limit", "store", "data-dir", "allow-embedded-store", "jwt-alg", "jwt-key-file",
		"jwt-issuer", "jwt-audience", "access-ttl", "anonymous-ttl", "refresh-secret-file", "refresh-idle-ttl",
		"refresh-absolute-ttl", "rsa-key-file", "antispam", "antispam-value", "registration-open",
		"password-min-length", "argon2-memory", "argon2-time", "log-level", "log-format",
	} {
		if !found[name] {
			t.Errorf("--help does not list --%s with %s", name, config.EnvName(name))
		}
	}
	// Nothing documented that has no variable.
	lines := regexp.MustCompile(`(?m)^\s*--[a-z0-9-]+`).FindAllString(usage, -1)
	if len(lines) != len(found) {
		t.Errorf("%d flag lines, %d with a TOKTOK_ variable:\n%s", len(lines), len(found), usage)
	}
}

func TestRunProductionReportsEveryProblem(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"--mode=production", "--data-dir=" + t.TempDir()}, noEnv, &stdout, &stderr, nil)
	if err == nil {
		t.Fatal("production mode with nothing set started")
	}
	msg := err.Error()
	for _, want := range []string{"--public-url", "--jwt-key-file", "--refresh-secret-file", "--rsa-key-file", "--store"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not mention %s:\n%s", want, msg)
		}
	}
	// Also through the environment, and prod is production.
	env := map[string]string{"TOKTOK_MODE": "prod"}
	err = run(t.Context(), []string{"--data-dir=" + t.TempDir()}, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stdout, &stderr, nil)
	if err == nil || !strings.Contains(err.Error(), "jwt-key-file") {
		t.Errorf("TOKTOK_MODE=prod: %v", err)
	}
}

// A bad value is reported in a few lines that name the setting as written, the value and
// what is expected, with every other problem, and without the usage: that is for --help.
func TestRunBadValues(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"TOKTOK_ACCESS_TTL": "forever"}
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"--port=abc", "--mode=bogus", "--prot=1", "--data-dir=" + dir},
		func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &stdout, &stderr, nil)
	if err == nil {
		t.Fatal("run with bad values started")
	}
	if errors.Is(err, flag.ErrHelp) {
		t.Fatalf("run with bad values: %v", err)
	}
	if stdout.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("run printed before returning (the usage?):\nstdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	want := "configuration has 4 problems:\n" +
		"  --port: \"abc\" is not a whole number (a TCP port, 0 to 65535)\n" +
		"  --prot: unknown flag; did you mean --port?\n" +
		"  TOKTOK_ACCESS_TTL: \"forever\" is not a duration like 30s, 15m or 24h\n" +
		"  --mode: \"bogus\" is not one of default, dev_email, preprod, production\n" +
		"toktok --help lists every setting."
	if got := err.Error(); got != want {
		t.Errorf("report:\n%s\n--- want:\n%s", got, want)
	}
	// One problem reads in the singular; nothing was created in the data dir.
	err = run(t.Context(), []string{"--port=abc", "--data-dir=" + dir}, noEnv, &stdout, &stderr, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "configuration has 1 problem:\n  --port: \"abc\"") ||
		strings.Contains(err.Error(), "Usage") || strings.Contains(err.Error(), "--alias-limit") {
		t.Errorf("--port=abc: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused configuration left %d files in the data dir", len(entries))
	}
}

// A mistyped --store is refused before anything is created.
func TestRunRefusesAMistypedStore(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(dir, "no", "such", "toktok.db")
	for store, want := range map[string]string{
		"toktok.db":         `--store: "toktok.db" is not a store: write sqlite:toktok.db for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir`,
		"sqlite:" + missing: "--store: the directory " + filepath.Dir(missing) + " of sqlite:" + missing + " does not exist (TokTok creates the file, not its directory)",
	} {
		err := run(t.Context(), []string{"--store=" + store}, noEnv, &stdout, &stderr, nil)
		if err == nil || !strings.Contains(err.Error(), "\n  "+want+"\n") {
			t.Errorf("--store=%s: %v\nwant the problem %s", store, err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused --store left %d files behind", len(entries))
	}
}

// TestRunVersion: `toktok version` prints the module version and, when the build knows
// them, the VCS revision and Go version, then exits without serving; printVersion formats
// each part.
func TestRunVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(t.Context(), []string{"version"}, noEnv, &stdout, &stderr, nil); err != nil {
		t.Fatalf("run version: %v", err)
	}
	if out := stdout.String(); !strings.HasPrefix(out, "toktok ") || !strings.HasSuffix(out, "\n") || stderr.Len() != 0 {
		t.Errorf("version printed %q, stderr %q", out, stderr.String())
	}
	var b bytes.Buffer
	printVersion(&b, metrics.Build{Version: "v1.2.3", Revision: "0123abc", Modified: true, Go: "go1.26.8"})
	if got := b.String(); got != "toktok v1.2.3 0123abc+modified go1.26.8\n" {
		t.Errorf("printVersion = %q", got)
	}
}
