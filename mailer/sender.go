package mailer

import (
	"context"
	"errors"
	"log/slog"

	gomail "github.com/wneessen/go-mail"

	"github.com/toktok/toktok/internal/textcut"
)

// Sender delivers one mail. It must be safe for concurrent use: the Worker sends a claimed
// batch in parallel. An error for which IsPermanent is true means retrying cannot succeed.
type Sender interface {
	Send(ctx context.Context, m Envelope) error
}

var (
	_ Sender = LogSender{}
	_ Sender = (*SMTPSender)(nil)
)

// LogSender "sends" a mail by logging all of it, link included, at info level: the sender
// of the `default` mode, where a developer reads confirmation links in the console. Never
// use it where the logs are kept or shared (preprod, production): the link is a secret.
type LogSender struct {
	Log *slog.Logger // nil: slog.Default()
}

// Send logs m. It refuses what the SMTP sender would refuse (unsafe subject, invalid
// recipient), with a permanent error, so development shows the same failures.
func (s LogSender) Send(ctx context.Context, m Envelope) error {
	to, err := ValidateAddress(m.To)
	if err != nil {
		return Permanent(err)
	}
	subject, err := CleanHeader(m.Subject)
	if err != nil {
		return Permanent(err)
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	log.InfoContext(ctx, "mail (log sender, not delivered)",
		"id", m.ID, "to", to, "subject", subject, "text", m.Text, "html", m.HTML)
	return nil
}

// permanentError marks an error as not worth retrying.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as permanent for IsPermanent (nil stays nil). Senders other than
// SMTPSender use it to stop the Worker from retrying.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

// IsPermanent reports whether retrying the send that returned err cannot succeed, so the
// Worker marks the mail failed at once instead of retrying it.
//
// Permanent: errors marked with Permanent (an invalid recipient, an unsafe header, an empty
// mail), an address go-mail cannot use, and a 5xx reply to RCPT TO, DATA or the end of
// DATA: the server refused this recipient or this message.
//
// Temporary (false): everything else, including network errors, timeouts, cancellation,
// TLS failures, 4xx replies, and 5xx replies during the greeting, EHLO, STARTTLS, AUTH or
// MAIL FROM. Those are about the server or our own configuration (credentials, sender
// address), not this mail; calling them permanent would mark the whole queue failed until
// an operator fixed a setting. Retried, the queue drains once the setting is fixed, and
// MaxAttempts still bounds the retries.
func IsPermanent(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var p *permanentError
	if errors.As(err, &p) {
		return true
	}
	var se *gomail.SendError
	if errors.As(err, &se) {
		switch se.Reason {
		case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
			return true
		case gomail.ErrSMTPRcptTo, gomail.ErrSMTPData, gomail.ErrSMTPDataClose:
			code := se.ErrorCode()
			return code >= 500 && code <= 599
		}
	}
	return false
}

// errorSummary is err as a short one-line string for store.Mail.LastError and logs:
// control characters replaced, at most 300 bytes.
func errorSummary(err error) string {
	if err == nil {
		return ""
	}
	b := []rune(err.Error())
	for i, r := range b {
		if r < 0x20 || r == 0x7f {
			b[i] = ' '
		}
	}
	// The []rune round trip has already replaced invalid UTF-8, so the cut only has to
	// respect character boundaries; the ellipsis says the text goes on.
	s := string(b)
	const max = 300
	if len(s) > max {
		s = textcut.Bytes(s, max) + "…"
	}
	return s
}

// errEmptyMail is returned for an envelope with neither text nor HTML.
var errEmptyMail = errors.New("mailer: mail has no body")
