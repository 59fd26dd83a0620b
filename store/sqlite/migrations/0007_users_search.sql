-- 0007: the users listing's prefix search (store.Store.ListUsers with a query) reads
-- index entries only, never a table row it does not return.
--
-- A query ORs four prefix ranges (email, lower(name), lower(surname), lower(pseudo)) and
-- lists the matches by (created_at, id). The store answers in one of two ways (admin.go,
-- probeLimit), and before this migration both read a table row per candidate:
--   - few matches: read the four ranges, sort the matches by (created_at, id), keep a
--     page. Each range's index now ends with (created_at, id), so the sort key comes from
--     the index entry, and only the page's rows are read from the table;
--   - many matches: scan users_created in creation order and test the prefix on each
--     entry. users_created now holds the four compared values after (created_at, id), so
--     the test needs no table row either.
-- The listings without a query read users_created as before (its first columns are
-- unchanged), and the unique users_email stays for the uniqueness of addresses and for
-- counting a prefix's matches (its entries are the narrowest).
DROP INDEX users_created;
CREATE INDEX users_created ON users (created_at, id, email, lower(name), lower(surname), lower(pseudo));

CREATE INDEX users_email_created ON users (email, created_at, id);

DROP INDEX users_name_lower;
CREATE INDEX users_name_lower ON users (lower(name), created_at, id);
DROP INDEX users_surname_lower;
CREATE INDEX users_surname_lower ON users (lower(surname), created_at, id);
DROP INDEX users_pseudo_lower;
CREATE INDEX users_pseudo_lower ON users (lower(pseudo), created_at, id);
