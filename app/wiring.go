package app

import (
	"log/slog"
	"net/netip"
	"net/url"
	"slices"
	"time"

	"github.com/toktok/toktok/account"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/httpapi"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/token"
)

// wiring is every setting of a config.Config translated into the terms of the part that
// uses it. wire is the only place a setting is read: New builds every service from a
// wiring and keeps no Config, so a setting that wire drops reaches nothing, and the test
// that flips each setting one at a time (wiring_test.go) sees it.
type wiring struct {
	PublicURL string // base of links and pages
	Store     storeWiring
	Keys      keyWiring
	Token     token.Config
	Hash      hashWiring
	Account   account.Config
	Passkeys  passkey.Config
	// PasskeysDerived says the relying party was derived from the public URL, not set:
	// when that URL's host cannot be one (an IP address), passkeys are off instead of the
	// start failing.
	PasskeysDerived bool
	Mail            mailWiring
	Worker          mailer.WorkerConfig
	HTTP            httpapi.Config
	Server          ServerConfig
	Log             logWiring
}

// storeWiring says which store to open and how long to keep what.
type storeWiring struct {
	MongoURI       string // set: MongoDB; empty: SQLite at SQLitePath
	Database       string
	SQLitePath     string
	AuditRetention time.Duration // 0: audit events are kept forever
	PurgeInterval  time.Duration // how often the purge loop runs
	UnconfirmedTTL time.Duration // 0: unconfirmed accounts are kept forever
}

// keyWiring says where the keys and secrets come from.
type keyWiring struct {
	Alg               token.Alg
	KeyFile           string   // empty: generated in DataDir (development modes)
	VerifyKeyFiles    []string // "[ALG:]path" of retired keys
	RefreshSecretFile string   // empty: generated in DataDir
	MFASecretFile     string   // empty: the MFA keys derive from the refresh secret
	Encrypt           bool     // --salt
	CredentialsAlg    string   // credentials.AlgorithmECDH or AlgorithmRSA
	CredentialsRSA    string   // --rsa-key-file; empty: generated in DataDir
	CredentialsECDH   string   // --ecdh-key-file; empty: generated in DataDir
	CredentialsPrev   []string // previous keys that still decrypt
	DataDir           string
}

type hashWiring struct {
	Params      password.Params
	Concurrency int
	Floor       time.Duration // least time of a password check (password.Hasher.SetFloor)
}

// mailWiring says how mails are rendered and sent. SMTP is nil when mails go to the log.
type mailWiring struct {
	SMTP             *mailer.SMTPConfig
	SMTPPasswordFile string // read at start; wins over SMTP.Password
	TemplatesDir     string
	// DevInbox keeps the mails of the log sender in memory for /dev/mail (default mode
	// only: config refuses it elsewhere, New refuses it with SMTP).
	DevInbox    bool
	DevInboxURL string // where /dev/mail is served, named in each log record
	// Mode decides what a failed SMTP check at start does: in the development modes it
	// ends the start with advice (mailcheck.go), elsewhere it is logged.
	Mode config.Mode
}

// ServerConfig is what the HTTP server itself needs: where to listen and its timeouts.
type ServerConfig struct {
	Addr            string
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	ShutdownTimeout time.Duration
	MaxHeaderBytes  int
	DebugAddr       string // the pprof listener's; "" = off
	// Metrics collects Prometheus metrics; MetricsAddr is the listener of their own
	// ("" = none: on the main handler when HTTP.MetricsOnMain, else nowhere).
	Metrics     bool
	MetricsAddr string
}

type logWiring struct {
	Level slog.Level
	JSON  bool
	// Traces go to OTLPEndpoint ("" = no tracing), TraceSampleRatio of the new ones.
	OTLPEndpoint     string
	TraceSampleRatio float64
}

// wire translates cfg, which Load has validated.
func wire(cfg config.Config) wiring {
	return wiring{
		PublicURL:       cfg.HTTP.PublicBase(),
		Store:           wireStore(cfg.Store),
		Keys:            wireKeys(cfg),
		Token:           wireToken(cfg.Token),
		Hash:            wireHash(cfg.Password),
		Account:         wireAccount(cfg),
		Passkeys:        wirePasskeys(cfg),
		PasskeysDerived: cfg.MFA.WebAuthnRPID == "",
		Mail:            wireMail(cfg),
		Worker: mailer.WorkerConfig{
			MaxAttempts: cfg.Mail.MaxAttempts, BaseBackoff: cfg.Mail.BaseBackoff,
			MaxBackoff: cfg.Mail.MaxBackoff, PollInterval: cfg.Mail.PollInterval,
		},
		HTTP: wireHTTP(cfg),
		Server: ServerConfig{
			Addr: cfg.HTTP.Addr(), ReadTimeout: cfg.HTTP.ReadTimeout, WriteTimeout: cfg.HTTP.WriteTimeout,
			IdleTimeout: cfg.HTTP.IdleTimeout, ShutdownTimeout: cfg.HTTP.ShutdownTimeout, MaxHeaderBytes: 32 << 10,
			DebugAddr: cfg.HTTP.DebugAddr,
			Metrics:   cfg.HTTP.MetricsOn(cfg.Mode), MetricsAddr: metricsAddr(cfg.HTTP.MetricsAddr),
		},
		Log: wireLog(cfg.Log),
	}
}

// metricsAddr is the metrics listener's address: --metrics-addr unless it is "off".
func metricsAddr(a string) string {
	if a == "off" {
		return ""
	}
	return a
}

func wireStore(s config.Store) storeWiring {
	w := storeWiring{AuditRetention: s.AuditRetention, PurgeInterval: s.PurgeInterval, UnconfirmedTTL: s.UnconfirmedTTL}
	if s.MongoDB() {
		w.MongoURI, w.Database = s.URI, s.Database
	} else {
		w.SQLitePath = s.SQLitePath()
	}
	return w
}

func wireKeys(cfg config.Config) keyWiring {
	return keyWiring{
		Alg: token.Alg(cfg.Token.Alg), KeyFile: cfg.Token.KeyFile, VerifyKeyFiles: cfg.Token.VerifyKeyFiles,
		RefreshSecretFile: cfg.Token.RefreshSecretFile,
		MFASecretFile:     cfg.MFA.SecretFile,
		Encrypt:           cfg.Credentials.Encrypt, CredentialsAlg: credentialsAlg(cfg.Credentials.Alg),
		CredentialsRSA: cfg.Credentials.KeyFile, CredentialsECDH: cfg.Credentials.ECDHKey, CredentialsPrev: cfg.Credentials.PrevKeys,
		DataDir: cfg.Store.DataDir,
	}
}

// credentialsAlg maps --salt-alg to the name the credentials package publishes.
func credentialsAlg(alg string) string {
	if alg == config.SaltRSA {
		return credentials.AlgorithmRSA
	}
	return credentials.AlgorithmECDH
}

func wireToken(t config.Token) token.Config {
	return token.Config{
		Issuer: t.Issuer, Audience: t.Audience, AccessTTL: t.AccessTTL, AnonTTL: t.AnonTTL, Leeway: t.Leeway,
	}
}

func wireHash(p config.Password) hashWiring {
	return hashWiring{
		Params:      password.Params{Memory: uint32(p.MemoryKiB), Time: uint32(p.Time), Threads: uint8(p.Threads)},
		Concurrency: p.Concurrency,
		Floor:       p.Floor,
	}
}

func wireAccount(cfg config.Config) account.Config {
	a, t := cfg.Account, cfg.Token
	return account.Config{
		AnonJWT: a.AnonJWT, Antispam: a.Antispam, AntispamValue: a.AntispamValue,
		RegistrationOpen: a.RegistrationOpen,
		// The name users know the service by is the one to keep out of their passwords:
		// the configured app name (TokTok by default), not the software's.
		Policy: password.Policy{
			MinLength: a.PasswordMinLength, MaxLength: a.PasswordMaxLength, ServiceName: cfg.Mail.AppName,
		},
		AccessTTL:             t.AccessTTL,
		RefreshIdleTTL:        t.RefreshIdleTTL,
		RefreshAbsoluteTTL:    t.RefreshAbsoluteTTL,
		RefreshGrace:          t.RefreshGrace,
		HashWait:              cfg.Password.Wait,
		Links:                 wireLinks(cfg),
		Limits:                wireLimits(cfg.Limits),
		FirstAdmin:            a.FirstAdmin,
		AdminEmails:           slices.Clone(a.AdminEmails),
		EnumerationProtection: a.EnumerationProtection,
		MFA:                   account.MFAConfig{RequiredRoles: roles(cfg.MFA.RequiredRoles)},
	}
}

func roles(names []string) []store.Role {
	var out []store.Role
	for _, n := range names {
		out = append(out, store.Role(n))
	}
	return out
}

// wirePasskeys derives the WebAuthn relying party from the public URL where it is not set:
// its host is the RP id, its origin the one allowed origin.
func wirePasskeys(cfg config.Config) passkey.Config {
	m := cfg.MFA
	c := passkey.Config{
		RPID: m.WebAuthnRPID, RPDisplayName: m.WebAuthnRPName, Origins: slices.Clone(m.WebAuthnOrigins),
		Timeout: 5 * time.Minute,
	}
	base, _ := url.Parse(cfg.HTTP.PublicBase())
	if c.RPID == "" && base != nil {
		c.RPID = base.Hostname()
	}
	if len(c.Origins) == 0 && base != nil {
		c.Origins = []string{base.Scheme + "://" + base.Host}
	}
	if c.RPDisplayName == "" {
		c.RPDisplayName = cfg.Mail.AppName
	}
	return c
}

func wireLinks(cfg config.Config) account.LinksConfig {
	l := cfg.Links
	w := account.LinksConfig{
		AppName: cfg.Mail.AppName, ConfirmURL: l.ConfirmURL, ResetURL: l.ResetURL,
		TokenInQuery: l.TokenIn == "query",
		ConfirmTTL:   l.ConfirmTTL, ResetTTL: l.ResetTTL, EmailChangeTTL: l.EmailChangeTTL,
		UnconfirmedTTL: cfg.Store.UnconfirmedTTL,
	}
	base := cfg.HTTP.PublicBase()
	if w.ConfirmURL == "" {
		w.ConfirmURL = base + "/confirm-email"
	}
	if w.ResetURL == "" {
		w.ResetURL = base + "/reset-password"
	}
	return w
}

func wireLimits(l config.Limits) account.Limits {
	rate := func(r config.Rate) account.Rate { return account.Rate{N: r.N, Window: r.Window} }
	return account.Limits{
		LoginFailures: rate(l.LoginFailures), LoginMaxCooldown: l.LoginMaxCooldown,
		IPLogin: rate(l.IPLogin), IPRegister: rate(l.IPRegister),
		IPAnonymousToken: rate(l.IPAnonymousToken), IPForgotPassword: rate(l.IPForgotPassword),
		IPEmailLinks: rate(l.IPEmailLinks), IPEmailChanges: rate(l.IPEmailChanges),
		ResetMails: rate(l.ResetMails), ConfirmResends: rate(l.ConfirmResends),
		EmailChanges: rate(l.EmailChanges),
	}
}

func wireMail(cfg config.Config) mailWiring {
	m := cfg.Mail
	w := mailWiring{TemplatesDir: m.TemplatesDir, DevInbox: m.DevInbox, Mode: cfg.Mode}
	if m.DevInbox {
		w.DevInboxURL = cfg.HTTP.PublicBase() + "/dev/mail"
	}
	if !m.UseSMTP(cfg.Mode) {
		return w
	}
	from := m.From
	if from == "" {
		from = m.AppName + " <no-reply@localhost>" // development modes only: Validate requires it elsewhere
	}
	w.SMTP = &mailer.SMTPConfig{
		Host: m.SMTPHost, Port: m.SMTPPort, Username: m.SMTPUsername, Password: m.SMTPPassword,
		TLS: m.SMTPTLS, From: from, Timeout: m.SMTPTimeout,
	}
	w.SMTPPasswordFile = m.SMTPPasswordFile
	return w
}

func wireHTTP(cfg config.Config) httpapi.Config {
	h := cfg.HTTP
	return httpapi.Config{
		GraphQLGet: h.GraphQLGet, Introspection: h.Introspection,
		Playground: h.Playground, PlaygroundAssetsDir: h.PlaygroundAssetsDir, PlaygroundCDN: h.PlaygroundCDN,
		AccountConsole: h.AccountConsole, AdminConsole: h.AdminConsole,
		AppName:     cfg.Mail.AppName,
		CORSOrigins: h.CORSOrigins, DevOrigins: cfg.Mode.Dev(),
		TrustedProxies: append([]netip.Prefix(nil), h.TrustedProxies...),
		BodyLimit:      h.BodyLimit,
		Limits: httpapi.DocumentLimits{
			Tokens: h.TokenLimit, Depth: h.DepthLimit, Aliases: h.AliasLimit, Complexity: h.ComplexityLimit,
		},
		PublicURL:      h.PublicBase(),
		DevInboxRemote: cfg.Mail.DevInboxRemote,
		MetricsOnMain:  h.MetricsOnMain(cfg.Mode),
	}
}

func wireLog(l config.Log) logWiring {
	var level slog.Level
	_ = level.UnmarshalText([]byte(l.Level)) // Validate allows only the four names
	return logWiring{Level: level, JSON: l.Format == "json", OTLPEndpoint: l.OTLPEndpoint, TraceSampleRatio: l.TraceSampleRatio}
}
