package store

import (
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The listings of the staff API: users by creation and the audit log newest first, each a
// keyset pagination on a total order, so that a page starts strictly after the last row of
// the previous one whatever was inserted or deleted in between.

// UserFilter selects users for ListUsers and CountUsers. The fields set combine: a user
// matches when every one of them holds.
type UserFilter struct {
	// Query, when not empty, keeps the users of whom it is a prefix, taken literally (no
	// character is a wildcard or an operator), of one of:
	//   - the Email, compared with EmailPrefix(Query): emails are canonical (lower-case,
	//     NFC), so this is case-insensitive in full Unicode;
	//   - the Name, Surname or Pseudo, each compared as FoldName(field) with
	//     NamePrefix(Query): ASCII letters are case-insensitive, other characters exact.
	Query          string
	Role           *Role
	EmailConfirmed *bool
	Disabled       *bool
}

// UserKey is a user's place in the users' order: CreatedAt, then ID, both ascending.
// CreatedAt is compared at the stored millisecond precision.
type UserKey struct {
	CreatedAt time.Time
	ID        string
}

// Key returns u's place in the users' order.
func (u User) Key() UserKey { return UserKey{CreatedAt: u.CreatedAt, ID: u.ID} }

// AuditKey is an event's place in the audit log's order: At, then ID, both descending
// (newest first). At is compared at the stored millisecond precision.
type AuditKey struct {
	At time.Time
	ID string
}

// Key returns e's place in the audit log's order.
func (e AuditEvent) Key() AuditKey { return AuditKey{At: e.At, ID: e.ID} }

// EmailPrefix is the form of a query compared with emails: lower-cased and NFC, as
// canonical emails are (invalid UTF-8 dropped).
func EmailPrefix(query string) string {
	q := strings.ToValidUTF8(query, "")
	return norm.NFC.String(strings.ToLower(norm.NFC.String(q)))
}

// NamePrefix is the form of a query compared with folded names, surnames and pseudos:
// NFC (names are stored NFC), then FoldName.
func NamePrefix(query string) string {
	return FoldName(norm.NFC.String(strings.ToValidUTF8(query, "")))
}

// FoldName lower-cases the ASCII letters of s and keeps every other character: exactly
// SQLite's built-in lower(), which the SQLite backend's expression indexes hold, so every
// backend folds names the same way.
func FoldName(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// PrefixEnd returns the least string, in byte order, above every string that starts with
// p, so that "starts with p" is the range p <= s < end, which an index on s serves. ok is
// false when there is no such bound (p is empty or made only of U+10FFFF): the range then
// has no upper end. p must be valid UTF-8; end is too, so it can be sent as a BSON string.
// Byte order of UTF-8 is code point order, which both backends compare strings by.
func PrefixEnd(p string) (end string, ok bool) {
	for len(p) > 0 {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue // no successor: the bound moves to the character before
		case r == 0xD7FF:
			r = 0xE000 // the surrogates are not characters
		default:
			r++
		}
		return p + string(r), true
	}
	return "", false
}
