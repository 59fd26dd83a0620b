// Package skipnote makes visible the tests that skipped because a tool they need is
// missing (a browser, Node.js, GraphiQL's files): tools that the tests do not start
// themselves. Only tests import it.
//
// Without -v, "go test ./..." shows nothing of a passing package but its "ok" line: the
// go command buffers a test binary's output and drops it when the package passes, so a
// skip, and what would enable the test, stays unseen. A test calls Skip instead of
// t.Skip, and the package's TestMain returns Main(m); after the tests, when something was
// skipped and -v is off, Main writes one line to where the go command itself writes its
// errors, past the buffer:
//
//	note: 14 tests skipped in e2e: no chromium, chromium-browser or google-chrome in PATH (Debian: sudo apt-get install chromium); go test -v shows each, ...
//
// When the parent process is the go command (its /proc/<ppid>/comm or exe says "go"), that
// is the go command's standard error, reopened through /proc/<ppid>/fd/2 if it is a
// terminal, a pipe, or a file that the shell opened for appending (">>"; a file written
// at the go command's own offset would overwrite the line); else the binary's own
// standard error, that is the go command's buffer, where the note is lost (the user sent
// the output to a file, not to the terminal). A binary whose parent is something else
// (run by hand, or through go test -exec) writes to its own standard error; without
// /proc, it tries /dev/tty first (ignoring SIGTTOU, so that a background run is never
// stopped by the write). Test binaries of one
// "go test" run share a small state file in os.TempDir(), named after the go command's
// pid and start time and locked with flock while used, that lists the reasons already
// printed: each reason is printed once per run, by the first package to finish that
// skipped for it. Nothing here fails a test: a note that cannot be written is dropped.
//
// A cached package result (go test prints "(cached)") runs no binary, so prints no note;
// and the go command does not notice that a tool was installed, hence "-count=1" in the
// note.
//
// Under CI (the environment variable CI set), Skip fails the test instead: CI must run
// every test.
package skipnote

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CIEnv is the environment variable under which Skip fails the test instead.
const CIEnv = "CI"

// skip is one reason that tests were skipped for, and how many.
type skip struct {
	reason, enable string
	tests          int
}

// key identifies a reason in the state file: one line, no tab inside either part.
func (s skip) key() string { return s.reason + "\t" + s.enable }

var (
	mu      sync.Mutex
	skipped []skip // in the order of their first Skip

	mainRuns atomic.Bool // Main is running this binary's tests
)

// Skip skips t because a tool it needs is missing: reason says what is missing ("no node
// in PATH"), enable how to get it ("Debian 13: sudo apt-get install nodejs"). Both are
// printed in the note, and in t's skip message. Under CI it fails t instead. Call it
// from the test's goroutine, as t.Skip.
func Skip(t testing.TB, reason, enable string) {
	t.Helper()
	reason, enable = oneLine(reason), oneLine(enable)
	if os.Getenv(CIEnv) != "" {
		t.Fatalf("%s (%s): %s is set, and CI must run this test rather than skip it", reason, enable, CIEnv)
	}
	record(reason, enable)
	if !mainRuns.Load() {
		t.Log("skipnote: this package's TestMain does not return skipnote.Main(m), so go test without -v does not tell that this test skipped")
	}
	t.Skipf("%s (%s)", reason, enable)
}

// oneLine replaces line breaks and tabs with spaces.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' }), " ")
}

func record(reason, enable string) {
	mu.Lock()
	defer mu.Unlock()
	for i := range skipped {
		if skipped[i].reason == reason && skipped[i].enable == enable {
			skipped[i].tests++
			return
		}
	}
	skipped = append(skipped, skip{reason, enable, 1})
}

// Main runs the tests and then, when something was skipped by Skip and -v is off, writes
// the note; it returns m.Run's exit code, whatever happened to the note. Use it as
//
//	func TestMain(m *testing.M) { os.Exit(skipnote.Main(m)) }
//
// or call it in place of m.Run in a TestMain that does more.
func Main(m *testing.M) int {
	mainRuns.Store(true)
	code := m.Run()
	mainRuns.Store(false)
	if !testing.Verbose() { // -v and -json show each skip already
		notify()
	}
	return code
}

// notify writes the note for this binary's skips, if any. It never panics.
func notify() {
	defer func() { _ = recover() }()
	mu.Lock()
	s := append([]skip(nil), skipped...)
	mu.Unlock()
	if len(s) == 0 {
		return
	}
	_ = locate().report(packageName(), s)
}

// line is the note for the skips s in package pkg.
func line(pkg string, s []skip) string {
	var b strings.Builder
	b.WriteString("note: ")
	for i, sk := range s {
		if i > 0 {
			b.WriteString("; ")
		}
		switch {
		case i > 0:
			fmt.Fprintf(&b, "%d skipped", sk.tests)
		case sk.tests == 1:
			fmt.Fprintf(&b, "1 test skipped in %s", pkg)
		default:
			fmt.Fprintf(&b, "%d tests skipped in %s", sk.tests, pkg)
		}
		fmt.Fprintf(&b, ": %s (%s)", sk.reason, sk.enable)
	}
	b.WriteString("; go test -v shows each, -count=1 reruns them after installing (the test cache does not notice a new tool)\n")
	return b.String()
}

// packageName is the test binary's package, relative to its module: "e2e", "web".
func packageName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && strings.HasSuffix(bi.Path, ".test") {
		p := strings.TrimSuffix(bi.Path, ".test")
		if bi.Main.Path != "" {
			if rel, ok := strings.CutPrefix(p, bi.Main.Path+"/"); ok {
				return rel
			}
		}
		return path.Base(p)
	}
	return strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
}

// target is where a note goes: writers to try in order, and the run whose binaries share
// the state file ("" for none).
type target struct {
	session string
	outputs []func() (io.WriteCloser, error)
}

// locate finds the note's target from the parent process.
func locate() target {
	ppid := os.Getppid()
	switch isGo, known := isGoCommand(ppid); {
	case isGo:
		// The go command buffers this binary's output: write to its own stderr. Where
		// that is unsuitable (a file it writes at its own offset) the note is dropped
		// into the buffer rather than sent to the terminal: the user asked for the
		// output elsewhere.
		return target{
			session: strconv.Itoa(ppid) + "-" + startTime(ppid),
			outputs: []func() (io.WriteCloser, error){
				func() (io.WriteCloser, error) { return openParentStderr(ppid) },
				openStderr,
			},
		}
	case known:
		// Run by something else (a shell, a test runner): it gets the binary's output.
		return target{outputs: []func() (io.WriteCloser, error){openStderr}}
	default:
		// No /proc: perhaps the go command, perhaps not.
		return target{session: strconv.Itoa(ppid), outputs: []func() (io.WriteCloser, error){openTTY, openStderr}}
	}
}

// isGoCommand tells whether process pid is the go command, and whether that could be
// found out (not without /proc).
func isGoCommand(pid int) (isGo, known bool) {
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return false, false
	}
	if strings.TrimSpace(string(comm)) == "go" {
		return true, true
	}
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && filepath.Base(exe) == "go", true
}

// startTime is field 22 of /proc/pid/stat, the process's start in clock ticks after
// boot: with the pid, it names one process even when the pid is reused. "" if unknown.
func startTime(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name, field 2, is in parentheses and may hold spaces: count after it.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return ""
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

var errUnsuitable = errors.New("skipnote: not a terminal, a pipe or a file opened for appending")

// openParentStderr opens the standard error of process pid anew, when writing to it
// there is safe: a terminal or a pipe, or a regular file that pid appends to (writing at
// the end of a file that pid writes at its own offset would be overwritten by it).
func openParentStderr(pid int) (io.WriteCloser, error) {
	name := fmt.Sprintf("/proc/%d/fd/2", pid)
	st, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	switch mode := st.Mode(); {
	case mode&os.ModeCharDevice != 0, mode&os.ModeNamedPipe != 0:
	case mode.IsRegular() && appends(pid, 2):
	default:
		return nil, errUnsuitable
	}
	return os.OpenFile(name, os.O_WRONLY|os.O_APPEND|nonBlock, 0)
}

// appends tells whether pid's file descriptor fd was opened with O_APPEND.
func appends(pid, fd int) bool {
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return false
	}
	for l := range strings.Lines(string(info)) {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&appendFlag != 0
		}
	}
	return false
}

// openTTY opens the controlling terminal. A background job's write to it would stop the
// whole process group (SIGTTOU, with stty tostop), the go command included: the signal
// is ignored from here on, so such a write fails instead (EIO) and the note is dropped.
func openTTY() (io.WriteCloser, error) {
	ignoreTTOU()
	return os.OpenFile("/dev/tty", os.O_WRONLY|nonBlock, 0)
}

func openStderr() (io.WriteCloser, error) { return nopCloser{os.Stderr}, nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// writeTimeout bounds a write to a terminal or pipe that nobody reads.
const writeTimeout = 2 * time.Second

// write writes line to the first output that takes it.
func (tg target) write(line string) error {
	err := errors.New("skipnote: no output")
	for _, open := range tg.outputs {
		var w io.WriteCloser
		if w, err = open(); err != nil {
			continue
		}
		if d, ok := w.(interface{ SetWriteDeadline(time.Time) error }); ok {
			_ = d.SetWriteDeadline(time.Now().Add(writeTimeout))
		}
		_, err = io.WriteString(w, line)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			return nil
		}
	}
	return err
}

// statePrefix begins the names of the state files in os.TempDir().
const statePrefix = "toktok-skipnote-"

// lockTimeout is how long report waits for another binary of the run to print; after it,
// it prints without knowing what the other printed.
const lockTimeout = 5 * time.Second

// report writes the note for the reasons in s that no other binary of the session
// printed, and records them as printed.
func (tg target) report(pkg string, s []skip) error {
	var state *os.File
	printed := map[string]bool{}
	if tg.session != "" {
		name := filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-%s", statePrefix, os.Getuid(), tg.session))
		if f, err := openState(name); err == nil {
			defer f.Close() // and so unlocks
			state = f
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				printed[sc.Text()] = true
			}
		}
		defer removeStale(name)
	}
	var fresh []skip
	for _, sk := range s {
		if !printed[sk.key()] {
			fresh = append(fresh, sk)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := tg.write(line(pkg, fresh)); err != nil {
		return err
	}
	if state != nil {
		var b strings.Builder
		for _, sk := range fresh {
			b.WriteString(sk.key() + "\n")
		}
		if _, err := state.Seek(0, io.SeekEnd); err != nil {
			return err
		}
		_, err := state.WriteString(b.String())
		return err
	}
	return nil
}

// openState opens (creating it) the state file, ours only, and locks it.
func openState(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || !ownedByMe(st) {
		f.Close()
		return nil, errors.New("skipnote: state file is not a regular file of this user")
	}
	if err := lock(f, lockTimeout); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// staleAge is the age after which any state file is removed.
const staleAge = 24 * time.Hour

// removeStale removes this user's state files, but current, whose go command ended, or
// which are older than staleAge.
func removeStale(current string) {
	names, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", statePrefix, os.Getuid())))
	for _, name := range names {
		if name == current {
			continue
		}
		st, err := os.Lstat(name)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		stale := time.Since(st.ModTime()) > staleAge
		session := strings.TrimPrefix(filepath.Base(name), fmt.Sprintf("%s%d-", statePrefix, os.Getuid()))
		if pid, start, ok := strings.Cut(session, "-"); ok && start != "" {
			if n, err := strconv.Atoi(pid); err == nil {
				if _, err := os.Stat("/proc/self/stat"); err == nil && startTime(n) != start {
					stale = true // the go command ended (or its pid was reused)
				}
			}
		}
		if stale {
			os.Remove(name)
		}
	}
}
