//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// A second Open of a database that a Store holds, in this process as in another, is
// refused with ErrLocked and a message naming the database and the holder; Close gives
// the database back.
func TestOpenLocksTheDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "toktok.db")
	before := time.Now().UTC().Truncate(time.Second)
	first, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.CreateUser(t.Context(), testUser("u1")); err != nil {
		t.Fatal(err)
	}

	second, err := Open(t.Context(), path)
	if err == nil {
		second.Close()
		first.Close()
		t.Fatal("a second Open of a database in use succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Errorf("second Open: %v, want ErrLocked", err)
	}
	host, _ := os.Hostname()
	want := regexp.MustCompile(`^sqlite: ` + regexp.QuoteMeta(path) + ` is in use by another TokTok \(pid ` +
		fmt.Sprint(os.Getpid()) + ` on host ` + regexp.QuoteMeta(host) + `, since (\S+)\): stop it, or give this one another --data-dir or --store$`)
	m := want.FindStringSubmatch(err.Error())
	if m == nil {
		t.Fatalf("second Open: %q does not match %s", err, want)
	}
	since, perr := time.Parse(time.RFC3339, m[1])
	if perr != nil || since.Location() != time.UTC || since.Before(before) || since.After(time.Now()) {
		t.Errorf("since %q: not the UTC RFC 3339 time of the first Open (%v)", m[1], perr)
	}
	// The refused Open left the holder's lines and the database alone.
	if b, err := os.ReadFile(path + ".lock"); err != nil || !strings.Contains(string(b), fmt.Sprintf("pid %d\n", os.Getpid())) {
		t.Errorf("lock file after a refused Open: %q, %v", b, err)
	}
	if _, err := first.UserByID(t.Context(), "u1"); err != nil {
		t.Errorf("the first Store after a refused Open: %v", err)
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again := openTest(t, path)
	if _, err := again.UserByID(t.Context(), "u1"); err != nil {
		t.Errorf("Open after Close: %v", err)
	}
}

// The lock file is private, and a lock file left by a holder that is gone (a crash leaves
// it; the kernel's lock went with the process) does not block.
func TestLockFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "toktok.db")
	stale := "pid 1\nhost elsewhere\nsince 2020-01-01T00:00:00Z\n"
	if err := os.WriteFile(path+".lock", []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	openTest(t, path)
	b, err := os.ReadFile(path + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "elsewhere") || !strings.HasPrefix(string(b), fmt.Sprintf("pid %d\n", os.Getpid())) {
		t.Errorf("lock file %q: the stale holder was not replaced", b)
	}

	fresh := filepath.Join(dir, "fresh.db")
	openTest(t, fresh)
	fi, err := os.Stat(fresh + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("lock file mode %v, want 0600", perm)
	}
}

// A failed Open (here: a file that is not a database) gives the lock back.
func TestFailedOpenReleasesTheLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "toktok.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not sqlite ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		s, err := Open(t.Context(), path)
		if err == nil {
			s.Close()
			t.Fatal("Open of a file that is not a database succeeded")
		}
		if errors.Is(err, ErrLocked) {
			t.Fatalf("Open after a failed Open: %v", err)
		}
	}
}

func TestDescribeHolder(t *testing.T) {
	for in, want := range map[string]string{
		"pid 42\nhost h\nsince 2026-12-05T08:00:00Z\n": "pid 42 on host h, since 2026-12-05T08:00:00Z",
		"pid 42\n":        "pid 42",
		"":                "pid unknown: it is starting",
		"garbage\nmore\n": "pid unknown: it is starting",
	} {
		if got := describeHolder(in); got != want {
			t.Errorf("describeHolder(%q) = %q, want %q", in, got, want)
		}
	}
}
