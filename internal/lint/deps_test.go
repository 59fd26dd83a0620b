package lint

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnly are import-path fragments of packages that exist for tests: the in-process
// MongoDB and SMTP servers, the browser driver, the conformance suite and the test kit.
var testOnly = []string{
	"/testkit/", "/mongotest", "/storetest", "FerretDB", "emersion/go-smtp", "chromedp",
}

// TestBinaryHasNoTestOnlyPackage: what the tests need to start servers and drive a
// browser never ends up in the binary an operator runs.
func TestBinaryHasNoTestOnlyPackage(t *testing.T) {
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "github.com/toktok/toktok").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list -deps listed only %d packages", len(deps))
	}
	for _, d := range deps {
		for _, bad := range testOnly {
			if strings.Contains(d, bad) {
				t.Errorf("the binary imports %s, a test-only package", d)
			}
		}
	}
}
