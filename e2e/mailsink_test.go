package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/toktok/toktok/config"
)

// mailSink is a real SMTP server on loopback (github.com/emersion/go-smtp) that records
// what it receives, so end-to-end tests read mails the way a user would: from a mailbox.
type mailSink struct {
	t    testing.TB
	Port int
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}
	msgs chan sinkMail
	mu   sync.Mutex
	// Refuse, when set, answers every DATA with this error (a failing relay).
	refuse error
}

// sinkMail is one received mail, parsed.
type sinkMail struct {
	From    string
	To      []string
	Raw     []byte
	Header  mail.Header
	Subject string
	Text    string
	HTML    string
}

// Link returns the first http(s) URL of the text part.
func (m sinkMail) Link() string {
	return linkPattern.FindString(m.Text)
}

// Token returns the token of the mail's link (fragment or query), "" without one.
func (m sinkMail) Token() string {
	if s := tokenPattern.FindStringSubmatch(m.Text); s != nil {
		return s[1]
	}
	return ""
}

var (
	linkPattern  = regexp.MustCompile(`https?://[^\s<>"]+`)
	tokenPattern = regexp.MustCompile(`[#?&]token=([A-Za-z0-9_\-%]+)`)
)

// startMailSink listens on a free loopback port.
func startMailSink(t testing.TB) *mailSink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &mailSink{t: t, Port: ln.Addr().(*net.TCPAddr).Port, msgs: make(chan sinkMail, 100)}
	s.serve(ln)
	t.Cleanup(s.Stop)
	return s
}

func (s *mailSink) serve(ln net.Listener) {
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &sinkSession{sink: s}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv, s.ln, s.done = srv, ln, make(chan struct{})
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
}

// Stop shuts the server down (SMTP is "down" until Restart).
func (s *mailSink) Stop() {
	if s.srv == nil {
		return
	}
	_ = s.srv.Close()
	<-s.done
	s.srv = nil
}

// Restart listens again on the same port.
func (s *mailSink) Restart() {
	s.t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", itoa(s.Port)))
	if err != nil {
		s.t.Fatalf("restart mail sink: %v", err)
	}
	s.serve(ln)
}

// Refuse makes every DATA fail with err (nil accepts again).
func (s *mailSink) Refuse(err error) {
	s.mu.Lock()
	s.refuse = err
	s.mu.Unlock()
}

// Configure points cfg's mail at the sink: SMTP without TLS, a fast-polling worker.
func (s *mailSink) Configure(cfg *config.Config) {
	cfg.Mail.Sender = "smtp"
	cfg.Mail.SMTPHost, cfg.Mail.SMTPPort, cfg.Mail.SMTPTLS = "127.0.0.1", s.Port, "none"
	cfg.Mail.From = "TokTok <no-reply@toktok.test>"
	cfg.Mail.PollInterval = 20 * time.Millisecond
	cfg.Mail.SMTPTimeout = 5 * time.Second
}

// Next waits for the next mail (10 s at most).
func (s *mailSink) Next() sinkMail {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(10 * time.Second):
		s.t.Fatal("no mail arrived within 10 s")
		return sinkMail{}
	}
}

// NextTo waits for the next mail and checks its recipient.
func (s *mailSink) NextTo(to string) sinkMail {
	s.t.Helper()
	m := s.Next()
	if len(m.To) != 1 || m.To[0] != to {
		s.t.Fatalf("mail to %v, want %s (subject %q)", m.To, to, m.Subject)
	}
	return m
}

// None checks that no mail arrives within d.
func (s *mailSink) None(d time.Duration) {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		s.t.Fatalf("unexpected mail to %v: %q", m.To, m.Subject)
	case <-time.After(d):
	}
}

type sinkSession struct {
	sink *mailSink
	from string
	to   []string
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.sink.mu.Lock()
	refuse := ss.sink.refuse
	ss.sink.mu.Unlock()
	if refuse != nil {
		return refuse
	}
	m := sinkMail{From: ss.from, To: ss.to, Raw: raw}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		ss.sink.t.Errorf("received an unparsable mail: %v\n%s", err, raw)
		return nil
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	m.Subject, _ = dec.DecodeHeader(msg.Header.Get("Subject"))
	m.Text, m.HTML = sinkParts(msg)
	ss.sink.msgs <- m
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// sinkParts extracts the decoded text and HTML parts of a multipart/alternative mail.
func sinkParts(msg *mail.Message) (text, html string) {
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return "", ""
	}
	if !strings.HasPrefix(mt, "multipart/") {
		b, _ := io.ReadAll(decodePart(msg.Header.Get("Content-Transfer-Encoding"), msg.Body))
		return string(b), ""
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return text, html
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		// multipart.Part decodes quoted-printable itself and drops the header.
		b, _ := io.ReadAll(decodePart(p.Header.Get("Content-Transfer-Encoding"), p))
		switch pt {
		case "text/plain":
			text = string(b)
		case "text/html":
			html = string(b)
		}
	}
}

func decodePart(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &lineStripper{r: r})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// lineStripper drops CR and LF so base64 lines decode as one stream.
type lineStripper struct{ r io.Reader }

func (l *lineStripper) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	j := 0
	for _, c := range p[:n] {
		if c != '\r' && c != '\n' {
			p[j] = c
			j++
		}
	}
	return j, err
}

func itoa(n int) string { return strconv.Itoa(n) }
