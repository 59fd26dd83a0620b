package credentials

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func TestRoundTripAndCapacity(t *testing.T) {
	b, err := New(testKey())
	if err != nil {
		t.Fatal(err)
	}
	if b.Capacity() != 256-66 {
		t.Fatalf("capacity %d, want 190 for RSA-2048", b.Capacity())
	}
	for _, v := range []string{"ann@example.com", "correct horse battery staple", "é", strings.Repeat("x", b.Capacity())} {
		ct, err := Encrypt(b.PublicKey(), v)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.Decrypt(ct)
		if err != nil || got != v {
			t.Fatalf("Decrypt(Encrypt(%q)) = %q, %v", v, got, err)
		}
		// URL alphabet, no padding: what some clients send.
		raw, err := base64.StdEncoding.DecodeString(ct)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Decrypt(base64.RawURLEncoding.EncodeToString(raw)); err != nil || got != v {
			t.Fatalf("URL-alphabet ciphertext: %q, %v", got, err)
		}
	}
	if _, err := Encrypt(b.PublicKey(), strings.Repeat("x", b.Capacity()+1)); err == nil {
		t.Fatal("a plaintext over capacity encrypted")
	}
}

func TestDecryptRefusesEverythingElse(t *testing.T) {
	b, err := New(testKey())
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	underOther, err := Encrypt(&other.PublicKey, "secret")
	if err != nil {
		t.Fatal(err)
	}
	sha1CT, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, b.PublicKey(), []byte("secret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1, err := rsa.EncryptPKCS1v15(rand.Reader, b.PublicKey(), []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := Encrypt(b.PublicKey(), "secret")
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(good)
	flipped[10] ^= 1
	for name, v := range map[string]string{
		"empty": "", "plain": "secret", "another key": underOther,
		"OAEP-SHA1": base64.StdEncoding.EncodeToString(sha1CT), "PKCS1v15": base64.StdEncoding.EncodeToString(pkcs1),
		"tampered": string(flipped), "huge": strings.Repeat("A", 10000), "truncated": good[:len(good)-8],
	} {
		if got, err := b.Decrypt(v); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("%s: Decrypt = %q, %v; want ErrUndecryptable", name, got, err)
		}
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	b1, created, err := LoadOrGenerate(AlgorithmRSA, filepath.Join(dir, "k.pem"))
	if err != nil || !created {
		t.Fatalf("generate: %v created=%v", err, created)
	}
	if b1.keys[0].rsa.N.BitLen() != 3072 || b1.Algorithm() != AlgorithmRSA {
		t.Fatalf("generated %d bits, want 3072", b1.keys[0].rsa.N.BitLen())
	}
	if _, _, err := LoadOrGenerate(AlgorithmECDH, filepath.Join(dir, "k.pem")); err == nil {
		t.Fatal("an RSA key file was taken for ECDH-ES")
	}
	b2, created, err := LoadOrGenerate(AlgorithmRSA, filepath.Join(dir, "k.pem"))
	if err != nil || created || b2.PublicKeyPEM() != b1.PublicKeyPEM() {
		t.Fatalf("reload: %v created=%v same=%v", err, created, b2.PublicKeyPEM() == b1.PublicKeyPEM())
	}
	pkcs1 := filepath.Join(dir, "pkcs1.pem")
	if err := os.WriteFile(pkcs1, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey())}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(pkcs1); err != nil {
		t.Fatalf("PKCS#1: %v", err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(small)
	if err != nil {
		t.Fatal(err)
	}
	weak := filepath.Join(dir, "weak.pem")
	if err := os.WriteFile(weak, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(weak); err == nil {
		t.Fatal("a 1024-bit key was accepted")
	}
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(garbage); err == nil {
		t.Fatal("garbage accepted")
	}
	block, _ := pem.Decode([]byte(b1.PublicKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatal("PublicKeyPEM is not an SPKI PEM")
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Fatal(err)
	}
}

var testECKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

func ecBox(t testing.TB) *Box {
	t.Helper()
	b, err := NewECDH(testECKey())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jweWith encrypts s for pub as a JOSE library does, with the given algorithms and kid.
func jweWith(t testing.TB, pub any, kid string, alg jose.KeyAlgorithm, enc jose.ContentEncryption, opts *jose.EncrypterOptions, s string) string {
	t.Helper()
	e, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: alg, Key: pub, KeyID: kid}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := e.Encrypt([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	c, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestECDH: the JWE scheme round-trips any value (no capacity limit), publishes its key as
// PEM and as a JWK with kid, use and alg, and refuses every other JWE.
func TestECDH(t *testing.T) {
	b := ecBox(t)
	if b.Algorithm() != AlgorithmECDH || b.Capacity() != 0 || b.PublicKey() != nil {
		t.Fatalf("algorithm %s, capacity %d", b.Algorithm(), b.Capacity())
	}
	jwk := b.PublicJWK()
	if jwk["kty"] != "EC" || jwk["crv"] != "P-256" || jwk["kid"] != b.KeyID() || jwk["use"] != "enc" || jwk["alg"] != "ECDH-ES" || jwk["d"] != nil {
		t.Fatalf("PublicJWK = %v", jwk)
	}
	raw, _ := json.Marshal(jwk)
	for _, v := range []string{"ann@example.com", "é 😀", strings.Repeat("pässwörd ", 1500)} {
		ct, err := b.Encrypt(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Decrypt(ct); err != nil || got != v {
			t.Fatalf("Decrypt(Encrypt(%.20q)) = %.20q, %v", v, got, err)
		}
		ct2, err := EncryptForJWK(raw, v)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.Decrypt(" " + ct2 + "\n"); err != nil || got != v {
			t.Fatalf("EncryptForJWK: %.20q, %v", got, err)
		}
	}
	// Without a kid the (only) key is tried.
	if got, err := b.Decrypt(jweWith(t, &testECKey().PublicKey, "", jose.ECDH_ES, jose.A256GCM, nil, "x")); err != nil || got != "x" {
		t.Fatalf("JWE without kid: %q, %v", got, err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub := &testECKey().PublicKey
	good := jweWith(t, pub, b.KeyID(), jose.ECDH_ES, jose.A256GCM, nil, "secret")
	parts := strings.Split(good, ".")
	for name, v := range map[string]string{
		"another key":     jweWith(t, &other.PublicKey, b.KeyID(), jose.ECDH_ES, jose.A256GCM, nil, "secret"),
		"an unknown kid":  jweWith(t, pub, "other", jose.ECDH_ES, jose.A256GCM, nil, "secret"),
		"A128GCM":         jweWith(t, pub, b.KeyID(), jose.ECDH_ES, jose.A128GCM, nil, "secret"),
		"A256CBC-HS512":   jweWith(t, pub, b.KeyID(), jose.ECDH_ES, jose.A256CBC_HS512, nil, "secret"),
		"ECDH-ES+A256KW":  jweWith(t, pub, b.KeyID(), jose.ECDH_ES_A256KW, jose.A256GCM, nil, "secret"),
		"dir":             jweWith(t, make([]byte, 32), b.KeyID(), jose.DIRECT, jose.A256GCM, nil, "secret"),
		"compressed":      jweWith(t, pub, b.KeyID(), jose.ECDH_ES, jose.A256GCM, (&jose.EncrypterOptions{Compression: jose.DEFLATE}), "secret"),
		"a forged tag":    strings.Join(append(parts[:4:4], "AAAAAAAAAAAAAAAAAAAAAA"), "."),
		"an altered text": strings.Join([]string{parts[0], parts[1], parts[2], "AAAAAA", parts[4]}, "."),
		"a wrapped key":   strings.Join([]string{parts[0], "AAAA", parts[2], parts[3], parts[4]}, "."),
		"JSON form":       `{"protected":"` + parts[0] + `","iv":"` + parts[2] + `","ciphertext":"` + parts[3] + `","tag":"` + parts[4] + `"}`,
		"an RSA ciphertext": func() string {
			c, _ := Encrypt(&testKey().PublicKey, "secret")
			return c
		}(),
		"too long": good + strings.Repeat("A", maxJWE),
		"empty":    "",
	} {
		if got, err := b.Decrypt(v); !errors.Is(err, ErrUndecryptable) {
			t.Errorf("%s: Decrypt = %q, %v; want ErrUndecryptable", name, got, err)
		}
	}
}

// TestRotation: previous keys of the same scheme still decrypt; another scheme's key is
// refused as a previous key.
func TestRotation(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, k any) string {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	old := ecBox(t)
	oldCT, err := old.Encrypt("kept")
	if err != nil {
		t.Fatal(err)
	}
	next, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, err := LoadKeyFile(write("new.pem", next))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt(oldCT); !errors.Is(err, ErrUndecryptable) {
		t.Fatal("the old key's ciphertext opened before the old key was listed")
	}
	if err := b.AddPrevious(write("old.pem", testECKey())); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Decrypt(oldCT); err != nil || got != "kept" || b.KeyID() == old.KeyID() {
		t.Fatalf("after rotation: %q, %v", got, err)
	}
	if err := b.AddPrevious(write("rsa.pem", testKey())); err == nil {
		t.Fatal("an RSA key was taken as a previous ECDH-ES key")
	}
	r, err := New(testKey())
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	rOld, _ := New(otherRSA)
	rCT, _ := rOld.Encrypt("kept")
	if err := r.AddPrevious(write("rsa-old.pem", otherRSA)); err != nil {
		t.Fatal(err)
	}
	if got, err := r.Decrypt(rCT); err != nil || got != "kept" {
		t.Fatalf("RSA rotation: %q, %v", got, err)
	}
	sec1 := filepath.Join(dir, "sec1.pem")
	der, _ := x509.MarshalECPrivateKey(testECKey())
	if err := os.WriteFile(sec1, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := LoadKeyFile(sec1); err != nil || b.KeyID() != old.KeyID() {
		t.Fatalf("SEC 1 key file: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := LoadKeyFile(write("p384.pem", p384)); err == nil {
		t.Fatal("a P-384 key was accepted")
	}
	if b, created, err := LoadOrGenerate(AlgorithmECDH, filepath.Join(dir, "gen.pem")); err != nil || !created || b.Algorithm() != AlgorithmECDH {
		t.Fatalf("generate ECDH: %v", err)
	}
}
