// Package credentials implements the original service's --salt option: SPA clients encrypt
// the credential fields (email and password of register and login, every current and new
// password, forgotPassword's and changeEmail's address) with the service's public key, so
// the values are not readable by anything between the browser and this process that
// terminates TLS early or logs bodies.
//
// Two schemes, chosen by --salt-alg:
//
//   - ECDH-ES with A256GCM on P-256 (the default): each field is a JWE compact
//     serialization (RFC 7516) of the UTF-8 value, protected header alg "ECDH-ES", enc
//     "A256GCM" and the key's kid. The key agreement and the decryption are go-jose's. One
//     P-256 agreement costs tens of microseconds where an RSA-3072 decryption costs
//     milliseconds.
//   - RSA-OAEP with SHA-256 (rsa-oaep-256): each field is base64 of the ciphertext, what
//     WebCrypto's RSA-OAEP gives; for front ends written for the original scheme.
//
// The key pair must be the same on every instance and across restarts, or clients holding
// the published key would fail; it comes from a file. Keys listed as previous still
// decrypt (rotation): a JWE names its key by kid, an RSA ciphertext is tried on each key.
package credentials

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/toktok/toktok/secretfile"
)

// The names published in authConfig.encryptionAlgorithm.
const (
	AlgorithmECDH = "ECDH-ES+A256GCM"
	AlgorithmRSA  = "RSA-OAEP-256"
)

// ErrUndecryptable is returned for any input that is not a ciphertext of the scheme under
// one of the keys. Callers must answer it exactly like a wrong credential (no oracle).
var ErrUndecryptable = errors.New("credentials: undecryptable value")

// Bounds on the input, so a huge string costs nothing before being refused. An RSA
// ciphertext is one block; a JWE carries the value itself, up to a password of 4096 code
// points of 4 bytes (the policy's ceiling), in base64url, plus its header.
const (
	maxRSACiphertext = 4096
	maxJWE           = 24 << 10
)

type key struct {
	kid string
	rsa *rsa.PrivateKey
	ec  *ecdsa.PrivateKey
}

// Box decrypts credential fields under its current key and its previous ones.
type Box struct {
	alg       string
	keys      []key // the current key first
	publicPEM string
	jwk       map[string]any
}

// New wraps an RSA key (RSA-OAEP-256) of at least 2048 bits.
func New(k *rsa.PrivateKey) (*Box, error) { return newBox(k) }

// NewECDH wraps a P-256 key (ECDH-ES+A256GCM).
func NewECDH(k *ecdsa.PrivateKey) (*Box, error) { return newBox(k) }

func newBox(priv crypto.PrivateKey) (*Box, error) {
	k, err := makeKey(priv)
	if err != nil {
		return nil, err
	}
	b := &Box{keys: []key{k}}
	var pub crypto.PublicKey
	if k.rsa != nil {
		b.alg, pub = AlgorithmRSA, &k.rsa.PublicKey
	} else {
		b.alg, pub = AlgorithmECDH, &k.ec.PublicKey
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	b.publicPEM = string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	jwkAlg := "ECDH-ES"
	if k.rsa != nil {
		jwkAlg = AlgorithmRSA
	}
	raw, err := json.Marshal(jose.JSONWebKey{Key: pub, KeyID: k.kid, Use: "enc", Algorithm: jwkAlg})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	if err := json.Unmarshal(raw, &b.jwk); err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return b, nil
}

// makeKey checks a private key and names it by its RFC 7638 thumbprint.
func makeKey(priv crypto.PrivateKey) (key, error) {
	var k key
	var pub crypto.PublicKey
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if p.N.BitLen() < 2048 {
			return k, fmt.Errorf("credentials: RSA key of %d bits, 2048 at least", p.N.BitLen())
		}
		k.rsa, pub = p, &p.PublicKey
	case *ecdsa.PrivateKey:
		if p.Curve != elliptic.P256() {
			return k, fmt.Errorf("credentials: EC key on %s, P-256 required", p.Curve.Params().Name)
		}
		k.ec, pub = p, &p.PublicKey
	default:
		return k, fmt.Errorf("credentials: %T is neither an RSA nor a P-256 key", priv)
	}
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return k, fmt.Errorf("credentials: %w", err)
	}
	k.kid = base64.RawURLEncoding.EncodeToString(tp)
	return k, nil
}

// LoadKeyFile reads a PEM private key: RSA (PKCS#8 or PKCS#1, ≥ 2048 bits) gives the
// RSA-OAEP-256 scheme, EC P-256 (PKCS#8 or SEC 1) the ECDH-ES one.
func LoadKeyFile(path string) (*Box, error) {
	priv, err := readKey(path)
	if err != nil {
		return nil, err
	}
	return newBox(priv)
}

// LoadOrGenerate is for development modes: it loads the key at path, generating and
// persisting one for alg the first time (safe when several processes race): P-256 for
// AlgorithmECDH, RSA-3072 for AlgorithmRSA.
func LoadOrGenerate(alg, path string) (*Box, bool, error) {
	data, created, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		var k crypto.PrivateKey
		var err error
		switch alg {
		case AlgorithmECDH:
			k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case AlgorithmRSA:
			k, err = rsa.GenerateKey(rand.Reader, 3072)
		default:
			err = fmt.Errorf("unknown algorithm %q", alg)
		}
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
	priv, err := parseKey(data)
	if err != nil {
		return nil, false, fmt.Errorf("credentials: %s: %w", path, err)
	}
	b, err := newBox(priv)
	if err == nil && b.alg != alg {
		err = fmt.Errorf("credentials: %s holds a key for %s, not %s", path, b.alg, alg)
	}
	return b, created, err
}

// AddPrevious makes the keys of paths decrypt too (a rotation: clients may still hold the
// key published before). They must be of the Box's kind.
func (b *Box) AddPrevious(paths ...string) error {
	for _, p := range paths {
		priv, err := readKey(p)
		if err != nil {
			return err
		}
		k, err := makeKey(priv)
		if err != nil {
			return fmt.Errorf("%w (%s)", err, p)
		}
		if (k.rsa != nil) != (b.alg == AlgorithmRSA) {
			return fmt.Errorf("credentials: previous key %s is not a key for %s", p, b.alg)
		}
		b.keys = append(b.keys, k)
	}
	return nil
}

func readKey(path string) (crypto.PrivateKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	k, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("credentials: %s: %w", path, err)
	}
	return k, nil
}

func parseKey(data []byte) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block in the key file")
	}
	switch block.Type {
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("PEM block %q is not an RSA or EC private key", block.Type)
}

// Algorithm is what authConfig.encryptionAlgorithm publishes.
func (b *Box) Algorithm() string { return b.alg }

// KeyID is the current key's kid (its RFC 7638 thumbprint, base64url).
func (b *Box) KeyID() string { return b.keys[0].kid }

// Capacity is the largest plaintext in bytes one ciphertext carries: for RSA-OAEP-SHA256
// the key size - 2*32 - 2 (so authConfig publishes no longer password limit), 0 for JWE,
// which adds no limit.
func (b *Box) Capacity() int {
	if k := b.keys[0].rsa; k != nil {
		return k.Size() - 2*sha256.Size - 2
	}
	return 0
}

// PublicKeyPEM is the SPKI PEM that authConfig.encryptionKey publishes.
func (b *Box) PublicKeyPEM() string { return b.publicPEM }

// PublicJWK is the current public key as a JWK with kid, use "enc" and alg, what
// authConfig.encryptionJwk publishes. The map is the caller's.
func (b *Box) PublicJWK() map[string]any {
	out := make(map[string]any, len(b.jwk))
	for k, v := range b.jwk {
		out[k] = v
	}
	return out
}

// Decrypt returns the UTF-8 plaintext of a credential field. Any failure is
// ErrUndecryptable.
func (b *Box) Decrypt(value string) (string, error) {
	value = strings.TrimSpace(value)
	var pt []byte
	var ok bool
	if b.alg == AlgorithmECDH {
		pt, ok = b.decryptJWE(value)
	} else {
		pt, ok = b.decryptRSA(value)
	}
	if !ok || !utf8.Valid(pt) {
		return "", ErrUndecryptable
	}
	return string(pt), nil
}

// decryptJWE opens a JWE compact serialization: ECDH-ES, A256GCM, no compression, the
// key named by kid (any key when kid is absent).
func (b *Box) decryptJWE(value string) ([]byte, bool) {
	// Five parts, the encrypted key empty: ECDH-ES agrees on the content key directly
	// (RFC 7516 §5.1 step 6), and go-jose would ignore what stands there.
	if value == "" || len(value) > maxJWE || strings.Count(value, ".") != 4 || strings.Split(value, ".")[1] != "" {
		return nil, false
	}
	obj, err := jose.ParseEncryptedCompact(value, []jose.KeyAlgorithm{jose.ECDH_ES}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return nil, false
	}
	if _, zip := obj.Header.ExtraHeaders["zip"]; zip {
		return nil, false
	}
	for _, k := range b.keys {
		if obj.Header.KeyID != "" && obj.Header.KeyID != k.kid {
			continue
		}
		if pt, err := obj.Decrypt(k.ec); err == nil {
			return pt, true
		}
	}
	return nil, false
}

// decryptRSA opens base64 (standard or URL alphabet, padding optional) of an
// RSA-OAEP-SHA256 ciphertext, under each key in turn.
func (b *Box) decryptRSA(value string) ([]byte, bool) {
	if value == "" || len(value) > maxRSACiphertext {
		return nil, false
	}
	ct, err := decodeBase64(value)
	if err != nil {
		return nil, false
	}
	for _, k := range b.keys {
		if len(ct) != k.rsa.Size() {
			continue
		}
		if pt, err := k.rsa.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256}); err == nil {
			return pt, true
		}
	}
	return nil, false
}

// Encrypt is what a client does with the Box's current public key (tests and tools).
func (b *Box) Encrypt(plaintext string) (string, error) {
	if k := b.keys[0]; k.rsa != nil {
		return Encrypt(&k.rsa.PublicKey, plaintext)
	}
	return EncryptJWE(&b.keys[0].ec.PublicKey, b.keys[0].kid, plaintext)
}

// Encrypt is what a client of the RSA-OAEP-256 scheme does (tests and tools).
func Encrypt(pub *rsa.PublicKey, plaintext string) (string, error) {
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte(plaintext), nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}

// EncryptJWE is what a client of the ECDH-ES scheme does (tests and tools): a JWE compact
// serialization of plaintext, ECDH-ES with A256GCM, kid in the protected header.
func EncryptJWE(pub *ecdsa.PublicKey, kid, plaintext string) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES, Key: pub, KeyID: kid}, nil)
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt([]byte(plaintext))
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// EncryptForJWK encrypts plaintext for the public key authConfig.encryptionJwk published
// (either scheme), as a client does (tools: the load generator, the walk-through helper).
func EncryptForJWK(jwkJSON []byte, plaintext string) (string, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(jwkJSON); err != nil {
		return "", fmt.Errorf("credentials: the JWK: %w", err)
	}
	switch pub := k.Key.(type) {
	case *ecdsa.PublicKey:
		return EncryptJWE(pub, k.KeyID, plaintext)
	case *rsa.PublicKey:
		return Encrypt(pub, plaintext)
	}
	return "", fmt.Errorf("credentials: the JWK holds a %T, not a public RSA or P-256 key", k.Key)
}

// PublicKey returns the current RSA public key, nil for an ECDH Box (tests and tools).
func (b *Box) PublicKey() *rsa.PublicKey {
	if k := b.keys[0].rsa; k != nil {
		return &k.PublicKey
	}
	return nil
}

func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
}
