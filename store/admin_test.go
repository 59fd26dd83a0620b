package store

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFoldName(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"ada":           "ada",
		"ADA Lovelace":  "ada lovelace",
		"Élodie":        "Élodie", // only ASCII letters fold, as SQLite's lower()
		"ÉLODIE":        "Élodie",
		"O'Brien_50%.*": "o'brien_50%.*",
		"\U0010FFFFZ":   "\U0010FFFFz",
	} {
		if got := FoldName(in); got != want {
			t.Errorf("FoldName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQueryPrefixes(t *testing.T) {
	for _, tc := range []struct{ query, email, name string }{
		{"Ada", "ada", "ada"},
		{"ÉLO", "élo", "Élo"},
		{"e\u0301", "é", "é"},  // NFC, as stored names and emails
		{"a\xffb", "ab", "ab"}, // invalid UTF-8 dropped
		{"%_\\.*$", "%_\\.*$", "%_\\.*$"},
	} {
		if got := EmailPrefix(tc.query); got != tc.email {
			t.Errorf("EmailPrefix(%q) = %q, want %q", tc.query, got, tc.email)
		}
		if got := NamePrefix(tc.query); got != tc.name {
			t.Errorf("NamePrefix(%q) = %q, want %q", tc.query, got, tc.name)
		}
	}
}

// "s starts with p" is exactly p <= s < PrefixEnd(p) in byte order, for every p and s,
// the edges of UTF-8 included (the last ASCII character, the surrogates, U+10FFFF).
func TestPrefixEnd(t *testing.T) {
	for p, want := range map[string]string{
		"a":                      "b",
		"az":                     "a{",
		"a\x7f":                  "a\u0080",
		"a\uD7FF":                "a\uE000",
		"a\uFFFF":                "a\U00010000",
		"a\U0010FFFF":            "b",
		"é":                      "ê",
		"ab\U0010FFFF\U0010FFFF": "ac",
	} {
		if got, ok := PrefixEnd(p); !ok || got != want {
			t.Errorf("PrefixEnd(%q) = %q, %t; want %q", p, got, ok, want)
		}
	}
	for _, p := range []string{"", "\U0010FFFF", "\U0010FFFF\U0010FFFF"} {
		if got, ok := PrefixEnd(p); ok {
			t.Errorf("PrefixEnd(%q) = %q, want no bound", p, got)
		}
	}

	alphabet := []rune{'a', 'b', 'z', '{', 0x7f, 0x80, 0xe9, 0xea, 0xD7FF, 0xE000, 0xFFFF, 0x10000, 0x10FFFF}
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		var b strings.Builder
		for range rnd.IntN(4) {
			b.WriteRune(alphabet[rnd.IntN(len(alphabet))])
		}
		return b.String()
	}
	for range 20_000 {
		p, s := word(), word()
		if rnd.IntN(2) == 0 {
			s = p + s
		}
		if !utf8.ValidString(p) {
			t.Fatalf("invalid test word %q", p)
		}
		end, ok := PrefixEnd(p)
		if ok && !utf8.ValidString(end) {
			t.Errorf("PrefixEnd(%q) = %q, not UTF-8", p, end)
		}
		inRange := p <= s && (!ok || s < end)
		if inRange != strings.HasPrefix(s, p) {
			t.Errorf("p %q, s %q: in [p, %q) = %t, starts with p = %t", p, s, end, inRange, !inRange)
		}
	}
}
