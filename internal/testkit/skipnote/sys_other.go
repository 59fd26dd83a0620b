//go:build !(linux || darwin || dragonfly || freebsd || illumos || netbsd || openbsd)

package skipnote

import (
	"errors"
	"os"
	"time"
)

const (
	nonBlock   = 0
	noFollow   = 0
	appendFlag = 0
)

// lock cannot lock here: binaries do not share what they printed.
func lock(*os.File, time.Duration) error { return errors.New("skipnote: no file locks on this system") }

func ownedByMe(os.FileInfo) bool { return false }

// ignoreTTOU: no job-control signals here.
func ignoreTTOU() {}
