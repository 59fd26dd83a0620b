-- 0004: the staff API's users listing (store.Store.ListUsers, CountUsers).
--
-- Users are listed by creation: (created_at, id) ascending, a keyset. Each filter is
-- served by an index that yields users in that order, so a page reads about as many index
-- entries as it returns:
--   - no filter, or only common values (role USER, enabled, confirmed): users_created,
--     skipping the few rows the filter drops;
--   - the rare values, each a partial index holding only its users: STAFF, ADMIN,
--     disabled, unconfirmed. The store names the index (INDEXED BY) and writes the value
--     as a literal, which is what lets SQLite use a partial index.
CREATE INDEX users_created ON users (created_at, id);
CREATE INDEX users_staff ON users (created_at, id) WHERE role = 'STAFF';
CREATE INDEX users_admin ON users (created_at, id) WHERE role = 'ADMIN';
CREATE INDEX users_disabled ON users (created_at, id) WHERE disabled = 1;
CREATE INDEX users_unconfirmed ON users (created_at, id) WHERE email_confirmed = 0;

-- totalCount without a query counts index entries, never table rows: this small index
-- holds every flag (a count of a common value, such as role USER, reads it whole rather
-- than the table; of a rare value, only its range). Listings never use it: they name
-- their index.
CREATE INDEX users_flags ON users (role, disabled, email_confirmed);

-- The query is a case-insensitive prefix of the email (canonical, so already lower-case:
-- the unique users_email serves it) or of the name, surname or pseudo, each compared
-- folded by lower() (ASCII letters), as a range: lower(name) >= prefix AND
-- lower(name) < the prefix's successor. No LIKE, so no character is a wildcard. SQLite
-- maintains these expression indexes itself on every write of the columns.
CREATE INDEX users_name_lower ON users (lower(name));
CREATE INDEX users_surname_lower ON users (lower(surname));
CREATE INDEX users_pseudo_lower ON users (lower(pseudo));
