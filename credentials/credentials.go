// Package credentials implements the original service's --salt option: SPA clients encrypt
// the email and password fields of register and login with the service's RSA public key
// (RSA-OAEP with SHA-256, what WebCrypto's RSA-OAEP does), so the values are not readable
// by anything between the browser and this process that terminates TLS early or logs
// bodies. The key pair must be the same on every instance and across restarts, or clients
// holding the published key would fail; it therefore comes from a file.
package credentials

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/toktok/toktok/secretfile"
)

// Algorithm is the name published in authConfig.encryptionAlgorithm.
const Algorithm = "RSA-OAEP-256"

// ErrUndecryptable is returned for any input that is not base64 of a ciphertext under the
// key. Callers must answer it exactly like a wrong credential (no oracle).
var ErrUndecryptable = errors.New("credentials: undecryptable value")

// maxCiphertext bounds the input so a huge string costs nothing before being refused.
const maxCiphertext = 4096

// Box decrypts credential fields.
type Box struct {
	key       *rsa.PrivateKey
	publicPEM string
}

// LoadKeyFile reads a PEM RSA private key (PKCS#8 or PKCS#1) of at least 2048 bits.
func LoadKeyFile(path string) (*Box, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return parse(data)
}

// LoadOrGenerate is for development modes: it loads the key at path, generating and
// persisting a 3072-bit key the first time (safe when several processes race).
func LoadOrGenerate(path string) (*Box, bool, error) {
	data, created, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		k, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("credentials: %w", err)
	}
	b, err := parse(data)
	return b, created, err
}

// New wraps an existing key (tests).
func New(key *rsa.PrivateKey) (*Box, error) {
	if key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("credentials: RSA key of %d bits, 2048 at least", key.N.BitLen())
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return &Box{key: key, publicPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
}

func parse(data []byte) (*Box, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("credentials: no PEM block in key file")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("credentials: key file does not hold an RSA key")
		}
		key = rk
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		key = k
	default:
		return nil, fmt.Errorf("credentials: PEM block %q is not an RSA private key", block.Type)
	}
	return New(key)
}

// Capacity is the largest plaintext in bytes that one RSA-OAEP-SHA256 ciphertext under
// the key carries (key size - 2*32 - 2): a credential longer than that in UTF-8 cannot be
// sent encrypted, so authConfig publishes no longer password limit.
func (b *Box) Capacity() int { return b.key.Size() - 2*sha256.Size - 2 }

// PublicKeyPEM is the SPKI PEM that authConfig.encryptionKey publishes.
func (b *Box) PublicKeyPEM() string { return b.publicPEM }

// Decrypt returns the UTF-8 plaintext of base64 (standard or URL alphabet, padding
// optional) of an RSA-OAEP-SHA256 ciphertext. Any failure is ErrUndecryptable.
func (b *Box) Decrypt(value string) (string, error) {
	value = strings.TrimSpace(value)
	if len(value) == 0 || len(value) > maxCiphertext {
		return "", ErrUndecryptable
	}
	ct, err := decodeBase64(value)
	if err != nil || len(ct) != b.key.Size() {
		return "", ErrUndecryptable
	}
	pt, err := b.key.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || !utf8.Valid(pt) {
		return "", ErrUndecryptable
	}
	return string(pt), nil
}

// Encrypt is what a client does; the service uses it only in tests and tools.
func Encrypt(pub *rsa.PublicKey, plaintext string) (string, error) {
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte(plaintext), nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// PublicKey returns the public half (tests and tools).
func (b *Box) PublicKey() *rsa.PublicKey { return &b.key.PublicKey }

func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
