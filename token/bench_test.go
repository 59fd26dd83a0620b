package token_test

import (
	"testing"

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

func benchVerify(b *testing.B, alg token.Alg) {
	f := newFixture(b, alg)
	at, _, err := f.svc.IssueAccess("user-42", "sess-7", "user", true, t0)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.VerifyAccess(at, t0); err != nil {
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
