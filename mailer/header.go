package mailer

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/store"
)

// Header-safety errors; both are permanent: retrying cannot make the value valid.
var (
	// ErrUnsafeHeader: a value bound for a mail header holds a control character (CR, LF,
	// NUL, ...), a Unicode line separator or invalid UTF-8, or is too long.
	ErrUnsafeHeader = errors.New("mailer: unsafe header value")
	// ErrInvalidAddress: an address is not a plain, valid addr-spec.
	ErrInvalidAddress = errors.New("mailer: invalid email address")
)

// maxHeaderBytes is the longest value CleanHeader accepts: RFC 5322's line limit. Longer
// values are not subjects or addresses but accidents.
const maxHeaderBytes = 998

// CleanHeader returns s without surrounding white space when it is safe to put in a mail
// header, and an error wrapping ErrUnsafeHeader otherwise: any control character (CR, LF,
// NUL, TAB, DEL, the C1 range), U+2028/U+2029 (which some clients treat as line breaks),
// invalid UTF-8, or more than 998 bytes. A header value cannot then smuggle in a header of
// its own ("a\r\nBcc: x"). It refuses rather than strips: a line break in a subject means
// something upstream is wrong, and that must be visible.
func CleanHeader(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: invalid UTF-8", ErrUnsafeHeader)
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return "", fmt.Errorf("%w: character %U at byte %d", ErrUnsafeHeader, r, i)
		}
	}
	s = strings.TrimSpace(s)
	if len(s) > maxHeaderBytes {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrUnsafeHeader, maxHeaderBytes)
	}
	return s, nil
}

// ValidateAddress returns addr when it is a bare address (addr-spec, no display name, no
// comments) that net/mail parses back to itself, with at most 254 bytes in all and 64 in
// the local part; otherwise an error wrapping ErrInvalidAddress (or ErrUnsafeHeader).
// Addresses are expected canonical already (see store): this does not change them.
func ValidateAddress(addr string) (string, error) {
	clean, err := CleanHeader(addr)
	if err != nil {
		return "", err
	}
	if clean != addr || addr == "" {
		return "", fmt.Errorf("%w: empty or surrounded by spaces", ErrInvalidAddress)
	}
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidAddress, err)
	}
	if a.Name != "" || a.Address != addr {
		return "", fmt.Errorf("%w: not a bare address", ErrInvalidAddress)
	}
	at := strings.LastIndexByte(addr, '@')
	if len(addr) > 254 || at > 64 {
		return "", fmt.Errorf("%w: too long", ErrInvalidAddress)
	}
	return addr, nil
}

// Envelope is one mail as a Sender sends it.
type Envelope struct {
	To, Subject, Text, HTML string
	// ID identifies the mail in logs and becomes the local part of its Message-ID, so that
	// a mail sent twice (a crash between delivery and record) carries the same Message-ID.
	ID string
}

// EnvelopeFromMail is the envelope of an outbox mail.
func EnvelopeFromMail(m store.Mail) Envelope {
	return Envelope{ID: m.ID, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML}
}

// NewMail checks a rendered message and its recipient and returns the pending outbox mail
// to write to the store in the same operation that needs it. The recipient must pass
// ValidateAddress and the subject CleanHeader, so nothing unsafe is ever queued; the
// errors wrap ErrInvalidAddress or ErrUnsafeHeader. It is due at once (NextAttemptAt=now).
func NewMail(id, kind, to string, msg Message, now time.Time) (store.Mail, error) {
	if id == "" {
		return store.Mail{}, errors.New("mailer: mail without an id")
	}
	to, err := ValidateAddress(to)
	if err != nil {
		return store.Mail{}, fmt.Errorf("mailer: recipient: %w", err)
	}
	subject, err := CleanHeader(msg.Subject)
	if err != nil {
		return store.Mail{}, fmt.Errorf("mailer: subject: %w", err)
	}
	now = now.UTC()
	return store.Mail{
		ID:            id,
		Kind:          kind,
		To:            to,
		Subject:       subject,
		Text:          msg.Text,
		HTML:          msg.HTML,
		State:         store.MailPending,
		CreatedAt:     now,
		NextAttemptAt: now,
	}, nil
}
