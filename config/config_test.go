package config

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// env returns a lookup over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// load calls Load with args and vars, discarding usage output.
func load(t *testing.T, args []string, vars map[string]string) (Config, error) {
	t.Helper()
	return Load(args, env(vars), io.Discard)
}

// mustLoad fails the test when Load fails.
func mustLoad(t *testing.T, args []string, vars map[string]string) Config {
	t.Helper()
	c, err := load(t, args, vars)
	if err != nil {
		t.Fatalf("Load(%q, %v): %v", args, vars, err)
	}
	return c
}

// leaves flattens a tree of errors.Join errors.
func leaves(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, leaves(e)...)
		}
		return out
	}
	return []error{err}
}

// wantProblems fails unless err mentions every want, and has at least len(want) problems.
func wantProblems(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want problems %q", want)
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("the error does not mention %q:\n%s", w, msg)
		}
	}
	if n := len(leaves(err)); n < len(want) {
		t.Errorf("%d problems reported, want at least %d (errors.Join):\n%s", n, len(want), msg)
	}
}

// prodArgs are the settings production mode requires (Load does not open the files).
var prodArgs = []string{
	"--public-url=https://auth.example.com", "--jwt-key-file=/keys/jwt.pem",
	"--refresh-secret-file=/keys/refresh", "--rsa-key-file=/keys/rsa.pem", "--allow-embedded-store=yes",
	"--smtp-host=smtp.example.com", "--mail-from=TokTok <no-reply@example.com>",
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Mode != ModeDefault || !c.Mode.Dev() {
		t.Errorf("mode %q", c.Mode)
	}
	if c.HTTP.Host != "localhost" || c.HTTP.Port != 4100 || c.HTTP.Addr() != "localhost:4100" {
		t.Errorf("listen on %q", c.HTTP.Addr())
	}
	if !c.Credentials.Encrypt || !c.Account.AnonJWT {
		t.Errorf("salt %v anojwt %v, want both yes", c.Credentials.Encrypt, c.Account.AnonJWT)
	}
	if !c.HTTP.Introspection || !c.HTTP.Playground || !c.HTTP.GraphQLGet {
		t.Errorf("introspection %v playground %v graphql-get %v, want on", c.HTTP.Introspection, c.HTTP.Playground, c.HTTP.GraphQLGet)
	}
	if c.HTTP.BodyLimit != 64<<10 || c.HTTP.TokenLimit != 1000 || c.HTTP.DepthLimit != 8 || c.HTTP.AliasLimit != 10 || c.HTTP.ComplexityLimit <= 0 {
		t.Errorf("limits %+v", c.HTTP)
	}
	if len(c.HTTP.CORSOrigins) != 0 || len(c.HTTP.TrustedProxies) != 0 || c.HTTP.PublicURL != "" {
		t.Errorf("cors %v proxies %v public url %q", c.HTTP.CORSOrigins, c.HTTP.TrustedProxies, c.HTTP.PublicURL)
	}
	if c.Token.Alg != "ES256" || c.Token.AccessTTL != 15*time.Minute || c.Token.AnonTTL != 12*time.Hour ||
		c.Token.RefreshIdleTTL != 7*24*time.Hour || c.Token.RefreshAbsoluteTTL != 30*24*time.Hour || c.Token.Leeway != 30*time.Second {
		t.Errorf("token %+v", c.Token)
	}
	if c.Token.Issuer != "http://localhost:4100" || c.Token.Audience != "toktok" {
		t.Errorf("issuer %q audience %q", c.Token.Issuer, c.Token.Audience)
	}
	if c.Account.PasswordMinLength != 12 || c.Account.PasswordMaxLength != 256 || !c.Account.RegistrationOpen || c.Account.Antispam {
		t.Errorf("account %+v", c.Account)
	}
	if c.Password.MemoryKiB != 19456 || c.Password.Time != 2 || c.Password.Threads != 1 {
		t.Errorf("argon2 %+v", c.Password)
	}
	if c.Store.URI != "" || c.Store.DataDir != "data" || c.Store.SQLitePath() != "data/toktok.db" {
		t.Errorf("store %+v (%s)", c.Store, c.Store.SQLitePath())
	}
	if c.Log.Level != "info" || c.Log.Format != "text" {
		t.Errorf("log %+v", c.Log)
	}
	// Default() itself validates.
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate(): %v", err)
	}
}

func TestEnvName(t *testing.T) {
	for flagName, want := range map[string]string{
		"port": "TOKTOK_PORT", "public-url": "TOKTOK_PUBLIC_URL", "jwt-key-file": "TOKTOK_JWT_KEY_FILE", "rsa": "TOKTOK_RSA",
	} {
		if got := EnvName(flagName); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", flagName, got, want)
		}
	}
}

func TestLoadFlagsAndEnvironment(t *testing.T) {
	vars := map[string]string{
		"TOKTOK_PORT": "5000", "TOKTOK_HOST": "0.0.0.0", "TOKTOK_ANOJWT": "no", "TOKTOK_SALT": "no",
		"TOKTOK_CORS_ORIGINS": "https://a.example.com, https://b.example.com", "TOKTOK_ACCESS_TTL": "5m",
		"TOKTOK_LOG_LEVEL": "debug", "TOKTOK_PASSWORD_MIN_LENGTH": "10", "TOKTOK_DATA_DIR": "/var/lib/toktok",
	}
	t.Run("environment alone", func(t *testing.T) {
		c := mustLoad(t, nil, vars)
		if c.HTTP.Port != 5000 || c.HTTP.Host != "0.0.0.0" || c.Account.AnonJWT || c.Credentials.Encrypt ||
			c.Token.AccessTTL != 5*time.Minute || c.Log.Level != "debug" || c.Account.PasswordMinLength != 10 ||
			c.Store.DataDir != "/var/lib/toktok" {
			t.Errorf("environment not applied: %+v", c)
		}
		if !slices.Equal(c.HTTP.CORSOrigins, []string{"https://a.example.com", "https://b.example.com"}) {
			t.Errorf("cors %q", c.HTTP.CORSOrigins)
		}
		if c.Token.Issuer != "http://0.0.0.0:5000" {
			t.Errorf("issuer %q", c.Token.Issuer)
		}
	})
	t.Run("flag wins", func(t *testing.T) {
		c := mustLoad(t, []string{"--port=6000", "--anojwt=yes", "--salt", "--access-ttl=2m", "--cors-origins=https://c.example.com"}, vars)
		if c.HTTP.Port != 6000 || !c.Account.AnonJWT || !c.Credentials.Encrypt || c.Token.AccessTTL != 2*time.Minute {
			t.Errorf("flags lost to variables: port %d anojwt %v salt %v access %v", c.HTTP.Port, c.Account.AnonJWT, c.Credentials.Encrypt, c.Token.AccessTTL)
		}
		if !slices.Equal(c.HTTP.CORSOrigins, []string{"https://c.example.com"}) {
			t.Errorf("cors %q", c.HTTP.CORSOrigins)
		}
		// Variables still fill what the flags left unset.
		if c.HTTP.Host != "0.0.0.0" || c.Log.Level != "debug" {
			t.Errorf("host %q log level %q", c.HTTP.Host, c.Log.Level)
		}
	})
	t.Run("flag equal to the default still wins", func(t *testing.T) {
		c := mustLoad(t, []string{"--port=4100", "--host=localhost"}, vars)
		if c.HTTP.Port != 4100 || c.HTTP.Host != "localhost" {
			t.Errorf("port %d host %q", c.HTTP.Port, c.HTTP.Host)
		}
	})
	t.Run("single dash and separate value", func(t *testing.T) {
		c := mustLoad(t, []string{"-port", "7000", "--host", "127.0.0.1"}, nil)
		if c.HTTP.Port != 7000 || c.HTTP.Host != "127.0.0.1" {
			t.Errorf("port %d host %q", c.HTTP.Port, c.HTTP.Host)
		}
	})
	t.Run("unset variables are not read as empty", func(t *testing.T) {
		c := mustLoad(t, nil, map[string]string{})
		if c.HTTP.Port != 4100 {
			t.Errorf("port %d", c.HTTP.Port)
		}
	})
	t.Run("positional arguments refused", func(t *testing.T) {
		if _, err := load(t, []string{"serve"}, nil); err == nil {
			t.Error("a stray argument was accepted")
		}
		// A yes/no option is a boolean flag: its value goes after '='.
		if _, err := load(t, []string{"--salt", "no"}, nil); err == nil {
			t.Error("--salt no (with a space) was accepted; it would silently mean yes")
		}
	})
	t.Run("help", func(t *testing.T) {
		var out bytes.Buffer
		_, err := Load([]string{"--help"}, env(nil), &out)
		if !errors.Is(err, flag.ErrHelp) {
			t.Fatalf("--help: %v", err)
		}
		for _, want := range []string{"--port  (TOKTOK_PORT, default 4100)", "--salt  (TOKTOK_SALT, default yes)", "--rsa  (TOKTOK_RSA", "--mode  (TOKTOK_MODE, default default)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("usage lacks %q:\n%s", want, out.String())
			}
		}
	})
}

func TestLoadYesNoSpellings(t *testing.T) {
	for _, s := range []string{"yes", "YES", "Yes", "y", "true", "TRUE", "1", "on", " yes "} {
		c := mustLoad(t, []string{"--salt=no", "--anojwt=" + s}, map[string]string{"TOKTOK_REGISTRATION_OPEN": "no", "TOKTOK_GRAPHQL_GET": s})
		if !c.Account.AnonJWT || !c.HTTP.GraphQLGet {
			t.Errorf("%q is not yes: anojwt %v graphql-get %v", s, c.Account.AnonJWT, c.HTTP.GraphQLGet)
		}
	}
	for _, s := range []string{"no", "NO", "n", "false", "0", "off"} {
		c := mustLoad(t, []string{"--anojwt=" + s}, map[string]string{"TOKTOK_GRAPHQL_GET": s})
		if c.Account.AnonJWT || c.HTTP.GraphQLGet {
			t.Errorf("%q is not no: anojwt %v graphql-get %v", s, c.Account.AnonJWT, c.HTTP.GraphQLGet)
		}
	}
	// A yes/no flag alone means yes.
	if c := mustLoad(t, []string{"--antispam", "--antispam-value=x"}, nil); !c.Account.Antispam {
		t.Error("--antispam alone is not yes")
	}
	// auto|yes|no settings.
	for s, want := range map[string]bool{"yes": true, "no": false, "auto": true, "AUTO": true, "off": false} {
		c := mustLoad(t, []string{"--introspection=" + s, "--playground=" + s}, nil)
		if c.HTTP.Introspection != want || c.HTTP.Playground != want {
			t.Errorf("%q: introspection %v playground %v, want %v", s, c.HTTP.Introspection, c.HTTP.Playground, want)
		}
	}
	// Anything else is a problem, from a flag or a variable.
	_, err := load(t, []string{"--anojwt=maybe"}, nil)
	wantProblems(t, err, "maybe")
	_, err = load(t, nil, map[string]string{"TOKTOK_ANOJWT": "maybe", "TOKTOK_SALT": "", "TOKTOK_INTROSPECTION": "sometimes"})
	wantProblems(t, err, "TOKTOK_ANOJWT", "TOKTOK_SALT", "--introspection")
}

func TestLoadRSAAlias(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want bool
	}{
		{"--rsa=no", []string{"--rsa=no"}, nil, false},
		{"--rsa=yes", []string{"--rsa=yes"}, nil, true},
		{"--rsa alone", []string{"--salt=no", "--rsa"}, nil, true},
		{"--salt=no", []string{"--salt=no"}, nil, false},
		{"TOKTOK_RSA=no", nil, map[string]string{"TOKTOK_RSA": "no"}, false},
		{"TOKTOK_SALT=no", nil, map[string]string{"TOKTOK_SALT": "no"}, false},
		{"TOKTOK_SALT wins over TOKTOK_RSA", nil, map[string]string{"TOKTOK_SALT": "yes", "TOKTOK_RSA": "no"}, true},
		{"TOKTOK_SALT=no wins over TOKTOK_RSA=yes", nil, map[string]string{"TOKTOK_SALT": "no", "TOKTOK_RSA": "yes"}, false},
		{"--rsa wins over TOKTOK_SALT", []string{"--rsa=no"}, map[string]string{"TOKTOK_SALT": "yes"}, false},
		{"--salt wins over TOKTOK_RSA", []string{"--salt=yes"}, map[string]string{"TOKTOK_RSA": "no"}, true},
		{"--rsa=yes wins over TOKTOK_RSA=no", []string{"--rsa=yes"}, map[string]string{"TOKTOK_RSA": "no"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if c := mustLoad(t, tc.args, tc.vars); c.Credentials.Encrypt != tc.want {
				t.Errorf("salt = %v, want %v", c.Credentials.Encrypt, tc.want)
			}
		})
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_RSA": "perhaps"})
	wantProblems(t, err, "TOKTOK_RSA")
}

func TestLoadModes(t *testing.T) {
	for in, want := range map[string]Mode{
		"default": ModeDefault, "dev": ModeDefault, "DEV": ModeDefault, "dev_email": ModeDevEmail,
		"preprod": ModePreprod, "production": ModeProduction, "prod": ModeProduction, "Prod": ModeProduction,
	} {
		c, err := load(t, append([]string{"--mode=" + in}, prodArgs...), nil)
		if err != nil {
			t.Errorf("--mode=%s: %v", in, err)
			continue
		}
		if c.Mode != want {
			t.Errorf("--mode=%s gives %q, want %q", in, c.Mode, want)
		}
		if c.Mode.Dev() != (want == ModeDefault || want == ModeDevEmail) {
			t.Errorf("%s.Dev() = %v", c.Mode, c.Mode.Dev())
		}
		// auto introspection and playground follow the mode.
		if c.HTTP.Introspection != c.Mode.Dev() || c.HTTP.Playground != c.Mode.Dev() {
			t.Errorf("--mode=%s: introspection %v playground %v", in, c.HTTP.Introspection, c.HTTP.Playground)
		}
	}
	if c := mustLoad(t, prodArgs, map[string]string{"TOKTOK_MODE": "prod"}); c.Mode != ModeProduction {
		t.Errorf("TOKTOK_MODE=prod gives %q", c.Mode)
	}
	_, err := load(t, []string{"--mode=staging"}, nil)
	if err == nil || !strings.Contains(err.Error(), "--mode") || !strings.Contains(err.Error(), "staging") {
		t.Errorf("--mode=staging: %v", err)
	}
}

func TestLoadProductionRequirements(t *testing.T) {
	for _, mode := range []string{"production", "prod", "preprod"} {
		t.Run(mode, func(t *testing.T) {
			_, err := load(t, []string{"--mode=" + mode}, nil)
			wantProblems(t, err, "--public-url", "--jwt-key-file", "--refresh-secret-file", "--rsa-key-file", "--store")
		})
	}
	t.Run("everything set", func(t *testing.T) {
		c := mustLoad(t, append([]string{"--mode=production"}, prodArgs...), nil)
		if c.HTTP.Introspection || c.HTTP.Playground {
			t.Errorf("production: introspection %v playground %v, want off", c.HTTP.Introspection, c.HTTP.Playground)
		}
		if c.Token.Issuer != "https://auth.example.com" {
			t.Errorf("issuer %q, want the public URL", c.Token.Issuer)
		}
	})
	t.Run("introspection and playground turned back on", func(t *testing.T) {
		c := mustLoad(t, append([]string{"--mode=production", "--introspection=yes"}, prodArgs...), map[string]string{"TOKTOK_PLAYGROUND": "yes"})
		if !c.HTTP.Introspection || !c.HTTP.Playground {
			t.Errorf("introspection %v playground %v, want on", c.HTTP.Introspection, c.HTTP.Playground)
		}
	})
	t.Run("through the environment", func(t *testing.T) {
		c := mustLoad(t, nil, map[string]string{
			"TOKTOK_MODE": "production", "TOKTOK_PUBLIC_URL": "https://auth.example.com/", "TOKTOK_JWT_KEY_FILE": "/k/jwt.pem",
			"TOKTOK_REFRESH_SECRET_FILE": "/k/refresh", "TOKTOK_RSA_KEY_FILE": "/k/rsa.pem", "TOKTOK_STORE": "sqlite:/var/lib/toktok/toktok.db",
			"TOKTOK_SMTP_HOST": "smtp.example.com", "TOKTOK_MAIL_FROM": "no-reply@example.com",
		})
		if c.Mode != ModeProduction || c.HTTP.PublicURL != "https://auth.example.com" || c.Store.SQLitePath() != "/var/lib/toktok/toktok.db" {
			t.Errorf("mode %s public url %q store %q", c.Mode, c.HTTP.PublicURL, c.Store.SQLitePath())
		}
	})
	t.Run("no rsa key needed without salt", func(t *testing.T) {
		args := []string{"--mode=production", "--salt=no"}
		for _, a := range prodArgs {
			if !strings.HasPrefix(a, "--rsa-key-file") {
				args = append(args, a)
			}
		}
		mustLoad(t, args, nil)
	})
	t.Run("one missing", func(t *testing.T) {
		for i := range prodArgs {
			args := append([]string{"--mode=production"}, slices.Delete(slices.Clone(prodArgs), i, i+1)...)
			_, err := load(t, args, nil)
			name, _, _ := strings.Cut(prodArgs[i], "=")
			if name == "--allow-embedded-store" {
				name = "--store"
			}
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("production without %s: %v", name, err)
			}
		}
	})
	t.Run("invalid public url", func(t *testing.T) {
		for _, u := range []string{"auth.example.com", "ftp://auth.example.com", "https://"} {
			_, err := load(t, append([]string{"--mode=production"}, append(slices.Clone(prodArgs), "--public-url="+u)...), nil)
			wantProblems(t, err, "--public-url")
		}
	})
	t.Run("dev modes need nothing", func(t *testing.T) {
		mustLoad(t, []string{"--mode=dev_email"}, nil)
	})
}

func TestLoadProblemsReportedTogether(t *testing.T) {
	_, err := load(t, []string{
		"--mode=bogus", "--introspection=maybe", "--playground=perhaps", "--trusted-proxies=notanip,10.0.0.0/33",
		"--cors-origins=*", "--log-level=loud", "--log-format=xml", "--jwt-alg=none", "--port=70000",
		"--body-limit=10", "--password-min-length=4", "--antispam=yes", "--store=postgres://db/toktok",
	}, map[string]string{"TOKTOK_ANOJWT": "maybe", "TOKTOK_ACCESS_TTL": "forever", "TOKTOK_DEPTH_LIMIT": "many"})
	wantProblems(t, err,
		"--mode", "--introspection", "--playground", "notanip", "10.0.0.0/33", "--cors-origins", "--log-level",
		"--log-format", "--jwt-alg", "--port", "--body-limit", "--password-min-length", "--antispam-value", "--store",
		"TOKTOK_ANOJWT", "TOKTOK_ACCESS_TTL", "TOKTOK_DEPTH_LIMIT")
}

func TestLoadCORSOrigins(t *testing.T) {
	c := mustLoad(t, []string{"--cors-origins= https://app.example.com ,http://localhost:5173/,, "}, nil)
	if !slices.Equal(c.HTTP.CORSOrigins, []string{"https://app.example.com", "http://localhost:5173/"}) {
		t.Errorf("cors %q", c.HTTP.CORSOrigins)
	}
	for _, bad := range []string{"*", "https://app.example.com,*", "app.example.com", "https://app.example.com/path"} {
		_, err := load(t, []string{"--cors-origins=" + bad}, nil)
		wantProblems(t, err, "--cors-origins")
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_CORS_ORIGINS": "*"})
	wantProblems(t, err, "'*'")
	// Validate refuses '*' when set by hand too.
	c = Default()
	c.HTTP.CORSOrigins = []string{"*"}
	if err := c.Validate(); err == nil {
		t.Error("Validate accepts '*'")
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	c := mustLoad(t, []string{"--trusted-proxies=10.0.0.1, 192.168.0.0/16,::1, 10.1.2.3/8,2001:db8::/32,::ffff:172.16.0.1"}, nil)
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("::1/128"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("172.16.0.1/32"),
	}
	if !slices.Equal(c.HTTP.TrustedProxies, want) {
		t.Errorf("trusted proxies %v, want %v", c.HTTP.TrustedProxies, want)
	}
	c = mustLoad(t, nil, map[string]string{"TOKTOK_TRUSTED_PROXIES": "127.0.0.1"})
	if !slices.Equal(c.HTTP.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}) {
		t.Errorf("from the environment: %v", c.HTTP.TrustedProxies)
	}
	if c := mustLoad(t, []string{"--trusted-proxies="}, nil); len(c.HTTP.TrustedProxies) != 0 {
		t.Errorf("empty list gives %v", c.HTTP.TrustedProxies)
	}
	_, err := load(t, []string{"--trusted-proxies=proxy.local,10.0.0.0/40,1.2.3.4"}, nil)
	wantProblems(t, err, "proxy.local", "10.0.0.0/40")
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

func TestLoadNumbersAndStore(t *testing.T) {
	c := mustLoad(t, []string{"--port=0", "--body-limit=2048", "--store=sqlite:/tmp/x.db", "--complexity-limit=50"}, nil)
	if c.HTTP.Port != 0 || c.HTTP.BodyLimit != 2048 || c.Store.SQLitePath() != "/tmp/x.db" || c.HTTP.ComplexityLimit != 50 {
		t.Errorf("%+v %q", c.HTTP, c.Store.SQLitePath())
	}
	for uri, path := range map[string]string{
		"": "d/toktok.db", "sqlite:/a.db": "/a.db", "sqlite:///a.db": "/a.db", "file:a.db": "a.db", "a.db": "a.db", "mongodb://h/db": "",
	} {
		if got := (Store{URI: uri, DataDir: "d"}).SQLitePath(); got != path {
			t.Errorf("SQLitePath(%q) = %q, want %q", uri, got, path)
		}
	}
	for _, args := range [][]string{
		{"--port=-1"}, {"--port=65536"}, {"--depth-limit=0"}, {"--alias-limit=-1"}, {"--token-limit=0"},
		{"--password-max-length=5000"}, {"--password-min-length=20", "--password-max-length=16"},
		{"--argon2-threads=0"}, {"--argon2-memory=1"}, {"--hash-concurrency=-1"}, {"--jwt-audience="},
	} {
		if _, err := load(t, args, nil); err == nil {
			t.Errorf("%q accepted", args)
		}
	}
	if c := mustLoad(t, []string{"--host=::1", "--port=8080"}, nil); c.HTTP.Addr() != "[::1]:8080" {
		t.Errorf("Addr = %q", c.HTTP.Addr())
	}
	if c := mustLoad(t, []string{"--jwt-issuer=https://issuer.example.com", "--public-url=https://auth.example.com"}, nil); c.Token.Issuer != "https://issuer.example.com" {
		t.Errorf("an explicit issuer was replaced: %q", c.Token.Issuer)
	}
}
