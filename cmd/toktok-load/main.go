// Command toktok-load is a small load generator for a running TokTok. It sends one kind of
// GraphQL operation (register, login, me, refresh, users-search or users-page), or a mix of
// them (mixed), from -concurrency workers until -requests requests have been sent or
// -duration has passed, whichever comes first (both are required, so a run is always
// bounded), then prints the throughput, the errors by code and the latency percentiles.
// SIGINT or SIGTERM ends the timed phase early, and the report covers what was sent.
//
// The accounts are PREFIX-<i>@DOMAIN for i in [0, -users), all with -password. register
// creates each of them once; login signs them in in turn; me and refresh first sign every
// account in (untimed) and then send me with the access tokens, or rotate the refresh
// tokens (each session is used by one worker at a time, as rotation requires).
//
// -target-url sends the timed me requests of -op me elsewhere than -url, which still
// serves the setup (authConfig, anonymous tokens, the sign-ins). That is how the same
// access tokens reach cmd/toktok-floor, the bare handler me is measured against:
//
//	toktok-load -url http://127.0.0.1:4100 -op me -target-url http://127.0.0.1:4200 -label floor ...
//
// users-search and users-page load the admin listing (Query.users) with the account of
// -admin-email and -admin-password (STAFF or ADMIN), signed in once, untimed, as login
// does. users-search asks the first 20 users whose email starts with PREFIX-<d>, d a
// random leading part of the decimal index of a random account in [0, -users) (seed-1,
// seed-12, seed-123, ...), so that every search meets real accounts; not totalCount,
// whose cost grows with the matches (the setup's probe asks it once).
// users-page first walks the whole listing (no filter, pages of 100, untimed) up to
// -users rows and keeps the cursor of every page; each timed request then asks the 20
// users after a random one of those cursors (or the first page): a deep page, nodes and
// pageInfo only. An answer without users counts as an error (EMPTY). The admin's access
// token is not renewed: keep such a run shorter than the server's --access-ttl.
//
// idle measures what idle keep-alive connections cost the server: it opens -concurrency
// TCP connections to -target-url (default -url), sends GET /healthz on each, reads the
// answer and keeps the connection open, idle, for -duration (or until SIGINT), then counts
// those still open (the server closes a connection idle for longer than its
// --idle-timeout, 120s by default) and closes them. -requests is ignored.
//
// start measures a server's start: the arguments after the flags are the server's
// command, which it runs; it polls -url's /readyz every millisecond (a fresh connection
// each time) and reports the time from exec to the first 200, then stops the server with
// SIGTERM and waits for it. -duration bounds the wait; -requests is ignored.
//
// -pid names the server's process (Linux; it must run on this machine): its CPU time
// (utime+stime of /proc/PID/stat, in clock ticks of 1/100 s, Linux's USER_HZ on every
// architecture Go supports, so the figure is only as fine as 10 ms over the run) is read
// right before and right after the timed phase, and the report gives the server's CPU per
// answered request, and its VmRSS and VmHWM (/proc/PID/status) at the end. With idle, it
// gives the server's VmRSS before the connections are opened, once all are open, and at
// the end.
//
// mixed is what a soak test needs: traffic that looks like an application's, for as long
// as one likes. Its accounts are PREFIX-RUN-<i>@DOMAIN, RUN random per run, so a run never
// meets a previous run's accounts; worker w alone works on the accounts i ≡ w (mod
// -concurrency), one request at a time. Each request picks one of the worker's accounts at
// random: an account not registered yet is registered; otherwise the operation is drawn
// from login 15 %, refresh 35 %, me 25 %, changePassword 5 % and forgotPassword 20 %. An
// account keeps at most three sessions (a login then replaces the oldest), a
// changePassword leaves it the answer's session alone, and a session whose rotation failed
// is dropped. forgotPassword mails the account (per-IP and per-account limits:
// --limit-ip-forgot-password, --limit-reset-mails). The report adds the requests by
// operation.
//
// What the server requires is read from authConfig before the clock starts: with
// --anojwt=yes each worker fetches one anonymous token (they live for hours) and sends it
// with register and login; with --salt=yes each account's email and password are
// encrypted once with the published key (credentials.EncryptForJWK, for the JWK
// authConfig.encryptionJwk publishes: a JWE with ecdh-es, RSA-OAEP with rsa-oaep-256), as an SPA does, and the
// ciphertexts are reused.
//
// Only loopback URLs are accepted unless -allow-remote is given: this is a load test. All
// its requests come from one IP, so the server's per-IP limits must be raised for it
// (--limit-ip-login and the like), or most requests are RATE_LIMITED.
//
//	toktok-load -url http://127.0.0.1:4100 -op register -users 200 -concurrency 4
//	toktok-load -url http://127.0.0.1:4100 -op login -users 200 -concurrency 200 -requests 400 -duration 60s
//	toktok-load -url http://127.0.0.1:4100 -op me -users 200 -concurrency 16 -requests 1000000 -duration 20s -pid 1234
//	toktok-load -url http://127.0.0.1:4100 -op users-page -email-prefix seed -users 100000 -admin-email a@example.com -admin-password PW ...
//	toktok-load -url http://127.0.0.1:4100 -op idle -concurrency 2000 -duration 30s -pid 1234
//	toktok-load -url http://127.0.0.1:4100 -op start -duration 30s -- toktok --port 4100 --data-dir /srv/toktok
//	toktok-load -url http://127.0.0.1:4100 -op mixed -users 500 -concurrency 16 -requests 100000000 -duration 10m
//
// Besides the report, the last line of every run is for scripts, key=value pairs:
//
//	result op=OP target=T conns=C requests=N errors=E seconds=S rps=X p50_ms=X p90_ms=X p99_ms=X max_ms=X
//
// followed, with -pid, by server_cpu_ms_per_req=X server_rss_mib=X server_hwm_mib=X; and
// for idle:
//
//	result op=idle target=T conns=OPEN opened=N errors=E seconds=S
//
// followed, with -pid, by rss_before_mib=X rss_open_mib=X rss_end_mib=X extra_mib=X
// (rss_end_mib − rss_before_mib); for start:
//
//	result op=start target=T start_ms=X
//
// (exec to the first /readyz 200). T is -label, else the host:port of the timed requests.
// requests counts the answered requests, failed ones included; the latencies and the
// server's CPU per request are over them; OPEN counts the connections still open at the
// end, E those that could not be opened.
//
// The exit status is 0 when every timed request succeeded (idle: every connection opened
// and stayed open), 1 when some failed, 2 when the run could not be set up.
package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/internal/procstat"
)

type options struct {
	url           string
	targetURL     string
	op            string
	users         int
	concurrency   int
	requests      int
	duration      time.Duration
	timeout       time.Duration
	prefix        string
	domain        string
	password      string
	antispam      string
	adminEmail    string
	adminPassword string
	pid           int
	label         string
	allowRemote   bool
	command       []string // -op start: the server command, after the flags
}

func main() {
	var o options
	flag.StringVar(&o.url, "url", "http://127.0.0.1:4100", "TokTok base URL (or its /graphql endpoint)")
	flag.StringVar(&o.targetURL, "target-url", "", "-op me and idle: send the timed requests here instead of -url (e.g. to cmd/toktok-floor)")
	flag.StringVar(&o.op, "op", "login", "operation: register | login | me | refresh | users-search | users-page | idle | start | mixed")
	flag.IntVar(&o.users, "users", 100, "number of accounts")
	flag.IntVar(&o.concurrency, "concurrency", 8, "concurrent workers (requests in flight); idle: connections")
	flag.IntVar(&o.requests, "requests", 1000, "stop after this many requests (register: at most -users; idle: ignored)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "stop after this long (idle: hold the connections this long)")
	flag.DurationVar(&o.timeout, "timeout", 60*time.Second, "timeout of one request")
	flag.StringVar(&o.prefix, "email-prefix", "load", "accounts are PREFIX-<i>@DOMAIN")
	flag.StringVar(&o.domain, "email-domain", "example.com", "accounts are PREFIX-<i>@DOMAIN")
	flag.StringVar(&o.password, "password", "correct horse battery staple 42", "password of every account")
	flag.StringVar(&o.antispam, "antispam", "", "antispam value, sent when the server requires it")
	flag.StringVar(&o.adminEmail, "admin-email", "", "users-search, users-page: a STAFF or ADMIN account")
	flag.StringVar(&o.adminPassword, "admin-password", "", "users-search, users-page: its password")
	flag.IntVar(&o.pid, "pid", 0, "the server's process id (Linux, this machine): report its CPU per request and memory")
	flag.StringVar(&o.label, "label", "", "target= of the result line (default: the host:port of the timed requests)")
	flag.BoolVar(&o.allowRemote, "allow-remote", false, "allow a URL whose host is not loopback")
	flag.Parse()
	if flag.NArg() > 0 && o.op != "start" {
		fmt.Fprintf(os.Stderr, "toktok-load: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	o.command = flag.Args()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code, err := run(ctx, o, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "toktok-load:", err)
		os.Exit(2)
	}
	os.Exit(code)
}

// run sets up and runs the load and prints the report. It returns the exit status, or an
// error when the run could not be set up (exit status 2). ctx ending stops the run.
func run(ctx context.Context, o options, out io.Writer) (int, error) {
	ep, err := checkOptions(&o)
	if err != nil {
		return 2, err
	}
	switch o.op {
	case "idle":
		return runIdle(ctx, o, ep, out)
	case "start":
		return runStart(ctx, o, ep, out)
	}
	c := newClient(ep.url, o.concurrency, o.timeout)
	setupCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()

	start := time.Now()
	r, err := setup(setupCtx, o, ep, c, out)
	if err != nil {
		return 2, err
	}
	fmt.Fprintf(out, "setup: %s\n", time.Since(start).Round(time.Millisecond))

	limit := o.requests
	if o.op == "register" {
		limit = min(limit, o.users)
	}
	if r.mix != nil {
		fmt.Fprintf(out, "mixed: accounts %s-%s-<i>@%s\n", o.prefix, r.mix.run, o.domain)
	}
	var before procstat.Sample
	if o.pid > 0 {
		if before, err = readProc(o.pid); err != nil {
			return 2, err
		}
	}
	res := load(ctx, o, limit, r)
	var usage *serverUsage
	if o.pid > 0 {
		// The server may have ended meanwhile: the report then goes without its figures.
		if after, err := readProc(o.pid); err != nil {
			fmt.Fprintf(out, "server: %v\n", err)
		} else {
			usage = &serverUsage{cpu: after.CPU - before.CPU, rssKiB: after.RSSKiB, hwmKiB: after.HWMKiB}
		}
	}
	res.print(out, limit)
	res.printServer(out, usage)
	fmt.Fprintln(out, res.resultLine(o, ep, usage))
	if res.errors() > 0 {
		return 1, nil
	}
	return 0, nil
}

// setup reads authConfig and prepares what the timed phase sends: the accounts'
// credentials, one anonymous token per worker, the sessions of me and refresh, the admin's
// session of users-search and users-page.
func setup(ctx context.Context, o options, ep endpoints, c *client, out io.Writer) (*runner, error) {
	srv, err := c.authConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("authConfig: %w", err)
	}
	fmt.Fprintf(out, "toktok-load: op=%s url=%s users=%d concurrency=%d limits: %d requests, %s\n",
		o.op, ep.url, o.users, o.concurrency, o.requests, o.duration)
	if ep.target != ep.url {
		fmt.Fprintf(out, "target: %s\n", ep.target)
	}
	fmt.Fprintf(out, "server: anonymousTokenRequired=%t encryptedCredentials=%t antispamRequired=%t\n",
		srv.AnonymousTokenRequired, srv.EncryptedCredentials, srv.AntispamRequired)
	if srv.AntispamRequired && o.antispam == "" {
		return nil, errors.New("the server requires the antispam field: set -antispam")
	}
	pub, err := encryptionKey(srv)
	if err != nil {
		return nil, err
	}
	r := &runner{c: c, tc: c}
	if ep.target != ep.url {
		r.tc = newClient(ep.target, o.concurrency, o.timeout)
	}
	if !adminOp(o.op) && o.op != "mixed" {
		if r.accts, err = prepareAccounts(o, pub); err != nil {
			return nil, err
		}
	}
	// One anonymous token per worker, when register/login need one.
	r.anon = make([]string, o.concurrency)
	if srv.AnonymousTokenRequired {
		if err := parallel(o.concurrency, o.concurrency, func(i int) error {
			t, err := c.anonymousToken(ctx)
			r.anon[i] = t
			return err
		}); err != nil {
			return nil, fmt.Errorf("anonymousToken: %w", err)
		}
	}
	switch {
	case o.op == "me" || o.op == "refresh":
		r.sessions, err = signIn(ctx, o, c, r.anon, r.accts)
	case adminOp(o.op):
		err = r.setupAdmin(ctx, o, pub, out)
	case o.op == "mixed":
		r.mix = newMixed(o, pub)
	}
	return r, err
}

// signIn signs every account in, for me and refresh.
func signIn(ctx context.Context, o options, c *client, anon []string, accts []account) ([]session, error) {
	sessions := make([]session, len(accts))
	if err := parallel(len(accts), o.concurrency, func(i int) error {
		p, code, err := c.login(ctx, anon[i%len(anon)], accts[i], o.antispam)
		if err != nil {
			return fmt.Errorf("%s: %s %v (register the accounts first: -op register)", accts[i].email, code, err)
		}
		sessions[i] = session{access: p.AccessToken, refresh: p.RefreshToken}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("signing in: %w", err)
	}
	return sessions, nil
}

// endpoints are where the requests go: url gets the setup, target the timed requests.
type endpoints struct {
	url, target string
	host        string // of target: target= of the result line, unless -label
}

// checkOptions validates o and returns the GraphQL endpoints.
func checkOptions(o *options) (endpoints, error) {
	var ep endpoints
	switch o.op {
	case "register", "login", "me", "refresh", "mixed", "users-search", "users-page", "idle", "start":
	default:
		return ep, fmt.Errorf("-op %q: want register, login, me, refresh, users-search, users-page, idle, start or mixed", o.op)
	}
	if (o.op == "start") != (len(o.command) > 0) {
		return ep, errors.New("-op start, and only it, takes the server command after the flags")
	}
	if o.users < 1 || o.concurrency < 1 {
		return ep, errors.New("-users and -concurrency must be at least 1")
	}
	if o.op == "mixed" && o.users < o.concurrency {
		return ep, errors.New("-op mixed: -users must be at least -concurrency (each worker has accounts of its own)")
	}
	if (o.requests < 1 && o.op != "idle" && o.op != "start") || o.duration <= 0 {
		return ep, errors.New("-requests and -duration must be positive: every run is bounded")
	}
	if o.timeout <= 0 {
		return ep, errors.New("-timeout must be positive")
	}
	if adminOp(o.op) && (o.adminEmail == "" || o.adminPassword == "") {
		return ep, fmt.Errorf("-op %s: -admin-email and -admin-password are required (a STAFF or ADMIN account)", o.op)
	}
	if o.targetURL != "" && o.op != "me" && o.op != "idle" {
		return ep, errors.New("-target-url applies to -op me and idle only")
	}
	if o.pid < 0 {
		return ep, errors.New("-pid must be a process id")
	}
	if strings.ContainsAny(o.label, " \t\n=") {
		return ep, fmt.Errorf("-label %q: no spaces or '='", o.label)
	}
	var err error
	if ep.url, _, err = checkURL("-url", o.url, o.allowRemote); err != nil {
		return ep, err
	}
	if ep.target, ep.host, err = checkURL("-target-url", cmp.Or(o.targetURL, o.url), o.allowRemote); err != nil {
		return ep, err
	}
	if o.op == "idle" && strings.HasPrefix(ep.target, "https:") {
		return ep, errors.New("-op idle speaks plain HTTP: give an http:// URL")
	}
	return ep, nil
}

// checkURL checks a URL flag and returns its GraphQL endpoint and its host:port.
func checkURL(name, raw string, allowRemote bool) (endpoint, host string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("%s %q is not an http(s) URL", name, raw)
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return "", "", fmt.Errorf("%s host %q is not loopback; pass -allow-remote to load a remote server", name, u.Hostname())
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/graphql"
	}
	u.RawQuery, u.Fragment = "", ""
	return u.String(), u.Host, nil
}

// isLoopback accepts localhost and loopback IP literals; other names are not resolved,
// so a name cannot point a load test somewhere unexpected.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// account is one account's credentials as sent: ciphertexts when the server wants them.
type account struct {
	email          string // plaintext, for messages
	sentEmail, pwd string
}

// encryptionKey is the public key credentials are encrypted with, as the JWK authConfig
// publishes (either scheme), nil when they travel in clear.
func encryptionKey(srv authConfig) ([]byte, error) {
	if !srv.EncryptedCredentials {
		return nil, nil
	}
	if len(srv.EncryptionJwk) == 0 || string(srv.EncryptionJwk) == "null" {
		return nil, errors.New("authConfig.encryptionJwk is empty with encryptedCredentials")
	}
	if _, err := credentials.EncryptForJWK(srv.EncryptionJwk, "probe"); err != nil {
		return nil, fmt.Errorf("authConfig.encryptionJwk: %w", err)
	}
	return srv.EncryptionJwk, nil
}

func prepareAccounts(o options, pub []byte) ([]account, error) {
	accts := make([]account, o.users)
	for i := range accts {
		email := fmt.Sprintf("%s-%d@%s", o.prefix, i, o.domain)
		a := account{email: email, sentEmail: email, pwd: o.password}
		if pub != nil {
			var err error
			if a.sentEmail, err = credentials.EncryptForJWK(pub, email); err != nil {
				return nil, err
			}
			if a.pwd, err = credentials.EncryptForJWK(pub, o.password); err != nil {
				return nil, err
			}
		}
		accts[i] = a
	}
	return accts, nil
}

type session struct{ access, refresh string }

// parallel runs f(0..n-1) on at most workers goroutines and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(n, workers) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { firstErr = err })
					next.Store(int64(n)) // stop handing out work
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// result is what the timed phase measured.
type result struct {
	elapsed   time.Duration
	latencies []time.Duration // of every request, failed ones included
	codes     map[string]int  // errors by code (mixed: by operation:code)
	ops       map[string]int  // requests by operation
	stoppedBy string
}

func (r *result) errors() int {
	n := 0
	for _, v := range r.codes {
		n += v
	}
	return n
}

// load runs the timed phase; ctx ending stops it as -duration does.
func load(parent context.Context, o options, limit int, r *runner) *result {
	ctx, cancel := context.WithTimeout(parent, o.duration)
	defer cancel()
	r.o, r.cancel = o, cancel
	sessions := r.sessions
	// refresh: each session is held by one worker at a time; a session whose rotation
	// failed is dropped (its token may be spent), and the run stops when none is left.
	if o.op == "refresh" {
		r.pool = make(chan session, len(sessions))
		for _, s := range sessions {
			r.pool <- s
		}
		r.live.Store(int64(len(sessions)))
	}
	var (
		issued atomic.Int64
		mu     sync.Mutex
		wg     sync.WaitGroup
		res    = &result{codes: map[string]int{}, ops: map[string]int{}}
	)
	start := time.Now()
	for w := range o.concurrency {
		wg.Go(func() {
			lat := make([]time.Duration, 0, limit/o.concurrency+1)
			codes, ops := map[string]int{}, map[string]int{}
			defer func() {
				mu.Lock()
				res.latencies = append(res.latencies, lat...)
				for k, v := range codes {
					res.codes[k] += v
				}
				for k, v := range ops {
					res.ops[k] += v
				}
				mu.Unlock()
			}()
			for ctx.Err() == nil {
				n := int(issued.Add(1)) - 1
				if n >= limit {
					return
				}
				t0, op, code, sent := r.one(ctx, w, n)
				if !sent || (code == "CANCELLED" && ctx.Err() != nil) {
					// Not sent, or cut short by -duration: neither a result nor an error of
					// the server.
					issued.Add(-1)
					return
				}
				lat = append(lat, time.Since(t0))
				ops[op]++
				if code != "" {
					if r.mix != nil {
						code = op + ":" + code
					}
					codes[code]++
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.stoppedBy = "-requests"
	if len(res.latencies) < limit {
		res.stoppedBy = "-duration"
		if o.op == "refresh" && r.live.Load() == 0 {
			res.stoppedBy = "no live session left"
		}
		if parent.Err() != nil {
			res.stoppedBy = "a signal"
		}
	}
	return res
}

// runner sends the requests of one load run.
type runner struct {
	o        options
	c        *client // -url
	tc       *client // the timed me requests: -target-url, else c
	accts    []account
	anon     []string // one anonymous token per worker, when the server wants them
	sessions []session
	mix      *mixed       // -op mixed
	pool     chan session // refresh: the sessions not held by a worker
	live     atomic.Int64 // refresh: sessions still usable
	cancel   func()
	admin    string   // users-search, users-page: the admin's access token
	cursors  []string // users-page: the cursors of the pages ("" for the first)
}

// one sends request n from worker w and returns when it started, the operation and the
// error code ("" for success); sent is false when the run ended before it could be sent.
func (r *runner) one(ctx context.Context, w, n int) (t0 time.Time, op, code string, sent bool) {
	i := n % max(len(r.accts), 1)
	bearer := r.anon[w]
	op = r.o.op
	switch r.o.op {
	case "users-search":
		q := r.searchQuery()
		t0 = time.Now()
		code, _ = r.c.usersSearch(ctx, r.admin, q)
	case "users-page":
		after := r.cursors[rand.IntN(len(r.cursors))]
		t0 = time.Now()
		code, _ = r.c.usersPage(ctx, r.admin, after)
	case "mixed":
		t0 = time.Now()
		op, code = r.mix.step(ctx, r, w)
	case "register":
		t0 = time.Now()
		_, code, _ = r.c.register(ctx, bearer, r.accts[i], r.o.antispam)
	case "login":
		t0 = time.Now()
		_, code, _ = r.c.login(ctx, bearer, r.accts[i], r.o.antispam)
	case "me":
		t0 = time.Now()
		code, _ = r.tc.me(ctx, r.sessions[i].access)
	case "refresh":
		var s session
		select {
		case s = <-r.pool:
		case <-ctx.Done():
			return t0, op, "", false
		}
		t0 = time.Now()
		var p authPayload
		p, code, _ = r.c.refresh(ctx, s.refresh)
		if code == "" {
			r.pool <- session{access: p.AccessToken, refresh: p.RefreshToken}
		} else if r.live.Add(-1) == 0 {
			r.cancel()
		}
	}
	return t0, op, code, true
}

func (r *result) print(out io.Writer, limit int) {
	n := len(r.latencies)
	errs := r.errors()
	fmt.Fprintf(out, "done: %d requests in %s (stopped by %s; limit %d)\n", n, r.elapsed.Round(time.Millisecond), r.stoppedBy, limit)
	fmt.Fprintf(out, "throughput: %.1f req/s, %.1f ok/s (ok %d, errors %d)\n",
		float64(n)/r.elapsed.Seconds(), float64(n-errs)/r.elapsed.Seconds(), n-errs, errs)
	if len(r.ops) > 1 {
		fmt.Fprintf(out, "by operation:%s\n", counts(r.ops))
	}
	if errs > 0 {
		fmt.Fprintf(out, "errors:%s\n", counts(r.codes))
		if limited(r.codes) {
			fmt.Fprintln(out, "note: every request of this tool comes from one IP; raise the server's per-IP limits for a load test (--limit-ip-login, --limit-ip-register, --limit-ip-anonymous-token, and for mixed --limit-ip-forgot-password)")
		}
	}
	if n == 0 {
		return
	}
	slices.Sort(r.latencies)
	fmt.Fprintf(out, "latency: p50 %s  p90 %s  p99 %s  max %s\n",
		fmtDur(percentile(r.latencies, 50)), fmtDur(percentile(r.latencies, 90)),
		fmtDur(percentile(r.latencies, 99)), fmtDur(r.latencies[n-1]))
}

// limited reports whether some requests were RATE_LIMITED.
func limited(codes map[string]int) bool {
	for k, v := range codes {
		if v > 0 && (k == "RATE_LIMITED" || strings.HasSuffix(k, ":RATE_LIMITED")) {
			return true
		}
	}
	return false
}

// counts formats m as " k=v" pairs, most frequent first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, m[k])
	}
	return b.String()
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// client speaks GraphQL over HTTP to one endpoint.
type client struct {
	endpoint string
	http     *http.Client
}

func newClient(endpoint string, conns int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy:               nil, // a load test goes straight to the server
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &client{endpoint: endpoint, http: &http.Client{Transport: tr, Timeout: timeout}}
}

type gqlError struct {
	Message    string `json:"message"`
	Extensions struct {
		Code string `json:"code"`
	} `json:"extensions"`
}

// do sends one operation and decodes data into v. code is "" on success, else the first
// GraphQL error's extensions.code, HTTP_<status>, TIMEOUT, CANCELLED, TRANSPORT or
// BAD_RESPONSE; err then says more.
func (c *client) do(ctx context.Context, bearer, query string, vars map[string]any, v any) (code string, err error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return "CLIENT", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return "CLIENT", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var ne net.Error
		switch {
		case ctx.Err() != nil:
			return "CANCELLED", err
		case errors.As(err, &ne) && ne.Timeout():
			return "TIMEOUT", err
		}
		return "TRANSPORT", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		if ctx.Err() != nil {
			return "CANCELLED", err
		}
		return "TRANSPORT", err
	}
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if jerr := json.Unmarshal(raw, &r); jerr != nil {
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("HTTP_%d", resp.StatusCode), fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
		}
		return "BAD_RESPONSE", fmt.Errorf("%w: %.200s", jerr, raw)
	}
	if len(r.Errors) > 0 {
		code := r.Errors[0].Extensions.Code
		if code == "" {
			code = "NO_CODE"
		}
		return code, errors.New(r.Errors[0].Message)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP_%d", resp.StatusCode), fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			return "BAD_RESPONSE", err
		}
	}
	return "", nil
}

type authConfig struct {
	AnonymousTokenRequired bool
	EncryptedCredentials   bool
	EncryptionJwk          json.RawMessage
	AntispamRequired       bool
}

func (c *client) authConfig(ctx context.Context) (authConfig, error) {
	var d struct{ AuthConfig authConfig }
	code, err := c.do(ctx, "", `{ authConfig { anonymousTokenRequired encryptedCredentials encryptionJwk antispamRequired } }`, nil, &d)
	if err != nil {
		return authConfig{}, fmt.Errorf("%s: %w", code, err)
	}
	return d.AuthConfig, nil
}

func (c *client) anonymousToken(ctx context.Context) (string, error) {
	var d struct{ AnonymousToken struct{ Token string } }
	code, err := c.do(ctx, "", `mutation { anonymousToken { token } }`, nil, &d)
	if err != nil {
		return "", fmt.Errorf("%s: %w", code, err)
	}
	return d.AnonymousToken.Token, nil
}

type authPayload struct {
	AccessToken  string
	RefreshToken string
}

const payloadFields = `accessToken refreshToken user { id }`

func credentialsInput(a account, antispam string) map[string]any {
	in := map[string]any{"email": a.sentEmail, "password": a.pwd}
	if antispam != "" {
		in["antispam"] = antispam
	}
	return in
}

func (c *client) register(ctx context.Context, anon string, a account, antispam string) (authPayload, string, error) {
	var d struct{ Register authPayload }
	code, err := c.do(ctx, anon, `mutation($input: RegisterInput!) { register(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": credentialsInput(a, antispam)}, &d)
	return d.Register, code, err
}

func (c *client) login(ctx context.Context, anon string, a account, antispam string) (authPayload, string, error) {
	var d struct{ Login authPayload }
	code, err := c.do(ctx, anon, `mutation($input: LoginInput!) { login(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": credentialsInput(a, antispam)}, &d)
	return d.Login, code, err
}

func (c *client) refresh(ctx context.Context, rt string) (authPayload, string, error) {
	var d struct{ RefreshToken authPayload }
	code, err := c.do(ctx, "", `mutation($rt: String!) { refreshToken(refreshToken: $rt) { `+payloadFields+` } }`,
		map[string]any{"rt": rt}, &d)
	return d.RefreshToken, code, err
}

func (c *client) me(ctx context.Context, access string) (string, error) {
	var d struct {
		Me *struct{ ID string }
	}
	code, err := c.do(ctx, access, `{ me { id email role } }`, nil, &d)
	if code == "" && d.Me == nil {
		return "NULL_ME", errors.New("me is null")
	}
	return code, err
}

func (c *client) changePassword(ctx context.Context, access, current, next string) (authPayload, string, error) {
	var d struct{ ChangePassword authPayload }
	code, err := c.do(ctx, access, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { `+payloadFields+` } }`,
		map[string]any{"c": current, "n": next}, &d)
	return d.ChangePassword, code, err
}

func (c *client) forgotPassword(ctx context.Context, anon, email, antispam string) (string, error) {
	vars := map[string]any{"e": email}
	if antispam != "" {
		vars["a"] = antispam
	}
	var d struct{ ForgotPassword bool }
	return c.do(ctx, anon, `mutation($e: String!, $a: String) { forgotPassword(email: $e, antispam: $a) }`, vars, &d)
}

// mixed is the state of -op mixed: the accounts, each worker's apart, and each worker's
// random source. Only worker w touches accts[w] and rngs[w], so nothing is locked.
type mixed struct {
	run   string // the accounts' run tag
	pub   []byte // authConfig.encryptionJwk; nil when credentials travel in clear
	accts [][]*mixedAccount
	rngs  []*rand.Rand
}

type mixedAccount struct {
	email, pw  string
	registered bool
	sessions   []session // at most maxMixedSessions
}

const maxMixedSessions = 3

func newMixed(o options, pub []byte) *mixed {
	m := &mixed{run: fmt.Sprintf("%06x", rand.Uint32()&0xffffff), pub: pub,
		accts: make([][]*mixedAccount, o.concurrency), rngs: make([]*rand.Rand, o.concurrency)}
	for w := range m.rngs {
		m.rngs[w] = rand.New(rand.NewPCG(rand.Uint64(), uint64(w)))
	}
	for i := range o.users {
		w := i % o.concurrency
		m.accts[w] = append(m.accts[w], &mixedAccount{
			email: fmt.Sprintf("%s-%s-%d@%s", o.prefix, m.run, i, o.domain), pw: o.password,
		})
	}
	return m
}

// seal encrypts a credential field when the server wants ciphertexts.
func (m *mixed) seal(v string) (string, error) {
	if m.pub == nil {
		return v, nil
	}
	return credentials.EncryptForJWK(m.pub, v)
}

// creds is a's email and password as sent.
func (m *mixed) creds(a *mixedAccount) (account, error) {
	e, err := m.seal(a.email)
	if err != nil {
		return account{}, err
	}
	p, err := m.seal(a.pw)
	return account{email: a.email, sentEmail: e, pwd: p}, err
}

// step sends worker w's next request of the mix (see the package comment) and returns the
// operation and its error code ("" for success).
func (m *mixed) step(ctx context.Context, r *runner, w int) (op, code string) {
	rng := m.rngs[w]
	a := m.accts[w][rng.IntN(len(m.accts[w]))]
	bearer := r.anon[w]
	x := rng.IntN(100)
	switch {
	case !a.registered:
		return "register", m.signIn(ctx, r, bearer, a, true)
	case x < 15 || (x < 80 && len(a.sessions) == 0):
		return "login", m.signIn(ctx, r, bearer, a, false)
	case x < 50:
		i := rng.IntN(len(a.sessions))
		p, code, _ := r.c.refresh(ctx, a.sessions[i].refresh)
		if code == "" {
			a.sessions[i] = session{access: p.AccessToken, refresh: p.RefreshToken}
		} else {
			a.sessions = append(a.sessions[:i], a.sessions[i+1:]...)
		}
		return "refresh", code
	case x < 75:
		code, _ := r.c.me(ctx, a.sessions[rng.IntN(len(a.sessions))].access)
		return "me", code
	case x < 80:
		return "changePassword", m.changePassword(ctx, r, a, fmt.Sprintf("mixed load %016x", rng.Uint64()))
	}
	e, err := m.seal(a.email)
	if err != nil {
		return "forgotPassword", "CLIENT"
	}
	code, _ = r.c.forgotPassword(ctx, bearer, e, r.o.antispam)
	return "forgotPassword", code
}

// signIn registers a (register) or signs it in, and keeps the new session.
func (m *mixed) signIn(ctx context.Context, r *runner, bearer string, a *mixedAccount, register bool) string {
	cr, err := m.creds(a)
	if err != nil {
		return "CLIENT"
	}
	var p authPayload
	var code string
	if register {
		p, code, _ = r.c.register(ctx, bearer, cr, r.o.antispam)
	} else {
		p, code, _ = r.c.login(ctx, bearer, cr, r.o.antispam)
	}
	if code != "" {
		return code
	}
	a.registered = true
	if len(a.sessions) == maxMixedSessions {
		a.sessions = a.sessions[1:]
	}
	a.sessions = append(a.sessions, session{access: p.AccessToken, refresh: p.RefreshToken})
	return ""
}

// changePassword changes a's password to next; the answer's session is then a's only one.
func (m *mixed) changePassword(ctx context.Context, r *runner, a *mixedAccount, next string) string {
	cur, err := m.seal(a.pw)
	if err != nil {
		return "CLIENT"
	}
	nxt, err := m.seal(next)
	if err != nil {
		return "CLIENT"
	}
	p, code, _ := r.c.changePassword(ctx, a.sessions[0].access, cur, nxt)
	if code == "" {
		a.pw = next
		a.sessions = []session{{access: p.AccessToken, refresh: p.RefreshToken}}
	}
	return code
}
