-- 0006: the periodic purge (PurgeExpired, PurgeAudit) finds what it deletes through an
-- index instead of scanning the tables, and deletes it in small batches (purgeBatch rows,
-- each batch its own short transaction), so no pass holds the write lock for long.
--
-- Each index is on the purge predicate as written, so the planner picks it by itself:
--   - counters: reset_at <= now;
--   - link tokens: expires_at < cutoff OR used_at < cutoff, one index per side of the OR
--     (a MULTI-INDEX OR); used_at only of used tokens, a partial index that the
--     comparison implies (used_at < cutoff is false for NULL);
--   - sessions: MIN(idle_expires_at, absolute_expires_at) < cutoff OR revoked_at < cutoff,
--     an index on that very expression (SQLite maintains it on every write of either
--     column) and a partial index of the revoked ones;
--   - mails: state IN ('sent', 'failed') AND finished_at < cutoff, a partial index of
--     the finished mails (finished_at is set only when a mail becomes sent or failed).
-- Audit events need none: audit_events_at (0001) serves at < before.
CREATE INDEX counters_reset ON counters (reset_at);
CREATE INDEX link_tokens_expires ON link_tokens (expires_at);
CREATE INDEX link_tokens_used ON link_tokens (used_at) WHERE used_at IS NOT NULL;
CREATE INDEX sessions_ends ON sessions (MIN(idle_expires_at, absolute_expires_at));
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX mails_finished ON mails (state, finished_at) WHERE finished_at IS NOT NULL;
