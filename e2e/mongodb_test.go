package e2e

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/mongodb"
	"github.com/toktok/toktok/store/mongodb/mongotest"
)

// The MongoDB store through the whole service: these tests always run on a MongoDB-wire
// server (FerretDB in this process, or TOKTOK_TEST_MONGODB_URI), whatever TOKTOK_TEST_STORE
// says for the rest of the suite.

// mongoServer is this test binary's MongoDB-wire server. TestMain starts it when the whole
// suite runs on MongoDB, the first test that needs it does otherwise, and TestMain closes
// it: a run that needs none (the SQLite suite without the Mongo tests) starts no FerretDB.
var mongoServer lazyMongo

// lazyMongo starts a mongotest.Server on first use.
type lazyMongo struct {
	mu  sync.Mutex
	srv *mongotest.Server
	err error // the start's failure, kept: the next test would fail the same way
}

// get returns the server, starting it on the first call; ctx bounds that start only.
func (l *lazyMongo) get(ctx context.Context) (*mongotest.Server, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv == nil && l.err == nil {
		l.srv, l.err = mongotest.Start(ctx)
	}
	return l.srv, l.err
}

// startTimeout bounds the start of the server (and, for an external one, a first ping).
const startTimeout = time.Minute

// start starts the server now, unless it runs already.
func (l *lazyMongo) start() error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	_, err := l.get(ctx)
	return err
}

// close closes the server if one was started.
func (l *lazyMongo) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.srv == nil {
		return nil
	}
	err := l.srv.Close()
	l.srv, l.err = nil, errors.New("the MongoDB test server is closed")
	return err
}

// testMongo returns the test binary's MongoDB-wire server, starting it if need be.
func testMongo(t testing.TB) *mongotest.Server {
	t.Helper()
	srv, err := mongoServer.get(t.Context())
	if err != nil {
		t.Fatalf("mongodb test server: %v", err)
	}
	return srv
}

// openMongoStore opens cfg's MongoDB store as app.New would, but through gate. Instances
// of the service that share a database in one process must share one gate: on FerretDB v1
// (the in-process server) only that keeps their conditional updates atomic across them,
// and app.New gives each store a gate of its own. The App it is passed to closes it.
func openMongoStore(t testing.TB, cfg config.Config, gate *mongodb.WriteGate) store.Store {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, nil))
	}
	s, err := mongodb.Open(t.Context(), cfg.Store.URI, mongodb.Options{Database: cfg.Store.Database, Log: log, WriteGate: gate})
	if err != nil {
		t.Fatalf("open the MongoDB store: %v", err)
	}
	return s
}

// mongoGate is the write gate of every store mongoStoreFor opens. One for the binary: the
// tests run one at a time, and a gate shared among databases is correct, only slower.
var mongoGate = mongodb.NewWriteGate()

// mongoStoreFor is, when the suite runs on MongoDB (TOKTOK_TEST_STORE=mongodb), cfg's store
// opened through mongoGate, for app.Options.Store; nil otherwise, and app.New opens the
// configured store. app.New would give each store a gate of its own, so two apps that a test
// starts on one database (TestMailOutboxTwoWorkers, TestSessionsTwoServers) would not
// serialise against each other on FerretDB v1, and could both claim one mail. The harness's
// startEnvWith is meant to use it when opts.Store is nil.
func mongoStoreFor(t testing.TB, cfg config.Config) store.Store {
	t.Helper()
	if os.Getenv(testStoreEnv) != "mongodb" || !cfg.Store.MongoDB() {
		return nil
	}
	return openMongoStore(t, cfg, mongoGate)
}

// TestMongoTwoServers runs two TokTok servers on one database: tokens, refresh rotation,
// replay, logout, the outbox and rate-limit counters are shared.
func TestMongoTwoServers(t *testing.T) {
	sink := startMailSink(t)
	cfg := testConfig(t)
	cfg.Store.URI, cfg.Store.Database = testMongo(t).NewDatabase(t)
	sink.Configure(&cfg)
	cfg.Limits.IPForgotPassword = config.Rate{N: 2, Window: time.Hour}
	clock := newTestClock()
	// Two processes in production; in this one process, two stores that share a gate.
	gate := mongodb.NewWriteGate()
	a := startEnvWith(t, cfg, clock, app.Options{Store: openMongoStore(t, cfg, gate)})
	b := startEnvWith(t, cfg, clock, app.Options{Store: openMongoStore(t, cfg, gate)})

	// A token from one is accepted by the other.
	reg := a.register("ann@example.com", strongPassword)
	sink.NextTo("ann@example.com")
	b.mustData(b.meReq(reg.AccessToken), nil)

	// A refresh rotated on one and replayed on the other (after the grace window) revokes
	// the session for both.
	r1 := a.refresh(reg.RefreshToken)
	clock.Advance(cfg.Token.RefreshGrace + time.Second)
	b.wantCode(b.refreshReq(reg.RefreshToken), "INVALID_REFRESH_TOKEN")
	a.wantCode(a.refreshReq(r1.RefreshToken), "INVALID_REFRESH_TOKEN")
	a.wantCode(a.meReq(r1.AccessToken), "UNAUTHENTICATED")

	// Logout on one ends the session on the other.
	in := b.login("ann@example.com", strongPassword)
	a.mustData(a.meReq(in.AccessToken), nil)
	a.mustData(a.gql(in.AccessToken, `mutation { logout }`, nil), nil)
	b.wantCode(b.meReq(in.AccessToken), "UNAUTHENTICATED")

	// Each queued mail is sent once although both servers run a worker.
	var addrs []string
	for i := range 6 {
		env := a
		if i%2 == 1 {
			env = b
		}
		addr := "user" + itoa(i) + "@example.com"
		addrs = append(addrs, addr)
		env.register(addr, strongPassword)
	}
	got := map[string]int{}
	for range 6 {
		m := sink.Next()
		got[m.To[0]]++
	}
	// Once no mail to them is pending, every mail the workers sent is in the sink: a mail
	// sent twice would be there now.
	sink.wantNoMoreMail(a, addrs...)
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received %d mails", to, n)
		}
	}
	if len(got) != 6 {
		t.Errorf("mails went to %d addresses, want 6: %v", len(got), got)
	}
	for _, addr := range addrs {
		// One claim each: a mail two workers took would count two attempts.
		if ms := a.outboxTo(addr); len(ms) != 1 || ms[0].State != store.MailSent || ms[0].Attempts != 1 {
			t.Errorf("outbox mails to %s: %+v, want one, sent at the first attempt", addr, ms)
		}
	}

	// Rate-limit counters are shared: two forgotPassword calls on one server use up the
	// client's allowance on the other.
	forgot := func(e *testEnv) gqlResponse {
		return e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc("nobody@example.com")})
	}
	a.mustData(forgot(a), nil)
	a.mustData(forgot(a), nil)
	b.wantCode(forgot(b), "RATE_LIMITED")
}

// TestMongoOutage stops the database under a running server: calls answer UNAVAILABLE
// quickly, /readyz fails, no token is issued, a presented refresh token is neither
// consumed nor taken for a replay; when the database returns, the same process serves
// again.
func TestMongoOutage(t *testing.T) {
	if os.Getenv(mongotest.URIEnv) != "" {
		t.Skip("stops and restarts its own FerretDB; not run against an external server")
	}
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
	// A short server-selection timeout makes the outage answer quickly. The database is
	// on this test's own server, whose files go with the test.
	cfg := testConfig(t)
	cfg.Store.URI = "mongodb://" + addr + "/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000"
	cfg.Store.Database = "outage"
	cfg.Credentials.Encrypt, cfg.Account.AnonJWT = false, false
	e := startEnv(t, cfg, newTestClock())
	reg := e.register("ann@example.com", strongPassword)

	f.Stop()
	f = nil
	// "Quickly": the four calls must be answered before a client deadline well under the
	// driver's default of 30 s per operation; a request the deadline cuts short fails the
	// test with the context's error.
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	during := e.withContext(ctx)
	during.wantCode(during.loginReq("ann@example.com", strongPassword), "UNAVAILABLE")
	during.wantCode(during.registerReq("bob@example.com", strongPassword, nil), "UNAVAILABLE")
	during.wantCode(during.refreshReq(reg.RefreshToken), "UNAVAILABLE")
	during.wantCode(during.meReq(reg.AccessToken), "UNAVAILABLE")
	if code, err := mongoReadyz(ctx, e); err != nil || code != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d, %v; want 503 before the deadline", code, err)
	}

	f, err = mongotest.StartFerret(dir, addr)
	if err != nil {
		t.Fatalf("restart FerretDB on %s: %v", addr, err)
	}
	// The driver reconnects by itself; wait (bounded) until the store answers.
	deadline := time.After(20 * time.Second)
	poll := time.NewTicker(100 * time.Millisecond)
	defer poll.Stop()
	for !mongoReady(e) {
		select {
		case <-deadline:
			t.Fatal("the store did not come back within 20 s")
		case <-poll.C:
		}
	}
	// The refresh token presented during the outage still rotates: it was neither consumed
	// nor taken for a replay.
	r := e.refresh(reg.RefreshToken)
	e.mustData(e.meReq(r.AccessToken), nil)
	e.login("ann@example.com", strongPassword)
	e.register("bob@example.com", strongPassword)
}

// mongoReady reports whether e's /readyz answers 200; a request that fails is "not yet".
func mongoReady(e *testEnv) bool {
	code, err := mongoReadyz(e.t.Context(), e)
	return err == nil && code == http.StatusOK
}

// mongoReadyz returns the status /readyz answers e's client with, the request bounded by
// ctx.
func mongoReadyz(ctx context.Context, e *testEnv) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/readyz", nil)
	if err != nil {
		return 0, err
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
