package app

import (
	"context"

	"github.com/toktok/toktok/store"
)

// Account deletion as the end-to-end suite drives it past the API: a crash between its
// steps, and the purge that finishes what the crash left.

// BeginUserDeletion runs only the first step of deleteAccount (store.BeginUserDeletion)
// at the app's now, as a crash right after it would leave the account: gone, with its
// sessions, links and queued mails still stored.
func (s Support) BeginUserDeletion(ctx context.Context, userID string) (store.Deletion, error) {
	return s.a.store.BeginUserDeletion(ctx, userID, s.a.now().UTC())
}

// Purge runs one pass of the periodic purge at the app's now, as the purge loop does at
// each --purge-interval.
func (s Support) Purge(ctx context.Context) { s.a.purgeOnce(ctx) }
