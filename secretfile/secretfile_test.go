package secretfile_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/toktok/toktok/secretfile"
)

func randomSecret() ([]byte, error) {
	b := make([]byte, 32)
	rand.Read(b)
	return b, nil
}

func TestLoadOrCreate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		setup       func(t *testing.T, path string)
		generate    func() ([]byte, error)
		wantCreated bool
		wantData    []byte // nil: whatever was generated
		wantErr     bool
	}{
		{
			name:        "creates missing file and parent dirs",
			generate:    func() ([]byte, error) { return []byte("fresh"), nil },
			wantCreated: true,
			wantData:    []byte("fresh"),
		},
		{
			name: "reads existing file without generating",
			setup: func(t *testing.T, path string) {
				mustWrite(t, path, []byte("existing"))
			},
			generate: func() ([]byte, error) {
				return nil, errors.New("generate must not be called")
			},
			wantData: []byte("existing"),
		},
		{
			name: "empty existing file is an error",
			setup: func(t *testing.T, path string) {
				mustWrite(t, path, nil)
			},
			generate: func() ([]byte, error) { return []byte("x"), nil },
			wantErr:  true,
		},
		{
			name:     "generator error is returned",
			generate: func() ([]byte, error) { return nil, errors.New("no entropy") },
			wantErr:  true,
		},
		{
			name:     "empty generated secret is an error",
			generate: func() ([]byte, error) { return nil, nil },
			wantErr:  true,
		},
		{
			name: "unreadable path is an error, not a regeneration",
			setup: func(t *testing.T, path string) {
				// A directory where the file should be: reading fails with
				// something other than "not exist".
				if err := os.MkdirAll(path, 0o700); err != nil {
					t.Fatal(err)
				}
			},
			generate: func() ([]byte, error) { return []byte("x"), nil },
			wantErr:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data", "keys")
			path := filepath.Join(dir, "secret")
			if tt.setup != nil {
				tt.setup(t, path)
			}
			data, created, err := secretfile.LoadOrCreate(path, tt.generate)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("LoadOrCreate() = %q, %v, nil; want error", data, created)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrCreate() error = %v", err)
			}
			if created != tt.wantCreated {
				t.Errorf("created = %v, want %v", created, tt.wantCreated)
			}
			if !bytes.Equal(data, tt.wantData) {
				t.Errorf("data = %q, want %q", data, tt.wantData)
			}
			if !tt.wantCreated {
				return
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if mode := fi.Mode().Perm(); mode != 0o600 {
				t.Errorf("file mode = %o, want 600", mode)
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if mode := di.Mode().Perm(); mode != 0o700 {
				t.Errorf("dir mode = %o, want 700", mode)
			}
			assertOnlyFile(t, dir, "secret")

			// A second call must return the stored secret, not a new one.
			again, created, err := secretfile.LoadOrCreate(path, randomSecret)
			if err != nil || created || !bytes.Equal(again, data) {
				t.Errorf("second LoadOrCreate() = %q, %v, %v; want %q, false, nil", again, created, err, data)
			}
		})
	}
}

// TestLoadOrCreateRace models several processes starting at once on a fresh
// data directory: each generates a different secret, and all must end up
// with the single one that was stored.
func TestLoadOrCreateRace(t *testing.T) {
	t.Parallel()
	const n = 8
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "secret")

	var (
		start   = make(chan struct{})
		wg      sync.WaitGroup
		results [n][]byte
		created [n]bool
		errs    [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			results[i], created[i], errs[i] = secretfile.LoadOrCreate(path, randomSecret)
		})
	}
	close(start)
	wg.Wait()

	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("goroutine %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if !bytes.Equal(results[i], results[0]) {
			t.Errorf("goroutine %d got %x, goroutine 0 got %x", i, results[i], results[0])
		}
	}
	if creators != 1 {
		t.Errorf("%d callers report created, want exactly 1", creators)
	}
	onDisk, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, results[0]) {
		t.Errorf("file holds %x, callers got %x", onDisk, results[0])
	}
	assertOnlyFile(t, dir, "secret")
}

func mustWrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// assertOnlyFile checks that no temporary copies of the secret were left
// behind next to it.
func assertOnlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != name {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %q, want only %q", names, name)
	}
}
