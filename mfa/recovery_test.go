package mfa

import (
	"regexp"
	"strings"
	"testing"
)

var recoveryFormat = regexp.MustCompile(`^[a-z2-7]{5}-[a-z2-7]{5}$`)

func TestNewRecoveryCodes(t *testing.T) {
	codes, err := NewRecoveryCodes()
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != RecoveryCodeCount || RecoveryCodeCount != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryFormat.MatchString(c) {
			t.Errorf("code %q does not match %s", c, recoveryFormat)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
		if n, ok := NormalizeRecoveryCode(c); !ok || n != c {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v", c, n, ok)
		}
	}
}

// TestRecoveryCodeEntropy: over many codes every position takes all 32 symbols, about
// equally often, so each code carries its 50 bits.
func TestRecoveryCodeEntropy(t *testing.T) {
	const sets = 200 // 2000 codes, 2000 draws per position, 62.5 expected per symbol
	var counts [10][32]int
	for range sets {
		codes, err := NewRecoveryCodes()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			for pos, ch := range strings.ReplaceAll(c, "-", "") {
				counts[pos][strings.IndexRune(recoveryAlphabet, ch)]++
			}
		}
	}
	for pos := range counts {
		for sym, n := range counts[pos] {
			// 62.5 ± 7.7 (binomial); 20 and 120 are more than 5.5 standard deviations out.
			if n < 20 || n > 120 {
				t.Errorf("position %d: symbol %q drawn %d times of 2000", pos, recoveryAlphabet[sym], n)
			}
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	good := map[string]string{
		"ABCDE FGHIJ":           "abcde-fghij",
		"abcde-fghij":           "abcde-fghij",
		"abcdefghij":            "abcde-fghij",
		" a-b-c-d-e 2 3 4 5 6 ": "abcde-23456",
		"ZZZZZ-77777":           "zzzzz-77777",
		"--abcde--fghij--":      "abcde-fghij",
	}
	for in, want := range good {
		if got, ok := NormalizeRecoveryCode(in); !ok || got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	bad := []string{
		"", "abcde-fghi", "abcd-fghij", "abcde-fghijk", "abcdefghijklmnop",
		"abcde-fghi1", "abcde-fghi0", "abcde-fghi8", "abcde-fghi9",
		"abcde_fghij", "abcde.fghij", "abcde\tfghij", "abcde-fghi\u212a", // Kelvin sign lowers to k
		"abcde-fghi\u00e9", "abcde-fghij\x00",
	}
	for _, in := range bad {
		if got, ok := NormalizeRecoveryCode(in); ok {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, accepted", in, got)
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	k1, k2 := testKeys(t, 1), testKeys(t, 2)
	h := k1.HashRecoveryCode("u1", "abcde-fghij")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("hash %q is not 64 hex digits", h)
	}
	if h != testKeys(t, 1).HashRecoveryCode("u1", "abcde-fghij") {
		t.Error("the hash is not deterministic")
	}
	if h != k1.HashRecoveryCode("u1", "ABCDE FGHIJ") {
		t.Error("the hash of an unnormalized spelling differs")
	}
	for name, other := range map[string]string{
		"other user":       k1.HashRecoveryCode("u2", "abcde-fghij"),
		"other key":        k2.HashRecoveryCode("u1", "abcde-fghij"),
		"other code":       k1.HashRecoveryCode("u1", "abcde-fghik"),
		"shifted boundary": k1.HashRecoveryCode("u1a", "bcde-fghij"),
	} {
		if other == h {
			t.Errorf("%s: same hash", name)
		}
	}
	// A code that does not normalize is still hashed, and matches no normal code.
	raw := k1.HashRecoveryCode("u1", "abcde-fghi1")
	if len(raw) != 64 || raw == h || raw != k1.HashRecoveryCode("u1", "abcde-fghi1") {
		t.Errorf("hash of a malformed code: %q", raw)
	}
}
