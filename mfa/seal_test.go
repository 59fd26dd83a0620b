package mfa

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
)

func testKeys(t *testing.T, fill byte) *Keys {
	t.Helper()
	k, err := NewKeys(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestNewKeysRefusesShortSecret(t *testing.T) {
	if _, err := NewKeys(make([]byte, 31)); err == nil {
		t.Error("NewKeys accepted a 31-byte secret")
	}
}

func TestSealOpen(t *testing.T) {
	k := testKeys(t, 1)
	plain := []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
	sealed := k.Seal("u1", "f1", plain)
	if len(sealed) != 12+len(plain)+16 {
		t.Errorf("sealed length %d, want nonce 12 + %d + tag 16", len(sealed), len(plain))
	}
	if bytes.Contains(sealed, plain) {
		t.Error("the sealed value contains the plaintext")
	}
	got, err := k.Open("u1", "f1", sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("Open = %q, %v; want %q", got, err, plain)
	}
	if again := k.Seal("u1", "f1", plain); bytes.Equal(again, sealed) || bytes.Equal(again[:12], sealed[:12]) {
		t.Error("two seals of the same plaintext share their bytes or nonce")
	}
	// Another instance from the same secret opens it: the key is derived, not random.
	if got, err := testKeys(t, 1).Open("u1", "f1", sealed); err != nil || !bytes.Equal(got, plain) {
		t.Errorf("Keys from the same secret: Open = %q, %v", got, err)
	}
	if got, err := k.Open("u", "u", k.Seal("u", "u", nil)); err != nil || len(got) != 0 {
		t.Errorf("empty plaintext: Open = %q, %v", got, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	k := testKeys(t, 1)
	sealed := k.Seal("user1", "factor1", []byte("secret"))
	cases := map[string]func() ([]byte, error){
		"other user":   func() ([]byte, error) { return k.Open("user2", "factor1", sealed) },
		"other factor": func() ([]byte, error) { return k.Open("user1", "factor2", sealed) },
		"swapped ids":  func() ([]byte, error) { return k.Open("factor1", "user1", sealed) },
		// Without length prefixes "user1"+"factor1" would equal "user1f"+"actor1".
		"shifted boundary": func() ([]byte, error) { return k.Open("user1f", "actor1", sealed) },
		"other keys":       func() ([]byte, error) { return testKeys(t, 2).Open("user1", "factor1", sealed) },
		"empty":            func() ([]byte, error) { return k.Open("user1", "factor1", nil) },
		"truncated":        func() ([]byte, error) { return k.Open("user1", "factor1", sealed[:len(sealed)-1]) },
		"nonce only":       func() ([]byte, error) { return k.Open("user1", "factor1", sealed[:12]) },
	}
	for i := range sealed {
		tampered := bytes.Clone(sealed)
		tampered[i] ^= 0x01
		cases[fmt.Sprintf("tampered byte %d", i)] = func() ([]byte, error) {
			return k.Open("user1", "factor1", tampered)
		}
	}
	for name, open := range cases {
		if got, err := open(); !errors.Is(err, ErrUnsealable) {
			t.Errorf("%s: Open = %q, %v; want ErrUnsealable", name, got, err)
		}
	}
}

// TestKeyDerivation rebuilds both keys from the secret with HKDF-SHA256 and the
// documented labels: the AES-256-GCM key opens what Seal made, the HMAC key gives what
// HashRecoveryCode gives, and the two keys differ.
func TestKeyDerivation(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 40)
	k, err := NewKeys(secret)
	if err != nil {
		t.Fatal(err)
	}
	sealKey, _ := hkdf.Key(sha256.New, secret, nil, "toktok mfa seal v1", 32)
	recKey, _ := hkdf.Key(sha256.New, secret, nil, "toktok recovery v1", 32)
	if bytes.Equal(sealKey, recKey) {
		t.Fatal("the two derived keys are equal")
	}
	block, _ := aes.NewCipher(sealKey)
	gcm, _ := cipher.NewGCM(block)
	sealed := k.Seal("ab", "c", []byte("totp secret"))
	ad := []byte("\x00\x00\x00\x00\x00\x00\x00\x02ab\x00\x00\x00\x00\x00\x00\x00\x01c")
	plain, err := gcm.Open(nil, sealed[:12], sealed[12:], ad)
	if err != nil || string(plain) != "totp secret" {
		t.Errorf("independent AES-GCM open: %q, %v", plain, err)
	}
	m := hmac.New(sha256.New, recKey)
	m.Write([]byte("\x00\x00\x00\x00\x00\x00\x00\x02u1\x00\x00\x00\x00\x00\x00\x00\x0babcde-fghij"))
	if want := hex.EncodeToString(m.Sum(nil)); k.HashRecoveryCode("u1", "abcde-fghij") != want {
		t.Errorf("HashRecoveryCode differs from an independent HMAC")
	}
}
