package drills

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/proc"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// The SIGTERM drills. A request counts as in flight once its handler runs: net/http drops,
// without an answer, a request whose headers it had not read yet when the shutdown began
// (the request has had no effect, so the client may send it again; golang/go#65802). The
// drills prove that their requests are past that point with "Expect: 100-continue": the
// server answers "100 Continue" only when the handler starts reading the body, and the
// client sends the body only then. Requests are held in flight in two legitimate ways: a
// request whose body the client keeps back (it lasts as long as the client wants: this is
// what makes the drill exact rather than a race), and a login whose argon2id work is slow
// (a login that upgrades a hash made with cheaper parameters hashes the password again
// with the configured ones, here 32 MiB × 8 passes, about 0.8 s of an idle CPU).

// slowHashArgs make every new hash, and so a login that upgrades a cheap hash, slow.
var slowHashArgs = []string{"--argon2-memory=32768", "--argon2-time=8", "--hash-concurrency=4", "--hash-wait=0"}

// TestSIGTERMUnderLoad: under a steady load of refresh, me and forgotPassword, two slow
// logins and two refreshes whose bodies are kept back are in flight when SIGTERM arrives.
// New connections are refused from then on while the held requests are still open; each
// held request, and each slow login, then gets its complete successful answer; the process
// exits 0, which it does only when every request ended within --shutdown-timeout. Restarted on the same data directory: the database passes its
// checks, every answered operation's effect is there (the slow logins' sessions, the held
// refreshes' rotations, the load's last rotation of each session), every request that got
// no answer had no effect (its refresh token still rotates), and every mail queued before
// the stop is delivered afterwards.
func TestSIGTERMUnderLoad(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	sink := smtpsink.New(t, smtpsink.Options{})
	args := drillArgs(dataDir, sink, "--read-timeout=60s")
	users := setupUsers(t, args, 4)

	slowArgs := append(append([]string{}, args...), slowHashArgs...)
	// The timeout is generous: on a loaded machine (CI runners, the other drills) a slow
	// login takes many times its 0.8 s, and what this drill shows is a complete answer,
	// not a speed.
	p := startToktok(t, append(slowArgs, "--shutdown-timeout=60s"))
	load := startSteadyLoad(t, p.URL(), users)
	// Two logins that upgrade their hash, and two refreshes whose bodies are kept back.
	logins := make([]chan loginResult, 2)
	for i := range logins {
		logins[i] = slowLogin(t, p.URL(), users[i])
	}
	held := []*heldRequest{
		holdRefresh(t, p.URL(), users[2].spare),
		holdRefresh(t, p.URL(), users[3].spare),
	}

	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitRefused(t, p)
	// The held requests are still open (their bodies are not complete), so the process is
	// still running, and still refusing new connections. The slow logins are still hashing:
	// if one had its answer already, the machine outran the drill's hash settings.
	select {
	case <-p.Exited():
		t.Fatalf("exited with requests in flight\n%s", p.Output())
	default:
	}
	for i, c := range logins {
		if len(c) > 0 {
			if r := <-c; r.code != "" {
				t.Fatalf("slow login %d in flight at SIGTERM: %s %v", i, r.code, r.err)
			}
			t.Fatalf("slow login %d was answered before the listener closed: raise slowHashArgs", i)
		}
	}
	if code, err := newClient(t, p.URL(), false).forgotPassword(t.Context(), users[0].email); code != noAnswer || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("a request after SIGTERM: %s %v, want the connection refused", code, err)
	}

	heldTokens := make([]authPayload, len(held))
	for i, h := range held {
		heldTokens[i] = h.finish(t)
	}
	loginTokens := make([]authPayload, len(logins))
	for i, c := range logins {
		r := <-c
		if r.code != "" || r.tk.RefreshToken == "" {
			t.Fatalf("slow login %d in flight at SIGTERM: %s %v", i, r.code, r.err)
		}
		loginTokens[i] = r.tk
	}
	if code, ok := p.Wait(90 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exit %d (exited: %v), want 0 within --shutdown-timeout\n%s", code, ok, p.Output())
	}
	chains := load.stop(t)
	checkDatabase(t, dbPath(dataDir))

	p = startToktok(t, args)
	c := newClient(t, p.URL(), true)
	var rts []string
	for _, tk := range append(heldTokens, loginTokens...) {
		rts = append(rts, tk.RefreshToken)
	}
	for i, rt := range rts {
		if _, code, err := c.refresh(t.Context(), rt); code != "" {
			t.Errorf("in-flight operation %d: its answered refresh token fails after the restart: %s %v", i, code, err)
		}
	}
	for _, ch := range chains {
		if _, code, err := c.refresh(t.Context(), ch.last); code != "" {
			t.Errorf("%s: the last refresh token the load holds (rotated %d times, last call %s) fails after the restart: %s %v",
				ch.email, ch.rotations, ch.lastCall, code, err)
		}
	}
	waitOutboxDrained(t, dbPath(dataDir), 30*time.Second)
	stopGracefully(t, p, 30*time.Second)
	got := map[string]*delivery{}
	takeDeliveries(t, sink, got)
	var addrs []string
	for _, u := range users {
		addrs = append(addrs, u.email)
	}
	checkOutbox(t, dbPath(dataDir), addrs, got, nil)
	checkDatabase(t, dbPath(dataDir))
}

// TestShutdownTimeoutCutsLongRequests: a request still in flight when --shutdown-timeout
// (1 s) has passed does not hold the process: it exits with a non-zero status long before
// the request could end (its read timeout is 5 minutes), the request gets no answer, not
// a partial one, and it changed nothing (its refresh token still rotates after a restart).
func TestShutdownTimeoutCutsLongRequests(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	sink := smtpsink.New(t, smtpsink.Options{})
	args := drillArgs(dataDir, sink, "--read-timeout=5m")
	users := setupUsers(t, args, 1)

	p := startToktok(t, append(args, "--shutdown-timeout=1s"))
	h := holdRefresh(t, p.URL(), users[0].spare)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code, ok := p.Wait(30 * time.Second)
	if !ok {
		t.Fatalf("still running 30 s after SIGTERM with --shutdown-timeout=1s\n%s", p.Output())
	}
	if code == 0 {
		t.Fatalf("exit 0 although a request outlived --shutdown-timeout\n%s", p.Output())
	}
	t.Logf("exit %d; output:\n%s", code, lastLines(p.Output(), 3))
	h.wantNoAnswer(t)
	checkDatabase(t, dbPath(dataDir))

	p = startToktok(t, args)
	c := newClient(t, p.URL(), true)
	if _, code, err := c.refresh(t.Context(), users[0].spare); code != "" {
		t.Errorf("the refresh cut by the shutdown timeout had an effect: its token now answers %s %v", code, err)
	}
	stopGracefully(t, p, 30*time.Second)
}

// drillUser is an account made before a drill: its first session is the steady load's,
// its second (spare) is for a held request.
type drillUser struct {
	email, pw     string
	refresh       string
	access, spare string
}

// setupUsers registers n accounts, and signs each in once more, on a process of its own
// (cheap hashes), stopped before the drill.
func setupUsers(t *testing.T, args []string, n int) []*drillUser {
	t.Helper()
	p := startToktok(t, args)
	c := newClient(t, p.URL(), true)
	users := make([]*drillUser, n)
	for i := range users {
		u := &drillUser{email: fmt.Sprintf("term-%d@drills.example", i), pw: newPassword()}
		tk, code, err := c.register(t.Context(), u.email, u.pw)
		if code != "" {
			t.Fatalf("register: %s %v", code, err)
		}
		u.access, u.refresh = tk.AccessToken, tk.RefreshToken
		if tk, code, err = c.login(t.Context(), u.email, u.pw); code != "" {
			t.Fatalf("login: %s %v", code, err)
		}
		u.spare = tk.RefreshToken
		users[i] = u
	}
	stopGracefully(t, p, 30*time.Second)
	return users
}

// chain is one session's refresh tokens as the steady load saw them.
type chain struct {
	email     string
	last      string // the last token answered (or the first)
	rotations int
	lastCall  string // how the last call ended
}

// steadyLoad is one client per user looping refresh, me and (every fourth round)
// forgotPassword over keep-alive connections until a request gets no answer.
type steadyLoad struct {
	wg     sync.WaitGroup
	chains []*chain
	mu     sync.Mutex
	errs   []string
}

// startSteadyLoad starts the load and returns once every client has had answers.
func startSteadyLoad(t *testing.T, baseURL string, users []*drillUser) *steadyLoad {
	t.Helper()
	l := &steadyLoad{}
	c := newClient(t, baseURL, true)
	var warm sync.WaitGroup
	for _, u := range users {
		ch := &chain{email: u.email, last: u.refresh}
		l.chains = append(l.chains, ch)
		warm.Add(1)
		var once sync.Once
		l.wg.Go(func() {
			defer once.Do(warm.Done)
			l.run(t.Context(), c, u, ch, func() { once.Do(warm.Done) })
		})
	}
	warm.Wait()
	return l
}

func (l *steadyLoad) run(ctx context.Context, c *gqlClient, u *drillUser, ch *chain, warmed func()) {
	access := u.access
	for round := 0; ; round++ {
		tk, code, err := c.refresh(ctx, ch.last)
		ch.lastCall = code
		if code != "" {
			l.fail("refresh", code, err)
			return
		}
		ch.last, access = tk.RefreshToken, tk.AccessToken
		ch.rotations++
		if id, code, err := c.me(ctx, access); code != "" || id == "" {
			l.fail("me", code, err)
			return
		}
		if round%4 == 0 {
			if code, err := c.forgotPassword(ctx, u.email); code != "" {
				l.fail("forgotPassword", code, err)
				return
			}
		}
		if round == 3 {
			warmed()
		}
	}
}

// fail records an answered error; no answer is the end of the run, not an error.
func (l *steadyLoad) fail(op, code string, err error) {
	if code == noAnswer {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf("%s: %s %v", op, code, err))
}

// stop waits for the clients (each ends at its first unanswered request) and fails t on
// any answered error: under a graceful stop a request is answered in full, or refused.
func (l *steadyLoad) stop(t *testing.T) []*chain {
	t.Helper()
	l.wg.Wait()
	for _, e := range l.errs {
		t.Errorf("steady load: answered error: %s", e)
	}
	n := 0
	for _, ch := range l.chains {
		n += ch.rotations
	}
	t.Logf("steady load: %d rotations over %d sessions before the stop", n, len(l.chains))
	return l.chains
}

type loginResult struct {
	tk   authPayload
	code string
	err  error
}

// slowLogin starts a login on a connection of its own and returns once its handler runs
// (the server asked for the body); its result comes on the channel.
func slowLogin(t *testing.T, baseURL string, u *drillUser) chan loginResult {
	t.Helper()
	running := make(chan struct{})
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		Got100Continue: func() { close(running) },
	})
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true, ExpectContinueTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	body, err := json.Marshal(map[string]any{
		"query":     `mutation($in: LoginInput!) { login(input: $in) ` + payloadFields + ` }`,
		"variables": map[string]any{"in": map[string]any{"email": u.email, "password": u.pw}},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Expect", "100-continue")
	res := make(chan loginResult, 1)
	go func() {
		var r loginResult
		defer func() { res <- r }()
		resp, err := hc.Do(req)
		if err != nil {
			r.code, r.err = noAnswer, err
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			r.code, r.err = noAnswer, err
			return
		}
		var d struct{ Login authPayload }
		r.code, r.err = decodeAnswer(resp.StatusCode, raw, &d)
		r.tk = d.Login
	}()
	select {
	case <-running:
	case r := <-res:
		t.Fatalf("slow login ended before its handler asked for the body: %s %v", r.code, r.err)
	}
	return res
}

// heldRequest is a POST /graphql on a raw connection whose handler is waiting for the
// body.
type heldRequest struct {
	conn net.Conn
	r    *bufio.Reader
	body []byte
}

// holdRefresh sends the headers of a refreshToken mutation with "Expect: 100-continue" and
// returns once the server answered "100 Continue": its handler is reading the body.
func holdRefresh(t *testing.T, baseURL, rt string) *heldRequest {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"query":     `mutation($rt: String!) { refreshToken(refreshToken: $rt) ` + payloadFields + ` }`,
		"variables": map[string]any{"rt": rt},
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json\r\n"+
		"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", u.Host, len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	h := &heldRequest{conn: conn, r: bufio.NewReader(conn), body: body}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Fatalf("held request: no interim answer: %v", err)
	}
	if resp.StatusCode != http.StatusContinue {
		t.Fatalf("held request: HTTP %d, want 100 Continue", resp.StatusCode)
	}
	return h
}

// finish sends the body and returns the answer, which must be a complete successful one.
func (h *heldRequest) finish(t *testing.T) authPayload {
	t.Helper()
	if err := h.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.conn.Write(h.body); err != nil {
		t.Fatalf("the body of a held request: %v", err)
	}
	resp, err := http.ReadResponse(h.r, nil)
	if err != nil {
		t.Fatalf("held request in flight at SIGTERM: no answer: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("held request in flight at SIGTERM: incomplete answer: %v", err)
	}
	var d struct{ RefreshToken authPayload }
	if code, err := decodeAnswer(resp.StatusCode, raw, &d); code != "" || d.RefreshToken.RefreshToken == "" {
		t.Fatalf("held request in flight at SIGTERM: %s %v", code, err)
	}
	return d.RefreshToken
}

// wantNoAnswer fails t unless the held connection ends without a byte of answer.
func (h *heldRequest) wantNoAnswer(t *testing.T) {
	t.Helper()
	if err := h.conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, _ = h.conn.Write(h.body) // the peer is gone: this may fail or not
	b, err := io.ReadAll(h.r)
	var ne net.Error
	if len(b) > 0 || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("a request cut by the shutdown timeout: read %q, %v; want the connection closed with no answer", b, err)
	}
}

// waitRefused waits, up to 10 s, until the process refuses new connections (polling
// another process: there is nothing to wait on), then checks that it keeps refusing.
func waitRefused(t *testing.T, p *proc.Process) {
	t.Helper()
	u, err := url.Parse(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", u.Host, time.Second)
		if err == nil {
			conn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("still accepting connections 10 s after SIGTERM\n%s", p.Output())
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if errors.Is(err, syscall.ECONNRESET) && time.Now().Before(deadline) {
			// A connection the kernel queued while the listener was closing is reset:
			// the listener is going; dial again until it is gone.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial after SIGTERM: %v, want the connection refused", err)
		}
		break
	}
	for range 10 {
		if conn, err := net.DialTimeout("tcp", u.Host, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
			if conn != nil {
				conn.Close()
			}
			t.Fatalf("dial after the listener closed: %v, want the connection refused", err)
		}
	}
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
