// Package config holds TokTok's one typed configuration: every setting has a command-line
// flag and a TOKTOK_* environment variable, a default that lets `go run .` work on a bare
// machine, and a validation that reports every problem at once, so an operator fixes a
// broken deployment in one round instead of one error per restart.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/mail"
	"net/netip"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Mode is the original service's --mode.
type Mode string

// The modes. Default and DevEmail are development modes: they generate missing keys and
// allow the embedded store; Preprod and Production refuse to start without them.
const (
	ModeDefault    Mode = "default"
	ModeDevEmail   Mode = "dev_email"
	ModePreprod    Mode = "preprod"
	ModeProduction Mode = "production"
)

// Dev reports whether m is a development mode.
func (m Mode) Dev() bool { return m == ModeDefault || m == ModeDevEmail }

// Config is the whole configuration. Each package receives only its own section.
type Config struct {
	Mode        Mode
	HTTP        HTTP
	Store       Store
	Token       Token
	Credentials Credentials
	Account     Account
	Password    Password
	Log         Log
	Mail        Mail
	Links       Links
	Limits      Limits
}

// HTTP is the server's section.
type HTTP struct {
	Host                string
	Port                int
	PublicURL           string // external base URL; required in preprod/production
	CORSOrigins         []string
	TrustedProxies      []netip.Prefix
	BodyLimit           int64
	ReadTimeout         time.Duration
	WriteTimeout        time.Duration
	IdleTimeout         time.Duration
	ShutdownTimeout     time.Duration
	GraphQLGet          bool
	Introspection       bool
	Playground          bool
	PlaygroundAssetsDir string
	ComplexityLimit     int
	DepthLimit          int
	TokenLimit          int
	AliasLimit          int
}

// Addr is host:port to listen on.
func (h HTTP) Addr() string { return netJoin(h.Host, h.Port) }

// Store selects and locates the backend.
type Store struct {
	URI           string // "" = SQLite file in DataDir; sqlite:PATH; mongodb:// or mongodb+srv://
	Database      string // MongoDB database when the URI names none (default "toktok")
	DataDir       string
	AllowEmbedded bool // preprod/production may use SQLite only when this is set
	// AuditRetention is how long audit events are kept; 0 keeps them forever.
	AuditRetention time.Duration
}

// MongoDB reports whether URI names a MongoDB deployment.
func (s Store) MongoDB() bool {
	return strings.HasPrefix(s.URI, "mongodb://") || strings.HasPrefix(s.URI, "mongodb+srv://")
}

// SQLitePath returns the SQLite file to open, or "" when URI names another backend.
func (s Store) SQLitePath() string {
	switch {
	case s.URI == "":
		return filepath.Join(s.DataDir, "toktok.db")
	case strings.HasPrefix(s.URI, "sqlite://"):
		return strings.TrimPrefix(s.URI, "sqlite://")
	case strings.HasPrefix(s.URI, "sqlite:"):
		return strings.TrimPrefix(s.URI, "sqlite:")
	case strings.HasPrefix(s.URI, "file:"):
		return strings.TrimPrefix(s.URI, "file:")
	case !strings.Contains(s.URI, "://"):
		return s.URI
	}
	return ""
}

// Token is the JWT and refresh-token section.
type Token struct {
	Alg                string
	KeyFile            string   // PEM private key (or HS256 secret); generated in DataDir in dev modes
	VerifyKeyFiles     []string // "[ALG:]path" of retired keys still accepted and published
	Issuer             string
	Audience           string
	AccessTTL          time.Duration
	AnonTTL            time.Duration
	Leeway             time.Duration
	RefreshSecretFile  string
	RefreshIdleTTL     time.Duration
	RefreshAbsoluteTTL time.Duration
	RefreshGrace       time.Duration
}

// Credentials is the --salt section: RSA-OAEP-256 encryption of credential fields.
type Credentials struct {
	Encrypt bool
	KeyFile string // PEM RSA private key; generated in DataDir in dev modes
}

// Account is the sign-up and sign-in rules.
type Account struct {
	AnonJWT           bool
	Antispam          bool
	AntispamValue     string
	RegistrationOpen  bool
	PasswordMinLength int
	PasswordMaxLength int
}

// Password is the argon2id cost.
type Password struct {
	MemoryKiB   uint
	Time        uint
	Threads     uint
	Concurrency int           // simultaneous hashes; 0 = number of CPUs
	Wait        time.Duration // longest wait for a hashing slot; 0 = as long as the request lives
}

// Mail is the outgoing-mail section.
type Mail struct {
	Sender           string // "log" or "smtp"; "" = log in default mode, smtp otherwise
	SMTPHost         string
	SMTPPort         int
	SMTPUsername     string
	SMTPPassword     string // prefer SMTPPasswordFile or the variable: flags show in ps
	SMTPPasswordFile string
	SMTPTLS          string // none | starttls | implicit
	SMTPTimeout      time.Duration
	From             string // "TokTok <no-reply@example.com>"
	AppName          string // shown in mails and pages
	TemplatesDir     string // override templates
	MaxAttempts      int
	BaseBackoff      time.Duration
	MaxBackoff       time.Duration
	PollInterval     time.Duration
}

// UseSMTP reports whether mails go out over SMTP (else to the log).
func (m Mail) UseSMTP(mode Mode) bool {
	if m.Sender != "" {
		return m.Sender == "smtp"
	}
	return mode != ModeDefault
}

// Links is where email links point and how long they live.
type Links struct {
	ConfirmURL     string // page or SPA route for signup and email-change confirmation
	ResetURL       string // page or SPA route for password reset
	TokenIn        string // "fragment" (default) or "query"
	ConfirmTTL     time.Duration
	ResetTTL       time.Duration
	EmailChangeTTL time.Duration
}

// Rate is a limit of N events per Window; N = 0 disables it.
type Rate struct {
	N      int
	Window time.Duration
}

func (r Rate) String() string {
	if r.N == 0 {
		return "0"
	}
	return strconv.Itoa(r.N) + "/" + r.Window.String()
}

// Limits are the abuse limits of the security policy. Counters live in the store, so
// every instance shares them.
type Limits struct {
	LoginFailures    Rate          // per account (canonical email), then a cooldown
	LoginMaxCooldown time.Duration // cooldowns double up to this
	IPLogin          Rate
	IPRegister       Rate
	IPAnonymousToken Rate
	IPForgotPassword Rate
	IPEmailLinks     Rate // confirmEmail, resetPassword
	ResetMails       Rate // per account
	ConfirmResends   Rate // per account
	EmailChanges     Rate // per account
}

// Log is the logging section.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
}

// Default returns the configuration of `go run .` with nothing set.
func Default() Config {
	return Config{
		Mode: ModeDefault,
		HTTP: HTTP{
			Host: "localhost", Port: 4100, BodyLimit: 64 << 10,
			ReadTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
			IdleTimeout: 120 * time.Second, ShutdownTimeout: 20 * time.Second,
			GraphQLGet: true, ComplexityLimit: 200, DepthLimit: 8, TokenLimit: 1000, AliasLimit: 10,
		},
		Store: Store{DataDir: "data", AuditRetention: 365 * 24 * time.Hour},
		Token: Token{
			Alg: "ES256", Issuer: "", Audience: "toktok",
			AccessTTL: 15 * time.Minute, AnonTTL: 12 * time.Hour, Leeway: 30 * time.Second,
			RefreshIdleTTL: 7 * 24 * time.Hour, RefreshAbsoluteTTL: 30 * 24 * time.Hour,
			RefreshGrace: 10 * time.Second,
		},
		Credentials: Credentials{Encrypt: true},
		Account: Account{
			AnonJWT: true, RegistrationOpen: true, PasswordMinLength: 12, PasswordMaxLength: 256,
		},
		Password: Password{MemoryKiB: 19456, Time: 2, Threads: 1, Wait: 10 * time.Second},
		Log:      Log{Level: "info", Format: "text"},
		Mail: Mail{
			SMTPPort: 587, SMTPTLS: "starttls", SMTPTimeout: 15 * time.Second, AppName: "TokTok",
			MaxAttempts: 8, BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour, PollInterval: 2 * time.Second,
		},
		Links: Links{
			TokenIn: "fragment", ConfirmTTL: 24 * time.Hour, ResetTTL: time.Hour, EmailChangeTTL: 24 * time.Hour,
		},
		Limits: Limits{
			LoginFailures: Rate{5, 15 * time.Minute}, LoginMaxCooldown: 24 * time.Hour,
			IPLogin: Rate{30, time.Minute}, IPRegister: Rate{10, time.Hour},
			IPAnonymousToken: Rate{60, time.Minute}, IPForgotPassword: Rate{10, time.Hour},
			IPEmailLinks: Rate{30, time.Minute},
			ResetMails:   Rate{3, time.Hour}, ConfirmResends: Rate{3, time.Hour},
		},
	}
}

// EnvPrefix is prepended to a flag's upper-cased, underscored name to form its variable.
const EnvPrefix = "TOKTOK_"

// EnvName returns the environment variable of a flag: "public-url" -> "TOKTOK_PUBLIC_URL".
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load fills a Config from args (without the program name) and the environment (lookup,
// usually os.LookupEnv). A flag given on the command line wins over its variable. The
// returned Config is validated; the error joins every problem found. flag.ErrHelp is
// returned after printing usage to out when -h/--help is asked for.
func Load(args []string, lookup func(string) (string, bool), out io.Writer) (Config, error) {
	c := Default()
	fs := flag.NewFlagSet("toktok", flag.ContinueOnError)
	fs.SetOutput(out)
	var (
		mode, introspection, playground = string(c.Mode), "auto", "auto"
		cors, proxies, verifyKeys       string
		salt                            = yesNo{&c.Credentials.Encrypt}
	)
	fs.StringVar(&mode, "mode", mode, "run mode: default | dev_email | preprod | production (aliases dev, prod)")
	fs.StringVar(&c.HTTP.Host, "host", c.HTTP.Host, "interface to listen on")
	fs.IntVar(&c.HTTP.Port, "port", c.HTTP.Port, "port to listen on")
	fs.StringVar(&c.HTTP.PublicURL, "public-url", "", "external base URL of this service, e.g. https://auth.example.com (required in preprod/production)")
	fs.StringVar(&cors, "cors-origins", "", "comma-separated origins allowed to call the API from a browser (localhost origins are allowed in dev modes)")
	fs.StringVar(&proxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed")
	fs.Int64Var(&c.HTTP.BodyLimit, "body-limit", c.HTTP.BodyLimit, "largest request body in bytes")
	fs.DurationVar(&c.HTTP.ReadTimeout, "read-timeout", c.HTTP.ReadTimeout, "HTTP read timeout")
	fs.DurationVar(&c.HTTP.WriteTimeout, "write-timeout", c.HTTP.WriteTimeout, "HTTP write timeout")
	fs.DurationVar(&c.HTTP.IdleTimeout, "idle-timeout", c.HTTP.IdleTimeout, "HTTP keep-alive idle timeout")
	fs.DurationVar(&c.HTTP.ShutdownTimeout, "shutdown-timeout", c.HTTP.ShutdownTimeout, "grace period for in-flight requests on SIGTERM")
	fs.Var(yesNo{&c.HTTP.GraphQLGet}, "graphql-get", "yes|no: accept queries (never mutations) over GET /graphql")
	fs.StringVar(&introspection, "introspection", introspection, "auto|yes|no: schema introspection (auto = on in dev modes)")
	fs.StringVar(&playground, "playground", playground, "auto|yes|no: GraphiQL IDE at /playground (auto = on in dev modes)")
	fs.StringVar(&c.HTTP.PlaygroundAssetsDir, "playground-assets-dir", "", "serve the IDE's GraphiQL/React files from this directory instead of a CDN")
	fs.IntVar(&c.HTTP.ComplexityLimit, "complexity-limit", c.HTTP.ComplexityLimit, "largest GraphQL query complexity")
	fs.IntVar(&c.HTTP.DepthLimit, "depth-limit", c.HTTP.DepthLimit, "deepest GraphQL selection")
	fs.IntVar(&c.HTTP.TokenLimit, "token-limit", c.HTTP.TokenLimit, "most lexical tokens in a GraphQL document")
	fs.IntVar(&c.HTTP.AliasLimit, "alias-limit", c.HTTP.AliasLimit, "most aliases in a GraphQL document")

	fs.StringVar(&c.Store.URI, "store", "", "store URI: empty for the SQLite file in --data-dir, sqlite:PATH, or mongodb://... / mongodb+srv://... (timeouts, pool size and TLS as URI options)")
	fs.StringVar(&c.Store.Database, "store-database", "", "MongoDB database when the URI names none (default toktok)")
	fs.StringVar(&c.Store.DataDir, "data-dir", c.Store.DataDir, "directory of the SQLite file and of keys generated in dev modes")
	fs.DurationVar(&c.Store.AuditRetention, "audit-retention", c.Store.AuditRetention, "how long audit events are kept (0 = forever)")
	fs.Var(yesNo{&c.Store.AllowEmbedded}, "allow-embedded-store", "yes|no: let preprod/production run on the embedded SQLite store")

	fs.StringVar(&c.Token.Alg, "jwt-alg", c.Token.Alg, "access-token algorithm: ES256 | EdDSA | PS256 | RS256 | HS256")
	fs.StringVar(&c.Token.KeyFile, "jwt-key-file", "", "PEM private key for --jwt-alg (HS256: a file of >= 32 secret bytes); generated in --data-dir in dev modes")
	fs.StringVar(&verifyKeys, "jwt-verify-key-files", "", "comma-separated [ALG:]PEM files of previous keys still accepted and published in the JWKS (key rotation)")
	fs.StringVar(&c.Token.Issuer, "jwt-issuer", "", "iss claim (default: --public-url, else http://HOST:PORT)")
	fs.StringVar(&c.Token.Audience, "jwt-audience", c.Token.Audience, "aud claim of access tokens")
	fs.DurationVar(&c.Token.AccessTTL, "access-ttl", c.Token.AccessTTL, "access-token lifetime")
	fs.DurationVar(&c.Token.AnonTTL, "anonymous-ttl", c.Token.AnonTTL, "anonymous-token lifetime")
	fs.DurationVar(&c.Token.Leeway, "jwt-leeway", c.Token.Leeway, "clock skew tolerated when checking exp/iat")
	fs.StringVar(&c.Token.RefreshSecretFile, "refresh-secret-file", "", "file of >= 32 secret bytes that authenticates refresh tokens, shared by all instances; generated in --data-dir in dev modes")
	fs.DurationVar(&c.Token.RefreshIdleTTL, "refresh-idle-ttl", c.Token.RefreshIdleTTL, "a session ends after this long without a refresh")
	fs.DurationVar(&c.Token.RefreshAbsoluteTTL, "refresh-absolute-ttl", c.Token.RefreshAbsoluteTTL, "a session ends this long after sign-in, whatever happens")
	fs.DurationVar(&c.Token.RefreshGrace, "refresh-grace", c.Token.RefreshGrace, "how long the previous refresh token still answers (two tabs refreshing at once) before reuse counts as replay")

	fs.Var(salt, "salt", "yes|no: credential fields of register/login carry RSA-OAEP-256 ciphertexts (alias --rsa)")
	fs.Var(salt, "rsa", "alias of --salt")
	fs.StringVar(&c.Credentials.KeyFile, "rsa-key-file", "", "PEM RSA private key (>= 2048 bits) for --salt; generated in --data-dir in dev modes")

	fs.Var(yesNo{&c.Account.AnonJWT}, "anojwt", "yes|no: register and login need an anonymous JWT")
	fs.Var(yesNo{&c.Account.Antispam}, "antispam", "yes|no: register and login need the antispam field to equal --antispam-value")
	fs.StringVar(&c.Account.AntispamValue, "antispam-value", "", "the value the antispam field must carry")
	fs.Var(yesNo{&c.Account.RegistrationOpen}, "registration-open", "yes|no: anyone may register")
	fs.IntVar(&c.Account.PasswordMinLength, "password-min-length", c.Account.PasswordMinLength, "shortest password in code points (8 at least)")
	fs.IntVar(&c.Account.PasswordMaxLength, "password-max-length", c.Account.PasswordMaxLength, "longest password in code points")

	fs.UintVar(&c.Password.MemoryKiB, "argon2-memory", c.Password.MemoryKiB, "argon2id memory in KiB")
	fs.UintVar(&c.Password.Time, "argon2-time", c.Password.Time, "argon2id passes")
	fs.UintVar(&c.Password.Threads, "argon2-threads", c.Password.Threads, "argon2id lanes")
	fs.DurationVar(&c.Password.Wait, "hash-wait", c.Password.Wait, "longest a request waits for a hashing slot before answering UNAVAILABLE (0 = no bound)")
	fs.IntVar(&c.Password.Concurrency, "hash-concurrency", 0, "password hashes computed at once (0 = number of CPUs); bounds memory under load")

	fs.StringVar(&c.Log.Level, "log-level", c.Log.Level, "debug | info | warn | error")
	fs.StringVar(&c.Log.Format, "log-format", c.Log.Format, "text | json")

	fs.StringVar(&c.Mail.Sender, "mail-sender", "", "log | smtp (default: log in default mode, smtp in the others)")
	fs.StringVar(&c.Mail.SMTPHost, "smtp-host", "", "SMTP server (dev_email default: localhost, port 1025, no TLS: a local Mailpit)")
	fs.IntVar(&c.Mail.SMTPPort, "smtp-port", c.Mail.SMTPPort, "SMTP port (587 STARTTLS, 465 implicit TLS, 25/1025 none)")
	fs.StringVar(&c.Mail.SMTPUsername, "smtp-username", "", "SMTP user (AUTH only when set)")
	fs.StringVar(&c.Mail.SMTPPassword, "smtp-password", "", "SMTP password (prefer TOKTOK_SMTP_PASSWORD or --smtp-password-file)")
	fs.StringVar(&c.Mail.SMTPPasswordFile, "smtp-password-file", "", "file holding the SMTP password")
	fs.StringVar(&c.Mail.SMTPTLS, "smtp-tls", c.Mail.SMTPTLS, "none | starttls | implicit")
	fs.DurationVar(&c.Mail.SMTPTimeout, "smtp-timeout", c.Mail.SMTPTimeout, "SMTP connection and send timeout")
	fs.StringVar(&c.Mail.From, "mail-from", "", `sender address, e.g. "TokTok <no-reply@example.com>" (required with SMTP in preprod/production)`)
	fs.StringVar(&c.Mail.AppName, "app-name", c.Mail.AppName, "name shown in mails and hosted pages")
	fs.StringVar(&c.Mail.TemplatesDir, "mail-templates-dir", "", "directory of override mail templates (same layout as the embedded ones)")
	fs.IntVar(&c.Mail.MaxAttempts, "mail-max-attempts", c.Mail.MaxAttempts, "send attempts before a mail is kept as failed")
	fs.DurationVar(&c.Mail.BaseBackoff, "mail-backoff", c.Mail.BaseBackoff, "first retry delay; doubles at each attempt")
	fs.DurationVar(&c.Mail.MaxBackoff, "mail-max-backoff", c.Mail.MaxBackoff, "longest retry delay")
	fs.DurationVar(&c.Mail.PollInterval, "mail-poll-interval", c.Mail.PollInterval, "how often the outbox worker looks for due mails")

	fs.StringVar(&c.Links.ConfirmURL, "confirm-url", "", "where confirmation links point (default PUBLIC_URL/confirm-email, the hosted page; or your SPA's route)")
	fs.StringVar(&c.Links.ResetURL, "reset-url", "", "where password-reset links point (default PUBLIC_URL/reset-password)")
	fs.StringVar(&c.Links.TokenIn, "link-token-in", c.Links.TokenIn, "fragment | query: where links carry the token (#token= keeps it out of logs and Referer)")
	fs.DurationVar(&c.Links.ConfirmTTL, "confirm-ttl", c.Links.ConfirmTTL, "lifetime of signup confirmation links")
	fs.DurationVar(&c.Links.ResetTTL, "reset-ttl", c.Links.ResetTTL, "lifetime of password-reset links")
	fs.DurationVar(&c.Links.EmailChangeTTL, "email-change-ttl", c.Links.EmailChangeTTL, "lifetime of email-change confirmation links")

	fs.Var(rateFlag{&c.Limits.LoginFailures}, "limit-login-failures", "failed logins per account (N/window) before a cooldown; 0 disables")
	fs.DurationVar(&c.Limits.LoginMaxCooldown, "limit-login-max-cooldown", c.Limits.LoginMaxCooldown, "cooldowns double after each lockout up to this")
	fs.Var(rateFlag{&c.Limits.IPLogin}, "limit-ip-login", "login attempts per client IP (N/window)")
	fs.Var(rateFlag{&c.Limits.IPRegister}, "limit-ip-register", "registrations per client IP")
	fs.Var(rateFlag{&c.Limits.IPAnonymousToken}, "limit-ip-anonymous-token", "anonymous tokens per client IP")
	fs.Var(rateFlag{&c.Limits.IPForgotPassword}, "limit-ip-forgot-password", "forgotPassword calls per client IP")
	fs.Var(rateFlag{&c.Limits.IPEmailLinks}, "limit-ip-email-links", "confirmEmail/resetPassword calls per client IP")
	fs.Var(rateFlag{&c.Limits.ResetMails}, "limit-reset-mails", "password-reset mails per account")
	fs.Var(rateFlag{&c.Limits.ConfirmResends}, "limit-confirm-resends", "confirmation resends per account")
	fs.Var(rateFlag{&c.Limits.EmailChanges}, "limit-email-changes", "changeEmail requests per account")

	fs.Usage = func() { usage(fs, out) }
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	// Variables fill what the command line left unset.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["rsa"] {
		set["salt"] = true
	}
	var problems []error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || f.Name == "rsa" {
			return
		}
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	if v, ok := lookup(EnvName("rsa")); ok && !set["salt"] {
		if _, saltSet := lookup(EnvName("salt")); !saltSet {
			if err := fs.Set("salt", v); err != nil {
				problems = append(problems, fmt.Errorf("%s: %w", EnvName("rsa"), err))
			}
		}
	}

	switch strings.ToLower(mode) {
	case "default", "dev":
		c.Mode = ModeDefault
	case "dev_email":
		c.Mode = ModeDevEmail
	case "preprod":
		c.Mode = ModePreprod
	case "production", "prod":
		c.Mode = ModeProduction
	default:
		problems = append(problems, fmt.Errorf("--mode: %q is not one of default, dev_email, preprod, production", mode))
	}
	var err error
	if c.HTTP.Introspection, err = auto(introspection, c.Mode.Dev()); err != nil {
		problems = append(problems, fmt.Errorf("--introspection: %w", err))
	}
	if c.HTTP.Playground, err = auto(playground, c.Mode.Dev()); err != nil {
		problems = append(problems, fmt.Errorf("--playground: %w", err))
	}
	for _, alg := range []string{"ES256", "EdDSA", "PS256", "RS256", "HS256"} {
		if strings.EqualFold(c.Token.Alg, alg) {
			c.Token.Alg = alg
		}
	}
	c.HTTP.CORSOrigins = splitList(cors)
	c.Token.VerifyKeyFiles = splitList(verifyKeys)
	for _, p := range splitList(proxies) {
		prefix, err := parsePrefix(p)
		if err != nil {
			problems = append(problems, fmt.Errorf("--trusted-proxies: %w", err))
			continue
		}
		if prefix.Bits() == 0 {
			problems = append(problems, fmt.Errorf("--trusted-proxies: %s would believe any client's X-Forwarded-For", p))
			continue
		}
		c.HTTP.TrustedProxies = append(c.HTTP.TrustedProxies, prefix)
	}
	c.HTTP.PublicURL = strings.TrimRight(c.HTTP.PublicURL, "/")
	if c.Mode == ModeDevEmail && c.Mail.SMTPHost == "" {
		// A local Mailpit or MailHog: the development mail catcher's usual address.
		c.Mail.SMTPHost, c.Mail.SMTPPort, c.Mail.SMTPTLS = "localhost", 1025, "none"
	}
	if c.Token.Issuer == "" {
		if c.HTTP.PublicURL != "" {
			c.Token.Issuer = c.HTTP.PublicURL
		} else {
			c.Token.Issuer = "http://" + c.HTTP.Addr()
		}
	}
	if err := errors.Join(append(problems, c.Validate())...); err != nil {
		return c, err
	}
	return c, nil
}

// Validate reports every problem of c at once (errors.Join), nil when there is none.
func (c Config) Validate() error {
	var p []error
	add := func(format string, a ...any) { p = append(p, fmt.Errorf(format, a...)) }
	if c.HTTP.Port < 0 || c.HTTP.Port > 65535 {
		add("--port: %d is not a TCP port", c.HTTP.Port)
	}
	if c.HTTP.PublicURL != "" {
		if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("--public-url: %q is not an absolute http(s) URL", c.HTTP.PublicURL)
		}
	}
	for _, o := range c.HTTP.CORSOrigins {
		if o == "*" {
			add("--cors-origins: '*' is refused; list the origins")
			continue
		}
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") {
			add("--cors-origins: %q is not an origin like https://app.example.com", o)
		}
	}
	if c.HTTP.BodyLimit < 1024 {
		add("--body-limit: %d is too small (1024 at least)", c.HTTP.BodyLimit)
	}
	for name, v := range map[string]int{"--complexity-limit": c.HTTP.ComplexityLimit, "--depth-limit": c.HTTP.DepthLimit, "--token-limit": c.HTTP.TokenLimit, "--alias-limit": c.HTTP.AliasLimit} {
		if v < 1 {
			add("%s: must be positive", name)
		}
	}
	if c.Store.AuditRetention < 0 {
		add("--audit-retention: must not be negative")
	}
	if c.Store.SQLitePath() == "" && !c.Store.MongoDB() {
		add("--store: %q is not a store this build supports (empty, sqlite:PATH, mongodb:// or mongodb+srv://)", c.Store.URI)
	}
	switch c.Token.Alg {
	case "ES256", "EdDSA", "PS256", "RS256", "HS256":
	default:
		add("--jwt-alg: %q is not one of ES256, EdDSA, PS256, RS256, HS256", c.Token.Alg)
	}
	if c.Token.Audience == "" {
		add("--jwt-audience: must not be empty")
	}
	for name, d := range map[string]time.Duration{"--access-ttl": c.Token.AccessTTL, "--anonymous-ttl": c.Token.AnonTTL, "--refresh-idle-ttl": c.Token.RefreshIdleTTL, "--refresh-absolute-ttl": c.Token.RefreshAbsoluteTTL} {
		if d <= 0 {
			add("%s: must be positive", name)
		}
	}
	if c.Token.Leeway < 0 || c.Token.Leeway > 5*time.Minute {
		add("--jwt-leeway: must be between 0 and 5m")
	}
	if c.Token.RefreshGrace < 0 || c.Token.RefreshGrace > time.Minute {
		add("--refresh-grace: must be between 0 and 1m")
	}
	if c.Token.RefreshIdleTTL > c.Token.RefreshAbsoluteTTL {
		add("--refresh-idle-ttl: longer than --refresh-absolute-ttl")
	}
	if c.Account.Antispam && c.Account.AntispamValue == "" {
		add("--antispam-value: required with --antispam=yes")
	}
	if c.Account.PasswordMinLength < 8 {
		add("--password-min-length: %d is below 8", c.Account.PasswordMinLength)
	}
	if c.Account.PasswordMaxLength < c.Account.PasswordMinLength || c.Account.PasswordMaxLength > 4096 {
		add("--password-max-length: must be between --password-min-length and 4096")
	}
	if c.Password.Threads < 1 || c.Password.Threads > 255 || c.Password.MemoryKiB < 8*c.Password.Threads ||
		c.Password.MemoryKiB > 2<<20 || c.Password.Time < 1 || c.Password.Time > 64 {
		add("--argon2-memory/--argon2-time/--argon2-threads: out of range (threads 1..255, memory 8×threads KiB..2 GiB, time 1..64)")
	}
	if c.Password.Wait < 0 {
		add("--hash-wait: must not be negative")
	}
	if c.Password.Concurrency < 0 {
		add("--hash-concurrency: must not be negative")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("--log-level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		add("--log-format: %q is not text or json", c.Log.Format)
	}
	switch c.Mail.Sender {
	case "", "log", "smtp":
	default:
		add("--mail-sender: %q is not log or smtp", c.Mail.Sender)
	}
	switch c.Mail.SMTPTLS {
	case "none", "starttls", "implicit":
	default:
		add("--smtp-tls: %q is not none, starttls or implicit", c.Mail.SMTPTLS)
	}
	if c.Mail.UseSMTP(c.Mode) {
		if c.Mail.SMTPHost == "" {
			add("--smtp-host: required to send mail over SMTP (or --mail-sender=log)")
		}
		if c.Mail.SMTPPort < 1 || c.Mail.SMTPPort > 65535 {
			add("--smtp-port: %d is not a TCP port", c.Mail.SMTPPort)
		}
		if c.Mail.SMTPPassword != "" && c.Mail.SMTPPasswordFile != "" {
			add("--smtp-password and --smtp-password-file: set one")
		}
	}
	if c.Mail.From != "" {
		if _, err := mail.ParseAddress(c.Mail.From); err != nil || strings.ContainsAny(c.Mail.From, "\r\n") {
			add("--mail-from: %q is not an address like \"TokTok <no-reply@example.com>\"", c.Mail.From)
		}
	}
	if c.Mail.MaxAttempts < 1 || c.Mail.BaseBackoff <= 0 || c.Mail.MaxBackoff < c.Mail.BaseBackoff || c.Mail.PollInterval <= 0 {
		add("--mail-max-attempts/--mail-backoff/--mail-max-backoff/--mail-poll-interval: out of range")
	}
	for name, u := range map[string]string{"--confirm-url": c.Links.ConfirmURL, "--reset-url": c.Links.ResetURL} {
		if u == "" {
			continue
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.Fragment != "" {
			add("%s: %q is not an absolute http(s) URL without a fragment", name, u)
		}
	}
	if c.Links.TokenIn != "fragment" && c.Links.TokenIn != "query" {
		add("--link-token-in: %q is not fragment or query", c.Links.TokenIn)
	}
	for name, d := range map[string]time.Duration{"--confirm-ttl": c.Links.ConfirmTTL, "--reset-ttl": c.Links.ResetTTL, "--email-change-ttl": c.Links.EmailChangeTTL} {
		if d <= 0 {
			add("%s: must be positive", name)
		}
	}
	if !c.Mode.Dev() {
		if c.Mail.UseSMTP(c.Mode) && c.Mail.From == "" {
			add("--mail-from: required in %s mode", c.Mode)
		}
		// What would put link tokens or credentials where others can read them.
		if !c.Mail.UseSMTP(c.Mode) {
			add("--mail-sender=log: refused in %s mode (it writes reset links to the log)", c.Mode)
		}
		if c.Mail.UseSMTP(c.Mode) && c.Mail.SMTPTLS == "none" && !isLoopbackHost(c.Mail.SMTPHost) {
			add("--smtp-tls=none: refused in %s mode except to a relay on this machine", c.Mode)
		}
		for name, u := range map[string]string{"--public-url": c.HTTP.PublicURL, "--confirm-url": c.Links.ConfirmURL, "--reset-url": c.Links.ResetURL} {
			if u != "" && !strings.HasPrefix(u, "https://") {
				add("%s: must be https in %s mode", name, c.Mode)
			}
		}
		// OWASP's argon2id options all cost about m×t = 36 000 KiB·passes.
		if uint64(c.Password.MemoryKiB)*uint64(c.Password.Time) < 7168*5 {
			add("--argon2-memory × --argon2-time: below the OWASP minimum (e.g. 19456 KiB × 2) in %s mode", c.Mode)
		}
		// Production-like modes never run on material generated on the spot: instances
		// would disagree on keys, and a restart on a fresh disk would sign everyone out.
		if c.HTTP.PublicURL == "" {
			add("--public-url: required in %s mode", c.Mode)
		}
		if c.Token.KeyFile == "" {
			add("--jwt-key-file: required in %s mode (generated keys are for development)", c.Mode)
		}
		if c.Token.RefreshSecretFile == "" {
			add("--refresh-secret-file: required in %s mode", c.Mode)
		}
		if c.Credentials.Encrypt && c.Credentials.KeyFile == "" {
			add("--rsa-key-file: required in %s mode with --salt=yes", c.Mode)
		}
		if c.Store.URI == "" && !c.Store.AllowEmbedded {
			add("--store: required in %s mode (or --allow-embedded-store=yes for a single-instance SQLite deployment)", c.Mode)
		}
	}
	return errors.Join(p...)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && a.IsLoopback()
}

// rateFlag parses "N/window" (e.g. 30/1m, 10/1h); "0" disables the limit.
type rateFlag struct{ r *Rate }

func (f rateFlag) String() string {
	if f.r == nil {
		return ""
	}
	return f.r.String()
}

func (f rateFlag) Set(s string) error {
	s = strings.TrimSpace(s)
	if s == "0" || strings.EqualFold(s, "off") {
		*f.r = Rate{}
		return nil
	}
	n, w, ok := strings.Cut(s, "/")
	if !ok {
		return fmt.Errorf("%q is not N/window like 30/1m", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return fmt.Errorf("%q: N must be a positive whole number", s)
	}
	d, err := time.ParseDuration(strings.TrimSpace(w))
	if err != nil || d <= 0 {
		return fmt.Errorf("%q: window must be a positive duration like 1m or 1h", s)
	}
	*f.r = Rate{N: count, Window: d}
	return nil
}

// yesNo is a boolean flag spelled like the original service's options.
type yesNo struct{ p *bool }

func (y yesNo) String() string {
	if y.p == nil || !*y.p {
		return "no"
	}
	return "yes"
}

func (y yesNo) Set(s string) error {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "y", "true", "1", "on":
		*y.p = true
	case "no", "n", "false", "0", "off":
		*y.p = false
	default:
		return fmt.Errorf("%q is not yes or no", s)
	}
	return nil
}

// IsBoolFlag lets "--salt" alone mean yes.
func (y yesNo) IsBoolFlag() bool { return true }

func auto(s string, dflt bool) (bool, error) {
	if strings.ToLower(s) == "auto" {
		return dflt, nil
	}
	var b bool
	err := yesNo{&b}.Set(s)
	return b, err
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		// Client addresses are compared unmapped, so ::ffff:10.0.0.0/104 means 10.0.0.0/8.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func netJoin(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return host + ":" + strconv.Itoa(port)
}

func usage(fs *flag.FlagSet, out io.Writer) {
	fmt.Fprintf(out, "Usage: toktok [flags]\n\nEvery flag can also be set with the environment variable shown; a flag given on the command line wins.\n\n")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		def := f.DefValue
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(out, "  --%s  (%s, default %s)\n      %s\n", n, EnvName(n), def, f.Usage)
	}
}
