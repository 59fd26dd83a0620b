package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/toktok/toktok/secretfile"
)

const (
	minRSABits   = 2048
	minHMACBytes = 32
)

// Key is a key bound to one Alg. A signing key holds the private key (or, for
// HS256, the secret of at least 32 bytes); a verify-only key (see Key.Public,
// NewKey with a public key, LoadVerifyKeyFile) holds the public key and is
// only useful as one of New's extraVerifyKeys.
//
// A Key is immutable and safe for concurrent use. Its String method never
// reveals key material, so a Key may be logged.
type Key struct {
	alg    Alg
	signer any // *ecdsa.PrivateKey, ed25519.PrivateKey, *rsa.PrivateKey or []byte; nil if verify-only
	verify any // *ecdsa.PublicKey, ed25519.PublicKey, *rsa.PublicKey or []byte
	kid    string
	jwk    *jwk // public JWK; nil for HS256, whose key must never be published
}

// jwk is the RFC 7517 public JWK of a key, in the member order of RFC 7638
// thumbprints followed by the metadata members.
type jwk struct {
	Crv string `json:"crv,omitempty"`
	E   string `json:"e,omitempty"`
	Kty string `json:"kty"`
	N   string `json:"n,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg Alg    `json:"alg"`
	Use string `json:"use"`
}

// KID is the key id carried in the "kid" header of every token signed with
// the key and used to select the verification key.
//
// For asymmetric keys it is the RFC 7638 JWK thumbprint (base64url SHA-256),
// so it is derived from the public key alone and any party can recompute it.
// For HS256 it is the base64url encoding of the first 12 bytes of
// SHA-256("toktok-hs256-kid" || secret): stable across restarts, distinct per
// secret, and, being a truncated salted hash of a high-entropy secret,
// useless for recovering it.
func (k *Key) KID() string { return k.kid }

// Alg is the one algorithm the key signs and verifies with.
func (k *Key) Alg() Alg { return k.alg }

// Public returns a verify-only copy of k, suitable for New's extraVerifyKeys
// once k is retired as the signing key. For HS256 verifying requires the
// secret itself, so the copy still holds it.
func (k *Key) Public() *Key {
	return &Key{alg: k.alg, verify: k.verify, kid: k.kid, jwk: k.jwk}
}

// String describes the key without revealing key material.
func (k *Key) String() string {
	kind := "signing"
	if k.signer == nil {
		kind = "verify-only"
	}
	return fmt.Sprintf("token.Key(%s %s, kid=%s)", kind, k.alg, k.kid)
}

// GoString is String, so that %#v cannot dump a private key or secret either.
func (k *Key) GoString() string { return k.String() }

// NewKey wraps an in-memory key for alg. Accepted values are
// *ecdsa.PrivateKey and *ecdsa.PublicKey on P-256 for ES256,
// ed25519.PrivateKey and ed25519.PublicKey for EdDSA, *rsa.PrivateKey and
// *rsa.PublicKey of at least 2048 bits for PS256 and RS256, and a []byte
// secret of at least 32 bytes for HS256 (copied). Public keys yield
// verify-only Keys.
func NewKey(alg Alg, key any) (*Key, error) {
	if !alg.valid() {
		return nil, fmt.Errorf("token: unsupported signing algorithm %q", alg)
	}
	k := &Key{alg: alg}
	var err error
	switch key := key.(type) {
	case *ecdsa.PrivateKey:
		if key != nil {
			k.signer = key
			err = k.setECDSA(&key.PublicKey)
		}
	case *ecdsa.PublicKey:
		err = k.setECDSA(key)
	case ed25519.PrivateKey:
		if len(key) != ed25519.PrivateKeySize {
			return nil, errors.New("token: malformed Ed25519 private key")
		}
		k.signer = key
		err = k.setEd25519(key.Public().(ed25519.PublicKey))
	case ed25519.PublicKey:
		err = k.setEd25519(key)
	case *rsa.PrivateKey:
		if key != nil {
			k.signer = key
			err = k.setRSA(&key.PublicKey)
		}
	case *rsa.PublicKey:
		err = k.setRSA(key)
	case []byte:
		if alg != HS256 {
			return nil, fmt.Errorf("token: a secret cannot be used with %s, only with HS256", alg)
		}
		if len(key) < minHMACBytes {
			return nil, fmt.Errorf("token: HS256 secret is %d bytes, need at least %d", len(key), minHMACBytes)
		}
		secret := bytes.Clone(key)
		k.signer, k.verify = secret, secret
		sum := sha256.Sum256(append([]byte("toktok-hs256-kid"), secret...))
		k.kid = base64.RawURLEncoding.EncodeToString(sum[:12])
		return k, nil
	default:
		return nil, fmt.Errorf("token: unsupported key type %T", key)
	}
	if err != nil {
		return nil, err
	}
	if k.verify == nil {
		return nil, errors.New("token: nil key")
	}
	return k, nil
}

func (k *Key) setECDSA(pub *ecdsa.PublicKey) error {
	if k.alg != ES256 {
		return fmt.Errorf("token: an ECDSA key cannot be used with %s", k.alg)
	}
	if pub == nil {
		return errors.New("token: nil key")
	}
	if pub.Curve != elliptic.P256() {
		return fmt.Errorf("token: ES256 needs a P-256 key, got %s", pub.Curve.Params().Name)
	}
	point, err := pub.Bytes() // 0x04 || X || Y, each 32 bytes as RFC 7518 requires
	if err != nil {
		return fmt.Errorf("token: invalid P-256 public key: %w", err)
	}
	k.verify = pub
	k.setJWK(&jwk{
		Crv: "P-256",
		Kty: "EC",
		X:   b64(point[1:33]),
		Y:   b64(point[33:]),
	})
	return nil
}

func (k *Key) setEd25519(pub ed25519.PublicKey) error {
	if k.alg != EdDSA {
		return fmt.Errorf("token: an Ed25519 key cannot be used with %s", k.alg)
	}
	if len(pub) != ed25519.PublicKeySize {
		return errors.New("token: malformed Ed25519 public key")
	}
	k.verify = pub
	k.setJWK(&jwk{Crv: "Ed25519", Kty: "OKP", X: b64(pub)})
	return nil
}

func (k *Key) setRSA(pub *rsa.PublicKey) error {
	if k.alg != PS256 && k.alg != RS256 {
		return fmt.Errorf("token: an RSA key cannot be used with %s", k.alg)
	}
	if pub == nil || pub.N == nil {
		return errors.New("token: nil key")
	}
	if bits := pub.N.BitLen(); bits < minRSABits {
		return fmt.Errorf("token: RSA key is %d bits, need at least %d", bits, minRSABits)
	}
	k.verify = pub
	k.setJWK(&jwk{E: b64(big.NewInt(int64(pub.E)).Bytes()), Kty: "RSA", N: b64(pub.N.Bytes())})
	return nil
}

// setJWK records the public JWK and derives the kid from it. The thumbprint
// input is the JSON of the required members only, in lexicographic order and
// without whitespace (RFC 7638 §3.2); json.Marshal of a jwk whose metadata
// members are still empty is not that, so it is spelled out.
func (k *Key) setJWK(j *jwk) {
	var canonical string
	switch j.Kty {
	case "EC":
		canonical = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "OKP":
		canonical = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "RSA":
		canonical = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	}
	sum := sha256.Sum256([]byte(canonical))
	k.kid = b64(sum[:])
	j.Kid, j.Alg, j.Use = k.kid, k.alg, "sig"
	k.jwk = j
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// LoadKeyFile reads the signing key for alg from a file.
//
// For asymmetric algorithms the file is PEM: PKCS#8 "PRIVATE KEY" (P-256,
// Ed25519 or RSA), SEC1 "EC PRIVATE KEY" (an "EC PARAMETERS" block before it,
// as openssl ecparam writes, is skipped) or PKCS#1 "RSA PRIVATE KEY".
// Encrypted keys are not supported. The key type must fit alg: P-256 for
// ES256, Ed25519 for EdDSA, RSA of at least 2048 bits for PS256 and RS256.
//
// For HS256 the file holds the raw secret, at least 32 bytes after trailing
// CR/LF characters are trimmed (editors add them; a secret that really ends
// in a newline is not worth the surprise). A file that looks like PEM is
// refused: an HS256 "secret" that is in fact a public key file is the
// algorithm-confusion attack waiting to happen.
func LoadKeyFile(alg Alg, path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	k, err := parseKey(alg, data, false)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return k, nil
}

// LoadVerifyKeyFile reads a verification key for alg, for use in New's
// extraVerifyKeys while rotating keys. It accepts everything LoadKeyFile
// does plus PEM "PUBLIC KEY" (PKIX) and "RSA PUBLIC KEY" (PKCS#1) blocks, so
// that a retired private key can be discarded and only its public half kept.
// The result is always verify-only.
func LoadVerifyKeyFile(alg Alg, path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	k, err := parseKey(alg, data, true)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return k.Public(), nil
}

// LoadOrGenerateKey is for development modes, where nobody provisions keys:
// it loads the key for alg stored at path, generating and storing one first
// if the file does not exist (via secretfile.LoadOrCreate, so processes
// starting together on one data directory agree on a single key). Generated
// keys are PKCS#8 PEM (RSA keys are 2048 bits); HS256 secrets are 32 random
// bytes stored as unpadded base64url text, which is the secret as
// LoadKeyFile reads it, so the file can later be used in production mode
// unchanged. created reports whether this call generated the key.
func LoadOrGenerateKey(alg Alg, path string) (key *Key, created bool, err error) {
	if !alg.valid() {
		return nil, false, fmt.Errorf("token: unsupported signing algorithm %q", alg)
	}
	data, created, err := secretfile.LoadOrCreate(path, func() ([]byte, error) {
		return generateKeyFile(alg)
	})
	if err != nil {
		return nil, false, fmt.Errorf("token: %w", err)
	}
	key, err = parseKey(alg, data, false)
	if err != nil {
		// Most likely the file was generated for another algorithm; keep it
		// for the operator to inspect rather than overwrite it.
		return nil, false, fmt.Errorf("%w (key file %s)", err, path)
	}
	return key, created, nil
}

func generateKeyFile(alg Alg) ([]byte, error) {
	var priv any
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case PS256, RS256:
		priv, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case HS256:
		secret := make([]byte, 32)
		rand.Read(secret)
		return []byte(b64(secret) + "\n"), nil
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey parses key file contents for alg; allowPublic additionally
// accepts public-key PEM blocks.
func parseKey(alg Alg, data []byte, allowPublic bool) (*Key, error) {
	if !alg.valid() {
		return nil, fmt.Errorf("token: unsupported signing algorithm %q", alg)
	}
	if alg == HS256 {
		secret := bytes.TrimRight(data, "\r\n")
		if bytes.HasPrefix(bytes.TrimSpace(secret), []byte("-----BEGIN")) {
			return nil, errors.New("token: HS256 key file holds PEM, not a raw secret")
		}
		return NewKey(alg, secret)
	}

	var key any
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		if _, ok := block.Headers["Proc-Type"]; ok {
			return nil, errors.New("token: encrypted PEM keys are not supported")
		}
		if key != nil {
			return nil, errors.New("token: key file holds more than one key")
		}
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PUBLIC KEY":
			if !allowPublic {
				return nil, errors.New("token: key file holds a public key; signing needs the private key")
			}
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			if !allowPublic {
				return nil, errors.New("token: key file holds a public key; signing needs the private key")
			}
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		default:
			return nil, fmt.Errorf("token: unsupported PEM block %q", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("token: parsing %s: %w", block.Type, err)
		}
	}
	if key == nil {
		return nil, errors.New("token: no PEM key found")
	}
	return NewKey(alg, key)
}
