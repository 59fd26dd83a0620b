package mailer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// sinkConfig is an SMTPConfig pointing at s.
func sinkConfig(s *smtpsink.Sink, tlsMode string) SMTPConfig {
	return SMTPConfig{
		Host: s.Host(), Port: s.Port(), TLS: tlsMode, From: "TokTok <no-reply@toktok.example>",
		Timeout: 10 * time.Second, HelloName: "client.test",
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

// wellFormed checks that m parsed as a multipart/alternative message with a text/plain
// then a text/html part, and returns it.
func wellFormed(t *testing.T, m smtpsink.Message) smtpsink.Message {
	t.Helper()
	if m.ParseErr != nil || m.MediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative\n%s", m.Header.Get("Content-Type"), m.ParseErr, m.Raw)
	}
	var order []string
	for _, p := range m.Parts {
		order = append(order, p.MediaType)
	}
	if strings.Join(order, ",") != "text/plain,text/html" {
		t.Errorf("parts %v, want text/plain then text/html", order)
	}
	return m
}

func TestSMTPPlainDelivery(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{})
	s := newSender(t, sinkConfig(sink, TLSNone))
	if err := s.Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := sink.Next(t)
	if got.From != "no-reply@toktok.example" || strings.Join(got.To, ",") != "ann@example.com" || got.TLS {
		t.Errorf("envelope from=%q to=%v tls=%v", got.From, got.To, got.TLS)
	}
	p := wellFormed(t, got)
	if p.Subject != testEnvelope.Subject {
		t.Errorf("Subject %q (raw %q)", p.Subject, p.Header.Get("Subject"))
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
	sink := smtpsink.New(t, smtpsink.Options{Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSNone)
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
		ids[wellFormed(t, sink.Next(t)).Header.Get("Message-Id")] = true
	}
	if len(ids) != n {
		t.Errorf("received %v", ids)
	}
}

func TestSMTPAuthPlain(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	if got := sink.Next(t); got.User != "user" {
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
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("cannot listen on 127.0.0.2: %v", err)
	}
	ln.Close()
	sink := smtpsink.New(t, smtpsink.Options{Host: "127.0.0.2", Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSNone)
	cfg.Username, cfg.Password = "user", "secret"
	err = newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("err = %v, want a refusal to authenticate unencrypted", err)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{TLS: smtpsink.TLSStartTLS, Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSStartTLS)
	cfg.Username, cfg.Password = "user", "secret"
	cfg.InsecureSkipVerify = true
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := sink.Next(t)
	if !got.TLS || got.User != "user" {
		t.Errorf("tls=%v user=%q", got.TLS, got.User)
	}
	wellFormed(t, got)

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
	sink := smtpsink.New(t, smtpsink.Options{}) // no STARTTLS offered
	err := newSender(t, sinkConfig(sink, TLSStartTLS)).Send(t.Context(), testEnvelope)
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("err = %v, want a STARTTLS error", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{TLS: smtpsink.TLSImplicit, Username: "user", Password: "secret"})
	cfg := sinkConfig(sink, TLSImplicit)
	cfg.Username, cfg.Password = "user", "secret"
	cfg.InsecureSkipVerify = true
	if err := newSender(t, cfg).Send(t.Context(), testEnvelope); err != nil {
		t.Fatal(err)
	}
	got := sink.Next(t)
	if !got.TLS || got.User != "user" {
		t.Errorf("tls=%v user=%q", got.TLS, got.User)
	}
	wellFormed(t, got)
}

func TestSMTPErrorClassification(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{RcptErrors: map[string]error{
		"gone@example.com": &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
		"busy@example.com": &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"},
	}})
	s := newSender(t, sinkConfig(sink, TLSNone))

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
	cfg := sinkConfig(sink, TLSNone)
	cfg.Port = port
	err = newSender(t, cfg).Send(t.Context(), testEnvelope)
	if err == nil || IsPermanent(err) {
		t.Errorf("connection refused: err=%v permanent=%v", err, IsPermanent(err))
	}
}

func TestSMTPHeaderInjection(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{})
	s := newSender(t, sinkConfig(sink, TLSNone))

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
	got := sink.Next(t)
	p := wellFormed(t, got)
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
	sink := smtpsink.New(t, smtpsink.Options{})
	sink.Hold() // DATA is read, then not answered
	s := newSender(t, sinkConfig(sink, TLSNone))
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- s.Send(ctx, testEnvelope) }()
	sink.WaitHeld(t) // the server has the message and does not answer
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
