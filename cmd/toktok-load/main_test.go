package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

const (
	testIssuer    = "http://toktok.test"
	testAdmin     = "admin@example.com"
	testPassword  = "correct horse battery staple 42"
	testUsers     = 120 // more than one page of 100: users-page has a deep cursor
	testTimeLimit = 20 * time.Second
)

// tokTok is a TokTok in this process: the real app over real HTTP, SQLite in a temp dir,
// cheap argon2id parameters and the per-IP limits off (every request is 127.0.0.1).
type tokTok struct {
	url     string
	dataDir string
}

// startTokTok starts the app with testAdmin, an ADMIN, already created.
func startTokTok(t *testing.T) tokTok {
	t.Helper()
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	cfg.Password = config.Password{MemoryKiB: 64, Time: 1, Threads: 1, Wait: 10 * time.Second}
	cfg.Token.Issuer = testIssuer
	cfg.Limits.IPLogin, cfg.Limits.IPRegister, cfg.Limits.IPAnonymousToken = config.Rate{}, config.Rate{}, config.Rate{}
	cfg.Limits.IPForgotPassword, cfg.Limits.IPEmailLinks, cfg.Limits.IPEmailChanges = config.Rate{}, config.Rate{}, config.Rate{}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	adm, err := app.OpenAdmin(t.Context(), cfg, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := adm.Create(t.Context(), testAdmin, testPassword); err != nil {
		t.Fatal(err)
	}
	if err := adm.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{})
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := a.Close(); err != nil {
			t.Errorf("closing the app: %v", err)
		}
	})
	return tokTok{url: srv.URL, dataDir: cfg.Store.DataDir}
}

// testOptions are the defaults of the flags, bounded for a test.
func testOptions(url, op string) options {
	return options{
		url: url, op: op, users: testUsers, concurrency: 4, requests: 200, duration: testTimeLimit,
		timeout: testTimeLimit, prefix: "load", domain: "example.com", password: testPassword,
	}
}

// mustRun runs o and wants exit status 0; it returns the report and its result line.
func mustRun(t *testing.T, o options) (string, map[string]string) {
	t.Helper()
	var out bytes.Buffer
	code, err := run(t.Context(), o, &out)
	if err != nil || code != 0 {
		t.Fatalf("run -op %s: exit %d, %v\n%s", o.op, code, err, out.String())
	}
	t.Logf("-op %s:\n%s", o.op, out.String())
	return out.String(), resultLine(t, out.String())
}

// resultLine parses the report's last line, "result k=v ...".
func resultLine(t *testing.T, report string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(report, "\n"), "\n")
	last := lines[len(lines)-1]
	fields, ok := strings.CutPrefix(last, "result ")
	if !ok {
		t.Fatalf("last line %q is not the result line\n%s", last, report)
	}
	m := map[string]string{}
	for _, f := range strings.Fields(fields) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			t.Fatalf("result field %q is not key=value", f)
		}
		m[k] = v
	}
	return m
}

// wantFields checks that m has keys, each a number unless it is op or target.
func wantFields(t *testing.T, m map[string]string, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok := m[k]
		if !ok {
			t.Errorf("result line without %s: %v", k, m)
			continue
		}
		if k == "op" || k == "target" {
			continue
		}
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Errorf("result %s=%q is not a number", k, v)
		}
	}
}

var timedFields = []string{"op", "target", "conns", "requests", "errors", "seconds", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms"}

// startFloor builds cmd/toktok-floor and starts it on TokTok's key and issuer; it returns
// its URL and pid.
func startFloor(t *testing.T, tt tokTok) (string, int) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "toktok-floor")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/toktok/toktok/cmd/toktok-floor")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build toktok-floor: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-key", filepath.Join(tt.dataDir, "jwt-es256.pem"), "-issuer", testIssuer)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("toktok-floor: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("toktok-floor's first line: %v", err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "toktok-floor listening on ")
	if !ok {
		t.Fatalf("toktok-floor's first line: %q", line)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return url, cmd.Process.Pid
}

// TestLoad registers the accounts, then sends me to TokTok and, with the same tokens, to
// the floor, then loads the admin listing; every report ends with its result line.
func TestLoad(t *testing.T) {
	tt := startTokTok(t)
	floorURL, floorPID := startFloor(t, tt)

	o := testOptions(tt.url, "register")
	_, m := mustRun(t, o)
	if m["requests"] != strconv.Itoa(testUsers) || m["errors"] != "0" {
		t.Errorf("register: %v", m)
	}

	o = testOptions(tt.url, "me")
	o.pid = os.Getpid() // the server is this process
	report, m := mustRun(t, o)
	wantFields(t, m, append(timedFields, "server_cpu_ms_per_req", "server_rss_mib", "server_hwm_mib")...)
	if m["op"] != "me" || m["requests"] != "200" || m["errors"] != "0" || m["conns"] != "4" || m["target"] != strings.TrimPrefix(tt.url, "http://") {
		t.Errorf("me: %v\n%s", m, report)
	}

	o.targetURL, o.pid, o.label = floorURL, floorPID, "floor"
	report, m = mustRun(t, o)
	wantFields(t, m, append(timedFields, "server_cpu_ms_per_req", "server_rss_mib", "server_hwm_mib")...)
	if m["target"] != "floor" || m["requests"] != "200" || m["errors"] != "0" || !strings.Contains(report, "target: "+floorURL+"/graphql") {
		t.Errorf("me on the floor: %v\n%s", m, report)
	}

	for _, op := range []string{"login", "refresh", "mixed"} {
		o = testOptions(tt.url, op)
		o.requests = 40
		if op == "mixed" {
			o.prefix = "mix" // its own accounts: not load-*, which users-search counts
		}
		_, m = mustRun(t, o)
		wantFields(t, m, timedFields...)
		if m["op"] != op || m["requests"] != "40" || m["errors"] != "0" {
			t.Errorf("%s: %v", op, m)
		}
	}

	o = testOptions(tt.url, "users-search")
	o.adminEmail, o.adminPassword, o.requests = testAdmin, testPassword, 50
	report, m = mustRun(t, o)
	wantFields(t, m, timedFields...)
	if m["requests"] != "50" || m["errors"] != "0" || !strings.Contains(report, "users: 120 accounts match load-") {
		t.Errorf("users-search: %v\n%s", m, report)
	}

	o.op = "users-page"
	report, m = mustRun(t, o)
	wantFields(t, m, timedFields...)
	if m["requests"] != "50" || m["errors"] != "0" || !strings.Contains(report, "users: 2 page cursors, the deepest after 100 users") {
		t.Errorf("users-page: %v\n%s", m, report)
	}

	// A search for accounts that do not exist is refused before the clock starts.
	o.op, o.prefix = "users-search", "nobody"
	if code, err := run(t.Context(), o, io.Discard); code != 2 || err == nil || !strings.Contains(err.Error(), "EMPTY") {
		t.Errorf("users-search without accounts: exit %d, %v", code, err)
	}
	// A USER is no admin.
	o.prefix, o.adminEmail = "load", "load-3@example.com"
	if code, err := run(t.Context(), o, io.Discard); code != 2 || err == nil || !strings.Contains(err.Error(), "STAFF or ADMIN") {
		t.Errorf("users-search as a USER: exit %d, %v", code, err)
	}
}

// TestIdle holds a few connections to a server in this process, then to one whose idle
// timeout closes them.
func TestIdle(t *testing.T) {
	healthz := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	srv := httptest.NewServer(healthz)
	defer srv.Close()
	o := testOptions(srv.URL, "idle")
	o.concurrency, o.duration, o.pid, o.requests = 5, 200*time.Millisecond, os.Getpid(), 0
	report, m := mustRun(t, o)
	wantFields(t, m, "op", "target", "conns", "opened", "errors", "seconds", "rss_before_mib", "rss_open_mib", "rss_end_mib", "extra_mib")
	if m["op"] != "idle" || m["conns"] != "5" || m["opened"] != "5" || m["errors"] != "0" {
		t.Errorf("idle: %v\n%s", m, report)
	}

	short := httptest.NewUnstartedServer(healthz)
	short.Config.IdleTimeout = 20 * time.Millisecond
	short.Start()
	defer short.Close()
	o.url, o.pid, o.duration, o.label = short.URL, 0, 300*time.Millisecond, "short"
	var out bytes.Buffer
	code, err := run(t.Context(), o, &out)
	m = resultLine(t, out.String())
	if code != 1 || err != nil || m["conns"] != "0" || m["opened"] != "5" || m["target"] != "short" || !strings.Contains(out.String(), "--idle-timeout") {
		t.Errorf("idle, closed by the server: exit %d, %v, %v\n%s", code, err, m, out.String())
	}
	if _, ok := m["rss_before_mib"]; ok {
		t.Errorf("rss fields without -pid: %v", m)
	}
}

// readProc samples a real process; the parsing is internal/procstat's, tested there.
func TestReadProc(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil || s.CPU <= 0 || s.RSSKiB <= 0 || s.HWMKiB < s.RSSKiB {
		t.Errorf("readProc(self) = %+v, %v", s, err)
	}
	if _, err := readProc(1 << 30); err == nil || !strings.Contains(err.Error(), "-pid") {
		t.Errorf("readProc(no such process): %v", err)
	}
}

func TestCheckOptions(t *testing.T) {
	for _, tc := range []struct {
		edit func(*options)
		want string
	}{
		{func(o *options) { o.op = "login"; o.targetURL = "http://127.0.0.1:1" }, "-target-url applies to -op me and idle"},
		{func(o *options) { o.targetURL = "http://192.0.2.1:1" }, "-target-url host"},
		{func(o *options) { o.op = "users-page" }, "-admin-email and -admin-password are required"},
		{func(o *options) { o.op = "idle"; o.url = "https://127.0.0.1:1" }, "plain HTTP"},
		{func(o *options) { o.label = "a b" }, "-label"},
		{func(o *options) { o.op = "nope" }, "want register"},
		{func(o *options) { o.pid = -1 }, "-pid"},
		{func(o *options) { o.op = "start" }, "takes the server command"},
		{func(o *options) { o.command = []string{"toktok"} }, "takes the server command"},
	} {
		o := testOptions("http://127.0.0.1:4100", "me")
		tc.edit(&o)
		if _, err := checkOptions(&o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkOptions: %v, want %q", err, tc.want)
		}
	}
	// -allow-remote (allowRemote) lets a URL that is not loopback through, which the
	// "-target-url host" case above refuses without it.
	o := testOptions("http://192.0.2.1:4100", "me")
	o.allowRemote = true
	if ep, err := checkOptions(&o); err != nil || ep.url != "http://192.0.2.1:4100/graphql" {
		t.Errorf("checkOptions with -allow-remote = %+v, %v", ep, err)
	}
	o = testOptions("http://127.0.0.1:4100", "me")
	o.targetURL = "http://localhost:4200"
	ep, err := checkOptions(&o)
	if err != nil || ep.url != "http://127.0.0.1:4100/graphql" || ep.target != "http://localhost:4200/graphql" || ep.host != "localhost:4200" {
		t.Errorf("checkOptions = %+v, %v", ep, err)
	}
}
