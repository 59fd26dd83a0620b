package mfa

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// RecoveryCodeCount is the number of recovery codes in a set.
const RecoveryCodeCount = 10

// recoveryAlphabet is lower-case RFC 4648 base32: 32 symbols, 5 bits each, without the
// easily confused 0, 1, 8 and 9.
const recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"

// recoveryChars is the number of symbols of a recovery code: 10 × 5 = 50 bits.
const recoveryChars = 10

// NewRecoveryCodes returns a fresh set of RecoveryCodeCount recovery codes, each
// "xxxxx-xxxxx": 10 random base32 symbols (50 bits from crypto/rand). They are shown to
// the user once; only their hashes (HashRecoveryCode) are stored.
func NewRecoveryCodes() ([]string, error) {
	codes := make([]string, 0, RecoveryCodeCount)
	seen := make(map[string]bool, RecoveryCodeCount)
	for len(codes) < RecoveryCodeCount {
		b := make([]byte, recoveryChars)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		for i := range b {
			b[i] = recoveryAlphabet[b[i]&31] // 256 is a multiple of 32: uniform
		}
		c := string(b[:5]) + "-" + string(b[5:])
		if !seen[c] { // a repeat (chance 2^-44) would be a wasted code
			seen[c] = true
			codes = append(codes, c)
		}
	}
	return codes, nil
}

// NormalizeRecoveryCode returns the canonical "xxxxx-xxxxx" form of a recovery code as
// a user typed it: ASCII upper case is lowered, spaces and dashes are dropped, and the
// rest must be exactly 10 base32 symbols. Nothing else is mapped (no 0 for o, 1 for l),
// so ok is false for any other input.
func NormalizeRecoveryCode(s string) (string, bool) {
	out := make([]byte, 0, recoveryChars)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case ('a' <= c && c <= 'z') || ('2' <= c && c <= '7'):
		default:
			return "", false
		}
		if len(out) == recoveryChars {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != recoveryChars {
		return "", false
	}
	return string(out[:5]) + "-" + string(out[5:]), true
}

// HashRecoveryCode returns the stored form of a recovery code: the hex HMAC-SHA-256,
// under the recovery key, of the length-prefixed user ID and code, so equal codes of two
// users hash differently and a stolen hash list cannot be searched without the key. A
// code that normalizes is hashed in its canonical form; one that does not is hashed as
// given (it then matches nothing, and takes as long as one that does).
func (k *Keys) HashRecoveryCode(userID, code string) string {
	if c, ok := NormalizeRecoveryCode(code); ok {
		code = c
	}
	m := hmac.New(sha256.New, k.recovery)
	m.Write(lengthPrefixed(userID, code))
	return hex.EncodeToString(m.Sum(nil))
}
