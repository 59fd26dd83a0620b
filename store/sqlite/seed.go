package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// SeedOptions say what Seed writes.
type SeedOptions struct {
	Users        int       // accounts; the other tables are sized after them
	Now          time.Time // the instant the data is dated from
	PasswordHash string    // every account's hash (compute one argon2id hash for a real password)
	// EmailFormat names account i (default "seed-%d@example.com", what cmd/toktok-load
	// signs in with -email-prefix seed).
	EmailFormat string
	Log         func(format string, args ...any) // progress; nil: silent
}

// Seed writes a database of o.Users accounts at path (replacing any file there) with
// direct SQL, for benchmarks at sizes registration cannot reach quickly: each table
// filled by INSERT … SELECT over a recursive CTE, 50 000 rows a transaction. Values are
// pseudo-random but fixed (multiplicative hashes of the row number i), so every seeding
// gives the same database. Keys begin with i, so the load appends to each table's
// b-tree, while the times, hence the order the purge deletes in, are hashes of i: the
// rows of a purge batch are spread over the table as rows with random IDs are. Per user:
// 3 sessions, 1 link token, 1 counter, 0.5 mail and 2 audit events. What a purge at
// o.Now finds:
//   - sessions: 70 % live, 5 % ended within the day of grace (kept), 13 % idle-expired,
//     2 % absolutely expired and 10 % revoked more than a day ago (25 % purged);
//   - link tokens: 40 % live, 10 % used within the day, 30 % expired and 20 % used more
//     than a day ago (50 % purged);
//   - counters: 40 % in their window, 60 % ended (purged);
//   - mails: 50 % sent and 5 % failed more than 7 days ago (purged), 30 % sent and 10 %
//     failed since, 5 % pending with their bodies;
//   - audit events: spread over 400 days, so 35/400 are past a 365-day retention;
//   - users: 1 % unconfirmed, created over 400 days.
func Seed(ctx context.Context, path string, o SeedOptions) error {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	email := cmp.Or(o.EmailFormat, "seed-%d@example.com")
	if strings.Count(email, "%d") != 1 || strings.Count(email, "%") != 1 {
		return fmt.Errorf("sqlite: seed: the email format %q needs exactly one %%d", email)
	}
	_ = os.Remove(path)
	s, err := Open(ctx, path) // the schema, every migration applied
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(OFF)&_pragma=cache_size(-1000000)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	tables := seedTables(o, email)
	T := o.Now.UnixMilli()
	// The secondary indexes are dropped for the load and built again after it, each by
	// one sort, rather than grown row by row.
	indexes, err := dropIndexes(ctx, db)
	if err != nil {
		return err
	}
	if err := loadTables(ctx, db, tables, T, logf); err != nil {
		return err
	}
	start := time.Now()
	for _, idx := range indexes {
		if _, err := db.ExecContext(ctx, idx); err != nil {
			return fmt.Errorf("%s: %w", idx, err)
		}
	}
	logf("built %d indexes in %v", len(indexes), time.Since(start).Round(time.Millisecond))
	if _, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return db.Close()
}

// seedTable is one table's load: rows rows by the INSERT … SELECT sql over seq(i), whose
// ?1, ?2 bound i, ?3 is the seed's now in milliseconds, then args.
type seedTable struct {
	name string
	rows int
	args []any // ?4, ?5
	sql  string
}

// seedTables are Seed's loads, in order. Values are hashes of the row number: r is
// h1 % 100, the row's class; d a duration from h2.
func seedTables(o SeedOptions, email string) []seedTable {
	const (
		// h1, h2: two multiplicative hashes of the row number i, each in [0, 2^32).
		h1 = `((i * 2654435761 + 12345) % 4294967296)`
		h2 = `((i * 2246822519 + 3266489917) % 4294967296)`
	)
	hash := o.PasswordHash
	users := o.Users
	body := string(slices.Repeat([]byte("Hello, here is your link. "), 40))
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	// r is h1 % 100, the row's class; d a duration from h2.
	return []seedTable{
		{"users", users, []any{hash, email}, `INSERT INTO users (` + userInsertCols + `)
			SELECT printf('u%07d%018x', i, ` + h1 + `), printf(?5, i),
				i % 100 <> 0, NULL, ?4, CASE WHEN i % 1000 = 0 THEN 'STAFF' ELSE 'USER' END,
				printf('Name%d', i % 997), printf('Sur%d', i % 5003), NULL, 'en', 1, NULL, 0,
				?3 - (` + h2 + ` % 400) * 86400000 - i % 86400000,
				?3 - (` + h2 + ` % 400) * 86400000 - i % 86400000, ?3 - i % 86400000, i % 50
			FROM seq`},
		{"sessions", 3 * users, []any{ua}, `INSERT INTO sessions (` + sessionCols + `)
			SELECT printf('%010d%08x%08x', i, h1, h2), printf('u%07d%018x', u, (u * 2654435761 + 12345) % 4294967296),
				?3 - 30 * 86400000, ?3 - d % 86400000,
				CASE WHEN r < 70 THEN ?3 + d / 3
					WHEN r < 75 THEN ?3 - d % 86400000
					WHEN r < 88 THEN ?3 - 86400001 - d
					WHEN r < 90 THEN ?3 - 86400001 - d
					ELSE ?3 + d / 3 END,
				CASE WHEN r < 75 THEN ?3 + d
					WHEN r < 88 THEN ?3 + 20 * 86400000 - d
					WHEN r < 90 THEN ?3 - 86400001 - d
					ELSE ?3 + d END,
				CASE WHEN r >= 90 THEN ?3 - 86400001 - d END,
				CASE WHEN r >= 90 THEN 'logout' ELSE '' END,
				?4, '203.0.113.' || (i % 250), i % 40, ?3 - d % 86400000, '', NULL
			FROM (SELECT i, i / 3 AS u, ` + h1 + ` AS h1, ` + h2 + ` AS h2, ` + h1 + ` % 100 AS r,
				` + h2 + ` % 2592000000 AS d FROM seq)`},
		{"link_tokens", users, nil, `INSERT INTO link_tokens (` + linkTokenCols + `)
			SELECT printf('%010d%054x', i, h1), printf('u%07d%018x', i, h1),
				CASE WHEN i % 2 = 0 THEN 'confirm' ELSE 'reset' END, printf('user%d@example.com', i),
				?3 - 2 * 86400000 - d,
				CASE WHEN r < 50 THEN ?3 + d % 86400000
					WHEN r < 80 THEN ?3 - 86400001 - d
					ELSE ?3 - 86400001 - d + 3600000 END,
				CASE WHEN r < 40 THEN NULL
					WHEN r < 50 THEN ?3 - d % 86400000
					WHEN r < 80 THEN NULL
					ELSE ?3 - 86400001 - d END
			FROM (SELECT i, ` + h1 + ` AS h1, ` + h2 + ` AS h2, ` + h1 + ` % 100 AS r,
				` + h2 + ` % 2592000000 AS d FROM seq)`},
		{"counters", users, nil, `INSERT INTO counters (key, count, reset_at)
			SELECT printf('login:%010d:%08x', i, h1), 1 + i % 5,
				CASE WHEN r < 40 THEN ?3 + 1 + d % 900000 ELSE ?3 - d % 86400000 END
			FROM (SELECT i, ` + h1 + ` AS h1, ` + h2 + ` AS h2, ` + h1 + ` % 100 AS r,
				` + h2 + ` % 2592000000 AS d FROM seq)`},
		{"mails", users / 2, []any{body}, `INSERT INTO mails (` + mailCols + `, finished_at)
			SELECT printf('%010d%08x%08x', i, h1, h2), 'confirm', printf('user%d@example.com', i * 2),
				'Confirm your address',
				CASE WHEN r >= 95 THEN ?4 ELSE '' END, CASE WHEN r >= 95 THEN ?4 || ?4 ELSE '' END,
				CASE WHEN r < 50 OR (r >= 55 AND r < 85) THEN 'sent' WHEN r < 95 THEN 'failed' ELSE 'pending' END,
				1, f - 5000, f - 5000, '', NULL,
				CASE WHEN r < 50 OR (r >= 55 AND r < 85) THEN f END,
				CASE WHEN r >= 50 AND r < 55 OR r >= 85 AND r < 95 THEN '550 rejected' ELSE '' END,
				CASE WHEN r < 95 THEN f END
			FROM (SELECT i, h1, h2, r,
				CASE WHEN r < 55 THEN ?3 - 7 * 86400000 - 1 - d ELSE ?3 - d % (7 * 86400000) END AS f
				FROM (SELECT i, ` + h1 + ` AS h1, ` + h2 + ` AS h2, ` + h1 + ` % 100 AS r,
					` + h2 + ` % 2592000000 AS d FROM seq))`},
		{"audit_events", 2 * users, nil, `INSERT INTO audit_events (` + auditCols + `)
			SELECT printf('%010d%08x%08x', i, ` + h1 + `, ` + h2 + `), ?3 - (` + h2 + ` % 34560000) * 1000,
				'login', 'success', printf('u%07d%018x', i / 2, ((i / 2) * 2654435761 + 12345) % 4294967296),
				'', '203.0.113.' || (i % 250), NULL
			FROM seq`},
	}
}

// dropIndexes drops the secondary indexes and returns the statements that build them.
func dropIndexes(ctx context.Context, db *sql.DB) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	var names, indexes []string
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			rows.Close()
			return nil, err
		}
		names, indexes = append(names, name), append(indexes, sql)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	for _, name := range names {
		if _, err := db.ExecContext(ctx, `DROP INDEX `+name); err != nil {
			return nil, err
		}
	}
	return indexes, nil
}

// loadTables runs each table's load, 50 000 rows a transaction.
func loadTables(ctx context.Context, db *sql.DB, tables []seedTable, now int64, logf func(string, ...any)) error {
	const chunk = 50_000
	for _, tb := range tables {
		start := time.Now()
		q := `WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2) ` + tb.sql
		for from := 0; from < tb.rows; from += chunk {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			args := append([]any{from, min(from+chunk, tb.rows), now}, tb.args...)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", tb.name, err)
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		logf("seeded %d %s in %v", tb.rows, tb.name, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
