package smtpsink_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"net/textproto"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	gomail "github.com/wneessen/go-mail"

	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

const (
	wantText = "Ouvrez https://app.example.com/reset#token=abc_DEF-1 pour réinitialiser votre mot de passe, une ligne assez longue pour être coupée."
	wantHTML = `<p>Ouvrez <a href="https://app.example.com/reset#token=abc_DEF-1">ce lien</a>.</p>`
	wantSubj = "Réinitialisez votre mot de passe"
)

// rawMultipart is a multipart/alternative message as a mailer writes it: an encoded-word
// Subject, a quoted-printable text part (with a soft line break) and a base64 HTML part.
func rawMultipart(to string) string {
	b64 := base64.StdEncoding.EncodeToString([]byte(wantHTML))
	var lines []string
	for len(b64) > 40 {
		lines, b64 = append(lines, b64[:40]), b64[40:]
	}
	lines = append(lines, b64)
	return "From: Sender <from@example.com>\r\n" +
		"To: " + to + "\r\n" +
		"Subject: =?utf-8?q?R=C3=A9initialisez_votre?= mot de passe\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b1\"\r\n" +
		"\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n" +
		"\r\n" +
		"Ouvrez https://app.example.com/reset#token=3Dabc_DEF-1 pour r=C3=A9initialiser =\r\n" +
		"votre mot de passe, une ligne assez longue pour =C3=AAtre coup=C3=A9e.\r\n" +
		"--b1\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		strings.Join(lines, "\r\n") + "\r\n" +
		"--b1--\r\n"
}

// send runs one mail transaction on c and quits.
func send(c *smtp.Client, from string, to []string, msg string) error {
	defer c.Close()
	if err := c.Mail(from); err != nil {
		return err
	}
	for _, addr := range to {
		if err := c.Rcpt(addr); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// dial connects to s in plain text.
func dial(t *testing.T, s *smtpsink.Sink) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sendPlain delivers msg to one recipient in plain text, without AUTH.
func sendPlain(t *testing.T, s *smtpsink.Sink, to, msg string) error {
	t.Helper()
	return send(dial(t, s), "from@example.com", []string{to}, msg)
}

// code is the SMTP reply code of err, 0 if it has none.
func code(err error) int {
	if te, ok := errors.AsType[*textproto.Error](err); ok {
		return te.Code
	}
	return 0
}

func checkMultipart(t *testing.T, m smtpsink.Message) {
	t.Helper()
	if m.ParseErr != nil {
		t.Fatalf("ParseErr %v", m.ParseErr)
	}
	if m.Subject != wantSubj {
		t.Errorf("Subject %q", m.Subject)
	}
	if m.MediaType != "multipart/alternative" {
		t.Errorf("MediaType %q", m.MediaType)
	}
	var types []string
	for _, p := range m.Parts {
		types = append(types, p.MediaType)
	}
	if !slices.Equal(types, []string{"text/plain", "text/html"}) {
		t.Errorf("parts %v", types)
	}
	if m.Text != wantText {
		t.Errorf("Text %q", m.Text)
	}
	if m.HTML != wantHTML {
		t.Errorf("HTML %q", m.HTML)
	}
	if m.Link() != "https://app.example.com/reset#token=abc_DEF-1" || m.Token() != "abc_DEF-1" {
		t.Errorf("Link %q Token %q", m.Link(), m.Token())
	}
}

func TestPlainDelivery(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{})
	if s.Host() != "127.0.0.1" || s.Port() == 0 || s.Addr() != net.JoinHostPort("127.0.0.1", fmt.Sprint(s.Port())) {
		t.Errorf("host %q port %d addr %q", s.Host(), s.Port(), s.Addr())
	}
	if n := s.Pending(); n != 0 {
		t.Fatalf("Pending() = %d before any mail", n)
	}
	c := dial(t, s)
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered in TLS mode none")
	}
	if ok, _ := c.Extension("AUTH"); ok {
		t.Error("AUTH offered without Username")
	}
	if err := send(c, "from@example.com", []string{"ann@example.com", "bob@example.com"}, rawMultipart("ann@example.com")); err != nil {
		t.Fatal(err)
	}
	// The message is recorded before the server answers DATA.
	if n := s.Pending(); n != 1 {
		t.Fatalf("Pending() = %d after one mail", n)
	}
	m := s.Next(t)
	if m.From != "from@example.com" || !slices.Equal(m.To, []string{"ann@example.com", "bob@example.com"}) || m.User != "" || m.TLS {
		t.Errorf("envelope from=%q to=%v user=%q tls=%v", m.From, m.To, m.User, m.TLS)
	}
	if !strings.HasPrefix(string(m.Raw), "From: Sender <from@example.com>\r\n") {
		t.Errorf("Raw %q", m.Raw)
	}
	if m.Header.Get("To") != "ann@example.com" {
		t.Errorf("To header %q", m.Header.Get("To"))
	}
	checkMultipart(t, m)
	if n := s.Pending(); n != 0 {
		t.Errorf("Pending() = %d after Next", n)
	}

	if err := sendPlain(t, s, "carl@example.com", rawMultipart("carl@example.com")); err != nil {
		t.Fatal(err)
	}
	if m := s.NextTo(t, "carl@example.com"); m.Subject != wantSubj {
		t.Errorf("Subject %q", m.Subject)
	}
}

// TestGoMail sends through each TLS mode with go-mail, as package mailer does, verifying
// the sink's certificate and authenticating with AUTH PLAIN.
func TestGoMail(t *testing.T) {
	for _, tc := range []struct {
		mode   smtpsink.TLSMode
		policy gomail.Option
	}{
		{smtpsink.TLSNone, gomail.WithTLSPolicy(gomail.NoTLS)},
		{smtpsink.TLSStartTLS, gomail.WithTLSPolicy(gomail.TLSMandatory)},
		{smtpsink.TLSImplicit, gomail.WithSSL()},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			s := smtpsink.New(t, smtpsink.Options{TLS: tc.mode, Username: "user", Password: "secret"})
			client, err := gomail.NewClient(s.Host(),
				gomail.WithPort(s.Port()), tc.policy,
				gomail.WithTLSConfig(&tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}),
				gomail.WithSMTPAuth(gomail.SMTPAuthPlain), gomail.WithUsername("user"), gomail.WithPassword("secret"),
				gomail.WithTimeout(5*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			msg := gomail.NewMsg()
			if err := msg.From("TokTok <no-reply@toktok.example>"); err != nil {
				t.Fatal(err)
			}
			if err := msg.To("ann@example.com"); err != nil {
				t.Fatal(err)
			}
			msg.Subject(wantSubj)
			msg.SetBodyString(gomail.TypeTextPlain, wantText)
			msg.AddAlternativeString(gomail.TypeTextHTML, wantHTML)
			if err := client.DialAndSendWithContext(t.Context(), msg); err != nil {
				t.Fatal(err)
			}
			m := s.NextTo(t, "ann@example.com")
			if m.From != "no-reply@toktok.example" || m.User != "user" || m.TLS != (tc.mode != smtpsink.TLSNone) {
				t.Errorf("envelope from=%q user=%q tls=%v", m.From, m.User, m.TLS)
			}
			checkMultipart(t, m)
		})
	}
}

func TestStartTLSAndAuth(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{TLS: smtpsink.TLSStartTLS, Username: "user", Password: "secret"})
	msg := rawMultipart("ann@example.com")

	// AUTH is required before MAIL FROM.
	if err := send(dial(t, s), "from@example.com", []string{"ann@example.com"}, msg); code(err) != 502 {
		t.Errorf("MAIL without AUTH: %v, want 502", err)
	}
	// Wrong password.
	c := dial(t, s)
	if err := c.Auth(smtp.PlainAuth("", "user", "wrong", "127.0.0.1")); code(err) != 535 {
		t.Errorf("wrong password: %v, want 535", err)
	}
	// AUTH PLAIN is accepted in plain text on loopback; the message records no TLS.
	c = dial(t, s)
	if err := c.Auth(smtp.PlainAuth("", "user", "secret", "127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, "from@example.com", []string{"ann@example.com"}, msg); err != nil {
		t.Fatal(err)
	}
	if m := s.Next(t); m.User != "user" || m.TLS {
		t.Errorf("user=%q tls=%v", m.User, m.TLS)
	}
	// STARTTLS, verifying the certificate under both of its names.
	for _, name := range []string{"localhost", "127.0.0.1"} {
		c := dial(t, s)
		if err := c.StartTLS(&tls.Config{RootCAs: s.CertPool(), ServerName: name, MinVersion: tls.VersionTLS12}); err != nil {
			t.Fatalf("STARTTLS as %s: %v", name, err)
		}
		if err := c.Auth(smtp.PlainAuth("", "user", "secret", "127.0.0.1")); err != nil {
			t.Fatal(err)
		}
		if err := send(c, "from@example.com", []string{"ann@example.com"}, msg); err != nil {
			t.Fatal(err)
		}
		m := s.Next(t)
		if m.User != "user" || !m.TLS {
			t.Errorf("user=%q tls=%v", m.User, m.TLS)
		}
		checkMultipart(t, m)
	}
	// Without the sink's CertPool, the self-signed certificate is refused.
	c = dial(t, s)
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS12}); err == nil {
		t.Error("self-signed certificate verified without CertPool")
	}
}

func TestImplicitTLS(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{TLS: smtpsink.TLSImplicit})
	conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	c, err := smtp.NewClient(conn, "localhost")
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, "from@example.com", []string{"ann@example.com"}, rawMultipart("ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if m := s.Next(t); !m.TLS || m.User != "" {
		t.Errorf("tls=%v user=%q", m.TLS, m.User)
	}
	// A plain-text client gets no greeting it understands.
	plain, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Write([]byte("EHLO client.test\r\n")); err != nil {
		t.Fatal(err)
	}
	// How the read ends (EOF when the server drops the connection, a reset, or
	// the deadline) is not what is tested, so its error is deliberately not a
	// failure: only what was answered before it counts.
	b, err := io.ReadAll(plain)
	if strings.HasPrefix(string(b), "220") || strings.HasPrefix(string(b), "250") {
		t.Errorf("plain-text client answered %q (read error: %v) by an implicit TLS server", b, err)
	}
}

func TestOtherLoopbackHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("127.0.0.2 is not available: %v", err)
	}
	ln.Close()
	s := smtpsink.New(t, smtpsink.Options{Host: "127.0.0.2", TLS: smtpsink.TLSStartTLS})
	if s.Host() != "127.0.0.2" {
		t.Errorf("Host() = %q", s.Host())
	}
	c := dial(t, s)
	if err := c.StartTLS(&tls.Config{RootCAs: s.CertPool(), ServerName: "127.0.0.2", MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("certificate for 127.0.0.2: %v", err)
	}
	if err := send(c, "from@example.com", []string{"ann@example.com"}, rawMultipart("ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if m := s.Next(t); !m.TLS {
		t.Error("not TLS")
	}
}

func TestRcptErrors(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{RcptErrors: map[string]error{
		"gone@example.com": &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"},
	}})
	c := dial(t, s)
	if err := c.Mail("from@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("gone@example.com"); code(err) != 550 || !strings.Contains(err.Error(), "no such user") {
		t.Errorf("RCPT gone: %v, want 550", err)
	}
	if err := c.Rcpt("ann@example.com"); err != nil {
		t.Errorf("RCPT ann: %v", err)
	}
	// Switched at run time.
	s.RejectRcpt("busy@example.com", &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"})
	s.RejectRcpt("gone@example.com", nil)
	if err := c.Rcpt("busy@example.com"); code(err) != 450 {
		t.Errorf("RCPT busy: %v, want 450", err)
	}
	if err := c.Rcpt("gone@example.com"); err != nil {
		t.Errorf("RCPT gone after RejectRcpt(nil): %v", err)
	}
	if err := c.Reset(); err != nil {
		t.Fatal(err)
	}
	// After RSET, only the recipients of the new transaction are recorded.
	if err := send(c, "from@example.com", []string{"gone@example.com"}, rawMultipart("ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if m := s.Next(t); !slices.Equal(m.To, []string{"gone@example.com"}) {
		t.Errorf("To %v", m.To)
	}
}

// TestScriptRcpt: each delivery attempt (a connection of its own, as the mailer makes)
// gets the next scripted RCPT TO reply for its recipient, then the standing one; Rcpts
// counts every RCPT TO answered, per address, across a restart.
func TestScriptRcpt(t *testing.T) {
	e451 := &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try later"}
	e450 := &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"}
	e550 := &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	for _, tc := range []struct {
		name     string
		standing error     // RejectRcpt's, nil for none
		scripts  [][]error // ScriptRcpt calls, in order
		want     []int     // the RCPT TO code of each attempt, 0 when accepted
	}{
		{"deferred twice, then taken", nil, [][]error{{e451, e451}}, []int{451, 451, 0}},
		{"scripts add up", nil, [][]error{{e451}, {e450}}, []int{451, 450, 0, 0}},
		{"a script before a standing refusal", e550, [][]error{{nil, e451}}, []int{0, 451, 550, 550}},
		{"no script", nil, nil, []int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smtpsink.New(t, smtpsink.Options{})
			const addr = "bob@example.com"
			s.RejectRcpt(addr, tc.standing)
			for _, replies := range tc.scripts {
				s.ScriptRcpt(addr, replies...)
			}
			var got []int
			for range tc.want {
				err := sendPlain(t, s, addr, rawMultipart(addr))
				got = append(got, code(err))
				if err == nil {
					if m := s.Next(t); !slices.Equal(m.To, []string{addr}) {
						t.Errorf("delivered to %v", m.To)
					}
				} else if code(err) == 0 {
					t.Fatalf("attempt %d: %v", len(got), err)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("RCPT TO codes %v, want %v", got, tc.want)
			}
			if n := s.Pending(); n != 0 {
				t.Errorf("%d messages recorded beyond the accepted ones", n)
			}
			s.Stop()
			s.Restart(t)
			if n, other := s.Rcpts(addr), s.Rcpts("ann@example.com"); n != len(tc.want) || other != 0 {
				t.Errorf("after a restart, Rcpts = %d for %s and %d for a recipient never tried; want %d and 0", n, addr, other, len(tc.want))
			}
		})
	}
}

func TestRefuse(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{})
	msg := rawMultipart("ann@example.com")
	s.Refuse(&gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	if err := sendPlain(t, s, "ann@example.com", msg); code(err) != 550 {
		t.Errorf("refused 550: %v", err)
	}
	s.Refuse(&gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"})
	if err := sendPlain(t, s, "ann@example.com", msg); code(err) != 451 {
		t.Errorf("refused 451: %v", err)
	}
	if n := s.Pending(); n != 0 {
		t.Errorf("%d refused messages recorded", n)
	}
	s.Refuse(nil)
	if err := sendPlain(t, s, "ann@example.com", msg); err != nil {
		t.Fatal(err)
	}
	s.NextTo(t, "ann@example.com")
}

func TestHoldRelease(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{})
	msg := rawMultipart("ann@example.com")
	s.Hold()
	s.Hold() // idempotent
	errc := make(chan error, 2)
	for range 2 {
		c := dial(t, s)
		go func() { errc <- send(c, "from@example.com", []string{"ann@example.com"}, msg) }()
	}
	s.WaitHeld(t)
	s.WaitHeld(t) // returns at once while one is held
	if s.Pending() != 0 {
		t.Error("a held message is pending")
	}
	// A held DATA can still be refused.
	s.Refuse(&gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "too late"})
	s.Release()
	s.Release() // idempotent
	for range 2 {
		if err := <-errc; code(err) != 451 {
			t.Errorf("held then refused: %v, want 451", err)
		}
	}
	if n := s.Held(); n != 0 {
		t.Errorf("Held() = %d after Release", n)
	}
	// Released: DATA is answered at once.
	s.Refuse(nil)
	if err := sendPlain(t, s, "ann@example.com", msg); err != nil {
		t.Fatal(err)
	}
	checkMultipart(t, s.NextTo(t, "ann@example.com"))
	if n := s.Pending(); n != 0 {
		t.Errorf("Pending() = %d", n)
	}
}

func TestStopRestart(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{TLS: smtpsink.TLSImplicit})
	port := s.Port()
	tlsCfg := &tls.Config{RootCAs: s.CertPool(), ServerName: "localhost", MinVersion: tls.VersionTLS12}
	sendTLS := func() error {
		conn, err := tls.Dial("tcp", s.Addr(), tlsCfg)
		if err != nil {
			return err
		}
		c, err := smtp.NewClient(conn, "localhost")
		if err != nil {
			conn.Close()
			return err
		}
		return send(c, "from@example.com", []string{"ann@example.com"}, rawMultipart("ann@example.com"))
	}
	if err := sendTLS(); err != nil {
		t.Fatal(err)
	}

	// A held DATA fails when the sink stops.
	s.Hold()
	errc := make(chan error, 1)
	go func() { errc <- sendTLS() }()
	s.WaitHeld(t)
	s.Stop()
	s.Stop() // idempotent
	if err := <-errc; err == nil {
		t.Error("held DATA accepted by a stopped sink")
	}
	s.Release()
	if _, err := net.Dial("tcp", s.Addr()); err == nil {
		t.Error("stopped sink accepts connections")
	}
	// What was received before Stop is still there.
	if m := s.Next(t); !m.TLS {
		t.Error("first message lost")
	}

	s.Restart(t)
	if s.Port() != port {
		t.Errorf("port %d after restart, was %d", s.Port(), port)
	}
	if err := sendTLS(); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if m := s.NextTo(t, "ann@example.com"); !m.TLS {
		t.Error("restarted without TLS")
	}
}

// TestStopRightAfterStart: Stop returns, and the port is free, even when it comes before
// the server goroutine has started to accept (New or Restart immediately followed by
// Stop, as when a test ends at once). Each round is bounded: a Stop that hangs fails the
// test instead of stalling it.
func TestStopRightAfterStart(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{})
	for i := range 50 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Stop()
		}()
		select {
		case <-done:
		case <-time.After(smtpsink.DefaultWait):
			t.Fatalf("round %d: Stop did not return within %v", i, smtpsink.DefaultWait)
		}
		if c, err := net.Dial("tcp", s.Addr()); err == nil {
			c.Close()
			t.Fatalf("round %d: the stopped sink accepts connections", i)
		}
		s.Restart(t)
	}
	if err := sendPlain(t, s, "ann@example.com", rawMultipart("ann@example.com")); err != nil {
		t.Fatalf("after the restarts: %v", err)
	}
	s.NextTo(t, "ann@example.com")
}

func TestReceive(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive(cancelled) = %v", err)
	}
	// Receive returns a message that arrives while it waits.
	got := make(chan smtpsink.Message, 1)
	go func() {
		ctx, cancel := context.WithTimeout(t.Context(), smtpsink.DefaultWait)
		defer cancel()
		m, err := s.Receive(ctx)
		if err != nil {
			t.Errorf("Receive: %v", err)
		}
		got <- m
	}()
	if err := sendPlain(t, s, "ann@example.com", rawMultipart("ann@example.com")); err != nil {
		t.Fatal(err)
	}
	if m := <-got; !slices.Equal(m.To, []string{"ann@example.com"}) {
		t.Errorf("To %v", m.To)
	}
}

// fakeTB records failures. Its Fatal methods end the goroutine, as testing's do, so the
// helpers under test run in a goroutine of run's.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	fatal  []string
	errors []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = append(f.fatal, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// run calls fn with f in a new goroutine and waits for it.
func (f *fakeTB) run(fn func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
}

func TestHelpersFail(t *testing.T) {
	s := smtpsink.New(t, smtpsink.Options{Wait: 50 * time.Millisecond})
	f := &fakeTB{TB: t}

	f.run(func(tb testing.TB) { s.Next(tb) })
	f.run(func(tb testing.TB) { s.WaitHeld(tb) })
	if err := sendPlain(t, s, "bob@example.com", rawMultipart("bob@example.com")); err != nil {
		t.Fatal(err)
	}
	f.run(func(tb testing.TB) { s.NextTo(tb, "ann@example.com") })
	f.run(func(tb testing.TB) { s.Restart(tb) }) // running
	want := []string{"no message within 50ms", "no DATA held within 50ms", "message to [bob@example.com], want ann@example.com", "Restart of a running sink"}
	if len(f.fatal) != len(want) {
		t.Fatalf("fatal %q, want %q", f.fatal, want)
	}
	for i, w := range want {
		if !strings.Contains(f.fatal[i], w) {
			t.Errorf("fatal %q, want %q", f.fatal[i], w)
		}
	}

	// An unparsable message is recorded and reported, not dropped.
	if err := sendPlain(t, s, "ann@example.com", "no header here\r\n\r\nbody\r\n"); err != nil {
		t.Fatal(err)
	}
	var m smtpsink.Message
	f.run(func(tb testing.TB) { m = s.Next(tb) })
	if m.ParseErr == nil || string(m.Raw) != "no header here\r\n\r\nbody\r\n" {
		t.Errorf("ParseErr %v, Raw %q", m.ParseErr, m.Raw)
	}
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "unparsable message") {
		t.Errorf("errors %q", f.errors)
	}
}

func TestParse(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct {
		name, raw        string
		mediaType, parts string // parts: media types joined by ","
		text, html       string
		err              string
	}{{
		name:      "no content type",
		raw:       "Subject: hi\r\n\r\nhello https://x.example/a?token=t1&b=2\r\n",
		mediaType: "text/plain", parts: "text/plain", text: "hello https://x.example/a?token=t1&b=2\r\n",
	}, {
		name:      "single quoted-printable",
		raw:       "Subject: hi\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\n",
		mediaType: "text/plain", parts: "text/plain", text: "café au lait\r\n",
	}, {
		name:      "single base64 html",
		raw:       "Subject: hi\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: BASE64\r\n\r\n" + b64("<b>hé</b>") + "\r\n",
		mediaType: "text/html", parts: "text/html", html: "<b>hé</b>",
	}, {
		name: "nested",
		raw: "Subject: hi\r\nContent-Type: multipart/mixed; boundary=out\r\n\r\n" +
			"--out\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n" +
			"--in\r\nContent-Type: text/plain\r\n\r\nplain\r\n" +
			"--in\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<p a=3D\"1\">x</p>\r\n" +
			"--in--\r\n" +
			"--out\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64("%PDF") + "\r\n" +
			"--out--\r\n",
		mediaType: "multipart/mixed", parts: "text/plain,text/html,application/pdf", text: "plain", html: `<p a="1">x</p>`,
	}, {
		name: "no boundary",
		raw:  "Subject: hi\r\nContent-Type: multipart/alternative\r\n\r\nx\r\n",
		err:  "without a boundary", mediaType: "multipart/alternative",
	}, {
		name: "bad base64",
		raw:  "Subject: hi\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
		err:  "illegal base64", mediaType: "text/plain",
	}, {
		name: "bad header",
		raw:  "no header\r\n\r\nx",
		err:  "header",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := smtpsink.Parse([]byte(tc.raw))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("err = %v, want %q", err, tc.err)
			}
			var parts []string
			for _, p := range m.Parts {
				parts = append(parts, p.MediaType)
			}
			if m.MediaType != tc.mediaType || strings.Join(parts, ",") != tc.parts || m.Text != tc.text || m.HTML != tc.html {
				t.Errorf("got %q %v text %q html %q", m.MediaType, parts, m.Text, m.HTML)
			}
			if string(m.Raw) != tc.raw {
				t.Error("Raw differs")
			}
			if err == nil && m.Subject != "hi" {
				t.Errorf("Subject %q", m.Subject)
			}
		})
	}
	m, err := smtpsink.Parse([]byte("Subject: x\r\n\r\nhttps://x.example/confirm#token=a%2Fb more\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Link() != "https://x.example/confirm#token=a%2Fb" || m.Token() != "a%2Fb" {
		t.Errorf("Link %q Token %q", m.Link(), m.Token())
	}
	m, err = smtpsink.Parse([]byte("Subject: x\r\n\r\nno link\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Link() != "" || m.Token() != "" {
		t.Errorf("Link %q Token %q", m.Link(), m.Token())
	}
	// Parts keep their parameters and header.
	m, err = smtpsink.Parse([]byte("Subject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\nX-A: b\r\n\r\nx"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Parts) != 1 || m.Parts[0].Params["charset"] != "iso-8859-1" || m.Parts[0].Header.Get("X-A") != "b" {
		t.Errorf("parts %+v", m.Parts)
	}
}

func TestTLSModeString(t *testing.T) {
	for mode, want := range map[smtpsink.TLSMode]string{
		smtpsink.TLSNone: "none", smtpsink.TLSStartTLS: "starttls", smtpsink.TLSImplicit: "implicit", 7: "TLSMode(7)",
	} {
		if got := mode.String(); got != want {
			t.Errorf("%d: %q, want %q", int(mode), got, want)
		}
	}
}
