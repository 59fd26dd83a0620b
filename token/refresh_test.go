package token_test

import (
	"encoding/base64"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/toktok/toktok/token"
)

const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

func mustCodec(t testing.TB, secret []byte) *token.RefreshCodec {
	t.Helper()
	c, err := token.NewRefreshCodec(secret)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantRefreshInvalid(t testing.TB, c *token.RefreshCodec, tok string) {
	t.Helper()
	sid, ctr, err := c.Decode(tok)
	if !errors.Is(err, token.ErrInvalid) {
		t.Fatalf("Decode(%q) = %q, %d, %v; want ErrInvalid", tok, sid, ctr, err)
	}
	if sid != "" || ctr != 0 {
		t.Fatalf("Decode(%q) returned %q, %d with an error", tok, sid, ctr)
	}
}

func TestRefreshRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, []byte(strings.Repeat("k", 32)))
	tests := []struct {
		name    string
		session string
		counter int64
	}{
		{"one byte id", "s", 0},
		{"typical", "01JH7Z3Q4XH5V1C2M8N9P0R6ST", 1},
		{"max length id", strings.Repeat("z", token.MaxSessionIDLen), 42},
		{"non-ASCII id", "sessão-☃", 7},
		{"id with separators", "a_b.c/d=e", 3},
		{"max counter", "s", math.MaxInt64},
		{"negative counter", "s", -1},
		{"min counter", "s", math.MinInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tok := c.Encode(tt.session, tt.counter)
			if !strings.HasPrefix(tok, "rt1_") {
				t.Errorf("token %q lacks the rt1_ prefix", tok)
			}
			if strings.ContainsAny(tok[4:], "=+/.") {
				t.Errorf("token %q is not unpadded base64url", tok)
			}
			sid, ctr, err := c.Decode(tok)
			if err != nil || sid != tt.session || ctr != tt.counter {
				t.Errorf("Decode = %q, %d, %v; want %q, %d", sid, ctr, err, tt.session, tt.counter)
			}
			if tok != c.Encode(tt.session, tt.counter) {
				t.Error("Encode is not deterministic")
			}
		})
	}
}

// TestRefreshTampering changes every character of a token to every other
// base64url character, and every bit of the decoded bytes; no variant may
// decode.
func TestRefreshTampering(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, []byte(strings.Repeat("k", 32)))
	for _, session := range []string{"s", "session-0001", strings.Repeat("q", token.MaxSessionIDLen)} {
		t.Run(session, func(t *testing.T) {
			t.Parallel()
			tok := c.Encode(session, 5)
			for i := range len(tok) {
				for _, r := range b64url + "=.~ \n" {
					if byte(r) == tok[i] {
						continue
					}
					wantRefreshInvalid(t, c, tok[:i]+string(r)+tok[i+1:])
				}
			}
			raw, err := base64.RawURLEncoding.DecodeString(tok[4:])
			if err != nil {
				t.Fatal(err)
			}
			for i := range raw {
				for bit := range 8 {
					mod := append([]byte(nil), raw...)
					mod[i] ^= 1 << bit
					wantRefreshInvalid(t, c, "rt1_"+base64.RawURLEncoding.EncodeToString(mod))
				}
			}
			for i := range len(tok) {
				wantRefreshInvalid(t, c, tok[:i])
			}
			for _, suffix := range []string{"A", "AA", "AAAA", "=", "\n"} {
				wantRefreshInvalid(t, c, tok+suffix)
			}
			// CR/LF are skipped by the base64 decoder; each token has one
			// spelling all the same.
			wantRefreshInvalid(t, c, tok[:10]+"\n"+tok[10:])
			wantRefreshInvalid(t, c, tok[:10]+"\r\n"+tok[10:])
		})
	}
}

func TestRefreshWrongSecret(t *testing.T) {
	t.Parallel()
	a := mustCodec(t, []byte(strings.Repeat("a", 32)))
	b := mustCodec(t, []byte(strings.Repeat("a", 31)+"b"))
	long := mustCodec(t, []byte(strings.Repeat("a", 33)))
	tok := a.Encode("sess", 9)
	wantRefreshInvalid(t, b, tok)
	wantRefreshInvalid(t, long, tok)
	if _, _, err := a.Decode(tok); err != nil {
		t.Fatal(err)
	}
}

func TestRefreshMalformed(t *testing.T) {
	t.Parallel()
	c := mustCodec(t, []byte(strings.Repeat("k", 32)))
	valid := c.Encode("sess", 1)
	rawLen := func(n int) string { return "rt1_" + base64.RawURLEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name string
		tok  string
	}{
		{"empty", ""},
		{"prefix only", "rt1_"},
		{"no prefix", strings.TrimPrefix(valid, "rt1_")},
		{"other version", "rt2_" + valid[4:]},
		{"upper-case prefix", "RT1_" + valid[4:]},
		{"padded", valid + strings.Repeat("=", (4-len(valid[4:])%4)%4) + "="},
		{"standard alphabet", "rt1_" + base64.RawStdEncoding.EncodeToString(make([]byte, 40)) + "+/"},
		{"too short for a MAC", rawLen(24)},
		{"empty session id", rawLen(8 + 16)},
		{"session id too long", rawLen(8 + token.MaxSessionIDLen + 1 + 16)},
		{"huge", "rt1_" + strings.Repeat("A", 1<<16)},
		{"JWT", "eyJhbGciOiJub25lIn0.e30."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			wantRefreshInvalid(t, c, tt.tok)
		})
	}
}

func TestRefreshCodecErrors(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 16, 31} {
		if c, err := token.NewRefreshCodec(make([]byte, n)); err == nil {
			t.Errorf("NewRefreshCodec(%d bytes) = %v, want error", n, c)
		}
	}

	secret := []byte(strings.Repeat("s", 32))
	c := mustCodec(t, secret)
	tok := c.Encode("sess", 1)
	secret[0] = 'x' // the codec keeps its own copy
	if _, _, err := c.Decode(tok); err != nil {
		t.Errorf("codec affected by caller modifying the secret: %v", err)
	}

	for _, id := range []string{"", strings.Repeat("x", token.MaxSessionIDLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode(%d-byte id) did not panic", len(id))
				}
			}()
			c.Encode(id, 1)
		}()
	}
}

func FuzzRefreshDecode(f *testing.F) {
	c := mustCodec(f, []byte(strings.Repeat("k", 32)))
	f.Add(c.Encode("sess", 1))
	f.Add(c.Encode(strings.Repeat("z", 64), -1))
	f.Add("rt1_")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		sid, ctr, err := c.Decode(tok)
		if err != nil {
			return
		}
		// Anything accepted is exactly what Encode produces for it: no
		// alternative spellings of a valid token exist.
		if again := c.Encode(sid, ctr); again != tok {
			t.Errorf("Decode accepted %q, which encodes as %q", tok, again)
		}
	})
}
