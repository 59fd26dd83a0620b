package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/toktok/toktok/store"
)

// flowStatements are the statements of the email flows (confirmation, email change,
// password reset), their link tokens, the outbox and the rate-limit counters.
type flowStatements struct {
	confirmEmail, setPendingEmail, applyEmailChange, setPassword     *sql.Stmt
	createLinkToken, consumeLinkToken, voidLinkTokens                *sql.Stmt
	enqueueMail, claimMails, mailByID, mailExists, mailsTo           *sql.Stmt
	markMailSent, markMailRetry, markMailFailed                      *sql.Stmt
	hit, peekCounter, holdCounter, resetCounter                      *sql.Stmt
	purgeCounters, purgeLinkTokens, purgeSessions, purgeFinishedMail *sql.Stmt
}

const (
	linkTokenCols = `hash, user_id, purpose, email, created_at, expires_at, used_at`
	mailCols      = `id, kind, rcpt, subject, body_text, body_html, state, attempts, created_at,
		next_attempt_at, lease_owner, lease_until, sent_at, last_error`
)

// How long PurgeExpired keeps what is over: used or expired link tokens and ended
// sessions for a day, sent and failed mails for a week.
const (
	purgeGrace     = 24 * time.Hour
	mailsRetention = 7 * 24 * time.Hour
)

func (s *Store) flowQueries() []query {
	return append([]query{
		// Already confirmed: matched (idempotent) but left as it is, UpdatedAt included.
		{&s.st.confirmEmail, `UPDATE users
			SET email_confirmed = 1,
				updated_at = CASE WHEN email_confirmed THEN updated_at ELSE ?3 END
			WHERE id = ?1 AND email = ?2
			RETURNING ` + userCols},
		{&s.st.setPendingEmail, `UPDATE users SET pending_email = ?2, updated_at = ?3 WHERE id = ?1`},
		// The unique email index, not a lookup first, refuses an address taken meanwhile.
		{&s.st.applyEmailChange, `UPDATE users
			SET email = ?2, email_confirmed = 1, pending_email = NULL, updated_at = ?3
			WHERE id = ?1 AND pending_email = ?2
			RETURNING ` + userCols},
		{&s.st.setPassword, `UPDATE users SET password_hash = ?2, updated_at = ?3 WHERE id = ?1`},

		{&s.st.createLinkToken, `INSERT INTO link_tokens (` + linkTokenCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?)`},
		// Of any number of concurrent consumers, exactly one matches used_at IS NULL.
		{&s.st.consumeLinkToken, `UPDATE link_tokens SET used_at = ?3
			WHERE hash = ?1 AND purpose = ?2 AND used_at IS NULL AND expires_at > ?3
			RETURNING ` + linkTokenCols},
		{&s.st.voidLinkTokens, `UPDATE link_tokens SET used_at = ?3
			WHERE user_id = ?1 AND purpose = ?2 AND used_at IS NULL`},

		{&s.st.enqueueMail, `INSERT INTO mails (` + mailCols + `)
			VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)`},
		// One statement: SQLite runs it under the database's single write lock, so the
		// subquery's choice and the update cannot be interleaved with another claim.
		{&s.st.claimMails, `UPDATE mails
			SET lease_owner = ?1, lease_until = ?3, attempts = attempts + 1
			WHERE id IN (SELECT id FROM mails
				WHERE state = 'pending' AND next_attempt_at <= ?2
					AND (lease_until IS NULL OR lease_until <= ?2)
				ORDER BY next_attempt_at, id
				LIMIT ?4)
			RETURNING ` + mailCols},
		{&s.st.mailByID, `SELECT ` + mailCols + ` FROM mails WHERE id = ?`},
		{&s.st.mailExists, `SELECT EXISTS (SELECT 1 FROM mails WHERE id = ?)`},
		// The mails_rcpt index (rcpt, created_at, id) serves both the filter and the order.
		{&s.st.mailsTo, `SELECT ` + mailCols + ` FROM mails WHERE rcpt = ? ORDER BY created_at, id`},
		// The lease checks: the mail is still pending and leased to this (named) worker.
		{&s.st.markMailSent, `UPDATE mails
			SET state = 'sent', sent_at = ?3, finished_at = ?3, lease_owner = '',
				lease_until = NULL, body_text = '', body_html = ''
			WHERE id = ?1 AND state = 'pending' AND ?2 <> '' AND lease_owner = ?2`},
		{&s.st.markMailRetry, `UPDATE mails
			SET next_attempt_at = ?3, last_error = ?4, lease_owner = '', lease_until = NULL
			WHERE id = ?1 AND state = 'pending' AND ?2 <> '' AND lease_owner = ?2`},
		{&s.st.markMailFailed, `UPDATE mails
			SET state = 'failed', last_error = ?4, finished_at = ?3, lease_owner = '',
				lease_until = NULL, body_text = '', body_html = ''
			WHERE id = ?1 AND state = 'pending' AND ?2 <> '' AND lease_owner = ?2`},

		// SET expressions all read the row as it was, so both CASEs test the old reset_at.
		{&s.st.hit, `INSERT INTO counters (key, count, reset_at) VALUES (?1, 1, ?3)
			ON CONFLICT (key) DO UPDATE SET
				count = CASE WHEN reset_at <= ?2 THEN 1 ELSE count + 1 END,
				reset_at = CASE WHEN reset_at <= ?2 THEN ?3 ELSE reset_at END
			RETURNING count, reset_at`},
		{&s.st.peekCounter, `SELECT count, reset_at FROM counters WHERE key = ?1 AND reset_at > ?2`},
		{&s.st.holdCounter, `INSERT INTO counters (key, count, reset_at) VALUES (?1, 0, ?2)
			ON CONFLICT (key) DO UPDATE SET reset_at = MAX(reset_at, excluded.reset_at)`},
		{&s.st.resetCounter, `DELETE FROM counters WHERE key = ?`},
	}, s.purgeQueries()...)
}

// purgeQueries are PurgeExpired's statements.
func (s *Store) purgeQueries() []query {
	return []query{
		// PurgeExpired: counters take now; the others a cutoff, now minus their grace or
		// retention, and go when they ended strictly before it. Each deletes at most ?2
		// rows (a batch, see purgeInBatches), chosen by key in a subquery (DELETE … LIMIT
		// is not compiled into every SQLite) that an index of migration 0006 serves.
		{&s.st.purgeCounters, `DELETE FROM counters WHERE key IN (
			SELECT key FROM counters WHERE reset_at <= ?1 LIMIT ?2)`},
		{&s.st.purgeLinkTokens, `DELETE FROM link_tokens WHERE hash IN (
			SELECT hash FROM link_tokens WHERE expires_at < ?1 OR used_at < ?1 LIMIT ?2)`},
		// A session is over at the earlier of its expiries, or at its revocation.
		{&s.st.purgeSessions, `DELETE FROM sessions WHERE id IN (
			SELECT id FROM sessions
			WHERE MIN(idle_expires_at, absolute_expires_at) < ?1 OR revoked_at < ?1 LIMIT ?2)`},
		{&s.st.purgeFinishedMail, `DELETE FROM mails WHERE rowid IN (
			SELECT rowid FROM mails WHERE state IN ('sent', 'failed') AND finished_at < ?1 LIMIT ?2)`},
	}
}

// ConfirmEmail confirms the user's address if it is still email, in one conditional
// UPDATE … RETURNING. store.ErrConflict when the address changed, store.ErrNotFound for
// an unknown user.
func (s *Store) ConfirmEmail(ctx context.Context, userID, email string, now time.Time) (store.User, error) {
	const op = "confirm email"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.st.confirmEmail.QueryRowContext(ctx, userID, email, millis(now)))
	if errors.Is(err, sql.ErrNoRows) {
		// Refused; whether it exists tells why (a user deleted meanwhile is not found).
		return store.User{}, s.classify(ctx, op, s.st.userExists, userID)
	}
	return u, mapErr(op, err)
}

// SetPendingEmail sets or (with nil) clears the pending address. store.ErrNotFound for
// an unknown user.
func (s *Store) SetPendingEmail(ctx context.Context, userID string, pending *string, now time.Time) error {
	const op = "set pending email"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.setPendingEmail.ExecContext(ctx, userID, nullString(pending), millis(now))
	return oneRow(op, res, err)
}

// ApplyEmailChange moves the user to newEmail if it is still the pending address.
// store.ErrConflict when the pending address differs or another account has newEmail
// (the unique index), store.ErrNotFound for an unknown user.
func (s *Store) ApplyEmailChange(ctx context.Context, userID, newEmail string, now time.Time) (store.User, error) {
	const op = "apply email change"
	if err := s.checkOpen(op); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.st.applyEmailChange.QueryRowContext(ctx, userID, newEmail, millis(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, s.classify(ctx, op, s.st.userExists, userID)
	}
	return u, mapErr(op, err) // a unique violation maps to store.ErrConflict
}

// SetPassword replaces the password hash unconditionally. store.ErrNotFound for an
// unknown user.
func (s *Store) SetPassword(ctx context.Context, userID, hash string, now time.Time) error {
	const op = "set password"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.setPassword.ExecContext(ctx, userID, hash, millis(now))
	return oneRow(op, res, err)
}

// CreateLinkToken inserts t. store.ErrConflict on a duplicate hash.
func (s *Store) CreateLinkToken(ctx context.Context, t store.LinkToken) error {
	const op = "create link token"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.st.createLinkToken.ExecContext(ctx, t.Hash, t.UserID, string(t.Purpose), t.Email,
		millis(t.CreatedAt), millis(t.ExpiresAt), nullMillis(t.UsedAt))
	return mapErr(op, err)
}

// ConsumeLinkToken marks the token used in one conditional UPDATE … RETURNING.
// store.ErrNotFound when it is unknown, used, expired or for another purpose.
func (s *Store) ConsumeLinkToken(ctx context.Context, hash string, purpose store.LinkPurpose, now time.Time) (store.LinkToken, error) {
	const op = "consume link token"
	if err := s.checkOpen(op); err != nil {
		return store.LinkToken{}, err
	}
	t, err := scanLinkToken(s.st.consumeLinkToken.QueryRowContext(ctx, hash, string(purpose), millis(now)))
	return t, mapErr(op, err)
}

// VoidLinkTokens marks the user's unused tokens of purpose used at now and returns how
// many.
func (s *Store) VoidLinkTokens(ctx context.Context, userID string, purpose store.LinkPurpose, now time.Time) (int, error) {
	const op = "void link tokens"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.st.voidLinkTokens.ExecContext(ctx, userID, string(purpose), millis(now))
	return rowCount(op, res, err)
}

func scanLinkToken(sc scanner) (store.LinkToken, error) {
	var (
		t                    store.LinkToken
		purpose              string
		createdAt, expiresAt int64
		usedAt               sql.NullInt64
	)
	if err := sc.Scan(&t.Hash, &t.UserID, &purpose, &t.Email, &createdAt, &expiresAt, &usedAt); err != nil {
		return store.LinkToken{}, err
	}
	t.Purpose = store.LinkPurpose(purpose)
	t.CreatedAt = fromMillis(createdAt)
	t.ExpiresAt = fromMillis(expiresAt)
	t.UsedAt = timePtr(usedAt)
	return t, nil
}

// oneRow turns the result of an UPDATE by primary key into nil, or store.ErrNotFound when
// it matched nothing.
func oneRow(op string, res sql.Result, err error) error {
	n, err := rowCount(op, res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return mapErr(op, sql.ErrNoRows)
	}
	return nil
}

// rowCount returns how many rows a statement changed.
func rowCount(op string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(n), nil
}
