package token_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/toktok/toktok/token"
)

// The verification targets run every input through several services: one per algorithm,
// and one that signs with ES256 while also trusting the EdDSA service's key (a rotation
// across algorithms). Keys are made in each fuzz process, so a token only verifies in the
// process that signed it; what matters is that nothing verifies that the process did not
// sign, whatever the fuzzer builds around the parts it sees.

// fuzzService is a service and what it must accept: the signing inputs (header.payload)
// of the tokens signed with its keys, by kind, with the claims each carries.
type fuzzService struct {
	name   string
	svc    *token.Service
	access map[string]token.AccessClaims    // signing input -> claims, for tokens that must verify
	anon   map[string]token.AnonymousClaims // idem
	signed map[string]bool                  // every signing input signed with a trusted key, valid or not
	tokens []string                         // the genuine tokens, in issue order
}

// verifyNow is when the fuzz targets verify: a minute after the tokens were issued at t0.
var verifyNow = t0.Add(time.Minute)

// verifyLate is after every token issued or forged here has expired.
var verifyLate = t0.Add(25 * time.Hour)

func newFuzzServices(tb testing.TB) []*fuzzService {
	tb.Helper()
	var out []*fuzzService
	byAlg := map[token.Alg]*fuzzService{}
	for _, alg := range allAlgs {
		s := &fuzzService{
			name: string(alg), svc: mustService(tb, testConfig(), mustKey(tb, alg, rawKey(tb, alg, 0))),
			access: map[string]token.AccessClaims{}, anon: map[string]token.AnonymousClaims{}, signed: map[string]bool{},
		}
		s.issue(tb, s)
		s.forgeWithRealKey(tb, alg, rawKey(tb, alg, 0), mustKey(tb, alg, rawKey(tb, alg, 0)).KID())
		byAlg[alg] = s
		out = append(out, s)
	}
	// Signs with a second ES256 key and trusts the EdDSA service's public key too.
	edPub := mustKey(tb, token.EdDSA, publicOf(rawKey(tb, token.EdDSA, 0)))
	rot := &fuzzService{
		name: "ES256+EdDSA", svc: mustService(tb, testConfig(), mustKey(tb, token.ES256, rawKey(tb, token.ES256, 1)), edPub),
		access: map[string]token.AccessClaims{}, anon: map[string]token.AnonymousClaims{}, signed: map[string]bool{},
	}
	rot.issue(tb, rot)
	ed := byAlg[token.EdDSA]
	for si, c := range ed.access {
		rot.access[si] = c
	}
	for si, c := range ed.anon {
		rot.anon[si] = c
	}
	for si := range ed.signed {
		rot.signed[si] = true
	}
	rot.tokens = append(rot.tokens, ed.tokens[:2]...)
	out = append(out, rot)
	for _, s := range out {
		s.selfCheck(tb)
	}
	return out
}

// selfCheck makes sure the properties are not vacuous: every token recorded as valid
// verifies, as its kind only.
func (s *fuzzService) selfCheck(tb testing.TB) {
	tb.Helper()
	valid := 0
	for _, tok := range s.tokens {
		_, errA := s.svc.VerifyAccess(tok, verifyNow)
		_, errN := s.svc.VerifyAnonymous(tok, verifyNow)
		_, wantA := s.access[signingInput(tok)]
		_, wantN := s.anon[signingInput(tok)]
		if (errA == nil) != wantA || (errN == nil) != wantN {
			tb.Fatalf("%s: %s verifies as access: %v, as anonymous: %v; want %v, %v", s.name, tok, errA, errN, wantA, wantN)
		}
		if wantA || wantN {
			valid++
		}
	}
	if valid < 3 {
		tb.Fatalf("%s: only %d valid tokens to fuzz from", s.name, valid)
	}
}

// issue has by sign one access and one anonymous token and records them as s's to accept.
func (s *fuzzService) issue(tb testing.TB, by *fuzzService) {
	tb.Helper()
	at, ac, err := by.svc.IssueAccess("user-1", "sess-1", "user", true, t0)
	if err != nil {
		tb.Fatal(err)
	}
	nt, nc, err := by.svc.IssueAnonymous(t0)
	if err != nil {
		tb.Fatal(err)
	}
	s.access[signingInput(at)], s.anon[signingInput(nt)] = ac, nc
	s.signed[signingInput(at)], s.signed[signingInput(nt)] = true, true
	s.tokens = append(s.tokens, at, nt)
}

// forgeWithRealKey signs, with the service's own key, tokens whose header or claims break
// a rule: the signature is genuine, so only the checks after it can refuse them. The one
// with a complete claim set is valid and recorded as such.
func (s *fuzzService) forgeWithRealKey(tb testing.TB, alg token.Alg, raw any, kid string) {
	tb.Helper()
	cfg := testConfig()
	claims := accessClaimsMap(cfg, t0)
	ok := header(string(alg), kid, "at+jwt")
	m := methodOf(alg)
	valid := forge(tb, ok, claims, m, raw)
	s.access[signingInput(valid)] = token.AccessClaims{
		UserID: "user-1", SessionID: "sess-1", Role: "user", EmailVerified: true, ID: "jti-1",
		IssuedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
	}
	s.tokens = append(s.tokens, valid)
	for _, tok := range []string{
		valid,
		forge(tb, with(ok, "jwk", map[string]any{"kty": "oct", "k": "AAAA"}), claims, m, raw),
		forge(tb, with(ok, "crit", []string{"exp"}), claims, m, raw),
		forge(tb, header(string(alg), kid, "anon+jwt"), claims, m, raw),
		forge(tb, header(string(alg), kid, "JWT"), claims, m, raw),
		forge(tb, ok, with(claims, "aud", cfg.Audience+":anonymous"), m, raw),
		forge(tb, ok, with(claims, "sid", nil), m, raw),
		forge(tb, ok, with(claims, "exp", nil), m, raw),
		forge(tb, ok, with(claims, "exp", t0.Add(-time.Hour).Unix()), m, raw),
		forge(tb, ok, with(claims, "nbf", t0.Add(time.Hour).Unix()), m, raw),
		forge(tb, ok, with(claims, "iss", "https://evil.test"), m, raw),
	} {
		s.signed[signingInput(tok)] = true
		s.tokens = append(s.tokens, tok)
	}
}

func signingInput(tok string) string {
	if i := strings.LastIndexByte(tok, '.'); i >= 0 {
		return tok[:i]
	}
	return tok
}

// FuzzVerify: VerifyAccess and VerifyAnonymous never panic on any string; a token they
// accept is one signed with a key the service trusts, of the kind asked for, with the
// claims it was signed with; ErrExpired is said only of such a genuine token; every other
// refusal is ErrInvalid and never both; after every token has expired nothing verifies;
// KindOf never panics and agrees with a successful verification.
func FuzzVerify(f *testing.F) {
	services := newFuzzServices(f)
	for _, s := range services {
		for _, tok := range s.tokens {
			f.Add(tok)
		}
	}
	es := services[0]
	genuine := es.tokens[0]
	der, err := x509.MarshalPKIXPublicKey(publicOf(rawKey(f, token.ES256, 0)))
	if err != nil {
		f.Fatal(err)
	}
	kid := mustKey(f, token.ES256, rawKey(f, token.ES256, 0)).KID()
	claims := accessClaimsMap(testConfig(), t0)
	for _, s := range []string{
		"", ".", "..", "...", "a.b.c", "not.a.jwt", "\x00", "\xff\xfe.\xfd.", strings.Repeat("A", 9000),
		strings.Repeat(".", 1000), "eyJ" + strings.Repeat("A", 100) + "..",
		forge(f, header("none", kid, "at+jwt"), claims, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType),
		forge(f, header("HS256", kid, "at+jwt"), claims, jwt.SigningMethodHS256, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})),
		forge(f, header("HS256", kid, "at+jwt"), claims, jwt.SigningMethodHS256, der),
		withHeader(f, genuine, header("none", kid, "at+jwt")),
		withPayload(f, genuine, with(claims, "role", "admin")),
		genuine[:strings.LastIndexByte(genuine, '.')+1], genuine + ".AAAA", genuine + "\n", " " + genuine,
		base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"at+jwt"}`)) + ".e30.",
		base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"anon+jwt","alg":"ES256","kid":"`+kid+`"}`)) + ".e30.",
		base64.RawURLEncoding.EncodeToString([]byte(`{"typ":["at+jwt"]}`)) + ".e30.",
		base64.StdEncoding.EncodeToString([]byte(`{"typ":"at+jwt"}`)) + ".e30.",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		kind, kindOK := token.KindOf(tok)
		for _, s := range services {
			s.checkAccess(t, tok, kind, kindOK)
			s.checkAnon(t, tok, kind, kindOK)
		}
	})
}

func (s *fuzzService) checkAccess(t *testing.T, tok string, kind token.Kind, kindOK bool) {
	t.Helper()
	si := signingInput(tok)
	c, err := s.svc.VerifyAccess(tok, verifyNow)
	if err == nil {
		want, ok := s.access[si]
		switch {
		case !ok:
			t.Fatalf("%s: VerifyAccess accepted a token nobody signed as a valid access token: %+q", s.name, tok)
		case !sameAccess(c, want):
			t.Fatalf("%s: VerifyAccess(%+q) = %+v, signed with %+v", s.name, tok, c, want)
		case kind != token.KindAccess || !kindOK:
			t.Fatalf("%s: verified access token %+q has KindOf %v, %v", s.name, tok, kind, kindOK)
		}
	} else {
		checkRefusal(t, s, "VerifyAccess", tok, err)
	}
	if _, err := s.svc.VerifyAccess(tok, verifyLate); err == nil {
		t.Fatalf("%s: VerifyAccess(%+q) accepted at %v, after every token here expired", s.name, tok, verifyLate)
	} else {
		checkRefusal(t, s, "VerifyAccess (late)", tok, err)
	}
}

func (s *fuzzService) checkAnon(t *testing.T, tok string, kind token.Kind, kindOK bool) {
	t.Helper()
	c, err := s.svc.VerifyAnonymous(tok, verifyNow)
	if err == nil {
		want, ok := s.anon[signingInput(tok)]
		switch {
		case !ok:
			t.Fatalf("%s: VerifyAnonymous accepted a token nobody signed as a valid anonymous token: %+q", s.name, tok)
		case c.Subject != want.Subject || c.ID != want.ID || !c.IssuedAt.Equal(want.IssuedAt) || !c.ExpiresAt.Equal(want.ExpiresAt):
			t.Fatalf("%s: VerifyAnonymous(%+q) = %+v, signed with %+v", s.name, tok, c, want)
		case kind != token.KindAnonymous || !kindOK:
			t.Fatalf("%s: verified anonymous token %+q has KindOf %v, %v", s.name, tok, kind, kindOK)
		}
	} else {
		checkRefusal(t, s, "VerifyAnonymous", tok, err)
	}
	if _, err := s.svc.VerifyAnonymous(tok, verifyLate); err == nil {
		t.Fatalf("%s: VerifyAnonymous(%+q) accepted at %v, after every token here expired", s.name, tok, verifyLate)
	} else {
		checkRefusal(t, s, "VerifyAnonymous (late)", tok, err)
	}
}

// checkRefusal: a refusal is exactly one of the two errors, and "expired" only ever
// describes a token whose signature is genuine.
func checkRefusal(t *testing.T, s *fuzzService, op, tok string, err error) {
	t.Helper()
	invalid, expired := errors.Is(err, token.ErrInvalid), errors.Is(err, token.ErrExpired)
	if invalid == expired {
		t.Fatalf("%s: %s(%+q) = %v: want exactly one of ErrInvalid and ErrExpired", s.name, op, tok, err)
	}
	if expired && !s.signed[signingInput(tok)] {
		t.Fatalf("%s: %s(%+q) = %v for a token not signed with a trusted key", s.name, op, tok, err)
	}
}

func sameAccess(a, b token.AccessClaims) bool {
	return a.UserID == b.UserID && a.SessionID == b.SessionID && a.Role == b.Role &&
		a.EmailVerified == b.EmailVerified && a.ID == b.ID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

// FuzzVerifyMutated edits a genuine token (replace cut bytes at a position by insert) and
// verifies the result with the service that signed it: an edited token never verifies,
// and is never called expired, unless its header and payload decode to the very bytes
// that were signed (the only freedom left would be in the signature's own encoding) or the
// edit happens to spell another token signed here.
func FuzzVerifyMutated(f *testing.F) {
	services := newFuzzServices(f)
	type pick struct {
		s   *fuzzService
		tok string
	}
	var all []pick
	for _, s := range services {
		for _, tok := range s.tokens {
			all = append(all, pick{s, tok})
		}
	}
	for i, p := range all {
		dot1 := strings.IndexByte(p.tok, '.')
		dot2 := strings.LastIndexByte(p.tok, '.')
		for _, m := range []struct {
			at     int
			cut    uint8
			insert string
		}{
			{0, 1, "e"}, {dot1 - 1, 1, "A"}, {dot1, 1, ""}, {dot1 + 1, 0, "A"}, {dot2 - 1, 1, "B"},
			{dot2 + 1, 1, "A"}, {len(p.tok) - 1, 1, "B"}, {len(p.tok), 0, "="}, {dot2, 255, ""},
			{dot1 + 5, 3, "\n"}, {10, 0, "+/"}, {dot2 + 1, 0, "AAAA"},
		} {
			f.Add(uint16(i), uint16(max(m.at, 0)), m.cut, m.insert)
		}
	}
	f.Fuzz(func(t *testing.T, which, at uint16, cut uint8, insert string) {
		p := all[int(which)%len(all)]
		i := min(int(at), len(p.tok))
		j := min(i+int(cut), len(p.tok))
		edited := p.tok[:i] + insert + p.tok[j:]
		if edited == p.tok {
			return
		}
		same := sameSignedContent(p.tok, edited)
		for _, now := range []time.Time{verifyNow, verifyLate} {
			_, errA := p.s.svc.VerifyAccess(edited, now)
			_, errN := p.s.svc.VerifyAnonymous(edited, now)
			for _, err := range []error{errA, errN} {
				if (err == nil || errors.Is(err, token.ErrExpired)) && !same && !p.s.signed[signingInput(edited)] {
					t.Fatalf("%s: the edited token %+q (from %+q) was taken for genuine: %v", p.s.name, edited, p.tok, err)
				}
			}
		}
	})
}

// sameSignedContent reports whether b's header and payload decode to a's.
func sameSignedContent(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	if len(pb) != 3 {
		return false
	}
	for i := range 2 {
		da, errA := base64.RawURLEncoding.DecodeString(pa[i])
		db, errB := base64.RawURLEncoding.DecodeString(pb[i])
		if errA != nil || errB != nil || string(da) != string(db) {
			return false
		}
	}
	return true
}

// FuzzRefreshRoundTrip: Encode takes any session id of 1 to 64 bytes and any counter and
// Decode gives both back; it panics on any other id length. Decode refuses the token under
// another secret and refuses every edit of it (replace cut bytes at a position by insert)
// that is not the token itself.
func FuzzRefreshRoundTrip(f *testing.F) {
	c := mustCodec(f, []byte(strings.Repeat("k", 32)))
	other := mustCodec(f, []byte(strings.Repeat("K", 32)))
	for _, s := range []struct {
		sid     string
		counter int64
		at      uint16
		cut     uint8
		insert  string
	}{
		{"sess", 1, 0, 0, ""}, {"", 0, 0, 0, ""}, {strings.Repeat("z", 64), -1, 5, 1, "A"},
		{strings.Repeat("z", 65), 0, 0, 0, ""}, {"\x00\xff\n", 1 << 62, 4, 0, "="}, {"s", -1 << 63, 30, 2, ""},
		{"id", 7, 100, 0, "AA"}, {"id", 7, 3, 1, "-"}, {"\u00e9", 0, 4, 200, ""},
	} {
		f.Add(s.sid, s.counter, s.at, s.cut, s.insert)
	}
	f.Fuzz(func(t *testing.T, sid string, counter int64, at uint16, cut uint8, insert string) {
		if len(sid) == 0 || len(sid) > token.MaxSessionIDLen {
			if !encodePanics(c, sid, counter) {
				t.Fatalf("Encode(%+q) of %d bytes did not panic", sid, len(sid))
			}
			return
		}
		tok := c.Encode(sid, counter)
		gotSID, gotCounter, err := c.Decode(tok)
		if err != nil || gotSID != sid || gotCounter != counter {
			t.Fatalf("Decode(Encode(%+q, %d)) = %+q, %d, %v", sid, counter, gotSID, gotCounter, err)
		}
		if _, _, err := other.Decode(tok); !errors.Is(err, token.ErrInvalid) {
			t.Fatalf("a token of another secret decoded: %v", err)
		}
		i := min(int(at), len(tok))
		j := min(i+int(cut), len(tok))
		edited := tok[:i] + insert + tok[j:]
		if edited == tok {
			return
		}
		if s, n, err := c.Decode(edited); !errors.Is(err, token.ErrInvalid) {
			t.Fatalf("edited token %+q (from %+q) decoded as %+q, %d, %v", edited, tok, s, n, err)
		}
	})
}

func encodePanics(c *token.RefreshCodec, sid string, counter int64) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = strings.Contains(fmt.Sprint(r), "session id")
		}
	}()
	c.Encode(sid, counter)
	return false
}
