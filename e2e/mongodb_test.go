package main

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store/mongodb/mongotest"
)

// The MongoDB store through the whole service: these tests always run on a MongoDB-wire
// server (FerretDB in this process, or TOKTOK_TEST_MONGODB_URI), whatever TOKTOK_TEST_STORE
// says for the rest of the suite.

// mongoConfig is testConfig on a fresh database of uri; a short server-selection timeout
// makes an outage answer quickly.
func mongoConfig(t *testing.T, uri string) config.Config {
	cfg := testConfig(t)
	cfg.Store.URI, cfg.Store.Database = uri, mongotest.NewDBName()
	db := cfg.Store.Database
	t.Cleanup(func() { _ = mongotest.DropDatabase(uri, db) })
	return cfg
}

// TestMongoTwoServers runs two TokTok servers on one database: tokens, refresh rotation,
// replay, logout, the outbox and rate-limit counters are shared.
func TestMongoTwoServers(t *testing.T) {
	uri, err := mongotest.SharedURI()
	if err != nil {
		t.Fatal(err)
	}
	sink := startMailSink(t)
	cfg := mongoConfig(t, uri)
	sink.Configure(&cfg)
	cfg.Limits.IPForgotPassword = config.Rate{N: 2, Window: time.Hour}
	clock := newTestClock()
	a, b := startEnv(t, cfg, clock), startEnv(t, cfg, clock)

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
	for i := range 6 {
		env := a
		if i%2 == 1 {
			env = b
		}
		env.register("user"+itoa(i)+"@example.com", strongPassword)
	}
	got := map[string]int{}
	for range 6 {
		m := sink.Next()
		got[m.To[0]]++
	}
	sink.None(300 * time.Millisecond)
	for to, n := range got {
		if n != 1 {
			t.Errorf("%s received %d mails", to, n)
		}
	}
	if len(got) != 6 {
		t.Errorf("mails went to %d addresses, want 6: %v", len(got), got)
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
	cfg := mongoConfig(t, "mongodb://"+addr+"/?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000")
	cfg.Credentials.Encrypt, cfg.Account.AnonJWT = false, false
	e := startEnv(t, cfg, newTestClock())
	reg := e.register("ann@example.com", strongPassword)

	f.Stop()
	f = nil
	start := time.Now()
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "UNAVAILABLE")
	e.wantCode(e.registerReq("bob@example.com", strongPassword, nil), "UNAVAILABLE")
	e.wantCode(e.refreshReq(reg.RefreshToken), "UNAVAILABLE")
	e.wantCode(e.meReq(reg.AccessToken), "UNAVAILABLE")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("four calls during the outage took %v", d)
	}
	resp, err := e.srv.Client().Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the outage: %d", resp.StatusCode)
	}

	f, err = mongotest.StartFerret(dir, addr)
	if err != nil {
		t.Fatalf("restart FerretDB on %s: %v", addr, err)
	}
	// The driver reconnects by itself; wait (bounded) until the store answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := e.srv.Client().Get(e.srv.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the store did not come back within 20 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The refresh token presented during the outage still rotates: it was neither consumed
	// nor taken for a replay.
	r := e.refresh(reg.RefreshToken)
	e.mustData(e.meReq(r.AccessToken), nil)
	e.login("ann@example.com", strongPassword)
	e.register("bob@example.com", strongPassword)
}
