//go:build linux

package drills

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/proc"
)

// lockPassword passes the default password policy.
const lockPassword = "quill-Harbor-4418-lantern"

// lockArgs are the settings of the lock drill: its data dir, cheap hashing, credentials in
// clear and no anonymous token, so that one register shows the first process serving.
func lockArgs(dataDir string, extra ...string) []string {
	return append([]string{
		"--data-dir=" + dataDir,
		"--argon2-memory=64", "--argon2-time=1", "--argon2-threads=1",
		"--salt=no", "--anojwt=no",
	}, extra...)
}

// TestSecondProcessOnOneDatabase: two TokToks on one SQLite file would each believe they
// own it. The second refuses to start, exit 1, with one line that names the database and
// the first (its pid, host and start time) and says what to do, whether it came by the
// same --data-dir or by --store=sqlite:PATH; the first serves on, untouched. The lock goes
// with its holder: after a SIGTERM and after a SIGKILL (whose lock file stays behind) the
// next start on the file serves.
func TestSecondProcessOnOneDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := dbPath(dir)
	first := startToktok(t, lockArgs(dir))
	api := newClient(t, first.URL(), true)
	if _, code, err := api.register(t.Context(), "before@example.com", lockPassword); code != "" {
		t.Fatalf("register on the first: %s %v", code, err)
	}

	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^toktok: store: sqlite: ` + regexp.QuoteMeta(db) + ` is in use by another TokTok \(pid ` +
		fmt.Sprint(first.PID()) + ` on host ` + regexp.QuoteMeta(host) +
		`, since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\): stop it, or give this one another --data-dir or --store$`)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"same data dir", lockArgs(dir)},
		{"same file by --store", lockArgs(filepath.Join(t.TempDir(), "other"), "--store=sqlite:"+db)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			code, out := proc.StartErr(t, toktokBin, proc.Options{Args: tc.args})
			t.Logf("exit %d after %s: %s", code, time.Since(start).Round(10*time.Millisecond), out)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if line := strings.TrimSpace(out); !want.MatchString(line) {
				t.Errorf("the output\n%s\ndoes not match\n%s", out, want)
			}
		})
	}

	// The first serves on, and still holds the file.
	select {
	case <-first.Exited():
		t.Fatalf("the first exited\n%s", first.Output())
	default:
	}
	if _, code, err := api.register(t.Context(), "after@example.com", lockPassword); code != "" {
		t.Fatalf("register on the first after the refusals: %s %v", code, err)
	}
	if _, code, err := api.login(t.Context(), "before@example.com", lockPassword); code != "" {
		t.Fatalf("login on the first after the refusals: %s %v", code, err)
	}
	resp, err := http.Get(first.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz of the first: %d", resp.StatusCode)
	}
	if b, err := os.ReadFile(db + ".lock"); err != nil || !strings.HasPrefix(string(b), fmt.Sprintf("pid %d\n", first.PID())) {
		t.Errorf("lock file %q (%v), want the first's pid", b, err)
	}

	// A stopped holder gives the file back; so does a killed one, whose lock file stays.
	stopGracefully(t, first, 30*time.Second)
	second := startToktok(t, lockArgs(dir))
	if _, code, err := newClient(t, second.URL(), true).login(t.Context(), "after@example.com", lockPassword); code != "" {
		t.Fatalf("login on the second: %s %v", code, err)
	}
	second.Kill()
	if _, err := os.Stat(db + ".lock"); err != nil {
		t.Fatalf("the killed holder's lock file: %v", err)
	}
	third := startToktok(t, lockArgs(dir))
	if _, code, err := newClient(t, third.URL(), true).login(t.Context(), "before@example.com", lockPassword); code != "" {
		t.Fatalf("login on the third, after a kill: %s %v", code, err)
	}
}
