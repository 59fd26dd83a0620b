package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/storetest"
)

func openTest(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	})
}

var testTime = time.Date(2026, time.January, 2, 3, 4, 5, 0, time.UTC)

func testUser(id string) store.User {
	return store.User{
		ID: id, Email: id + "@example.com", PasswordHash: "h", Role: store.RoleUser, Lang: "en",
		CreatedAt: testTime, UpdatedAt: testTime,
	}
}

// Open creates the file, never its directory: a mistyped path is refused, in words that
// name what is wrong, and nothing is left behind.
func TestOpenRefusesAMissingOrWrongDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "is-a-dir.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "a", "b", "toktok.db"), "sqlite: open " + filepath.Join(dir, "a", "b", "toktok.db") +
			": the directory " + filepath.Join(dir, "a", "b") + " does not exist (TokTok creates the file, not its directory)"},
		{filepath.Join(file, "toktok.db"), "sqlite: open " + filepath.Join(file, "toktok.db") + ": " + file + " is not a directory"},
		{filepath.Join(file, "sub", "toktok.db"), "sqlite: open " + filepath.Join(file, "sub", "toktok.db") + ": " + filepath.Join(file, "sub") + " is not a directory"},
		{filepath.Join(dir, "is-a-dir.db"), "sqlite: open " + filepath.Join(dir, "is-a-dir.db") + ": it is a directory, not a database file"},
	} {
		s, err := Open(t.Context(), tc.path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", tc.path)
			continue
		}
		if err.Error() != tc.want {
			t.Errorf("Open(%q):\n got %s\nwant %s", tc.path, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open created a directory: %v", err)
	}
}

func TestOpenSetsPragmasOnEveryConnection(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	// Hold several connections at once so the pool has to open more than one.
	var conns []*sql.Conn
	for range 3 {
		c, err := s.db.Conn(t.Context())
		if err != nil {
			t.Fatalf("Conn: %v", err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		for pragma, want := range map[string]string{
			"journal_mode":       "wal",
			"busy_timeout":       "5000",
			"foreign_keys":       "1",
			"synchronous":        "1", // NORMAL
			"journal_size_limit": strconv.FormatInt(walSizeLimit, 10),
		} {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("conn %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != want {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, pragma, got, want)
			}
		}
	}
	for i, c := range conns {
		if err := c.Close(); err != nil {
			t.Errorf("conn %d: close: %v", i, err)
		}
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "toktok.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	if err := s.CreateUser(t.Context(), testUser("u1")); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// Opening again runs the migrations again, which must find nothing to do.
	s = openTest(t, path)
	if _, err := s.UserByID(t.Context(), "u1"); err != nil {
		t.Fatalf("UserByID after reopen: %v", err)
	}
	var version int
	if err := s.db.QueryRowContext(t.Context(), "PRAGMA user_version").Scan(&version); err != nil {
		t.Fatalf("user_version: %v", err)
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if version != len(migs) {
		t.Errorf("user_version = %d, want %d", version, len(migs))
	}
}

// A database created by the first schema version is brought up to date on Open, keeping its
// data, and the tables of later versions work.
func TestOpenUpgradesFromFirstVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "toktok.db")
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	migs, err := loadMigrations(migrationFS)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, migs[:1]); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	if _, err := db.Exec(`INSERT INTO users (` + userInsertCols + `)
		VALUES ('u1', 'u1@example.com', 0, NULL, 'h', 'USER', NULL, NULL, NULL, 'en', 0, NULL, 0, 1, 1, NULL, 0)`); err != nil {
		t.Fatalf("insert into version 1: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("close the version 1 database: %v", err)
	}

	s := openTest(t, path)
	if _, err := s.UserByID(t.Context(), "u1"); err != nil {
		t.Fatalf("UserByID after upgrade: %v", err)
	}
	if c, err := s.Hit(t.Context(), "k", time.Minute, testTime); err != nil || c.Count != 1 {
		t.Errorf("Hit after upgrade = %+v, %v; want Count 1", c, err)
	}
	if err := s.EnqueueMail(t.Context(), store.Mail{ID: "m1", To: "u1@example.com"}); err != nil {
		t.Errorf("EnqueueMail after upgrade: %v", err)
	}
	if ms, err := s.MailsTo(t.Context(), "u1@example.com"); err != nil || len(ms) != 1 {
		t.Errorf("MailsTo after upgrade = %d mails, %v; want 1", len(ms), err)
	}
	if err := s.CreateLinkToken(t.Context(), store.LinkToken{Hash: "h", UserID: "u1", Purpose: store.LinkConfirm}); err != nil {
		t.Errorf("CreateLinkToken after upgrade: %v", err)
	}
}

// The outbox and link-token lookups that run often are served by their indexes, not by
// scanning the tables.
func TestFlowQueriesUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	for index, q := range map[string]string{
		"mails_due": `SELECT id FROM mails WHERE state = 'pending' AND next_attempt_at <= 1
			AND (lease_until IS NULL OR lease_until <= 1) ORDER BY next_attempt_at, id LIMIT 10`,
		"link_tokens_user": `UPDATE link_tokens SET used_at = 1
			WHERE user_id = 'u1' AND purpose = 'confirm' AND used_at IS NULL`,
		// MailsTo: the index gives the order too, so there is no sort.
		"mails_rcpt": `SELECT id FROM mails WHERE rcpt = 'a@example.com' ORDER BY created_at, id`,
	} {
		rows, err := s.db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q)
		if err != nil {
			t.Fatalf("EXPLAIN %s: %v", index, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("EXPLAIN %s: %v", index, err)
		}
		rows.Close()
		joined := strings.Join(plan, "\n")
		if !strings.Contains(joined, index) {
			t.Errorf("query plan does not use %s:\n%s", index, joined)
		}
		if index == "mails_rcpt" && strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("MailsTo sorts instead of reading %s in order:\n%s", index, joined)
		}
	}
}

func TestMigrateAppliesOnlyNewer(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	v1 := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
	}
	v2 := fstest.MapFS{
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		// Two statements in one file, to check they all run.
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER);\nINSERT INTO a VALUES (2);")},
	}
	for i, fsys := range []fstest.MapFS{v1, v1, v2, v2} {
		migs, err := loadMigrations(fsys)
		if err != nil {
			t.Fatal(err)
		}
		// Re-running 0001 would fail with "table a already exists".
		if err := migrate(t.Context(), db, migs); err != nil {
			t.Fatalf("migrate #%d: %v", i, err)
		}
	}
	var n, version int
	if err := db.QueryRow("SELECT count(*) FROM a").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in a = %d, %v; want 1 (0002 applied exactly once)", n, err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != 2 {
		t.Errorf("user_version = %d, %v; want 2", version, err)
	}

	// A binary that knows fewer migrations than the database refuses it.
	migs, err := loadMigrations(v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, migs); err == nil {
		t.Error("migrate with older migrations than the database: no error")
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "m.db")+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	migs, err := loadMigrations(fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte("CREATE TABLE a (x INTEGER);")},
		"migrations/0002_b.sql": {Data: []byte("CREATE TABLE b (y INTEGER); THIS IS NOT SQL;")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, migs); err == nil {
		t.Fatal("migrate with a broken migration: no error")
	}
	var version, tables int
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatalf("user_version: %v", err)
	}
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&tables); err != nil {
		t.Fatalf("count tables: %v", err)
	}
	if version != 0 || tables != 0 {
		t.Errorf("after failed migration: user_version %d, %d tables; want 0 and 0", version, tables)
	}
}

func TestLoadMigrationsRejectsGaps(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":        {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"duplicate":  {"migrations/0001_a.sql": {}, "migrations/0001_b.sql": {}},
		"unnumbered": {"migrations/init.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := loadMigrations(migrationFS); err != nil {
		t.Errorf("embedded migrations: %v", err)
	}
}

func TestClosedStoreIsUnavailable(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(t.Context(), testUser("u1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	ctx := t.Context()
	for name, call := range map[string]func() error{
		"Ping":        func() error { return s.Ping(ctx) },
		"UserByID":    func() error { _, err := s.UserByID(ctx, "u1"); return err },
		"SessionByID": func() error { _, err := s.SessionByID(ctx, "s1"); return err },
		"CreateUser":  func() error { return s.CreateUser(ctx, testUser("u2")) },
		"AdvanceSession": func() error {
			_, err := s.AdvanceSession(ctx, "s1", 0, testTime, testTime)
			return err
		},
		"AuditEvents": func() error { _, err := s.AuditEvents(ctx, "", 10); return err },
		"ConfirmEmail": func() error {
			_, err := s.ConfirmEmail(ctx, "u1", "u1@example.com", testTime)
			return err
		},
		"ConsumeLinkToken": func() error {
			_, err := s.ConsumeLinkToken(ctx, "h", store.LinkConfirm, testTime)
			return err
		},
		"ClaimMails": func() error {
			_, err := s.ClaimMails(ctx, "w", testTime, testTime.Add(time.Minute), 10)
			return err
		},
		"Hit":          func() error { _, err := s.Hit(ctx, "k", time.Minute, testTime); return err },
		"PurgeExpired": func() error { _, err := s.PurgeExpired(ctx, testTime); return err },
	} {
		if err := call(); !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s after Close: error %v, want one wrapping ErrUnavailable", name, err)
		}
	}
}

// The closed-pool path of mapErr matters for calls racing with Close, which checkOpen
// cannot catch; exercise it directly on a pool closed underneath the store.
func TestClosedPoolIsUnavailable(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "toktok.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Close(); err != nil {
		t.Fatalf("close the pool: %v", err)
	}
	defer s.Close()
	if _, err := s.UserByID(t.Context(), "u1"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("UserByID on a closed pool: error %v, want one wrapping ErrUnavailable", err)
	}
}

func TestCanceledContextIsUnavailable(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "toktok.db"))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.UserByID(ctx, "u1")
	if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UserByID with a canceled context: error %v, want ErrUnavailable and not ErrNotFound", err)
	}
}

func TestOpenRejectsBadPath(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "a?b.db")} {
		if s, err := Open(t.Context(), path); err == nil {
			s.Close()
			t.Errorf("Open(%q): no error", path)
		}
	}
}

func benchStore(b *testing.B) *Store {
	s := openTest(b, filepath.Join(b.TempDir(), "toktok.db"))
	for i := range 1000 {
		u := testUser(fmt.Sprintf("u%04d", i))
		u.Data = []byte(`{"theme":"dark"}`)
		if err := s.CreateUser(b.Context(), u); err != nil {
			b.Fatal(err)
		}
		sess := store.Session{
			ID: fmt.Sprintf("s%04d", i), UserID: u.ID, CreatedAt: testTime, LastUsedAt: testTime,
			IdleExpiresAt: testTime.Add(time.Hour), AbsoluteExpiresAt: testTime.Add(24 * time.Hour),
			UserAgent: "bench", IP: "192.0.2.1", RotatedAt: testTime,
		}
		if err := s.CreateSession(b.Context(), sess); err != nil {
			b.Fatal(err)
		}
	}
	return s
}

func BenchmarkSessionByID(b *testing.B) {
	s := benchStore(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.SessionByID(b.Context(), fmt.Sprintf("s%04d", i%1000)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkUserByID(b *testing.B) {
	s := benchStore(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.UserByID(b.Context(), fmt.Sprintf("u%04d", i%1000)); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
