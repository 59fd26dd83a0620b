//go:build linux

package drills

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/toktok/toktok/internal/testkit/deadport"

	_ "modernc.org/sqlite" // integrity_check on the file the binary wrote

	"github.com/toktok/toktok/internal/testkit/proc"
	"github.com/toktok/toktok/store/mongodb/mongotest"
)

// Store faults against the real binary: the store missing when TokTok starts, MongoDB lost
// under load and back, and SQLite's disk filling up. What these drills prove is what an
// operator sees from outside the process: the exit code and the one line it prints, the
// codes clients get, /readyz, and that the same process serves again once the store does,
// with no refresh token spent by a call that failed.

// faultsPassword passes the default password policy and contains no drill address's
// local part.
const faultsPassword = "plover-Quartz-7731-meadow"

// faultsArgs are the settings every fault drill runs with: its own data dir, argon2id
// cheap enough that hashing is not what a drill measures, credentials in clear and no
// anonymous token (the drills are about the store and the socket, not the front door),
// and per-IP limits high enough that the load, all from 127.0.0.1, is never rate limited
// (they stay on, so each call still writes its counter to the store).
func faultsArgs(dataDir string, extra ...string) []string {
	return append([]string{
		"--data-dir=" + dataDir,
		"--argon2-memory=64", "--argon2-time=1", "--argon2-threads=1",
		"--salt=no", "--anojwt=no", "--log-level=warn",
		"--limit-ip-login=1000000/1m", "--limit-ip-register=1000000/1m",
		"--limit-ip-anonymous-token=1000000/1m",
	}, extra...)
}

// faultsResp is one GraphQL answer, or what came back instead.
type faultsResp struct {
	Status int
	Data   map[string]json.RawMessage
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
}

// code is the first error's extensions.code; "" for an answer without errors.
func (r faultsResp) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	if c == "" {
		return "(no code: " + r.Errors[0].Message + ")"
	}
	return c
}

// ok reports an HTTP 200 answer with data and no error.
func (r faultsResp) ok() bool {
	return r.Status == http.StatusOK && len(r.Errors) == 0 && len(r.Data) > 0
}

// faultsTokens are the tokens of an AuthPayload.
type faultsTokens struct {
	Access  string `json:"accessToken"`
	Refresh string `json:"refreshToken"`
}

// faultsCallTimeout bounds one call of a drill's client: far above what a store outage
// should cost a request (a server-selection timeout or a busy timeout), so a call that
// reaches it is a hang, and fails the drill.
const faultsCallTimeout = 30 * time.Second

// faultsAPI is a client of one running toktok.
type faultsAPI struct {
	base   string
	client *http.Client
}

func newFaultsAPI(t testing.TB, base string) *faultsAPI {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &faultsAPI{base: base, client: &http.Client{Transport: tr}}
}

// gql posts one operation; the error is the transport's (a hang the call timeout cut, a
// refused connection) or an answer that is not GraphQL JSON.
func (a *faultsAPI) gql(ctx context.Context, bearer, query string, vars map[string]any) (faultsResp, error) {
	ctx, cancel := context.WithTimeout(ctx, faultsCallTimeout)
	defer cancel()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return faultsResp{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return faultsResp{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return faultsResp{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return faultsResp{}, err
	}
	r := faultsResp{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("HTTP %d, not GraphQL JSON: %q", resp.StatusCode, raw)
	}
	return r, nil
}

// payload decodes the AuthPayload at data[field].
func (r faultsResp) payload(field string) (faultsTokens, error) {
	var p faultsTokens
	if err := json.Unmarshal(r.Data[field], &p); err != nil || p.Access == "" || p.Refresh == "" {
		return p, fmt.Errorf("%s: no tokens in %s (%v)", field, r.Data[field], err)
	}
	return p, nil
}

func (a *faultsAPI) register(ctx context.Context, email string) (faultsResp, error) {
	return a.gql(ctx, "", `mutation($in: RegisterInput!) { register(input: $in) { accessToken refreshToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": faultsPassword}})
}

func (a *faultsAPI) login(ctx context.Context, email string) (faultsResp, error) {
	return a.gql(ctx, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken refreshToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": faultsPassword}})
}

func (a *faultsAPI) refresh(ctx context.Context, rt string) (faultsResp, error) {
	return a.gql(ctx, "", `mutation($rt: String!) { refreshToken(refreshToken: $rt) { accessToken refreshToken } }`,
		map[string]any{"rt": rt})
}

func (a *faultsAPI) me(ctx context.Context, at string) (faultsResp, error) {
	return a.gql(ctx, at, `{ me { id email } }`, nil)
}

// must runs a call that has to succeed now and returns its tokens (field names the
// AuthPayload; "" for a call that returns none).
func (a *faultsAPI) must(t testing.TB, what, field string, r faultsResp, err error) faultsTokens {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if !r.ok() {
		t.Fatalf("%s: HTTP %d, code %s: %+v", what, r.Status, r.code(), r.Errors)
	}
	if field == "" {
		return faultsTokens{}
	}
	p, err := r.payload(field)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return p
}

// faultsWantUnavailable checks that a call answered UNAVAILABLE, over HTTP 200 as every GraphQL
// result does with Accept: application/json.
func faultsWantUnavailable(t testing.TB, what string, r faultsResp, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v; want an UNAVAILABLE answer", what, err)
		return
	}
	if r.Status != http.StatusOK || r.code() != "UNAVAILABLE" {
		t.Errorf("%s: HTTP %d, code %q (%+v); want 200 and UNAVAILABLE", what, r.Status, r.code(), r.Errors)
	}
}

// status GETs path and returns the HTTP status.
func (a *faultsAPI) status(ctx context.Context, path string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, faultsCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// wantStatus checks that GET path answers want.
func (a *faultsAPI) wantStatus(t testing.TB, path string, want int) {
	t.Helper()
	got, err := a.status(t.Context(), path)
	if err != nil || got != want {
		t.Errorf("GET %s: %d, %v; want %d", path, got, err, want)
	}
}

// faultsUntil polls cond (another process's state: there is nothing to wait on) until it
// holds, failing the test with what() after timeout.
func faultsUntil(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what())
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("test ended: %s", what())
		case <-tick.C:
		}
	}
}

// faultsStillRunning fails the test if p has exited: recovery must happen in the same process.
func faultsStillRunning(t testing.TB, p *proc.Process) {
	t.Helper()
	select {
	case <-p.Exited():
		t.Fatalf("toktok exited; recovery was to happen without a restart\n%s", p.Output())
	default:
	}
}

// faultsClosedAddr returns a loopback address that refuses connections for the whole test
// (a bound socket that never listens, see deadport).
func faultsClosedAddr(t testing.TB) string {
	t.Helper()
	return deadport.Addr(t)
}

// faultsSilentAddr returns a loopback address that accepts connections and never answers: a
// firewall that drops, a wrong service, a server stuck in its start.
func faultsSilentAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestStoreDownAtStart: a store that cannot be opened when TokTok starts ends the process
// before it listens, with exit code 1 and a single line of output that names the store and
// the cause (never a MongoDB password), so a supervisor restarts it and an operator reads why.
// Failing the start (rather than serving with /readyz at 503) is the choice: TokTok has
// no work it could do without its store, and a start that never binds its port cannot be
// mistaken for a live instance. A SQLite path the configuration can judge (a missing
// directory, a file in the way, no sqlite: prefix) is refused before any start, in the
// configuration report (the count, the problem, a hint: three lines). MongoDB's wait is
// bounded by the server-selection timeout (5 s by default, serverSelectionTimeoutMS in the
// URI), also for a port that accepts and never answers.
func TestStoreDownAtStart(t *testing.T) {
	bin := toktokBin
	const secret = "s3cret-Store-Pw"
	for _, tc := range []struct {
		name  string
		store func(t *testing.T, dir string) string // the --store value
		want  []string                              // in the error line
	}{
		{"sqlite parent is a file", func(t *testing.T, dir string) string {
			file := filepath.Join(dir, "not-a-dir")
			if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			return "sqlite:" + filepath.Join(file, "toktok.db")
		}, []string{"toktok: configuration has 1 problem:", "--store: ", "not-a-dir in sqlite:", "is not a directory"}},
		{"sqlite path is a directory", func(t *testing.T, dir string) string {
			db := filepath.Join(dir, "toktok.db")
			if err := os.Mkdir(db, 0o700); err != nil {
				t.Fatal(err)
			}
			return "sqlite:" + db
		}, []string{"toktok: configuration has 1 problem:", "--store: sqlite:", "toktok.db is a directory, not a SQLite file"}},
		{"sqlite directory is missing", func(t *testing.T, dir string) string {
			return "sqlite:" + filepath.Join(dir, "no", "such", "toktok.db")
		}, []string{"toktok: configuration has 1 problem:", "--store: the directory ", "/no/such of sqlite:", "does not exist"}},
		{"sqlite path without sqlite:", func(t *testing.T, dir string) string {
			return filepath.Join(dir, "toktok.db")
		}, []string{"toktok: configuration has 1 problem:", "is not a store: write sqlite:", "for a SQLite file"}},
		{"sqlite file is not a database", func(t *testing.T, dir string) string {
			db := filepath.Join(dir, "toktok.db")
			if err := os.WriteFile(db, bytes.Repeat([]byte("not sqlite "), 1000), 0o600); err != nil {
				t.Fatal(err)
			}
			return "sqlite:" + db
		}, []string{"toktok: store: sqlite:", "not a database"}},
		{"mongodb closed port", func(t *testing.T, _ string) string {
			return "mongodb://drill:" + secret + "@" + faultsClosedAddr(t) + "/?serverSelectionTimeoutMS=1000"
		}, []string{"toktok: store: mongodb: open: unavailable: could not reach 127.0.0.1:", "(connection refused) within 1s",
			"The URI's credentials are not printed.", "Check the host and port", "replicaSet=", "tls=true", "firewall", "authSource"}},
		{"mongodb closed port default timeout", func(t *testing.T, _ string) string {
			return "mongodb://drill:" + secret + "@" + faultsClosedAddr(t) + "/"
		}, []string{"toktok: store: mongodb: open: unavailable: could not reach 127.0.0.1:", "(connection refused) within 5s",
			"The URI's credentials are not printed.", "authSource"}},
		{"mongodb silent port", func(t *testing.T, _ string) string {
			return "mongodb://drill:" + secret + "@" + faultsSilentAddr(t) + "/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
		}, []string{"toktok: store: mongodb: open: unavailable: could not reach 127.0.0.1:", ") within 1s",
			"The URI's credentials are not printed.", "authSource"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			store := tc.store(t, dir)
			start := time.Now()
			// StartErr fails the test if the process serves, and bounds the wait by
			// proc.StartTimeout.
			// At the default log level, as an operator runs it (the last flag wins).
			code, out := proc.StartErr(t, bin, proc.Options{
				Args: faultsArgs(filepath.Join(dir, "data"), "--store="+store, "--log-level=info"),
			})
			t.Logf("exit %d after %s: %s", code, time.Since(start).Round(100*time.Millisecond), out)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			line := strings.TrimSpace(out)
			if strings.HasPrefix(line, "toktok: configuration has 1 problem:\n") {
				// A --store the configuration refuses is reported as any refused setting
				// is: the count, the problem on its own line, and where settings are listed.
				if lines := strings.Split(line, "\n"); len(lines) != 3 || lines[2] != "toktok --help lists every setting." {
					t.Errorf("the output is not a one-problem report:\n%s", out)
				}
			} else if strings.Contains(line, "\n") {
				t.Errorf("the output is not one line:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(line, w) {
					t.Errorf("the output %q does not contain %q", line, w)
				}
			}
			if strings.Contains(out, secret) {
				t.Errorf("the output shows the store password:\n%s", out)
			}
		})
	}
}

// faultsPhase says where a store outage stands, so that each call of the load knows what
// the store could have done with it.
type faultsPhase int32

const (
	faultsUp       faultsPhase = iota // the store serves
	faultsStopping                    // FerretDB is being stopped: a write may land or not
	faultsDown                        // FerretDB has stopped: nothing can land
	faultsBack                        // FerretDB is started again
)

func (p faultsPhase) String() string {
	return [...]string{"up", "stopping", "down", "back"}[p]
}

// faultsCall is one call of the load: its operation, the phases it started and ended
// in, and its answer.
type faultsCall struct {
	op           string
	worker       int
	start, end   faultsPhase
	code         string // "" for success
	status       int
	err          error
	refreshToken string // the token a refreshToken call presented
}

// faultsLoad runs workers that register, log in, read me and refresh, each keeping a
// stock of sessions: a session is refreshed at most once by the load, so a refresh that
// failed leaves its token untouched by anything but that call.
type faultsLoad struct {
	api   *faultsAPI
	phase atomic.Int32

	mu    sync.Mutex
	calls []faultsCall
}

func (l *faultsLoad) record(c faultsCall) {
	l.mu.Lock()
	l.calls = append(l.calls, c)
	l.mu.Unlock()
}

// snapshot returns the calls recorded so far.
func (l *faultsLoad) snapshot() []faultsCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]faultsCall(nil), l.calls...)
}

// count returns how many recorded calls match.
func (l *faultsLoad) count(match func(faultsCall) bool) int {
	n := 0
	for _, c := range l.snapshot() {
		if match(c) {
			n++
		}
	}
	return n
}

// do runs one call and records it.
func (l *faultsLoad) do(worker int, op, rt string, call func() (faultsResp, error)) faultsResp {
	start := faultsPhase(l.phase.Load())
	r, err := call()
	c := faultsCall{op: op, worker: worker, start: start, end: faultsPhase(l.phase.Load()), code: r.code(), status: r.Status, err: err, refreshToken: rt}
	l.record(c)
	return r
}

// worker runs until ctx ends. user is the worker's account, which exists.
func (l *faultsLoad) worker(ctx context.Context, id int, user string) {
	var stock []faultsTokens
	for i := 0; ctx.Err() == nil; i++ {
		var r faultsResp
		if i%2 == 0 {
			email := fmt.Sprintf("load%d-%d@example.com", id, i)
			r = l.do(id, "register", "", func() (faultsResp, error) { return l.api.register(ctx, email) })
			if p, err := r.payload("register"); r.ok() && err == nil {
				stock = append(stock, p)
			}
		} else {
			r = l.do(id, "login", "", func() (faultsResp, error) { return l.api.login(ctx, user) })
			if p, err := r.payload("login"); r.ok() && err == nil {
				stock = append(stock, p)
			}
		}
		if len(stock) == 0 {
			continue
		}
		s := stock[0]
		stock = stock[1:]
		l.do(id, "me", "", func() (faultsResp, error) { return l.api.me(ctx, s.Access) })
		r = l.do(id, "refreshToken", s.Refresh, func() (faultsResp, error) { return l.api.refresh(ctx, s.Refresh) })
		if p, err := r.payload("refreshToken"); r.ok() && err == nil {
			stock = append(stock, p)
		}
	}
}

// check holds every recorded call to the outage's rules: an answer over HTTP 200 within
// the call timeout, UNAVAILABLE for every call made while the store was down, success or
// UNAVAILABLE for the others. It returns the refresh tokens whose refreshToken call failed
// while the store was down, which the store cannot have spent. It runs once the load is
// stopped: the calls that stop cut short (context.Canceled) are not the server's doing.
func (l *faultsLoad) check(t *testing.T) (unspent []string) {
	t.Helper()
	calls := l.snapshot()
	byPhase := map[string]int{}
	for _, c := range calls {
		code := c.code
		if code == "" {
			code = "ok"
		}
		byPhase[fmt.Sprintf("%s->%s %s", c.start, c.end, code)]++
		down := c.start == faultsDown && c.end == faultsDown
		switch {
		case errors.Is(c.err, context.Canceled):
		case c.err != nil:
			t.Errorf("%s (%s->%s): %v", c.op, c.start, c.end, c.err)
		case c.status != http.StatusOK:
			t.Errorf("%s (%s->%s): HTTP %d", c.op, c.start, c.end, c.status)
		case down && c.code != "UNAVAILABLE":
			t.Errorf("%s while the store was down: code %q, want UNAVAILABLE", c.op, c.code)
		case c.code != "" && c.code != "UNAVAILABLE":
			t.Errorf("%s (%s->%s): code %q, want success or UNAVAILABLE", c.op, c.start, c.end, c.code)
		}
		if c.op == "refreshToken" && down && c.code == "UNAVAILABLE" {
			unspent = append(unspent, c.refreshToken)
		}
	}
	t.Logf("%d calls (phase at start->end, answer): %v", len(calls), byPhase)
	return unspent
}

// TestStoreMongoLostUnderLoad stops the MongoDB server (FerretDB, in this test process)
// under a load of register, login, me and refreshToken against the binary, then starts
// it again on the same files and address. Meanwhile every call answers UNAVAILABLE, none
// hangs past the call timeout or answers anything else, /readyz says 503 and /healthz
// still 200 (the process is alive: restarting it would not bring the store back); once
// the server is back the same process serves again. With --refresh-grace=0 a refresh
// token presented again counts as a replay unless it was never spent, so the refresh
// tokens that failed while the server was down rotating fine afterwards proves that no
// failed call consumed one. Calls in flight at the moment of the stop are held to the
// codes only: the server may have applied such a write and lost its answer, which is
// the case the grace window exists for.
func TestStoreMongoLostUnderLoad(t *testing.T) {
	dir := t.TempDir()
	f, err := mongotest.StartFerret(dir, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := f.Addr()
	t.Cleanup(func() {
		if f != nil {
			f.Stop()
		}
	})
	// A server-selection timeout shorter than the default 5 s keeps the drill short; the
	// default is shown by TestStoreDownAtStart.
	uri := "mongodb://" + addr + "/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
	p := proc.Start(t, toktokBin, proc.Options{Args: faultsArgs(t.TempDir(),
		"--store="+uri, "--store-database=drill", "--refresh-grace=0")})
	if err := p.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	api := newFaultsAPI(t, p.URL())
	ctx := t.Context()

	// Probes: sessions nothing but the outage touches.
	var probes []faultsTokens
	for i := range 3 {
		r, err := api.register(ctx, fmt.Sprintf("probe%d@example.com", i))
		probes = append(probes, api.must(t, "register a probe", "register", r, err))
	}
	const workers = 8
	load := &faultsLoad{api: api}
	for i := range workers {
		r, err := api.register(ctx, fmt.Sprintf("worker%d@example.com", i))
		api.must(t, "register a worker", "register", r, err)
	}
	lctx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() { load.worker(lctx, i, fmt.Sprintf("worker%d@example.com", i)) })
	}
	t.Cleanup(func() { stopLoad(); wg.Wait() })

	// everyWorker reports whether each worker has made a call that matches.
	everyWorker := func(match func(faultsCall) bool) bool {
		for w := range workers {
			if load.count(func(c faultsCall) bool { return c.worker == w && match(c) }) == 0 {
				return false
			}
		}
		return true
	}
	okRefresh := func(ph faultsPhase) func(faultsCall) bool {
		return func(c faultsCall) bool {
			return c.op == "refreshToken" && c.start == ph && c.code == "" && c.err == nil
		}
	}
	faultsUntil(t, 90*time.Second, func() bool { return everyWorker(okRefresh(faultsUp)) },
		func() string { return "the load did not get going" })

	// FerretDB's Stop gives its clients a few seconds to disconnect, then cancels what
	// is still running: the load sees both.
	load.phase.Store(int32(faultsStopping))
	f.Stop()
	f = nil
	load.phase.Store(int32(faultsDown))

	// Each call costs a server-selection timeout: they run side by side.
	var probing sync.WaitGroup
	for i, pr := range probes {
		probing.Go(func() {
			r, err := api.refresh(ctx, pr.Refresh)
			faultsWantUnavailable(t, fmt.Sprintf("probe %d refreshToken while down", i), r, err)
		})
		probing.Go(func() {
			r, err := api.me(ctx, pr.Access)
			faultsWantUnavailable(t, fmt.Sprintf("probe %d me while down", i), r, err)
		})
	}
	probing.Go(func() { api.wantStatus(t, "/readyz", http.StatusServiceUnavailable) })
	probing.Go(func() { api.wantStatus(t, "/healthz", http.StatusOK) })
	probing.Wait()
	downRefreshes := func(c faultsCall) bool {
		return c.op == "refreshToken" && c.start == faultsDown && c.end == faultsDown
	}
	faultsUntil(t, 90*time.Second, func() bool {
		return everyWorker(func(c faultsCall) bool { return c.start == faultsDown && c.end == faultsDown }) &&
			load.count(downRefreshes) >= 2
	}, func() string { return "the load made too few calls while the store was down" })

	load.phase.Store(int32(faultsBack))
	f, err = mongotest.StartFerret(dir, addr)
	if err != nil {
		t.Fatalf("restart FerretDB on %s: %v", addr, err)
	}
	// The driver reconnects by itself; /readyz says when.
	if err := p.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	faultsUntil(t, 90*time.Second, func() bool { return everyWorker(okRefresh(faultsBack)) },
		func() string { return "the load did not recover" })
	stopLoad()
	wg.Wait()
	faultsStillRunning(t, p)

	unspent := load.check(t)

	// The same tokens, after the outage: each rotates, so none was spent.
	for i, pr := range probes {
		r, err := api.refresh(ctx, pr.Refresh)
		next := api.must(t, fmt.Sprintf("probe %d refreshToken after the outage", i), "refreshToken", r, err)
		r, err = api.me(ctx, next.Access)
		api.must(t, fmt.Sprintf("probe %d me after the outage", i), "", r, err)
	}
	// What makes the check above able to fail: with no grace window, a spent token is
	// refused when presented again.
	r, err := api.refresh(ctx, probes[0].Refresh)
	if err != nil || r.code() != "INVALID_REFRESH_TOKEN" {
		t.Errorf("a spent refresh token presented again: code %q, %v; want INVALID_REFRESH_TOKEN", r.code(), err)
	}
	for i, rt := range unspent {
		r, err := api.refresh(ctx, rt)
		api.must(t, fmt.Sprintf("load refresh token %d (failed while down) after the outage", i), "refreshToken", r, err)
	}
	t.Logf("%d refresh tokens of the load that failed while the store was down all rotated afterwards", len(unspent))
}

// faultsFull makes the disk under the SQLite file full, and gives the space back.
type faultsFull interface {
	fill(t *testing.T)
	free(t *testing.T)
}

// faultsTmpfs is a real full disk: a small tmpfs mounted on the data dir and a filler file
// that takes its last free byte. Root only (mount).
type faultsTmpfs struct{ dir string }

func newFaultsTmpfs(t *testing.T, dir string) *faultsTmpfs {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(t.Context(), "mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs on %s: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		// Runs after the process is killed (cleanups run last-registered first, and the
		// process is started after the mount), so the file system is not busy.
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return &faultsTmpfs{dir: dir}
}

func (d *faultsTmpfs) filler() string { return filepath.Join(d.dir, "filler") }

func (d *faultsTmpfs) fill(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(d.filler(), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", d.dir, err)
			}
			break
		}
	}
	// The last bytes: a chunk that does not fit may leave a partial page free.
	one := []byte{0}
	for {
		if _, err := f.Write(one); err != nil {
			break
		}
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Bavail != 0 {
		t.Fatalf("%s still has %d free blocks after filling", d.dir, st.Bavail)
	}
}

func (d *faultsTmpfs) free(t *testing.T) {
	t.Helper()
	if err := os.Remove(d.filler()); err != nil {
		t.Fatal(err)
	}
}

// faultsFsize is a full disk as the process sees it without privileges: its RLIMIT_FSIZE
// lowered, while it runs, to the size of the largest file of the data dir, so no file can
// grow (writes past the limit fail with EFBIG; Go ignores SIGXFSZ), then raised back.
// Only the soft limit moves, which any user may do to a process of their own.
type faultsFsize struct {
	dir string
	pid int
	old syscall.Rlimit
}

// faultsPrlimitFsize sets the process's RLIMIT_FSIZE to set (nil: leave it) and returns the
// previous one. syscall has no wrapper, and the prlimit command is not everywhere.
func faultsPrlimitFsize(pid int, set *syscall.Rlimit) (syscall.Rlimit, error) {
	var old syscall.Rlimit
	_, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(set)), uintptr(unsafe.Pointer(&old)), 0, 0)
	if errno != 0 {
		return old, errno
	}
	return old, nil
}

func (d *faultsFsize) fill(t *testing.T) {
	t.Helper()
	var largest int64
	err := filepath.WalkDir(d.dir, func(_ string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		largest = max(largest, info.Size())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	old, err := faultsPrlimitFsize(d.pid, nil)
	if err != nil {
		t.Fatalf("read the RLIMIT_FSIZE of %d: %v", d.pid, err)
	}
	d.old = old
	if _, err := faultsPrlimitFsize(d.pid, &syscall.Rlimit{Cur: uint64(largest), Max: old.Max}); err != nil {
		t.Fatalf("lower the RLIMIT_FSIZE of %d to %d: %v", d.pid, largest, err)
	}
	t.Logf("RLIMIT_FSIZE of toktok lowered from %d to %d bytes", old.Cur, largest)
}

func (d *faultsFsize) free(t *testing.T) {
	t.Helper()
	if _, err := faultsPrlimitFsize(d.pid, &d.old); err != nil {
		t.Fatalf("restore the RLIMIT_FSIZE of %d: %v", d.pid, err)
	}
}

// TestStoreSQLiteDiskFull fills the disk under a running toktok's SQLite file. Writes
// (register, login, refreshToken) answer UNAVAILABLE, reads (me) still answer, /readyz
// stays 200 (the store is there; reads work); once the space is back the same process
// writes again, the refresh token that failed still rotates (--refresh-grace=0: it was
// not spent), and after a clean stop the file passes PRAGMA integrity_check and serves a
// new process with every account whose registration was answered.
//
// Two ways to fill it: a real tmpfs with a filler file (ENOSPC, SQLITE_FULL), which needs
// root, as CI runs; and RLIMIT_FSIZE lowered on the running process (EFBIG), which any
// user can do. As root both run; otherwise only the second.
func TestStoreSQLiteDiskFull(t *testing.T) {
	bin := toktokBin
	t.Run("rlimit fsize", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		faultsDiskFullDrill(t, bin, dir, func(p *proc.Process) faultsFull { return &faultsFsize{dir: dir, pid: p.PID()} })
	})
	if os.Geteuid() != 0 {
		t.Log("not root: the tmpfs variant (a real ENOSPC) needs mount and runs in CI, which runs as root")
		return
	}
	t.Run("tmpfs", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		d := newFaultsTmpfs(t, dir)
		faultsDiskFullDrill(t, bin, dir, func(*proc.Process) faultsFull { return d })
	})
}

// faultsDiskFullDrill is the drill on data dir dir, the disk filled and freed by full.
func faultsDiskFullDrill(t *testing.T, bin, dir string, full func(*proc.Process) faultsFull) {
	args := faultsArgs(dir, "--refresh-grace=0")
	p := proc.Start(t, bin, proc.Options{Args: args})
	api := newFaultsAPI(t, p.URL())
	ctx := t.Context()

	before := map[string]bool{} // accounts whose registration was answered
	r, err := api.register(ctx, "before@example.com")
	ann := api.must(t, "register before", "register", r, err)
	before["before@example.com"] = true

	disk := full(p)
	disk.fill(t)

	// Writes fail. The first one may fit in pages the file system already gave SQLite (a
	// rolled-back transaction leaves its WAL frames allocated), so a few are tried: each
	// answers UNAVAILABLE or succeeds, and one at least fails.
	failed := 0
	var refused []string
	for i := 0; i < 10 && failed < 3; i++ {
		email := fmt.Sprintf("full%d@example.com", i)
		r, err := api.register(ctx, email)
		switch {
		case err != nil:
			t.Fatalf("register while full: %v", err)
		case r.ok():
			before[email] = true
			t.Logf("register %d while full succeeded (space already allocated)", i)
		case r.code() == "UNAVAILABLE":
			failed++
			refused = append(refused, email)
		default:
			t.Fatalf("register while full: HTTP %d, code %q (%+v); want UNAVAILABLE", r.Status, r.code(), r.Errors)
		}
	}
	if failed == 0 {
		t.Fatal("no register failed while the disk was full")
	}
	r, err = api.login(ctx, "before@example.com")
	faultsWantUnavailable(t, "login while full", r, err)
	r, err = api.refresh(ctx, ann.Refresh)
	faultsWantUnavailable(t, "refreshToken while full", r, err)
	r, err = api.me(ctx, ann.Access)
	api.must(t, "me while full (a read)", "", r, err)
	api.wantStatus(t, "/readyz", http.StatusOK)
	api.wantStatus(t, "/healthz", http.StatusOK)

	disk.free(t)
	r, err = api.refresh(ctx, ann.Refresh)
	api.must(t, "refreshToken after the space is back (the token that failed)", "refreshToken", r, err)
	r, err = api.register(ctx, "after@example.com")
	api.must(t, "register after the space is back", "register", r, err)
	before["after@example.com"] = true
	r, err = api.login(ctx, "before@example.com")
	api.must(t, "login after the space is back", "login", r, err)
	faultsStillRunning(t, p)

	// A clean stop, then the file itself.
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := p.Wait(30 * time.Second); !ok || code != 0 {
		t.Fatalf("SIGTERM: exit %d (exited: %v), want 0\n%s", code, ok, p.Output())
	}
	db := filepath.Join(dir, "toktok.db")
	checkDatabase(t, db)
	got := faultsEmails(t, db)
	for email := range before {
		if !got[email] {
			t.Errorf("%s was registered (answered) but is not in the file", email)
		}
	}
	for _, email := range refused {
		if got[email] {
			t.Logf("%s: register answered UNAVAILABLE, but the account exists (created before a later step failed)", email)
		}
	}

	// A new process on the same file serves the accounts.
	p2 := proc.Start(t, bin, proc.Options{Args: args})
	api2 := newFaultsAPI(t, p2.URL())
	for email := range before {
		r, err := api2.login(ctx, email)
		api2.must(t, "login after a restart: "+email, "login", r, err)
	}
}

// faultsEmails returns the users' emails in the file.
func faultsEmails(t *testing.T, path string) map[string]bool {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	db := openReadOnly(t, path)
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), "SELECT email FROM users")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			t.Fatal(err)
		}
		out[e] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
