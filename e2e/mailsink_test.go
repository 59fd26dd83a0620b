package e2e

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// mailSink adapts an smtpsink.Sink (a real SMTP server on loopback that records what it
// receives) to the end-to-end tests: it remembers the test, so its helpers take no
// testing.TB, and Configure points a config.Config at it.
type mailSink struct {
	*smtpsink.Sink
	t testing.TB
}

// sinkMail is one received mail, parsed: envelope, headers, Subject, Text, HTML, Link(),
// Token().
type sinkMail = smtpsink.Message

// startMailSink starts a plain-text sink on a free loopback port, stopped when t ends.
func startMailSink(t testing.TB) *mailSink {
	t.Helper()
	return &mailSink{Sink: smtpsink.New(t, smtpsink.Options{}), t: t}
}

// Configure points cfg's mail at the sink: SMTP without TLS, a fast-polling worker.
func (s *mailSink) Configure(cfg *config.Config) {
	cfg.Mail.Sender = "smtp"
	cfg.Mail.SMTPHost, cfg.Mail.SMTPPort, cfg.Mail.SMTPTLS = s.Host(), s.Port(), "none"
	cfg.Mail.From = "TokTok <no-reply@toktok.test>"
	cfg.Mail.PollInterval = 20 * time.Millisecond
	cfg.Mail.SMTPTimeout = 5 * time.Second
}

// Restart listens again on the same port after Stop.
func (s *mailSink) Restart() {
	s.t.Helper()
	s.Sink.Restart(s.t)
}

// Next waits for the next mail (smtpsink.DefaultWait at most).
func (s *mailSink) Next() sinkMail {
	s.t.Helper()
	return s.Sink.Next(s.t)
}

// NextTo waits for the next mail and checks that to is its only recipient.
func (s *mailSink) NextTo(to string) sinkMail {
	s.t.Helper()
	return s.Sink.NextTo(s.t, to)
}

// None checks that no mail arrives within d: the mail worker sends asynchronously, so
// only waiting shows that it sent nothing.
func (s *mailSink) None(d time.Duration) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), d)
	defer cancel()
	if m, err := s.Receive(ctx); err == nil {
		s.t.Fatalf("unexpected mail to %v: %q", m.To, m.Subject)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
