package sqlite

import (
	"context"
	"time"

	"github.com/toktok/toktok/store"
)

// LinkToken returns the usable token with this hash and purpose without consuming it.
func (s *Store) LinkToken(ctx context.Context, hash string, purpose store.LinkPurpose, now time.Time) (store.LinkToken, error) {
	const op = "link token"
	if err := s.checkOpen(op); err != nil {
		return store.LinkToken{}, err
	}
	row := s.db.QueryRowContext(ctx, `SELECT `+linkTokenCols+` FROM link_tokens
		WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3`, hash, string(purpose), millis(now))
	t, err := scanLinkToken(row)
	return t, mapErr(op, err)
}
