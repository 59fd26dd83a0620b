// Package smtpsink is the one SMTP server of TokTok's tests: a real SMTP server
// (github.com/emersion/go-smtp) on a loopback port that records every message it accepts,
// so a test reads mails the way a user would, from a mailbox.
//
// A Sink can speak plain text, STARTTLS or implicit TLS (with a self-signed certificate it
// generates), require AUTH PLAIN, answer RCPT TO with an error for chosen recipients (for
// good, or a scripted number of times), count the RCPT TO each recipient got, refuse DATA,
// hold DATA until released, and stop and restart on the same port. Each
// received Message carries its envelope (sender, recipients, authenticated user, TLS),
// its raw bytes and its parsed form (headers, decoded Subject, decoded text and HTML
// parts).
//
// Helpers that can fail take a testing.TB and are called from the test's goroutine; the
// server's goroutines never fail a test, and every wait has a deadline.
//
// It is imported only by tests; nothing in the binary depends on it
// (go list -deps github.com/toktok/toktok shows it absent).
package smtpsink

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/textproto"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TLSMode says how a Sink speaks TLS.
type TLSMode int

// The TLS modes of Options.TLS.
const (
	TLSNone     TLSMode = iota // plain text; STARTTLS is not offered
	TLSStartTLS                // STARTTLS offered (a client may still go on in plain text)
	TLSImplicit                // TLS from the first byte
)

// String returns "none", "starttls" or "implicit".
func (m TLSMode) String() string {
	switch m {
	case TLSNone:
		return "none"
	case TLSStartTLS:
		return "starttls"
	case TLSImplicit:
		return "implicit"
	}
	return "TLSMode(" + strconv.Itoa(int(m)) + ")"
}

// DefaultWait bounds each wait of Next, NextTo and WaitHeld when Options.Wait is zero. It is
// a guard against a hanging test, not a synchronisation.
const DefaultWait = 10 * time.Second

// Options configures a Sink. The zero value is a plain-text server on 127.0.0.1 that
// accepts every message.
type Options struct {
	// Host is the loopback address to listen on; empty means 127.0.0.1.
	Host string
	// TLS is the TLS mode; the certificate is generated for localhost and Host.
	TLS TLSMode
	// Username and Password, when Username is set, make AUTH PLAIN (offered even without
	// TLS) required before MAIL FROM. Without Username, AUTH is not offered.
	Username, Password string
	// RcptErrors answers RCPT TO for these addresses (exact match) with the error, e.g.
	// an *smtp.SMTPError with code 550. See also RejectRcpt and ScriptRcpt.
	RcptErrors map[string]error
	// Wait bounds each wait of Next, NextTo and WaitHeld; zero means DefaultWait.
	Wait time.Duration
}

// Sink is an SMTP server on loopback that records what it receives. Its methods are safe
// for concurrent use, except Stop and Restart, which belong to the test's goroutine.
type Sink struct {
	host string
	port int
	opts Options
	wait time.Duration
	cert *x509.Certificate
	tls  *tls.Config // server side
	log  *tbLogger

	mu      sync.Mutex
	srv     *smtp.Server  // nil while stopped
	ln      net.Listener  // srv's
	done    chan struct{} // closed when srv's Serve returns
	quit    chan struct{} // closed by Stop: held DATA commands give up
	rcptErr map[string]error
	script  map[string][]error // the next replies to RCPT TO, per address (ScriptRcpt)
	rcpts   map[string]int     // RCPT TO answered, per address
	refuse  error
	gate    chan struct{} // non-nil while DATA is held; closed by Release
	held    int           // DATA commands waiting on a gate
	queue   []Message     // received, not yet taken
	changed chan struct{} // closed (and replaced) whenever queue, held or rcpts changes
}

// New starts a sink on a free port of opts.Host; it is stopped when the test ends.
func New(t testing.TB, opts Options) *Sink {
	t.Helper()
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	s := &Sink{
		host:    opts.Host,
		opts:    opts,
		wait:    opts.Wait,
		log:     &tbLogger{t: t},
		rcptErr: maps.Clone(opts.RcptErrors),
		script:  make(map[string][]error),
		rcpts:   make(map[string]int),
		changed: make(chan struct{}),
	}
	if s.wait <= 0 {
		s.wait = DefaultWait
	}
	if s.rcptErr == nil {
		s.rcptErr = make(map[string]error)
	}
	cert, err := selfSigned(opts.Host)
	if err != nil {
		t.Fatalf("smtpsink: certificate: %v", err)
	}
	s.cert = cert.Leaf
	s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, "0"))
	if err != nil {
		t.Fatalf("smtpsink: listen on %s: %v", opts.Host, err)
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	s.serve(ln)
	t.Cleanup(func() {
		s.Stop()
		s.log.off() // connection goroutines may outlive Stop by a little
	})
	return s
}

// Host is the address the sink listens on.
func (s *Sink) Host() string { return s.host }

// Port is the sink's port; it stays the same across Stop and Restart.
func (s *Sink) Port() int { return s.port }

// Addr is "host:port", for dialling.
func (s *Sink) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// CertPool holds the sink's self-signed certificate (valid for localhost and Host), for
// a client that verifies it.
func (s *Sink) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.cert)
	return p
}

func (s *Sink) serve(ln net.Listener) {
	if s.opts.TLS == TLSImplicit {
		ln = tls.NewListener(ln, s.tls)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		ss := &session{sink: s, conn: c}
		if s.opts.Username != "" {
			return authSession{ss}, nil
		}
		return ss, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // AUTH PLAIN on loopback without TLS, as local relays do
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = s.log
	if s.opts.TLS == TLSStartTLS {
		srv.TLSConfig = s.tls
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.ln, s.done, s.quit = srv, ln, done, make(chan struct{})
	s.mu.Unlock()
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
}

// Stop shuts the server down: the port refuses connections until Restart, open sessions
// are closed and held DATA commands fail. Messages already received stay readable. Stop
// on a stopped sink does nothing.
func (s *Sink) Stop() {
	s.mu.Lock()
	srv, ln, done := s.srv, s.ln, s.done
	if srv != nil {
		close(s.quit)
		s.srv, s.ln = nil, nil
	}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	// srv.Close closes only the listeners Serve has registered: right after serve, its
	// goroutine may not have, and would then accept for ever. Closed here, its Accept
	// fails at once, and Serve, seeing srv closed, returns.
	_ = ln.Close()
	<-done
}

// Restart listens again, on the same port, after Stop.
func (s *Sink) Restart(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	running := s.srv != nil
	s.mu.Unlock()
	if running {
		t.Fatal("smtpsink: Restart of a running sink")
	}
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		t.Fatalf("smtpsink: restart on %s: %v", s.Addr(), err)
	}
	s.serve(ln)
}

// Refuse makes every DATA from now on fail with err (an *smtp.SMTPError gives the reply
// code, e.g. 550 or 451); nil accepts again. A refused message is not recorded.
func (s *Sink) Refuse(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = err
}

// RejectRcpt makes RCPT TO:<addr> fail with err from now on; nil accepts addr again.
func (s *Sink) RejectRcpt(addr string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		delete(s.rcptErr, addr)
	} else {
		s.rcptErr[addr] = err
	}
}

// ScriptRcpt makes the next len(replies) RCPT TO:<addr> answer replies in turn (nil
// accepts; an *smtp.SMTPError gives the code), after those already scripted for addr; past
// the script, RejectRcpt and Options.RcptErrors decide again. A relay that defers a
// recipient (4xx) a few times and then takes the mail is ScriptRcpt(addr, e451, e451).
func (s *Sink) ScriptRcpt(addr string, replies ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[addr] = append(s.script[addr], replies...)
}

// Rcpts is how many RCPT TO:<addr> the sink has answered, accepted or refused: how many
// times a client tried to deliver to addr (a client tries each recipient once per
// attempt). It counts across Stop and Restart.
func (s *Sink) Rcpts(addr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rcpts[addr]
}

// rcptReply counts one RCPT TO:<addr> and returns its answer: the script's next reply,
// else the standing one.
func (s *Sink) rcptReply(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rcpts[addr]++
	s.notifyLocked()
	if next := s.script[addr]; len(next) > 0 {
		s.script[addr] = next[1:]
		return next[0]
	}
	return s.rcptErr[addr]
}

// Hold makes every DATA from now on wait, once the message is read and before the server
// answers, until Release (or Stop, which fails it). WaitHeld waits for one to be held.
func (s *Sink) Hold() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate == nil {
		s.gate = make(chan struct{})
	}
}

// Release lets the held DATA commands go on (they are then accepted, or refused as Refuse
// says) and stops holding new ones.
func (s *Sink) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gate != nil {
		close(s.gate)
		s.gate = nil
	}
}

// Held is the number of DATA commands waiting for Release.
func (s *Sink) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// WaitHeld waits until at least one DATA command is held, and fails t if none is within
// Options.Wait.
func (s *Sink) WaitHeld(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.wait)
	defer cancel()
	if err := s.waitFor(ctx, func() bool { return s.held > 0 }); err != nil {
		t.Fatalf("smtpsink: no DATA held within %v", s.wait)
	}
}

// Pending is the number of received messages that Next has not taken yet. With it a test
// checks that nothing arrived without waiting.
func (s *Sink) Pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

// Receive takes the oldest received message, waiting for one until ctx is done. It does
// not judge the message: see Message.ParseErr.
func (s *Sink) Receive(ctx context.Context) (Message, error) {
	var m Message
	err := s.waitFor(ctx, func() bool {
		if len(s.queue) == 0 {
			return false
		}
		m = s.queue[0]
		s.queue[0] = Message{}
		s.queue = s.queue[1:]
		return true
	})
	return m, err
}

// Next takes the oldest received message, waiting up to Options.Wait for one; it fails t
// if none arrives, and reports an error on t if the message does not parse.
func (s *Sink) Next(t testing.TB) Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), s.wait)
	defer cancel()
	m, err := s.Receive(ctx)
	if err != nil {
		t.Fatalf("smtpsink: no message within %v", s.wait)
	}
	if m.ParseErr != nil {
		t.Errorf("smtpsink: unparsable message from %q to %v: %v\n%s", m.From, m.To, m.ParseErr, m.Raw)
	}
	return m
}

// NextTo is Next, and fails t unless the message's only recipient is addr.
func (s *Sink) NextTo(t testing.TB, addr string) Message {
	t.Helper()
	m := s.Next(t)
	if len(m.To) != 1 || m.To[0] != addr {
		t.Fatalf("smtpsink: message to %v, want %s (subject %q)", m.To, addr, m.Subject)
	}
	return m
}

// waitFor calls cond under s.mu until it returns true, waking up on every change.
func (s *Sink) waitFor(ctx context.Context, cond func() bool) error {
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes up the waiters; s.mu is held.
func (s *Sink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// hold waits while DATA is held; it fails when the sink stops meanwhile.
func (s *Sink) hold() error {
	s.mu.Lock()
	gate, quit := s.gate, s.quit
	if gate == nil {
		s.mu.Unlock()
		return nil
	}
	s.held++
	s.notifyLocked()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.held--
		s.notifyLocked()
		s.mu.Unlock()
	}()
	select {
	case <-gate:
		return nil
	case <-quit:
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "smtpsink stopped"}
	}
}

func (s *Sink) record(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, m)
	s.notifyLocked()
}

// session is one SMTP connection's state.
type session struct {
	sink *Sink
	conn *smtp.Conn
	user string // authenticated user
	from string
	to   []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.sink.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.sink.rcptReply(to); err != nil {
		return err
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if err := ss.sink.hold(); err != nil {
		return err
	}
	ss.sink.mu.Lock()
	refuse := ss.sink.refuse
	ss.sink.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	m, perr := Parse(raw)
	_, isTLS := ss.conn.TLSConnectionState()
	m.From, m.To, m.User, m.TLS, m.ParseErr = ss.from, slices.Clone(ss.to), ss.user, isTLS, perr
	ss.sink.record(m)
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// authSession is a session that offers AUTH PLAIN, checked against Options.Username and
// Options.Password.
type authSession struct{ *session }

func (as authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (as authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != as.sink.opts.Username || password != as.sink.opts.Password {
			return smtp.ErrAuthFailed
		}
		as.user = username
		return nil
	}), nil
}

// Message is one received message: its envelope, its raw bytes and its parsed form.
type Message struct {
	// The envelope.
	From string   // MAIL FROM
	To   []string // RCPT TO, in order
	User string   // the AUTH user, "" without AUTH
	TLS  bool     // whether the session was encrypted (STARTTLS or implicit)

	// Raw is the message as received in DATA (CRLF line ends).
	Raw []byte

	// The parsed form (see Parse).
	Header    mail.Header // the top-level header, undecoded
	Subject   string      // decoded from RFC 2047 encoded words
	MediaType string      // of the top level, e.g. "multipart/alternative"
	Parts     []Part      // the leaf parts in order; the body itself when not multipart
	Text      string      // the first text/plain part, decoded
	HTML      string      // the first text/html part, decoded

	// ParseErr is why Raw did not parse, nil when it did.
	ParseErr error
}

// Part is one leaf part of a message, its body decoded from quoted-printable or base64.
type Part struct {
	MediaType string            // e.g. "text/plain"
	Params    map[string]string // Content-Type parameters, e.g. charset
	Header    textproto.MIMEHeader
	Body      string
}

var (
	linkPattern  = regexp.MustCompile(`https?://[^\s<>"]+`)
	tokenPattern = regexp.MustCompile(`[#?&]token=([A-Za-z0-9_\-%]+)`)
)

// Link returns the first http(s) URL of the text part, "" without one.
func (m Message) Link() string {
	return linkPattern.FindString(m.Text)
}

// Token returns the token of the text part's link (a token= in its fragment or query),
// "" without one.
func (m Message) Token() string {
	if sm := tokenPattern.FindStringSubmatch(m.Text); sm != nil {
		return sm[1]
	}
	return ""
}

// Parse parses a raw message into the parsed fields of Message (the envelope fields stay
// empty). Multipart bodies are walked depth first; each leaf is decoded from its
// Content-Transfer-Encoding. On error, the fields parsed so far are set.
func Parse(raw []byte) (Message, error) {
	m := Message{Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return m, fmt.Errorf("header: %w", err)
	}
	m.Header = msg.Header
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		return m, fmt.Errorf("subject: %w", err)
	}
	m.Subject = subject
	m.MediaType, m.Parts, err = parseBody(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	for _, p := range m.Parts {
		switch {
		case p.MediaType == "text/plain" && m.Text == "":
			m.Text = p.Body
		case p.MediaType == "text/html" && m.HTML == "":
			m.HTML = p.Body
		}
	}
	return m, err
}

// maxDepth bounds the nesting of multiparts.
const maxDepth = 10

// parseBody returns the media type of the entity with header h and body r, and its leaf
// parts.
func parseBody(h textproto.MIMEHeader, r io.Reader, depth int) (string, []Part, error) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain; charset=us-ascii"
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", nil, fmt.Errorf("content-type %q: %w", ct, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		body, err := io.ReadAll(decode(h.Get("Content-Transfer-Encoding"), r))
		if err != nil {
			return mt, nil, fmt.Errorf("%s body: %w", mt, err)
		}
		return mt, []Part{{MediaType: mt, Params: params, Header: h, Body: string(body)}}, nil
	}
	if depth >= maxDepth {
		return mt, nil, errors.New("multipart nested too deep")
	}
	if params["boundary"] == "" {
		return mt, nil, fmt.Errorf("%s without a boundary", mt)
	}
	var parts []Part
	mr := multipart.NewReader(r, params["boundary"])
	for {
		p, err := mr.NextRawPart() // decoded below, so that every encoding is handled alike
		if err == io.EOF {
			return mt, parts, nil
		}
		if err != nil {
			return mt, parts, fmt.Errorf("%s: %w", mt, err)
		}
		_, sub, err := parseBody(p.Header, p, depth+1)
		parts = append(parts, sub...)
		if err != nil {
			return mt, parts, err
		}
	}
}

// decode undoes a Content-Transfer-Encoding; 7bit, 8bit and binary need nothing.
func decode(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // it skips CR and LF
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// selfSigned makes a certificate for localhost, 127.0.0.1, ::1 and host.
func selfSigned(host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil && !slices.ContainsFunc(tmpl.IPAddresses, ip.Equal) {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if ip == nil && host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// tbLogger sends the SMTP server's error log to the test's log until off.
type tbLogger struct {
	mu sync.Mutex
	t  testing.TB // nil once off
}

func (l *tbLogger) Printf(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t != nil {
		l.t.Logf("smtpsink: "+format, v...)
	}
}

func (l *tbLogger) Println(v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t != nil {
		l.t.Log(append([]any{"smtpsink:"}, v...)...)
	}
}

func (l *tbLogger) off() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t = nil
}
