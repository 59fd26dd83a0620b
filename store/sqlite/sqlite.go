// Package sqlite is TokTok's embedded store.Store backend: one file on local disk, no server
// to run. It exists so a single instance (development, small deployments, tests of the
// account logic) needs nothing but the binary; deployments that run several instances use a
// shared backend instead.
//
// It uses modernc.org/sqlite, a pure Go SQLite, so the binary stays CGo-free and
// cross-compiles. The database runs in WAL mode, so the many readers of the hot path
// (SessionByID and UserByID on every authenticated request) never wait for a writer, and
// writers queue on the busy timeout instead of failing.
//
// Every check-then-act in the store.Store contract is a single SQL statement (a conditional
// UPDATE … RETURNING, or an INSERT against a unique index), so its atomicity is SQLite's, not
// this package's.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/toktok/toktok/store"
)

var _ store.Store = (*Store)(nil)

// busyTimeout is how long a statement waits for another connection's write lock before it
// fails with SQLITE_BUSY (reported as store.ErrUnavailable). Writes here are single short
// statements, so a wait this long means the disk or the process is in trouble.
const busyTimeout = 5 * time.Second

// walSizeLimit is the size, in bytes, the WAL file is truncated back to when it restarts
// (PRAGMA journal_size_limit). A variable so that a test can make it small.
var walSizeLimit int64 = 64 << 20

// extraPragmas are added to each new connection's pragmas, after the Store's own: nil
// except in tests (TOKTOK_PURGE_PRAGMAS in purge_measure_test.go compares settings).
var extraPragmas []string

// Store is a store.Store on one SQLite database file. It is safe for concurrent use.
type Store struct {
	db     *sql.DB
	closed atomic.Bool
	st     statements
	lock   *os.File // the database's lock (lock.go), released by Close; nil without flock
}

// statements are prepared once at Open: the hot-path lookups then skip parsing and
// planning, and database/sql re-prepares them on each pooled connection as needed.
type statements struct {
	createUser, userByID, userByEmail, recordLogin, setPasswordHash, userExists *sql.Stmt
	createSession, sessionByID, advanceSession, sessionExists, listLiveSessions *sql.Stmt
	revokeSession, sessionOwned, revokeUserSessions                             *sql.Stmt
	appendAudit, auditEvents, auditEventsByUser                                 *sql.Stmt
	flowStatements                                                              // flows.go
	sessionUserStatements                                                       // sessionuser.go
	mfaStatements                                                               // mfa.go
}

// query is a statement to prepare at Open into *dst.
type query struct {
	dst   **sql.Stmt
	query string
}

// userCols are the users columns every read returns (userRow scans them), and
// userInsertCols those CreateUser writes: mfa_enabled (migration 0008) is the store's
// own, never given by a caller.
const (
	userInsertCols = `id, email, email_confirmed, pending_email, password_hash, role, name, surname,
		pseudo, lang, agreement, data, disabled, created_at, updated_at, last_login_at, login_count`
	userCols    = userInsertCols + `, mfa_enabled`
	sessionCols = `id, user_id, created_at, last_used_at, idle_expires_at, absolute_expires_at,
		revoked_at, revoked_reason, user_agent, ip, counter, rotated_at, aal, amr`
	auditCols = `id, at, type, outcome, user_id, actor_id, ip, detail`
)

// Open opens the database at path, creating the file if needed, and brings its schema up
// to date. path is a file path in a directory that exists: Open creates no directory, so
// a mistyped path is refused rather than grown into a tree (the caller creates a data
// directory it owns). ":memory:" is not supported because every pooled connection would
// get its own empty database. ctx bounds the opening and the migrations only.
//
// The Store holds an exclusive lock on the database until Close (see lock.go): while it
// is open, another Open of the same file, in this process or another, fails with an
// error wrapping ErrLocked that names the holder.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		// The driver splits its DSN at the first '?', so such a path cannot be expressed.
		return nil, fmt.Errorf("sqlite: open: invalid database path %q", path)
	}
	if err := checkDir(path); err != nil {
		return nil, err
	}
	lock, err := lockDatabase(path)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, path)
	if err != nil {
		releaseLock(lock)
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// checkDir refuses a path whose directory is missing or is not a directory, and a path
// that is itself a directory, each in words an operator can act on.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: open %s: the directory %s does not exist (TokTok creates the file, not its directory)", path, dir)
	case errors.Is(err, syscall.ENOTDIR) || err == nil && !fi.IsDir():
		return fmt.Errorf("sqlite: open %s: %s is not a directory", path, dir)
	case err != nil:
		return fmt.Errorf("sqlite: open: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("sqlite: open %s: it is a directory, not a database file", path)
	}
	return nil
}

// releaseLock drops the lock of lockDatabase (nil where there is none).
func releaseLock(f *os.File) {
	if f != nil {
		_ = f.Close()
	}
}

// open opens the database at path, which the caller has locked.
func open(ctx context.Context, path string) (*Store, error) {
	// Create the file ourselves so it is private: it holds password hashes. SQLite gives
	// the -wal and -shm files the same permissions as the database file.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}

	// _pragma parameters run on every new connection of the pool, not just the first,
	// which matters for the per-connection settings (busy_timeout, foreign_keys,
	// synchronous). busy_timeout is applied first by the driver. _txlock=immediate makes
	// explicit transactions take the write lock at BEGIN, so they wait on the busy
	// timeout instead of failing when they upgrade from reading to writing.
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	// NORMAL is durable against process crashes in WAL mode; a power loss may drop the
	// last transactions but never corrupts the file.
	q.Add("_pragma", "synchronous(NORMAL)")
	// The WAL grows while checkpoints cannot catch up (a backlog purge at a million
	// accounts took it to about 3 GB) and SQLite keeps the file at its largest size for
	// reuse; with a limit, the writer that restarts the log truncates it back to it.
	q.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	q.Set("_txlock", "immediate")
	for _, p := range extraPragmas {
		q.Add("_pragma", p)
	}

	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// WAL lets readers run concurrently with each other and with the one writer, so the
	// pool is wider than the CPU count: requests block in SQLite's busy handler or on
	// I/O, not on the CPU. Idle connections are kept because opening one runs the pragmas.
	n := 2*runtime.NumCPU() + 2
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := &Store{db: db}
	if err := s.init(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		return err
	}
	if err := migrate(ctx, s.db, migs); err != nil {
		return err
	}
	for _, p := range s.queries() {
		st, err := s.db.PrepareContext(ctx, p.query)
		if err != nil {
			return mapErr("prepare", err)
		}
		*p.dst = st
	}
	return nil
}

// queries lists every prepared statement: those of this file, then flowQueries',
// sessionUserQueries' and mfaQueries'.
func (s *Store) queries() []query {
	return append([]query{
		{&s.st.createUser, `INSERT INTO users (` + userInsertCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.st.userByID, `SELECT ` + userCols + ` FROM users WHERE id = ?`},
		{&s.st.userByEmail, `SELECT ` + userCols + ` FROM users WHERE email = ?`},
		{&s.st.recordLogin, `UPDATE users
			SET last_login_at = ?1, updated_at = ?1, login_count = login_count + 1
			WHERE id = ?2
			RETURNING ` + userCols},
		{&s.st.setPasswordHash, `UPDATE users SET password_hash = ?3, updated_at = ?4
			WHERE id = ?1 AND password_hash = ?2`},
		{&s.st.userExists, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`},

		{&s.st.createSession, `INSERT INTO sessions (` + sessionCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&s.st.sessionByID, `SELECT ` + sessionCols + ` FROM sessions WHERE id = ?`},
		// The whole refresh decision is in the WHERE clause: of any number of concurrent
		// rotations from one counter, exactly one matches.
		{&s.st.advanceSession, `UPDATE sessions
			SET counter = counter + 1, rotated_at = ?3, last_used_at = ?3,
				idle_expires_at = MIN(?4, absolute_expires_at)
			WHERE id = ?1 AND counter = ?2 AND revoked_at IS NULL
				AND idle_expires_at > ?3 AND absolute_expires_at > ?3
			RETURNING ` + sessionCols},
		{&s.st.sessionExists, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = ?)`},
		{&s.st.listLiveSessions, `SELECT ` + sessionCols + ` FROM sessions
			WHERE user_id = ?1 AND revoked_at IS NULL
				AND idle_expires_at > ?2 AND absolute_expires_at > ?2
			ORDER BY created_at DESC, id DESC`},
		{&s.st.revokeSession, `UPDATE sessions SET revoked_at = ?3, revoked_reason = ?4
			WHERE id = ?1 AND (?2 = '' OR user_id = ?2) AND revoked_at IS NULL`},
		{&s.st.sessionOwned, `SELECT EXISTS (SELECT 1 FROM sessions
			WHERE id = ?1 AND (?2 = '' OR user_id = ?2))`},
		{&s.st.revokeUserSessions, `UPDATE sessions SET revoked_at = ?3, revoked_reason = ?4
			WHERE user_id = ?1 AND id <> ?2 AND revoked_at IS NULL`},

		{&s.st.appendAudit, `INSERT INTO audit_events (` + auditCols + `)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		// Two statements rather than "?1 = '' OR user_id = ?1": the planner cannot use
		// the per-user index through an OR on a parameter.
		{&s.st.auditEvents, `SELECT ` + auditCols + ` FROM audit_events
			ORDER BY at DESC, id DESC LIMIT ?`},
		{&s.st.auditEventsByUser, `SELECT ` + auditCols + ` FROM audit_events
			WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?`},
	}, slices.Concat(s.flowQueries(), s.sessionUserQueries(), s.mfaQueries())...)
}

// Close closes the database. Calls made after Close fail with store.ErrUnavailable; calls
// in flight are allowed to finish. Closing twice is a no-op.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	for _, q := range s.queries() {
		if st := *q.dst; st != nil {
			_ = st.Close() // only fails if already closed; db.Close reports what matters
		}
	}
	err := s.db.Close()
	// The lock goes last: the next holder must not open the file while this one still
	// writes to it.
	releaseLock(s.lock)
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping reports whether a connection to the database can be used.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkOpen("ping"); err != nil {
		return err
	}
	return mapErr("ping", s.db.PingContext(ctx))
}

// CreateUser inserts u. store.ErrConflict when its ID or email is taken, decided by the
// primary key and the unique email index.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := s.checkOpen("create user"); err != nil {
		return err
	}
	_, err := s.st.createUser.ExecContext(ctx,
		u.ID, u.Email, u.EmailConfirmed, nullString(u.PendingEmail), u.PasswordHash, string(u.Role),
		nullString(u.Name), nullString(u.Surname), nullString(u.Pseudo), u.Lang, u.Agreement,
		nullBytes(u.Data), u.Disabled, millis(u.CreatedAt), millis(u.UpdatedAt),
		nullMillis(u.LastLoginAt), int64(u.LoginCount))
	return mapErr("create user", err)
}

// UserByID returns the user or store.ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id string) (store.User, error) {
	if err := s.checkOpen("user by id"); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.st.userByID.QueryRowContext(ctx, id))
	return u, mapErr("user by id", err)
}

// UserByEmail returns the user with that canonical email or store.ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	if err := s.checkOpen("user by email"); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.st.userByEmail.QueryRowContext(ctx, email))
	return u, mapErr("user by email", err)
}

// RecordLogin counts a login in one UPDATE … RETURNING, so concurrent logins never lose an
// increment. store.ErrNotFound for an unknown id.
func (s *Store) RecordLogin(ctx context.Context, userID string, now time.Time) (store.User, error) {
	if err := s.checkOpen("record login"); err != nil {
		return store.User{}, err
	}
	u, err := scanUser(s.st.recordLogin.QueryRowContext(ctx, millis(now), userID))
	return u, mapErr("record login", err)
}

// SetPasswordHash replaces the hash only while it still equals oldHash. store.ErrConflict
// when it changed, store.ErrNotFound for an unknown id.
func (s *Store) SetPasswordHash(ctx context.Context, userID, oldHash, newHash string, now time.Time) error {
	const op = "set password hash"
	if err := s.checkOpen(op); err != nil {
		return err
	}
	res, err := s.st.setPasswordHash.ExecContext(ctx, userID, oldHash, newHash, millis(now))
	if err != nil {
		return mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapErr(op, err)
	} else if n == 1 {
		return nil
	}
	// The conditional update already decided; this read only says why it refused. A user
	// is deleted only with its account (BeginUserDeletion): not found is then the answer.
	return s.classify(ctx, op, s.st.userExists, userID)
}

// CreateSession inserts sess, its AAL and AMR as given. store.ErrConflict on a duplicate
// ID.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := s.checkOpen("create session"); err != nil {
		return err
	}
	amr, err := amrJSON(sess.AMR)
	if err != nil {
		return mapErr("create session", err)
	}
	_, err = s.st.createSession.ExecContext(ctx,
		sess.ID, sess.UserID, millis(sess.CreatedAt), millis(sess.LastUsedAt),
		millis(sess.IdleExpiresAt), millis(sess.AbsoluteExpiresAt), nullMillis(sess.RevokedAt),
		sess.RevokedReason, sess.UserAgent, sess.IP, sess.Counter, millis(sess.RotatedAt),
		sess.AAL, amr)
	return mapErr("create session", err)
}

// SessionByID returns the session whatever its state, or store.ErrNotFound.
func (s *Store) SessionByID(ctx context.Context, id string) (store.Session, error) {
	if err := s.checkOpen("session by id"); err != nil {
		return store.Session{}, err
	}
	sess, err := scanSession(s.st.sessionByID.QueryRowContext(ctx, id))
	return sess, mapErr("session by id", err)
}

// AdvanceSession rotates the session from counter from, in one conditional UPDATE …
// RETURNING. store.ErrConflict when the session exists but the counter moved on, it is
// revoked or it expired; store.ErrNotFound when it does not exist.
func (s *Store) AdvanceSession(ctx context.Context, id string, from int64, now, idleExpiresAt time.Time) (store.Session, error) {
	const op = "advance session"
	if err := s.checkOpen(op); err != nil {
		return store.Session{}, err
	}
	sess, err := scanSession(s.st.advanceSession.QueryRowContext(ctx, id, from, millis(now), millis(idleExpiresAt)))
	if errors.Is(err, sql.ErrNoRows) {
		// Refused; sessions are never deleted, so asking whether it exists afterwards
		// tells exactly why.
		return store.Session{}, s.classify(ctx, op, s.st.sessionExists, id)
	}
	return sess, mapErr(op, err)
}

// ListLiveSessions returns userID's sessions live at now, newest first (by CreatedAt, then
// ID descending so the order is total).
func (s *Store) ListLiveSessions(ctx context.Context, userID string, now time.Time) ([]store.Session, error) {
	const op = "list live sessions"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	rows, err := s.st.listLiveSessions.QueryContext(ctx, userID, millis(now))
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer rows.Close()
	var out []store.Session
	for rows.Next() {
		sess, err := scanSession(rows)
		if err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, sess)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// CountLiveSessions counts the live sessions with from <= id < to (no upper bound when to
// is ""), at most limit of them when limit > 0: a range of the sessions' primary key.
func (s *Store) CountLiveSessions(ctx context.Context, from, to string, now time.Time, limit int) (int, error) {
	const op = "count live sessions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM sessions
		WHERE id >= ?1 AND (?2 = '' OR id < ?2) AND revoked_at IS NULL
			AND idle_expires_at > ?3 AND absolute_expires_at > ?3
		LIMIT ?4)`, from, to, millis(now), limit).Scan(&n)
	return n, mapErr(op, err)
}

// RevokeSession revokes the session if it belongs to userID (any owner when userID is
// empty) and is not revoked yet, reporting whether this call revoked it. store.ErrNotFound
// when no such session belongs to userID.
func (s *Store) RevokeSession(ctx context.Context, id, userID string, now time.Time, reason string) (bool, error) {
	const op = "revoke session"
	if err := s.checkOpen(op); err != nil {
		return false, err
	}
	res, err := s.st.revokeSession.ExecContext(ctx, id, userID, millis(now), reason)
	if err != nil {
		return false, mapErr(op, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return false, mapErr(op, err)
	} else if n == 1 {
		return true, nil
	}
	// Not revoked by us: either it was already revoked (false) or it is not userID's.
	if err := s.classify(ctx, op, s.st.sessionOwned, id, userID); !errors.Is(err, store.ErrConflict) {
		return false, err
	}
	return false, nil
}

// RevokeUserSessions revokes every unrevoked session of userID but exceptID, expired ones
// included, and returns how many it revoked.
func (s *Store) RevokeUserSessions(ctx context.Context, userID, exceptID string, now time.Time, reason string) (int, error) {
	const op = "revoke user sessions"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	res, err := s.st.revokeUserSessions.ExecContext(ctx, userID, exceptID, millis(now), reason)
	if err != nil {
		return 0, mapErr(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapErr(op, err)
	}
	return int(n), nil
}

// AppendAudit records e. store.ErrConflict on a duplicate ID.
func (s *Store) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	if err := s.checkOpen("append audit"); err != nil {
		return err
	}
	_, err := s.st.appendAudit.ExecContext(ctx,
		e.ID, millis(e.At), e.Type, e.Outcome, e.UserID, e.ActorID, e.IP, nullBytes(e.Detail))
	return mapErr("append audit", err)
}

// purgeAuditSQL deletes a batch of at most ?2 events older than ?1, found through
// audit_events_at.
const purgeAuditSQL = `DELETE FROM audit_events WHERE rowid IN (
	SELECT rowid FROM audit_events WHERE at < ?1 LIMIT ?2)`

// PurgeAudit deletes the events older than before and returns how many, purgeBatch at a
// time as PurgeExpired does (each batch committed on its own).
func (s *Store) PurgeAudit(ctx context.Context, before time.Time) (int, error) {
	const op = "purge audit"
	if err := s.checkOpen(op); err != nil {
		return 0, err
	}
	st, err := s.db.PrepareContext(ctx, purgeAuditSQL)
	if err != nil {
		return 0, mapErr(op, err)
	}
	defer st.Close()
	return s.purgeInBatches(ctx, op, "audit_events", st, millis(before))
}

// AuditEvents returns up to limit events, newest first with ties broken by ID descending,
// only userID's when it is not empty. A limit of zero or less returns nothing.
func (s *Store) AuditEvents(ctx context.Context, userID string, limit int) ([]store.AuditEvent, error) {
	const op = "audit events"
	if err := s.checkOpen(op); err != nil {
		return nil, err
	}
	if limit <= 0 {
		// SQLite reads a negative LIMIT as "no limit"; the contract says "up to limit".
		return nil, nil
	}
	var (
		rows *sql.Rows
		err  error
	)
	if userID == "" {
		rows, err = s.st.auditEvents.QueryContext(ctx, limit)
	} else {
		rows, err = s.st.auditEventsByUser.QueryContext(ctx, userID, limit)
	}
	if err != nil {
		return nil, mapErr(op, err)
	}
	return scanAuditEvents(op, rows)
}

// scanAuditEvents reads rows of auditCols and closes them.
func scanAuditEvents(op string, rows *sql.Rows) ([]store.AuditEvent, error) {
	defer rows.Close()
	var out []store.AuditEvent
	for rows.Next() {
		var (
			e  store.AuditEvent
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.Type, &e.Outcome, &e.UserID, &e.ActorID, &e.IP, &e.Detail); err != nil {
			return nil, mapErr(op, err)
		}
		e.At = fromMillis(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// classify explains why a conditional update matched no row: exists runs a
// SELECT EXISTS(…) with args, and a row that exists but did not match is a
// store.ErrConflict, a missing one store.ErrNotFound.
func (s *Store) classify(ctx context.Context, op string, exists *sql.Stmt, args ...any) error {
	var found bool
	if err := exists.QueryRowContext(ctx, args...).Scan(&found); err != nil {
		return mapErr(op, err)
	}
	if found {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrConflict)
	}
	return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
}

// checkOpen fails fast after Close: database/sql's own errors for a closed pool or
// statement are unexported and would otherwise have to be matched by their text.
func (s *Store) checkOpen(op string) error {
	if s.closed.Load() {
		return fmt.Errorf("sqlite: %s: database closed: %w", op, store.ErrUnavailable)
	}
	return nil
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanUser(sc scanner) (store.User, error) {
	var r userRow
	if err := sc.Scan(r.dests()...); err != nil {
		return store.User{}, err
	}
	return r.user(), nil
}

// userRow receives the userCols of one row: dests lists where each column goes, in order,
// and user assembles the result. scanUser uses it, and so do the statements that return a
// user beside other columns (sessionuser.go).
type userRow struct {
	u                              store.User
	role                           string
	pending, name, surname, pseudo sql.NullString
	createdAt, updatedAt           int64
	lastLoginAt                    sql.NullInt64
	loginCount                     int64
}

func (r *userRow) dests() []any {
	return []any{&r.u.ID, &r.u.Email, &r.u.EmailConfirmed, &r.pending, &r.u.PasswordHash, &r.role,
		&r.name, &r.surname, &r.pseudo, &r.u.Lang, &r.u.Agreement, &r.u.Data, &r.u.Disabled,
		&r.createdAt, &r.updatedAt, &r.lastLoginAt, &r.loginCount, &r.u.MFAEnabled}
}

func (r *userRow) user() store.User {
	u := r.u
	u.Role = store.Role(r.role)
	u.PendingEmail = stringPtr(r.pending)
	u.Name = stringPtr(r.name)
	u.Surname = stringPtr(r.surname)
	u.Pseudo = stringPtr(r.pseudo)
	u.CreatedAt = fromMillis(r.createdAt)
	u.UpdatedAt = fromMillis(r.updatedAt)
	u.LastLoginAt = timePtr(r.lastLoginAt)
	u.LoginCount = int(r.loginCount)
	return u
}

func scanSession(sc scanner) (store.Session, error) {
	var r sessionRow
	if err := sc.Scan(r.dests()...); err != nil {
		return store.Session{}, err
	}
	return r.session()
}

// sessionRow is userRow for the sessionCols.
type sessionRow struct {
	sess                                              store.Session
	createdAt, lastUsedAt, idleExp, absExp, rotatedAt int64
	revokedAt                                         sql.NullInt64
	amr                                               sql.NullString
}

func (r *sessionRow) dests() []any {
	return []any{&r.sess.ID, &r.sess.UserID, &r.createdAt, &r.lastUsedAt, &r.idleExp, &r.absExp,
		&r.revokedAt, &r.sess.RevokedReason, &r.sess.UserAgent, &r.sess.IP, &r.sess.Counter, &r.rotatedAt,
		&r.sess.AAL, &r.amr}
}

// session assembles the result; it fails only on an AMR that is not a JSON array of
// strings, which the store never writes.
func (r *sessionRow) session() (store.Session, error) {
	sess := r.sess
	sess.CreatedAt = fromMillis(r.createdAt)
	sess.LastUsedAt = fromMillis(r.lastUsedAt)
	sess.IdleExpiresAt = fromMillis(r.idleExp)
	sess.AbsoluteExpiresAt = fromMillis(r.absExp)
	sess.RevokedAt = timePtr(r.revokedAt)
	sess.RotatedAt = fromMillis(r.rotatedAt)
	amr, err := parseAMR(r.amr)
	if err != nil {
		return store.Session{}, fmt.Errorf("session %s: %w", sess.ID, err)
	}
	sess.AMR = amr
	return sess, nil
}

// amrJSON is the stored form of a session's AMR: a JSON array of strings, NULL when it
// is empty.
func amrJSON(amr []string) (any, error) {
	if len(amr) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(amr)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// parseAMR reads amrJSON's form back: nil for NULL.
func parseAMR(v sql.NullString) ([]string, error) {
	if !v.Valid {
		return nil, nil
	}
	var amr []string
	if err := json.Unmarshal([]byte(v.String), &amr); err != nil {
		return nil, fmt.Errorf("amr: %w", err)
	}
	return amr, nil
}

// millis is the stored form of a time: unix milliseconds, which is UTC by definition.
// Truncating first rounds pre-1970 instants down like later ones, rather than toward zero.
func millis(t time.Time) int64 { return t.Truncate(time.Millisecond).UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) any {
	if t == nil {
		return nil
	}
	return millis(*t)
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMillis(v.Int64)
	return &t
}

func nullString(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func stringPtr(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	return &v.String
}

// nullBytes keeps nil (no JSON document) distinct from an empty one.
func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// mapErr wraps err with op and the store sentinel it means, so callers can use errors.Is
// without knowing the driver. nil stays nil.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || isClosedErr(err) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrConflict, err)
		}
		// Extended result codes carry the primary code in the low byte.
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_INTERRUPT,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// isClosedErr reports database/sql's errors for a closed pool or statement, which are not
// exported and so can only be recognised by their text.
func isClosedErr(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "sql: database is closed") || strings.Contains(msg, "sql: statement is closed")
}
