-- 0005: account deletion.
--
-- BeginUserDeletion deletes the users row and records the deletion here, in one
-- transaction: from then on the account is gone (its address free, its sessions and links
-- refused for want of a user). FinishUserDeletion removes the account's sessions, link
-- tokens and queued mails, then this row, in a second transaction. A row still here is a
-- deletion a crash interrupted between the two; the periodic purge (FinishDeletions)
-- finishes it, oldest first.
CREATE TABLE user_deletions (
	user_id       TEXT    NOT NULL PRIMARY KEY,
	email         TEXT    NOT NULL,
	pending_email TEXT,
	deleted_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX user_deletions_at ON user_deletions (deleted_at);
