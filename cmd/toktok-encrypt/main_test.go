package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/toktok/toktok/credentials"
)

// TestEncrypt: what it prints decrypts, under either scheme, to the values given, in order.
func TestEncrypt(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecBox, err := credentials.NewECDH(ec)
	if err != nil {
		t.Fatal(err)
	}
	rsaBox, err := credentials.New(rk)
	if err != nil {
		t.Fatal(err)
	}
	for _, box := range []*credentials.Box{ecBox, rsaBox} {
		jwk, _ := json.Marshal(box.PublicJWK())
		file := filepath.Join(t.TempDir(), "key.jwk")
		if err := os.WriteFile(file, jwk, 0o600); err != nil {
			t.Fatal(err)
		}
		values := []string{"ann@example.com", "correct horse battery staple", "é 😀"}
		var out bytes.Buffer
		if err := run(append([]string{"-jwk", file}, values...), &out, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != len(values) {
			t.Fatalf("%s: %d lines for %d values", box.Algorithm(), len(lines), len(values))
		}
		for i, l := range lines {
			if got, err := box.Decrypt(l); err != nil || got != values[i] {
				t.Errorf("%s: line %d decrypts to %q, %v", box.Algorithm(), i, got, err)
			}
		}
	}
	if err := run([]string{"-jwk", "/nonexistent", "x"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("a missing key file was accepted")
	}
	if err := run(nil, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("no arguments was accepted")
	}
}
