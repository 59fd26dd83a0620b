package drills

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/deadport"

	"github.com/toktok/toktok/internal/testkit/proc"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// smtpStartArgs run dev_email mode against a plain-text SMTP server at 127.0.0.1:port, as
// its default local catcher (localhost:1025, no TLS) would be, on another port.
func smtpStartArgs(dataDir string, port int) []string {
	return []string{
		"--data-dir=" + dataDir, "--mode=dev_email",
		"--smtp-host=127.0.0.1", "--smtp-port=" + strconv.Itoa(port), "--smtp-tls=none",
		"--salt=no", "--anojwt=no", "--argon2-memory=64", "--argon2-time=1",
	}
}

// TestSMTPDownAtDevStart: dev_email mode with no SMTP server answering ends the process
// before it listens, with exit code 1 and a message that names the address tried and the
// ways out (Mailpit, --mode=default), instead of serving and failing at the first mail.
// With the server up, the same start serves, and the check has sent no mail.
func TestSMTPDownAtDevStart(t *testing.T) {
	t.Parallel()
	_, portText, err := net.SplitHostPort(deadport.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out := proc.StartErr(t, toktokBin, proc.Options{Args: smtpStartArgs(t.TempDir(), port)})
	t.Logf("exit %d after %s:\n%s", code, time.Since(start).Round(100*time.Millisecond), out)
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for _, w := range []string{
		"toktok: --mode=dev_email sends the mails over SMTP, and no SMTP server answers at " + addr + " (",
		"connection refused",
		"docker run -d --name mailpit -p 8025:8025 -p " + strconv.Itoa(port) + ":1025 axllent/mailpit",
		"mailpit --smtp " + addr, "http://localhost:8025",
		"--mode=default", "/dev/mail",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("the output does not say %q", w)
		}
	}

	sink := smtpsink.New(t, smtpsink.Options{})
	p := startToktok(t, smtpStartArgs(t.TempDir(), sink.Port()))
	stopGracefully(t, p, 30*time.Second)
	if n := sink.Pending(); n != 0 {
		t.Errorf("the start sent %d mails", n)
	}
}
