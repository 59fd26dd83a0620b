package app

import (
	"io"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mailer"
)

// allSet is a configuration in which every setting differs from config.Default(), as an
// operator could write it. TestAllSetChangesEverySetting keeps it complete: a setting
// added to config without a value here fails that test first.
func allSet() config.Config {
	return config.Config{
		Mode: config.ModeProduction,
		HTTP: config.HTTP{
			Host: "0.0.0.0", Port: 8443, PublicURL: "https://auth.example.com",
			CORSOrigins:    []string{"https://app.example.com"},
			TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
			BodyLimit:      128 << 10,
			ReadTimeout:    11 * time.Second, WriteTimeout: 31 * time.Second,
			IdleTimeout: 121 * time.Second, ShutdownTimeout: 21 * time.Second,
			GraphQLGet: false, Introspection: true, Playground: true, PlaygroundAssetsDir: "/srv/graphiql", PlaygroundCDN: true,
			AccountConsole: false, AdminConsole: false,
			ComplexityLimit: 201, DepthLimit: 9, TokenLimit: 1001, AliasLimit: 11,
			DebugAddr: "127.0.0.1:6061", MetricsAddr: "127.0.0.1:9101",
		},
		Store: config.Store{
			URI: "mongodb://db.example:27017", Database: "authdb", DataDir: "/srv/toktok",
			AllowEmbedded: true, AuditRetention: 90 * 24 * time.Hour, PurgeInterval: 7 * time.Minute,
			UnconfirmedTTL: 3 * 24 * time.Hour,
		},
		Token: config.Token{
			Alg: "EdDSA", KeyFile: "/keys/jwt.pem", VerifyKeyFiles: []string{"ES256:/keys/old.pem"},
			Issuer: "https://issuer.example.com", Audience: "suite",
			AccessTTL: 16 * time.Minute, AnonTTL: 13 * time.Hour, Leeway: 31 * time.Second,
			RefreshSecretFile:  "/keys/refresh",
			RefreshIdleTTL:     8 * 24 * time.Hour,
			RefreshAbsoluteTTL: 31 * 24 * time.Hour,
			RefreshGrace:       11 * time.Second,
		},
		Credentials: config.Credentials{Encrypt: false, Alg: config.SaltRSA, KeyFile: "/keys/rsa.pem", ECDHKey: "/keys/ec.pem", PrevKeys: []string{"/keys/old.pem"}},
		Account: config.Account{
			AnonJWT: false, Antispam: true, AntispamValue: "bee", RegistrationOpen: false,
			PasswordMinLength: 13, PasswordMaxLength: 257,
			FirstAdmin: false, AdminEmails: []string{"root@example.com"},
			EnumerationProtection: true,
		},
		Password: config.Password{MemoryKiB: 47104, Time: 1, Threads: 2, Concurrency: 3, Wait: 3 * time.Second, Floor: 25 * time.Millisecond},
		Log:      config.Log{Level: "debug", Format: "json", OTLPEndpoint: "http://otel.example:4318", TraceSampleRatio: 0.5},
		Mail: config.Mail{
			Sender: "smtp", SMTPHost: "smtp.example.com", SMTPPort: 465, SMTPUsername: "mailer",
			SMTPPassword: "flag-secret", SMTPPasswordFile: "/keys/smtp", SMTPTLS: "implicit",
			SMTPTimeout: 16 * time.Second, From: "Auth <no-reply@example.com>", AppName: "Acme",
			TemplatesDir: "/srv/templates", MaxAttempts: 9, BaseBackoff: 31 * time.Second,
			MaxBackoff: 2 * time.Hour, PollInterval: 3 * time.Second,
			DevInbox: true, DevInboxRemote: true, // as wire sees them: Load allows them only in default mode
		},
		Links: config.Links{
			ConfirmURL: "https://app.example.com/confirm", ResetURL: "https://app.example.com/reset",
			TokenIn: "query", ConfirmTTL: 25 * time.Hour, ResetTTL: 2 * time.Hour, EmailChangeTTL: 26 * time.Hour,
		},
		Limits: config.Limits{
			LoginFailures: config.Rate{N: 6, Window: 16 * time.Minute}, LoginMaxCooldown: 25 * time.Hour,
			IPLogin: config.Rate{N: 31, Window: 2 * time.Minute}, IPRegister: config.Rate{N: 11, Window: 2 * time.Hour},
			IPAnonymousToken: config.Rate{N: 61, Window: 3 * time.Minute}, IPForgotPassword: config.Rate{N: 12, Window: 3 * time.Hour},
			IPEmailLinks: config.Rate{N: 32, Window: 4 * time.Minute}, IPEmailChanges: config.Rate{N: 13, Window: 5 * time.Hour},
			ResetMails: config.Rate{N: 4, Window: 4 * time.Hour}, ConfirmResends: config.Rate{N: 5, Window: 5 * time.Hour},
			EmailChanges: config.Rate{N: 6, Window: 6 * time.Hour},
		},
		MFA: config.MFA{
			RequiredRoles: []string{"ADMIN", "STAFF"}, WebAuthnRPID: "example.com", WebAuthnRPName: "Acme Sign-in",
			WebAuthnOrigins: []string{"https://app.example.com", "https://auth.example.com"},
			SecretFile:      "/keys/mfa",
		},
	}
}

// setting is one leaf of config.Config: a field that is not itself a section.
type setting struct {
	name  string // Section.Field, e.g. "Limits.EmailChanges.N"
	index []int
}

// settings lists every leaf of config.Config. Sections and config.Rate are walked into;
// anything else (a string, a number, a duration, a list) is one setting.
func settings() []setting {
	var out []setting
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			idx := append(append([]int{}, index...), i)
			if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == reflect.TypeFor[config.Config]().PkgPath() {
				walk(f.Type, prefix+f.Name+".", idx)
				continue
			}
			out = append(out, setting{prefix + f.Name, idx})
		}
	}
	walk(reflect.TypeFor[config.Config](), "", nil)
	return out
}

func field(c *config.Config, s setting) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByIndex(s.index)
}

// validationOnly are settings that change no service, only what Validate accepts; each is
// checked to do that below.
var validationOnly = map[string]bool{
	"Store.AllowEmbedded": true,
}

// flipTo gives, for settings whose default means the same as allSet's value in allSet's
// context, another value to flip to.
var flipTo = map[string]any{
	"Mail.Sender": "log", // "" means smtp outside the default mode
}

func TestAllSetChangesEverySetting(t *testing.T) {
	all, def := allSet(), config.Default()
	n := 0
	for _, s := range settings() {
		n++
		if reflect.DeepEqual(field(&all, s).Interface(), field(&def, s).Interface()) {
			t.Errorf("allSet leaves %s at its default: give it another value", s.name)
		}
	}
	if n < 90 {
		t.Fatalf("only %d settings found: the walk is broken", n)
	}
}

// TestEverySettingReachesItsService flips each setting of allSet back (to its default, or
// to flipTo's value) one at a time and checks that what New builds the services from
// changes. A setting that is parsed and validated but dropped on its way to the code that
// uses it fails here.
func TestEverySettingReachesItsService(t *testing.T) {
	base := wire(allSet())
	def := config.Default()
	for _, s := range settings() {
		if validationOnly[s.name] {
			continue
		}
		c := allSet()
		if v, ok := flipTo[s.name]; ok {
			field(&c, s).Set(reflect.ValueOf(v))
		} else {
			field(&c, s).Set(field(&def, s))
		}
		if reflect.DeepEqual(wire(c), base) {
			t.Errorf("%s: changing it changes no service's configuration (dropped by wire?)", s.name)
		}
	}
}

func TestValidationOnlySettingsChangeValidation(t *testing.T) {
	c := allSet()
	c.Store.URI = "" // production on the embedded store: allowed only with AllowEmbedded
	c.Store.AllowEmbedded = false
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--store") {
		t.Errorf("production on SQLite without --allow-embedded-store: %v", err)
	}
	c.Store.AllowEmbedded = true
	if err := c.Validate(); err != nil && strings.Contains(err.Error(), "--store") {
		t.Errorf("--allow-embedded-store=yes does not lift the refusal: %v", err)
	}
}

// Spot checks of the translation itself, where wire does more than copy.
func TestWireTranslates(t *testing.T) {
	w := wire(allSet())
	if w.PublicURL != "https://auth.example.com" || w.Account.Links.ConfirmURL != "https://app.example.com/confirm" {
		t.Errorf("public URL %q, confirm URL %q", w.PublicURL, w.Account.Links.ConfirmURL)
	}
	if !w.Account.Links.TokenInQuery || w.Account.Limits.EmailChanges.N != 6 {
		t.Errorf("links %+v, email-change limit %+v", w.Account.Links, w.Account.Limits.EmailChanges)
	}
	if w.Mail.SMTP == nil || w.Mail.SMTP.TLS != "implicit" || w.Mail.SMTPPasswordFile != "/keys/smtp" {
		t.Errorf("smtp %+v", w.Mail.SMTP)
	}
	if w.HTTP.DevOrigins || w.Log.Level.String() != "DEBUG" || !w.Log.JSON {
		t.Errorf("dev origins %v, log %+v", w.HTTP.DevOrigins, w.Log)
	}
	if w.Store.MongoURI == "" || w.Store.SQLitePath != "" {
		t.Errorf("store %+v", w.Store)
	}

	d := wire(config.Default())
	if d.Mail.SMTP != nil {
		t.Errorf("default mode sends over SMTP: %+v", d.Mail.SMTP)
	}
	if d.PublicURL != "http://localhost:4100" || d.Account.Links.ResetURL != "http://localhost:4100/reset-password" {
		t.Errorf("default public URL %q, reset URL %q", d.PublicURL, d.Account.Links.ResetURL)
	}
	if !d.HTTP.DevOrigins || d.Store.SQLitePath == "" || d.Store.MongoURI != "" {
		t.Errorf("default: dev origins %v, store %+v", d.HTTP.DevOrigins, d.Store)
	}
}

// The password policy refuses the name users know the service by: the configured app
// name, whatever its case, and no longer the software's own name once another is set. A
// name shorter than 3 code points is not checked (it would refuse too many passwords).
func TestWireAppNameIsThePasswordServiceName(t *testing.T) {
	for _, tc := range []struct {
		appName  string
		password string
		refused  bool
	}{
		{"TokTok", "rocket skates by TOKTOK", true},
		{"TokTok", "rocket skates by acme", false},
		{"Acme", "rocket skates by aCmE", true},
		{"Acme", "rocket skates by toktok", false},
		{"Acme Rockets", "i love acme rockets", true},
		{"Acme Rockets", "rocket skates by acme", false},
		{"Go", "good dogs go far", false},
		{" Go ", "good dogs go far", false},
	} {
		c := config.Default()
		c.Mail.AppName = tc.appName
		reasons := wire(c).Account.Policy.Check(tc.password, "ann@example.com")
		if got := slices.Contains(reasons, "contains_service_name"); got != tc.refused {
			t.Errorf("--app-name=%q, password %q: reasons %q, want refused %v", tc.appName, tc.password, reasons, tc.refused)
		}
	}
}

// TestWireSMTPPortFollowsTLSMode: with only --smtp-tls set, the relay's port is the TLS
// mode's (implicit TLS alone dials 465, not the STARTTLS port); an explicit --smtp-port
// wins over it.
func TestWireSMTPPortFollowsTLSMode(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--smtp-tls=implicit"}, "smtp.example.com:465"},
		{[]string{"--smtp-tls=starttls"}, "smtp.example.com:587"},
		{nil, "smtp.example.com:587"},
		{[]string{"--smtp-tls=none"}, "smtp.example.com:25"},
		{[]string{"--smtp-tls=implicit", "--smtp-port=2465"}, "smtp.example.com:2465"},
	} {
		args := append([]string{"--mail-sender=smtp", "--smtp-host=smtp.example.com", "--mail-from=a@example.com"}, tc.args...)
		cfg, err := config.Load(args, func(string) (string, bool) { return "", false }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		w := wire(cfg)
		if w.Mail.SMTP == nil {
			t.Fatalf("%v: no SMTP relay wired", args)
		}
		s, err := mailer.NewSMTPSender(*w.Mail.SMTP)
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := s.Addr(); got != tc.want {
			t.Errorf("%v: relay %s, want %s", tc.args, got, tc.want)
		}
	}
}

// TestWireDevInbox: --dev-inbox reaches the mail wiring (with the inbox's URL for the log)
// and --dev-inbox-remote the HTTP surface, with the public URL whose host the inbox
// accepts; off outside the default mode.
func TestWireDevInbox(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		inbox  bool
		url    string
		remote bool
	}{
		{nil, true, "http://localhost:4100/dev/mail", false},
		{[]string{"--dev-inbox-remote=yes", "--public-url=http://devbox.lan:4100/"}, true, "http://devbox.lan:4100/dev/mail", true},
		{[]string{"--dev-inbox=no"}, false, "", false},
		{[]string{"--mode=dev_email"}, false, "", false},
	} {
		cfg, err := config.Load(tc.args, func(string) (string, bool) { return "", false }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		w := wire(cfg)
		if w.Mail.DevInbox != tc.inbox || w.Mail.DevInboxURL != tc.url || w.HTTP.DevInboxRemote != tc.remote {
			t.Errorf("%v: inbox %v at %q, remote %v; want %v at %q, %v",
				tc.args, w.Mail.DevInbox, w.Mail.DevInboxURL, w.HTTP.DevInboxRemote, tc.inbox, tc.url, tc.remote)
		}
		if want := cfg.HTTP.PublicBase(); w.HTTP.PublicURL != want {
			t.Errorf("%v: HTTP public URL %q, want %q", tc.args, w.HTTP.PublicURL, want)
		}
	}
}

// TestWirePasskeysDerivesTheRelyingParty: with nothing set, passkeys are bound to the host
// of the public URL, with its origin allowed and the app name shown; settings win.
func TestWirePasskeysDerivesTheRelyingParty(t *testing.T) {
	c := config.Default()
	c.HTTP.PublicURL = "https://auth.example.com:8443"
	c.Mail.AppName = "Acme"
	got := wirePasskeys(c)
	if got.RPID != "auth.example.com" || !slices.Equal(got.Origins, []string{"https://auth.example.com:8443"}) || got.RPDisplayName != "Acme" {
		t.Errorf("derived %+v", got)
	}
	c.MFA = config.MFA{WebAuthnRPID: "example.com", WebAuthnOrigins: []string{"https://app.example.com"}, WebAuthnRPName: "Sign-in"}
	got = wirePasskeys(c)
	if got.RPID != "example.com" || !slices.Equal(got.Origins, []string{"https://app.example.com"}) || got.RPDisplayName != "Sign-in" {
		t.Errorf("set %+v", got)
	}
}
