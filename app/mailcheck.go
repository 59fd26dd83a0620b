package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mailer"
)

// smtpSender builds the SMTP sender when mails go out over SMTP and the caller gave no
// Sender, sets it in opts, and checks its server as a send would, short of the mail:
// connect, EHLO, TLS, AUTH, QUIT (mailer.SMTPSender.Check).
//
// In the development modes (default with --mail-sender=smtp, dev_email) a server that
// fails the check ends the start, with an error that says what was tried and what to do:
// a newcomer would otherwise see the service start and the first mail fail. In preprod and
// production the check is only logged, and runs later, in the background, from the
// returned function (nil when there is nothing to run): the outbox keeps the mails and
// retries them, and an authentication service must neither stop nor wait for a mail
// server that is down or drops packets.
func (a *App) smtpSender(ctx context.Context, opts *Options) (later func(context.Context), err error) {
	mode := a.w.Mail.Mode
	if opts.Sender != nil || a.w.Mail.SMTP == nil {
		return nil, nil
	}
	sender, err := newSender(a.w.Mail, a.log)
	if err != nil {
		return nil, err
	}
	opts.Sender = sender
	s, ok := sender.(*mailer.SMTPSender)
	if !ok {
		return nil, nil
	}
	if !mode.Dev() {
		return func(ctx context.Context) { a.logSMTPCheck(ctx, s) }, nil
	}
	if err := s.Check(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, err // the start was interrupted: nothing to explain
		}
		return nil, smtpStartError(mode, a.w.Mail.SMTP.TLS, s.Addr(), err)
	}
	a.log.Info("SMTP server answers", "addr", s.Addr())
	return nil, nil
}

// logSMTPCheck checks the SMTP server and logs the outcome; nothing when ctx ends first
// (the App is closing).
func (a *App) logSMTPCheck(ctx context.Context, s *mailer.SMTPSender) {
	err := s.Check(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		a.log.Warn("SMTP server check failed at start; mails wait in the outbox and are retried until it takes them",
			"addr", s.Addr(), "err", err)
		return
	}
	a.log.Info("SMTP server answers", "addr", s.Addr())
}

// mailpitUI is where a Mailpit started as smtpStartError says shows its mails.
const mailpitUI = "http://localhost:8025"

// smtpStartError is the error of a development start whose SMTP server failed the check:
// what was tried, why it failed, and the ways out (a local Mailpit, another server, or the
// log sender).
func smtpStartError(mode config.Mode, tlsMode, addr string, err error) error {
	var b strings.Builder
	what := "--mail-sender=smtp sends the mails over SMTP"
	logInstead := "or leave --mail-sender out: default mode's mails go to the log and to the dev inbox at /dev/mail."
	if mode == config.ModeDevEmail {
		what = "--mode=dev_email sends the mails over SMTP"
		logInstead = "or use --mode=default: its mails go to the log and to the dev inbox at /dev/mail."
	}
	if cause, ok := dialFailure(err); ok {
		fmt.Fprintf(&b, "%s, and no SMTP server answers at %s (%s).\n", what, addr, cause)
		b.WriteString(mailpitHint(addr, tlsMode))
		b.WriteString("  Or point --smtp-host and --smtp-port at a server that answers,\n")
	} else {
		fmt.Fprintf(&b, "%s, and the SMTP server at %s answered, but the session failed: %v.\n", what, addr, err)
		b.WriteString("  Check --smtp-tls (none, starttls or implicit: a local Mailpit speaks none),\n")
		b.WriteString("  --smtp-username and the SMTP password,\n")
	}
	b.WriteString("  " + logInstead)
	return &smtpCheckError{msg: b.String(), err: err}
}

// smtpCheckError is smtpStartError's error: its text for the newcomer, the check's error
// in its chain.
type smtpCheckError struct {
	msg string
	err error
}

func (e *smtpCheckError) Error() string { return e.msg }
func (e *smtpCheckError) Unwrap() error { return e.err }

// dialFailure reports whether err is a failure to connect (nothing listening, an unknown
// host, no route, a timeout while dialling) rather than a server that answered, and its
// cause without the address, which the message gives already.
func dialFailure(err error) (string, bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return op.Err.Error(), true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.Error(), true
	}
	return "", false
}

// mailpitHint says how to start Mailpit where the configuration looks for a server: on
// the configured port when it is on this machine, else on Mailpit's own ports with the
// flags that point TokTok at it.
func mailpitHint(addr, tlsMode string) string {
	host, port, _ := net.SplitHostPort(addr)
	docker, binary, flags := "1025", "mailpit", " with --smtp-host=localhost --smtp-port=1025 --smtp-tls=none"
	if loopback(host) {
		docker, flags = port, ""
		if port != "1025" {
			binary = "mailpit --smtp " + net.JoinHostPort(host, port)
		}
		if tlsMode != mailer.TLSNone {
			flags = " with --smtp-tls=none"
		}
	}
	return "  To catch them on this machine, start Mailpit:\n" +
		"    docker run -d --name mailpit -p 8025:8025 -p " + docker + ":1025 axllent/mailpit\n" +
		"  or its binary: " + binary + "\n" +
		"  then run TokTok again" + flags + " and read the mails at " + mailpitUI + ".\n"
}

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
