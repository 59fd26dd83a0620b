// Package proc runs the toktok command as a child process, for the drills that must kill,
// signal or starve the real process (kill -9, SIGTERM under load, a full disk): what an
// in-process app cannot show is what survives the process. Only tests import it.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long a start may take to print its address (a cold store, a
// first key generation).
const StartTimeout = 60 * time.Second

// Build compiles the toktok command (the module root) into dir and returns the binary's
// path. Tests build it once per test binary (TestMain or a sync.Once) and start it many
// times.
func Build(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "toktok")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("proc: go build: %w\n%s", err, out)
	}
	return bin, nil
}

// moduleRoot is the directory of go.mod, found from the working directory upwards (a
// test runs in its package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("proc: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Process is one running toktok. Its output (stdout and stderr, interleaved) is kept for
// the test to read and is printed in the test log when the test fails.
type Process struct {
	cmd  *exec.Cmd
	url  string
	out  *syncBuffer
	done chan struct{}
	err  error // Wait's error, set before done closes
}

// Options are a start's command line and environment. Env is added to the test's own
// environment (TOKTOK_* variables of the caller's shell are removed first, so a developer's
// settings never leak into a drill).
type Options struct {
	Args []string
	Env  []string
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// Start runs bin with --host=127.0.0.1 --port=0 and opts, and returns once it prints the
// address it serves on. A process that exits first, or does not serve within
// StartTimeout, fails the test with its output. The process is killed when the test
// ends, if it still runs.
func Start(t testing.TB, bin string, opts Options) *Process {
	t.Helper()
	p, err := start(bin, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("toktok output:\n%s", p.Output())
		}
	})
	return p
}

// StartErr is Start for a start expected to fail: it returns the error and output of a
// process that exits before serving, and fails the test if it serves.
func StartErr(t testing.TB, bin string, opts Options) (exitCode int, output string) {
	t.Helper()
	p, err := start(bin, opts)
	if err == nil {
		p.Kill()
		t.Fatalf("toktok started serving at %s; want a failed start\n%s", p.URL(), p.Output())
	}
	<-p.done
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		t.Fatalf("toktok: %v (%v)\n%s", err, p.err, p.Output())
	}
	return ee.ExitCode(), p.Output()
}

func start(bin string, opts Options) (*Process, error) {
	args := append([]string{"--host=127.0.0.1", "--port=0"}, opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), opts.Env...)
	out := &syncBuffer{}
	pr, pw := io.Pipe()
	cmd.Stdout = io.MultiWriter(out, pw)
	cmd.Stderr = out
	p := &Process{cmd: cmd, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("proc: start %s: %w", bin, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, pr) // keep stdout flowing
	}()
	go func() {
		p.err = cmd.Wait()
		_ = pw.Close()
		close(p.done)
	}()
	select {
	case p.url = <-found:
		return p, nil
	case <-p.done:
		return p, fmt.Errorf("proc: toktok exited before serving: %v\n%s", p.err, out.String())
	case <-time.After(StartTimeout):
		p.Kill()
		return p, fmt.Errorf("proc: toktok did not serve within %s\n%s", StartTimeout, out.String())
	}
}

// cleanEnv is the test's environment without TOKTOK_* variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKTOK_") {
			env = append(env, kv)
		}
	}
	return env
}

// URL is the base URL the process serves on (http://127.0.0.1:PORT).
func (p *Process) URL() string { return p.url }

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Output is everything the process printed so far.
func (p *Process) Output() string { return p.out.String() }

// Kill sends SIGKILL, as a crash or the OOM killer would, and waits for the exit. It is
// a no-op on a process that has exited.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Signal sends sig (SIGTERM for a graceful stop) without waiting.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits up to timeout for the process to exit and returns its exit code; ok is false
// when it is still running at the deadline.
func (p *Process) Wait(timeout time.Duration) (exitCode int, ok bool) {
	select {
	case <-p.done:
	case <-time.After(timeout):
		return 0, false
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode(), true
	}
	return 0, true
}

// Exited is closed when the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// WaitReady polls /readyz until it answers 200, up to timeout.
func (p *Process) WaitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("proc: /readyz not ready after %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // polling another process: nothing to wait on
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutines and the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
