package config

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTokenDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Token.Alg != "ES256" || c.Token.AccessTTL != 15*time.Minute || c.Token.AnonTTL != 12*time.Hour ||
		c.Token.RefreshIdleTTL != 7*24*time.Hour || c.Token.RefreshAbsoluteTTL != 30*24*time.Hour || c.Token.Leeway != 30*time.Second {
		t.Errorf("token %+v", c.Token)
	}
	if c.Token.Issuer != "http://localhost:4100" || c.Token.Audience != "toktok" {
		t.Errorf("issuer %q audience %q", c.Token.Issuer, c.Token.Audience)
	}
	if c.Token.RefreshGrace != 10*time.Second || c.Token.KeyFile != "" || c.Token.RefreshSecretFile != "" || len(c.Token.VerifyKeyFiles) != 0 {
		t.Errorf("token %+v", c.Token)
	}
}

func TestTokenIssuer(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "http://localhost:4100"},
		// The default keeps the host as configured: changing it would change iss.
		{[]string{"--host=0.0.0.0", "--port=5000"}, "http://0.0.0.0:5000"},
		{[]string{"--host=", "--port=5000"}, "http://:5000"},
		{[]string{"--host=::1"}, "http://[::1]:4100"},
		{[]string{"--public-url=https://auth.example.com/"}, "https://auth.example.com"},
		{[]string{"--jwt-issuer=https://issuer.example.com", "--public-url=https://auth.example.com"}, "https://issuer.example.com"},
	} {
		if c := mustLoad(t, tc.args, nil); c.Token.Issuer != tc.want {
			t.Errorf("%q: issuer %q, want %q", tc.args, c.Token.Issuer, tc.want)
		}
	}
}

func TestTokenAlgorithms(t *testing.T) {
	want := []string{"ES256", "EdDSA", "PS256", "RS256", "HS256"}
	if !slices.Equal(Algorithms(), want) {
		t.Fatalf("Algorithms() = %q", Algorithms())
	}
	// A caller's change to the returned slice does not reach validation.
	a := Algorithms()
	a[0] = "none"
	if !slices.Equal(Algorithms(), want) {
		t.Errorf("Algorithms() shares its array: %q", Algorithms())
	}
	for _, alg := range want {
		for _, spelled := range []string{alg, strings.ToLower(alg), strings.ToUpper(alg)} {
			c := mustLoad(t, []string{"--jwt-alg=" + spelled}, nil)
			if c.Token.Alg != alg {
				t.Errorf("--jwt-alg=%s gives %q, want %q", spelled, c.Token.Alg, alg)
			}
		}
	}
	for _, bad := range []string{"none", "ES384", "RS512", ""} {
		_, err := load(t, []string{"--jwt-alg=" + bad}, nil)
		wantProblems(t, err, `--jwt-alg: "`+bad+`" is not one of ES256, EdDSA, PS256, RS256, HS256`)
	}
	// Validate takes the canonical spelling only: normalising is Load's job.
	c := Default()
	c.Token.Alg = "es256"
	if err := c.Validate(); err == nil {
		t.Error("Validate accepts es256")
	}
	var help bytes.Buffer
	Load([]string{"--help"}, env(nil), &help)
	if !strings.Contains(help.String(), "access-token algorithm: ES256 | EdDSA | PS256 | RS256 | HS256\n") {
		t.Errorf("--jwt-alg help:\n%s", help.String())
	}
}

func TestTokenVerifyKeyFiles(t *testing.T) {
	c := mustLoad(t, []string{"--jwt-verify-key-files= old.pem, RS256:/keys/older.pem,,"}, nil)
	if !slices.Equal(c.Token.VerifyKeyFiles, []string{"old.pem", "RS256:/keys/older.pem"}) {
		t.Errorf("verify keys %q", c.Token.VerifyKeyFiles)
	}
}

func TestTokenAudience(t *testing.T) {
	_, err := load(t, []string{"--jwt-audience="}, nil)
	wantProblems(t, err, "--jwt-audience")
	if c := mustLoad(t, nil, map[string]string{"TOKTOK_JWT_AUDIENCE": "api"}); c.Token.Audience != "api" {
		t.Errorf("audience %q", c.Token.Audience)
	}
}

func TestTokenProduction(t *testing.T) {
	_, err := load(t, []string{"--mode=production"}, nil)
	wantProblems(t, err, "--jwt-key-file: required in production mode", "--refresh-secret-file: required in production mode")
	if errs := (Token{KeyFile: "k", RefreshSecretFile: "r"}).production(ModeProduction); len(errs) != 0 {
		t.Errorf("%v", errs)
	}
}

func TestLoadDurations(t *testing.T) {
	c := mustLoad(t, []string{"--access-ttl=5m", "--anonymous-ttl=1h30m", "--refresh-grace=0s", "--shutdown-timeout=3s"},
		map[string]string{"TOKTOK_REFRESH_IDLE_TTL": "48h", "TOKTOK_REFRESH_ABSOLUTE_TTL": "240h", "TOKTOK_JWT_LEEWAY": "1m", "TOKTOK_ACCESS_TTL": "1h"})
	if c.Token.AccessTTL != 5*time.Minute || c.Token.AnonTTL != 90*time.Minute || c.Token.RefreshGrace != 0 ||
		c.Token.RefreshIdleTTL != 48*time.Hour || c.Token.RefreshAbsoluteTTL != 240*time.Hour || c.Token.Leeway != time.Minute ||
		c.HTTP.ShutdownTimeout != 3*time.Second {
		t.Errorf("durations %+v shutdown %v", c.Token, c.HTTP.ShutdownTimeout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--access-ttl=0s"}, "--access-ttl"},
		{[]string{"--access-ttl=-1m"}, "--access-ttl"},
		{[]string{"--anonymous-ttl=0s"}, "--anonymous-ttl"},
		{[]string{"--jwt-leeway=10m"}, "--jwt-leeway"},
		{[]string{"--jwt-leeway=-1s"}, "--jwt-leeway"},
		{[]string{"--refresh-grace=2m"}, "--refresh-grace"},
		{[]string{"--refresh-idle-ttl=800h"}, "--refresh-idle-ttl"},
		{[]string{"--refresh-absolute-ttl=0s"}, "--refresh-absolute-ttl"},
		{[]string{"--access-ttl=15"}, "access-ttl"}, // a duration needs its unit
	} {
		_, err := load(t, tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want a problem with %s", tc.args, err, tc.want)
		}
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_ACCESS_TTL": "15", "TOKTOK_REFRESH_GRACE": "soon"})
	wantProblems(t, err, "TOKTOK_ACCESS_TTL", "TOKTOK_REFRESH_GRACE")
}
