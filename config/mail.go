package config

import (
	"flag"
	"net/mail"
	"net/netip"
	"strings"
	"time"
)

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
	// DevInbox keeps the mails of the log sender in memory and shows them at /dev/mail:
	// development only (default mode, mails to the log), never where links would leak.
	DevInbox bool
	// DevInboxRemote serves the dev inbox to clients other than this machine's loopback
	// (a container's host, a phone on the LAN); off, only loopback clients are answered.
	DevInboxRemote bool
}

func defaultMail() Mail {
	return Mail{
		SMTPPort: 0, SMTPTLS: "starttls", SMTPTimeout: 15 * time.Second, AppName: "TokTok",
		MaxAttempts: 8, BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour, PollInterval: 2 * time.Second,
	}
}

// UseSMTP reports whether mails go out over SMTP (else to the log).
func (m Mail) UseSMTP(mode Mode) bool {
	if m.Sender != "" {
		return m.Sender == "smtp"
	}
	return mode != ModeDefault
}

func (m *Mail) register(fs *flag.FlagSet, devInbox *string) {
	*devInbox = "auto"
	fs.StringVar(&m.Sender, "mail-sender", m.Sender, "log | smtp (default: log in default mode, smtp in the others)")
	fs.StringVar(&m.SMTPHost, "smtp-host", m.SMTPHost, "SMTP server (dev_email default: localhost, port 1025, no TLS: a local Mailpit)")
	fs.IntVar(&m.SMTPPort, "smtp-port", m.SMTPPort, "SMTP port; 0: from --smtp-tls (587 starttls, 465 implicit, 25 none)")
	fs.StringVar(&m.SMTPUsername, "smtp-username", m.SMTPUsername, "SMTP user (AUTH only when set)")
	fs.StringVar(&m.SMTPPassword, "smtp-password", m.SMTPPassword, "SMTP password (prefer TOKTOK_SMTP_PASSWORD or --smtp-password-file)")
	fs.StringVar(&m.SMTPPasswordFile, "smtp-password-file", m.SMTPPasswordFile, "file holding the SMTP password")
	fs.StringVar(&m.SMTPTLS, "smtp-tls", m.SMTPTLS, "none | starttls | implicit")
	fs.DurationVar(&m.SMTPTimeout, "smtp-timeout", m.SMTPTimeout, "SMTP connection and send timeout")
	fs.StringVar(&m.From, "mail-from", m.From, `sender address, e.g. "TokTok <no-reply@example.com>" (required with SMTP in preprod/production)`)
	fs.StringVar(&m.AppName, "app-name", m.AppName, "name shown in mails and hosted pages; passwords containing it are refused")
	fs.StringVar(&m.TemplatesDir, "mail-templates-dir", m.TemplatesDir, "directory of override mail templates (same layout as the embedded ones)")
	fs.IntVar(&m.MaxAttempts, "mail-max-attempts", m.MaxAttempts, "send attempts before a mail is kept as failed")
	fs.DurationVar(&m.BaseBackoff, "mail-backoff", m.BaseBackoff, "first retry delay; doubles at each attempt")
	fs.DurationVar(&m.MaxBackoff, "mail-max-backoff", m.MaxBackoff, "longest retry delay")
	fs.DurationVar(&m.PollInterval, "mail-poll-interval", m.PollInterval, "how often the outbox worker looks for due mails")
	fs.StringVar(devInbox, "dev-inbox", *devInbox, "auto|yes|no: keep the mails of the log sender in memory and list them at /dev/mail (auto = on in default mode with mails to the log; never in other modes)")
	fs.Var(yesNo{&m.DevInboxRemote}, "dev-inbox-remote", "yes|no: answer /dev/mail for clients other than this machine (default: loopback clients only)")
}

// finish points dev_email mode at a local mail catcher when no server is named, so the
// mode works with nothing but Mailpit or MailHog running, and resolves --dev-inbox. The
// catcher's port and plain-text session are defaults only: a --smtp-port or --smtp-tls
// that was given (given holds the flags set by the command line or a variable) stays.
func (m *Mail) finish(mode Mode, devInbox string, given map[string]bool) []error {
	var p problems
	if mode == ModeDevEmail && m.SMTPHost == "" {
		// A local Mailpit or MailHog: the development mail catcher's usual address.
		m.SMTPHost = "localhost"
		if m.SMTPPort == 0 {
			m.SMTPPort = 1025
		}
		if !given["smtp-tls"] {
			m.SMTPTLS = "none"
		}
	}
	// The inbox holds live links: only where mails go to the log anyway, in default mode.
	possible := mode == ModeDefault && !m.UseSMTP(mode)
	on, err := auto(devInbox, possible)
	switch {
	case err != nil:
		p.add("--dev-inbox: %w", err)
	case on && mode != ModeDefault:
		p.add("--dev-inbox=yes: only in default mode (%s mode never keeps mails where a browser can read them)", mode)
	case on && !possible:
		p.add("--dev-inbox=yes: the inbox shows the mails of the log sender, but --mail-sender=smtp sends them")
	}
	m.DevInbox = on && possible
	return p
}

func (m Mail) validate(mode Mode) []error {
	var p problems
	switch m.Sender {
	case "", "log", "smtp":
	default:
		p.add("--mail-sender: %q is not log or smtp", m.Sender)
	}
	switch m.SMTPTLS {
	case "none", "starttls", "implicit":
	default:
		p.add("--smtp-tls: %q is not none, starttls or implicit", m.SMTPTLS)
	}
	// The SMTP settings matter only when mail goes out over SMTP: a development setup
	// logging its mails need not name a server.
	if m.UseSMTP(mode) {
		if m.SMTPHost == "" {
			p.add("--smtp-host: required to send mail over SMTP (or --mail-sender=log)")
		}
		// 0 takes the port from the TLS mode (the mailer applies it), so that
		// --smtp-tls=implicit alone dials 465.
		if m.SMTPPort < 0 || m.SMTPPort > 65535 {
			p.add("--smtp-port: %d is not a TCP port", m.SMTPPort)
		}
		if m.SMTPPassword != "" && m.SMTPPasswordFile != "" {
			p.add("--smtp-password and --smtp-password-file: set one")
		}
	}
	if m.From != "" {
		// A line break would let the setting inject headers into every mail.
		if _, err := mail.ParseAddress(m.From); err != nil || strings.ContainsAny(m.From, "\r\n") {
			p.add("--mail-from: %q is not an address like \"TokTok <no-reply@example.com>\"", m.From)
		}
	}
	if m.MaxAttempts < 1 || m.BaseBackoff <= 0 || m.MaxBackoff < m.BaseBackoff || m.PollInterval <= 0 {
		p.add("--mail-max-attempts/--mail-backoff/--mail-max-backoff/--mail-poll-interval: out of range")
	}
	return p
}

// production refuses what would put reset links where others can read them: the log,
// or a plain-text connection leaving the machine.
func (m Mail) production(mode Mode) []error {
	var p problems
	smtp := m.UseSMTP(mode)
	if smtp && m.From == "" {
		p.add("--mail-from: required in %s mode", mode)
	}
	if !smtp {
		p.add("--mail-sender=log: refused in %s mode (it writes reset links to the log)", mode)
	}
	if smtp && m.SMTPTLS == "none" && !isLoopbackHost(m.SMTPHost) {
		p.add("--smtp-tls=none: refused in %s mode except to a relay on this machine", mode)
	}
	return p
}

// isLoopbackHost reports whether h names this machine, where a plain-text relay is safe.
func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(h, "[]"))
	return err == nil && a.IsLoopback()
}
