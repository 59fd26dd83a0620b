//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// lockDatabase takes the exclusive lock of the database at path, without waiting, and
// writes this process into the lock file. The returned file holds the lock until it is
// closed. An open file description of its own holds its own flock, so a second Open in
// this process conflicts with the first as another process would.
func lockDatabase(path string) (*os.File, error) {
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		content, _ := io.ReadAll(io.LimitReader(f, 4096))
		_ = f.Close()
		return nil, &lockedError{path: path, holder: describeHolder(string(content))}
	}
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("sqlite: open: lock %s: %w", f.Name(), err)
	}
	// The previous holder's lines are stale once the lock is ours: replace them. A
	// failure here costs only the holder's description, not the lock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(holderInfo()), 0)
	}
	return f, nil
}
