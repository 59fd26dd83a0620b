// Package secretfile persists generated secrets (signing keys, MAC keys) for
// development and single-node deployments, where nobody provisions them by
// hand but they must survive restarts: a key that changed on every start
// would invalidate every token and session issued before it.
//
// The hard part is the first start. Several processes (or goroutines) may
// share a data directory and start together; if each generated and wrote its
// own secret, they would disagree on the key and reject each other's tokens,
// or a reader could see a half-written file. LoadOrCreate therefore publishes
// a fully written, fsynced file under its final name with a single atomic
// os.Link, which fails when the name already exists; the loser of the race
// discards its own secret and adopts the winner's.
package secretfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreate returns the contents of the file at path, creating it first if
// it does not exist.
//
// If path exists, its contents are returned with created == false; an empty
// file is an error, since no valid secret is empty and silently using one
// would be worse than failing. Otherwise generate is called, missing parent
// directories are created with mode 0700, and the secret is written to a
// temporary file (mode 0600) in the same directory, fsynced, and linked to
// path. If another caller linked first, its file is read and returned with
// created == false, so every caller sharing path observes the same bytes.
// created is true only for the caller whose secret was stored.
//
// The filesystem must support hard links (every local Linux filesystem does).
// Existing files are not checked for permissions: mounted secrets (for
// example Kubernetes secret volumes) are often 0644 and still legitimate.
func LoadOrCreate(path string, generate func() ([]byte, error)) (data []byte, created bool, err error) {
	data, err = readExisting(path)
	if err == nil {
		return data, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}

	secret, err := generate()
	if err != nil {
		return nil, false, fmt.Errorf("secretfile: generating %s: %w", path, err)
	}
	if len(secret) == 0 {
		return nil, false, fmt.Errorf("secretfile: generator for %s returned no data", path)
	}

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("secretfile: %w", err)
	}
	tmp, err := writeTemp(dir, filepath.Base(path), secret)
	if err != nil {
		return nil, false, err
	}
	// The temporary name is only a staging area: after the link (or a failed
	// one) the secret must exist under path alone, never under a stray name.
	linkErr := os.Link(tmp, path)
	if rmErr := os.Remove(tmp); rmErr != nil && linkErr == nil {
		return nil, false, fmt.Errorf("secretfile: %w", rmErr)
	}
	if linkErr != nil {
		if errors.Is(linkErr, fs.ErrExist) {
			// Lost the race: the winner's file is complete (it was fsynced
			// before being linked), so adopting it is safe.
			data, err := readExisting(path)
			if err != nil {
				return nil, false, err
			}
			return data, false, nil
		}
		return nil, false, fmt.Errorf("secretfile: %w", linkErr)
	}
	// Without syncing the directory, a crash could lose the new name even
	// though the data is on disk, and the next start would mint a different
	// secret than the one tokens were already signed with.
	if err := syncDir(dir); err != nil {
		return nil, false, err
	}
	return secret, true, nil
}

func readExisting(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secretfile: %w", err)
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("secretfile: %s is empty", path)
	}
	return data, nil
}

// writeTemp writes data to a new file in dir and returns its name. The file
// is created with mode 0600 by os.CreateTemp, so the secret is never readable
// by others, not even briefly.
func writeTemp(dir, base string, data []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("secretfile: %w", err)
	}
	name = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return "", fmt.Errorf("secretfile: %w", err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("secretfile: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("secretfile: %w", err)
	}
	return name, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("secretfile: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("secretfile: syncing %s: %w", dir, err)
	}
	return nil
}
