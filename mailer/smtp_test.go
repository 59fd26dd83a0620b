package mailer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// received is one message as the test SMTP server got it.
type received struct {
	From string
	To   []string
	User string // authenticated user, if any
	TLS  bool
	Raw  []byte
}

// testServer is an in-process SMTP server on loopback (github.com/emersion/go-smtp) that
// records what it receives on a channel.
type testServer struct {
	Host string
	Port int
	Msgs chan received

	user, pass string
	rcptErr    map[string]error // recipient -> error for RCPT TO
	dataBlock  chan struct{}    // when set, DATA signals dataStart then waits on it
	dataStart  chan struct{}
}

type serverOpts struct {
	auth      bool // require AUTH PLAIN with user/secret
	startTLS  bool // offer STARTTLS
	implicit  bool // TLS from the first byte
	rcptErr   map[string]error
	dataBlock bool
	listen    string // default 127.0.0.1
}

func startServer(t *testing.T, o serverOpts) *testServer {
	t.Helper()
	ts := &testServer{Msgs: make(chan received, 10), rcptErr: o.rcptErr}
	if o.auth {
		ts.user, ts.pass = "user", "secret"
	}
	if o.dataBlock {
		ts.dataBlock = make(chan struct{})
		ts.dataStart = make(chan struct{}, 1)
		t.Cleanup(func() { close(ts.dataBlock) })
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, isTLS := c.TLSConnectionState()
		return &testSession{srv: ts, isTLS: isTLS, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // plaintext AUTH on loopback, for the TLS "none" test
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = testLogger{t}

	host := o.listen
	if host == "" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Skipf("cannot listen on %s: %v", host, err)
	}
	if o.startTLS || o.implicit {
		cfg := &tls.Config{Certificates: []tls.Certificate{selfSigned(t)}, MinVersion: tls.VersionTLS12}
		if o.implicit {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	addr := ln.Addr().(*net.TCPAddr)
	ts.Host, ts.Port = host, addr.Port
	return ts
}

type testLogger struct{ t *testing.T }

func (l testLogger) Printf(format string, v ...any) { l.t.Logf(format, v...) }
func (l testLogger) Println(v ...any)               { l.t.Log(v...) }

type testSession struct {
	srv   *testServer
	conn  *smtp.Conn
	isTLS bool
	user  string
	from  string
	to    []string
}

func (s *testSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *testSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != s.srv.user || password != s.srv.pass {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.srv.user != "" && s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := s.srv.rcptErr[to]; err != nil {
		return err
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.srv.dataBlock != nil {
		s.srv.dataStart <- struct{}{}
		<-s.srv.dataBlock
		return &smtp.SMTPError{Code: 451, Message: "too late"}
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.Msgs <- received{From: s.from, To: s.to, User: s.user, TLS: isTLS || s.isTLS, Raw: raw}
	return nil
}

func (s *testSession) Reset()        { s.from, s.to = "", nil }
func (s *testSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and localhost.
func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ts *testServer) config(tlsMode string) SMTPConfig {
	return SMTPConfig{
		Host: ts.Host, Port: ts.Port, TLS: tlsMode, From: "TokTok <no-reply@toktok.example>",
		Timeout: 10 * time.Second, HelloName: "client.test",
	}
}

func (ts *testServer) next(t *testing.T) received {
	t.Helper()
	select {
	case m := <-ts.Msgs:
		return m
	case <-time.After(10 * time.Second): // a guard against hanging, not a synchronisation
		t.Fatal("no message received")
		return received{}
	}
}

func newSender(t *testing.T, cfg SMTPConfig) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var testEnvelope = Envelope{
	ID:      "0190c6a4-mail-1",
	To:      "ann@example.com",
	Subject: "Réinitialisez votre mot de passe TokTok",
	Text:    "Open https://app.example.com/reset?token=abc=def&x=1 to reset.\n",
	HTML:    `<p>Open <a href="https://app.example.com/reset?token=abc=def&amp;x=1">this link</a>.</p>`,
}

// parsed is a received message decoded: headers and the text and HTML parts.
type parsed struct {
	Header     mail.Header
	Text, HTML string
}

func parseReceived(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("parse message: %v\n%s", err, raw)
	}
	p := parsed{Header: msg.Header}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative\n%s", msg.Header.Get("Content-Type"), err, raw)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var order []string
	for {
		part, err := mr.NextPart() // decodes quoted-printable transparently
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part)
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		order = append(order, ct)
		switch ct {
		case "text/plain":
			p.Text = string(body)
		case "text/html":
			p.HTML = string(body)
		}
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", order)
	}
	return p
}

func TestSMTPPlainDelivery(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSender(t, ts.config(TLSNone))
	if err := s.Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if got.From != "no-reply@toktok.example" || strings.Join(got.To, ",") != "ann@example.com" || got.TLS {
		t.Errorf("envelope from=%q to=%v tls=%v", got.From, got.To, got.TLS)
	}
	p := parseReceived(t, got.Raw)
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(p.Header.Get("Subject"))
	if err != nil || subject != testEnvelope.Subject {
		t.Errorf("Subject %q (%v)", subject, err)
	}
	from, err := p.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "TokTok" || from[0].Address != "no-reply@toktok.example" {
		t.Errorf("From %v (%v)", from, err)
	}
	if to := p.Header.Get("To"); to != "<ann@example.com>" && to != "ann@example.com" {
		t.Errorf("To %q", to)
	}
	if id := p.Header.Get("Message-Id"); id != "<0190c6a4-mail-1@toktok.example>" {
		t.Errorf("Message-ID %q", id)
	}
	if d, err := p.Header.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %v (%v)", d, err)
	}
	if ua := p.Header.Get("User-Agent") + p.Header.Get("X-Mailer"); ua != "" {
		t.Errorf("version banner %q", ua)
	}
	// MIME text travels with CRLF line ends.
	if strings.ReplaceAll(p.Text, "\r\n", "\n") != testEnvelope.Text || p.HTML != testEnvelope.HTML {
		t.Errorf("bodies:\n%q\n%q", p.Text, p.HTML)
	}
}

func TestSMTPConcurrentSends(t *testing.T) {
	// The Worker sends a batch in parallel through one SMTPSender (run with -race).
	ts := startServer(t, serverOpts{auth: true})
	cfg := ts.config(TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	s := newSender(t, cfg)
	const n = 5
	errc := make(chan error, n)
	for i := range n {
		go func() {
			env := testEnvelope
			env.ID = fmt.Sprintf("c%d", i)
			errc <- s.Send(t.Context(), env)
		}()
	}
	ids := make(map[string]bool)
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
			continue
		}
		ids[parseReceived(t, ts.next(t).Raw).Header.Get("Message-Id")] = true
	}
	if len(ids) != n {
		t.Errorf("received %v", ids)
	}
}

func TestSMTPAuthPlain(t *testing.T) {
	ts := startServer(t, serverOpts{auth: true})
	cfg := ts.config(TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	if got := ts.next(t); got.User != "user" {
		t.Errorf("authenticated as %q", got.User)
	}

	// Wrong credentials: an error, but not the mail's fault, so it is retried.
	cfg.Password = "wrong"
	err := newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || IsPermanent(err) {
		t.Errorf("wrong password: err=%v permanent=%v", err, IsPermanent(err))
	}
	// Without credentials, the server refuses MAIL FROM (5xx): still not permanent.
	cfg.Username, cfg.Password = "", ""
	err = newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || IsPermanent(err) {
		t.Errorf("no credentials: err=%v permanent=%v", err, IsPermanent(err))
	}
}

func TestSMTPNoCredentialsInClearToRemoteHost(t *testing.T) {
	// 127.0.0.2 is loopback too, but go-mail only trusts the names localhost, 127.0.0.1
	// and ::1: to any other host, PLAIN is refused without TLS, before the password is sent.
	ts := startServer(t, serverOpts{auth: true, listen: "127.0.0.2"})
	cfg := ts.config(TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	err := newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("err = %v, want a refusal to authenticate unencrypted", err)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	ts := startServer(t, serverOpts{startTLS: true, auth: true})
	cfg := ts.config(TLSStartTLS)
	cfg.Username, cfg.Password = "user", "secret"
	cfg.InsecureSkipVerify = true
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if !got.TLS || got.User != "user" {
		t.Errorf("tls=%v user=%q", got.TLS, got.User)
	}
	parseReceived(t, got.Raw)

	// The certificate is verified unless told otherwise.
	cfg.InsecureSkipVerify = false
	err := newSender(t, cfg).Send(t.Context(), testEnvelope)
	var uerr x509.UnknownAuthorityError
	if !errors.As(err, &uerr) && (err == nil || !strings.Contains(err.Error(), "certificate")) {
		t.Errorf("self-signed certificate accepted: %v", err)
	}
	if IsPermanent(err) {
		t.Errorf("TLS failure classified permanent: %v", err)
	}
}

func TestSMTPStartTLSRequired(t *testing.T) {
	ts := startServer(t, serverOpts{}) // no STARTTLS offered
	err := newSender(t, ts.config(TLSStartTLS)).Send(t.Context(), testEnvelope)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("err = %v, want a STARTTLS error", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	ts := startServer(t, serverOpts{implicit: true, auth: true})
	cfg := ts.config(TLSImplicit)
	cfg.Username, cfg.Password = "user", "secret"
	cfg.InsecureSkipVerify = true
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if !got.TLS || got.User != "user" {
		t.Errorf("tls=%v user=%q", got.TLS, got.User)
	}
	parseReceived(t, got.Raw)
}

func TestSMTPErrorClassification(t *testing.T) {
	ts := startServer(t, serverOpts{rcptErr: map[string]error{
		"gone@example.com": &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@example.com": &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	}})
	s := newSender(t, ts.config(TLSNone))

	env := testEnvelope
	env.To = "gone@example.com"
	err := s.Send(t.Context(), env)
	if err == nil || !IsPermanent(err) || !strings.Contains(err.Error(), "550") {
		t.Errorf("550: err=%v permanent=%v", err, IsPermanent(err))
	}
	env.To = "busy@example.com"
	err = s.Send(t.Context(), env)
	if err == nil || IsPermanent(err) {
		t.Errorf("450: err=%v permanent=%v", err, IsPermanent(err))
	}
	env.To = "not an address"
	if err := s.Send(t.Context(), env); !IsPermanent(err) || !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("invalid address: %v", err)
	}

	// Connection refused: a port that was just free.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := ts.config(TLSNone)
	cfg.Port = port
	err = newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || IsPermanent(err) {
		t.Errorf("connection refused: err=%v permanent=%v", err, IsPermanent(err))
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	ts := startServer(t, serverOpts{})
	s := newSender(t, ts.config(TLSNone))

	for _, env := range []Envelope{
		{ID: "inj1", To: "ann@example.com", Subject: "Hello\r\nBcc: eve@example.com", Text: "x"},
		{ID: "inj2", To: "ann@example.com", Subject: "Hello\nBcc: eve@example.com", Text: "x"},
		{ID: "inj3", To: "ann@example.com", Subject: "Hello\rBcc: eve@example.com", Text: "x"},
		{ID: "inj4", To: "ann@example.com\r\nBcc: eve@example.com", Subject: "Hello", Text: "x"},
		{ID: "inj5", To: "ann@example.com", Subject: "Hello\x00Bcc: eve@example.com", Text: "x"},
	} {
		err := s.Send(t.Context(), env)
		if !errors.Is(err, ErrUnsafeHeader) || !IsPermanent(err) {
			t.Errorf("%s: err = %v, want a permanent ErrUnsafeHeader", env.ID, err)
		}
	}
	// What looks like a header but is on the subject's one line stays in the Subject.
	env := testEnvelope
	env.ID = "ok"
	env.Subject = "Hello Bcc: eve@example.com X-Evil: 1"
	if err := s.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	// Sends are sequential: the first message received is this one, so none of the
	// attempts above reached the server.
	got := ts.next(t)
	p := parseReceived(t, got.Raw)
	if p.Header.Get("Message-Id") != "<ok@toktok.example>" {
		t.Fatalf("first received message is %q", p.Header.Get("Message-Id"))
	}
	if _, ok := p.Header["Bcc"]; ok {
		t.Error("a Bcc header reached the server")
	}
	if _, ok := p.Header["X-Evil"]; ok {
		t.Error("an X-Evil header reached the server")
	}
	if len(got.To) != 1 || got.To[0] != "ann@example.com" {
		t.Errorf("recipients %v", got.To)
	}
	if subject := p.Header.Get("Subject"); subject != env.Subject {
		t.Errorf("Subject %q", subject)
	}
}

func TestSMTPSendCancelled(t *testing.T) {
	ts := startServer(t, serverOpts{dataBlock: true})
	s := newSender(t, ts.config(TLSNone))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Send(ctx, testEnvelope) }()
	<-ts.dataStart // the server has the message and does not answer
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || IsPermanent(err) {
			t.Errorf("err = %v, want context.Canceled, temporary", err)
		}
	case <-time.After(5 * time.Second): // the SMTP timeout is 10s: this proves cancellation
		t.Fatal("Send did not return after its context was cancelled")
	}
}

func TestNewSMTPSenderValidates(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  SMTPConfig
	}{
		{"no host", SMTPConfig{From: "a@example.com"}},
		{"bad tls", SMTPConfig{Host: "h", TLS: "ssl", From: "a@example.com"}},
		{"bad port", SMTPConfig{Host: "h", Port: 70000, From: "a@example.com"}},
		{"bad from", SMTPConfig{Host: "h", From: "not an address"}},
		{"from with CRLF", SMTPConfig{Host: "h", From: "a@example.com\r\nBcc: x@example.com"}},
		{"negative timeout", SMTPConfig{Host: "h", From: "a@example.com", Timeout: -1}},
		{"hello with space", SMTPConfig{Host: "h", From: "a@example.com", HelloName: "a b"}},
	} {
		if _, err := NewSMTPSender(tc.cfg); err == nil {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	if _, err := NewSMTPSender(SMTPConfig{Host: "smtp.example.com", From: "TokTok <no-reply@example.com>"}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestMessageIDLocal(t *testing.T) {
	if got := messageIDLocal("abc-123_X"); got != "abc-123_X" {
		t.Errorf("safe id changed: %q", got)
	}
	for _, id := range []string{"a@b", "a>b", "a b", "a\r\nb", strings.Repeat("x", 65)} {
		got := messageIDLocal(id)
		if got == id || strings.ContainsAny(got, "@<> \r\n") || len(got) > 64 {
			t.Errorf("messageIDLocal(%q) = %q", id, got)
		}
	}
	if a, b := messageIDLocal(""), messageIDLocal(""); a == "" || a == b {
		t.Errorf("empty ids: %q %q", a, b)
	}
}
