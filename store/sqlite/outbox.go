package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"
	"time"

	"github.com/toktok/toktok/store"
)

// EnqueueMail inserts m as a pending mail, whatever m.State says. store.ErrConflict on a
// duplicate ID.
func (s *Store) EnqueueMail(ctx context.Context, m store.Mail) error {
	const op = "enqueue mail"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	_, err := s.st.enqueueMail.ExecContext(ctx, m.ID, m.Kind, m.To, m.Subject, m.Text, m.HTML,
		int64(m.Attempts), millis(m.CreatedAt), millis(m.NextAttemptAt), m.LeaseOwner,
		nullZeroMillis(m.LeaseUntil), nullMillis(m.SentAt), store.TruncateLastError(m.LastError))
	return mapErr(op, err)
}

// ClaimMails leases up to n due pending mails to worker in one UPDATE … RETURNING and
// returns them oldest NextAttemptAt first (ties by ID). n <= 0 claims nothing.
func (s *Store) ClaimMails(ctx context.Context, worker string, now, leaseUntil time.Time, n int) ([]store.Mail, error) {
	const op = "claim mails"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if n <= 0 {
		// SQLite reads a negative LIMIT as "no limit"; the contract says "up to n".
		return nil, nil
	}
	out, err := queryMails(ctx, s.st.claimMails, op, worker, millis(now), millis(leaseUntil), n)
	if err != nil {
		return nil, err
	}
	// RETURNING gives rows in the order they were updated, which SQLite does not promise
	// to be the subquery's.
	slices.SortFunc(out, func(a, b store.Mail) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// MarkMailSent records the delivery and scrubs the body, if worker holds the lease.
func (s *Store) MarkMailSent(ctx context.Context, id, worker string, now time.Time) error {
	const op = "mark mail sent"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.markMailSent.ExecContext(ctx, id, worker, millis(now))
	return s.leased(ctx, op, id, res, err)
}

// MarkMailRetry releases the lease and makes the mail due again at next, if worker holds
// the lease.
func (s *Store) MarkMailRetry(ctx context.Context, id, worker string, next time.Time, lastErr string) error {
	const op = "mark mail retry"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.markMailRetry.ExecContext(ctx, id, worker, millis(next), store.TruncateLastError(lastErr))
	return s.leased(ctx, op, id, res, err)
}

// MarkMailFailed records a final failure and scrubs the body, if worker holds the lease.
func (s *Store) MarkMailFailed(ctx context.Context, id, worker string, now time.Time, lastErr string) error {
	const op = "mark mail failed"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.markMailFailed.ExecContext(ctx, id, worker, millis(now), store.TruncateLastError(lastErr))
	return s.leased(ctx, op, id, res, err)
}

// leased finishes a MarkMail*: nil when the conditional update matched, otherwise
// store.ErrConflict when the mail exists (the lease is another's, or it is final) and
// store.ErrNotFound when it does not. The read only explains a refusal already decided.
func (s *Store) leased(ctx context.Context, op, id string, res sql.Result, err error) error {
	n, err := rowCount(op, res, err)
	if err != nil || n == 1 {
		return err
	}
	return s.classify(ctx, op, s.st.mailExists, id)
}

// MailByID returns the mail or store.ErrNotFound.
func (s *Store) MailByID(ctx context.Context, id string) (store.Mail, error) {
	const op = "mail by id"
	if err := s.checkOpen(op); err != nil {
		return store.Mail{}, err
	}
	m, err := scanMail(s.st.mailByID.QueryRowContext(ctx, id))
	return m, mapErr(op, err)
}

// MailsTo returns every mail to the address to, oldest first (ties by ID), as stored.
func (s *Store) MailsTo(ctx context.Context, to string) ([]store.Mail, error) {
	const op = "mails to"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	return queryMails(ctx, s.st.mailsTo, op, to)
}

// outboxStatsQuery reads every field of store.OutboxStats in one statement, so they are a
// snapshot. The WHERE clause on state is served by the mails_due index (state,
// next_attempt_at): the sent mails, the bulk of the table, are never read, and Due comes
// from the index alone.
const outboxStatsQuery = `SELECT
		COUNT(*) FILTER (WHERE state = 'pending'),
		COUNT(*) FILTER (WHERE state = 'pending' AND next_attempt_at <= ?1),
		COUNT(*) FILTER (WHERE state = 'failed'),
		MIN(created_at) FILTER (WHERE state = 'pending')
	FROM mails WHERE state IN ('pending', 'failed')`

// OutboxStats reads the outbox's depth, due and failed counts and oldest pending mail at
// now, in one query. It is not a prepared statement: it runs about once a minute.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (store.OutboxStats, error) {
	const op = "outbox stats"
	if err := s.checkOpen(op); err != nil {
		return store.OutboxStats{}, err
	}
	var (
		pending, due, failed int64
		oldest               sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, outboxStatsQuery, millis(now)).Scan(&pending, &due, &failed, &oldest)
	if err != nil {
		return store.OutboxStats{}, mapErr(op, err)
	}
	st := store.OutboxStats{Pending: int(pending), Due: int(due), Failed: int(failed)}
	if oldest.Valid {
		st.OldestCreatedAt = fromMillis(oldest.Int64)
	}
	return st, nil
}

func scanMail(sc scanner) (store.Mail, error) {
	var (
		m                                  store.Mail
		state                              string
		attempts, createdAt, nextAttemptAt int64
		leaseUntil, sentAt                 sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &state, &attempts,
		&createdAt, &nextAttemptAt, &m.LeaseOwner, &leaseUntil, &sentAt, &m.LastError)
	if err != nil {
		return store.Mail{}, err
	}
	m.State = store.MailState(state)
	m.Attempts = int(attempts)
	m.CreatedAt = fromMillis(createdAt)
	m.NextAttemptAt = fromMillis(nextAttemptAt)
	if leaseUntil.Valid {
		m.LeaseUntil = fromMillis(leaseUntil.Int64)
	}
	m.SentAt = timePtr(sentAt)
	return m, nil
}

// nullZeroMillis stores the zero time (no lease) as NULL.
func nullZeroMillis(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return millis(t)
}

// queryMails runs a statement that returns mail rows and scans them all.
func queryMails(ctx context.Context, stmt *sql.Stmt, op string, args ...any) ([]store.Mail, error) {
	rows, err := stmt.QueryContext(ctx, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	out := []store.Mail{}
	for rows.Next() {
		m, err := scanMail(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}
