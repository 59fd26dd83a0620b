// Package textcut cuts text to a byte budget without breaking a character. Several parts
// of TokTok store or log text that a client or a remote server chose (a User-Agent, an SMTP
// error) under a byte limit, and what they keep must stay valid UTF-8: BSON and JSON
// refuse anything else, and a character cut in half is a character nobody can read. One
// function, so every such limit behaves the same.
package textcut

import (
	"strings"
	"unicode/utf8"
)

// Bytes returns s with its invalid UTF-8 bytes dropped, then cut to at most n bytes at a
// character boundary. The result is always valid UTF-8 and a prefix of the cleaned s; it
// is s itself when s is valid and fits. A non-positive n yields "".
func Bytes(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
