package mfa

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// Keys holds the two keys of the mfa package, both derived from one server secret with
// HKDF-SHA256 under distinct labels, so neither tells anything about the other: the
// AES-256-GCM key that seals TOTP secrets at rest ("toktok mfa seal v1") and the
// HMAC-SHA-256 key that hashes recovery codes ("toktok recovery v1"). Changing the
// secret makes every sealed TOTP secret unopenable and every stored recovery code
// unmatchable: users must enrol again.
type Keys struct {
	aead     cipher.AEAD
	recovery []byte
}

// ErrUnsealable is returned for a sealed secret that does not open under the key, or not
// for this user and factor.
var ErrUnsealable = errors.New("mfa: the sealed secret does not open under the MFA key")

// NewKeys derives the MFA keys from secret (at least 32 bytes).
func NewKeys(secret []byte) (*Keys, error) {
	if len(secret) < 32 {
		return nil, errors.New("mfa: key secret shorter than 32 bytes")
	}
	sealKey, err := hkdf.Key(sha256.New, secret, nil, "toktok mfa seal v1", 32)
	if err != nil {
		return nil, err
	}
	recKey, err := hkdf.Key(sha256.New, secret, nil, "toktok recovery v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Keys{aead: aead, recovery: recKey}, nil
}

// Seal encrypts plaintext (a TOTP secret) for storage: a random 12-byte nonce followed by
// the AES-256-GCM ciphertext and tag. The user and factor IDs are bound as additional
// data, so a sealed secret copied to another factor or user does not open.
func (k *Keys) Seal(userID, factorID string, plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	return k.aead.Seal(nonce, nonce, plaintext, lengthPrefixed(userID, factorID))
}

// Open decrypts what Seal returned for the same user and factor. Anything else (another
// key, user or factor, a changed byte, a truncated value) gives ErrUnsealable.
func (k *Keys) Open(userID, factorID string, sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, ErrUnsealable
	}
	plain, err := k.aead.Open(nil, sealed[:n], sealed[n:], lengthPrefixed(userID, factorID))
	if err != nil {
		return nil, ErrUnsealable
	}
	return plain, nil
}

// lengthPrefixed concatenates parts, each preceded by its length as 8 big-endian bytes,
// so that no two lists of parts give the same bytes ("ab","c" differs from "a","bc").
func lengthPrefixed(parts ...string) []byte {
	var out []byte
	for _, p := range parts {
		out = binary.BigEndian.AppendUint64(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}
