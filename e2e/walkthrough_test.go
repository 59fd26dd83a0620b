package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/skipnote"
)

// walkthroughScript is the README's curl walk-through, kept as a script so that this test
// runs exactly what the README shows.
const walkthroughScript = "../docs/examples/walkthrough.sh"

// walkthroughTools skips t without the tools the walk-through uses.
func walkthroughTools(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"bash", "curl", "jq", "go", "mktemp"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		skipnote.Skip(t, "no "+strings.Join(missing, ", ")+" in PATH for the README walk-through",
			"Debian: sudo apt-get install curl jq (and Go on the PATH)")
	}
}

// TestWalkthroughInREADME: the README shows the walk-through script as it is, line for
// line, so the commands a newcomer pastes are the ones tested here.
func TestWalkthroughInREADME(t *testing.T) {
	script, err := os.ReadFile(walkthroughScript)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(readme, []byte("```sh\n"+string(script)+"```\n")) {
		t.Errorf("README.md does not show %s verbatim in a sh block; copy the script into the \"From curl\" section", walkthroughScript)
	}
}

// runWalkthrough runs the script against base and returns its exit code, standard output
// and standard error.
// tmp is its TMPDIR.
func runWalkthrough(t *testing.T, base, tmp string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	// From the repository's root, as the README says (it runs ./cmd/toktok-encrypt).
	cmd := exec.CommandContext(ctx, "bash", "docs/examples/"+filepath.Base(walkthroughScript))
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "TOKTOK_URL="+base, "TMPDIR="+tmp)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the walk-through did not finish: %v\nstdout:\n%s\nstderr:\n%s", ctx.Err(), &stdout, &stderr)
	}
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return code, stdout.String(), stderr.String()
}

// TestWalkthroughRerunnable: the README's curl walk-through registers, confirms through
// the dev inbox and reads `me`, with the defaults a newcomer runs (--salt=yes,
// --anojwt=yes); a second run on the same server succeeds too (a fresh address each
// time), and the key file it writes is gone when it ends.
func TestWalkthroughRerunnable(t *testing.T) {
	walkthroughTools(t)
	e := newTestEnv(t, func(c *config.Config) { c.Mail.DevInbox = true })
	tmp := t.TempDir()
	for run := 1; run <= 2; run++ {
		code, out, errOut := runWalkthrough(t, e.srv.URL, tmp)
		if code != 0 {
			t.Fatalf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", run, code, out, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		last := lines[len(lines)-1]
		// The first account to confirm on a fresh server becomes its ADMIN (--first-admin).
		role := `"role":"USER"`
		if run == 1 {
			role = `"role":"ADMIN"`
		}
		if !strings.Contains(last, `"emailConfirmed":true`) || !strings.Contains(last, role) {
			t.Errorf("run %d: last line %q, want me with emailConfirmed true and %s\n%s", run, last, role, out)
		}
		if !strings.Contains(lines[0], `"emailConfirmed":false`) {
			t.Errorf("run %d: first line %q, want me before the confirmation", run, lines[0])
		}
	}
	// Nothing is left in TMPDIR, and no key file in the script's own directory.
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	for _, dir := range []string{"..", filepath.Dir(walkthroughScript)} {
		for _, pattern := range []string{"*.pem", "*.jwk", "sealed"} {
			if left, _ := filepath.Glob(filepath.Join(dir, pattern)); len(left) != 0 {
				t.Errorf("key or ciphertext files in the working tree: %v", left)
			}
		}
	}
}

// TestWalkthroughStopsAtFirstError: when a step fails, the walk-through stops there with
// the error's code and message, rather than going on with "null" as a token.
func TestWalkthroughStopsAtFirstError(t *testing.T) {
	walkthroughTools(t)
	e := newTestEnv(t, func(c *config.Config) {
		c.Mail.DevInbox = true
		c.Account.RegistrationOpen = false
	})
	code, out, errOut := runWalkthrough(t, e.srv.URL, t.TempDir())
	if code == 0 {
		t.Fatalf("exit 0 with registration closed\nstdout:\n%s", out)
	}
	if !strings.HasPrefix(errOut, "error: FORBIDDEN: ") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("stderr %q, want one line \"error: FORBIDDEN: ...\"", errOut)
	}
	if out != "" {
		t.Errorf("the steps after register ran: %q", out)
	}
}
