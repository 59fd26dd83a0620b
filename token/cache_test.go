package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"
)

func cacheService(t *testing.T) *Service {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := NewKey(ES256, raw)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Issuer: "https://auth.toktok.test", Audience: "toktok-api"}, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestVerifiedCache: a verified access token is answered from the cache with the same
// claims, up to the instant the full check would call it expired and not after; a token
// that differs by one character, an anonymous token and a refused token are never served
// from it; it stays bounded.
func TestVerifiedCache(t *testing.T) {
	s := cacheService(t)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok, _, err := s.IssueAccess("u1", "s1", "USER", true, t0)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.VerifyAccess(tok, t0)
	if err != nil {
		t.Fatal(err)
	}
	key := sha256.Sum256([]byte(tok))
	if got, ok := s.cache.get(key); !ok || !reflect.DeepEqual(got, first) {
		t.Fatalf("cache after a verification: %+v, %v", got, ok)
	}
	// A hit must not depend on the signature any more: make the full check impossible
	// and ask again.
	keys := s.keys
	s.keys = map[string]*Key{}
	again, err := s.VerifyAccess(tok, t0.Add(time.Minute))
	s.keys = keys
	if err != nil || !reflect.DeepEqual(again, first) {
		t.Fatalf("cached verification = %+v, %v; want %+v", again, err, first)
	}
	leeway := s.cfg.Leeway
	if _, err := s.VerifyAccess(tok, first.ExpiresAt.Add(leeway-time.Second)); err != nil {
		t.Errorf("within the leeway: %v", err)
	}
	if _, err := s.VerifyAccess(tok, first.ExpiresAt.Add(leeway)); !errors.Is(err, ErrExpired) {
		t.Errorf("at exp + leeway from the cache: %v, want ErrExpired", err)
	}
	// A clock set far back: the cached entry is not used; the full check refuses.
	if _, err := s.VerifyAccess(tok, t0.Add(-time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Errorf("before iat - leeway: %v, want ErrInvalid", err)
	}
	// One character changed in the signature: a different key, fully checked, refused.
	swap := "A"
	if tok[len(tok)-2] == 'A' {
		swap = "B"
	}
	forged := tok[:len(tok)-2] + swap + tok[len(tok)-1:]
	if _, err := s.VerifyAccess(forged, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("forged token: %v, want ErrInvalid", err)
	}
	anon, _, err := s.IssueAnonymous(t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifyAccess(anon, t0); !errors.Is(err, ErrInvalid) {
		t.Errorf("anonymous token as access: %v", err)
	}
	if _, err := s.VerifyAnonymous(anon, t0); err != nil {
		t.Fatal(err)
	}
	if n := s.cache.len(); n != 1 {
		t.Errorf("%d cache entries, want only the genuine access token's", n)
	}
}

func TestVerifiedCacheBounded(t *testing.T) {
	c := newVerifiedCache(100)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 1000 {
		exp := now.Add(time.Hour)
		if i%2 == 0 {
			exp = now.Add(-time.Hour) // expired: evicted first
		}
		c.put(sha256.Sum256(fmt.Appendf(nil, "t%d", i)), AccessClaims{UserID: fmt.Sprint(i), ExpiresAt: exp}, now, 30*time.Second)
		if c.len() > 100 {
			t.Fatalf("%d entries after %d puts, bound 100", c.len(), i+1)
		}
	}
	if _, ok := c.get(sha256.Sum256([]byte("t999"))); !ok {
		t.Error("the newest entry is missing")
	}
}
