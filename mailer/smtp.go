package mailer

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// The TLS modes of SMTPConfig.TLS.
const (
	TLSNone     = "none"     // plain text; credentials are only sent to localhost
	TLSStartTLS = "starttls" // STARTTLS required (port 587 by default)
	TLSImplicit = "implicit" // TLS from the first byte (port 465 by default)
)

// DefaultSMTPTimeout bounds each SMTP exchange when SMTPConfig.Timeout is zero.
const DefaultSMTPTimeout = 15 * time.Second

// SMTPConfig configures an SMTPSender.
type SMTPConfig struct {
	Host string
	// Port; zero means 25, 587 or 465 for TLS none, starttls or implicit.
	Port               int
	Username, Password string // AUTH only when Username is set
	TLS                string // "none" | "starttls" | "implicit"; empty means "starttls"
	From               string // e.g. "TokTok <no-reply@example.com>"
	// Timeout bounds the dial and then each stage of the SMTP exchange (go-mail sets it
	// as the connection deadline); zero means DefaultSMTPTimeout. The context given to
	// Send bounds the whole send as well.
	Timeout            time.Duration
	InsecureSkipVerify bool   // tests only: accept any server certificate
	HelloName          string // EHLO name; empty means the host name
}

// SMTPSender sends mails through an SMTP server with github.com/wneessen/go-mail. Each
// Send opens its own connection (with its own go-mail Client, whose authentication
// negotiation writes to the client under a read lock and so is not safe to share between
// concurrent sends), so an SMTPSender is safe for concurrent use.
type SMTPSender struct {
	host       string
	port       int
	implicit   bool
	from       *mail.Address
	fromDomain string
	tlsConfig  *tls.Config
	opts       []gomail.Option
}

// smtpSettings is an SMTPConfig once checked, with its defaults applied.
type smtpSettings struct {
	host, mode string
	port       int
	timeout    time.Duration
	from       *mail.Address
	fromDomain string
}

// checkSMTPConfig applies cfg's defaults and reports every problem in it together.
func checkSMTPConfig(cfg SMTPConfig) (smtpSettings, error) {
	var problems []error
	host, err := CleanHeader(cfg.Host)
	if err != nil || host == "" || strings.ContainsAny(host, " /@") {
		problems = append(problems, fmt.Errorf("mailer: smtp host %q is not a host name", cfg.Host))
	}
	mode := cfg.TLS
	if mode == "" {
		mode = TLSStartTLS
	}
	port := cfg.Port
	switch mode {
	case TLSNone:
		if port == 0 {
			port = 25
		}
	case TLSStartTLS:
		if port == 0 {
			port = 587
		}
	case TLSImplicit:
		if port == 0 {
			port = 465
		}
	default:
		problems = append(problems, fmt.Errorf("mailer: smtp tls %q is not one of none, starttls, implicit", cfg.TLS))
	}
	if port < 1 || port > 65535 {
		problems = append(problems, fmt.Errorf("mailer: smtp port %d is out of range", cfg.Port))
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = DefaultSMTPTimeout
	}
	if timeout < 0 {
		problems = append(problems, fmt.Errorf("mailer: smtp timeout %v is negative", cfg.Timeout))
	}
	from, fromDomain, err := parseFrom(cfg.From)
	if err != nil {
		problems = append(problems, err)
	}
	if cfg.HelloName != "" {
		if h, err := CleanHeader(cfg.HelloName); err != nil || h != cfg.HelloName || strings.ContainsAny(h, " <>") {
			problems = append(problems, fmt.Errorf("mailer: smtp hello name %q is not a host name", cfg.HelloName))
		}
	}
	if _, err := CleanHeader(cfg.Username); err != nil {
		problems = append(problems, fmt.Errorf("mailer: smtp username: %w", err))
	}
	if len(problems) > 0 {
		return smtpSettings{}, errors.Join(problems...)
	}
	return smtpSettings{host: host, mode: mode, port: port, timeout: timeout, from: from, fromDomain: fromDomain}, nil
}

// Addr is the relay's host:port, the port defaulted from the TLS mode when the
// configuration left it 0 (25, 587 or 465 for none, starttls or implicit).
func (s *SMTPSender) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// NewSMTPSender checks cfg and returns a sender. It does not connect: a server that is
// down at start-up only delays mails, which wait in the outbox.
func NewSMTPSender(cfg SMTPConfig) (*SMTPSender, error) {
	c, err := checkSMTPConfig(cfg)
	if err != nil {
		return nil, err
	}
	s := &SMTPSender{
		host:       c.host,
		port:       c.port,
		implicit:   c.mode == TLSImplicit,
		from:       c.from,
		fromDomain: c.fromDomain,
		tlsConfig: &tls.Config{
			ServerName:         c.host,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // tests only, documented
		},
	}
	s.opts = []gomail.Option{
		gomail.WithPort(c.port),
		gomail.WithTimeout(c.timeout),
		gomail.WithTLSConfig(s.tlsConfig),
	}
	switch c.mode {
	case TLSNone:
		s.opts = append(s.opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		s.opts = append(s.opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		// WithSSL keeps go-mail from attempting STARTTLS; the TLS handshake itself is done
		// by our dialer (see Send), because go-mail skips its own TLS dial when given one.
		s.opts = append(s.opts, gomail.WithSSL())
	}
	if cfg.HelloName != "" {
		s.opts = append(s.opts, gomail.WithHELO(cfg.HelloName))
	}
	if cfg.Username != "" {
		// PLAIN, else LOGIN, else whatever go-mail finds best among what the server offers.
		// go-mail's PLAIN and LOGIN refuse to send credentials over a connection that is
		// neither TLS nor to localhost, so TLS "none" with credentials only works for a
		// local relay.
		s.opts = append(s.opts,
			gomail.WithUsername(cfg.Username),
			gomail.WithPassword(cfg.Password),
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthPlain, gomail.SMTPAuthLogin))
	}
	if _, err := gomail.NewClient(c.host, s.opts...); err != nil {
		return nil, fmt.Errorf("mailer: smtp client: %w", err)
	}
	return s, nil
}

// parseFrom checks the From setting: an address with an optional display name.
func parseFrom(from string) (*mail.Address, string, error) {
	if _, err := CleanHeader(from); err != nil {
		return nil, "", fmt.Errorf("mailer: smtp from: %w", err)
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return nil, "", fmt.Errorf("mailer: smtp from %q: %w: %v", from, ErrInvalidAddress, err)
	}
	if _, err := ValidateAddress(a.Address); err != nil {
		return nil, "", fmt.Errorf("mailer: smtp from %q: %w", from, err)
	}
	domain := a.Address[strings.LastIndexByte(a.Address, '@')+1:]
	for i := 0; i < len(domain); i++ {
		if domain[i] >= 0x80 {
			domain = "localhost" // only for the Message-ID, which must be ASCII
			break
		}
	}
	return a, domain, nil
}

// Send delivers m in one SMTP session: a multipart/alternative message (text, then HTML)
// with From, To, Subject, Date and Message-ID <ID@from-domain>. It returns nil once the
// server has accepted the message, even if closing the session fails afterwards (retrying
// would deliver it twice). ctx bounds the whole send: cancelling it closes the connection.
// Errors can be classified with IsPermanent.
func (s *SMTPSender) Send(ctx context.Context, m Envelope) error {
	to, err := ValidateAddress(m.To)
	if err != nil {
		return Permanent(fmt.Errorf("smtp send %s: recipient: %w", m.ID, err))
	}
	subject, err := CleanHeader(m.Subject)
	if err != nil {
		return Permanent(fmt.Errorf("smtp send %s: subject: %w", m.ID, err))
	}
	if m.Text == "" && m.HTML == "" {
		return Permanent(fmt.Errorf("smtp send %s: %w", m.ID, errEmptyMail))
	}

	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(s.from)
	if err := msg.To(to); err != nil {
		return Permanent(fmt.Errorf("smtp send %s: %w: %v", m.ID, ErrInvalidAddress, err))
	}
	msg.Subject(subject)
	msg.SetDateWithValue(time.Now())
	msg.SetMessageIDWithValue(messageIDLocal(m.ID) + "@" + s.fromDomain)
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}

	client, done, err := s.session(ctx)
	if err != nil {
		return fmt.Errorf("smtp send %s: client: %w", m.ID, err)
	}
	defer done()
	err = client.DialAndSendWithContext(ctx, msg)
	if err != nil && msg.IsDelivered() {
		// The server took the message; only RSET or QUIT failed afterwards.
		return nil
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("smtp send %s: %w (%w)", m.ID, cerr, err)
		}
		return fmt.Errorf("smtp send %s: %w", m.ID, err)
	}
	return nil
}

// Check does what Send does up to the mail itself, in one SMTP session: it connects (with
// the configured TLS mode and timeout), says EHLO, starts TLS (STARTTLS, or TLS from the
// first byte), authenticates when a username is set, and says QUIT. It sends no mail, so a
// nil error says the server takes the connection and the credentials, not that it will
// accept a given recipient. ctx bounds the whole check, as it bounds Send. The error
// names the server's address.
func (s *SMTPSender) Check(ctx context.Context) error {
	client, done, err := s.session(ctx)
	if err != nil {
		return fmt.Errorf("smtp check %s: client: %w", s.Addr(), err)
	}
	defer done()
	c, err := client.DialToSMTPClientWithContext(ctx)
	if err == nil {
		err = client.CloseWithSMTPClient(c) // QUIT
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("smtp check %s: %w (%w)", s.Addr(), cerr, err)
		}
		return fmt.Errorf("smtp check %s: %w", s.Addr(), err)
	}
	return nil
}

// session returns a go-mail Client for one SMTP session that dials through our own
// dialer, and done, which closes what the session opened; the caller defers done. Our own
// dialer for two reasons. go-mail only uses ctx to dial: the SMTP exchange that follows is
// bounded by its timeout alone, so we close the connection ourselves when ctx ends (the
// Worker relies on a send never outliving its lease). And go-mail leaves the connection
// open when EHLO, STARTTLS or AUTH fail, so done closes it.
func (s *SMTPSender) session(ctx context.Context) (client *gomail.Client, done func(), err error) {
	var conns []net.Conn
	var stops []func() bool
	done = func() {
		for _, stop := range stops {
			stop()
		}
		for _, c := range conns {
			_ = c.Close() // already closed by QUIT on success; the error says nothing
		}
	}
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		raw, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		conns = append(conns, raw)
		stops = append(stops, context.AfterFunc(ctx, func() { _ = raw.Close() }))
		if !s.implicit {
			return raw, nil
		}
		tc := tls.Client(raw, s.tlsConfig)
		if err := tc.HandshakeContext(dctx); err != nil {
			return nil, err
		}
		return tc, nil
	}
	client, err = gomail.NewClient(s.host, append(s.opts[:len(s.opts):len(s.opts)], gomail.WithDialContextFunc(dial))...)
	if err != nil {
		return nil, nil, err
	}
	return client, done, nil
}

// messageIDLocal is the Message-ID local part for a mail id: the id itself when it is
// made of safe characters, else a hash of it; a random value for an empty id.
func messageIDLocal(id string) string {
	if id == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}
	safe := len(id) <= 64
	for i := 0; safe && i < len(id); i++ {
		c := id[i]
		safe = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
	}
	if safe {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "h" + hex.EncodeToString(sum[:16])
}
