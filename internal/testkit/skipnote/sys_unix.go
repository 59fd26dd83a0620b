//go:build linux || darwin || dragonfly || freebsd || illumos || netbsd || openbsd

package skipnote

import (
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// ignoreTTOU makes a background process's write to its terminal fail rather than stop it.
func ignoreTTOU() { signal.Ignore(syscall.SIGTTOU) }

const (
	nonBlock   = syscall.O_NONBLOCK // a terminal or pipe that nobody reads must not hang the binary
	noFollow   = syscall.O_NOFOLLOW // the state file lies in a shared directory
	appendFlag = syscall.O_APPEND
)

// lock takes an exclusive flock on f, waiting at most timeout. Closing f releases it.
func lock(f *os.File, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ownedByMe tells whether the file belongs to this process's user.
func ownedByMe(st os.FileInfo) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	return ok && int(sys.Uid) == os.Getuid()
}
