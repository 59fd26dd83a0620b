package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// The tests of each section's defaults, flags and rules are in the section's own
// _test.go file; this one holds the helpers and what spans sections: the environment
// fallback, the modes, and the order of Validate's report.

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
	"--refresh-secret-file=/keys/refresh", "--ecdh-key-file=/keys/ec.pem", "--allow-embedded-store=yes",
	"--smtp-host=smtp.example.com", "--mail-from=TokTok <no-reply@example.com>",
}

func TestLoadDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Mode != ModeDefault || !c.Mode.Dev() {
		t.Errorf("mode %q", c.Mode)
	}
	// Load with nothing set is Default() plus what finishing derives (the issuer).
	want := Default()
	want.Token.Issuer = "http://localhost:4100"
	want.HTTP.Introspection, want.HTTP.Playground = true, true
	want.Mail.DevInbox = true
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load(nil) = %+v\nwant %+v", c, want)
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
			wantProblems(t, err, "--public-url", "--jwt-key-file", "--refresh-secret-file", "--ecdh-key-file", "--store")
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
		db := filepath.Join(t.TempDir(), "toktok.db")
		c := mustLoad(t, nil, map[string]string{
			"TOKTOK_MODE": "production", "TOKTOK_PUBLIC_URL": "https://auth.example.com/", "TOKTOK_JWT_KEY_FILE": "/k/jwt.pem",
			"TOKTOK_REFRESH_SECRET_FILE": "/k/refresh", "TOKTOK_ECDH_KEY_FILE": "/k/ec.pem", "TOKTOK_STORE": "sqlite:" + db,
			"TOKTOK_SMTP_HOST": "smtp.example.com", "TOKTOK_MAIL_FROM": "no-reply@example.com",
		})
		if c.Mode != ModeProduction || c.HTTP.PublicURL != "https://auth.example.com" || c.Store.SQLitePath() != db {
			t.Errorf("mode %s public url %q store %q", c.Mode, c.HTTP.PublicURL, c.Store.SQLitePath())
		}
	})
	t.Run("no key needed without salt", func(t *testing.T) {
		args := []string{"--mode=production", "--salt=no"}
		for _, a := range prodArgs {
			if !strings.HasPrefix(a, "--ecdh-key-file") {
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

// otherValue returns a value for f that its parser accepts and that differs from its
// default, so that setting it must show in the loaded Config or in its problems.
func otherValue(t *testing.T, f *flag.Flag) string {
	t.Helper()
	// Enumerated and structured strings get a meaningful value; free text gets any.
	special := map[string]string{
		"mode": "preprod", "introspection": "no", "playground": "no", "jwt-alg": "eddsa",
		"log-level": "debug", "log-format": "json", "mail-sender": "smtp", "smtp-tls": "implicit",
		"link-token-in": "query", "public-url": "https://auth.example.com/",
		"cors-origins": "https://a.example.com, https://b.example.com", "trusted-proxies": "10.0.0.0/8, ::1",
		"confirm-url": "https://app.example.com/confirm", "reset-url": "https://app.example.com/reset",
		"store": "mongodb://db.example.com/toktok", "jwt-verify-key-files": "a.pem, RS256:b.pem",
		"admin-emails":       "Root@Example.com, boss@example.org",
		"mfa-required-roles": "admin, STAFF", "webauthn-rp-id": "example.com",
		"webauthn-origins": "https://app.example.com, https://auth.example.com/",
	}
	if v, ok := special[f.Name]; ok {
		return v
	}
	switch v := f.Value.(type) {
	case yesNo:
		if v.String() == "yes" {
			return "no"
		}
		return "yes"
	case rateFlag:
		return "7/3m"
	case flag.Getter:
		switch v.Get().(type) {
		case string:
			return "some-" + f.Name
		case int, int64, uint:
			return "3"
		case float64:
			return "0.5"
		case time.Duration:
			return "17s"
		}
	}
	t.Fatalf("--%s: no test value for a %T", f.Name, f.Value)
	return ""
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Every flag, aliases included, must be settable by its variable with the same effect.
// The flags are taken from the FlagSet itself, so a flag added later is covered too.
func TestEveryFlagHasAWorkingVariable(t *testing.T) {
	c := Default()
	fs, _ := newFlagSet(&c)
	base, baseErr := load(t, nil, nil)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		t.Run(f.Name, func(t *testing.T) {
			v := otherValue(t, f)
			fromFlag, flagErr := load(t, []string{"--" + f.Name + "=" + v}, nil)
			fromEnv, envErr := load(t, nil, map[string]string{EnvName(f.Name): v})
			if !reflect.DeepEqual(fromFlag, fromEnv) {
				t.Errorf("--%s=%q and %s differ:\nflag %+v\nvar  %+v", f.Name, v, EnvName(f.Name), fromFlag, fromEnv)
			}
			// A problem names the setting as it was written: the flag, or the variable.
			if errText(flagErr) != strings.ReplaceAll(errText(envErr), EnvName(f.Name), "--"+f.Name) {
				t.Errorf("--%s=%q and %s: problems differ:\nflag %v\nvar  %v", f.Name, v, EnvName(f.Name), flagErr, envErr)
			}
			if reflect.DeepEqual(fromEnv, base) && errText(envErr) == errText(baseErr) {
				t.Errorf("%s=%q changed nothing", EnvName(f.Name), v)
			}
		})
	})
	if n < 80 {
		t.Errorf("only %d flags registered", n)
	}
}

// manyProblems is a production configuration wrong in every section.
func manyProblems() Config {
	c := Default()
	c.Mode = ModeProduction
	c.HTTP.Port, c.HTTP.PublicURL, c.HTTP.BodyLimit = -1, "ftp://auth.example.com", 10
	c.HTTP.CORSOrigins = []string{"*", "app.example.com"}
	c.HTTP.ComplexityLimit, c.HTTP.DepthLimit, c.HTTP.TokenLimit, c.HTTP.AliasLimit = 0, 0, 0, 0
	c.Store.AuditRetention = -1
	c.Token.Alg, c.Token.Audience, c.Token.Leeway, c.Token.RefreshGrace = "none", "", -1, 2*time.Minute
	c.Token.AccessTTL, c.Token.AnonTTL, c.Token.RefreshIdleTTL, c.Token.RefreshAbsoluteTTL = 0, 0, 0, -1
	c.Account.Antispam, c.Account.PasswordMinLength, c.Account.PasswordMaxLength = true, 4, 5000
	c.Password.Threads, c.Password.Time, c.Password.Wait, c.Password.Concurrency = 0, 1, -1, -1
	c.Password.Floor = -1
	c.Log.Level, c.Log.Format = "loud", "xml"
	c.Mail.SMTPTLS, c.Mail.SMTPPort, c.Mail.SMTPPassword, c.Mail.SMTPPasswordFile, c.Mail.MaxAttempts = "tls", -1, "pw", "/pw", 0
	c.Links.ConfirmURL, c.Links.ResetURL, c.Links.TokenIn = "http://app.example.com/#/confirm", "reset", "cookie"
	c.Links.ConfirmTTL, c.Links.ResetTTL, c.Links.EmailChangeTTL = 0, 0, -1
	return c
}

// The documented order of Validate: each section's rules in the order of the Config
// fields, then what production mode demands of each section, in the same order.
var manyProblemsReport = []string{
	// HTTP
	`--port: -1 is not a TCP port`,
	`--public-url: "ftp://auth.example.com" is not an absolute http(s) URL`,
	`--cors-origins: '*' is refused; list the origins`,
	`--cors-origins: "app.example.com" is not an origin like https://app.example.com`,
	`--body-limit: 10 is too small (1024 at least)`,
	`--complexity-limit: must be positive`,
	`--depth-limit: must be positive`,
	`--token-limit: must be positive`,
	`--alias-limit: must be positive`,
	// Store
	`--audit-retention: must not be negative`,
	// Token
	`--jwt-alg: "none" is not one of ES256, EdDSA, PS256, RS256, HS256`,
	`--jwt-audience: must not be empty`,
	`--access-ttl: must be positive`,
	`--anonymous-ttl: must be positive`,
	`--refresh-idle-ttl: must be positive`,
	`--refresh-absolute-ttl: must be positive`,
	`--jwt-leeway: must be between 0 and 5m`,
	`--refresh-grace: must be between 0 and 1m`,
	`--refresh-idle-ttl: longer than --refresh-absolute-ttl`,
	// Account
	`--antispam-value: required with --antispam=yes`,
	`--password-min-length: 4 is below 8`,
	`--password-max-length: must be between --password-min-length and 4096`,
	// Password
	`--argon2-memory/--argon2-time/--argon2-threads: out of range (threads 1..255, memory 8×threads KiB..2 GiB, time 1..64)`,
	`--hash-wait: must not be negative`,
	`--hash-floor: between 0 and 10s`,
	`--hash-concurrency: must not be negative`,
	// Log
	`--log-level: "loud" is not one of debug, info, warn, error`,
	`--log-format: "xml" is not text or json`,
	// Mail
	`--smtp-tls: "tls" is not none, starttls or implicit`,
	`--smtp-host: required to send mail over SMTP (or --mail-sender=log)`,
	`--smtp-port: -1 is not a TCP port`,
	`--smtp-password and --smtp-password-file: set one`,
	`--mail-max-attempts/--mail-backoff/--mail-max-backoff/--mail-poll-interval: out of range`,
	// Links
	`--confirm-url: "http://app.example.com/#/confirm" is not an absolute http(s) URL without a fragment`,
	`--reset-url: "reset" is not an absolute http(s) URL without a fragment`,
	`--link-token-in: "cookie" is not fragment or query`,
	`--confirm-ttl: must be positive`,
	`--reset-ttl: must be positive`,
	`--email-change-ttl: must be positive`,
	// What production mode demands, section by section.
	`--public-url: must be https in production mode`,
	`--store: required in production mode (or --allow-embedded-store=yes for a single-instance SQLite deployment)`,
	`--jwt-key-file: required in production mode (generated keys are for development)`,
	`--refresh-secret-file: required in production mode`,
	`--ecdh-key-file: required in production mode with --salt=yes (or --salt-alg=rsa-oaep-256 with --rsa-key-file)`,
	`--argon2-memory × --argon2-time: below the OWASP minimum (e.g. 19456 KiB × 2) in production mode`,
	`--mail-from: required in production mode`,
	`--confirm-url: must be https in production mode`,
	`--reset-url: must be https in production mode`,
}

func TestValidateReportsInAStableOrder(t *testing.T) {
	c := manyProblems()
	first := errText(c.Validate())
	for i := range 20 {
		if got := errText(c.Validate()); got != first {
			t.Fatalf("run %d reported differently:\n%s\n--- first run:\n%s", i, got, first)
		}
	}
	var got []string
	for _, e := range leaves(c.Validate()) {
		got = append(got, e.Error())
	}
	if !slices.Equal(got, manyProblemsReport) {
		t.Errorf("report:\n%s\n--- want:\n%s", strings.Join(got, "\n"), strings.Join(manyProblemsReport, "\n"))
	}
	if first != strings.Join(manyProblemsReport, "\n") {
		t.Errorf("Error() is not the problems one per line:\n%s", first)
	}
}

// Load's own problems (variables, then the finishing of the flags) come before
// Validate's, in a fixed order too.
func TestLoadReportsInAStableOrder(t *testing.T) {
	args := []string{
		"--mode=bogus", "--introspection=maybe", "--playground=perhaps", "--trusted-proxies=notanip,10.0.0.0/33",
		"--cors-origins=*", "--log-level=loud", "--jwt-alg=none", "--port=70000",
	}
	vars := map[string]string{"TOKTOK_ANOJWT": "maybe", "TOKTOK_ACCESS_TTL": "forever", "TOKTOK_DEPTH_LIMIT": "many", "TOKTOK_RSA": "x"}
	_, err := load(t, args, vars)
	first := errText(err)
	for i := range 20 {
		if _, err := load(t, args, vars); errText(err) != first {
			t.Fatalf("run %d reported differently:\n%s\n--- first run:\n%s", i, errText(err), first)
		}
	}
	want := []string{
		"TOKTOK_ACCESS_TTL", "TOKTOK_ANOJWT", "TOKTOK_DEPTH_LIMIT", "TOKTOK_RSA", // variables by flag name, aliases last
		"--mode", "--introspection", "--playground", "notanip", "10.0.0.0/33", // finishing
		"--port", "--cors-origins", "--jwt-alg", "--log-level", // Validate
	}
	at := 0
	for _, w := range want {
		i := strings.Index(first[at:], w)
		if i < 0 {
			t.Fatalf("%q missing or out of order in:\n%s", w, first)
		}
		at += i + len(w)
	}
}

func ExampleConfig_Validate() {
	c := Default()
	c.Log.Level = "loud"
	c.HTTP.Port = -1
	fmt.Println(c.Validate())
	// Output:
	// --port: -1 is not a TCP port
	// --log-level: "loud" is not one of debug, info, warn, error
}

// TestProductionRefusesLeakySettings: production never logs mails, never sends
// them in clear to a remote relay, and serves links over https only.
func TestProductionRefusesLeakySettings(t *testing.T) {
	base := []string{
		"--mode=production", "--public-url=https://auth.example.com", "--jwt-key-file=/k/j", "--refresh-secret-file=/k/r",
		"--ecdh-key-file=/k/ec", "--allow-embedded-store=yes", "--smtp-host=smtp.example.com", "--mail-from=a@example.com",
	}
	for flag, want := range map[string]string{
		"--mail-sender=log":                    "--mail-sender=log",
		"--smtp-tls=none":                      "--smtp-tls=none",
		"--public-url=http://auth.example.com": "--public-url: must be https",
		"--reset-url=http://app.example.com/r": "--reset-url: must be https",
		"--argon2-memory=1024":                 "OWASP",
		"--trusted-proxies=0.0.0.0/0":          "--trusted-proxies",
	} {
		_, err := Load(append(append([]string{}, base...), flag), func(string) (string, bool) { return "", false }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a problem naming %q", flag, err, want)
		}
	}
	if _, err := Load(append(append([]string{}, base...), "--smtp-tls=none", "--smtp-host=127.0.0.1"), func(string) (string, bool) { return "", false }, io.Discard); err != nil {
		t.Errorf("a loopback relay without TLS is refused: %v", err)
	}
}
