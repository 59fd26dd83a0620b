-- 0001: the initial schema.
--
-- Times are INTEGER unix milliseconds in UTC. Tables are STRICT so a value of the wrong type
-- is an error rather than silently stored. IDs are TEXT primary keys because the hot path
-- (SessionByID, UserByID on every authenticated request) is a primary key lookup.
--
-- There are deliberately no foreign keys from sessions or audit events to users: the
-- contract is the same for every backend, and a backend without referential integrity
-- (MongoDB) would accept what this one refused.

CREATE TABLE users (
	id              TEXT    NOT NULL PRIMARY KEY,
	email           TEXT    NOT NULL,
	email_confirmed INTEGER NOT NULL,
	pending_email   TEXT,
	password_hash   TEXT    NOT NULL,
	role            TEXT    NOT NULL,
	name            TEXT,
	surname         TEXT,
	pseudo          TEXT,
	lang            TEXT    NOT NULL,
	agreement       INTEGER NOT NULL,
	data            BLOB,
	disabled        INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	last_login_at   INTEGER,
	login_count     INTEGER NOT NULL
) STRICT;

-- The canonical email is unique: this index, not a lookup before the insert, is what makes
-- two concurrent registrations with one email end in exactly one account.
CREATE UNIQUE INDEX users_email ON users (email);

-- Sessions are small and always read whole by their key, so WITHOUT ROWID makes
-- SessionByID a single b-tree descent.
CREATE TABLE sessions (
	id                  TEXT    NOT NULL PRIMARY KEY,
	user_id             TEXT    NOT NULL,
	created_at          INTEGER NOT NULL,
	last_used_at        INTEGER NOT NULL,
	idle_expires_at     INTEGER NOT NULL,
	absolute_expires_at INTEGER NOT NULL,
	revoked_at          INTEGER,
	revoked_reason      TEXT    NOT NULL,
	user_agent          TEXT    NOT NULL,
	ip                  TEXT    NOT NULL,
	counter             INTEGER NOT NULL,
	rotated_at          INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- ListLiveSessions and RevokeUserSessions select by user, newest first.
CREATE INDEX sessions_user ON sessions (user_id, created_at DESC, id DESC);

CREATE TABLE audit_events (
	id       TEXT    NOT NULL PRIMARY KEY,
	at       INTEGER NOT NULL,
	type     TEXT    NOT NULL,
	outcome  TEXT    NOT NULL,
	user_id  TEXT    NOT NULL,
	actor_id TEXT    NOT NULL,
	ip       TEXT    NOT NULL,
	detail   BLOB
) STRICT;

-- AuditEvents reads newest first, ties by ID descending, optionally for one user.
CREATE INDEX audit_events_at ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_user ON audit_events (user_id, at DESC, id DESC);
