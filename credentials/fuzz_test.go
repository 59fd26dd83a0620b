package credentials

import (
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzBox is a Box on the package's test key; f fails if it cannot be built.
func fuzzBox(f *testing.F) *Box {
	f.Helper()
	b, err := New(testKey())
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// FuzzDecrypt: any string given as an encrypted credential either decrypts to what a client
// encrypted under the key (one of the ciphertexts made here, in any spelling Decrypt
// documents: either base64 alphabet, padding or not, white space around) or is refused
// with ErrUndecryptable and nothing else. A random string that decrypts is a failure: it
// would let garbage through as a password.
func FuzzDecrypt(f *testing.F) {
	b := fuzzBox(f)
	issued := map[string]string{} // ciphertext bytes -> plaintext
	for _, pt := range []string{"", "ann@example.com", "correct horse battery staple", "\u00e9\U0001F600", "\x00\r\n", strings.Repeat("x", b.Capacity())} {
		ct, err := Encrypt(b.PublicKey(), pt)
		if err != nil {
			f.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(ct)
		if err != nil {
			f.Fatal(err)
		}
		issued[string(raw)] = pt
		if got, err := b.Decrypt(ct); err != nil || got != pt {
			f.Fatalf("Decrypt(Encrypt(%+q)) = %+q, %v", pt, got, err)
		}
		f.Add(ct)
		f.Add(base64.RawURLEncoding.EncodeToString(raw))
		f.Add(" " + ct + "\n")
		f.Add(ct[:len(ct)-4] + "AAA=")
		f.Add(strings.ToUpper(ct))
	}
	for _, s := range []string{
		"", " ", "=", "====", "\x00", "\xff\xfe", "not base64!", strings.Repeat("A", 342) + "==",
		strings.Repeat("A", 344), strings.Repeat("/", 343), strings.Repeat("-", 343), strings.Repeat("A", 5000),
		strings.Repeat("AAAA\n", 86), "ann@example.com", "correct horse battery staple",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pt, err := b.Decrypt(s)
		if err != nil {
			if !errors.Is(err, ErrUndecryptable) || err.Error() != ErrUndecryptable.Error() {
				t.Fatalf("Decrypt(%+q) = %v; every refusal must be ErrUndecryptable alone (no oracle)", s, err)
			}
			return
		}
		raw, ok := decodeAnyBase64(strings.TrimSpace(s))
		want, known := issued[string(raw)]
		switch {
		case !ok || !known:
			t.Fatalf("Decrypt(%+q) = %+q: a value nobody encrypted was accepted", s, pt)
		case pt != want:
			t.Fatalf("Decrypt(%+q) = %+q, but it encrypts %+q", s, pt, want)
		case !utf8.ValidString(pt):
			t.Fatalf("Decrypt(%+q) = %+q is not UTF-8", s, pt)
		}
	})
}

// decodeAnyBase64 reads base64 in either alphabet with or without padding, the spellings
// Decrypt documents, with the standard library only.
func decodeAnyBase64(s string) ([]byte, bool) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}

// FuzzEncryptRoundTrip: any plaintext up to Capacity bytes encrypts, and its ciphertext
// decrypts back to it, in both base64 alphabets, if it is UTF-8 (credentials are text);
// one that is not UTF-8 is refused. A longer plaintext does not encrypt: the published
// limit is the real one.
func FuzzEncryptRoundTrip(f *testing.F) {
	b := fuzzBox(f)
	for _, s := range []string{
		"", "a", "ann@example.com", "\u00e9", "\x00", "\xff", "\xc3", "\xed\xa0\x80", "\r\n\t ",
		strings.Repeat("x", b.Capacity()), strings.Repeat("x", b.Capacity()+1), strings.Repeat("\u00e9", b.Capacity()/2),
		strings.Repeat("\U0001F600", b.Capacity()/4), strings.Repeat("x", 4096),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, pt []byte) {
		ct, err := Encrypt(b.PublicKey(), string(pt))
		if len(pt) > b.Capacity() {
			if !errors.Is(err, rsa.ErrMessageTooLong) {
				t.Fatalf("Encrypt of %d bytes (capacity %d) = %v; want ErrMessageTooLong", len(pt), b.Capacity(), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Encrypt of %d bytes (capacity %d): %v", len(pt), b.Capacity(), err)
		}
		raw, err := base64.StdEncoding.DecodeString(ct)
		if err != nil {
			t.Fatal(err)
		}
		for _, spelling := range []string{ct, base64.RawURLEncoding.EncodeToString(raw)} {
			got, err := b.Decrypt(spelling)
			if !utf8.Valid(pt) {
				if !errors.Is(err, ErrUndecryptable) {
					t.Fatalf("non-UTF-8 plaintext %+q decrypted as %+q, %v", pt, got, err)
				}
				continue
			}
			if err != nil || got != string(pt) {
				t.Fatalf("Decrypt(Encrypt(%+q)) = %+q, %v", pt, got, err)
			}
		}
	})
}

// FuzzDecryptJWE: any string given to an ECDH-ES Box either is one of the JWEs a client
// made here (white space around allowed) and decrypts to its value, or is refused with
// ErrUndecryptable alone. Mutating a genuine JWE (header, IV, ciphertext or tag) never
// yields a value.
func FuzzDecryptJWE(f *testing.F) {
	b, err := NewECDH(testECKey())
	if err != nil {
		f.Fatal(err)
	}
	issued := map[string]string{}
	for _, pt := range []string{"", "ann@example.com", "correct horse battery staple", "\u00e9\U0001F600", strings.Repeat("x", 3000)} {
		ct, err := b.Encrypt(pt)
		if err != nil {
			f.Fatal(err)
		}
		issued[canonicalJWE(ct)] = pt
		f.Add(ct)
		f.Add(" " + ct + "\n")
		f.Add(ct[:len(ct)-3] + "AAA")
		f.Add(strings.Replace(ct, "..", ".AAAA.", 1))
	}
	for _, s := range []string{"", ".", "....", "a.b.c.d.e", "eyJhbGciOiJFQ0RILUVTIn0....", strings.Repeat(".", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pt, err := b.Decrypt(s)
		if err != nil {
			if !errors.Is(err, ErrUndecryptable) || err.Error() != ErrUndecryptable.Error() {
				t.Fatalf("Decrypt(%+q) = %v; every refusal must be ErrUndecryptable alone (no oracle)", s, err)
			}
			return
		}
		want, known := issued[canonicalJWE(strings.TrimSpace(s))]
		switch {
		case !known:
			t.Fatalf("Decrypt(%+q) = %+q: a value nobody encrypted was accepted", s, pt)
		case pt != want:
			t.Fatalf("Decrypt(%+q) = %+q, but it encrypts %+q", s, pt, want)
		}
	})
}

// canonicalJWE re-spells each base64url part of a compact JWE canonically: the decoder
// ignores the unused low bits of a last character, so two spellings can carry the same
// bytes, and the same JWE.
func canonicalJWE(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return s
		}
		parts[i] = base64.RawURLEncoding.EncodeToString(b)
	}
	return strings.Join(parts, ".")
}
