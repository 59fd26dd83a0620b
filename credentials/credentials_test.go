package credentials

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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
	b1, created, err := LoadOrGenerate(filepath.Join(dir, "k.pem"))
	if err != nil || !created {
		t.Fatalf("generate: %v created=%v", err, created)
	}
	if b1.key.N.BitLen() != 3072 {
		t.Fatalf("generated %d bits, want 3072", b1.key.N.BitLen())
	}
	b2, created, err := LoadOrGenerate(filepath.Join(dir, "k.pem"))
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
