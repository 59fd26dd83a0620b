package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/toktok/toktok/store"
)

// The hot paths in one statement each (store.SessionUserStore): an authenticated request
// reads its session and user with one join instead of two lookups, and a refresh rotates
// its session and reads the user in one UPDATE … RETURNING instead of two reads and an
// update. Each statement on SQLite is a transaction of its own, and starting one costs
// file-lock system calls on the WAL index; these were most of the CPU a request spent in
// the store.

var _ store.SessionUserStore = (*Store)(nil)

// sessionUserStatements are the statements of this file.
type sessionUserStatements struct {
	sessionWithUser, advanceSessionWithUser *sql.Stmt
}

// prefixedCols is cols (a list like userCols) with each column qualified by alias.
func prefixedCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// ownerCols is userCols as scalar subqueries on the user of the session being updated: a
// RETURNING clause may name only the updated table, but its subqueries may read others.
// Each is a primary-key lookup of the same row, on pages the statement has just read.
func ownerCols() string {
	parts := strings.Split(userCols, ",")
	for i, c := range parts {
		parts[i] = "(SELECT u." + strings.TrimSpace(c) + " FROM users u WHERE u.id = sessions.user_id)"
	}
	return strings.Join(parts, ", ")
}

func (s *Store) sessionUserQueries() []query {
	return []query{
		{&s.st.sessionWithUser, `SELECT ` + prefixedCols("s", sessionCols) + `, ` + prefixedCols("u", userCols) + `
			FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`},
		// AdvanceSession's update, refused as well when the owner is gone or disabled.
		{&s.st.advanceSessionWithUser, `UPDATE sessions
			SET counter = counter + 1, rotated_at = ?3, last_used_at = ?3,
				idle_expires_at = MIN(?4, absolute_expires_at)
			WHERE id = ?1 AND counter = ?2 AND revoked_at IS NULL
				AND idle_expires_at > ?3 AND absolute_expires_at > ?3
				AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND NOT u.disabled)
			RETURNING ` + sessionCols + `, ` + ownerCols()},
	}
}

// scanSessionUser scans a row of sessionCols followed by userCols.
func scanSessionUser(sc scanner) (store.Session, store.User, error) {
	var (
		sr sessionRow
		ur userRow
	)
	if err := sc.Scan(append(sr.dests(), ur.dests()...)...); err != nil {
		return store.Session{}, store.User{}, err
	}
	sess, err := sr.session()
	if err != nil {
		return store.Session{}, store.User{}, err
	}
	return sess, ur.user(), nil
}

// SessionWithUser returns the session id and its user, or store.ErrNotFound.
func (s *Store) SessionWithUser(ctx context.Context, id string) (store.Session, store.User, error) {
	const op = "session with user"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, store.User{}, err
	}
	sess, u, err := scanSessionUser(s.st.sessionWithUser.QueryRowContext(ctx, id))
	return sess, u, mapErr(op, err)
}

// AdvanceSessionWithUser is AdvanceSession that also requires a usable owner and returns
// it. Refused, it answers store.ErrConflict whatever the reason: the caller's general path
// finds out which.
func (s *Store) AdvanceSessionWithUser(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (store.Session, store.User, error) {
	const op = "advance session with user"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, store.User{}, err
	}
	sess, u, err := scanSessionUser(s.st.advanceSessionWithUser.QueryRowContext(ctx, id, from, millis(now), millis(idleExpiresAt)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.User{}, store.ErrConflict
	}
	return sess, u, mapErr(op, err)
}
