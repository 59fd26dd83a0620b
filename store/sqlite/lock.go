package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ErrLocked is wrapped by the error of Open when another Store holds the database: another
// process, or another Open of this process whose Store is not closed yet.
var ErrLocked = errors.New("sqlite: database in use")

// One database, one TokTok. Open takes an exclusive lock on PATH.lock beside the database
// and keeps it until Close, so a second TokTok started on the same file (the same
// --data-dir, say) refuses to start instead of running beside the first: two processes on
// one SQLite file would not share their in-process state, and SQLite's own locking only
// makes them wait for each other. The lock is the kernel's (flock), so it ends with the
// process that holds it, crash included: a lock file left behind never blocks a start. The
// file itself stays, holding the last holder's pid, host and start time, which the refusal
// quotes. On systems without flock (see lock_other.go) there is no lock.

// lockSuffix names the lock file: PATH + lockSuffix.
const lockSuffix = ".lock"

// lockedError is the refusal of Open: path is the database, holder who has it.
type lockedError struct{ path, holder string }

func (e *lockedError) Error() string {
	return fmt.Sprintf("sqlite: %s is in use by another TokTok (%s): stop it, or give this one another --data-dir or --store",
		e.path, e.holder)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// holderInfo is what a lock holder writes into the lock file.
func holderInfo() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("pid %d\nhost %s\nsince %s\n", os.Getpid(), host, time.Now().UTC().Format(time.RFC3339))
}

// describeHolder turns the lock file's content into "pid 4242 on host x, since T". A
// holder that has not written it yet (it has just taken the lock) is unknown.
func describeHolder(content string) string {
	var pid, host, since string
	for _, line := range strings.Split(content, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "pid":
			pid = v
		case "host":
			host = v
		case "since":
			since = v
		}
	}
	if pid == "" {
		return "pid unknown: it is starting"
	}
	s := "pid " + pid
	if host != "" {
		s += " on host " + host
	}
	if since != "" {
		s += ", since " + since
	}
	return s
}
