package proc_test

import (
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/proc"
)

// The kit's own contract: a built binary serves on the address it reports, a bad setting
// is a failed start with its exit code and message, and SIGTERM stops it cleanly.
func TestStartSignalAndFailedStart(t *testing.T) {
	bin, err := proc.Build(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p := proc.Start(t, bin, proc.Options{Args: []string{"--data-dir=" + t.TempDir()}})
	if err := p.WaitReady(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(p.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: HTTP %d", resp.StatusCode)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := p.Wait(30 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exit %d, exited %v\n%s", code, ok, p.Output())
	}

	code, out := proc.StartErr(t, bin, proc.Options{Args: []string{"--mode=nonsense"}})
	if code == 0 {
		t.Fatalf("a bad mode exited 0:\n%s", out)
	}
}
