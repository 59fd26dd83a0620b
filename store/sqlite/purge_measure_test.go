package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// TestPurgeMeasure measures the periodic purge on a large database (docs/benchmarks.md,
// "Purge at 1 000 000 users (SQLite)"). Skipped unless TOKTOK_PURGE_MEASURE=1:
//
//	TOKTOK_PURGE_MEASURE=1 go test ./store/sqlite -run PurgeMeasure -v -timeout 60m
//
// TOKTOK_PURGE_USERS sets the users (1 000 000 by default), TOKTOK_PURGE_BATCH the batch
// size (purgeBatch by default), TOKTOK_PURGE_DIR where the seeded file is kept between
// runs (the system temporary directory by default). Each run purges a fresh copy of it.
//
// It reports, for each purge call of a pass of the app's purge loop (PurgeExpired, the
// unconfirmed accounts, FinishDeletions, PurgeAudit): the rows, the total time, the
// share of the CPU other processes took, the batches per table with the median, p99 and
// longest time of a batch's statement (the write-lock hold, plus the WAL checkpoint that
// SQLite runs after some commits, lock released), and the calls of a concurrent writer
// that refreshes a session every millisecond meanwhile: median, p99 and longest (its
// wait for the lock included), and how many took over 50 ms.
func TestPurgeMeasure(t *testing.T) {
	if os.Getenv("TOKTOK_PURGE_MEASURE") != "1" {
		t.Skip("TOKTOK_PURGE_MEASURE=1 not set")
	}
	users := envInt(t, "TOKTOK_PURGE_USERS", 1_000_000)
	if b := envInt(t, "TOKTOK_PURGE_BATCH", 0); b > 0 {
		old := purgeBatch
		purgeBatch = b
		t.Cleanup(func() { purgeBatch = old })
	}
	dir := os.Getenv("TOKTOK_PURGE_DIR")
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	seed := filepath.Join(dir, fmt.Sprintf("toktok-purge-seed-v2-%d.db", users))
	if _, err := os.Stat(seed); err != nil {
		start := time.Now()
		if err := seedPurgeDB(t, seed+".tmp", users); err != nil {
			t.Fatalf("seed: %v", err)
		}
		if err := os.Rename(seed+".tmp", seed); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(seed + ".tmp.lock") // Open's lock file (lock.go)
		t.Logf("seeded %s in %v", seed, time.Since(start).Round(time.Second))
	}
	fi, err := os.Stat(seed)
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "toktok.db")
	if err := copyFile(seed, work); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, work)
	ctx := t.Context()
	var rows [6]int64
	for i, table := range []string{"users", "sessions", "link_tokens", "counters", "mails", "audit_events"} {
		if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&rows[i]); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("database: %.2f GB; users %d, sessions %d, link tokens %d, counters %d, mails %d, audit events %d (%d rows); batch %d",
		float64(fi.Size())/1e9, rows[0], rows[1], rows[2], rows[3], rows[4], rows[5],
		rows[0]+rows[1]+rows[2]+rows[3]+rows[4]+rows[5], purgeBatch)

	// The concurrent writer: one small write (a refresh) every millisecond, each timed.
	w := newPurgeWriter(t, s)
	w.start()
	cpu0 := readCPU()
	time.Sleep(2 * time.Second)
	t.Logf("writer alone (others %s): %s", readCPU().othersSince(cpu0), w.phase())

	var (
		mu    sync.Mutex
		took  = map[string][]time.Duration{} // each batch's statement, by table
		order []string
	)
	purgeBatchDone = func(table string, n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if _, ok := took[table]; !ok {
			order = append(order, table)
		}
		took[table] = append(took[table], d)
	}
	t.Cleanup(func() { purgeBatchDone = nil })
	measure := func(name string, call func() (int, error)) {
		t.Helper()
		mu.Lock()
		clear(took)
		order = nil
		mu.Unlock()
		cpu0 := readCPU()
		start := time.Now()
		n, err := call()
		total := time.Since(start)
		others := readCPU().othersSince(cpu0)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		mu.Lock()
		defer mu.Unlock()
		batches := "not batched"
		if len(order) > 0 {
			batches = ""
			for _, table := range order {
				ds := slices.Sorted(slices.Values(took[table]))
				r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
				batches += fmt.Sprintf("\n\t%s: %d batches, median %v, p99 %v, longest %v", table, len(ds),
					r(ds[len(ds)/2]), r(ds[len(ds)*99/100]), r(ds[len(ds)-1]))
			}
		}
		t.Logf("%s: %d rows in %v (others %s); writer: %s; %s", name, n, total.Round(time.Millisecond), others, w.phase(), batches)
	}

	now := purgeNow
	measure("PurgeExpired (backlog)", func() (int, error) { return s.PurgeExpired(ctx, now) })
	measure("BeginUnconfirmedDeletions (500, ttl 7 days)", func() (int, error) {
		ds, err := s.BeginUnconfirmedDeletions(ctx, now.Add(-7*24*time.Hour), now, 500)
		return len(ds), err
	})
	measure("FinishDeletions", func() (int, error) { return s.FinishDeletions(ctx, now) })
	measure("PurgeAudit (365 days)", func() (int, error) { return s.PurgeAudit(ctx, now.Add(-365*24*time.Hour)) })
	// The next pass, ten minutes later: what ended meanwhile only.
	later := now.Add(10 * time.Minute)
	measure("PurgeExpired (10 minutes later)", func() (int, error) { return s.PurgeExpired(ctx, later) })
	measure("PurgeAudit (10 minutes later)", func() (int, error) { return s.PurgeAudit(ctx, later.Add(-365*24*time.Hour)) })
	w.stop()
}

// purgeNow is the instant the seeded database is purged at.
var purgeNow = time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC)

// purgeWriter refreshes its own session in a loop, one AdvanceSession a millisecond,
// and keeps how long each call took since the last phase().
type purgeWriter struct {
	t       *testing.T
	s       *Store
	done    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	took    []time.Duration
	failed  error
	counter int64
}

func newPurgeWriter(t *testing.T, s *Store) *purgeWriter {
	sess := store.Session{
		ID: "measure-writer", UserID: "measure-user", CreatedAt: purgeNow, LastUsedAt: purgeNow,
		IdleExpiresAt: purgeNow.Add(time.Hour), AbsoluteExpiresAt: purgeNow.Add(24 * time.Hour),
		UserAgent: "measure", IP: "203.0.113.1", RotatedAt: purgeNow,
	}
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	return &purgeWriter{t: t, s: s, done: make(chan struct{})}
}

func (w *purgeWriter) start() {
	w.wg.Go(func() {
		for {
			select {
			case <-w.done:
				return
			case <-time.After(time.Millisecond):
			}
			start := time.Now()
			_, err := w.s.AdvanceSession(context.Background(), "measure-writer", w.counter, purgeNow, purgeNow.Add(time.Hour))
			took := time.Since(start)
			w.mu.Lock()
			w.took = append(w.took, took)
			if err != nil {
				w.failed = err
			}
			w.mu.Unlock()
			if err != nil {
				return
			}
			w.counter++
		}
	})
}

// phase describes the writes since the last call and starts a new phase.
func (w *purgeWriter) phase() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failed != nil {
		w.t.Fatalf("concurrent writer: %v", w.failed)
	}
	ds := slices.Sorted(slices.Values(w.took))
	w.took = w.took[:0]
	if len(ds) == 0 {
		return "no writes"
	}
	over := len(ds) - sort.Search(len(ds), func(i int) bool { return ds[i] > 50*time.Millisecond })
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("%d writes, median %v, p99 %v, longest %v, %d over 50 ms",
		len(ds), r(ds[len(ds)/2]), r(ds[len(ds)*99/100]), r(ds[len(ds)-1]), over)
}

func (w *purgeWriter) stop() {
	close(w.done)
	w.wg.Wait()
	if w.failed != nil {
		w.t.Errorf("concurrent writer: %v", w.failed)
	}
}

// cpuSample is the machine's busy and total CPU time and this process's, in clock ticks
// (/proc/stat, /proc/self/stat; zero where they do not exist).
type cpuSample struct{ busy, total, self int64 }

func readCPU() cpuSample {
	var c cpuSample
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			v, _ := strconv.ParseInt(f, 10, 64)
			if i == 8 || i == 9 { // guest time is already in user time
				continue
			}
			c.total += v
			if i != 3 && i != 4 { // idle, iowait
				c.busy += v
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		// The fields after the command (which may hold spaces) start at state, field 3.
		if _, rest, ok := strings.Cut(string(b), ") "); ok {
			f := strings.Fields(rest)
			if len(f) > 12 {
				u, _ := strconv.ParseInt(f[11], 10, 64)
				s, _ := strconv.ParseInt(f[12], 10, 64)
				c.self = u + s
			}
		}
	}
	return c
}

// othersSince is the share of the machine's CPU that other processes took since c0.
func (c cpuSample) othersSince(c0 cpuSample) string {
	total := c.total - c0.total
	if total <= 0 {
		return "?"
	}
	return fmt.Sprintf("%d %%", max(0, 100*((c.busy-c0.busy)-(c.self-c0.self))/total))
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return n
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	// On disk before the purge starts: otherwise the first checkpoint's fsync waits for
	// the whole copy to be written back.
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// seedPurgeDB writes a database of users accounts at path with direct SQL: each table
// filled by INSERT … SELECT over a recursive CTE, 50 000 rows a transaction. Values are
// pseudo-random but fixed (multiplicative hashes of the row number i), so every seeding
// gives the same database. Keys begin with i, so the load appends to each table's
// b-tree, while the times, hence the order the purge deletes in, are hashes of i: the
// rows of a purge batch are spread over the table as rows with random IDs are. Per user: 3 sessions, 1 link token, 1 counter, 0.5 mail and
// 2 audit events. What the purge at purgeNow finds:
//   - sessions: 70 % live, 5 % ended within the day of grace (kept), 13 % idle-expired,
//     2 % absolutely expired and 10 % revoked more than a day ago (25 % purged);
//   - link tokens: 40 % live, 10 % used within the day, 30 % expired and 20 % used more
//     than a day ago (50 % purged);
//   - counters: 40 % in their window, 60 % ended (purged);
//   - mails: 50 % sent and 5 % failed more than 7 days ago (purged), 30 % sent and 10 %
//     failed since, 5 % pending with their bodies;
//   - audit events: spread over 400 days, so 35/400 are past a 365-day retention;
//   - users: 1 % unconfirmed, created over 400 days.
func seedPurgeDB(t *testing.T, path string, users int) error {
	_ = os.Remove(path)
	s, err := Open(t.Context(), path) // the schema, every migration applied
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

	const (
		// h1, h2: two multiplicative hashes of the row number i, each in [0, 2^32).
		h1 = `((i * 2654435761 + 12345) % 4294967296)`
		h2 = `((i * 2246822519 + 3266489917) % 4294967296)`
	)
	hash := `password-hash-$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA`
	body := string(slices.Repeat([]byte("Hello, here is your link. "), 40))
	T := purgeNow.UnixMilli()
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
	// r is h1 % 100, the row's class; d a duration from h2.
	tables := []struct {
		name string
		rows int
		arg  any // ?4
		sql  string
	}{
		{"users", users, hash, `INSERT INTO users (` + userCols + `)
			SELECT printf('u%07d%018x', i, ` + h1 + `), printf('user%d@example.com', i),
				i % 100 <> 0, NULL, ?4, CASE WHEN i % 1000 = 0 THEN 'STAFF' ELSE 'USER' END,
				printf('Name%d', i % 997), printf('Sur%d', i % 5003), NULL, 'en', 1, NULL, 0,
				?3 - (` + h2 + ` % 400) * 86400000 - i % 86400000,
				?3 - (` + h2 + ` % 400) * 86400000 - i % 86400000, ?3 - i % 86400000, i % 50
			FROM seq`},
		{"sessions", 3 * users, ua, `INSERT INTO sessions (` + sessionCols + `)
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
				?4, '203.0.113.' || (i % 250), i % 40, ?3 - d % 86400000
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
		{"mails", users / 2, body, `INSERT INTO mails (` + mailCols + `, finished_at)
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
	// The secondary indexes are dropped for the load and built again after it, each by
	// one sort, rather than grown row by row.
	var indexes []string
	rows, err := db.QueryContext(t.Context(), `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL`)
	if err != nil {
		return err
	}
	var names []string
	for rows.Next() {
		var name, sql string
		if err := rows.Scan(&name, &sql); err != nil {
			return err
		}
		names, indexes = append(names, name), append(indexes, sql)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	for _, name := range names {
		if _, err := db.ExecContext(t.Context(), `DROP INDEX `+name); err != nil {
			return err
		}
	}
	const chunk = 50_000
	for _, tb := range tables {
		start := time.Now()
		q := `WITH RECURSIVE seq(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?2) ` + tb.sql
		for from := 0; from < tb.rows; from += chunk {
			tx, err := db.BeginTx(t.Context(), nil)
			if err != nil {
				return err
			}
			args := []any{from, min(from+chunk, tb.rows), T}
			if tb.arg != nil {
				args = append(args, tb.arg)
			}
			if _, err := tx.ExecContext(t.Context(), q, args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", tb.name, err)
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
		t.Logf("seeded %d %s in %v", tb.rows, tb.name, time.Since(start).Round(time.Millisecond))
	}
	start := time.Now()
	for _, idx := range indexes {
		if _, err := db.ExecContext(t.Context(), idx); err != nil {
			return fmt.Errorf("%s: %w", idx, err)
		}
	}
	t.Logf("built %d indexes in %v", len(indexes), time.Since(start).Round(time.Millisecond))
	if _, err := db.ExecContext(t.Context(), `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return err
	}
	return db.Close()
}
