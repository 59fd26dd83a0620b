package config

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Store selects and locates the backend.
type Store struct {
	URI           string // "" = SQLite file in DataDir; sqlite:PATH; mongodb:// or mongodb+srv://
	Database      string // MongoDB database when the URI names none (default "toktok")
	DataDir       string
	AllowEmbedded bool // preprod/production may use SQLite only when this is set
	// AuditRetention is how long audit events are kept; 0 keeps them forever.
	AuditRetention time.Duration
	// PurgeInterval is how often expired sessions, links and counters, old sent or failed
	// mails, and audit events past AuditRetention are removed.
	PurgeInterval time.Duration
	// UnconfirmedTTL is how long an account whose address was never confirmed is kept
	// after its creation; the purge deletes it past that. 0 keeps it forever.
	UnconfirmedTTL time.Duration
}

func defaultStore() Store {
	return Store{DataDir: "data", AuditRetention: 365 * 24 * time.Hour, PurgeInterval: 10 * time.Minute,
		UnconfirmedTTL: 7 * 24 * time.Hour}
}

// MongoDB reports whether URI names a MongoDB deployment.
func (s Store) MongoDB() bool {
	return strings.HasPrefix(s.URI, "mongodb://") || strings.HasPrefix(s.URI, "mongodb+srv://")
}

// SQLitePath returns the SQLite file to open: the one in DataDir when URI is empty, PATH
// for sqlite:PATH, else "" (MongoDB, or a URI that validate refuses).
func (s Store) SQLitePath() string {
	if s.URI == "" {
		return filepath.Join(s.DataDir, "toktok.db")
	}
	path, _ := sqliteURI(s.URI)
	return path
}

// sqliteURI returns the PATH of sqlite:PATH; ok is false for anything else, sqlite://
// included (see notAStore).
func sqliteURI(uri string) (path string, ok bool) {
	if !strings.HasPrefix(uri, "sqlite:") || strings.HasPrefix(uri, "sqlite://") {
		return "", false
	}
	return strings.TrimPrefix(uri, "sqlite:"), true
}

func (s *Store) register(fs *flag.FlagSet) {
	fs.StringVar(&s.URI, "store", s.URI, "store URI: empty for the SQLite file in --data-dir, sqlite:PATH, or mongodb://... / mongodb+srv://... (timeouts, pool size and TLS as URI options)")
	fs.StringVar(&s.Database, "store-database", s.Database, "MongoDB database when the URI names none (default toktok)")
	fs.StringVar(&s.DataDir, "data-dir", s.DataDir, "directory of the SQLite file and of keys generated in dev modes")
	fs.DurationVar(&s.AuditRetention, "audit-retention", s.AuditRetention, "how long audit events are kept (0 = forever)")
	fs.DurationVar(&s.UnconfirmedTTL, "unconfirmed-ttl", s.UnconfirmedTTL, "how long an account whose address was never confirmed is kept before the purge deletes it (0 = forever)")
	fs.DurationVar(&s.PurgeInterval, "purge-interval", s.PurgeInterval, "how often expired sessions, links, counters and old mails, and audit events past --audit-retention, are deleted")
	fs.Var(yesNo{&s.AllowEmbedded}, "allow-embedded-store", "yes|no: let preprod/production run on the embedded SQLite store")
}

// validate checks the store settings. It is the one rule of this package that looks at
// the file system: a SQLite file named by --store must be in a directory that exists (the
// store creates the file, never its directory, so a mistyped path is refused here, with
// the other problems, rather than grown into a tree), and --data-dir, created when needed,
// must not be a file. It only stats; it opens nothing.
func (s Store) validate() []error {
	var p problems
	if s.AuditRetention < 0 {
		p.add("--audit-retention: must not be negative")
	}
	if s.UnconfirmedTTL < 0 {
		p.add("--unconfirmed-ttl: must not be negative")
	}
	if s.PurgeInterval <= 0 {
		p.add("--purge-interval: must be positive")
	}
	path, sqlite := sqliteURI(s.URI)
	switch {
	case s.URI == "":
		if fi, err := os.Stat(s.DataDir); err == nil && !fi.IsDir() {
			p.add("--data-dir: %s is not a directory", s.DataDir)
		}
	case s.MongoDB():
	case sqlite:
		if err := checkSQLitePath(path); err != "" {
			p.add("--store: %s", err)
		}
	default:
		p.add("--store: %s", notAStore(s.URI))
	}
	return p
}

// storeForms is what --store accepts, for the messages that refuse a value.
const storeForms = "sqlite:PATH for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir"

// notAStore explains a --store value that names no store, suggesting the sqlite: form
// when the value looks like a file.
func notAStore(uri string) string {
	switch {
	case strings.HasPrefix(uri, "sqlite://"):
		// Not a URL: sqlite://data/x.db would read as host "data", and sqlite:///x.db as
		// a path only by a convention that sqlite:PATH does not need.
		path := strings.TrimPrefix(uri, "sqlite://")
		return fmt.Sprintf("%q is not a store: sqlite: takes a path, not a URL; write sqlite:%s", uri, path)
	case strings.HasPrefix(uri, "file:"):
		return fmt.Sprintf("%q is not a store: write sqlite:%s for a SQLite file", uri, strings.TrimPrefix(uri, "file:"))
	case !strings.Contains(uri, ":") || filepath.IsAbs(uri):
		return fmt.Sprintf("%q is not a store: write sqlite:%s for a SQLite file, mongodb://HOST/DB for MongoDB, or leave it empty for the file in --data-dir", uri, uri)
	}
	return fmt.Sprintf("%q is not a store: write %s", withoutCredentials(uri), storeForms)
}

// withoutCredentials hides what a URI-like value may carry between its scheme and an @:
// a mistyped scheme (mongo://user:pass@host) must not put the password in the report.
func withoutCredentials(uri string) string {
	at := strings.LastIndex(uri, "@")
	colon := strings.Index(uri, ":")
	if at < 0 || colon < 0 || colon > at {
		return uri
	}
	return uri[:colon+1] + "//(credentials not shown)@" + uri[at+1:]
}

// checkSQLitePath returns what is wrong with a SQLite file path, "" when nothing is.
func checkSQLitePath(path string) string {
	if path == "" {
		return `"sqlite:" names no file: write sqlite:PATH`
	}
	if strings.ContainsRune(path, '?') {
		return fmt.Sprintf("%q: a SQLite path cannot contain '?'", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("the directory %s of sqlite:%s does not exist (TokTok creates the file, not its directory)", dir, path)
	case errors.Is(err, syscall.ENOTDIR) || err == nil && !fi.IsDir():
		return fmt.Sprintf("%s in sqlite:%s is not a directory", dir, path)
	case err != nil:
		return fmt.Sprintf("sqlite:%s: %v", path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Sprintf("sqlite:%s is a directory, not a SQLite file", path)
	}
	return ""
}

// production refuses the default SQLite file unless asked for: several instances on one
// file, or on one file each, would not share accounts, sessions or rate limits.
func (s Store) production(mode Mode) []error {
	var p problems
	if s.URI == "" && !s.AllowEmbedded {
		p.add("--store: required in %s mode (or --allow-embedded-store=yes for a single-instance SQLite deployment)", mode)
	}
	return p
}
