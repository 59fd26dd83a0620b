package config

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Store.URI != "" || c.Store.DataDir != "data" || c.Store.SQLitePath() != "data/toktok.db" {
		t.Errorf("store %+v (%s)", c.Store, c.Store.SQLitePath())
	}
	if c.Store.AuditRetention != 365*24*time.Hour || c.Store.AllowEmbedded || c.Store.Database != "" || c.Store.MongoDB() {
		t.Errorf("store %+v", c.Store)
	}
	if c.Store.PurgeInterval != 10*time.Minute {
		t.Errorf("purge interval %v, want 10m", c.Store.PurgeInterval)
	}
}

func TestLoadPurgeInterval(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want time.Duration // 0: refused
	}{
		{"flag", []string{"--purge-interval=30s"}, nil, 30 * time.Second},
		{"variable", nil, map[string]string{"TOKTOK_PURGE_INTERVAL": "1h"}, time.Hour},
		{"flag wins", []string{"--purge-interval=2m"}, map[string]string{"TOKTOK_PURGE_INTERVAL": "1h"}, 2 * time.Minute},
		{"small", []string{"--purge-interval=20ms"}, nil, 20 * time.Millisecond},
		{"zero", []string{"--purge-interval=0s"}, nil, 0},
		{"negative", []string{"--purge-interval=-1m"}, nil, 0},
		{"negative variable", nil, map[string]string{"TOKTOK_PURGE_INTERVAL": "-5s"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.vars)
			if tc.want == 0 {
				setting := "--purge-interval"
				if tc.vars != nil {
					setting = "TOKTOK_PURGE_INTERVAL"
				}
				wantProblems(t, err, setting+": must be positive")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.PurgeInterval != tc.want {
				t.Errorf("purge interval %v, want %v", c.Store.PurgeInterval, tc.want)
			}
		})
	}
	if err := (Store{PurgeInterval: 0, URI: "sqlite:/x.db"}).validate(); len(err) != 1 {
		t.Errorf("a zero purge interval: %v", err)
	}
}

func TestStoreURIs(t *testing.T) {
	for _, tc := range []struct{ uri, path string }{
		{"", "d/toktok.db"}, {"sqlite:/a.db", "/a.db"}, {"sqlite:a.db", "a.db"}, {"sqlite:d/a.db", "d/a.db"},
		// Refused by validate: a URL, another scheme, a bare path.
		{"sqlite:///a.db", ""}, {"sqlite://a.db", ""}, {"file:a.db", ""}, {"a.db", ""},
		{"mongodb://h/db", ""}, {"mongodb+srv://h/db", ""}, {"postgres://h/db", ""},
	} {
		if got := (Store{URI: tc.uri, DataDir: "d"}).SQLitePath(); got != tc.path {
			t.Errorf("SQLitePath(%q) = %q, want %q", tc.uri, got, tc.path)
		}
	}
	for uri, want := range map[string]bool{"mongodb://h/db": true, "mongodb+srv://h/db": true, "sqlite:/a.db": false, "": false} {
		if got := (Store{URI: uri}).MongoDB(); got != want {
			t.Errorf("MongoDB(%q) = %v", uri, got)
		}
	}
}

func TestLoadStore(t *testing.T) {
	c := mustLoad(t, []string{"--store=sqlite:/tmp/x.db"}, nil)
	if c.Store.SQLitePath() != "/tmp/x.db" {
		t.Errorf("%q", c.Store.SQLitePath())
	}
	c = mustLoad(t, []string{"--store=mongodb://db/x", "--store-database=auth", "--audit-retention=0s"}, nil)
	if !c.Store.MongoDB() || c.Store.Database != "auth" || c.Store.AuditRetention != 0 {
		t.Errorf("%+v", c.Store)
	}
	_, err := load(t, []string{"--store=postgres://db/toktok"}, nil)
	wantProblems(t, err, "--store")
	_, err = load(t, []string{"--audit-retention=-1h"}, nil)
	wantProblems(t, err, "--audit-retention")
}

// --store takes three forms, and says so when it gets something else; a SQLite file
// must be in a directory that exists (Load stats it, with every other problem).
func TestStoreValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a-dir.db"), 0o700); err != nil {
		t.Fatal(err)
	}
	const forms = "sqlite:PATH for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir"
	for _, tc := range []struct {
		uri  string
		want string // "" when accepted
	}{
		{"", ""},
		{"sqlite:" + filepath.Join(dir, "toktok.db"), ""},
		{"sqlite:toktok.db", ""}, // the working directory
		{"mongodb://db.example.com/toktok", ""},
		{"mongodb+srv://cluster.example.com/toktok", ""},
		{"toktok.db", `--store: "toktok.db" is not a store: write sqlite:toktok.db for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir`},
		{"/var/lib/toktok.db", `--store: "/var/lib/toktok.db" is not a store: write sqlite:/var/lib/toktok.db for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir`},
		{"file:toktok.db", `--store: "file:toktok.db" is not a store: write sqlite:toktok.db for a SQLite file`},
		{"sqlite:///var/lib/toktok.db", `--store: "sqlite:///var/lib/toktok.db" is not a store: sqlite: takes a path, not a URL; write sqlite:/var/lib/toktok.db`},
		{"sqlite://toktok.db", `--store: "sqlite://toktok.db" is not a store: sqlite: takes a path, not a URL; write sqlite:toktok.db`},
		{"postgres://db/toktok", `--store: "postgres://db/toktok" is not a store: write ` + forms},
		{"mongodb:/db", `--store: "mongodb:/db" is not a store: write ` + forms},
		// A mistyped scheme keeps its password out of the report.
		{"mongo://admin:s3cret@db/x", `--store: "mongo://(credentials not shown)@db/x" is not a store: write ` + forms},
		{"MONGODB://admin:s3cret@db/x", `--store: "MONGODB://(credentials not shown)@db/x" is not a store: write ` + forms},
		{"mongodb:/u:s3cret@db", `--store: "mongodb://(credentials not shown)@db" is not a store: write ` + forms},
		{"sqlite:", `--store: "sqlite:" names no file: write sqlite:PATH`},
		{"sqlite:a?b.db", `--store: "a?b.db": a SQLite path cannot contain '?'`},
		{"sqlite:" + filepath.Join(dir, "no", "such", "toktok.db"), "--store: the directory " + filepath.Join(dir, "no", "such") +
			" of sqlite:" + filepath.Join(dir, "no", "such", "toktok.db") + " does not exist (TokTok creates the file, not its directory)"},
		{"sqlite:" + filepath.Join(file, "toktok.db"), "--store: " + file + " in sqlite:" + filepath.Join(file, "toktok.db") + " is not a directory"},
		{"sqlite:" + filepath.Join(file, "x", "toktok.db"), "--store: " + filepath.Join(file, "x") + " in sqlite:" + filepath.Join(file, "x", "toktok.db") + " is not a directory"},
		{"sqlite:" + filepath.Join(dir, "a-dir.db"), "--store: sqlite:" + filepath.Join(dir, "a-dir.db") + " is a directory, not a SQLite file"},
	} {
		var got []string
		for _, e := range (Store{URI: tc.uri, DataDir: dir, PurgeInterval: time.Minute}).validate() {
			got = append(got, e.Error())
		}
		if tc.want == "" && len(got) != 0 || tc.want != "" && (len(got) != 1 || got[0] != tc.want) {
			t.Errorf("--store=%s:\n got %q\nwant %q", tc.uri, got, tc.want)
		}
	}
	// The data dir is created when needed, so only a file in its place is refused.
	for dataDir, want := range map[string]string{
		filepath.Join(dir, "new", "data"): "",
		dir:                               "",
		file:                              "--data-dir: " + file + " is not a directory",
	} {
		got := errText(errors.Join((Store{DataDir: dataDir, PurgeInterval: time.Minute}).validate()...))
		if got != want {
			t.Errorf("--data-dir=%s: %q, want %q", dataDir, got, want)
		}
	}
	// Through Load, with the variable's name.
	_, err := load(t, nil, map[string]string{"TOKTOK_STORE": "toktok.db"})
	wantProblems(t, err, `TOKTOK_STORE: "toktok.db" is not a store: write sqlite:toktok.db`)
}

func TestStoreProduction(t *testing.T) {
	for _, tc := range []struct {
		s    Store
		want int
	}{
		{Store{}, 1},
		{Store{AllowEmbedded: true}, 0},
		{Store{URI: "sqlite:/var/lib/toktok.db"}, 0},
		{Store{URI: "mongodb://db/toktok"}, 0},
	} {
		if got := tc.s.production(ModePreprod); len(got) != tc.want {
			t.Errorf("%+v: %v", tc.s, got)
		}
	}
}

// --unconfirmed-ttl: 7 days by default, 0 turns the deletion off, a negative one is
// refused.
func TestLoadUnconfirmedTTL(t *testing.T) {
	if c := mustLoad(t, nil, nil); c.Store.UnconfirmedTTL != 7*24*time.Hour {
		t.Errorf("default unconfirmed TTL %v, want 168h", c.Store.UnconfirmedTTL)
	}
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		want time.Duration // -1: refused
	}{
		{"flag", []string{"--unconfirmed-ttl=1h"}, nil, time.Hour},
		{"variable", nil, map[string]string{"TOKTOK_UNCONFIRMED_TTL": "720h"}, 720 * time.Hour},
		{"off", []string{"--unconfirmed-ttl=0s"}, nil, 0},
		{"negative", []string{"--unconfirmed-ttl=-1h"}, nil, -1},
		{"negative variable", nil, map[string]string{"TOKTOK_UNCONFIRMED_TTL": "-5s"}, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(t, tc.args, tc.vars)
			if tc.want < 0 {
				setting := "--unconfirmed-ttl"
				if tc.vars != nil {
					setting = "TOKTOK_UNCONFIRMED_TTL"
				}
				wantProblems(t, err, setting+": must not be negative")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Store.UnconfirmedTTL != tc.want {
				t.Errorf("unconfirmed TTL %v, want %v", c.Store.UnconfirmedTTL, tc.want)
			}
		})
	}
}
