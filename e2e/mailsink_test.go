package e2e

import (
	"strconv"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/store"
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

// ---------------------------------------------------------------------------------------
// The outbox, read from the store: "no mail was sent" is checked as "no mail was queued",
// never by waiting for nothing to arrive.

// outboxTo returns every outbox mail to the canonical address addr, whatever its state,
// oldest first, as stored.
func (e *testEnv) outboxTo(addr string) []store.Mail {
	e.t.Helper()
	ms, err := e.app.Support().OutboxTo(e.t.Context(), addr)
	if err != nil {
		e.t.Fatalf("outbox mails to %s: %v", addr, err)
	}
	return ms
}

// outboxCount returns how many mails to addr the outbox holds, whatever their state, once
// the work that outlives its request has finished (forgotPassword queues its mail after it
// answered).
func (e *testEnv) outboxCount(addr string) int {
	e.t.Helper()
	e.app.Support().Settle()
	return len(e.outboxTo(addr))
}

// wantOutboxCount fails the test unless the outbox holds want mails to addr (counted as
// outboxCount does). Counted before and after some requests, it shows they queued none.
func (e *testEnv) wantOutboxCount(addr string, want int) {
	e.t.Helper()
	if got := e.outboxCount(addr); got != want {
		var kinds []string
		for _, m := range e.outboxTo(addr) {
			kinds = append(kinds, m.Kind+" ("+string(m.State)+")")
		}
		e.t.Fatalf("the outbox holds %d mails to %s, want %d: %v", got, addr, want, kinds)
	}
}

// outboxSettle waits (smtpsink.DefaultWait at most) until no mail to any of addrs is
// pending: each was sent, and so is in the sink (which records a message before it answers
// DATA, and the worker marks a mail sent only after that answer), or failed for good.
func (e *testEnv) outboxSettle(addrs ...string) {
	e.t.Helper()
	e.app.Support().Settle()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(smtpsink.DefaultWait)
	defer deadline.Stop()
	for {
		pending := map[string]int{}
		for _, addr := range addrs {
			ms, err := e.app.Support().OutboxTo(e.t.Context(), addr)
			if err != nil {
				e.t.Fatalf("outbox of %s: %v", addr, err)
			}
			for _, m := range ms {
				if m.State == store.MailPending {
					pending[addr]++
				}
			}
		}
		if len(pending) == 0 {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			e.t.Fatalf("mails still pending after %v: %v", smtpsink.DefaultWait, pending)
			return
		}
	}
}

// wantNoMoreMail fails the test if the sink holds a mail the test has not taken, once no
// mail to any of addrs is pending in the outbox (so every mail to them that the worker
// sends has reached the sink): no check waits for nothing to arrive.
func (s *mailSink) wantNoMoreMail(e *testEnv, addrs ...string) {
	s.t.Helper()
	e.outboxSettle(addrs...)
	if n := s.Pending(); n > 0 {
		m := s.Next()
		s.t.Fatalf("%d unexpected mails; the first to %v: %q", n, m.To, m.Subject)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
