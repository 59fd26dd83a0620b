package sqlite

import (
	"context"
	"fmt"
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
// creation order, so SQLite has two ways to answer:
//   - MULTI-INDEX OR: read every match from the four indexes, then sort them: cost grows
//     with the number of matches (a one-letter prefix may match most users);
//   - scan the filter's index (users_created, or a partial one) in creation order and test
//     the prefix on each row: cost grows with rows scanned per page, the fewer the
//     matches the more.
//
// The store counts the prefix's matches up to probeLimit first (a bounded read of the
// four indexes): fewer than that, and the OR plan sorts fewer than probeLimit rows;
// otherwise the prefix holds for at least probeLimit users, and the ordered scan reads
// about limit × users / probeLimit rows per page (some 10 000 at a million users).
//
// A variable so that the tests can run every listing through either plan.
var probeLimit = 2000

// The users listing's indexes (migration 0004).
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
// plus keeps SQLite from using an index for the condition, so that the OR plan is the one
// it chooses.
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

func boolLiteral(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// prefixCond is f.Query's condition: a range on each of the four indexed expressions,
// OR-ed. ok is false when f has no query.
func prefixCond(f store.UserFilter) (cond string, args []any, ok bool) {
	email, name := store.EmailPrefix(f.Query), store.NamePrefix(f.Query)
	if email == "" && name == "" {
		return "", nil, false
	}
	var terms []string
	for _, t := range []struct{ expr, prefix string }{
		{"email", email},
		{"lower(name)", name},
		{"lower(surname)", name},
		{"lower(pseudo)", name},
	} {
		if end, ok := store.PrefixEnd(t.prefix); ok {
			terms = append(terms, "("+t.expr+" >= ? AND "+t.expr+" < ?)")
			args = append(args, t.prefix, end)
		} else {
			terms = append(terms, "("+t.expr+" >= ?)")
			args = append(args, t.prefix)
		}
	}
	return "(" + strings.Join(terms, " OR ") + ")", args, true
}

// userPlan is how a users query reads: from (the table, with INDEXED BY when the store
// chooses the index) and the conditions.
type userPlan struct {
	from string
	w    where
	or   bool // the OR plan: the columns of the other conditions carry a unary plus
}

// planUsers chooses how to read the users matching f (see probeLimit). forCount says
// the plan is for a count, which needs no order: without a query, SQLite then chooses.
func (s *Store) planUsers(ctx context.Context, op string, f store.UserFilter, forCount bool) (userPlan, error) {
	idx := filterIndex(f)
	cond, args, hasQuery := prefixCond(f)
	p := userPlan{from: "users INDEXED BY " + idx}
	if forCount && !hasQuery {
		// Counting needs no order: SQLite counts the entries of users_flags or of a
		// partial index, whichever holds fewer.
		p.from = "users"
	}
	if hasQuery {
		// A count through users_created would read every user: the OR plan reads the
		// matches only, which are no more.
		or := forCount && idx == idxCreated
		if !or {
			var n int
			err := s.db.QueryRowContext(ctx,
				`SELECT count(*) FROM (SELECT 1 FROM users WHERE `+cond+` LIMIT ?)`,
				append(args[:len(args):len(args)], probeLimit)...).Scan(&n)
			if err != nil {
				return userPlan{}, mapErr(op, err)
			}
			or = n < probeLimit
		}
		if or {
			p = userPlan{from: "users", or: true}
		}
		p.w.add(cond, args...)
	}
	plus := ""
	if p.or {
		plus = "+"
	}
	p.w.addFlags(f, plus)
	return p, nil
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
	return out, nil
}

// listUsersSQL is ListUsers' statement.
func (s *Store) listUsersSQL(ctx context.Context, op string, f store.UserFilter, after *store.UserKey, limit int) (string, []any, error) {
	p, err := s.planUsers(ctx, op, f, false)
	if err != nil {
		return "", nil, err
	}
	if after != nil {
		if p.or {
			p.w.add("(+created_at, +id) > (?, ?)", millis(after.CreatedAt), after.ID)
		} else {
			p.w.add("(created_at, id) > (?, ?)", millis(after.CreatedAt), after.ID)
		}
	}
	return `SELECT ` + userCols + ` FROM ` + p.from + p.w.sql() + ` ORDER BY created_at, id LIMIT ?`,
		append(p.w.args, limit), nil
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

// countUsersSQL is CountUsers' statement.
func (s *Store) countUsersSQL(ctx context.Context, op string, f store.UserFilter) (string, []any, error) {
	p, err := s.planUsers(ctx, op, f, true)
	if err != nil {
		return "", nil, err
	}
	return `SELECT count(*) FROM ` + p.from + p.w.sql(), p.w.args, nil
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
