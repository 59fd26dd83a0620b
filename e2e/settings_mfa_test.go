package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/mfa"
)

// TestSettingMFASecretFile (--mfa-secret-file): with the setting, TOTP factors and
// recovery codes survive a rotation of the refresh secret; without it, the rotation voids
// them (their keys derive from the refresh secret), as docs/mfa.md warns.
func TestSettingMFASecretFile(t *testing.T) {
	for _, own := range []bool{true, false} {
		name := "derived from the refresh secret"
		if own {
			name = "own file"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeSecret := func(name string) string {
				p := filepath.Join(dir, name)
				b := make([]byte, 32)
				_, _ = rand.Read(b)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			cfg := testConfig(t)
			cfg.Credentials.Encrypt, cfg.Account.AnonJWT = false, false
			cfg.Token.RefreshSecretFile = writeSecret("refresh-1")
			if own {
				cfg.MFA.SecretFile = writeSecret("mfa")
			}
			clock := newTestClock()
			e, stop := launch(t, cfg, clock, app.Options{}, nil)
			secret, codes := mfaSecretFileEnrol(e, "dora@example.com")
			stop()

			cfg.Token.RefreshSecretFile = writeSecret("refresh-2")
			clock.Advance(time.Minute) // a time step the enrolment did not use
			e2, _ := launch(t, cfg, clock, app.Options{}, nil)
			for _, proof := range []map[string]any{
				{"totpCode": totpAt(t, secret, clock.Now())},
				{"recoveryCode": codes[0]},
			} {
				at := mfaSecretFileLogin(e2, "dora@example.com")
				r := e2.gql(at, `mutation($in: MfaVerifyInput!) { verifyMfa(input: $in) { aal } }`, map[string]any{"in": proof})
				if own {
					var d struct{ VerifyMfa struct{ Aal string } }
					e2.mustData(r, &d)
					if d.VerifyMfa.Aal != "aal2" {
						t.Errorf("%v: aal %q after the rotation, want aal2", proof, d.VerifyMfa.Aal)
					}
				} else {
					e2.wantCode(r, "INVALID_CREDENTIALS")
				}
				clock.Advance(time.Minute)
			}
		})
	}
}

// mfaSecretFileEnrol registers email, enrols a TOTP factor and returns its secret and
// recovery codes.
func mfaSecretFileEnrol(e *testEnv, email string) (string, []string) {
	e.t.Helper()
	at := e.register(email, "correct horse battery staple").AccessToken
	var en struct {
		EnrollTotp struct{ FactorID, Secret string }
	}
	e.mustData(e.gql(at, `mutation { enrollTotp { factorId secret } }`, nil), &en)
	var conf struct {
		ConfirmTotp struct{ RecoveryCodes []string }
	}
	e.mustData(e.gql(at, `mutation($f: ID!, $c: String!) { confirmTotp(factorId: $f, code: $c) { recoveryCodes } }`,
		map[string]any{"f": en.EnrollTotp.FactorID, "c": totpAt(e.t, en.EnrollTotp.Secret, e.clock.Now())}), &conf)
	if len(conf.ConfirmTotp.RecoveryCodes) != mfa.RecoveryCodeCount {
		e.t.Fatalf("recovery codes %v", conf.ConfirmTotp.RecoveryCodes)
	}
	return en.EnrollTotp.Secret, conf.ConfirmTotp.RecoveryCodes
}

// mfaSecretFileLogin signs email in with its password and returns the aal1 access token.
func mfaSecretFileLogin(e *testEnv, email string) string {
	e.t.Helper()
	var d struct {
		Login struct {
			AccessToken string
			MfaRequired bool
		}
	}
	e.mustData(e.gql("", `mutation($in: LoginInput!) { login(input: $in) { accessToken mfaRequired } }`,
		map[string]any{"in": map[string]any{"email": email, "password": "correct horse battery staple"}}), &d)
	if !d.Login.MfaRequired {
		e.t.Fatal("login does not ask for the second factor")
	}
	return d.Login.AccessToken
}

func totpAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.TOTPCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
