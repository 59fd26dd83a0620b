package mailer

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"time"

	"github.com/toktok/toktok/store"
)

// EnqueueStore is what a Queue needs from the store: the outbox's insert.
type EnqueueStore interface {
	// EnqueueMail inserts m into the outbox as pending; store.ErrConflict on a duplicate ID.
	EnqueueMail(ctx context.Context, m store.Mail) error
}

var _ EnqueueStore = store.Store(nil)

// Queue is the one way to put a mail in the outbox. Rendering, the header checks of
// NewMail, sealing and the insert happen in one call, so no caller can queue a body (and
// the link token in it) in clear, or a mail that skipped the checks. It is safe for
// concurrent use.
type Queue struct {
	outbox EnqueueStore
	render *Renderer
	sealer *Sealer
	notify func()
	now    func() time.Time
	log    *slog.Logger
}

// NewQueue returns a Queue writing to outbox. The Sealer is required: an outbox body holds
// a link token, which must never rest in the store in clear. notify (may be nil) is called
// after each mail is queued, to wake the Worker; now nil means time.Now and log nil
// discards.
func NewQueue(outbox EnqueueStore, r *Renderer, s *Sealer, notify func(), now func() time.Time, log *slog.Logger) (*Queue, error) {
	switch {
	case outbox == nil:
		return nil, errors.New("mailer: queue without an outbox")
	case r == nil:
		return nil, errors.New("mailer: queue without a renderer")
	case s == nil:
		return nil, errors.New("mailer: queue without a sealer: bodies would rest in clear")
	}
	if notify == nil {
		notify = func() {}
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Queue{outbox: outbox, render: r, sealer: s, notify: notify, now: now, log: log}, nil
}

// Request is one mail to queue: which template, to whom, in which language, with what.
type Request struct {
	Kind   string // one of the Kind constants
	To     string // the recipient, canonical; checked with ValidateAddress
	Lang   string // the recipient's language; Render falls back to English
	Data   Data
	UserID string // the account the mail is about, for the log line (may be empty)
}

// Send renders req, checks it (NewMail), seals its body and writes it to the outbox as a
// pending mail due at once, then notifies the worker; it returns the mail's ID. Delivery
// happens later, in the Worker. Nothing is written when rendering or the checks fail (an
// error wrapping ErrUnknownKind, ErrInvalidAddress or ErrUnsafeHeader), and the worker is
// notified only once the mail is stored.
func (q *Queue) Send(ctx context.Context, req Request) (string, error) {
	if q == nil || q.sealer == nil {
		return "", errors.New("mailer: Queue not built with NewQueue")
	}
	msg, err := q.render.Render(req.Kind, req.Lang, req.Data)
	if err != nil {
		return "", err
	}
	m, err := NewMail(rand.Text(), req.Kind, req.To, msg, q.now())
	if err != nil {
		return "", err
	}
	if err := q.outbox.EnqueueMail(ctx, q.sealer.Seal(m)); err != nil {
		return "", err
	}
	q.log.InfoContext(ctx, "mail queued", "mail", m.ID, "kind", req.Kind, "user", req.UserID)
	q.notify()
	return m.ID, nil
}
