//go:build linux

package drills

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The admin subcommands of the built binary, for a headless start: an ADMIN created from
// standard input before the first start signs in through the server started afterwards;
// promote refuses while the server holds the SQLite file and works once it is stopped.
// Exit codes, standard output and standard error are the operator's interface.

// adminCLIPassword passes the default password policy.
const adminCLIPassword = "quill-Harbor-4418-lantern"

// adminCLIArgs are the settings of the server and of the subcommands: one data dir,
// cheap hashing, credentials in clear and no anonymous token.
func adminCLIArgs(dataDir string) []string {
	return []string{"--data-dir=" + dataDir, "--argon2-memory=64", "--argon2-time=1", "--argon2-threads=1", "--salt=no", "--anojwt=no"}
}

// runCLI runs the binary with args and stdin to its end and returns its exit code and
// outputs. The caller's TOKTOK_* variables are left out, as proc does for the server.
func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, toktokBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOKTOK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("toktok %s: %v", strings.Join(args, " "), err)
	}
	t.Logf("toktok %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out.String(), errOut.String())
	return code, out.String(), errOut.String()
}

// roleClaim is the role claim of an access token (unverified: the server just issued it).
func roleClaim(t *testing.T, access string) string {
	t.Helper()
	parts := strings.Split(access, ".")
	if len(parts) != 3 {
		t.Fatalf("access token %q", access)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Role string }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c.Role
}

func TestAdminCLIHeadlessStart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // not there yet: the first command makes it
	args := adminCLIArgs(dir)
	cli := func(stdin string, sub ...string) (int, string, string) {
		return runCLI(t, stdin, append(append([]string{"admin"}, sub...), args...)...)
	}

	if code, out, errOut := runCLI(t, "", "admin", "--help"); code != 0 || out != "" ||
		!strings.Contains(errOut, "toktok admin create --email ADDRESS") {
		t.Errorf("admin --help: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, out, errOut := cli("short\n", "create", "--email", "root@example.com"); code != 1 || out != "" ||
		errOut != "toktok: admin create: the password is too weak: too_short\n" {
		t.Errorf("create with a weak password: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ := cli(adminCLIPassword+"\n", "create", "--email", "root@example.com")
	if code != 0 || !regexp.MustCompile(`^created root@example\.com: ADMIN, address confirmed \(id [A-Z2-7]+\)\n$`).MatchString(out) {
		t.Fatalf("create: exit %d, stdout %q", code, out)
	}

	srv := startToktok(t, args)
	api := newClient(t, srv.URL(), true)
	root, code0, err := api.login(t.Context(), "root@example.com", adminCLIPassword)
	if code0 != "" {
		t.Fatalf("login of the created ADMIN: %s %v", code0, err)
	}
	if got := roleClaim(t, root.AccessToken); got != "ADMIN" {
		t.Errorf("the created account's access token says role %q", got)
	}
	if _, code0, err := api.register(t.Context(), "bob@example.com", adminCLIPassword); code0 != "" {
		t.Fatalf("register bob: %s %v", code0, err)
	}
	locked := regexp.MustCompile(fmt.Sprintf(`^toktok: admin promote: store: sqlite: \S+ is in use by another TokTok \(pid %d on host .*\): stop it, or give this one another --data-dir or --store\n  \(a SQLite store is held by the server running on it: stop the server, run toktok admin, then start the server\)\n$`, srv.PID()))
	if code, out, errOut := cli("", "promote", "--email", "bob@example.com"); code != 1 || out != "" || !locked.MatchString(errOut) {
		t.Errorf("promote while the server runs: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	stopGracefully(t, srv, 30*time.Second)

	for _, tc := range []struct {
		email  string
		code   int
		stdout string
		stderr string
	}{
		{"bob@example.com", 0, "bob@example.com is now ADMIN (was USER)\n", ""},
		{"BOB@example.com", 0, "bob@example.com is already ADMIN: nothing changed\n", ""},
		{"nobody@example.com", 1, "", "toktok: admin promote: no account has this address: nobody@example.com\n"},
	} {
		code, out, errOut := cli("", "promote", "--email="+tc.email)
		// The log lines (the role change) go to stderr too; the message is its last line.
		if lines := strings.SplitAfter(errOut, "\n"); code != tc.code || out != tc.stdout ||
			(tc.stderr != "" && lines[len(lines)-2] != tc.stderr) {
			t.Errorf("promote %s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.email, code, out, errOut, tc.code, tc.stdout, tc.stderr)
		}
	}

	srv = startToktok(t, args)
	bob, code0, err := newClient(t, srv.URL(), true).login(t.Context(), "bob@example.com", adminCLIPassword)
	if code0 != "" {
		t.Fatalf("login of bob: %s %v", code0, err)
	}
	if got := roleClaim(t, bob.AccessToken); got != "ADMIN" {
		t.Errorf("bob, promoted, signs in with role %q", got)
	}
	checkDatabase(t, dbPath(dir))
}

// TestImportCLIExitCodes: toktok import of the built binary: --help exits 0 with the
// usage on standard error; a missing --from, a source URI without a database and an
// unreachable source exit 1 with one line saying why, and nothing on standard output.
func TestImportCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "", "import", "--help")
	if code != 0 || !strings.Contains(stderr, "toktok import --from mongodb://HOST/DATABASE") {
		t.Errorf("import --help: exit %d, stderr %q", code, stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"import"}, "toktok: import: --from is required"},
		{[]string{"import", "--from=mongodb://127.0.0.1:1"}, "must name the original service's database"},
		{[]string{"import", "--from=mongodb://127.0.0.1:1/flask?serverSelectionTimeoutMS=300"}, "import: the source: "},
	} {
		code, stdout, stderr := runCLI(t, "", append(tc.args, adminCLIArgs(dir)...)...)
		if code != 1 || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", tc.args, code, stdout, stderr, tc.want)
		}
	}
}
