package password

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// reasonOrder is every reason Check may give, in the order it gives them.
var reasonOrder = []string{ReasonTooShort, ReasonTooLong, ReasonContainsEmail, ReasonContainsServiceName, ReasonCommon}

// FuzzPolicyCheck: for any password, email and policy, Check is deterministic, gives only
// known reasons in their documented order without repeats, and its length verdicts are
// exactly the NFC code-point count against the limits, so that the same text typed
// composed or decomposed gets the same verdict. A password holding the email's local part
// (3 code points or more) is refused as contains_email.
func FuzzPolicyCheck(f *testing.F) {
	for _, s := range []struct {
		pw, email, service string
		min, max           uint16
	}{
		{"", "", "", 0, 0},
		{"correct horse battery staple", "ann@example.com", "toktok", 12, 256},
		{"ann-is-my-name-123", "ann@example.com", "", 0, 0},
		{"password", "a@b.c", "", 8, 64},
		{"Password123!", "x@y.z", "", 0, 0},
		{"my TokTok password", "bob@example.com", "TokTok", 0, 0},
		{"e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", "", "", 6, 6},
		{"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9", "", "", 6, 6},
		{strings.Repeat("x", 257), "", "", 0, 0},
		{strings.Repeat("\U0001F600", 300), "", "", 0, 0},
		{"\xff\xfe\xfd invalid utf8 \xc3", "\xff@example.com", "\xc3\xa9", 0, 0},
		{"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", "\x00\x00\x00@x", "\x00", 0, 0},
		{"line\r\nbreaks\r\nin\r\nit", "line@example.com", "", 0, 0},
		{"STRASSE-strasse-1234", "stra\u00dfe@example.com", "", 0, 0},
		{"\u0130stanbul-\u0131stanbul", "istanbul@example.com", "", 0, 0},
		{"KELVIN \u212a sign here", "k@k", "\u212a\u212a\u212a", 0, 0},
		{"aaa@bbb@ccc password", "aaa@bbb@ccc", "", 0, 0},
		{strings.Repeat("a", 5000), strings.Repeat("a", 300) + "@x", strings.Repeat("a", 200), 1, 1},
	} {
		f.Add(s.pw, s.email, s.service, s.min, s.max)
	}
	f.Fuzz(func(t *testing.T, pw, email, service string, minLen, maxLen uint16) {
		p := Policy{MinLength: int(minLen), MaxLength: int(maxLen), ServiceName: service}
		got := p.Check(pw, email)
		if again := p.Check(pw, email); !slices.Equal(got, again) {
			t.Fatalf("Check(%+q, %+q) = %v, then %v", pw, email, got, again)
		}
		last := -1
		for _, r := range got {
			i := slices.Index(reasonOrder, r)
			if i <= last {
				t.Fatalf("Check(%+q, %+q) = %v: unknown, repeated or out-of-order reason %q", pw, email, got, r)
			}
			last = i
		}
		lo, hi := int(minLen), int(maxLen)
		if lo == 0 {
			lo = 12
		}
		if hi == 0 {
			hi = 256
		}
		n := utf8.RuneCountInString(norm.NFC.String(pw))
		if short := slices.Contains(got, ReasonTooShort); short != (n < lo) {
			t.Errorf("Check(%+q) with min %d: too_short=%v for %d code points after NFC", pw, lo, short, n)
		}
		if long := slices.Contains(got, ReasonTooLong); long != (n > hi) {
			t.Errorf("Check(%+q) with max %d: too_long=%v for %d code points after NFC", pw, hi, long, n)
		}
		if !utf8.ValidString(pw) || !utf8.ValidString(email) || !utf8.ValidString(service) {
			return // the equivalence below is Unicode's, defined on valid text only
		}
		for _, form := range []norm.Form{norm.NFC, norm.NFD} {
			if other := p.Check(form.String(pw), email); !slices.Equal(other, got) {
				t.Errorf("Check(%+q) = %v but its canonically equivalent %+q gets %v", pw, got, form.String(pw), other)
			}
		}
		local := email
		if i := strings.LastIndexByte(email, '@'); i >= 0 {
			local = email[:i]
		}
		if utf8.RuneCountInString(norm.NFC.String(local)) >= 3 {
			// Spaces are starters that compose with nothing, so the local part stays
			// itself inside the longer string.
			holder := "  " + local + "  "
			if reasons := p.Check(holder, email); !slices.Contains(reasons, ReasonContainsEmail) {
				t.Errorf("Check(%+q, %+q) = %v: holds the local part %+q but not refused as contains_email", holder, email, reasons, local)
			}
		}
	})
}

// FuzzParseStoredHash: the parsers of stored hashes (a stored value is attacker-controlled
// if the database ever is) never panic, and what they accept is within the bounds that keep
// verifying it cheap: argon2id parameters that Validate accepts, salt and key sizes in range,
// and an encoding that reads back the same; werkzeug digests of SHA-256 size and PBKDF2
// iteration counts from 1 to 10 000 000.
func FuzzParseStoredHash(f *testing.F) {
	salt := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef"))
	key := base64.RawStdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	for _, s := range []string{
		"", "$", "$$$$$", "$argon2id$", "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=2,p=1,m=19456$" + salt + "$" + key, "$argon2id$v=16$m=19456,t=2,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,m=1$" + salt + "$" + key, "$argon2id$v=19$m=4294967295,t=4294967295,p=255$" + salt + "$" + key,
		"$argon2id$v=19$m=+19456,t=2,p=1$" + salt + "$" + key, "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=19456,t=2,p=1,keyid=x$" + salt + "$" + key, "$argon2id$v=19$m=8,t=1,p=1$AAAAAAAAAAA$AAAAAA",
		"$argon2id$v=19$m=19456,t=2,p=0$" + salt + "$" + key, "$argon2id$v=19$m=19456,t=2,p=1$" + salt + "$" + key + "$",
		"$argon2i$v=19$m=19456,t=2,p=1$" + salt + "$" + key,
		"sha256$$" + strings.Repeat("0", 64), "sha256$salt$" + strings.Repeat("ab", 32), "sha256$salt$" + strings.Repeat("AB", 32),
		"pbkdf2:sha256$salt$" + strings.Repeat("0", 64), "pbkdf2:sha256:1$s$" + strings.Repeat("0", 64),
		"pbkdf2:sha256:0$s$" + strings.Repeat("0", 64), "pbkdf2:sha256:-1$s$" + strings.Repeat("0", 64),
		"pbkdf2:sha256:+5$s$" + strings.Repeat("0", 64), "pbkdf2:sha256:10000001$s$" + strings.Repeat("0", 64),
		"pbkdf2:sha256:99999999999999999999$s$" + strings.Repeat("0", 64), "pbkdf2:sha256$$" + strings.Repeat("0", 64),
		"pbkdf2:sha512:1000$s$" + strings.Repeat("0", 128), "sha256$s$" + strings.Repeat("0", 63), "md5$s$00",
		"sha256$s\x00$" + strings.Repeat("0", 64), "sha256$s$s$" + strings.Repeat("0", 64), strings.Repeat("$", 10000),
		// Wrapped werkzeug hashes (wrap.go).
		"$werkzeug-argon2id$pbkdf2:sha256:1000$g4SdlW1q$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$werkzeug-argon2id$sha256$$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$werkzeug-argon2id$pbkdf2:sha256$g4SdlW1q$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$werkzeug-argon2id$pbkdf2:sha256:1000$$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$werkzeug-argon2id$md5$x$v=19$m=64,t=1,p=1$" + salt + "$" + key,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := parseArgon2id(s); err == nil {
			checkArgon2id(t, s, a)
		}
		if wr, err := parseWrapped(s); err == nil {
			// The werkzeug method is written in full; what was read re-encodes and reads
			// back the same.
			checkArgon2id(t, s, wr.argon)
			if !strings.HasPrefix(s, wrappedPrefix+wr.method+"$"+wr.legacy.salt+"$") {
				t.Errorf("parseWrapped(%+q): method %q and salt %q not as written", s, wr.method, wr.legacy.salt)
			}
			enc := encodeWrapped(wr.method, wr.legacy.salt, wr.argon.params, wr.argon.salt, wr.argon.key)
			back, err := parseWrapped(enc)
			if err != nil || back.method != wr.method || back.legacy.salt != wr.legacy.salt || back.argon.params != wr.argon.params ||
				string(back.argon.salt) != string(wr.argon.salt) || string(back.argon.key) != string(wr.argon.key) {
				t.Errorf("parseWrapped(%+q) re-encodes as %+q, which reads back as %+v, %v", s, enc, back, err)
			}
		} else if !errors.Is(err, ErrMalformedHash) {
			t.Errorf("parseWrapped(%+q): %v does not wrap ErrMalformedHash", s, err)
		}
		w, err := parseWerkzeug(s)
		if err != nil {
			return
		}
		if len(w.sum) != 32 {
			t.Errorf("parseWerkzeug(%+q): digest of %d bytes", s, len(w.sum))
		}
		if w.pbkdf2 && (w.iterations < 1 || w.iterations > 10_000_000 || w.salt == "") {
			t.Errorf("parseWerkzeug(%+q): pbkdf2 with %d iterations and salt %+q", s, w.iterations, w.salt)
		}
		if !w.pbkdf2 && !strings.HasPrefix(s, "sha256$") {
			t.Errorf("parseWerkzeug(%+q): accepted as salted SHA-256", s)
		}
	})
}

func checkArgon2id(t *testing.T, s string, a argon2idHash) {
	t.Helper()
	p := a.params
	if p.Time < 1 || p.Time > 64 || p.Threads < 1 || p.Memory < 8*uint32(p.Threads) || p.Memory > 2<<20 {
		t.Errorf("parseArgon2id(%+q): parameters %+v out of bounds", s, p)
	}
	if len(a.salt) < 8 || len(a.salt) > 1024 || len(a.key) < 4 || len(a.key) > 1024 {
		t.Errorf("parseArgon2id(%+q): salt of %d bytes, key of %d", s, len(a.salt), len(a.key))
	}
	enc := encodeArgon2id(p, a.salt, a.key)
	b, err := parseArgon2id(enc)
	if err != nil || b.params != p || string(b.salt) != string(a.salt) || string(b.key) != string(a.key) {
		t.Errorf("parseArgon2id(%+q) re-encodes as %+q, which reads back as %+v, %v", s, enc, b, err)
	}
}
