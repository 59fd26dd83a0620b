package config

import (
	"flag"
	"path/filepath"
	"strings"
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
}

func defaultStore() Store {
	return Store{DataDir: "data", AuditRetention: 365 * 24 * time.Hour, PurgeInterval: 10 * time.Minute}
}

// MongoDB reports whether URI names a MongoDB deployment.
func (s Store) MongoDB() bool {
	return strings.HasPrefix(s.URI, "mongodb://") || strings.HasPrefix(s.URI, "mongodb+srv://")
}

// SQLitePath returns the SQLite file to open, or "" when URI names another backend.
func (s Store) SQLitePath() string {
	switch {
	case s.URI == "":
		return filepath.Join(s.DataDir, "toktok.db")
	case strings.HasPrefix(s.URI, "sqlite://"):
		return strings.TrimPrefix(s.URI, "sqlite://")
	case strings.HasPrefix(s.URI, "sqlite:"):
		return strings.TrimPrefix(s.URI, "sqlite:")
	case strings.HasPrefix(s.URI, "file:"):
		return strings.TrimPrefix(s.URI, "file:")
	case !strings.Contains(s.URI, "://"):
		return s.URI
	}
	return ""
}

func (s *Store) register(fs *flag.FlagSet) {
	fs.StringVar(&s.URI, "store", s.URI, "store URI: empty for the SQLite file in --data-dir, sqlite:PATH, or mongodb://... / mongodb+srv://... (timeouts, pool size and TLS as URI options)")
	fs.StringVar(&s.Database, "store-database", s.Database, "MongoDB database when the URI names none (default toktok)")
	fs.StringVar(&s.DataDir, "data-dir", s.DataDir, "directory of the SQLite file and of keys generated in dev modes")
	fs.DurationVar(&s.AuditRetention, "audit-retention", s.AuditRetention, "how long audit events are kept (0 = forever)")
	fs.DurationVar(&s.PurgeInterval, "purge-interval", s.PurgeInterval, "how often expired sessions, links, counters and old mails, and audit events past --audit-retention, are deleted")
	fs.Var(yesNo{&s.AllowEmbedded}, "allow-embedded-store", "yes|no: let preprod/production run on the embedded SQLite store")
}

func (s Store) validate() []error {
	var p problems
	if s.AuditRetention < 0 {
		p.add("--audit-retention: must not be negative")
	}
	if s.PurgeInterval <= 0 {
		p.add("--purge-interval: must be positive")
	}
	if s.SQLitePath() == "" && !s.MongoDB() {
		p.add("--store: %q is not a store this build supports (empty, sqlite:PATH, mongodb:// or mongodb+srv://)", s.URI)
	}
	return p
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
