package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/toktok/toktok/token"
)

var allAlgs = []token.Alg{token.ES256, token.EdDSA, token.PS256, token.RS256, token.HS256}
var asymAlgs = []token.Alg{token.ES256, token.EdDSA, token.PS256, token.RS256}

// t0 has no sub-second part, so second-granularity claims equal it exactly.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func testConfig() token.Config {
	return token.Config{Issuer: "https://auth.toktok.test", Audience: "toktok-api"}
}

// rawKeys caches generated keys so that (alg, i) names the same key in every
// test: RSA generation is too slow to repeat per subtest, and tests that
// need "another key" ask for a different i. PS256 and RS256 share RSA keys.
var rawKeys = struct {
	sync.Mutex
	m map[string]any
}{m: map[string]any{}}

// rawKey returns the i-th test private key for alg: *ecdsa.PrivateKey,
// ed25519.PrivateKey, *rsa.PrivateKey or a []byte HS256 secret.
func rawKey(t testing.TB, alg token.Alg, i int) any {
	t.Helper()
	family := string(alg)
	if alg == token.PS256 || alg == token.RS256 {
		family = "RSA"
	}
	id := fmt.Sprintf("%s/%d", family, i)
	rawKeys.Lock()
	defer rawKeys.Unlock()
	if k, ok := rawKeys.m[id]; ok {
		return k
	}
	var k any
	var err error
	switch family {
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "RSA":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case "HS256":
		secret := make([]byte, 32)
		rand.Read(secret)
		k = secret
	}
	if err != nil {
		t.Fatal(err)
	}
	rawKeys.m[id] = k
	return k
}

func publicOf(priv any) any {
	if s, ok := priv.(crypto.Signer); ok {
		return s.Public()
	}
	return priv
}

func mustKey(t testing.TB, alg token.Alg, raw any) *token.Key {
	t.Helper()
	k, err := token.NewKey(alg, raw)
	if err != nil {
		t.Fatalf("NewKey(%s, %T): %v", alg, raw, err)
	}
	return k
}

func mustService(t testing.TB, cfg token.Config, key *token.Key, extra ...*token.Key) *token.Service {
	t.Helper()
	s, err := token.New(cfg, key, extra...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// fixture is a service with the raw private key behind it, so tests can
// forge tokens the way an attacker with (or without) that key would.
type fixture struct {
	alg token.Alg
	raw any
	key *token.Key
	svc *token.Service
}

func newFixture(t testing.TB, alg token.Alg) fixture {
	t.Helper()
	raw := rawKey(t, alg, 0)
	key := mustKey(t, alg, raw)
	return fixture{alg: alg, raw: raw, key: key, svc: mustService(t, testConfig(), key)}
}

func methodOf(alg token.Alg) jwt.SigningMethod {
	return jwt.GetSigningMethod(string(alg))
}

// forge signs arbitrary header and claims. header replaces jwt's default
// header entirely, so fields can be omitted or added at will; it must
// include "alg" when the result is to make sense.
func forge(t testing.TB, header, claims map[string]any, method jwt.SigningMethod, key any) string {
	t.Helper()
	tk := jwt.NewWithClaims(method, jwt.MapClaims(claims))
	tk.Header = header
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatalf("forge: %v", err)
	}
	return s
}

func header(alg, kid, typ string) map[string]any {
	h := map[string]any{"alg": alg}
	if kid != "" {
		h["kid"] = kid
	}
	if typ != "" {
		h["typ"] = typ
	}
	return h
}

// accessClaimsMap is a complete, valid access-token claim set issued at now.
func accessClaimsMap(cfg token.Config, now time.Time) map[string]any {
	return map[string]any{
		"iss":            cfg.Issuer,
		"sub":            "user-1",
		"aud":            []string{cfg.Audience},
		"iat":            now.Unix(),
		"exp":            now.Add(15 * time.Minute).Unix(),
		"jti":            "jti-1",
		"sid":            "sess-1",
		"role":           "user",
		"email_verified": true,
	}
}

func with(m map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

// segments decodes the header and payload of a compact JWS.
func segments(t testing.TB, tok string) (hdr, payload map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments", len(parts))
	}
	for i, dst := range []*map[string]any{&hdr, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return hdr, payload
}

func wantInvalid(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, token.ErrInvalid) || errors.Is(err, token.ErrExpired) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
}

func wantExpired(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, token.ErrExpired) || errors.Is(err, token.ErrInvalid) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}

// issueBoth issues an access token for user "u", session "s" with role, and an anonymous
// token, both at t0, failing t on an error.
func (f *fixture) issueBoth(t testing.TB, role string, emailVerified bool) (access, anon string) {
	t.Helper()
	at, _, err := f.svc.IssueAccess("u", "s", role, emailVerified, t0)
	if err != nil {
		t.Fatal(err)
	}
	nt, _, err := f.svc.IssueAnonymous(t0)
	if err != nil {
		t.Fatal(err)
	}
	return at, nt
}
