package sqlite

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The WAL file goes back to walSizeLimit once the log restarts after a checkpoint,
// instead of keeping the size a burst of writes grew it to.
func TestWALIsTruncatedToTheLimit(t *testing.T) {
	old := walSizeLimit
	walSizeLimit = 256 << 10
	t.Cleanup(func() { walSizeLimit = old })
	path := filepath.Join(t.TempDir(), "toktok.db")
	s := openTest(t, path)
	ctx := t.Context()

	// A burst of writes that the log cannot checkpoint meanwhile: one transaction.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 400 {
		u := testUser(fmt.Sprintf("w%04d", i))
		u.Data = []byte(`{"pad":"` + strings.Repeat("x", 8000) + `"}`)
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (`+userInsertCols+`) VALUES (?, ?, 0, NULL, 'h', 'USER', NULL, NULL, NULL, 'en', 0, ?, 0, 0, 0, NULL, 0)`,
			u.ID, u.Email, u.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	grown := walSize(t, path)
	if grown <= 2*walSizeLimit {
		t.Fatalf("the WAL grew to %d bytes only; the test needs more than %d", grown, 2*walSizeLimit)
	}
	// A checkpoint copies the log into the database; the next write restarts the log
	// and truncates the file.
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, testUser("after")); err != nil {
		t.Fatal(err)
	}
	if got := walSize(t, path); got > walSizeLimit {
		t.Errorf("WAL %d bytes after the restart (it had grown to %d), want at most %d", got, grown, walSizeLimit)
	}
}

func walSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
