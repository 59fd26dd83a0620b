package sqlite

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/toktok/toktok/store"
)

// The staff API's listings (migration 0004 has the indexes and why). The statements are
// built per call from the filters set, with every value a bound parameter except the
// filter values of the partial indexes, which are fixed literals (a role constant, 0 or 1)
// because SQLite uses a partial index only for a WHERE clause that names its value.

// probeLimit decides how a users query with a text prefix runs. The prefix is a
// disjunction over four indexes (email, name, surname, pseudo) that cannot yield users in
// creation order, so there are two ways to answer, both reading index entries only
// (migration 0007) and the table only for the page's rows:
//   - the union: read every match's (created_at, id) from the four ranges (each index
//     ends with those columns), sort them, keep a page: cost grows with the number of
//     matches (a one-letter prefix may match most users);
//   - the ordered scan: read the filter's index (users_created, which holds the four
//     compared values, or a partial one) in creation order and test the prefix on each
//     entry: cost grows with the entries scanned per page, the fewer the matches the
//     more.
//
// The store counts the prefix's index entries up to probeLimit first (a bounded read of
// the four narrowest indexes; a user whose email and name both match counts twice):
// fewer than that, and the union sorts fewer than probeLimit entries; otherwise the
// prefix holds for at least probeLimit/4 users (in practice probeLimit: a prefix seldom
// starts both an address and a name), and the ordered scan reads about
// limit × users / matches entries per page (some 10 000 at a million users, at worst).
//
// A variable so that the tests can run every listing through either plan.
var probeLimit = 2000

// The users listing's indexes (migrations 0004 and 0007).
const (
	idxCreated     = "users_created"
	idxStaff       = "users_staff"
	idxAdmin       = "users_admin"
	idxDisabled    = "users_disabled"
	idxUnconfirmed = "users_unconfirmed"
)

// roleLiterals are the SQL literals of the roles, so that a filter on a rare role can use
// its partial index. Any other value is a bound parameter.
var roleLiterals = map[store.Role]string{
	store.RoleUser:  "'USER'",
	store.RoleStaff: "'STAFF'",
	store.RoleAdmin: "'ADMIN'",
}

// filterIndex is the index that yields the users matching f's flags in creation order
// while reading the fewest others: the partial index of its rarest value (ADMIN and STAFF
// are fewer than disabled users, who are fewer than unconfirmed ones, in any deployment we
// know of), else users_created, whose rows the common values (USER, enabled, confirmed)
// mostly keep.
func filterIndex(f store.UserFilter) string {
	switch {
	case f.Role != nil && *f.Role == store.RoleAdmin:
		return idxAdmin
	case f.Role != nil && *f.Role == store.RoleStaff:
		return idxStaff
	case f.Disabled != nil && *f.Disabled:
		return idxDisabled
	case f.EmailConfirmed != nil && !*f.EmailConfirmed:
		return idxUnconfirmed
	}
	return idxCreated
}

// where is a conjunction of SQL conditions and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// addFlags adds f's role and flag filters. plus ("+" or "") prefixes each column: a unary
// plus keeps SQLite from using an index for the condition, so that the OR plan of a count
// is the one it chooses.
func (w *where) addFlags(f store.UserFilter, plus string) {
	if f.Role != nil {
		if lit, ok := roleLiterals[*f.Role]; ok {
			w.add(plus + "role = " + lit)
		} else {
			w.add(plus+"role = ?", string(*f.Role))
		}
	}
	if f.EmailConfirmed != nil {
		w.add(plus + "email_confirmed = " + boolLiteral(*f.EmailConfirmed))
	}
	if f.Disabled != nil {
		w.add(plus + "disabled = " + boolLiteral(*f.Disabled))
	}
}

// addAfter adds the keyset condition: the users after the key after, if any.
func (w *where) addAfter(after *store.UserKey) {
	if after != nil {
		w.add("(created_at, id) > (?, ?)", millis(after.CreatedAt), after.ID)
	}
}

func boolLiteral(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// prefixRange is one of a query's four ranges: expr within the prefix's range, and the
// indexes that serve it: probe, the narrowest (for counting), and read, which ends with
// (created_at, id) (for the union).
type prefixRange struct {
	cond        string
	args        []any
	probe, read string
}

// prefixRanges are f.Query's four ranges, nil when f has no query.
func prefixRanges(f store.UserFilter) []prefixRange {
	email, name := store.EmailPrefix(f.Query), store.NamePrefix(f.Query)
	if email == "" && name == "" {
		return nil
	}
	var rs []prefixRange
	for _, t := range []struct{ expr, prefix, probe, read string }{
		{"email", email, "users_email", "users_email_created"},
		{"lower(name)", name, "users_name_lower", "users_name_lower"},
		{"lower(surname)", name, "users_surname_lower", "users_surname_lower"},
		{"lower(pseudo)", name, "users_pseudo_lower", "users_pseudo_lower"},
	} {
		r := prefixRange{probe: t.probe, read: t.read}
		if end, ok := store.PrefixEnd(t.prefix); ok {
			r.cond, r.args = "("+t.expr+" >= ? AND "+t.expr+" < ?)", []any{t.prefix, end}
		} else {
			r.cond, r.args = "("+t.expr+" >= ?)", []any{t.prefix}
		}
		rs = append(rs, r)
	}
	return rs
}

// prefixCond is the query's condition: its ranges, OR-ed.
func prefixCond(rs []prefixRange) (cond string, args []any) {
	terms := make([]string, len(rs))
	for i, r := range rs {
		terms[i] = r.cond
		args = append(args, r.args...)
	}
	return "(" + strings.Join(terms, " OR ") + ")", args
}

// fewMatches says whether the query's ranges hold fewer than probeLimit index entries,
// counting at most probeLimit of them (see probeLimit).
func (s *Store) fewMatches(ctx context.Context, op string, rs []prefixRange) (bool, error) {
	q, args := probeSQL(rs)
	var n int
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return false, mapErr(op, err)
	}
	return n < probeLimit, nil
}

// probeSQL is fewMatches' statement: index entries only.
func probeSQL(rs []prefixRange) (string, []any) {
	arms := make([]string, len(rs))
	var args []any
	for i, r := range rs {
		arms[i] = "SELECT 1 FROM users INDEXED BY " + r.probe + " WHERE " + r.cond
		args = append(args, r.args...)
	}
	return `SELECT count(*) FROM (` + strings.Join(arms, " UNION ALL ") + ` LIMIT ?)`, append(args, probeLimit)
}

// ListUsers returns up to limit users matching f after the key after, by creation.
func (s *Store) ListUsers(ctx context.Context, f store.UserFilter, after *store.UserKey, limit int) ([]store.User, error) {
	const op = "list users"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		// SQLite reads a negative LIMIT as "no limit"; the contract says "up to limit".
		return nil, nil
	}
	q, args, err := s.listUsersSQL(ctx, op, f, after, limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	// A query's statement picks the page's rows by rowid, in no order: sort them (at
	// most limit, and already in order without a query).
	slices.SortFunc(out, func(a, b store.User) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// listUsersSQL is ListUsers' statement. Without a query, the filter's index from the
// cursor on, in order. With one, the rowids of the page are chosen from index entries
// only, by the union of the four ranges or the ordered scan (see probeLimit), and the
// statement reads those rows of the table, in no order.
func (s *Store) listUsersSQL(ctx context.Context, op string, f store.UserFilter, after *store.UserKey, limit int) (string, []any, error) {
	rs := prefixRanges(f)
	if rs == nil {
		var w where
		w.addFlags(f, "")
		w.addAfter(after)
		return `SELECT ` + userCols + ` FROM users INDEXED BY ` + filterIndex(f) + w.sql() +
			` ORDER BY created_at, id LIMIT ?`, append(w.args, limit), nil
	}
	few, err := s.fewMatches(ctx, op, rs)
	if err != nil {
		return "", nil, err
	}
	var page string
	var args []any
	if few {
		// The union: each range's entries (created_at, id, rowid) that pass the
		// filters, deduplicated (a user may match several ranges), sorted, a page kept.
		arms := make([]string, len(rs))
		for i, r := range rs {
			var w where
			w.add(r.cond, r.args...)
			w.addFlags(f, "")
			w.addAfter(after)
			arms[i] = `SELECT created_at, id, rowid AS r FROM users INDEXED BY ` + r.read + w.sql()
			args = append(args, w.args...)
		}
		page = `SELECT r FROM (` + strings.Join(arms, " UNION ") + ` ORDER BY 1, 2 LIMIT ?)`
	} else {
		// The ordered scan: the filter's index from the cursor on, the prefix tested on
		// each entry.
		var w where
		cond, cargs := prefixCond(rs)
		w.add(cond, cargs...)
		w.addFlags(f, "")
		w.addAfter(after)
		page = `SELECT rowid FROM users INDEXED BY ` + filterIndex(f) + w.sql() + ` ORDER BY created_at, id LIMIT ?`
		args = w.args
	}
	return `SELECT ` + userCols + ` FROM users WHERE rowid IN (` + page + `)`, append(args, limit), nil
}

// CountUsers returns how many users match f.
func (s *Store) CountUsers(ctx context.Context, f store.UserFilter) (int, error) {
	const op = "count users"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	q, args, err := s.countUsersSQL(ctx, op, f)
	if err != nil {
		return 0, err
	}
	var n int
	if err := s.db.QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, mapErr(op, err)
	}
	return n, nil
}

// countUsersSQL is CountUsers' statement. Without a query, SQLite chooses: it counts the
// entries of users_flags or of a partial index, whichever holds fewer. With one, the OR
// plan reads the matches through the four indexes (the other conditions carry a unary
// plus so that SQLite does not trade it for another index); a count through
// users_created would read every user instead. With a rare value's partial index and a
// prefix that holds for many users, the partial index's entries are fewer: it is read.
func (s *Store) countUsersSQL(ctx context.Context, op string, f store.UserFilter) (string, []any, error) {
	var w where
	rs := prefixRanges(f)
	if rs == nil {
		w.addFlags(f, "")
		return `SELECT count(*) FROM users` + w.sql(), w.args, nil
	}
	cond, cargs := prefixCond(rs)
	w.add(cond, cargs...)
	if idx := filterIndex(f); idx != idxCreated {
		few, err := s.fewMatches(ctx, op, rs)
		if err != nil {
			return "", nil, err
		}
		if !few {
			w.addFlags(f, "")
			return `SELECT count(*) FROM users INDEXED BY ` + idx + w.sql(), w.args, nil
		}
	}
	w.addFlags(f, "+")
	return `SELECT count(*) FROM users` + w.sql(), w.args, nil
}

// AuditEventsAfter returns up to limit events older than after, newest first, only
// userID's when it is not empty: a range on audit_events_user or audit_events_at (0001),
// which hold the order.
func (s *Store) AuditEventsAfter(ctx context.Context, userID string, after *store.AuditKey, limit int) ([]store.AuditEvent, error) {
	const op = "audit events after"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	q, args := auditEventsSQL(userID, after, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	return scanAuditEvents(op, rows)
}

// auditEventsSQL is AuditEventsAfter's statement.
func auditEventsSQL(userID string, after *store.AuditKey, limit int) (string, []any) {
	var w where
	if userID != "" {
		w.add("user_id = ?", userID)
	}
	if after != nil {
		w.add("(at, id) < (?, ?)", millis(after.At), after.ID)
	}
	return `SELECT ` + auditCols + ` FROM audit_events` + w.sql() + ` ORDER BY at DESC, id DESC LIMIT ?`,
		append(w.args, limit)
}

// SetRole sets the user's role. store.ErrNotFound for an unknown user.
func (s *Store) SetRole(ctx context.Context, userID string, role store.Role, now time.Time) error {
	return s.updateUser(ctx, "set role", `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`,
		string(role), millis(now), userID)
}

// SetDisabled sets the user's disabled flag. store.ErrNotFound for an unknown user.
func (s *Store) SetDisabled(ctx context.Context, userID string, disabled bool, now time.Time) error {
	return s.updateUser(ctx, "set disabled", `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`,
		disabled, millis(now), userID)
}

// updateUser runs an UPDATE of one user by id: store.ErrNotFound when it matched none.
func (s *Store) updateUser(ctx context.Context, op, q string, args ...any) error {
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.db.ExecContext(ctx, q, args...)
	n, err := rowCount(op, res, err)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}
