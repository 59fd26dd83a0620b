package mailer

import (
	"context"
	"crypto/rand"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// The dev inbox: in the `default` mode, where mails go to the log and nowhere else, the
// service keeps the last mails it would have sent in memory, so that a developer reads
// them (and follows their links) in a browser at /dev/mail (package web) instead of
// fishing a token out of the console. It is a Sender: the Worker hands it the mails as it
// would to SMTP, it keeps them and logs each as the LogSender does.
//
// It holds live link tokens, so it exists only where the log sender would print them
// anyway (config refuses it in the other modes), and it keeps them only in memory: they
// are lost when the process stops.

// Dev inbox bounds, for DevInboxConfig's zero values.
const (
	DefaultDevInboxMax      = 200      // mails
	DefaultDevInboxMaxBytes = 16 << 20 // bytes of text, HTML and headers, all mails together
)

// DevMail is one mail that the dev inbox keeps. Its fields are not changed once kept.
type DevMail struct {
	// ID is the outbox mail's id (the same mail sent twice is kept once, the last time),
	// or a random one when that is empty or not made of URL-safe characters. It names the
	// mail in the inbox's URLs.
	ID      string
	At      time.Time // when the Worker handed it over
	To      string
	Subject string
	Text    string
	HTML    string
	Links   []string // the http(s) URLs of Text, in order, without repeats (FindLinks)
}

func (m DevMail) size() int {
	n := len(m.ID) + len(m.To) + len(m.Subject) + len(m.Text) + len(m.HTML)
	for _, l := range m.Links {
		n += len(l)
	}
	return n
}

// DevInboxConfig configures a DevInbox. Zero values take the defaults in brackets.
type DevInboxConfig struct {
	// Max is how many mails the inbox keeps; older ones are dropped [200].
	Max int
	// MaxBytes bounds the size of the mails kept, all together; the oldest are dropped
	// first, the newest is always kept [16 MiB].
	MaxBytes int
	// URL is where the inbox's page is served (http://localhost:4100/dev/mail): each log
	// record names it [none].
	URL string
	// Log receives the log sender's records [slog.Default()].
	Log *slog.Logger
	// Now is the clock [time.Now].
	Now func() time.Time
}

// DevInbox keeps the last mails it is sent, in memory, and logs each as LogSender does
// (with the inbox's URL). It validates mails as the SMTP sender does, so development sees
// the same refusals. It is safe for concurrent use.
type DevInbox struct {
	log      LogSender
	max      int
	maxBytes int
	now      func() time.Time

	mu    sync.Mutex
	mails []DevMail // oldest first
	bytes int       // sum of mails' sizes
}

var (
	_ Sender     = (*DevInbox)(nil)
	_ Delivering = (*DevInbox)(nil)
)

// NewDevInbox returns an empty inbox; cfg's zero values take their defaults.
func NewDevInbox(cfg DevInboxConfig) *DevInbox {
	if cfg.Max <= 0 {
		cfg.Max = DefaultDevInboxMax
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultDevInboxMaxBytes
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &DevInbox{
		log: LogSender{Log: cfg.Log, InboxURL: cfg.URL},
		max: cfg.Max, maxBytes: cfg.MaxBytes, now: cfg.Now,
	}
}

// Send keeps m, newest first, and logs it as LogSender does. It refuses, with a permanent
// error, what the SMTP sender would refuse (unsafe subject, invalid recipient, no body).
func (d *DevInbox) Send(ctx context.Context, m Envelope) error {
	to, subject, err := checkEnvelope(m)
	if err != nil {
		return err
	}
	dm := DevMail{
		ID: m.ID, At: d.now().UTC(), To: to, Subject: subject, Text: m.Text, HTML: m.HTML,
		Links: FindLinks(m.Text),
	}
	if !devMailIDOK(dm.ID) {
		dm.ID = rand.Text()
	}
	d.keep(dm)
	d.log.logMail(ctx, m, to, subject, dm.Links)
	return nil
}

// Delivers is false: the inbox keeps mails, it does not deliver them (see Delivering).
func (*DevInbox) Delivers() bool { return false }

func (d *DevInbox) keep(m DevMail) {
	d.mu.Lock()
	defer d.mu.Unlock()
	// A mail sent again (a crash between its delivery and its record) replaces the copy
	// kept the first time, so that an id names one mail.
	for i, old := range d.mails {
		if old.ID == m.ID {
			d.bytes -= old.size()
			d.mails = append(d.mails[:i], d.mails[i+1:]...)
			break
		}
	}
	d.mails = append(d.mails, m)
	d.bytes += m.size()
	drop := 0
	for len(d.mails)-drop > d.max || (d.bytes > d.maxBytes && len(d.mails)-drop > 1) {
		d.bytes -= d.mails[drop].size()
		d.mails[drop] = DevMail{} // let the strings go
		drop++
	}
	if drop > 0 {
		d.mails = append(d.mails[:0:0], d.mails[drop:]...)
	}
}

// Mails returns the mails kept, newest first.
func (d *DevInbox) Mails() []DevMail {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]DevMail, len(d.mails))
	for i, m := range d.mails {
		out[len(d.mails)-1-i] = m
	}
	return out
}

// Max is how many mails the inbox keeps at most.
func (d *DevInbox) Max() int { return d.max }

// Mail returns the mail kept under id.
func (d *DevInbox) Mail(id string) (DevMail, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.mails {
		if m.ID == id {
			return m, true
		}
	}
	return DevMail{}, false
}

// devMailIDOK reports whether id can name a mail in a URL path as it is: 1 to 64 ASCII
// letters, digits, '-' or '_' (the outbox's ids are 26 base32 characters).
func devMailIDOK(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// linkPattern finds http(s) URLs in plain text: from the scheme up to white space or a
// character that cannot appear in a URL written in text ("<>, quotes, backquote).
var linkPattern = regexp.MustCompile("(?i)https?://[^\\s<>\"'`]+")

// LinkSpans returns the [start, end) byte offsets of the http(s) URLs in a mail's text
// part, in order. A URL ends at white space or at <, >, a quote or a backquote; trailing
// punctuation that ends a sentence (.,;:!?) is left out, and so is a closing bracket that
// has no opening one in the URL ("(see https://x.example/a)"), so a link is exact
// whether it stands on its own line, as in TokTok's templates, or in a sentence.
func LinkSpans(text string) [][2]int {
	var out [][2]int
	for _, loc := range linkPattern.FindAllStringIndex(text, -1) {
		start, end := loc[0], loc[1]
		for end > start {
			c := text[end-1]
			if strings.IndexByte(".,;:!?", c) >= 0 {
				end--
				continue
			}
			if open, ok := closingBrackets[c]; ok && strings.Count(text[start:end], string(open)) < strings.Count(text[start:end], string(c)) {
				end--
				continue
			}
			break
		}
		if end > start+strings.Index(text[start:end], "://")+len("://") {
			out = append(out, [2]int{start, end})
		}
	}
	return out
}

var closingBrackets = map[byte]byte{')': '(', ']': '[', '}': '{'}

// FindLinks returns the http(s) URLs of a mail's text part (see LinkSpans), in order,
// each once.
func FindLinks(text string) []string {
	var out []string
	for _, s := range LinkSpans(text) {
		l := text[s[0]:s[1]]
		if !slices.Contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}
