package e2e

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
)

// The store's settings: --purge-interval (how often the purge loop runs) and
// --audit-retention (what it removes from the audit log).

// settingsPurgeRound waits until the purge loop has deleted a session seeded already
// expired by more than a day at the test clock's now. The round that deletes it read its
// now after the clock last moved, so a second call returns only once such a round has run
// to its end, audit purge included.
func settingsPurgeRound(t *testing.T, e *testEnv, userID string, n int) {
	t.Helper()
	st := e.app.Support()
	dead := e.clock.Now().Add(-25 * time.Hour)
	id := fmt.Sprintf("purge-probe-%d", n)
	if err := st.SeedSession(t.Context(), store.Session{
		ID: id, UserID: userID, CreatedAt: dead.Add(-time.Hour), LastUsedAt: dead, RotatedAt: dead.Add(-time.Hour),
		IdleExpiresAt: dead, AbsoluteExpiresAt: dead,
	}); err != nil {
		t.Fatalf("seed session: %v", err)
	}
	var err error
	settingsUntil(t, func() bool {
		_, err = st.Session(t.Context(), id)
		return errors.Is(err, store.ErrNotFound)
	}, func() string { return fmt.Sprintf("the expired session %s was not purged (%v)", id, err) })
}

// settingsAuditTypes lists the types of the user's audit events, newest first.
func settingsAuditTypes(t *testing.T, e *testEnv, userID string) []string {
	t.Helper()
	evs, err := e.app.Support().Audit(t.Context(), userID, 100)
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	return types
}

// TestSettingsPurgeAndAuditRetention: with --purge-interval=20ms the purge loop runs while
// the test waits, and removes the audit events older than --audit-retention by the app's
// clock, keeping recent ones; with --audit-retention=0 it keeps every event, even two
// years old (past the default retention too).
func TestSettingsPurgeAndAuditRetention(t *testing.T) {
	for _, tc := range []struct {
		retention time.Duration
		oldKept   bool
	}{
		{24 * time.Hour, false},
		{0, true},
	} {
		t.Run(fmt.Sprintf("retention %v", tc.retention), func(t *testing.T) {
			cfg := settingsPlain(t)
			cfg.Store.PurgeInterval, cfg.Store.AuditRetention = 20*time.Millisecond, tc.retention
			cfg.Store.UnconfirmedTTL = 0 // ann stays unconfirmed two years: kept
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			ann := e.register("ann@example.com", strongPassword) // "register", now
			e.clock.Advance(2 * 365 * 24 * time.Hour)
			e.login("ann@example.com", strongPassword) // "login", two years later
			if !tc.oldKept {
				settingsUntil(t, func() bool { return !slices.Contains(settingsAuditTypes(t, e, ann.User.ID), "register") },
					func() string {
						return fmt.Sprintf("the two-year-old event is still there: %q", settingsAuditTypes(t, e, ann.User.ID))
					})
			}
			settingsPurgeRound(t, e, ann.User.ID, 1)
			settingsPurgeRound(t, e, ann.User.ID, 2)
			want := []string{"login"}
			if tc.oldKept {
				want = []string{"login", "register"}
			}
			if got := settingsAuditTypes(t, e, ann.User.ID); !slices.Equal(got, want) {
				t.Errorf("audit events after two full purge rounds: %q, want %q", got, want)
			}
		})
	}
}

// settingsExists reports whether path exists, failing the test on other errors.
func settingsExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestSettingsDataDirAndStore: with no --store, --data-dir holds the SQLite file and the
// keys generated in development: a second instance on the same directory is refused while
// the first runs (the store's lock names it), and once the first stopped, an instance on
// the directory finds its accounts and keys; one on another directory neither.
// --store=sqlite:PATH puts the database at PATH, out of the data dir, where an instance
// with another data dir finds its accounts. (SQLite even when the suite runs on MongoDB:
// the SQLite store is what is tested.)
func TestSettingsDataDirAndStore(t *testing.T) {
	base := settingsPlain(t)
	base.Store.URI, base.Store.Database = "", ""
	withDir := func(c config.Config) config.Config {
		c.Store.DataDir = t.TempDir()
		return c
	}
	cfg := withDir(base)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, stopA := launch(t, cfg, newTestClock(), app.Options{}, nil)
	ann := a.register("ann@example.com", strongPassword)
	for _, f := range []string{"toktok.db", "jwt-es256.pem", "refresh-secret"} {
		if !settingsExists(t, filepath.Join(cfg.Store.DataDir, f)) {
			t.Errorf("--data-dir has no %s", f)
		}
	}
	if second, err := app.New(t.Context(), cfg, app.Options{}); err == nil {
		second.Close()
		t.Error("a second instance started on a data dir in use")
	} else if !errors.Is(err, sqlite.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("a second instance on the data dir: %v, want sqlite.ErrLocked naming pid %d", err, os.Getpid())
	}
	stopA()
	same := settingsStart(t, cfg, newTestClock(), app.Options{})
	same.mustData(same.meReq(ann.AccessToken), nil)
	same.refresh(ann.RefreshToken)
	other := settingsStart(t, withDir(base), newTestClock(), app.Options{})
	other.wantCode(other.meReq(ann.AccessToken), "UNAUTHENTICATED")
	other.wantCode(other.loginReq("ann@example.com", strongPassword), "INVALID_CREDENTIALS")

	path := filepath.Join(t.TempDir(), "elsewhere.db")
	placed := withDir(base)
	placed.Store.URI = "sqlite:" + path
	p, stopP := launch(t, placed, newTestClock(), app.Options{}, nil)
	p.register("bob@example.com", strongPassword)
	if !settingsExists(t, path) || settingsExists(t, filepath.Join(placed.Store.DataDir, "toktok.db")) {
		t.Errorf("--store=sqlite:%s: database at the path %v, in the data dir %v", path,
			settingsExists(t, path), settingsExists(t, filepath.Join(placed.Store.DataDir, "toktok.db")))
	}
	stopP()
	again := withDir(base)
	again.Store.URI = placed.Store.URI
	q := settingsStart(t, again, newTestClock(), app.Options{})
	q.login("bob@example.com", strongPassword)
}

// TestSettingsStoreDatabase: --store names a MongoDB server and --store-database the
// database on it: instances on one database share accounts, an instance on another
// database of the same server does not see them. It starts the suite's MongoDB-wire test
// server (FerretDB in this process unless TOKTOK_TEST_MONGODB_URI names one).
func TestSettingsStoreDatabase(t *testing.T) {
	srv := testMongo(t)
	uri, db := srv.NewDatabase(t)
	_, otherDB := srv.NewDatabase(t)
	start := func(db string) *testEnv {
		cfg := settingsPlain(t)
		cfg.Store.URI, cfg.Store.Database = uri, db
		return settingsStart(t, cfg, newTestClock(), app.Options{})
	}
	start(db).register("ann@example.com", strongPassword)
	start(db).login("ann@example.com", strongPassword)
	other := start(otherDB)
	other.wantCode(other.loginReq("ann@example.com", strongPassword), "INVALID_CREDENTIALS")
	other.register("ann@example.com", strongPassword) // the address is free there
}
