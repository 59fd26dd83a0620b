package app

import (
	"context"

	"github.com/toktok/toktok/store"
)

// The outbox as the end-to-end suite reads it: what was queued for an address, whatever
// the worker has done with it since. A test that expects no mail counts the mails to the
// address in the store rather than waiting for nothing to arrive.

// OutboxTo returns every outbox mail to the canonical address addr, whatever its state,
// oldest first, as stored (store.Store.MailsTo): the bodies of pending mails sealed,
// those of sent and failed mails scrubbed. OpenMail unseals a pending mail's body.
func (s Support) OutboxTo(ctx context.Context, addr string) ([]store.Mail, error) {
	return s.a.store.MailsTo(ctx, addr)
}

// OutboxStats reads the outbox's depth, due and failed counts and oldest pending mail at
// the app's now, as the worker's backlog watch does (store.Store.OutboxStats).
func (s Support) OutboxStats(ctx context.Context) (store.OutboxStats, error) {
	return s.a.store.OutboxStats(ctx, s.a.now().UTC())
}
