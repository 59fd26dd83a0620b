package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/toktok/toktok/token"
)

func pemOf(t testing.TB, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkcs8(t testing.TB, priv any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(t, "PRIVATE KEY", der)
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadKeyFile(t *testing.T) {
	t.Parallel()
	ec := rawKey(t, token.ES256, 0).(*ecdsa.PrivateKey)
	ed := rawKey(t, token.EdDSA, 0).(ed25519.PrivateKey)
	rs := rawKey(t, token.RS256, 0).(*rsa.PrivateKey)
	secret := rawKey(t, token.HS256, 0).([]byte)
	// A raw secret file loses its trailing CR and LF bytes (an editor's newline): a random
	// secret ending in one (about 1 run in 128) would load 31 bytes and fail the case.
	if c := secret[len(secret)-1]; c == '\r' || c == '\n' {
		secret[len(secret)-1] = 'x'
	}
	hsText := []byte("correct-horse-battery-staple-0123456789") // 39 bytes

	ecSEC1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	ecParams := pemOf(t, "EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		alg     token.Alg
		data    []byte
		want    any // raw key whose KID the loaded key must have; nil = error expected
		wantErr string
	}{
		{name: "ES256 PKCS#8", alg: token.ES256, data: pkcs8(t, ec), want: ec},
		{name: "ES256 SEC1", alg: token.ES256, data: pemOf(t, "EC PRIVATE KEY", ecSEC1), want: ec},
		{name: "ES256 SEC1 after EC PARAMETERS", alg: token.ES256, data: append(ecParams, pemOf(t, "EC PRIVATE KEY", ecSEC1)...), want: ec},
		{name: "EdDSA PKCS#8", alg: token.EdDSA, data: pkcs8(t, ed), want: ed},
		{name: "RS256 PKCS#8", alg: token.RS256, data: pkcs8(t, rs), want: rs},
		{name: "RS256 PKCS#1", alg: token.RS256, data: pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs)), want: rs},
		{name: "PS256 PKCS#1", alg: token.PS256, data: pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs)), want: rs},
		{name: "HS256 raw", alg: token.HS256, data: secret, want: secret},
		{name: "HS256 trailing newline", alg: token.HS256, data: append(append([]byte{}, hsText...), '\n'), want: hsText},
		{name: "HS256 trailing CRLF", alg: token.HS256, data: append(append([]byte{}, hsText...), '\r', '\n'), want: hsText},

		{name: "EC key for RS256", alg: token.RS256, data: pkcs8(t, ec), wantErr: "ECDSA key cannot be used with RS256"},
		{name: "EC key for EdDSA", alg: token.EdDSA, data: pkcs8(t, ec), wantErr: "ECDSA key cannot be used with EdDSA"},
		{name: "RSA key for ES256", alg: token.ES256, data: pkcs8(t, rs), wantErr: "RSA key cannot be used with ES256"},
		{name: "Ed25519 key for ES256", alg: token.ES256, data: pkcs8(t, ed), wantErr: "Ed25519 key cannot be used with ES256"},
		{name: "Ed25519 key for PS256", alg: token.PS256, data: pkcs8(t, ed), wantErr: "Ed25519 key cannot be used with PS256"},
		{name: "P-384 key for ES256", alg: token.ES256, data: pkcs8(t, p384), wantErr: "needs a P-256 key"},
		{name: "RSA 1024 for RS256", alg: token.RS256, data: pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024)), wantErr: "1024 bits"},
		{name: "RSA 1024 for PS256", alg: token.PS256, data: pkcs8(t, rsa1024), wantErr: "1024 bits"},
		{name: "PEM for HS256", alg: token.HS256, data: pemOf(t, "PUBLIC KEY", ecPubDER), wantErr: "holds PEM"},
		{name: "HS256 secret too short", alg: token.HS256, data: []byte(strings.Repeat("x", 31) + "\n"), wantErr: "need at least 32"},
		{name: "public key for signing", alg: token.ES256, data: pemOf(t, "PUBLIC KEY", ecPubDER), wantErr: "public key"},
		{name: "two keys", alg: token.ES256, data: append(pkcs8(t, ec), pkcs8(t, ec)...), wantErr: "more than one key"},
		{name: "encrypted PKCS#8", alg: token.ES256, data: pemOf(t, "ENCRYPTED PRIVATE KEY", []byte{1}), wantErr: "unsupported PEM block"},
		{name: "not PEM", alg: token.ES256, data: []byte("hello"), wantErr: "no PEM key"},
		{name: "empty", alg: token.ES256, data: nil, wantErr: "no PEM key"},
		{name: "corrupt DER", alg: token.ES256, data: pemOf(t, "PRIVATE KEY", []byte{0x30, 0x01}), wantErr: "parsing PRIVATE KEY"},
		{name: "bad alg", alg: "none", data: pkcs8(t, ec), wantErr: "unsupported signing algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeFile(t, tt.data)
			k, err := token.LoadKeyFile(tt.alg, path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("LoadKeyFile() = %v, %v; want error containing %q", k, err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadKeyFile: %v", err)
			}
			if want := mustKey(t, tt.alg, tt.want).KID(); k.KID() != want || k.Alg() != tt.alg {
				t.Errorf("loaded %v, want kid %s", k, want)
			}
			// The loaded key signs tokens its public half verifies.
			s := mustService(t, testConfig(), k)
			at, _, err := s.IssueAccess("u", "s", "", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			verifier := mustService(t, testConfig(), mustKey(t, tt.alg, rawKey(t, tt.alg, 9)), mustKey(t, tt.alg, publicOf(tt.want)))
			if tt.alg == token.HS256 {
				verifier = mustService(t, testConfig(), mustKey(t, tt.alg, tt.want))
			}
			if _, err := verifier.VerifyAccess(at, t0); err != nil {
				t.Errorf("token from loaded key: %v", err)
			}
		})
	}

	if _, err := token.LoadKeyFile(token.ES256, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("LoadKeyFile of a missing file succeeded")
	}
}

func TestLoadVerifyKeyFile(t *testing.T) {
	t.Parallel()
	ec := rawKey(t, token.ES256, 0).(*ecdsa.PrivateKey)
	rs := rawKey(t, token.RS256, 0).(*rsa.PrivateKey)
	ecPub, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		alg  token.Alg
		data []byte
		raw  any
	}{
		{"PKIX public", token.ES256, pemOf(t, "PUBLIC KEY", ecPub), ec},
		{"PKCS#1 public", token.RS256, pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rs.PublicKey)), rs},
		{"private key, reduced to public", token.ES256, pkcs8(t, ec), ec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, err := token.LoadVerifyKeyFile(tt.alg, writeFile(t, tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if want := mustKey(t, tt.alg, tt.raw).KID(); k.KID() != want {
				t.Errorf("kid %s, want %s", k.KID(), want)
			}
			if _, err := token.New(testConfig(), k); err == nil {
				t.Error("New accepted a verify-only key for signing")
			}
			old := mustService(t, testConfig(), mustKey(t, tt.alg, tt.raw))
			at, _, err := old.IssueAccess("u", "s", "", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			s := mustService(t, testConfig(), mustKey(t, tt.alg, rawKey(t, tt.alg, 3)), k)
			if _, err := s.VerifyAccess(at, t0); err != nil {
				t.Errorf("verify with loaded public key: %v", err)
			}
		})
	}
}

func TestLoadOrGenerateKey(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "state", "signing.key")
			k1, created, err := token.LoadOrGenerateKey(alg, path)
			if err != nil || !created {
				t.Fatalf("first LoadOrGenerateKey = %v, %v, %v", k1, created, err)
			}
			k2, created, err := token.LoadOrGenerateKey(alg, path)
			if err != nil || created {
				t.Fatalf("second LoadOrGenerateKey = %v, %v, %v", k2, created, err)
			}
			if k1.KID() != k2.KID() {
				t.Errorf("reloaded kid %s, generated %s", k2.KID(), k1.KID())
			}
			// The file is also a valid LoadKeyFile input, so a development
			// key can be carried into a configured deployment.
			k3, err := token.LoadKeyFile(alg, path)
			if err != nil || k3.KID() != k1.KID() {
				t.Errorf("LoadKeyFile on generated file = %v, %v", k3, err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("key file mode %o, want 600", fi.Mode().Perm())
			}
			at, _, err := mustService(t, testConfig(), k1).IssueAccess("u", "s", "", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := mustService(t, testConfig(), k2).VerifyAccess(at, t0); err != nil {
				t.Errorf("token from generated key, verified with reloaded key: %v", err)
			}

			// A file generated for another algorithm is an error, not
			// silently replaced.
			other := token.EdDSA
			if alg == token.EdDSA {
				other = token.ES256
			}
			if k, _, err := token.LoadOrGenerateKey(other, path); err == nil {
				t.Errorf("LoadOrGenerateKey(%s) on a %s key = %v", other, alg, k)
			}
		})
	}
}

// TestJWKS rebuilds each published key from its JWK members alone and checks
// that it verifies the service's tokens and hashes to the advertised kid.
func TestJWKS(t *testing.T) {
	t.Parallel()
	for _, alg := range asymAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, alg)
			doc := f.svc.JWKS()
			var set struct {
				Keys []map[string]string `json:"keys"`
			}
			if err := json.Unmarshal(doc, &set); err != nil {
				t.Fatalf("JWKS %s: %v", doc, err)
			}
			if len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys, want 1: %s", len(set.Keys), doc)
			}
			j := set.Keys[0]
			if j["kid"] != f.key.KID() || j["alg"] != string(alg) || j["use"] != "sig" {
				t.Errorf("JWK metadata = %v", j)
			}
			for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				if _, ok := j[private]; ok {
					t.Errorf("JWK publishes private member %q", private)
				}
			}

			var pub any
			var canonical string
			switch j["kty"] {
			case "EC":
				if j["crv"] != "P-256" {
					t.Fatalf("crv = %q", j["crv"])
				}
				x, y := b64dec(t, j["x"]), b64dec(t, j["y"])
				if len(x) != 32 || len(y) != 32 {
					t.Fatalf("coordinates of %d and %d bytes, want 32", len(x), len(y))
				}
				k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
				if err != nil {
					t.Fatal(err)
				}
				pub = k
				canonical = fmt.Sprintf(`{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, j["x"], j["y"])
			case "OKP":
				if j["crv"] != "Ed25519" {
					t.Fatalf("crv = %q", j["crv"])
				}
				pub = ed25519.PublicKey(b64dec(t, j["x"]))
				canonical = fmt.Sprintf(`{"crv":"Ed25519","kty":"OKP","x":"%s"}`, j["x"])
			case "RSA":
				n, e := b64dec(t, j["n"]), b64dec(t, j["e"])
				if n[0] == 0 || e[0] == 0 {
					t.Error("n or e has a leading zero byte")
				}
				pub = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
				canonical = fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, j["e"], j["n"])
			default:
				t.Fatalf("kty = %q", j["kty"])
			}
			sum := sha256.Sum256([]byte(canonical))
			if kid := base64.RawURLEncoding.EncodeToString(sum[:]); kid != j["kid"] {
				t.Errorf("kid %s is not the RFC 7638 thumbprint %s", j["kid"], kid)
			}

			at, _, err := f.svc.IssueAccess("u", "s", "", false, t0)
			if err != nil {
				t.Fatal(err)
			}
			_, err = jwt.Parse(at, func(*jwt.Token) (any, error) { return pub, nil },
				jwt.WithValidMethods([]string{j["alg"]}), jwt.WithTimeFunc(func() time.Time { return t0 }))
			if err != nil {
				t.Errorf("token does not verify with the published key: %v", err)
			}

			// Callers get a copy; scribbling on it changes nothing.
			doc[0] = 'X'
			if f.svc.JWKS()[0] != '{' {
				t.Error("JWKS returned shared memory")
			}
		})
	}
	t.Run("HS256 publishes nothing", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, token.HS256)
		if got := string(f.svc.JWKS()); got != `{"keys":[]}` {
			t.Errorf("JWKS = %s", got)
		}
	})
}

func b64dec(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil {
		t.Fatalf("decoding %q: %v", s, err)
	}
	return b
}

// TestKIDVectors checks kids against the published RFC examples, so the
// thumbprint is not merely self-consistent.
func TestKIDVectors(t *testing.T) {
	t.Parallel()
	// RFC 7638 §3.1.
	n := "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rsaPub := &rsa.PublicKey{N: new(big.Int).SetBytes(b64dec(t, n)), E: 65537}
	// RFC 8037 appendix A.3.
	edPub := ed25519.PublicKey(b64dec(t, "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"))
	secret := []byte("0123456789abcdef0123456789abcdef")
	hsSum := sha256.Sum256(append([]byte("toktok-hs256-kid"), secret...))

	tests := []struct {
		name string
		alg  token.Alg
		key  any
		want string
	}{
		{"RFC 7638 RSA", token.RS256, rsaPub, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", token.EdDSA, edPub, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"HS256", token.HS256, secret, base64.RawURLEncoding.EncodeToString(hsSum[:12])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := mustKey(t, tt.alg, tt.key).KID(); got != tt.want {
				t.Errorf("KID() = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewKeyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		alg  token.Alg
		key  any
	}{
		{"unknown alg", "HS512", rawKey(t, token.HS256, 0)},
		{"none", "none", rawKey(t, token.HS256, 0)},
		{"secret for ES256", token.ES256, rawKey(t, token.HS256, 0)},
		{"short secret", token.HS256, make([]byte, 31)},
		{"nil ECDSA key", token.ES256, (*ecdsa.PrivateKey)(nil)},
		{"nil RSA key", token.RS256, (*rsa.PublicKey)(nil)},
		{"truncated Ed25519 key", token.EdDSA, ed25519.PrivateKey(make([]byte, 10))},
		{"unsupported type", token.ES256, "a string"},
		{"nil", token.ES256, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if k, err := token.NewKey(tt.alg, tt.key); err == nil {
				t.Errorf("NewKey = %v, want error", k)
			}
		})
	}
}

// TestKeyStringHidesSecrets guards against a Key ending up in a log line
// with its private half.
func TestKeyStringHidesSecrets(t *testing.T) {
	t.Parallel()
	secret := []byte("this-is-a-very-secret-hmac-key-0123456789")
	k := mustKey(t, token.HS256, secret)
	ed := mustKey(t, token.EdDSA, rawKey(t, token.EdDSA, 0))
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(format, k) + fmt.Sprintf(format, ed)
		if strings.Contains(out, "secret") || strings.Contains(out, "[") {
			t.Errorf("%s formats a key as %q", format, out)
		}
	}
	secret[0] = 'X' // NewKey copied it
	if mustKey(t, token.HS256, []byte("this-is-a-very-secret-hmac-key-0123456789")).KID() != k.KID() {
		t.Error("Key shares the caller's secret slice")
	}
}
