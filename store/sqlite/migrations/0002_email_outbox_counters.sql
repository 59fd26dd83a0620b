-- 0002: email-link tokens, the durable mail outbox and the shared rate-limit counters.
--
-- Same conventions as 0001: times are INTEGER unix milliseconds in UTC, tables are STRICT,
-- and there are no foreign keys to users (the contract is the same for every backend).

-- Single-use email-link tokens, stored by hash only. ConsumeLinkToken is a primary key
-- lookup; VoidLinkTokens selects a user's tokens of one purpose.
CREATE TABLE link_tokens (
	hash       TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	purpose    TEXT    NOT NULL,
	email      TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT, WITHOUT ROWID;

CREATE INDEX link_tokens_user ON link_tokens (user_id, purpose);

-- The outbox. Rows hold rendered bodies, so it keeps rowids (WITHOUT ROWID suits small
-- rows only). lease_until is NULL when no worker holds the mail (store.Mail's zero
-- LeaseUntil). finished_at is when the mail became sent or failed; it is not part of
-- store.Mail and only dates the row for PurgeExpired.
CREATE TABLE mails (
	id              TEXT    NOT NULL PRIMARY KEY,
	kind            TEXT    NOT NULL,
	rcpt            TEXT    NOT NULL,
	subject         TEXT    NOT NULL,
	body_text       TEXT    NOT NULL,
	body_html       TEXT    NOT NULL,
	state           TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
	attempts        INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	lease_owner     TEXT    NOT NULL,
	lease_until     INTEGER,
	sent_at         INTEGER,
	last_error      TEXT    NOT NULL,
	finished_at     INTEGER
) STRICT;

-- ClaimMails scans the pending mails that are due, oldest first.
CREATE INDEX mails_due ON mails (state, next_attempt_at);

-- Fixed-window rate-limit counters, one row per key, updated in place by Hit.
CREATE TABLE counters (
	key      TEXT    NOT NULL PRIMARY KEY,
	count    INTEGER NOT NULL,
	reset_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
