package app

import (
	"context"

	"github.com/toktok/toktok/store"
)

// LinkToken reads the live email-link token of purpose stored under key, as the link's
// mutation would look it up now (store.ErrNotFound when there is none). The end-to-end
// rules test presents both a token's SHA-256 hash and the raw token to show the store
// knows only the hash.
func (s Support) LinkToken(ctx context.Context, key string, purpose store.LinkPurpose) (store.LinkToken, error) {
	return s.a.store.LinkToken(ctx, key, purpose, s.a.now().UTC())
}
