package mfa

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// rfcSecret is the SHA-1 secret of RFC 6238 Appendix B, base32-encoded.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

func TestTOTPCodeRFC6238Vectors(t *testing.T) {
	// RFC 6238 Appendix B, SHA-1 column (8 digits); we use the last 6.
	vectors := []struct {
		unix int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, v := range vectors {
		got, err := TOTPCode(rfcSecret, time.Unix(v.unix, 0))
		if err != nil {
			t.Fatalf("TOTPCode at %d: %v", v.unix, err)
		}
		if want := v.code[2:]; got != want {
			t.Errorf("TOTPCode at %d = %q, want %q", v.unix, got, want)
		}
	}
}

// refTOTP is an independent RFC 4226/6238 implementation: HMAC-SHA-1 of the big-endian
// step counter, dynamic truncation, modulo 10^6.
func refTOTP(key []byte, unix int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(unix/30))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	h := m.Sum(nil)
	off := h[19] & 0x0f
	bin := uint32(h[off]&0x7f)<<24 | uint32(h[off+1])<<16 | uint32(h[off+2])<<8 | uint32(h[off+3])
	return fmt.Sprintf("%06d", bin%1000000)
}

func TestTOTPCodeMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		key := make([]byte, 16+r.IntN(30))
		for j := range key {
			key[j] = byte(r.Uint32())
		}
		secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
		unix := r.Int64N(1 << 36)
		got, err := TOTPCode(secret, time.Unix(unix, 0))
		if err != nil {
			t.Fatalf("TOTPCode: %v", err)
		}
		if want := refTOTP(key, unix); got != want {
			t.Fatalf("key %x at %d: TOTPCode = %q, reference = %q", key, unix, got, want)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	a, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(a) {
		t.Errorf("secret %q is not 32 upper-case base32 characters without padding", a)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(a)
	if err != nil || len(raw) != SecretBytes {
		t.Errorf("secret %q decodes to %d bytes (%v), want %d", a, len(raw), err, SecretBytes)
	}
	if a == b {
		t.Error("two secrets are equal")
	}
}

func TestStep(t *testing.T) {
	for _, c := range []struct{ unix, step int64 }{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2}, {-1, -1}, {-30, -1}, {-31, -2},
		{1111111109, 37037036},
	} {
		if got := Step(time.Unix(c.unix, 999_999_999)); got != c.step {
			t.Errorf("Step(%d) = %d, want %d", c.unix, got, c.step)
		}
	}
}

func TestTOTPCodeRefusesBadSecret(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, s := range []string{"", "ABC", "not base32!", "GEZDGNBVGY3TQOJQ"} { // last: 10 bytes
		if c, err := TOTPCode(s, now); err == nil {
			t.Errorf("TOTPCode(%q) = %q, want an error", s, c)
		}
		if _, ok := ValidateTOTP(s, "123456", now); ok {
			t.Errorf("ValidateTOTP accepted secret %q", s)
		}
	}
	if _, err := TOTPCode(rfcSecret, time.Unix(-31, 0)); err == nil {
		t.Error("TOTPCode before 1970 gave no error")
	}
}

func TestValidateTOTP(t *testing.T) {
	now := time.Unix(1_700_000_015, 0)
	cur := Step(now)
	codeAt := func(d int64) string {
		c, err := TOTPCode(rfcSecret, now.Add(time.Duration(d)*Period))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for d := int64(-1); d <= 1; d++ {
		step, ok := ValidateTOTP(rfcSecret, codeAt(d), now)
		if !ok || step != cur+d {
			t.Errorf("code of step %+d: got (%d, %v), want (%d, true)", d, step, ok, cur+d)
		}
	}
	for _, d := range []int64{-2, 2} {
		c := codeAt(d)
		if c == codeAt(-1) || c == codeAt(0) || c == codeAt(1) {
			t.Fatalf("the fixture's code of step %+d collides with a tolerated step", d)
		}
		if step, ok := ValidateTOTP(rfcSecret, c, now); ok {
			t.Errorf("code of step %+d accepted (step %d)", d, step)
		}
	}
	c := codeAt(0)
	for _, in := range []string{c[:3] + " " + c[3:], " " + c + " ", "\t" + c + "\n"} {
		if step, ok := ValidateTOTP(rfcSecret, in, now); !ok || step != cur {
			t.Errorf("ValidateTOTP(%q) = (%d, %v), want (%d, true)", in, step, ok, cur)
		}
	}
	wrong := c[:5] + string('0'+(c[5]-'0'+1)%10) // the right code with its last digit changed
	malformed := []string{
		"", c[:5], c + "0", "12a456", "abcdef", c[:5] + "x", "-" + c[1:], "+" + c[1:],
		"１２３４５６", c[:3] + "-" + c[3:], wrong,
	}
	for _, in := range malformed {
		if step, ok := ValidateTOTP(rfcSecret, in, now); ok {
			t.Errorf("ValidateTOTP(%q) accepted (step %d)", in, step)
		}
	}
}

func TestOTPAuthURI(t *testing.T) {
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	for _, c := range []struct{ issuer, account, wantLabel string }{
		{"TokTok", "alice@example.com", "TokTok:alice%40example.com"},
		{"Tok Tok", "al ice@ex:ample", "Tok%20Tok:al%20ice%40ex%3Aample"},
		{"a@b&c=d+e", "x/y?z#w", "a%40b%26c%3Dd%2Be:x%2Fy%3Fz%23w"},
	} {
		uri := OTPAuthURI(c.issuer, c.account, secret)
		wantPrefix := "otpauth://totp/" + c.wantLabel + "?secret=" + secret + "&issuer="
		if !strings.HasPrefix(uri, wantPrefix) || !strings.HasSuffix(uri, "&algorithm=SHA1&digits=6&period=30") {
			t.Errorf("OTPAuthURI = %q, want %q...&algorithm=SHA1&digits=6&period=30", uri, wantPrefix)
		}
		u, err := url.Parse(uri)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v", uri, err)
		}
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/"+c.issuer+":"+c.account {
			t.Errorf("parsed %q: scheme %q host %q path %q", uri, u.Scheme, u.Host, u.Path)
		}
		wantQuery := url.Values{
			"secret": {secret}, "issuer": {c.issuer}, "algorithm": {"SHA1"},
			"digits": {"6"}, "period": {"30"},
		}
		if q := u.Query(); q.Encode() != wantQuery.Encode() {
			t.Errorf("query of %q = %v, want %v", uri, q, wantQuery)
		}
		k, err := otp.NewKeyFromURL(uri)
		if err != nil {
			t.Fatalf("otp.NewKeyFromURL(%q): %v", uri, err)
		}
		if k.Type() != "totp" || k.Issuer() != c.issuer || k.AccountName() != c.account ||
			k.Secret() != secret || k.Period() != 30 || k.Digits() != otp.DigitsSix ||
			k.Algorithm() != otp.AlgorithmSHA1 {
			t.Errorf("pquerna reads %q as type %q issuer %q account %q secret %q period %d digits %d alg %v",
				uri, k.Type(), k.Issuer(), k.AccountName(), k.Secret(), k.Period(), k.Digits(), k.Algorithm())
		}
	}
}

func TestOTPAuthURIColonInIssuer(t *testing.T) {
	uri := OTPAuthURI("Tok:Tok", "alice", "JBSWY3DPEHPK3PXP")
	if !strings.HasPrefix(uri, "otpauth://totp/Tok%3ATok:alice?") {
		t.Errorf("OTPAuthURI = %q: the issuer's colon is not escaped", uri)
	}
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatal(err)
	}
	if k.Issuer() != "Tok:Tok" {
		t.Errorf("issuer read back as %q", k.Issuer())
	}
}

func TestOTPAuthURINoIssuer(t *testing.T) {
	uri := OTPAuthURI("", "alice@example.com", "JBSWY3DPEHPK3PXP")
	want := "otpauth://totp/alice%40example.com?secret=JBSWY3DPEHPK3PXP&algorithm=SHA1&digits=6&period=30"
	if uri != want {
		t.Errorf("OTPAuthURI = %q, want %q", uri, want)
	}
}
