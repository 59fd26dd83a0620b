package web

import (
	"os"
	"testing"

	"github.com/toktok/toktok/internal/testkit/skipnote"
)

// TestMain runs the tests through skipnote.Main: when the JavaScript tests skipped for
// want of Node.js, go test without -v prints one line that says so.
func TestMain(m *testing.M) {
	os.Exit(skipnote.Main(m))
}
