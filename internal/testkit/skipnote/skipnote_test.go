package skipnote

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests run this binary again as a helper process, chosen by roleEnv:
//
//	child   a test binary whose TestChild skips for the reasons in skipsEnv
//	fakego  a stand-in for the go command, run through a symbolic link named "go": it
//	        runs the children that childrenEnv lists at once, buffers their output as
//	        the go command does, and prints it as JSON on its standard output
//	wait    a process that waits for the end of its standard input
const (
	roleEnv     = "SKIPNOTE_TEST_ROLE"
	skipsEnv    = "SKIPNOTE_TEST_SKIPS"    // "reason|enable" lines
	childrenEnv = "SKIPNOTE_TEST_CHILDREN" // JSON []fakeChild
)

func TestMain(m *testing.M) {
	switch os.Getenv(roleEnv) {
	case "fakego":
		os.Exit(fakeGo())
	case "wait":
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	os.Exit(Main(m))
}

// TestChild is the child's test: one subtest per reason in skipsEnv, each skipping.
func TestChild(t *testing.T) {
	if os.Getenv(roleEnv) != "child" {
		return // only in a helper process
	}
	for i, l := range strings.Split(os.Getenv(skipsEnv), "\n") {
		reason, enable, ok := strings.Cut(l, "|")
		if !ok {
			continue
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) { Skip(t, reason, enable) })
	}
	t.Run("passes", func(t *testing.T) {})
}

// fakeChild is one child that fakeGo runs, and what came of it.
type fakeChild struct {
	Skips  string   // skipsEnv
	Args   []string // test flags
	Exit   int
	Output string // stdout and stderr, as the go command buffers them
}

func fakeGo() int {
	var children []fakeChild
	if err := json.Unmarshal([]byte(os.Getenv(childrenEnv)), &children); err != nil {
		fmt.Fprintln(os.Stderr, "fakego:", err)
		return 2
	}
	exe, err := os.Executable() // the test binary, not the link
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakego:", err)
		return 2
	}
	var wg sync.WaitGroup
	for i := range children {
		c := &children[i]
		wg.Go(func() {
			var out bytes.Buffer
			cmd := exec.Command(exe, c.Args...)
			cmd.Env = append(os.Environ(), roleEnv+"=child", skipsEnv+"="+c.Skips)
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil {
				c.Exit = -1
				if ee, ok := errors.AsType[*exec.ExitError](err); ok {
					c.Exit = ee.ExitCode()
				}
			}
			c.Output = out.String()
		})
	}
	wg.Wait()
	if err := json.NewEncoder(os.Stdout).Encode(children); err != nil {
		return 2
	}
	return 0
}

// helperEnv is this process's environment without CI and TMPDIR, with TMPDIR set to a
// new directory (where the state files go), and extra.
func helperEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != CIEnv && name != "TMPDIR" && !strings.HasPrefix(name, "SKIPNOTE_TEST_") {
			env = append(env, kv)
		}
	}
	// GORACE: a race-enabled helper would sleep a second before it exits.
	return append(append(env, "TMPDIR="+t.TempDir(), "GORACE=atexit_sleep_ms=0"), extra...)
}

// runFakeGo runs the children through a fake go command and returns them, with what the
// fake go command's own stderr received.
func runFakeGo(t *testing.T, children []fakeChild) ([]fakeChild, string) {
	t.Helper()
	if _, err := os.Stat("/proc/self/comm"); err != nil {
		t.Skip("no /proc here: the go command cannot be told from another parent")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "go")
	if err := os.Symlink(exe, link); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(children)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), link)
	cmd.Env = helperEnv(t, roleEnv+"=fakego", childrenEnv+"="+string(spec))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr // stderr: a pipe, as a terminal would be
	if err := cmd.Run(); err != nil {
		t.Fatalf("fake go command: %v\n%s", err, stderr.String())
	}
	var got []fakeChild
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("fake go command printed %q: %v", stdout.String(), err)
	}
	for i, c := range got {
		if c.Exit != 0 {
			t.Errorf("child %d exited %d:\n%s", i, c.Exit, c.Output)
		}
		if strings.Contains(c.Output, "note:") {
			t.Errorf("child %d wrote the note to its own (buffered) output:\n%s", i, c.Output)
		}
	}
	return got, stderr.String()
}

const (
	browser = "no chromium in PATH|Debian: sudo apt-get install chromium"
	node    = "no node in PATH|Debian 13: sudo apt-get install nodejs"
	assets  = "TOKTOK_TEST_PLAYGROUND_ASSETS unset|scripts/playground-assets.sh DIR"
)

var quiet = []string{"-test.run=^TestChild$"}

// TestMainThroughGoCommand: children of the go command write the note to its stderr, not
// to their buffered output, and each reason once per run, though they end at once.
func TestMainThroughGoCommand(t *testing.T) {
	children := []fakeChild{
		{Skips: browser + "\n" + node, Args: quiet},
		{Skips: browser + "\n" + browser + "\n" + node, Args: quiet},
		{Skips: node + "\n" + assets, Args: quiet},
		{Skips: browser, Args: quiet},
		{Skips: "", Args: quiet},
	}
	_, stderr := runFakeGo(t, children)
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) == 0 || len(lines) > 3 {
		t.Fatalf("fake go command's stderr has %d lines, want 1 to 3 (one per child with a new reason):\n%s", len(lines), stderr)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "note: ") || !strings.Contains(l, " skipped in internal/testkit/skipnote: ") || !strings.HasSuffix(l, "go test -v shows each, -count=1 reruns them after installing (the test cache does not notice a new tool)") {
			t.Errorf("not a note line: %q", l)
		}
	}
	for _, reason := range []string{browser, node, assets} {
		r, e, _ := strings.Cut(reason, "|")
		if n := strings.Count(stderr, r+" ("+e+")"); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", r, n, stderr)
		}
	}
}

// TestMainQuiet: nothing is written under -v (which shows each skip), nor when nothing
// was skipped.
func TestMainQuiet(t *testing.T) {
	got, stderr := runFakeGo(t, []fakeChild{
		{Skips: browser, Args: []string{"-test.run=^TestChild$", "-test.v"}},
		{Skips: node, Args: []string{"-test.run=^TestChild$", "-test.v=test2json"}}, // go test -json
		{Skips: "", Args: quiet},
	})
	if stderr != "" {
		t.Errorf("the go command's stderr got %q, want nothing", stderr)
	}
	if !strings.Contains(got[0].Output, "--- SKIP: TestChild/0") || !strings.Contains(got[0].Output, "no chromium in PATH (Debian: sudo apt-get install chromium)") {
		t.Errorf("-v output does not show the skip and its reason:\n%s", got[0].Output)
	}
}

// runChild runs a child directly, as a shell would, and returns its exit code and output.
func runChild(t *testing.T, skips string, extraEnv []string, args ...string) (int, string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, args...)
	cmd.Env = helperEnv(t, append([]string{roleEnv + "=child", skipsEnv + "=" + skips}, extraEnv...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	code := 0
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

// TestMainDirect: a test binary run by a shell writes the note to its own stderr.
func TestMainDirect(t *testing.T) {
	code, stdout, stderr := runChild(t, browser+"\n"+browser, nil, quiet...)
	want := "note: 2 tests skipped in internal/testkit/skipnote: no chromium in PATH (Debian: sudo apt-get install chromium); " +
		"go test -v shows each, -count=1 reruns them after installing (the test cache does not notice a new tool)\n"
	if code != 0 || stdout != "PASS\n" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q, %q", code, stdout, stderr, "PASS\n", want)
	}
	code, stdout, stderr = runChild(t, browser, nil, "-test.run=^TestChild$", "-test.v")
	if code != 0 || strings.Contains(stdout+stderr, "note:") || !strings.Contains(stdout, "--- SKIP") {
		t.Errorf("-v: exit %d, stdout %q, stderr %q; want the skip shown and no note", code, stdout, stderr)
	}
}

// TestSkipUnderCI: with CI set, Skip fails the test, and Main prints no note.
func TestSkipUnderCI(t *testing.T) {
	code, stdout, stderr := runChild(t, browser, []string{CIEnv + "=1"}, quiet...)
	if code != 1 || !strings.Contains(stdout, "--- FAIL: TestChild/0") ||
		!strings.Contains(stdout, "no chromium in PATH (Debian: sudo apt-get install chromium): CI is set, and CI must run this test rather than skip it") ||
		strings.Contains(stdout+stderr, "note:") {
		t.Errorf("CI=1: exit %d, stdout %q, stderr %q; want a failure that names the tool, no note", code, stdout, stderr)
	}
}

// TestOpenParentStderr: the note goes to the go command's stderr when that is a pipe or
// a file that it appends to, not to a file that it writes at its own offset.
func TestOpenParentStderr(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd/2"); err != nil {
		t.Skip("no /proc here")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name   string
		stderr func() (*os.File, error) // nil: a pipe
		ok     bool
	}{
		{"pipe", nil, true},
		{"file opened for appending", func() (*os.File, error) {
			return os.OpenFile(filepath.Join(dir, "append"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		}, true},
		{"file written at an offset", func() (*os.File, error) {
			return os.OpenFile(filepath.Join(dir, "trunc"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.CommandContext(t.Context(), exe)
			cmd.Env = helperEnv(t, roleEnv+"=wait")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var pipe bytes.Buffer
			var file *os.File
			if tc.stderr == nil {
				cmd.Stderr = &pipe
			} else {
				if file, err = tc.stderr(); err != nil {
					t.Fatal(err)
				}
				defer file.Close()
				cmd.Stderr = file
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			w, err := openParentStderr(cmd.Process.Pid)
			if err == nil {
				_, err = io.WriteString(w, "note: x\n")
				w.Close()
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("openParentStderr and write: %v; want success %v", err, tc.ok)
			}
			if !tc.ok {
				return
			}
			got := pipe.String()
			if file != nil {
				b, err := os.ReadFile(file.Name())
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != "note: x\n" {
				t.Errorf("the process's stderr got %q", got)
			}
		})
	}
}

func TestLine(t *testing.T) {
	for _, tc := range []struct {
		skips []skip
		want  string
	}{
		{[]skip{{"no node in PATH", "Node.js >= 20", 1}},
			"note: 1 test skipped in web: no node in PATH (Node.js >= 20); " +
				"go test -v shows each, -count=1 reruns them after installing (the test cache does not notice a new tool)\n"},
		{[]skip{{"no chromium in PATH", "Debian: sudo apt-get install chromium", 14}, {"TOKTOK_TEST_PLAYGROUND_ASSETS unset", "scripts/playground-assets.sh DIR", 1}},
			"note: 14 tests skipped in web: no chromium in PATH (Debian: sudo apt-get install chromium); " +
				"1 skipped: TOKTOK_TEST_PLAYGROUND_ASSETS unset (scripts/playground-assets.sh DIR); " +
				"go test -v shows each, -count=1 reruns them after installing (the test cache does not notice a new tool)\n"},
	} {
		if got := line("web", tc.skips); got != tc.want {
			t.Errorf("line(%v)\n got %q\nwant %q", tc.skips, got, tc.want)
		}
	}
	if got := oneLine("a\nb\tc\r\n"); got != "a b c" {
		t.Errorf("oneLine: %q", got)
	}
}

// lockedBuffer is an output that reports share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) target(session string) target {
	return target{session: session, outputs: []func() (io.WriteCloser, error){
		func() (io.WriteCloser, error) { return nil, errors.New("unusable") }, // skipped for the next
		func() (io.WriteCloser, error) { return nopCloser{b}, nil },
	}}
}

func TestReportDedupe(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	a, b, c := skip{"A", "get a", 2}, skip{"B", "get b", 1}, skip{"C", "get c", 3}
	var out lockedBuffer
	tg := out.target("123-456")
	for _, step := range []struct {
		pkg   string
		skips []skip
		want  string
	}{
		{"e2e", []skip{a, b}, line("e2e", []skip{a, b})},
		{"web", []skip{a}, ""},
		{"web", []skip{b, c, a}, line("web", []skip{c})},
		{"x", []skip{c, b}, ""},
	} {
		before := len(out.String())
		if err := tg.report(step.pkg, step.skips); err != nil {
			t.Fatal(err)
		}
		if got := out.String()[before:]; got != step.want {
			t.Errorf("report(%s, %v) wrote %q, want %q", step.pkg, step.skips, got, step.want)
		}
	}

	// Another run prints again.
	before := len(out.String())
	if err := out.target("124-789").report("e2e", []skip{a}); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String()[before:], line("e2e", []skip{a}); got != want {
		t.Errorf("another session wrote %q, want %q", got, want)
	}

	// Without a session, every report prints.
	before = len(out.String())
	for range 2 {
		if err := out.target("").report("e2e", []skip{a}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := out.String()[before:], strings.Repeat(line("e2e", []skip{a}), 2); got != want {
		t.Errorf("without a session: wrote %q, want %q", got, want)
	}
}

// TestReportConcurrent: of reports that run at once, one prints each reason.
func TestReportConcurrent(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var out lockedBuffer
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			s := []skip{{"A", "get a", 1}}
			if i%2 == 1 {
				s = append(s, skip{"B", "get b", 1})
			}
			if err := out.target("77-88").report(fmt.Sprint("p", i), s); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if a, b := strings.Count(out.String(), ": A (get a)"), strings.Count(out.String(), ": B (get b)"); a != 1 || b != 1 {
		t.Errorf("A printed %d times, B %d times, want once each:\n%s", a, b, out.String())
	}
}

// TestReportOutputFails: a note that no output takes is an error, and is not recorded as
// printed.
func TestReportOutputFails(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	failing := target{session: "1-2", outputs: []func() (io.WriteCloser, error){
		func() (io.WriteCloser, error) { return nopCloser{failingWriter{}}, nil },
	}}
	if err := failing.report("e2e", []skip{{"A", "get a", 1}}); err == nil {
		t.Error("report through a failing output: no error")
	}
	var out lockedBuffer
	if err := out.target("1-2").report("e2e", []skip{{"A", "get a", 1}}); err != nil || out.String() == "" {
		t.Errorf("after a failed write, the reason was taken as printed (%v)", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken") }

func TestRemoveStale(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	name := func(session string) string {
		return filepath.Join(dir, fmt.Sprintf("%s%d-%s", statePrefix, os.Getuid(), session))
	}
	self := strconv.Itoa(os.Getpid()) + "-" + startTime(os.Getpid())
	files := map[string]bool{ // name: kept
		name("current"):                        true,
		name(self):                             true,  // a live process
		name(strconv.Itoa(os.Getpid()) + "-1"): false, // its pid, another start: reused
		name("2147483647-5"):                   false, // no such process
		name("old"):                            false, // older than staleAge
		name("new"):                            true,  // unknown process, recent
		filepath.Join(dir, "other-file"):       true,
	}
	for f := range files {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-staleAge - time.Hour)
	if err := os.Chtimes(name("old"), old, old); err != nil {
		t.Fatal(err)
	}
	removeStale(name("current"))
	for f, kept := range files {
		if _, err := os.Stat(f); (err == nil) != kept {
			t.Errorf("%s: kept %v, want %v", filepath.Base(f), err == nil, kept)
		}
	}
}

func TestStartTime(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc here")
	}
	s := startTime(os.Getpid())
	if _, err := strconv.ParseUint(s, 10, 64); err != nil {
		t.Errorf("startTime(self) = %q, want a number", s)
	}
	if s := startTime(2147483647); s != "" {
		t.Errorf("startTime(no such process) = %q", s)
	}
	if isGo, known := isGoCommand(os.Getpid()); isGo || !known {
		t.Errorf("isGoCommand(self) = %v, %v; want false, true", isGo, known)
	}
}

func TestPackageName(t *testing.T) {
	if got := packageName(); got != "internal/testkit/skipnote" {
		t.Errorf("packageName() = %q", got)
	}
}
