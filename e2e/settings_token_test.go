package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/token"
)

// settingsKIDs lists the kids the JWKS endpoint publishes.
func settingsKIDs(t *testing.T, e *testEnv) []string {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: HTTP %d, %v: %s", resp.StatusCode, err, raw)
	}
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatalf("jwks %s: %v", raw, err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestSettingsJWTVerifyKeyFiles: an access token signed by a retired key (same issuer and
// audience, for a live session) is accepted by me, and the key's kid is in the JWKS, when
// --jwt-verify-key-files names the key, with or without an ALG: prefix; without the
// setting the same kind of token is UNAUTHENTICATED and the kid is not published.
func TestSettingsJWTVerifyKeyFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		alg  token.Alg
		spec func(path string) string
	}{
		{"same algorithm", token.ES256, func(p string) string { return p }},
		{"ALG prefix, another algorithm", token.EdDSA, func(p string) string { return "EdDSA:" + p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "retired.pem")
			retired, _, err := token.LoadOrGenerateKey(tc.alg, path)
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range []bool{true, false} {
				e := newTestEnv(t, func(c *config.Config) {
					if set {
						c.Token.VerifyKeyFiles = []string{tc.spec(path)}
					}
				})
				ann := e.register("ann@example.com", strongPassword)
				claims, err := e.app.Support().Tokens().VerifyAccess(ann.AccessToken, e.clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				old, err := token.New(token.Config{Issuer: e.cfg.Token.Issuer, Audience: e.cfg.Token.Audience}, retired)
				if err != nil {
					t.Fatal(err)
				}
				tok, _, err := old.IssueAccess(ann.User.ID, claims.SessionID, string(store.RoleUser), false, e.clock.Now())
				if err != nil {
					t.Fatal(err)
				}
				published := slices.Contains(settingsKIDs(t, e), retired.KID())
				r := e.meReq(tok)
				if set {
					var resp struct{ Me *struct{ ID string } }
					e.mustData(r, &resp)
					if resp.Me == nil || resp.Me.ID != ann.User.ID || !published {
						t.Errorf("with the setting: me %+v, kid published %v", resp.Me, published)
					}
					continue
				}
				if r.Code() != "UNAUTHENTICATED" || published {
					t.Errorf("without the setting: kid published %v, me answered %s", published, r.Raw)
				}
			}
		})
	}
}

// settingsJWT decodes a JWT's header and claims, unverified.
func settingsJWT(t *testing.T, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, claims
}

// TestSettingsTokenClaims: --jwt-alg, --jwt-issuer and --jwt-audience are what access
// tokens are signed with and claim, what the JWKS publishes, and what anonymous tokens
// claim (their audience is the configured one + ":anonymous").
func TestSettingsTokenClaims(t *testing.T) {
	for _, tc := range []struct{ alg, kty, issuer, audience string }{
		{"EdDSA", "OKP", "https://issuer.example.test", "suite"},
		{"ES256", "EC", "http://toktok.test", "toktok"}, // the harness's issuer, the default alg and audience
	} {
		t.Run(tc.alg, func(t *testing.T) {
			e := newTestEnv(t, func(c *config.Config) {
				c.Token.Alg, c.Token.Issuer, c.Token.Audience = tc.alg, tc.issuer, tc.audience
			})
			h, c := settingsJWT(t, e.register("ann@example.com", strongPassword).AccessToken)
			if h["alg"] != tc.alg || c["iss"] != tc.issuer || !slices.Equal(settingsAud(c), []string{tc.audience}) {
				t.Errorf("access token header %v, claims %v", h, c)
			}
			h, c = settingsJWT(t, e.anon())
			if h["alg"] != tc.alg || c["iss"] != tc.issuer || !slices.Equal(settingsAud(c), []string{tc.audience + ":anonymous"}) {
				t.Errorf("anonymous token header %v, claims %v", h, c)
			}
			resp, err := e.srv.Client().Get(e.srv.URL + "/.well-known/jwks.json")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var set struct {
				Keys []struct{ Kid, Kty, Alg string }
			}
			if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
				t.Fatal(err)
			}
			if len(set.Keys) != 1 || set.Keys[0].Alg != tc.alg || set.Keys[0].Kty != tc.kty || set.Keys[0].Kid != h["kid"] {
				t.Errorf("JWKS %+v, want the one %s key of kid %v", set.Keys, tc.alg, h["kid"])
			}
		})
	}
}

// settingsAud reads the aud claim (a string or a list).
func settingsAud(claims map[string]any) []string {
	switch v := claims["aud"].(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, a := range v {
			s, _ := a.(string)
			out = append(out, s)
		}
		return out
	}
	return nil
}

// settingsSharedStore makes the apps built from cfg share one store whatever their data
// dirs: the MongoDB database of cfg, or an SQLite file outside the data dir.
func settingsSharedStore(t *testing.T, cfg *config.Config) {
	if !cfg.Store.MongoDB() {
		cfg.Store.URI = "sqlite:" + filepath.Join(t.TempDir(), "shared.db")
	}
}

// TestSettingsKeyFiles: the keys come from --jwt-key-file, --refresh-secret-file and
// --rsa-key-file when set, not from the data dir: the JWKS and the access tokens carry the
// file's key, a refresh token minted by one instance rotates on another with the same
// secret file (and not on one without it), and authConfig publishes the file's RSA key,
// under which credentials register.
func TestSettingsKeyFiles(t *testing.T) {
	dir := t.TempDir()
	jwtKey, _, err := token.LoadOrGenerateKey(token.ES256, filepath.Join(dir, "jwt.pem"))
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(dir, "refresh-secret")
	if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaFile := filepath.Join(dir, "rsa.pem")
	if err := os.WriteFile(rsaFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	base := testConfig(t)
	settingsSharedStore(t, &base)
	shared := sharedSQLite(t, base)
	base.Credentials.Alg = config.SaltRSA // --rsa-key-file's scheme (--ecdh-key-file: TestAuthCredentialsKeyRotation)
	start := func(files bool) *testEnv {
		cfg := base
		cfg.Store.DataDir = t.TempDir() // nothing to find there: generated keys differ per instance
		if files {
			cfg.Token.KeyFile, cfg.Token.RefreshSecretFile, cfg.Credentials.KeyFile = filepath.Join(dir, "jwt.pem"), secret, rsaFile
		}
		return settingsStart(t, cfg, newTestClock(), app.Options{Store: shared()})
	}
	a, b, c := start(true), start(true), start(false)

	if !rsaKey.PublicKey.Equal(a.pub) || rsaKey.PublicKey.Equal(c.pub) {
		t.Errorf("authConfig's encryption key: with --rsa-key-file %v, without %v", rsaKey.PublicKey.Equal(a.pub), rsaKey.PublicKey.Equal(c.pub))
	}
	ann := a.register("ann@example.com", strongPassword) // encrypted under the file's key
	if h, _ := settingsJWT(t, ann.AccessToken); h["kid"] != jwtKey.KID() {
		t.Errorf("access token kid %v, want the key file's %s", h["kid"], jwtKey.KID())
	}
	if kids := settingsKIDs(t, a); !slices.Equal(kids, []string{jwtKey.KID()}) {
		t.Errorf("JWKS kids %q, want the key file's %s", kids, jwtKey.KID())
	}
	if kids := settingsKIDs(t, c); slices.Contains(kids, jwtKey.KID()) {
		t.Errorf("without --jwt-key-file the JWKS still has the file's key")
	}
	// b shares the files: it verifies a's access token and rotates a's refresh token.
	b.mustData(b.meReq(ann.AccessToken), nil)
	rotated := b.refresh(ann.RefreshToken)
	// c shares the store, not the files.
	c.wantCode(c.meReq(rotated.AccessToken), "UNAUTHENTICATED")
	c.wantCode(c.refreshReq(rotated.RefreshToken), "INVALID_REFRESH_TOKEN")
	a.mustData(a.meReq(rotated.AccessToken), nil)
}

// TestSettingsRSAAlias: --rsa is --salt by its original name, on the command line and as
// TOKTOK_RSA: --rsa=no (or TOKTOK_RSA=no) takes credentials in clear and publishes no
// key, like --salt=no; the default (yes) refuses them in clear.
func TestSettingsRSAAlias(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		vars    map[string]string
		encrypt bool
	}{
		{"--rsa=no", []string{"--rsa=no"}, nil, false},
		{"TOKTOK_RSA=no", nil, map[string]string{"TOKTOK_RSA": "no"}, false},
		{"--salt=no", []string{"--salt=no"}, nil, false},
		{"default", nil, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loaded, err := config.Load(tc.args, func(k string) (string, bool) { v, ok := tc.vars[k]; return v, ok }, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			cfg := testConfig(t)
			cfg.Credentials = loaded.Credentials
			cfg.Account.AnonJWT = false
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			var resp struct {
				AuthConfig struct{ EncryptedCredentials bool }
			}
			e.mustData(e.gql("", `{ authConfig { encryptedCredentials } }`, nil), &resp)
			r := e.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
				map[string]any{"in": map[string]any{"email": "ann@example.com", "password": strongPassword}})
			if resp.AuthConfig.EncryptedCredentials != tc.encrypt || (r.Code() == "") == tc.encrypt {
				t.Errorf("encryptedCredentials %v, register in clear answered %s; want encryption %v",
					resp.AuthConfig.EncryptedCredentials, r.Raw, tc.encrypt)
			}
		})
	}
}
