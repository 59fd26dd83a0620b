package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
	"github.com/toktok/toktok/store/sqlite"
	"github.com/toktok/toktok/token"
)

// Fuzz targets of the input rules. Each checks properties stated in the security policy,
// computed here independently of the code under test, so that a change to the code that
// breaks a rule fails even if the code still "agrees with itself". scripts/fuzz.sh runs
// them; plain go test runs their seeds.

// FuzzCanonicalEmail: whatever the input, CanonicalEmail either refuses it as
// BAD_USER_INPUT on the named field or returns an address that is its own canonical form
// (the unique index must hold one spelling per address), holds no byte that could end or
// split a mail header, fits SMTP's limits (254 bytes, 64 for the local part), is NFC,
// valid UTF-8 and lower-case, and ignores surrounding white space.
func FuzzCanonicalEmail(f *testing.F) {
	for _, s := range []string{
		"", " ", "ann@example.com", "  Ann@Example.COM ", "e\u0301lise@example.com",
		"\u00e9lise@example.com", "\u01f0@example.com", "\u01f0\u0323@example.com",
		"ann@example.com\r\nBcc: eve@example.com", "ann\x00@example.com", "ann\n@example.com",
		"\xff\xfe@example.com", "ann@ex\xc3ample.com", "Ann <ann@example.com>", `"a b"@example.com`,
		`"a\"b"@example.com`, "a@b@example.com", "@example.com", "ann@", "ann@localhost",
		"ann@.example.com", "ann@example..com", "ann@example.com.",
		strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 65) + "@example.com",
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 189) + ".com",
		strings.Repeat("\u00c9", 40) + "@example.com", strings.Repeat("(", 2000) + "@example.com",
		strings.Repeat("a@", 600), "\u212a@example.com", "\u0130@example.com", "\u1e9e@example.com",
		"ann\u200b@example.com", "ann\u2028@example.com", "ann@xn--exmple-cua.com", "ann@[127.0.0.1]",
		"ann(comment)@example.com", "=?utf-8?q?ann?=@example.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := CanonicalEmail("email", raw)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadUserInput || e.Field != "email" {
				t.Fatalf("CanonicalEmail(%+q) = %v; a refusal must be BAD_USER_INPUT on email", raw, err)
			}
			return
		}
		at := strings.LastIndexByte(got, '@')
		switch {
		case strings.ContainsAny(got, "\r\n\x00"):
			t.Errorf("CanonicalEmail(%+q) = %+q holds CR, LF or NUL", raw, got)
		case len(got) > 254:
			t.Errorf("CanonicalEmail(%+q) = %+q is %d bytes, over 254", raw, got, len(got))
		case at < 1 || at > 64:
			t.Errorf("CanonicalEmail(%+q) = %+q: local part of %d bytes (want 1 to 64)", raw, got, at)
		case !utf8.ValidString(got):
			t.Errorf("CanonicalEmail(%+q) = %+q is not valid UTF-8", raw, got)
		case !norm.NFC.IsNormalString(got):
			t.Errorf("CanonicalEmail(%+q) = %+q is not NFC (NFC is %+q)", raw, got, norm.NFC.String(got))
		case strings.ToLower(got) != got:
			t.Errorf("CanonicalEmail(%+q) = %+q is not lower-case", raw, got)
		}
		if again, err := CanonicalEmail("email", got); err != nil || again != got {
			t.Errorf("CanonicalEmail(%+q) = %+q, but that canonicalises to %+q, %v: not idempotent", raw, got, again, err)
		}
		if padded, err := CanonicalEmail("email", " \t"+raw+"\r\n "); err != nil || padded != got {
			t.Errorf("CanonicalEmail(%+q) = %+q, with white space around it %+q, %v", raw, got, padded, err)
		}
	})
}

// FuzzCleanData: the fuzz bytes are decoded as the GraphQL transport decodes a body
// (encoding/json, numbers kept exact) and given to the `data` validator. Whatever it
// accepts is at most 16 KiB of compact JSON, at most 8 levels of objects and arrays, has
// no key starting with $ or holding a dot or NUL, and is the same data as was sent;
// whatever satisfies those rules is accepted; a refusal is BAD_USER_INPUT on data.
func FuzzCleanData(f *testing.F) {
	deep := func(n int, open, leaf, close string) string {
		return strings.Repeat(open, n) + leaf + strings.Repeat(close, n)
	}
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"theme":"dark","n":1.5e3,"ok":true,"x":null,"l":[1,"two",{"three":3}]}`,
		`{"$where":"1"}`, `{"a.b":1}`, `{"ok":{"$gt":1}}`, `{"a\u0000b":1}`, `{"":""}`,
		`{"k":"` + strings.Repeat("a", 16<<10) + `"}`, `{"k":"` + strings.Repeat("<", 16000) + `"}`,
		`{"k":"` + strings.Repeat("\\u00e9", 3000) + `"}`,
		`{"k":` + deep(7, `{"k":`, `1`, `}`) + `}`, `{"k":` + deep(8, `{"k":`, `1`, `}`) + `}`,
		`{"k":` + deep(7, `[`, `1`, `]`) + `}`, `{"k":` + deep(8, `[`, `1`, `]`) + `}`,
		`{"k":` + deep(1000, `[`, ``, `]`) + `}`, `{"a":1,"a":{"$x":2}}`, `{"\ud800":1}`,
		"{\"k\":\"\xff\"}", `{"big":123456789012345678901234567890}`, `{"f":-0.0e-0}`,
		`{"k":"\u2028<script>&"}`, `[]`, `"str"`, `null`, `{"a":[[[[[[[[]]]]]]]]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil {
			return
		}
		out, err := cleanData("data", m)
		wantOK, why := dataRules(m)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeBadUserInput || e.Field != "data" {
				t.Fatalf("cleanData refused with %v; want BAD_USER_INPUT on data", err)
			}
			if wantOK {
				t.Fatalf("cleanData refused data that keeps every rule: %v\n%s", err, body)
			}
			return
		}
		if !wantOK {
			t.Fatalf("cleanData accepted data that breaks a rule (%s):\n%s", why, body)
		}
		if len(out) > 16<<10 {
			t.Fatalf("cleanData returned %d bytes, over 16 KiB", len(out))
		}
		if d := jsonDepth(t, out); d > 8 {
			t.Fatalf("cleanData returned JSON nested %d deep", d)
		}
		back := json.NewDecoder(bytes.NewReader(out))
		back.UseNumber()
		var again map[string]any
		if err := back.Decode(&again); err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("stored data %s does not read back as what was sent (%v)", out, err)
		}
	})
}

// dataRules decides SECURITY.md's rules for free client data on its own terms: the size of
// the compact JSON a client would send (no HTML escaping), the nesting of objects and
// arrays, and the keys a document database would read as operators or paths.
func dataRules(m map[string]any) (ok bool, why string) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return false, "not encodable"
	}
	if n := len(bytes.TrimSpace(buf.Bytes())); n > 16<<10 {
		return false, "over 16 KiB"
	}
	type item struct {
		v     any
		depth int
	}
	stack := []item{{m, 1}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch v := it.v.(type) {
		case map[string]any:
			if it.depth > 8 {
				return false, "deeper than 8"
			}
			for k, c := range v {
				if strings.HasPrefix(k, "$") || strings.ContainsAny(k, ".\x00") {
					return false, "forbidden key " + k
				}
				stack = append(stack, item{c, it.depth + 1})
			}
		case []any:
			if it.depth > 8 {
				return false, "deeper than 8"
			}
			for _, c := range v {
				stack = append(stack, item{c, it.depth + 1})
			}
		}
	}
	return true, ""
}

// jsonDepth measures the nesting of encoded JSON from its token stream, not from a
// decoded value, so it shares nothing with the validator's walk.
func jsonDepth(t *testing.T, b []byte) int {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // 1E700 is valid JSON that no float64 holds
	depth, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if depth != 0 {
				t.Fatalf("truncated JSON %s: %v", b, err)
			}
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			deepest = max(deepest, depth)
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// linkFuzz is one Service on a real SQLite store, with one account holding a live
// link of each purpose: signup confirmation, password reset and email change.
type linkFuzz struct {
	svc   *Service
	store *sqlite.Store
	clock *testclock.Clock
	live  map[string]store.LinkPurpose // raw token -> purpose
}

// newLinkFuzz builds the Service as fixture_test.go does; it is a copy because newFixture
// needs a *testing.T and a fuzz target's set-up has a *testing.F.
func newLinkFuzz(f *testing.F) *linkFuzz {
	f.Helper()
	ctx := f.Context()
	lf := &linkFuzz{clock: testclock.New(time.Time{}), live: map[string]store.LinkPurpose{}}
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "toktok.db"))
	if err != nil {
		f.Fatal(err)
	}
	lf.store = st
	key, _, err := token.LoadOrGenerateKey(token.ES256, filepath.Join(f.TempDir(), "jwt.pem"))
	if err != nil {
		f.Fatal(err)
	}
	cfg := testConfig()
	tokens, err := token.New(token.Config{Issuer: "https://toktok.test", Audience: "toktok-test"}, key)
	if err != nil {
		f.Fatal(err)
	}
	secret := []byte(strings.Repeat("fuzz-secret-", 4))
	refresh, err := token.NewRefreshCodec(secret)
	if err != nil {
		f.Fatal(err)
	}
	sealer, err := mailer.NewSealer(secret)
	if err != nil {
		f.Fatal(err)
	}
	renderer, err := mailer.NewRenderer("")
	if err != nil {
		f.Fatal(err)
	}
	queue, err := mailer.NewQueue(st, renderer, sealer, nil, lf.clock.Now, nil)
	if err != nil {
		f.Fatal(err)
	}
	lf.svc = New(cfg, Deps{
		Store: st, Hasher: password.New(password.Params{Memory: 64, Time: 1, Threads: 1}, 2),
		Tokens: tokens, RefreshCodec: refresh, Mail: queue, Now: lf.clock.Now,
	})
	f.Cleanup(func() {
		lf.svc.Wait()
		if err := st.Close(); err != nil {
			f.Errorf("close store: %v", err)
		}
	})
	lf.issueLinks(f, tokens, sealer)
	return lf
}

// issueLinks signs up an account, asks for a reset and an email change, and reads the
// three link tokens out of the mails as their reader would.
func (lf *linkFuzz) issueLinks(f *testing.F, tokens *token.Service, sealer *mailer.Sealer) {
	ctx := f.Context()
	tok, err := lf.svc.Register(ctx, RegisterInput{Email: "ann@example.com", Password: strongPW})
	if err != nil {
		f.Fatal(err)
	}
	if err := lf.svc.ForgotPassword(ctx, "ann@example.com", nil); err != nil {
		f.Fatal(err)
	}
	lf.svc.Wait()
	claims, err := tokens.VerifyAccess(tok.AccessToken, lf.clock.Now())
	if err != nil {
		f.Fatal(err)
	}
	p, err := lf.svc.Authenticate(WithAuth(ctx, Auth{Kind: KindAccess, Access: claims}))
	if err != nil {
		f.Fatal(err)
	}
	if err := lf.svc.ChangeEmail(ctx, p, "new@example.com", strongPW); err != nil {
		f.Fatal(err)
	}
	now := lf.clock.Now()
	mails, err := lf.store.ClaimMails(ctx, "fuzz", now, now.Add(time.Hour), 100)
	if err != nil {
		f.Fatal(err)
	}
	purposes := map[string]store.LinkPurpose{
		mailer.KindConfirm: store.LinkConfirm, mailer.KindReset: store.LinkReset, mailer.KindEmailChange: store.LinkEmailChange,
	}
	for _, m := range mails {
		purpose, ok := purposes[m.Kind]
		if !ok {
			continue
		}
		opened, err := sealer.Open(m)
		if err != nil {
			f.Fatal(err)
		}
		_, rest, ok := strings.Cut(opened.Text, "token=")
		if !ok {
			f.Fatalf("%s mail carries no link token", m.Kind)
		}
		raw, _, _ := strings.Cut(rest, "\n")
		lf.live[strings.TrimSpace(raw)] = purpose
	}
	if len(lf.live) != 3 {
		f.Fatalf("%d live link tokens read from the mails, want 3", len(lf.live))
	}
}

// FuzzLinkToken: confirmEmail and resetPassword, given any string that is not a link
// token the service mailed (near misses of real ones included: case, padding, white space,
// the stored hash itself), answer INVALID_TOKEN, return no account, and leave the real
// links usable.
func FuzzLinkToken(f *testing.F) {
	lf := newLinkFuzz(f)
	for _, s := range []string{
		"", " ", "\x00", "\r\n", "\xff\xfe", "token=", "' OR '1'='1", "%", "_", "*", "null",
		strings.Repeat("A", 43), strings.Repeat("a", 1<<16), strings.Repeat("\u00e9", 500),
	} {
		f.Add(s)
	}
	for raw := range lf.live {
		for _, s := range []string{
			hashLinkToken(raw), strings.ToUpper(raw), raw + "=", " " + raw, raw + "\n", raw + "\x00",
			raw[:len(raw)-1], raw + "A", "token=" + raw, "#token=" + raw, strings.ReplaceAll(raw, "-", "+"),
			raw[:len(raw)-1] + string(raw[len(raw)-1]^1),
		} {
			if _, live := lf.live[s]; !live {
				f.Add(s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if _, live := lf.live[raw]; live {
			return // would consume a real link; the fuzzer cannot guess 256 random bits anyway
		}
		ctx := t.Context()
		u, err := lf.svc.ConfirmEmail(ctx, raw)
		if !errors.Is(err, ErrInvalidToken) || u.ID != "" {
			t.Fatalf("ConfirmEmail(%+q) = %+v, %v; want INVALID_TOKEN", raw, u, err)
		}
		if err := lf.svc.ResetPassword(ctx, raw, strongPW2); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("ResetPassword(%+q) = %v; want INVALID_TOKEN", raw, err)
		}
		for live, purpose := range lf.live {
			if _, err := lf.store.LinkToken(ctx, hashLinkToken(live), purpose, lf.clock.Now()); err != nil {
				t.Fatalf("after trying %+q, the real %s link is gone: %v", raw, purpose, err)
			}
		}
	})
}
