package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store/sqlite"
)

// TestSeed: the file holds the accounts under the format given, whose hash verifies the
// password given; an existing file is refused without -force.
func TestSeed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "toktok.db")
	args := []string{"-db", db, "-users", "300", "-password", "seeded passphrase 42", "-prefix", "bench",
		"-argon2-memory", "64", "-argon2-time", "1"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "seeded 300 accounts in ") {
		t.Errorf("output %q", out.String())
	}
	s, err := sqlite.Open(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.UserByEmail(t.Context(), "bench-299@example.com")
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	h := password.New(password.Params{Memory: 64, Time: 1, Threads: 1}, 1)
	if ok, rehash, err := h.Verify(t.Context(), "seeded passphrase 42", u.PasswordHash); !ok || rehash || err != nil {
		t.Errorf("the seeded hash: ok %v, rehash %v, %v", ok, rehash, err)
	}
	if err := run(context.Background(), args, &out, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "give -force") {
		t.Errorf("an existing file: %v", err)
	}
}
