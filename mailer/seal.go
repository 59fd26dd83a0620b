package mailer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/toktok/toktok/store"
)

// Sealer encrypts the bodies of outbox mails at rest (AES-256-GCM), so the link tokens
// they carry are never readable in the store or its backups: the raw token exists only in
// the request that makes it and in the worker that sends it. The key is derived from a
// secret every instance shares (the refresh-token secret), because any instance's worker
// may send any mail; changing that secret makes queued mails unsendable (they fail and are
// logged), as it already ends every session.
type Sealer struct {
	aead cipher.AEAD
}

const sealedPrefix = "sealed:v1:"

// ErrUnsealable is returned for a sealed body that does not open under the key.
var ErrUnsealable = errors.New("mailer: the mail body does not open under the outbox key")

// NewSealer derives the outbox key from secret (at least 32 bytes) with HKDF-SHA256.
func NewSealer(secret []byte) (*Sealer, error) {
	if len(secret) < 32 {
		return nil, errors.New("mailer: outbox secret shorter than 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "toktok outbox v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns m with its text and HTML bodies sealed, bound to the mail's ID (a body
// moved to another mail does not open).
func (s *Sealer) Seal(m store.Mail) store.Mail {
	m.Text = s.seal(m.ID, m.Text)
	m.HTML = s.seal(m.ID, m.HTML)
	return m
}

// Open returns m with its bodies opened. Bodies that are not sealed (mails queued before
// Queue made sealing mandatory) are returned as they are.
func (s *Sealer) Open(m store.Mail) (store.Mail, error) {
	var err error
	if m.Text, err = s.open(m.ID, m.Text); err != nil {
		return m, err
	}
	if m.HTML, err = s.open(m.ID, m.HTML); err != nil {
		return m, err
	}
	return m, nil
}

func (s *Sealer) seal(id, body string) string {
	if body == "" {
		return ""
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out := s.aead.Seal(nonce, nonce, []byte(body), []byte(id))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(out)
}

func (s *Sealer) open(id, body string) (string, error) {
	enc, ok := strings.CutPrefix(body, sealedPrefix)
	if !ok {
		return body, nil
	}
	raw, err := base64.RawStdEncoding.DecodeString(enc)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", ErrUnsealable
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(id))
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsealable, err)
	}
	return string(plain), nil
}
