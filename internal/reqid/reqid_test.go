package reqid

import (
	"strings"
	"testing"
)

// TestValid: ids a proxy may hand us are short and made of id characters; anything that
// could break a log line or a header is refused.
func TestValid(t *testing.T) {
	for id, want := range map[string]bool{
		"":                                     false,
		"9b2f6c1e-8d4a-4f6b-a1c3-0e5d7f9a2b4c": true,
		"01JEXAMPLE0000000000000000":           true,
		"trace:00f067aa0ba902b7.1":             true,
		strings.Repeat("a", MaxLen):            true,
		strings.Repeat("a", MaxLen+1):          false,
		"has space":                            false,
		"new\nline":                            false,
		"quote\"":                              false,
		"é":                                    false,
	} {
		if got := Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
	if a, b := New(), New(); a == b || !Valid(a) {
		t.Errorf("New: %q, %q", a, b)
	}
}
