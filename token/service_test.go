package token_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/toktok/toktok/token"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, alg)
			cfg := testConfig()

			at, ac, err := f.svc.IssueAccess("user-42", "sess-7", "admin", true, t0.Add(123*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			want := token.AccessClaims{
				UserID: "user-42", SessionID: "sess-7", Role: "admin", EmailVerified: true,
				AAL: "aal1", ID: ac.ID, IssuedAt: t0, ExpiresAt: t0.Add(15 * time.Minute),
			}
			if !reflect.DeepEqual(ac, want) || ac.ID == "" {
				t.Errorf("issued claims = %+v, want %+v", ac, want)
			}
			got, err := f.svc.VerifyAccess(at, t0.Add(time.Minute))
			if err != nil {
				t.Fatalf("VerifyAccess: %v", err)
			}
			if !reflect.DeepEqual(got, ac) {
				t.Errorf("verified claims = %+v, want %+v", got, ac)
			}
			hdr, payload := segments(t, at)
			wantHdr := map[string]any{"alg": string(alg), "kid": f.key.KID(), "typ": "at+jwt"}
			if !jsonEqual(t, hdr, wantHdr) {
				t.Errorf("access header = %v, want %v", hdr, wantHdr)
			}
			wantPayload := map[string]any{
				"iss": cfg.Issuer, "sub": "user-42", "aud": []any{cfg.Audience},
				"iat": float64(t0.Unix()), "exp": float64(t0.Add(15 * time.Minute).Unix()),
				"jti": ac.ID, "sid": "sess-7", "role": "admin", "email_verified": true,
				"aal": "aal1",
			}
			if !jsonEqual(t, payload, wantPayload) {
				t.Errorf("access payload = %v, want %v", payload, wantPayload)
			}
			if k, ok := token.KindOf(at); !ok || k != token.KindAccess {
				t.Errorf("KindOf(access) = %v, %v", k, ok)
			}

			nt, nc, err := f.svc.IssueAnonymous(t0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(nc.Subject, "anon_") || nc.ID == "" || !nc.IssuedAt.Equal(t0) || !nc.ExpiresAt.Equal(t0.Add(12*time.Hour)) {
				t.Errorf("anonymous claims = %+v", nc)
			}
			gotAnon, err := f.svc.VerifyAnonymous(nt, t0.Add(time.Hour))
			if err != nil {
				t.Fatalf("VerifyAnonymous: %v", err)
			}
			if gotAnon != nc {
				t.Errorf("verified anonymous claims = %+v, want %+v", gotAnon, nc)
			}
			hdr, payload = segments(t, nt)
			if hdr["typ"] != "anon+jwt" || hdr["kid"] != f.key.KID() || hdr["alg"] != string(alg) {
				t.Errorf("anonymous header = %v", hdr)
			}
			if !jsonEqual(t, payload["aud"], []any{cfg.Audience + ":anonymous"}) || payload["sub"] != nc.Subject || payload["iss"] != cfg.Issuer {
				t.Errorf("anonymous payload = %v", payload)
			}
			if k, ok := token.KindOf(nt); !ok || k != token.KindAnonymous {
				t.Errorf("KindOf(anonymous) = %v, %v", k, ok)
			}

			// Fresh randomness per token.
			at2, ac2, err := f.svc.IssueAccess("user-42", "sess-7", "admin", true, t0)
			if err != nil {
				t.Fatal(err)
			}
			_, nc2, err := f.svc.IssueAnonymous(t0)
			if err != nil {
				t.Fatal(err)
			}
			if at2 == at || ac2.ID == ac.ID || nc2.Subject == nc.Subject || nc2.ID == nc.ID {
				t.Error("tokens issued twice share jti or subject")
			}
		})
	}
}

func jsonEqual(t testing.TB, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

func TestLifetime(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	at, nt := f.issueBoth(t, "", false)
	const leeway = 30 * time.Second
	accessExp, anonExp := t0.Add(15*time.Minute), t0.Add(12*time.Hour)
	tests := []struct {
		name    string
		at      time.Duration // verification time, relative to expiry (or to t0 for "before")
		before  bool
		expired bool
		invalid bool
	}{
		{name: "just issued", at: 0, before: true},
		{name: "one second before expiry", at: -time.Second},
		{name: "at expiry, within leeway", at: 0},
		{name: "last second of leeway", at: leeway - time.Second},
		{name: "leeway exhausted", at: leeway, expired: true},
		{name: "long expired", at: 24 * time.Hour, expired: true},
		{name: "clock behind by the leeway", at: -leeway, before: true},
		{name: "clock behind by more than the leeway", at: -leeway - time.Second, before: true, invalid: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			check := func(err error) {
				t.Helper()
				switch {
				case tt.expired:
					wantExpired(t, err)
				case tt.invalid:
					wantInvalid(t, err)
				case err != nil:
					t.Fatalf("err = %v, want nil", err)
				}
			}
			base := func(exp time.Time) time.Time {
				if tt.before {
					return t0.Add(tt.at)
				}
				return exp.Add(tt.at)
			}
			_, err := f.svc.VerifyAccess(at, base(accessExp))
			check(err)
			_, err = f.svc.VerifyAnonymous(nt, base(anonExp))
			check(err)
		})
	}
}

// TestExpiredButOtherwiseWrong checks that expiry does not mask other
// faults: only a token whose single problem is its age is ErrExpired.
func TestExpiredButOtherwiseWrong(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	h := header("ES256", f.key.KID(), "at+jwt")
	past := t0.Add(-24 * time.Hour)
	claims := accessClaimsMap(testConfig(), past)
	tests := []struct {
		name   string
		claims map[string]any
		check  func(testing.TB, error)
	}{
		{"only expired", claims, wantExpired},
		{"expired and wrong audience", with(claims, "aud", "elsewhere"), wantInvalid},
		{"expired and wrong issuer", with(claims, "iss", "https://evil.test"), wantInvalid},
		{"expired and no sid", with(claims, "sid", nil), wantInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.svc.VerifyAccess(forge(t, h, tt.claims, methodOf(f.alg), f.raw), t0)
			tt.check(t, err)
		})
	}
}

func TestWrongIssuerOrAudience(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.EdDSA)
	at, nt := f.issueBoth(t, "user", true)
	base := testConfig()
	tests := []struct {
		name string
		cfg  token.Config
	}{
		{"other issuer", token.Config{Issuer: "https://other.test", Audience: base.Audience}},
		{"other audience", token.Config{Issuer: base.Issuer, Audience: "other-api"}},
		{"issuer differs in case", token.Config{Issuer: strings.ToUpper(base.Issuer), Audience: base.Audience}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Same key, different expectations: only the claims can fail.
			other := mustService(t, tt.cfg, f.key)
			_, err := other.VerifyAccess(at, t0)
			wantInvalid(t, err)
			_, err = other.VerifyAnonymous(nt, t0)
			wantInvalid(t, err)
		})
	}
}

func TestKindsDoNotMix(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, alg)
			at, nt := f.issueBoth(t, "user", true)
			codec, err := token.NewRefreshCodec(make([]byte, 32))
			if err != nil {
				t.Fatal(err)
			}
			rt := codec.Encode("s", 1)

			_, err = f.svc.VerifyAnonymous(at, t0)
			wantInvalid(t, err)
			_, err = f.svc.VerifyAccess(nt, t0)
			wantInvalid(t, err)
			_, err = f.svc.VerifyAccess(rt, t0)
			wantInvalid(t, err)
			_, err = f.svc.VerifyAnonymous(rt, t0)
			wantInvalid(t, err)
			if _, ok := token.KindOf(rt); ok {
				t.Error("KindOf accepted a refresh token")
			}
			for _, jwtTok := range []string{at, nt} {
				if _, _, err := codec.Decode(jwtTok); !errors.Is(err, token.ErrInvalid) {
					t.Errorf("RefreshCodec.Decode(JWT) err = %v, want ErrInvalid", err)
				}
			}
		})
	}
}

// TestForgeries presents tokens an attacker could construct. Each case is
// checked with both Verify methods where the kind applies; the "control"
// case proves the forging helper makes tokens the service would accept, so
// the refusals are due to the one thing each case changes.
func TestForgeries(t *testing.T) {
	t.Parallel()
	for _, alg := range allAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, alg)
			cfg := testConfig()
			kid := f.key.KID()
			m := methodOf(alg)
			claims := accessClaimsMap(cfg, t0)
			ok := header(string(alg), kid, "at+jwt")
			sign := func(h, c map[string]any) string { return forge(t, h, c, m, f.raw) }
			genuine, _, err := f.svc.IssueAccess("user-1", "sess-1", "user", false, t0)
			if err != nil {
				t.Fatal(err)
			}

			type tc struct {
				name   string
				tok    string
				accept bool
			}
			cases := []tc{
				{name: "control: forged with the real key", tok: sign(ok, claims), accept: true},
				{name: "control: application/at+jwt typ", tok: sign(header(string(alg), kid, "application/at+jwt"), claims), accept: true},
				{name: "alg none", tok: forge(t, header("none", kid, "at+jwt"), claims, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
				{name: "alg none, genuine signature kept", tok: withHeader(t, genuine, header("none", kid, "at+jwt"))},
				{name: "alg None", tok: withHeader(t, genuine, header("None", kid, "at+jwt"))},
				{name: "alg missing", tok: withHeader(t, genuine, map[string]any{"kid": kid, "typ": "at+jwt"})},
				{name: "unknown kid", tok: sign(header(string(alg), "not-a-kid", "at+jwt"), claims)},
				{name: "missing kid", tok: sign(header(string(alg), "", "at+jwt"), claims)},
				{name: "kid not a string", tok: sign(with(ok, "kid", 1), claims)},
				{name: "missing typ", tok: sign(header(string(alg), kid, ""), claims)},
				{name: "typ JWT", tok: sign(header(string(alg), kid, "JWT"), claims)},
				{name: "jwk header", tok: sign(with(ok, "jwk", map[string]any{"kty": "oct", "k": "AAAA"}), claims)},
				{name: "jku header", tok: sign(with(ok, "jku", "https://evil.test/jwks.json"), claims)},
				{name: "x5u header", tok: sign(with(ok, "x5u", "https://evil.test/cert.pem"), claims)},
				{name: "x5c header", tok: sign(with(ok, "x5c", []string{"MIIB"}), claims)},
				{name: "crit header", tok: sign(with(ok, "crit", []string{"exp"}), claims)},
				{name: "other key, same kid", tok: forge(t, ok, claims, m, rawKey(t, alg, 1))},
				{name: "tampered payload", tok: withPayload(t, genuine, with(claims, "role", "admin"))},
				{name: "tampered signature", tok: flipLastSigChar(genuine)},
				{name: "signature stripped", tok: genuine[:strings.LastIndex(genuine, ".")+1]},
				{name: "newline in signature", tok: genuine[:len(genuine)-4] + "\n" + genuine[len(genuine)-4:]},
				{name: "extra segment", tok: genuine + ".AAAA"},
				{name: "two segments", tok: genuine[:strings.LastIndex(genuine, ".")]},
				{name: "empty", tok: ""},
				{name: "garbage", tok: "not.a.jwt"},
				{name: "oversized", tok: sign(ok, with(claims, "pad", strings.Repeat("x", 9000)))},
				{name: "wrong issuer", tok: sign(ok, with(claims, "iss", "https://evil.test"))},
				{name: "wrong audience", tok: sign(ok, with(claims, "aud", "other-api"))},
				{name: "anonymous audience", tok: sign(ok, with(claims, "aud", cfg.Audience+":anonymous"))},
				{name: "missing exp", tok: sign(ok, with(claims, "exp", nil))},
				{name: "missing iat", tok: sign(ok, with(claims, "iat", nil))},
				{name: "missing iss", tok: sign(ok, with(claims, "iss", nil))},
				{name: "missing aud", tok: sign(ok, with(claims, "aud", nil))},
				{name: "missing sub", tok: sign(ok, with(claims, "sub", nil))},
				{name: "missing jti", tok: sign(ok, with(claims, "jti", nil))},
				{name: "missing sid", tok: sign(ok, with(claims, "sid", nil))},
				{name: "exp not a number", tok: sign(ok, with(claims, "exp", "tomorrow"))},
				{name: "nbf in the future", tok: sign(ok, with(claims, "nbf", t0.Add(time.Hour).Unix()))},
				{name: "iat in the future", tok: sign(ok, with(claims, "iat", t0.Add(time.Hour).Unix()))},
			}
			// Sign with an algorithm the key is not pinned to, using the
			// real kid: HS256 keyed with the public key is the classic
			// confusion attack; for HS256 services, an asymmetric alg.
			if alg == token.HS256 {
				cases = append(cases, tc{name: "ES256 with the HS256 kid", tok: forge(t, header("ES256", kid, "at+jwt"), claims, jwt.SigningMethodES256, rawKey(t, token.ES256, 0))})
			} else {
				der, err := x509.MarshalPKIXPublicKey(publicOf(f.raw))
				if err != nil {
					t.Fatal(err)
				}
				pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				jwks := f.svc.JWKS()
				for _, secret := range []struct {
					name  string
					bytes []byte
				}{{"PEM", pemBytes}, {"DER", der}, {"JWKS", jwks}} {
					cases = append(cases, tc{
						name: "HS256 keyed with the public key " + secret.name,
						tok:  forge(t, header("HS256", kid, "at+jwt"), claims, jwt.SigningMethodHS256, secret.bytes),
					})
				}
				other := token.EdDSA
				if alg == token.EdDSA {
					other = token.ES256
				}
				cases = append(cases, tc{
					name: "other asymmetric alg with the service kid",
					tok:  forge(t, header(string(other), kid, "at+jwt"), claims, methodOf(other), rawKey(t, other, 0)),
				})
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := f.svc.VerifyAccess(c.tok, t0)
					if c.accept {
						if err != nil {
							t.Fatalf("VerifyAccess: %v", err)
						}
						return
					}
					wantInvalid(t, err)
					t.Logf("refused: %v", err)
					// Whatever it is, it is not an anonymous token either.
					_, err = f.svc.VerifyAnonymous(c.tok, t0)
					wantInvalid(t, err)
				})
			}
		})
	}
}

func withHeader(t testing.TB, tok string, h map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(tok, ".", 2)
	return base64.RawURLEncoding.EncodeToString(raw) + "." + parts[1]
}

func withPayload(t testing.TB, tok string, claims map[string]any) string {
	t.Helper()
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
}

// flipLastSigChar changes the first character of the signature, which
// always carries six full bits (the last one may carry padding bits only).
func flipLastSigChar(tok string) string {
	i := strings.LastIndex(tok, ".") + 1
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		oldAlg, alg token.Alg
	}{
		{"same alg", token.ES256, token.ES256},
		{"RS256 to ES256", token.RS256, token.ES256},
		{"ES256 to EdDSA", token.ES256, token.EdDSA},
		{"HS256 to HS256", token.HS256, token.HS256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			oldKey := mustKey(t, tt.oldAlg, rawKey(t, tt.oldAlg, 1))
			newKey := mustKey(t, tt.alg, rawKey(t, tt.alg, 2))
			oldSvc := mustService(t, cfg, oldKey)
			newSvc := mustService(t, cfg, newKey, oldKey.Public())

			oldTok, oldClaims, err := oldSvc.IssueAccess("u", "s", "user", true, t0)
			if err != nil {
				t.Fatal(err)
			}
			newTok, _, err := newSvc.IssueAccess("u", "s", "user", true, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := newSvc.VerifyAccess(oldTok, t0); err != nil || !reflect.DeepEqual(got, oldClaims) {
				t.Errorf("new service on old token: %+v, %v", got, err)
			}
			if hdr, _ := segments(t, newTok); hdr["kid"] != newKey.KID() {
				t.Errorf("new service signs with kid %v, want %s", hdr["kid"], newKey.KID())
			}
			if _, err := newSvc.VerifyAccess(newTok, t0); err != nil {
				t.Errorf("new service on new token: %v", err)
			}
			_, err = oldSvc.VerifyAccess(newTok, t0)
			wantInvalid(t, err)

			// A token signed by the old key but labelled with the new kid:
			// the kid selects the key, and no other key is tried.
			relabelled := forge(t, header(string(tt.oldAlg), newKey.KID(), "at+jwt"), accessClaimsMap(cfg, t0), methodOf(tt.oldAlg), rawKey(t, tt.oldAlg, 1))
			_, err = newSvc.VerifyAccess(relabelled, t0)
			wantInvalid(t, err)

			var set struct {
				Keys []struct {
					Kid string `json:"kid"`
				} `json:"keys"`
			}
			if err := json.Unmarshal(newSvc.JWKS(), &set); err != nil {
				t.Fatal(err)
			}
			var kids []string
			for _, k := range set.Keys {
				kids = append(kids, k.Kid)
			}
			want := []string{newKey.KID(), oldKey.KID()}
			if tt.alg == token.HS256 {
				want = nil
			}
			if strings.Join(kids, ",") != strings.Join(want, ",") {
				t.Errorf("JWKS kids = %v, want %v", kids, want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	es := mustKey(t, token.ES256, rawKey(t, token.ES256, 0))
	hs := mustKey(t, token.HS256, rawKey(t, token.HS256, 0))
	cfg := testConfig()
	tests := []struct {
		name  string
		cfg   token.Config
		key   *token.Key
		extra []*token.Key
	}{
		{"no issuer", token.Config{Audience: "a"}, es, nil},
		{"no audience", token.Config{Issuer: "i"}, es, nil},
		{"negative TTL", token.Config{Issuer: "i", Audience: "a", AccessTTL: -time.Second}, es, nil},
		{"negative leeway", token.Config{Issuer: "i", Audience: "a", Leeway: -time.Second}, es, nil},
		{"nil key", cfg, nil, nil},
		{"verify-only signing key", cfg, es.Public(), nil},
		{"nil extra key", cfg, es, []*token.Key{nil}},
		{"duplicate kid", cfg, es, []*token.Key{es.Public()}},
		{"HS256 extra with ES256", cfg, es, []*token.Key{hs}},
		{"ES256 extra with HS256", cfg, hs, []*token.Key{es.Public()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if s, err := token.New(tt.cfg, tt.key, tt.extra...); err == nil {
				t.Errorf("New() = %v, want error", s)
			}
		})
	}

	// One RSA key, two algorithms: the thumbprint is the same, and RFC
	// 8725 wants one algorithm per key anyway.
	rsaKey := rawKey(t, token.RS256, 0)
	if _, err := token.New(cfg, mustKey(t, token.RS256, rsaKey), mustKey(t, token.PS256, rsaKey)); err == nil {
		t.Error("New accepted one RSA key for both RS256 and PS256")
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	_, ac, err := f.svc.IssueAccess("u", "s", "", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	_, nc, err := f.svc.IssueAnonymous(t0)
	if err != nil {
		t.Fatal(err)
	}
	if d := ac.ExpiresAt.Sub(ac.IssuedAt); d != 15*time.Minute {
		t.Errorf("default access TTL = %v", d)
	}
	if d := nc.ExpiresAt.Sub(nc.IssuedAt); d != 12*time.Hour {
		t.Errorf("default anonymous TTL = %v", d)
	}

	cfg := testConfig()
	cfg.AccessTTL, cfg.AnonTTL, cfg.Leeway = time.Minute, time.Hour, 5*time.Second
	s := mustService(t, cfg, f.key)
	at, ac, err := s.IssueAccess("u", "s", "", false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if d := ac.ExpiresAt.Sub(ac.IssuedAt); d != time.Minute {
		t.Errorf("access TTL = %v", d)
	}
	if _, err := s.VerifyAccess(at, t0.Add(time.Minute+4*time.Second)); err != nil {
		t.Errorf("within 5s leeway: %v", err)
	}
	_, err = s.VerifyAccess(at, t0.Add(time.Minute+5*time.Second))
	wantExpired(t, err)
}

func TestIssueErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	tests := []struct {
		name          string
		user, sess    string
		now           time.Time
		anonymousAlso bool
	}{
		{name: "no user", sess: "s", now: t0},
		{name: "no session", user: "u", now: t0},
		{name: "zero time", user: "u", sess: "s", anonymousAlso: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tok, _, err := f.svc.IssueAccess(tt.user, tt.sess, "user", false, tt.now); err == nil {
				t.Errorf("IssueAccess = %q, want error", tok)
			}
			if tt.anonymousAlso {
				if tok, _, err := f.svc.IssueAnonymous(tt.now); err == nil {
					t.Errorf("IssueAnonymous = %q, want error", tok)
				}
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	t.Parallel()
	seg := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		tok  string
		want token.Kind
		ok   bool
	}{
		{"access", seg(`{"typ":"at+jwt"}`) + ".x.y", token.KindAccess, true},
		{"access, media type form", seg(`{"typ":"application/AT+JWT"}`) + ".x.y", token.KindAccess, true},
		{"anonymous", seg(`{"typ":"anon+jwt"}`) + ".x.y", token.KindAnonymous, true},
		{"plain JWT", seg(`{"typ":"JWT"}`) + ".x.y", 0, false},
		{"no typ", seg(`{"alg":"none"}`) + ".x.y", 0, false},
		{"typ not a string", seg(`{"typ":1}`) + ".x.y", 0, false},
		{"not base64", "***.x.y", 0, false},
		{"not JSON", seg("at+jwt") + ".x.y", 0, false},
		{"no dot", seg(`{"typ":"at+jwt"}`), 0, false},
		{"empty", "", 0, false},
		{"refresh token", "rt1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 0, false},
		{"oversized", seg(`{"typ":"at+jwt"}`) + "." + strings.Repeat("x", 9000) + ".y", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := token.KindOf(tt.tok)
			if got != tt.want || ok != tt.ok {
				t.Errorf("KindOf = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
	if s := token.KindAccess.String() + token.KindAnonymous.String() + token.Kind(0).String(); s != "accessanonymousKind(0)" {
		t.Errorf("Kind strings = %q", s)
	}
}

func TestParseAlg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    token.Alg
		wantErr bool
	}{
		{"ES256", token.ES256, false},
		{"es256", token.ES256, false},
		{"EdDSA", token.EdDSA, false},
		{"eddsa", token.EdDSA, false},
		{"PS256", token.PS256, false},
		{"RS256", token.RS256, false},
		{"HS256", token.HS256, false},
		{"none", "", true},
		{"", "", true},
		{"ES384", "", true},
		{"HS512", "", true},
		{" ES256", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := token.ParseAlg(tt.in)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("ParseAlg(%q) = %q, %v", tt.in, got, err)
			}
		})
	}
}

// TestConcurrentUse runs issue and verify from many goroutines on one
// Service, for the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 20 {
				at, ac, err := f.svc.IssueAccess("u", "s", "user", true, t0)
				if err != nil {
					t.Error(err)
					return
				}
				if got, err := f.svc.VerifyAccess(at, t0); err != nil || !reflect.DeepEqual(got, ac) {
					t.Errorf("VerifyAccess = %+v, %v", got, err)
				}
				_ = f.svc.JWKS()
			}
		})
	}
	wg.Wait()
}

// TestAccessLevelClaims: the session's assurance level and methods travel in the token as
// "aal" and "amr" (an array, RFC 8176), and come back from verification as issued.
func TestAccessLevelClaims(t *testing.T) {
	t.Parallel()
	f := newFixture(t, token.ES256)
	for _, tt := range []struct {
		aal string
		amr []string
	}{
		{"aal1", []string{"pwd"}},
		{"aal2", []string{"pwd", "otp"}},
		{"aal2", []string{"webauthn"}},
		{"aal2", []string{"pwd", "recovery"}},
	} {
		at, ac, err := f.svc.IssueAccessLevel("u", "s", "USER", true, tt.aal, tt.amr, t0)
		if err != nil {
			t.Fatal(err)
		}
		if ac.AAL != tt.aal || !reflect.DeepEqual(ac.AMR, tt.amr) {
			t.Errorf("issued %q %v, want %q %v", ac.AAL, ac.AMR, tt.aal, tt.amr)
		}
		got, err := f.svc.VerifyAccessFull(at, t0)
		if err != nil || !reflect.DeepEqual(got, ac) {
			t.Errorf("verified %+v, %v; want %+v", got, err, ac)
		}
		_, payload := segments(t, at)
		amr, _ := payload["amr"].([]any)
		if payload["aal"] != tt.aal || len(amr) != len(tt.amr) || amr[0] != tt.amr[0] {
			t.Errorf("payload aal %v amr %v, want %q %v", payload["aal"], payload["amr"], tt.aal, tt.amr)
		}
	}
}
