package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// TestSeed: a seeded file opens as a store holding the accounts (by the email format,
// with the hash given) and the other tables in their proportions; the purge finds its
// share of them.
func TestSeed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seed.db")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	const hash = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	if err := Seed(t.Context(), path, SeedOptions{Users: 2000, Now: now, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.CountUsers(t.Context(), store.UserFilter{}); err != nil || n != 2000 {
		t.Fatalf("%d users (%v), want 2000", n, err)
	}
	u, err := s.UserByEmail(t.Context(), "seed-7@example.com")
	if err != nil || u.PasswordHash != hash || u.Role != store.RoleUser || !u.EmailConfirmed {
		t.Fatalf("seed-7 = %+v, %v", u, err)
	}
	var sessions, audit int
	if err := s.db.QueryRowContext(t.Context(), `SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM audit_events)`).Scan(&sessions, &audit); err != nil {
		t.Fatal(err)
	}
	if sessions != 6000 || audit != 4000 {
		t.Errorf("%d sessions and %d audit events, want 6000 and 4000", sessions, audit)
	}
	n, err := s.PurgeExpired(t.Context(), now)
	if err != nil || n == 0 {
		t.Errorf("purge of the seeded file: %d, %v", n, err)
	}
	if err := Seed(t.Context(), path+"2", SeedOptions{Users: 1, Now: now, PasswordHash: hash, EmailFormat: "%s@x"}); err == nil {
		t.Error("an email format without a number verb was accepted")
	}
}
