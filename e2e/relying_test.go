package e2e

// What another service (a "relying service") must check on a TokTok access token, proven
// on the real thing: the Go verifier below and docs/examples/verify-token.mjs (Node, built-in
// modules only) are run against a running TokTok for every algorithm of token.Algs(). A
// real access token verifies; an anonymous token, an expired one, one with an altered
// payload, one signed by another key, alg none, an HS256 token naming the published key,
// and tokens checked for another issuer or audience are refused, each for its own reason.
//
// docs/security.md ("Verifying access tokens in other services") shows the verifier code of
// this file verbatim, from "AccessVerifier checks" to the end of jwk.publicKey, and parts of
// verify-token.mjs; TestRelyingDocsShowTheVerifiers keeps the page and the code in step.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/skipnote"
	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/token"
)

// AccessVerifier checks TokTok access tokens in another service, with nothing but the
// public keys TokTok publishes at /.well-known/jwks.json. It is safe for concurrent use.
type AccessVerifier struct {
	JWKSURL  string           // e.g. https://auth.example.com/.well-known/jwks.json
	Issuer   string           // TokTok's --jwt-issuer
	Audience string           // TokTok's --jwt-audience
	Client   *http.Client     // nil: http.DefaultClient (give it a Timeout)
	Now      func() time.Time // nil: time.Now

	mu      sync.Mutex
	keys    map[string]publicKey // by kid
	fetched time.Time            // last successful JWKS fetch
	tried   time.Time            // last JWKS fetch attempt
}

// AccessClaims are the claims of a TokTok access token.
type AccessClaims struct {
	jwt.RegisteredClaims          // iss, sub (the user id), aud, exp, iat, jti
	SessionID            string   `json:"sid"`
	Role                 string   `json:"role"` // USER, STAFF or ADMIN
	EmailVerified        bool     `json:"email_verified"`
	AAL                  string   `json:"aal"` // "aal1" (a password) or "aal2" (a second factor, or a passkey)
	AMR                  []string `json:"amr"` // how: "pwd", "otp", "recovery", "webauthn"
}

// ErrNeedsAAL2 is RequireAAL2's refusal: the session has not verified a second factor.
var ErrNeedsAAL2 = errors.New("this operation needs a second factor (aal2)")

// RequireAAL2 refuses, on a sensitive route, the claims of a session that has not proven
// a second factor: a password alone is "aal1"; a TOTP or recovery code verified on the
// session, or a passkey sign-in, is "aal2". A token without aal (issued before TokTok had
// second factors) is aal1.
func RequireAAL2(c *AccessClaims) error {
	if c.AAL != "aal2" {
		return fmt.Errorf("%w: the token says aal %q", ErrNeedsAAL2, c.AAL)
	}
	return nil
}

const (
	jwksMaxAge     = 5 * time.Minute // TokTok serves the JWKS with max-age=300
	jwksMinRefetch = time.Minute     // an unknown kid fetches the JWKS again at most this often
)

// Verify returns the claims of a valid access token, or why it is not one.
func (v *AccessVerifier) Verify(ctx context.Context, tok string) (*AccessClaims, error) {
	var c AccessClaims
	_, err := jwt.ParseWithClaims(tok, &c, func(t *jwt.Token) (any, error) {
		typ, _ := t.Header["typ"].(string)
		if strings.TrimPrefix(strings.ToLower(typ), "application/") != "at+jwt" {
			return nil, fmt.Errorf("typ %q is not at+jwt", typ) // an anonymous token, or no TokTok token
		}
		if _, ok := t.Header["crit"]; ok {
			return nil, errors.New("crit headers are not supported")
		}
		kid, _ := t.Header["kid"].(string)
		k, err := v.key(ctx, kid)
		if err != nil {
			return nil, err
		}
		if t.Method.Alg() != k.alg {
			return nil, fmt.Errorf("alg %s is not the alg of key %q", t.Method.Alg(), kid)
		}
		return k.key, nil
	},
		jwt.WithValidMethods([]string{"ES256", "EdDSA", "PS256", "RS256"}), // never none or HS*
		jwt.WithIssuer(v.Issuer),
		jwt.WithAudience(v.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second), // TokTok's --jwt-leeway
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (v *AccessVerifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

type publicKey struct {
	alg string // the only algorithm this key verifies
	key any
}

// key returns the key that kid names. The JWKS is cached; a kid not in the cache (TokTok
// rotated its key) or a cache older than jwksMaxAge fetches it again, at most once per
// jwksMinRefetch, so that tokens with made-up kids cannot make us hammer TokTok.
func (v *AccessVerifier) key(ctx context.Context, kid string) (publicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	k, ok := v.keys[kid]
	if (!ok || now.Sub(v.fetched) > jwksMaxAge) && now.Sub(v.tried) >= jwksMinRefetch {
		v.tried = now
		keys, err := fetchJWKS(ctx, v.Client, v.JWKSURL)
		if err == nil {
			v.keys, v.fetched = keys, now
			k, ok = keys[kid]
		} else if !ok {
			return publicKey{}, fmt.Errorf("jwks: %w", err)
		}
	}
	if !ok {
		return publicKey{}, fmt.Errorf("unknown kid %q", kid)
	}
	return k, nil
}

// fetchJWKS reads a JWK Set and keeps the keys it can verify with, by kid. Keys of other
// types or algorithms are skipped (an HS256 TokTok publishes none: its key is a secret).
func fetchJWKS(ctx context.Context, client *http.Client, url string) (map[string]publicKey, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, err
	}
	keys := make(map[string]publicKey, len(set.Keys))
	for _, j := range set.Keys {
		if k, err := j.publicKey(); err == nil && j.Kid != "" && (j.Use == "" || j.Use == "sig") {
			keys[j.Kid] = publicKey{alg: j.Alg, key: k}
		}
	}
	return keys, nil
}

// jwk is one JSON Web Key (RFC 7517) of the kinds TokTok publishes.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// publicKey builds the Go key that jwt expects for the JWK's algorithm.
func (j jwk) publicKey() (any, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch {
	case j.Kty == "EC" && j.Crv == "P-256" && j.Alg == "ES256":
		x, errX := b64(j.X)
		y, errY := b64(j.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, fmt.Errorf("bad EC key %q", j.Kid)
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	case j.Kty == "OKP" && j.Crv == "Ed25519" && j.Alg == "EdDSA":
		x, err := b64(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bad Ed25519 key %q", j.Kid)
		}
		return ed25519.PublicKey(x), nil
	case j.Kty == "RSA" && (j.Alg == "RS256" || j.Alg == "PS256"):
		n, errN := b64(j.N)
		e, errE := b64(j.E)
		if errN != nil || errE != nil || len(n) < 256 || len(e) == 0 || len(e) > 4 {
			return nil, fmt.Errorf("bad RSA key %q (TokTok's are >= 2048 bits)", j.Kid)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("key %q: %s %s is not supported", j.Kid, j.Kty, j.Alg)
}

// ExampleAccessVerifier guards an endpoint of another service with TokTok's access tokens.
// (Compiled with the tests, not run: it needs a TokTok at auth.example.com.)
func ExampleAccessVerifier() {
	verifier := &AccessVerifier{
		JWKSURL:  "https://auth.example.com/.well-known/jwks.json",
		Issuer:   "https://auth.example.com", // TokTok's --jwt-issuer
		Audience: "toktok",                   // TokTok's --jwt-audience
		Client:   &http.Client{Timeout: 5 * time.Second},
	}
	http.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims, err := verifier.Verify(r.Context(), tok)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid access token", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "the orders of user %s\n", claims.Subject)
	})
	// A sensitive route also wants a second factor: an aal1 token is refused with the
	// step-up challenge of RFC 9470, and the SPA has the user verify (verifyMfa) and
	// retries with the new access token.
	http.HandleFunc("POST /payouts", func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		claims, err := verifier.Verify(r.Context(), tok)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid access token", http.StatusUnauthorized)
			return
		}
		if err := RequireAAL2(claims); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_user_authentication"`)
			http.Error(w, "verify a second factor first", http.StatusUnauthorized)
			return
		}
		// amr says how the session got there; "recovery" means a recovery code was spent
		// (the user may have lost their authenticator): a good moment to log it.
		fmt.Fprintf(w, "payout by user %s (signed in with %s)\n", claims.Subject, strings.Join(claims.AMR, "+"))
	})
}

// ---------------------------------------------------------------------------------------
// the tests

// relyingScript is the Node example, from the e2e directory the tests run in.
var relyingScript = filepath.Join("..", "docs", "examples", "verify-token.mjs")

// relyingNode returns the node binary; without one of Node 20 or later, it skips the
// test (through skipnote, which says so after the package's tests), or fails it under
// CI: CI has one, and the example must not go untested there.
func relyingNode(t *testing.T) string {
	t.Helper()
	const enable = "Node.js >= 20; Debian 13: sudo apt-get install nodejs"
	node, err := exec.LookPath("node")
	if err != nil {
		skipnote.Skip(t, "no node in PATH", enable)
	}
	out, err := exec.CommandContext(t.Context(), node, "-p", "process.versions.node").Output()
	if err != nil {
		skipnote.Skip(t, fmt.Sprintf("%s -p process.versions.node: %v", node, err), enable)
	}
	major, _, _ := strings.Cut(strings.TrimSpace(string(out)), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		skipnote.Skip(t, fmt.Sprintf("%s is Node %s, older than 20", node, strings.TrimSpace(string(out))), enable)
	}
	return node
}

// relyingNodeResult is what one run of the Node example printed.
type relyingNodeResult struct {
	exit   int
	claims map[string]any // stdout, on success
	stderr string
}

// relyingRunNode runs the Node example's command line on one token; extra are the
// optional arguments after the audience ("aal2").
func relyingRunNode(t *testing.T, node, jwksURL, tok, issuer, audience string, extra ...string) relyingNodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	args := append([]string{relyingScript, jwksURL, tok, issuer, audience}, extra...)
	cmd := exec.CommandContext(ctx, node, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := relyingNodeResult{stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.exit = exit.ExitCode()
	case err != nil:
		t.Fatalf("node %s: %v", relyingScript, err)
	default:
		if err := json.Unmarshal(stdout.Bytes(), &r.claims); err != nil {
			t.Fatalf("node %s printed %q, not JSON claims: %v", relyingScript, stdout.String(), err)
		}
	}
	return r
}

// relyingForeignKey is a signing key of alg that TokTok never saw.
func relyingForeignKey(t *testing.T, alg token.Alg) any {
	t.Helper()
	switch alg {
	case token.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case token.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	case token.PS256, token.RS256:
		return authOtherRSA()
	}
	return []byte(rand.Text() + rand.Text())
}

// relyingAlter changes the role in tok's payload and keeps its header and signature.
func relyingAlter(t *testing.T, tok string) string {
	t.Helper()
	_, claims := authJWT(t, tok)
	claims["role"] = "ADMIN"
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// relyingJWKS returns the JWKS document as served.
func relyingJWKS(t *testing.T, e *testEnv) []byte {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: HTTP %d, %v", resp.StatusCode, err)
	}
	return b
}

// relyingCase is one token shown to both verifiers, and how each must answer: goErr
// accepts the Go verifier's error (nil: the token must verify), nodeErr is a fragment of
// the Node example's reason.
type relyingCase struct {
	name             string
	tok              string
	issuer, audience string // "": the service's
	goErr            func(error) bool
	nodeErr          string
}

func relyingErrIs(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func relyingErrHas(fragment string) func(error) bool {
	return func(err error) bool { return err != nil && strings.Contains(err.Error(), fragment) }
}

// relyingCases mints, on e (whose clock reads real time), the tokens both verifiers see.
func relyingCases(t *testing.T, e *testEnv, alg token.Alg) (access string, cases []relyingCase) {
	t.Helper()
	now := e.clock.Now()
	access = e.register("ann@example.com", strongPassword).AccessToken
	// Issued an hour ago: expired 45 minutes ago, far beyond the 30 s leeway.
	e.clock.Set(now.Add(-time.Hour))
	expired := e.login("ann@example.com", strongPassword).AccessToken
	e.clock.Set(now)

	header, claims := authJWT(t, access)
	forged := func(method jwt.SigningMethod, key any) string {
		return authSign(t, method, key, map[string]any{"kid": header["kid"], "typ": "at+jwt"}, claims)
	}
	cases = []relyingCase{
		{name: "anonymous token", tok: e.anon(), goErr: relyingErrHas(`typ "anon+jwt" is not at+jwt`), nodeErr: `typ "anon+jwt" is not at+jwt`},
		{name: "expired", tok: expired, goErr: relyingErrIs(jwt.ErrTokenExpired), nodeErr: "expired"},
		{name: "altered payload", tok: relyingAlter(t, access), goErr: relyingErrIs(jwt.ErrTokenSignatureInvalid), nodeErr: "bad signature"},
		{name: "alg none", tok: forged(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
			goErr: relyingErrHas("signing method none is invalid"), nodeErr: `alg "none" is not accepted`},
		{name: "HS256 keyed with the published JWKS", tok: forged(jwt.SigningMethodHS256, relyingJWKS(t, e)),
			goErr: relyingErrHas("signing method HS256 is invalid"), nodeErr: `alg "HS256" is not accepted`},
	}
	if alg == token.HS256 {
		// Every token of an HS256 TokTok, the real access token included, is refused before
		// any key is looked for: its key is a secret (the JWKS is empty), so no relying
		// service can check it, and accepting HS256 would let a public key forge tokens.
		cases = append(cases, relyingCase{name: "real access token", tok: access})
		for i := range cases {
			if cases[i].name != "alg none" {
				cases[i].goErr, cases[i].nodeErr = relyingErrHas("signing method HS256 is invalid"), `alg "HS256" is not accepted`
			}
		}
		return access, cases
	}
	method := jwt.GetSigningMethod(string(alg))
	return access, append(cases,
		relyingCase{name: "real access token", tok: access},
		relyingCase{name: "signed by another key, same kid", tok: forged(method, relyingForeignKey(t, alg)),
			goErr: relyingErrIs(jwt.ErrTokenSignatureInvalid), nodeErr: "bad signature"},
		relyingCase{name: "another service's audience", tok: access, audience: "billing",
			goErr: relyingErrIs(jwt.ErrTokenInvalidAudience), nodeErr: `does not include "billing"`},
		relyingCase{name: "another issuer", tok: access, issuer: "https://other-issuer.example",
			goErr: relyingErrIs(jwt.ErrTokenInvalidIssuer), nodeErr: "iss "},
	)
}

// TestRelyingVerifyAccessTokens: for every algorithm TokTok signs with, both verifiers
// accept its access tokens with the claims it put in, and refuse every other token, each
// for its own reason (so a refusal for a wrong reason, such as an unreadable JWKS, fails).
// The Node example runs on every algorithm too: each needs its own verify options.
func TestRelyingVerifyAccessTokens(t *testing.T) {
	node := relyingNode(t)
	for _, alg := range token.Algs() {
		t.Run(string(alg), func(t *testing.T) {
			e := newTestEnv(t, func(c *config.Config) {
				c.Token.Alg, c.Token.Issuer, c.Token.Audience = string(alg), "https://auth.relying.test", "relying-suite"
			})
			// The verifiers read the wall clock, as real services do.
			e.clock.Set(time.Now().UTC())
			jwksURL := e.srv.URL + "/.well-known/jwks.json"
			access, cases := relyingCases(t, e, alg)
			_, want := authJWT(t, access)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					iss, aud := cmp.Or(tc.issuer, e.cfg.Token.Issuer), cmp.Or(tc.audience, e.cfg.Token.Audience)
					v := &AccessVerifier{JWKSURL: jwksURL, Issuer: iss, Audience: aud, Client: e.srv.Client()}
					got, err := v.Verify(t.Context(), tc.tok)
					switch {
					case tc.goErr == nil && err != nil:
						t.Errorf("Go verifier refused a valid token: %v", err)
					case tc.goErr == nil:
						if got.Subject != want["sub"] || got.SessionID != want["sid"] || got.Role != "USER" || got.EmailVerified ||
							got.ID != want["jti"] || got.Issuer != iss {
							t.Errorf("Go verifier claims %+v, want those of %v", got, want)
						}
					case !tc.goErr(err):
						t.Errorf("Go verifier: err = %v, want a refusal for this case's reason", err)
					}

					r := relyingRunNode(t, node, jwksURL, tc.tok, iss, aud)
					switch {
					case tc.nodeErr == "" && r.exit != 0:
						t.Errorf("Node example refused a valid token (exit %d): %s", r.exit, r.stderr)
					case tc.nodeErr == "":
						if r.claims["sub"] != want["sub"] || r.claims["sid"] != want["sid"] || r.claims["role"] != "USER" {
							t.Errorf("Node example claims %v, want %v", r.claims, want)
						}
					case r.exit != 1 || !strings.Contains(r.stderr, tc.nodeErr):
						t.Errorf("Node example: exit %d, stderr %q; want exit 1 and %q", r.exit, r.stderr, tc.nodeErr)
					}
				})
			}
		})
	}
}

// relyingSession is the part of AuthPayload the assurance-level test reads.
type relyingSession struct {
	AccessToken  string
	RefreshToken string
	Aal          string
	MfaRequired  bool
}

const relyingSessionFields = `accessToken refreshToken aal mfaRequired`

// relyingEnrollTOTP enrols a TOTP factor for the signed-in bearer through GraphQL, as an
// SPA does (enrollTotp, then confirmTotp with a code of the app, which mfa.TOTPCode plays
// at the test clock's time), and returns the secret and the session's tokens, now aal2.
func relyingEnrollTOTP(t *testing.T, e *testEnv, bearer string) (secret string, s relyingSession) {
	t.Helper()
	var begun struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(bearer, `mutation { enrollTotp(name: "Phone") { factorId secret otpauthUri qrCodeSvg } }`, nil), &begun)
	code, err := mfa.TOTPCode(begun.EnrollTotp.Secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var done struct {
		ConfirmTotp struct {
			RecoveryCodes []string
			Auth          relyingSession
		}
	}
	e.mustData(e.gql(bearer, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) {
		factor { id } recoveryCodes auth { `+relyingSessionFields+` } } }`,
		map[string]any{"id": begun.EnrollTotp.FactorID, "code": code}), &done)
	if len(done.ConfirmTotp.RecoveryCodes) != mfa.RecoveryCodeCount {
		t.Fatalf("the first factor came with %d recovery codes", len(done.ConfirmTotp.RecoveryCodes))
	}
	return begun.EnrollTotp.Secret, done.ConfirmTotp.Auth
}

// relyingLogin signs in with a password as an SPA does and returns the session's tokens
// and level.
func relyingLogin(e *testEnv, email, password string) relyingSession {
	e.t.Helper()
	bearer := ""
	if e.cfg.Account.AnonJWT {
		bearer = e.anon()
	}
	var resp struct{ Login relyingSession }
	e.mustData(e.gql(bearer, `mutation($input: LoginInput!) { login(input: $input) { `+relyingSessionFields+` } }`,
		map[string]any{"input": map[string]any{"email": e.enc(email), "password": e.enc(password)}}), &resp)
	return resp.Login
}

// TestRelyingAssuranceLevel: a relying service reads the session's assurance level from
// the access token alone, through the JWKS, with both verifiers. A password session is
// aal1 (amr ["pwd"]), and stays aal1 after a login while the user has a TOTP factor
// (mfaRequired); verifying a TOTP code raises that session to aal2 with amr ["pwd",
// "otp"], and a refresh keeps it there. The examples' aal2 rule (RequireAAL2, the Node
// script's "aal2" argument) accepts the aal2 tokens and refuses every aal1 one.
func TestRelyingAssuranceLevel(t *testing.T) {
	e := newTestEnv(t, nil)
	// The verifiers read the wall clock: the tokens are minted a minute before it, and one
	// TOTP period after, so that the second code is of a new time step.
	e.clock.Set(time.Now().UTC().Add(-time.Minute))
	const email = "ann@example.com"
	registered := e.register(email, strongPassword).AccessToken
	secret, enrolled := relyingEnrollTOTP(t, e, registered)
	if enrolled.Aal != "aal2" || enrolled.MfaRequired {
		t.Fatalf("confirmTotp's session: aal %q, mfaRequired %v; want aal2, false", enrolled.Aal, enrolled.MfaRequired)
	}

	e.clock.Advance(mfa.Period)
	signedIn := relyingLogin(e, email, strongPassword)
	if signedIn.Aal != "aal1" || !signedIn.MfaRequired {
		t.Fatalf("a password login with a factor: aal %q, mfaRequired %v; want aal1, true", signedIn.Aal, signedIn.MfaRequired)
	}
	code, err := mfa.TOTPCode(secret, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var verified struct{ VerifyMfa relyingSession }
	e.mustData(e.gql(signedIn.AccessToken, `mutation($code: String!) { verifyMfa(input: {totpCode: $code}) { `+
		relyingSessionFields+` } }`, map[string]any{"code": code}), &verified)
	refreshed := e.refresh(verified.VerifyMfa.RefreshToken).AccessToken

	jwksURL := e.srv.URL + "/.well-known/jwks.json"
	iss, aud := e.cfg.Token.Issuer, e.cfg.Token.Audience
	cases := []struct {
		name, tok string
		aal       string
		amr       []string
	}{
		{"register (password, no factor)", registered, "aal1", []string{"pwd"}},
		{"login while the user has a factor", signedIn.AccessToken, "aal1", []string{"pwd"}},
		{"confirmTotp", enrolled.AccessToken, "aal2", []string{"pwd", "otp"}},
		{"verifyMfa with a TOTP code", verified.VerifyMfa.AccessToken, "aal2", []string{"pwd", "otp"}},
		{"refresh of the verified session", refreshed, "aal2", []string{"pwd", "otp"}},
	}
	v := &AccessVerifier{JWKSURL: jwksURL, Issuer: iss, Audience: aud, Client: e.srv.Client()}
	for _, tc := range cases {
		c, err := v.Verify(t.Context(), tc.tok)
		if err != nil {
			t.Errorf("%s: the Go verifier refused the token: %v", tc.name, err)
			continue
		}
		if c.AAL != tc.aal || !slices.Equal(c.AMR, tc.amr) {
			t.Errorf("%s: aal %q amr %q, want %q %q", tc.name, c.AAL, c.AMR, tc.aal, tc.amr)
		}
		if err := RequireAAL2(c); (err == nil) != (tc.aal == "aal2") || (err != nil && !errors.Is(err, ErrNeedsAAL2)) {
			t.Errorf("%s: RequireAAL2 = %v for aal %q", tc.name, err, c.AAL)
		}
	}

	t.Run("node", func(t *testing.T) {
		node := relyingNode(t)
		for _, tc := range cases {
			plain := relyingRunNode(t, node, jwksURL, tc.tok, iss, aud)
			if plain.exit != 0 || plain.claims["aal"] != tc.aal || fmt.Sprint(plain.claims["amr"]) != fmt.Sprint(tc.amr) {
				t.Errorf("%s: Node example exit %d, claims %v (stderr %q); want aal %q amr %q",
					tc.name, plain.exit, plain.claims, plain.stderr, tc.aal, tc.amr)
			}
			strict := relyingRunNode(t, node, jwksURL, tc.tok, iss, aud, "aal2")
			switch {
			case tc.aal == "aal2" && (strict.exit != 0 || strict.claims["aal"] != "aal2"):
				t.Errorf("%s: Node example with aal2 refused an aal2 token (exit %d): %s", tc.name, strict.exit, strict.stderr)
			case tc.aal != "aal2" && (strict.exit != 1 || !strings.Contains(strict.stderr, `"aal2" needed`)):
				t.Errorf("%s: Node example with aal2: exit %d, stderr %q; want exit 1 and a refusal for aal", tc.name, strict.exit, strict.stderr)
			}
		}
	})
}

// TestRelyingGoVerifierLeewayAndRotation: the Go verifier tolerates 30 s of clock skew on
// exp and no more; it picks up a rotated key (a kid it has not seen) by fetching the JWKS
// again, at most once a minute, while the retired key, still published through
// --jwt-verify-key-files, keeps verifying the tokens it signed.
func TestRelyingGoVerifierLeewayAndRotation(t *testing.T) {
	before := newTestEnv(t, nil)
	before.clock.Set(time.Now().UTC())
	retired := filepath.Join(before.cfg.Store.DataDir, "jwt-es256.pem")
	after := newTestEnv(t, func(c *config.Config) {
		c.Token.Alg = "EdDSA"
		c.Token.VerifyKeyFiles = []string{"ES256:" + retired}
	})
	after.clock.Set(before.clock.Now())
	oldTok := before.register("ann@example.com", strongPassword).AccessToken
	newTok := after.register("ann@example.com", strongPassword).AccessToken
	if h, _ := authJWT(t, newTok); h["alg"] != "EdDSA" {
		t.Fatalf("the rotated service signs with %v", h["alg"])
	}

	// One JWKS URL for the relying service, pointing at the service before, then after,
	// the rotation.
	var current atomic.Pointer[string]
	current.Store(&before.srv.URL)
	jwksSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, *current.Load()+"/.well-known/jwks.json", http.StatusFound)
	}))
	t.Cleanup(jwksSrv.Close)
	clock := testclock.New(before.clock.Now())
	v := &AccessVerifier{JWKSURL: jwksSrv.URL, Issuer: before.cfg.Token.Issuer, Audience: before.cfg.Token.Audience,
		Client: &http.Client{Timeout: 10 * time.Second}, Now: clock.Now}

	t.Run("leeway", func(t *testing.T) {
		_, c := authJWT(t, oldTok)
		exp := time.Unix(int64(c["exp"].(float64)), 0)
		for _, tc := range []struct {
			after time.Duration
			ok    bool
		}{{29 * time.Second, true}, {31 * time.Second, false}} {
			lv := &AccessVerifier{JWKSURL: v.JWKSURL, Issuer: v.Issuer, Audience: v.Audience, Client: v.Client,
				Now: func() time.Time { return exp.Add(tc.after) }}
			if _, err := lv.Verify(t.Context(), oldTok); (err == nil) != tc.ok || (err != nil && !errors.Is(err, jwt.ErrTokenExpired)) {
				t.Errorf("%v after exp: err = %v, want accepted %v", tc.after, err, tc.ok)
			}
		}
	})

	t.Run("rotation", func(t *testing.T) {
		if _, err := v.Verify(t.Context(), oldTok); err != nil {
			t.Fatalf("before the rotation: %v", err)
		}
		current.Store(&after.srv.URL)
		// Within a minute of the last fetch, an unknown kid does not fetch again.
		clock.Advance(jwksMinRefetch - time.Second)
		if _, err := v.Verify(t.Context(), newTok); err == nil || !strings.Contains(err.Error(), "unknown kid") {
			t.Fatalf("a new kid within a minute of the last fetch: err = %v, want unknown kid", err)
		}
		clock.Advance(time.Second)
		for name, tok := range map[string]string{"new key": newTok, "retired key": oldTok} {
			if _, err := v.Verify(t.Context(), tok); err != nil {
				t.Errorf("after the rotation, a token of the %s: %v", name, err)
			}
		}
	})
}

// TestRelyingDocsShowTheVerifiers: the section of docs/security.md that tells relying
// services what to check shows this file's verifier and the Node example's code verbatim
// (every go block is in this file, every js block in verify-token.mjs), and names the
// values and settings the checks rest on.
func TestRelyingDocsShowTheVerifiers(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	doc := read(filepath.Join("..", "docs", "security.md"))
	_, section, ok := strings.Cut(doc, "\n## Verifying access tokens in other services\n")
	if !ok {
		t.Fatal(`docs/security.md has no "## Verifying access tokens in other services" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	sources := map[string]string{"go": read("relying_test.go"), "js": read(relyingScript)}
	shown := map[string]int{}
	for _, m := range regexp.MustCompile("(?s)\n```(go|js)\n(.*?)\n```\n").FindAllStringSubmatch(section, -1) {
		if !strings.Contains(sources[m[1]], m[2]) {
			t.Errorf("a %s block of the section is not verbatim in its source:\n%s", m[1], m[2])
		}
		shown[m[1]] += len(m[2])
	}
	for _, want := range []string{
		"func (v *AccessVerifier) Verify(", "func (v *AccessVerifier) key(", "func fetchJWKS(", "func (j jwk) publicKey(",
	} {
		if !strings.Contains(section, want) {
			t.Errorf("the section does not show %s", want)
		}
	}
	if !strings.Contains(section, "export function createVerifier(") || !strings.Contains(section, "function signatureValid(") {
		t.Error("the section does not show the Node example's verify code")
	}
	for _, want := range []string{"/.well-known/jwks.json", "`at+jwt`", "`anon+jwt`", "--jwt-issuer", "--jwt-audience",
		"--jwt-alg", "--jwt-leeway", "--jwt-verify-key-files", "`kid`", "`none`", "HS256", "`jose`",
		"e2e/relying_test.go", "docs/examples/verify-token.mjs", ":anonymous"} {
		if !strings.Contains(section, want) {
			t.Errorf("the section does not mention %s", want)
		}
	}
}

// TestRelyingMFADocShowsTheAALCheck: the section of docs/mfa.md that tells relying
// services to check aal shows this file's RequireAAL2 and sensitive route, and the Node
// example's requireAal2, verbatim.
func TestRelyingMFADocShowsTheAALCheck(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	_, section, ok := strings.Cut(read(filepath.Join("..", "docs", "mfa.md")), "\n## What relying services should check\n")
	if !ok {
		t.Fatal(`docs/mfa.md has no "## What relying services should check" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	goSource, jsSource := read("relying_test.go"), read(relyingScript)
	blocks := regexp.MustCompile("(?s)\n```(go|js)\n(.*?)\n```\n").FindAllStringSubmatch(section, -1)
	shown := map[string]bool{}
	for _, m := range blocks {
		switch {
		case m[1] == "go" && !strings.Contains(goSource, m[2]):
			t.Errorf("a go block of the section is not verbatim in relying_test.go:\n%s", m[2])
		case m[1] == "js" && strings.HasPrefix(m[2], "export function") && !strings.Contains(jsSource, m[2]):
			t.Errorf("a js block of the section is not verbatim in %s:\n%s", relyingScript, m[2])
		}
		for _, want := range []string{"func RequireAAL2(", `"POST /payouts"`, "export function requireAal2("} {
			if strings.Contains(m[2], want) {
				shown[want] = true
			}
		}
	}
	for _, want := range []string{"func RequireAAL2(", `"POST /payouts"`, "export function requireAal2("} {
		if !shown[want] {
			t.Errorf("the section does not show %s", want)
		}
	}
	for _, want := range []string{"`aal`", "`amr`", "aal2", "insufficient_user_authentication", "e2e.TestRelyingAssuranceLevel"} {
		if !strings.Contains(section, want) {
			t.Errorf("the section does not mention %s", want)
		}
	}
}
