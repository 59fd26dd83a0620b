package e2e

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/internal/testkit/skipnote"
	"github.com/toktok/toktok/internal/testkit/testclock"
)

// The end-to-end harness: the real handler over real HTTP with the real SQLite store in a
// temp dir, a settable clock, and cheap argon2id parameters (set by configuration, as an
// operator could, never by skipping the hash).

// testStoreEnv=mongodb runs every end-to-end test on the MongoDB store (FerretDB in this
// process, or the server named by TOKTOK_TEST_MONGODB_URI) instead of SQLite.
const testStoreEnv = "TOKTOK_TEST_STORE"

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if os.Getenv(testStoreEnv) == "mongodb" {
			// Every test needs the server: a run that cannot have one fails at once.
			if err := mongoServer.start(); err != nil {
				fmt.Fprintln(os.Stderr, "mongodb test server:", err)
				return 1
			}
		}
		defer func() {
			if err := mongoServer.close(); err != nil {
				fmt.Fprintln(os.Stderr, "mongodb test server:", err)
			}
		}()
		// skipnote.Main: after the tests, one line tells what skipped for a missing tool.
		return skipnote.Main(m)
	}())
}

// testClock is the shared hand-moved clock.
type testClock = testclock.Clock

func newTestClock() *testClock { return testclock.New(time.Time{}) }

type testEnv struct {
	t     testing.TB
	cfg   config.Config
	app   *app.App
	srv   *httptest.Server
	clock *testClock
	pub   *rsa.PublicKey  // authConfig's encryption key, when --salt-alg=rsa-oaep-256
	jwk   []byte          // authConfig.encryptionJwk, when --salt (either scheme)
	ctx   context.Context // the requests' context; nil: the test's (withContext sets it)
}

// withContext returns a copy of e whose requests carry ctx, so that a deadline on ctx
// bounds them: a request still unanswered when ctx ends fails the test with ctx's error.
func (e *testEnv) withContext(ctx context.Context) *testEnv {
	c := *e
	c.ctx = ctx
	return &c
}

// in returns a copy of e that reports to t: a subtest runs on a goroutine of its own, and
// the failing helpers must fail the test whose goroutine calls them, never a parent.
func (e *testEnv) in(t testing.TB) *testEnv {
	c := *e
	c.t = t
	return &c
}

// reqContext is the context of e's requests.
func (e *testEnv) reqContext() context.Context {
	if e.ctx != nil {
		return e.ctx
	}
	return e.t.Context()
}

// testRSAKey is one --salt key pair for the whole test binary: generating an RSA key per
// test would dominate the suite's time.
var testRSAKey = sync.OnceValue(func() []byte {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		panic(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
})

// testConfig is the default configuration with a temp data dir and cheap hashing.
func testConfig(t testing.TB) config.Config {
	cfg := config.Default()
	cfg.Store.DataDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(cfg.Store.DataDir, "credentials-rsa.pem"), testRSAKey(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Password = config.Password{MemoryKiB: 64, Time: 1, Threads: 1, Wait: 10 * time.Second}
	cfg.HTTP.Introspection = true
	cfg.HTTP.Playground = true
	cfg.Token.Issuer = "http://toktok.test"
	// Every test client is 127.0.0.1: per-IP limits are off here and on in the tests of
	// the limiter. Per-account limits keep their defaults.
	cfg.Limits.IPLogin, cfg.Limits.IPRegister, cfg.Limits.IPAnonymousToken = config.Rate{}, config.Rate{}, config.Rate{}
	cfg.Limits.IPForgotPassword, cfg.Limits.IPEmailLinks, cfg.Limits.IPEmailChanges = config.Rate{}, config.Rate{}, config.Rate{}
	if os.Getenv(testStoreEnv) == "mongodb" {
		// A database of the test's own, dropped when it ends.
		cfg.Store.URI, cfg.Store.Database = testMongo(t).NewDatabase(t)
	}
	return cfg
}

// newTestEnv starts a server with testConfig changed by edit (may be nil).
func newTestEnv(t testing.TB, edit func(*config.Config)) *testEnv {
	t.Helper()
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return startEnv(t, cfg, newTestClock())
}

// startEnv starts a server on cfg with clock (two envs may share a data dir and clock).
func startEnv(t testing.TB, cfg config.Config, clock *testClock) *testEnv {
	t.Helper()
	return startEnvWith(t, cfg, clock, app.Options{})
}

// startEnvWith is startEnv with app options (the clock and logger are the harness's).
func startEnvWith(t testing.TB, cfg config.Config, clock *testClock, opts app.Options) *testEnv {
	t.Helper()
	var verbose slog.Handler
	if testing.Verbose() {
		verbose = slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	e, _ := launch(t, cfg, clock, opts, verbose)
	return e
}

// launch starts an app on cfg with opts behind a test HTTP server, on clock. Its log goes
// through the test's log scan, then to next (nil: nowhere). The returned stop closes both
// (early, for restart tests); it is also a cleanup of t and runs once. On MongoDB, every
// app of this test binary shares one write gate, as the stores of one process must on
// FerretDB v1 (on SQLite the app opens its own store).
func launch(t testing.TB, cfg config.Config, clock *testClock, opts app.Options, next slog.Handler) (*testEnv, func()) {
	t.Helper()
	scan := scanFor(t)
	opts.Now, opts.Log = clock.Now, slog.New(scan.Handler(next))
	if opts.Store == nil {
		opts.Store = mongoStoreFor(t, cfg)
	}
	a, err := app.New(t.Context(), cfg, opts)
	if err != nil {
		t.Fatalf("app.New: %v", err)
	}
	srv := httptest.NewServer(a.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			srv.Close()
			if err := a.Close(); err != nil {
				t.Errorf("close the app: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	scan.Watch(srv.Client())
	scan.KeysIn(cfg.Store.DataDir)
	e := &testEnv{t: t, cfg: cfg, app: a, srv: srv, clock: clock}
	if cfg.Credentials.Encrypt {
		e.pub, e.jwk = readPub(e)
	}
	return e, stop
}

// readPub reads authConfig's encryption key, as an SPA does before it encrypts: the JWK
// (either scheme), and the RSA key itself for --salt-alg=rsa-oaep-256 (nil for ecdh-es).
// The PEM and the JWK must be the same key.
func readPub(e *testEnv) (*rsa.PublicKey, []byte) {
	e.t.Helper()
	var resp struct {
		AuthConfig struct {
			EncryptionKey       string
			EncryptionJwk       json.RawMessage
			EncryptionAlgorithm string
		}
	}
	e.mustData(e.gql("", `{ authConfig { encryptionKey encryptionJwk encryptionAlgorithm } }`, nil), &resp)
	ac := resp.AuthConfig
	block, _ := pem.Decode([]byte(ac.EncryptionKey))
	if block == nil {
		e.t.Fatalf("authConfig.encryptionKey is not PEM: %q", ac.EncryptionKey)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		e.t.Fatalf("encryptionKey: %v", err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(ac.EncryptionJwk); err != nil || jwk.KeyID == "" || jwk.Use != "enc" {
		e.t.Fatalf("authConfig.encryptionJwk %s: %v (kid and use=enc required)", ac.EncryptionJwk, err)
	}
	if eq, ok := k.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(jwk.Key) {
		e.t.Fatalf("encryptionKey and encryptionJwk are not the same key")
	}
	switch pub := k.(type) {
	case *rsa.PublicKey:
		if ac.EncryptionAlgorithm != credentials.AlgorithmRSA || jwk.Algorithm != credentials.AlgorithmRSA {
			e.t.Fatalf("an RSA key with algorithm %q, JWK alg %q", ac.EncryptionAlgorithm, jwk.Algorithm)
		}
		return pub, ac.EncryptionJwk
	case *ecdsa.PublicKey:
		if ac.EncryptionAlgorithm != credentials.AlgorithmECDH || jwk.Algorithm != "ECDH-ES" {
			e.t.Fatalf("a P-256 key with algorithm %q, JWK alg %q", ac.EncryptionAlgorithm, jwk.Algorithm)
		}
		return nil, ac.EncryptionJwk
	}
	e.t.Fatalf("encryptionKey is a %T", k)
	return nil, nil
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// gqlError is one entry of a response's errors.
type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code returns extensions.code.
func (e gqlError) Code() string { s, _ := e.Extensions["code"].(string); return s }

// gqlResponse is a decoded GraphQL response with its HTTP status and headers.
type gqlResponse struct {
	Status int
	Header http.Header
	Raw    []byte
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// Code returns the first error's code, "" without errors.
func (r gqlResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	return r.Errors[0].Code()
}

// post sends a raw request to /graphql.
func (e *testEnv) post(bearer, contentType string, body []byte, hdr map[string]string) gqlResponse {
	e.t.Helper()
	req, err := e.graphqlRequest(bearer, contentType, body, hdr)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

// graphqlRequest builds a raw POST to /graphql with e's request context. It never fails
// the test, so goroutines may use it.
func (e *testEnv) graphqlRequest(bearer, contentType string, body []byte, hdr map[string]string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(e.reqContext(), http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req, nil
}

func (e *testEnv) send(req *http.Request) gqlResponse {
	e.t.Helper()
	r, err := e.trySend(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	return r
}

// trySend is send reporting errors instead of failing the test, so goroutines may use it.
func (e *testEnv) trySend(req *http.Request) (gqlResponse, error) {
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return gqlResponse{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return gqlResponse{}, err
	}
	r := gqlResponse{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/") {
		if err := json.Unmarshal(raw, &r); err != nil {
			return r, fmt.Errorf("response is not JSON (HTTP %d): %s", resp.StatusCode, raw)
		}
	}
	return r, nil
}

// gql sends one operation as an SPA does: POST, application/json.
func (e *testEnv) gql(bearer, query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.post(bearer, "application/json", body, nil)
}

// tryGQL is gql reporting errors instead of failing the test, so goroutines may use it.
func (e *testEnv) tryGQL(bearer, query string, vars map[string]any) (gqlResponse, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return gqlResponse{}, err
	}
	req, err := e.graphqlRequest(bearer, "application/json", body, nil)
	if err != nil {
		return gqlResponse{}, err
	}
	return e.trySend(req)
}

// mustData fails the test on errors and decodes data into v.
func (e *testEnv) mustData(r gqlResponse, v any) {
	e.t.Helper()
	if len(r.Errors) > 0 || r.Status != http.StatusOK {
		e.t.Fatalf("unexpected errors (HTTP %d): %s", r.Status, r.Raw)
	}
	if v != nil {
		if err := json.Unmarshal(r.Data, v); err != nil {
			e.t.Fatalf("decode %s: %v", r.Data, err)
		}
	}
}

// wantCode fails the test unless the response's first error has code.
func (e *testEnv) wantCode(r gqlResponse, code string) gqlError {
	e.t.Helper()
	if r.Code() != code {
		e.t.Fatalf("want error code %s, got HTTP %d: %s", code, r.Status, r.Raw)
	}
	return r.Errors[0]
}

// anon returns a fresh anonymous token.
func (e *testEnv) anon() string {
	e.t.Helper()
	var resp struct{ AnonymousToken struct{ Token string } }
	e.mustData(e.gql("", `mutation { anonymousToken { token tokenType expiresAt } }`, nil), &resp)
	return resp.AnonymousToken.Token
}

// enc encrypts a credential as an SPA does when --salt is on (the value unchanged when off).
func (e *testEnv) enc(v string) string {
	e.t.Helper()
	if e.jwk == nil {
		return v
	}
	s, err := credentials.EncryptForJWK(e.jwk, v)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// authPayload is AuthPayload with the user fields the tests read.
type authPayload struct {
	AccessToken      string
	TokenType        string
	ExpiresIn        int
	ExpiresAt        time.Time
	RefreshToken     string
	RefreshExpiresAt time.Time
	User             struct {
		ID             string
		Email          string
		EmailConfirmed bool
		Role           string
		Lang           string
		LoginCount     int
	}
}

const payloadFields = `accessToken tokenType expiresIn expiresAt refreshToken refreshExpiresAt user { id email emailConfirmed role lang loginCount }`

// registerReq sends register as an SPA does (anonymous token when required, encrypted
// credentials when --salt) with extra input fields.
func (e *testEnv) registerReq(email, password string, extra map[string]any) gqlResponse {
	e.t.Helper()
	return e.registerReqFields(email, password, extra, payloadFields)
}

// registerReqFields is registerReq asking for the payload's fields given.
func (e *testEnv) registerReqFields(email, password string, extra map[string]any, fields string) gqlResponse {
	e.t.Helper()
	input := map[string]any{"email": e.enc(email), "password": e.enc(password)}
	for k, v := range extra {
		input[k] = v
	}
	bearer := ""
	if e.cfg.Account.AnonJWT {
		bearer = e.anon()
	}
	return e.gql(bearer, `mutation($input: RegisterInput!) { register(input: $input) { `+fields+` } }`, map[string]any{"input": input})
}

// register registers and returns the payload, failing the test on any error.
func (e *testEnv) register(email, password string) authPayload {
	e.t.Helper()
	var resp struct{ Register authPayload }
	e.mustData(e.registerReq(email, password, nil), &resp)
	return resp.Register
}

// loginReq sends login as an SPA does.
func (e *testEnv) loginReq(email, password string) gqlResponse {
	e.t.Helper()
	bearer := ""
	if e.cfg.Account.AnonJWT {
		bearer = e.anon()
	}
	return e.gql(bearer, `mutation($input: LoginInput!) { login(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": map[string]any{"email": e.enc(email), "password": e.enc(password)}})
}

// tryLoginReq is loginReq reporting errors instead of failing the test, so goroutines may
// use it: the anonymous token and the encryption are done without the failing helpers.
func (e *testEnv) tryLoginReq(email, password string) (gqlResponse, error) {
	bearer := ""
	if e.cfg.Account.AnonJWT {
		r, err := e.tryGQL("", `mutation { anonymousToken { token } }`, nil)
		if err != nil {
			return r, err
		}
		var resp struct{ AnonymousToken struct{ Token string } }
		if len(r.Errors) > 0 || json.Unmarshal(r.Data, &resp) != nil || resp.AnonymousToken.Token == "" {
			return r, fmt.Errorf("anonymousToken (HTTP %d): %s", r.Status, r.Raw)
		}
		bearer = resp.AnonymousToken.Token
	}
	if e.jwk != nil {
		var err error
		if email, err = credentials.EncryptForJWK(e.jwk, email); err != nil {
			return gqlResponse{}, err
		}
		if password, err = credentials.EncryptForJWK(e.jwk, password); err != nil {
			return gqlResponse{}, err
		}
	}
	return e.tryGQL(bearer, `mutation($input: LoginInput!) { login(input: $input) { `+payloadFields+` } }`,
		map[string]any{"input": map[string]any{"email": email, "password": password}})
}

// login signs in and returns the payload, failing the test on any error.
func (e *testEnv) login(email, password string) authPayload {
	e.t.Helper()
	var resp struct{ Login authPayload }
	e.mustData(e.loginReq(email, password), &resp)
	return resp.Login
}

// refreshReq sends refreshToken.
func (e *testEnv) refreshReq(rt string) gqlResponse {
	e.t.Helper()
	return e.gql("", `mutation($rt: String!) { refreshToken(refreshToken: $rt) { `+payloadFields+` } }`, map[string]any{"rt": rt})
}

// refresh rotates rt, failing the test on any error.
func (e *testEnv) refresh(rt string) authPayload {
	e.t.Helper()
	var resp struct{ RefreshToken authPayload }
	e.mustData(e.refreshReq(rt), &resp)
	return resp.RefreshToken
}

// meReq asks for me with bearer.
func (e *testEnv) meReq(bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `{ me { id email role emailConfirmed loginCount lastLoginAt } }`, nil)
}

// strongPassword is a password the default policy accepts.
const strongPassword = "correct horse battery staple"
