package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/toktok/toktok/store"
)

// Second factors (store.MFAStore, migration 0008). A check-then-act on one row (a TOTP
// step, a WebAuthn counter, a challenge taken) is one conditional statement, as elsewhere
// in this package. A change that also moves users.mfa_enabled or the recovery codes
// (confirming, creating or deleting factors) is one transaction, BEGIN IMMEDIATE (the
// DSN's _txlock): it holds the write lock from its first read, so what it reads (the
// user exists, how many confirmed factors are left) is still true when it commits.

// mfaStatements are the statements of this file.
type mfaStatements struct {
	factors, factorByCredential, factorUsable, useTotpStep, useWebAuthn   *sql.Stmt
	countRecoveryCodes, raiseSessionLevel, createChallenge, takeChallenge *sql.Stmt
	purgeChallenges, purgePendingFactors                                  *sql.Stmt
}

const (
	factorCols = `id, user_id, type, name, secret, credential_id, confirmed, created_at,
		expires_at, last_used_at, last_step, sign_count`
	challengeCols = `id, kind, user_id, session_id, anon_subject, name, data, created_at, expires_at`
)

func (s *Store) mfaQueries() []query {
	return []query{
		// A confirmed factor, or a pending one still confirmable at ?2.
		{&s.st.factors, `SELECT ` + factorCols + ` FROM mfa_factors
			WHERE user_id = ?1 AND (confirmed = 1 OR expires_at > ?2)
			ORDER BY created_at, id`},
		{&s.st.factorByCredential, `SELECT ` + factorCols + ` FROM mfa_factors
			WHERE credential_id = ? AND confirmed = 1 AND type = 'WEBAUTHN'`},
		// Whether the user has the confirmed factor of that type: why a use was refused.
		{&s.st.factorUsable, `SELECT EXISTS (SELECT 1 FROM mfa_factors
			WHERE id = ?2 AND user_id = ?1 AND type = ?3 AND confirmed = 1)`},
		// Of concurrent uses of one step, the first to write makes the others' last_step
		// < ?3 false.
		{&s.st.useTotpStep, `UPDATE mfa_factors SET last_step = ?3, last_used_at = ?4
			WHERE id = ?2 AND user_id = ?1 AND type = 'TOTP' AND confirmed = 1 AND last_step < ?3`},
		{&s.st.useWebAuthn, `UPDATE mfa_factors SET sign_count = ?3, last_used_at = ?4
			WHERE id = ?2 AND user_id = ?1 AND type = 'WEBAUTHN' AND confirmed = 1
				AND (?3 > sign_count OR (?3 = 0 AND sign_count = 0))`},
		{&s.st.countRecoveryCodes, `SELECT COUNT(*) FROM mfa_recovery_codes
			WHERE user_id = ? AND used_at IS NULL`},
		{&s.st.raiseSessionLevel, `UPDATE sessions SET aal = ?3, amr = ?4
			WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL
				AND idle_expires_at > ?5 AND absolute_expires_at > ?5
			RETURNING ` + sessionCols},
		{&s.st.createChallenge, `INSERT INTO webauthn_challenges (` + challengeCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		// Of concurrent takers, exactly one deletes the row.
		{&s.st.takeChallenge, `DELETE FROM webauthn_challenges
			WHERE id = ?1 AND kind = ?2 AND expires_at > ?3
			RETURNING ` + challengeCols},

		// PurgeExpired's, as purgeQueries: challenges expired before ?1 (now), pending
		// factors expired before ?1 (now minus purgeGrace), through the indexes of 0008.
		{&s.st.purgeChallenges, `DELETE FROM webauthn_challenges WHERE rowid IN (
			SELECT rowid FROM webauthn_challenges WHERE expires_at < ?1 LIMIT ?2)`},
		{&s.st.purgePendingFactors, `DELETE FROM mfa_factors WHERE rowid IN (
			SELECT rowid FROM mfa_factors WHERE confirmed = 0 AND expires_at < ?1 LIMIT ?2)`},
	}
}

// inTx runs fn in a transaction (BEGIN IMMEDIATE) and commits it when fn returns nil.
// fn returns errors as they come (sql.ErrNoRows means store.ErrNotFound) or a store
// sentinel; inTx wraps them with op.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := s.checkOpen(op); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return mapErr(op, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		return mapErr(op, err)
	}
	return mapErr(op, tx.Commit())
}

// CreateFactor inserts f, and sets the user's mfa_enabled when f is confirmed, in one
// transaction. store.ErrNotFound for an unknown user (a deleted one has no row);
// store.ErrConflict on a duplicate ID or credential id (the unique indexes).
func (s *Store) CreateFactor(ctx context.Context, f store.Factor) error {
	return s.inTx(ctx, "create factor", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, f.UserID).Scan(&one); err != nil {
			return err
		}
		var credential any
		if len(f.CredentialID) > 0 {
			credential = f.CredentialID
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_factors (`+factorCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			f.ID, f.UserID, string(f.Type), f.Name, nullBytes(f.Secret), credential, f.Confirmed,
			millis(f.CreatedAt), nullMillis(f.ExpiresAt), nullMillis(f.LastUsedAt), f.LastStep,
			int64(f.SignCount)); err != nil {
			return err
		}
		if !f.Confirmed {
			return nil
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET mfa_enabled = 1 WHERE id = ?`, f.UserID)
		return err
	})
}

// Factors returns the user's confirmed factors and its pending ones unexpired at now,
// oldest first.
func (s *Store) Factors(ctx context.Context, userID string, now time.Time) ([]store.Factor, error) {
	const op = "factors"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	rows, err := s.st.factors.QueryContext(ctx, userID, millis(now))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Factor
	for rows.Next() {
		f, err := scanFactor(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// FactorByCredentialID returns the confirmed WebAuthn factor with this credential id, or
// store.ErrNotFound.
func (s *Store) FactorByCredentialID(ctx context.Context, credentialID []byte) (store.Factor, error) {
	const op = "factor by credential id"
	if err := s.checkOpen(op); err != nil {
		return store.Factor{}, err
	}
	if len(credentialID) == 0 {
		return store.Factor{}, mapErr(op, sql.ErrNoRows) // none is stored: TOTP's is NULL
	}
	f, err := scanFactor(s.st.factorByCredential.QueryRowContext(ctx, credentialID))
	return f, mapErr(op, err)
}

// ConfirmFactor confirms the user's pending factor unexpired at now and sets the user's
// mfa_enabled, in one transaction. store.ErrNotFound when there is no such factor, or
// the user's deletion has begun.
func (s *Store) ConfirmFactor(ctx context.Context, userID, id string, step int64, now time.Time) (store.Factor, error) {
	var f store.Factor
	err := s.inTx(ctx, "confirm factor", func(tx *sql.Tx) error {
		var err error
		f, err = scanFactor(tx.QueryRowContext(ctx, `UPDATE mfa_factors
			SET confirmed = 1, expires_at = NULL, last_used_at = ?4, last_step = ?3
			WHERE id = ?2 AND user_id = ?1 AND confirmed = 0 AND expires_at > ?4
			RETURNING `+factorCols, userID, id, step, millis(now)))
		if err != nil {
			return err
		}
		n, err := affected(tx.ExecContext(ctx, `UPDATE users SET mfa_enabled = 1 WHERE id = ?`, userID))
		if err == nil && n == 0 {
			return sql.ErrNoRows // the user's row is gone: nothing is confirmed
		}
		return err
	})
	if err != nil {
		return store.Factor{}, err
	}
	return f, nil
}

// UseTotpStep records step on the user's confirmed TOTP factor when it is after the last
// one, in one conditional UPDATE. store.ErrConflict for a replay, store.ErrNotFound when
// there is no such factor.
func (s *Store) UseTotpStep(ctx context.Context, userID, id string, step int64, now time.Time) error {
	const op = "use totp step"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.useTotpStep.ExecContext(ctx, userID, id, step, millis(now))
	return s.useResult(ctx, op, res, err, userID, id, store.FactorTOTP)
}

// UseWebAuthn records count on the user's confirmed WebAuthn factor when it is greater
// than the last one, or both are 0, in one conditional UPDATE. store.ErrConflict
// otherwise, store.ErrNotFound when there is no such factor.
func (s *Store) UseWebAuthn(ctx context.Context, userID, id string, count uint32, now time.Time) error {
	const op = "use webauthn"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.useWebAuthn.ExecContext(ctx, userID, id, int64(count), millis(now))
	return s.useResult(ctx, op, res, err, userID, id, store.FactorWebAuthn)
}

// useResult is nil when a use's conditional update changed the factor; otherwise whether
// the factor exists says why (store.ErrConflict or store.ErrNotFound).
func (s *Store) useResult(ctx context.Context, op string, res sql.Result, err error, userID, id string, typ store.FactorType) error {
	n, err := rowCount(op, res, err)
	if err != nil || n == 1 {
		return err
	}
	return s.classify(ctx, op, s.st.factorUsable, userID, id, string(typ))
}

// DeleteFactor removes the user's factor and, when no confirmed factor remains, clears
// the user's mfa_enabled and removes its recovery codes, in one transaction.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) (int, error) {
	remaining := 0
	err := s.inTx(ctx, "delete factor", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `DELETE FROM mfa_factors WHERE id = ? AND user_id = ?`, id, userID))
		if err != nil || n == 0 {
			return cmp.Or(err, store.ErrNotFound)
		}
		err = tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mfa_factors WHERE user_id = ? AND confirmed = 1`, userID).
			Scan(&remaining)
		if err != nil || remaining > 0 {
			return err
		}
		return disableMFA(ctx, tx, userID)
	})
	if err != nil {
		return 0, err
	}
	return remaining, nil
}

// disableMFA clears the user's mfa_enabled and removes its recovery codes, in tx.
func disableMFA(ctx context.Context, tx *sql.Tx, userID string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE users SET mfa_enabled = 0 WHERE id = ? AND mfa_enabled = 1`, userID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID)
	return err
}

// affected is how many rows the statement that returned res changed, or its error, left
// for inTx to wrap.
func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteUserFactors removes every factor and recovery code of the user and clears its
// mfa_enabled, in one transaction, and returns how many factors it removed.
func (s *Store) DeleteUserFactors(ctx context.Context, userID string) (int, error) {
	removed := 0
	err := s.inTx(ctx, "delete user factors", func(tx *sql.Tx) error {
		var err error
		if removed, err = affected(tx.ExecContext(ctx, `DELETE FROM mfa_factors WHERE user_id = ?`, userID)); err != nil {
			return err
		}
		return disableMFA(ctx, tx, userID)
	})
	if err != nil {
		return 0, err
	}
	return removed, nil
}

// ReplaceRecoveryCodes replaces the user's codes with hashes, in one transaction. A hash
// given twice is one code. store.ErrNotFound for an unknown user (whose codes no deletion
// would ever remove).
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID string, hashes []string, now time.Time) error {
	return s.inTx(ctx, "replace recovery codes", func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM users WHERE id = ?`, userID).Scan(&one); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, hash, created_at)
				VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, userID, h, millis(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// UseRecoveryCode marks the user's unused code used and counts those left, in one
// transaction: of concurrent uses of one code, exactly one finds it unused.
func (s *Store) UseRecoveryCode(ctx context.Context, userID, hash string, now time.Time) (int, error) {
	remaining := 0
	err := s.inTx(ctx, "use recovery code", func(tx *sql.Tx) error {
		n, err := affected(tx.ExecContext(ctx, `UPDATE mfa_recovery_codes SET used_at = ?3
			WHERE user_id = ?1 AND hash = ?2 AND used_at IS NULL`, userID, hash, millis(now)))
		if err != nil || n == 0 {
			return cmp.Or(err, store.ErrNotFound)
		}
		return tx.StmtContext(ctx, s.st.countRecoveryCodes).QueryRowContext(ctx, userID).Scan(&remaining)
	})
	if err != nil {
		return 0, err
	}
	return remaining, nil
}

// CountRecoveryCodes returns how many unused codes the user has.
func (s *Store) CountRecoveryCodes(ctx context.Context, userID string) (int, error) {
	const op = "count recovery codes"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	var n int
	err := s.st.countRecoveryCodes.QueryRowContext(ctx, userID).Scan(&n)
	return n, mapErr(op, err)
}

// RaiseSessionLevel sets the user's live session to aal2 with amr, in one conditional
// UPDATE … RETURNING. store.ErrNotFound otherwise.
func (s *Store) RaiseSessionLevel(ctx context.Context, id, userID string, amr []string, now time.Time) (store.Session, error) {
	const op = "raise session level"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, err
	}
	stored, err := amrJSON(amr)
	if err != nil {
		return store.Session{}, mapErr(op, err)
	}
	sess, err := scanSession(s.st.raiseSessionLevel.QueryRowContext(ctx, id, userID, store.AAL2, stored, millis(now)))
	return sess, mapErr(op, err)
}

// CreateChallenge inserts c. store.ErrConflict on a duplicate ID.
func (s *Store) CreateChallenge(ctx context.Context, c store.Challenge) error {
	const op = "create challenge"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.st.createChallenge.ExecContext(ctx, c.ID, string(c.Kind), c.UserID, c.SessionID,
		c.AnonSubject, c.Name, nullBytes(c.Data), millis(c.CreatedAt), millis(c.ExpiresAt))
	return mapErr(op, err)
}

// TakeChallenge deletes and returns the challenge of this kind unexpired at now, in one
// DELETE … RETURNING. store.ErrNotFound otherwise.
func (s *Store) TakeChallenge(ctx context.Context, id string, kind store.ChallengeKind, now time.Time) (store.Challenge, error) {
	const op = "take challenge"
	if err := s.checkOpen(op); err != nil {
		return store.Challenge{}, err
	}
	var (
		c                    store.Challenge
		k                    string
		createdAt, expiresAt int64
	)
	err := s.st.takeChallenge.QueryRowContext(ctx, id, string(kind), millis(now)).Scan(
		&c.ID, &k, &c.UserID, &c.SessionID, &c.AnonSubject, &c.Name, &c.Data, &createdAt, &expiresAt)
	if err != nil {
		return store.Challenge{}, mapErr(op, err)
	}
	c.Kind = store.ChallengeKind(k)
	c.CreatedAt = fromMillis(createdAt)
	c.ExpiresAt = fromMillis(expiresAt)
	return c, nil
}

func scanFactor(sc scanner) (store.Factor, error) {
	var (
		f                     store.Factor
		typ                   string
		createdAt, signCount  int64
		expiresAt, lastUsedAt sql.NullInt64
	)
	if err := sc.Scan(&f.ID, &f.UserID, &typ, &f.Name, &f.Secret, &f.CredentialID, &f.Confirmed,
		&createdAt, &expiresAt, &lastUsedAt, &f.LastStep, &signCount); err != nil {
		return store.Factor{}, err
	}
	f.Type = store.FactorType(typ)
	f.CreatedAt = fromMillis(createdAt)
	f.ExpiresAt = timePtr(expiresAt)
	f.LastUsedAt = timePtr(lastUsedAt)
	f.SignCount = uint32(signCount)
	return f, nil
}
