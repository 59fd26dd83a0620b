package textcut

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"fits", "abc", 3, "abc"},
		{"shorter than the budget", "abc", 10, "abc"},
		{"ascii cut", "abcdef", 4, "abcd"},
		{"empty", "", 5, ""},
		{"zero budget", "abc", 0, ""},
		{"negative budget", "abc", -1, ""},
		{"cut inside a 2-byte character", "ab\u00e9", 3, "ab"},
		{"cut after a 2-byte character", "ab\u00e9c", 4, "ab\u00e9"},
		{"cut inside a 3-byte character", "a\u20ac", 3, "a"},
		{"cut inside a 4-byte character", "a\U0001F600b", 4, "a"},
		{"4-byte character fits exactly", "a\U0001F600b", 5, "a\U0001F600"},
		{"budget smaller than the first character", "\u00e9t\u00e9", 1, ""},
		{"invalid byte dropped", "a\xffb", 10, "ab"},
		{"invalid bytes dropped before cutting", "\xff\xfeabc", 2, "ab"},
		{"truncated sequence dropped", "ab\xc3", 10, "ab"},
		{"surrogate encoding dropped", "a\xed\xa0\x80b", 10, "ab"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bytes(tc.in, tc.n)
			if got != tc.want {
				t.Errorf("Bytes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
			if !utf8.ValidString(got) {
				t.Errorf("Bytes(%q, %d) = %q is not valid UTF-8", tc.in, tc.n, got)
			}
		})
	}
}

// Every cut of a long multi-byte text is the longest valid prefix within the budget.
func TestBytesEveryBudget(t *testing.T) {
	s := "x" + strings.Repeat("é€😀", 20)
	for n := range len(s) + 2 {
		got := Bytes(s, n)
		if len(got) > max(n, 0) || !strings.HasPrefix(s, got) || !utf8.ValidString(got) {
			t.Fatalf("Bytes(s, %d) = %q", n, got)
		}
		if n < len(s) && len(got) < n-utf8.UTFMax+1 {
			t.Fatalf("Bytes(s, %d) = %d bytes: cut more than one character short", n, len(got))
		}
	}
}
