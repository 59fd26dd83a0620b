-- 0008: second factors (store.MFAStore).
--
-- Same conventions as 0001: times are INTEGER unix milliseconds in UTC, tables are STRICT,
-- and there are no foreign keys to users (the contract is the same for every backend).

-- users.mfa_enabled is true while the user has a confirmed factor. The store keeps it in
-- the transactions that confirm, create or delete factors, so the hot path
-- (SessionWithUser) reads it with the user's row, without a query on the factors.
ALTER TABLE users ADD COLUMN mfa_enabled INTEGER NOT NULL DEFAULT 0;

-- A session's assurance level ('' is read as aal1) and the methods that reached it, a JSON
-- array of strings (NULL when none).
ALTER TABLE sessions ADD COLUMN aal TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN amr TEXT;

-- TOTP secrets (sealed by the caller) and WebAuthn credentials. A pending factor has
-- confirmed = 0 and an expires_at; confirming it clears expires_at.
CREATE TABLE mfa_factors (
	id            TEXT    NOT NULL PRIMARY KEY,
	user_id       TEXT    NOT NULL,
	type          TEXT    NOT NULL,
	name          TEXT    NOT NULL,
	secret        BLOB,
	credential_id BLOB,
	confirmed     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER,
	last_used_at  INTEGER,
	last_step     INTEGER NOT NULL,
	sign_count    INTEGER NOT NULL
) STRICT;

-- Factors lists a user's factors oldest first; DeleteFactor counts those left; the
-- deletion of an account removes them.
CREATE INDEX mfa_factors_user ON mfa_factors (user_id, created_at, id);
-- A WebAuthn credential id is unique among all factors (TOTP factors have none), and
-- FactorByCredentialID finds a passkey by it at a passwordless sign-in.
CREATE UNIQUE INDEX mfa_factors_credential ON mfa_factors (credential_id) WHERE credential_id IS NOT NULL;
-- PurgeExpired finds the pending factors by their expiry.
CREATE INDEX mfa_factors_pending ON mfa_factors (expires_at) WHERE confirmed = 0;

-- Recovery codes, by the caller's keyed hash only. A user's codes are few (ten or so) and
-- always read by user.
CREATE TABLE mfa_recovery_codes (
	user_id    TEXT    NOT NULL,
	hash       TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER,
	PRIMARY KEY (user_id, hash)
) STRICT, WITHOUT ROWID;

-- WebAuthn ceremonies between begin and finish, single use. user_id is '' for a
-- discoverable passwordless sign-in.
CREATE TABLE webauthn_challenges (
	id           TEXT    NOT NULL PRIMARY KEY,
	kind         TEXT    NOT NULL,
	user_id      TEXT    NOT NULL,
	session_id   TEXT    NOT NULL,
	anon_subject TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	data         BLOB,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT;

-- PurgeExpired removes the expired ones; the deletion of an account removes its own.
CREATE INDEX webauthn_challenges_expires ON webauthn_challenges (expires_at);
CREATE INDEX webauthn_challenges_user ON webauthn_challenges (user_id);
