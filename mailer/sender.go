package mailer

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	gomail "github.com/wneessen/go-mail"

	"github.com/toktok/toktok/internal/textcut"
)

// Sender delivers one mail. It must be safe for concurrent use: the Worker sends a claimed
// batch in parallel. An error for which IsPermanent is true means retrying cannot succeed.
type Sender interface {
	Send(ctx context.Context, m Envelope) error
}

// Delivering is an optional interface of a Sender: Delivers reports whether a nil error
// from Send means that the mail left the process for its recipient. The Worker logs "mail
// sent" only for senders that deliver; a Sender without the method is taken to deliver.
// LogSender and DevInbox do not: they log the mail (and keep it) instead, and their own
// record says so, so the Worker records the mail as done without claiming it was sent.
type Delivering interface {
	Delivers() bool
}

// delivers reports whether s delivers what it is handed (see Delivering).
func delivers(s Sender) bool {
	d, ok := s.(Delivering)
	return !ok || d.Delivers()
}

var (
	_ Sender     = LogSender{}
	_ Sender     = (*SMTPSender)(nil)
	_ Delivering = LogSender{}
)

// LogSenderMessage is the message of the log sender's records (and of the dev inbox's,
// which logs the same way): the one record that carries a link token on purpose, in the
// default mode, so a test that scans the logs for secrets may let it through by name.
const LogSenderMessage = "mail (log sender, not delivered)"

// LogSender "sends" a mail by logging it: the sender of the `default` mode, where a
// developer reads confirmation links in the console. At info level, one readable line
// holds the recipient, the subject and the mail's links (http(s) URLs of its text part,
// exact: see FindLinks), and InboxURL when set; the text part follows at debug level, the
// HTML part is not logged. Never use it where the logs are kept or shared (preprod,
// production): the link is a secret.
type LogSender struct {
	Log *slog.Logger // nil: slog.Default()
	// InboxURL, when set, is the dev inbox's page (http://localhost:4100/dev/mail), named
	// in every record so that the developer knows where to read the mail.
	InboxURL string
}

// Send logs m. It refuses what the SMTP sender would refuse (unsafe subject, invalid
// recipient, no body), with a permanent error, so development shows the same failures.
func (s LogSender) Send(ctx context.Context, m Envelope) error {
	to, subject, err := checkEnvelope(m)
	if err != nil {
		return err
	}
	s.logMail(ctx, m, to, subject, FindLinks(m.Text))
	return nil
}

// Delivers is false: the log sender only logs mails (see Delivering).
func (LogSender) Delivers() bool { return false }

// logMail writes the log sender's records of one mail: at info level the readable line,
// at debug level its text part.
func (s LogSender) logMail(ctx context.Context, m Envelope, to, subject string, links []string) {
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	attrs := []any{"to", to, "subject", subject}
	switch len(links) {
	case 0:
	case 1:
		attrs = append(attrs, "link", links[0])
	default:
		attrs = append(attrs, "links", strings.Join(links, " "))
	}
	if s.InboxURL != "" {
		attrs = append(attrs, "inbox", s.InboxURL)
	}
	attrs = append(attrs, "id", m.ID)
	log.InfoContext(ctx, LogSenderMessage, attrs...)
	log.DebugContext(ctx, LogSenderMessage, "id", m.ID, "text", m.Text)
}

// checkEnvelope returns m's recipient and subject as the SMTP sender would put them in
// the headers, or the permanent error for which the SMTP sender would refuse m.
func checkEnvelope(m Envelope) (to, subject string, err error) {
	if to, err = ValidateAddress(m.To); err != nil {
		return "", "", Permanent(err)
	}
	if subject, err = CleanHeader(m.Subject); err != nil {
		return "", "", Permanent(err)
	}
	if m.Text == "" && m.HTML == "" {
		return "", "", Permanent(errEmptyMail)
	}
	return to, subject, nil
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
