package sqlite

import (
	"context"
	"fmt"
	"io"
	"maps"
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
// To compare settings: TOKTOK_PURGE_YIELD=0 turns off the purge's pause between batches
// (yield.go), TOKTOK_PURGE_PRAGMAS adds pragmas to each connection (comma-separated, as
// the driver's _pragma values: "wal_autocheckpoint(0),cache_size(-65536)"), and
// TOKTOK_PURGE_CHECKPOINT=d runs a PASSIVE checkpoint every d from another goroutine.
//
// It reports, for each purge call of a pass of the app's purge loop (PurgeExpired, the
// unconfirmed accounts, FinishDeletions, PurgeAudit): the rows, the total time, the
// share of the CPU other processes took, the batches per table with the median, p99 and
// longest write-lock hold of a batch (BEGIN IMMEDIATE's return to COMMIT's), the purge's
// checkpoints between batches (lock not held), and the calls of a concurrent writer
// that refreshes a session every millisecond meanwhile: median, p99, p99.9 and longest
// (its wait for the lock included), how many took over 50 ms, how many took over 10 ms
// by 5 ms bucket, and for each call over 30 ms the batches that ran during it (a call
// that waited through several back-to-back batches was starved by its busy handler's
// retry schedule; one that waited through a single batch, by that batch).
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
	if v := os.Getenv("TOKTOK_PURGE_PRAGMAS"); v != "" {
		extraPragmas = strings.Split(v, ",")
		t.Cleanup(func() { extraPragmas = nil })
	}
	if os.Getenv("TOKTOK_PURGE_YIELD") == "0" {
		purgeYields = false
		t.Cleanup(func() { purgeYields = true })
	}
	s := openTest(t, work)
	if v := os.Getenv("TOKTOK_PURGE_CHECKPOINT"); v != "" { // a PASSIVE checkpoint every v
		every, err := time.ParseDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var cw sync.WaitGroup
		cw.Go(func() {
			var ds []time.Duration
			defer func() {
				slices.Sort(ds)
				if len(ds) > 0 {
					t.Logf("checkpoints: %d, median %v, p99 %v, longest %v", len(ds), ds[len(ds)/2], ds[len(ds)*99/100], ds[len(ds)-1])
				}
			}()
			for {
				select {
				case <-stop:
					return
				case <-time.After(every):
				}
				start := time.Now()
				var busy, log, done int
				if err := s.db.QueryRow("PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &done); err != nil {
					t.Errorf("checkpoint: %v", err)
					return
				}
				ds = append(ds, time.Since(start))
			}
		})
		t.Cleanup(func() { close(stop); cw.Wait() })
	}
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
		took  = map[string][]time.Duration{} // each batch's lock hold, by table
		order []string
		cps   []time.Duration // the purge's checkpoints (lock released)
	)
	purgeCheckpointDone = func(_, _ int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		cps = append(cps, d)
	}
	t.Cleanup(func() { purgeCheckpointDone = nil })
	purgeBatchDone = func(table string, n int, d time.Duration) {
		end := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if _, ok := took[table]; !ok {
			order = append(order, table)
		}
		took[table] = append(took[table], d)
		w.batch(end.Add(-d), d)
	}
	t.Cleanup(func() { purgeBatchDone = nil })
	measure := func(name string, call func() (int, error)) {
		t.Helper()
		mu.Lock()
		clear(took)
		order = nil
		cps = nil
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
				batches += fmt.Sprintf("\n\t%s: %d batches, median %v, p99 %v, p99.9 %v, longest %v", table, len(ds),
					r(ds[len(ds)/2]), r(ds[len(ds)*99/100]), r(ds[len(ds)*999/1000]), r(ds[len(ds)-1]))
			}
		}
		if len(cps) > 0 {
			ds := slices.Sorted(slices.Values(cps))
			batches += fmt.Sprintf("\n\tcheckpoints (write lock not held): %d, median %v, p99 %v, longest %v",
				len(ds), ds[len(ds)/2].Round(10*time.Microsecond), ds[len(ds)*99/100].Round(10*time.Microsecond), ds[len(ds)-1].Round(10*time.Microsecond))
		}
		var wal int64
		if fi, err := os.Stat(work + "-wal"); err == nil {
			wal = fi.Size()
		}
		t.Logf("%s: %d rows in %v (others %s, WAL file %.1f MB); writer: %s; %s", name, n, total.Round(time.Millisecond), others,
			float64(wal)/1e6, w.phase(), batches)
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
	calls   []span // each call of this phase
	batches []span // each purge batch's statement of this phase
	failed  error
	counter int64
}

// span is a call or a batch: when it started and how long it took.
type span struct {
	start time.Time
	took  time.Duration
}

func (s span) end() time.Time { return s.start.Add(s.took) }

// batch records a purge batch's statement for the tail analysis of phase.
func (w *purgeWriter) batch(start time.Time, took time.Duration) {
	w.mu.Lock()
	w.batches = append(w.batches, span{start, took})
	w.mu.Unlock()
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
			w.calls = append(w.calls, span{start, took})
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
	tail := w.tail()
	w.calls, w.batches = w.calls[:0], w.batches[:0]
	if len(ds) == 0 {
		return "no writes"
	}
	over := len(ds) - sort.Search(len(ds), func(i int) bool { return ds[i] > 50*time.Millisecond })
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	return fmt.Sprintf("%d writes, median %v, p99 %v, p99.9 %v, longest %v, %d over 50 ms%s",
		len(ds), r(ds[len(ds)/2]), r(ds[len(ds)*99/100]), r(ds[len(ds)*999/1000]), r(ds[len(ds)-1]), over, tail)
}

// tail describes each call of the phase over 30 ms: how long, and the purge batches
// that ran during it (how many, the longest, and the longest time the lock was free
// between two of them, or between the call's start and the first).
func (w *purgeWriter) tail() string {
	var b strings.Builder
	hist := map[int]int{} // calls over 10 ms by 5 ms bucket
	for _, c := range w.calls {
		if c.took > 10*time.Millisecond {
			hist[int(c.took/(5*time.Millisecond))*5]++
		}
		if c.took <= 30*time.Millisecond {
			continue
		}
		var n int
		var longest, gap time.Duration
		prev := c.start
		for _, bt := range w.batches {
			if bt.end().Before(c.start) || bt.start.After(c.end()) {
				continue
			}
			n++
			longest = max(longest, bt.took)
			gap = max(gap, bt.start.Sub(prev))
			prev = bt.end()
		}
		fmt.Fprintf(&b, "\n\t\ttail call %v: %d batches meanwhile, longest %v, longest free gap %v",
			c.took.Round(100*time.Microsecond), n, longest.Round(100*time.Microsecond), gap.Round(10*time.Microsecond))
	}
	keys := slices.Sorted(maps.Keys(hist))
	b.WriteString("\n\t\tcalls over 10 ms by 5 ms bucket:")
	for _, k := range keys {
		fmt.Fprintf(&b, " %d-%d:%d", k, k+5, hist[k])
	}
	return b.String()
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

// seedPurgeDB seeds the measured database (Seed), every account with the same stand-in
// hash, dated from purgeNow.
func seedPurgeDB(t *testing.T, path string, users int) error {
	return Seed(t.Context(), path, SeedOptions{
		Users: users, Now: purgeNow,
		PasswordHash: `password-hash-$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA`,
		Log:          t.Logf,
	})
}
