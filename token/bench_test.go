package token_test

import (
	"testing"
	"time"

	"github.com/toktok/toktok/token"
)

func benchIssue(b *testing.B, alg token.Alg) {
	f := newFixture(b, alg)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.svc.IssueAccess("user-42", "sess-7", "user", true, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// benchVerify verifies one token again and again with the full check; cached, with
// VerifyAccess, every call after the first is a hit of the verified-token cache.
func benchVerify(b *testing.B, alg token.Alg) {
	benchVerifyWith(b, alg, (*token.Service).VerifyAccessFull)
}

func benchVerifyCached(b *testing.B, alg token.Alg) {
	benchVerifyWith(b, alg, (*token.Service).VerifyAccess)
}

func benchVerifyWith(b *testing.B, alg token.Alg, verify func(*token.Service, string, time.Time) (token.AccessClaims, error)) {
	f := newFixture(b, alg)
	at, _, err := f.svc.IssueAccess("user-42", "sess-7", "user", true, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := verify(f.svc, at, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssueAccessES256(b *testing.B)  { benchIssue(b, token.ES256) }
func BenchmarkVerifyAccessES256(b *testing.B) { benchVerify(b, token.ES256) }
func BenchmarkIssueAccessEdDSA(b *testing.B)  { benchIssue(b, token.EdDSA) }
func BenchmarkVerifyAccessEdDSA(b *testing.B) { benchVerify(b, token.EdDSA) }
func BenchmarkIssueAccessRS256(b *testing.B)  { benchIssue(b, token.RS256) }
func BenchmarkVerifyAccessRS256(b *testing.B) { benchVerify(b, token.RS256) }

func BenchmarkRefreshDecode(b *testing.B) {
	c := mustCodec(b, make([]byte, 32))
	tok := c.Encode("01JH7Z3Q4XH5V1C2M8N9P0R6ST", 3)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.Decode(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyAccessES256Cached is the same token verified again: what the request
// after the first with one access token costs (cache.go).
func BenchmarkVerifyAccessES256Cached(b *testing.B) { benchVerifyCached(b, token.ES256) }
