package password

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	// The implementation uses crypto/pbkdf2; the tests derive expected
	// values with the x/crypto one so that the two check each other.
	xpbkdf2 "golang.org/x/crypto/pbkdf2"
)

// cheap keeps argon2id fast in tests; only TestDefaultParams pays full cost.
var cheap = Params{Memory: 64, Time: 1, Threads: 1}

func TestDefaultParams(t *testing.T) {
	want := Params{Memory: 19456, Time: 2, Threads: 1}
	if got := DefaultParams(); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	h := New(DefaultParams(), 1)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if prefix := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(enc, prefix) {
		t.Fatalf("Hash = %q, want prefix %q", enc, prefix)
	}
	ok, rehash, err := h.Verify(ctx, "correct horse battery staple", enc)
	if !ok || rehash || err != nil {
		t.Fatalf("Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
	// Produced by the reference implementation (argon2 CLI, libargon2
	// 20171227) with the default parameters.
	ok, rehash, err = h.Verify(ctx, "password",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRTT01FU0FMVA$DkdiWnw7T03ffprnn4mlDkd3/sCJ7cwkgD7pdNvv6t8")
	if !ok || rehash || err != nil {
		t.Fatalf("Verify(reference vector) = %v, %v, %v; want true, false, nil", ok, rehash, err)
	}
}

func TestRoundTrip(t *testing.T) {
	h := New(cheap, 0)
	ctx := context.Background()
	for _, tc := range []struct{ name, password, wrong string }{
		{"ascii", "correct horse battery staple", "correct horse battery stapl"},
		{"unicode", "Zoë & the 🦊 über alles", "Zoe & the 🦊 über alles"},
		{"empty", "", " "},
		{"long", strings.Repeat("ab1!", 64), strings.Repeat("ab1!", 63)},
		{"nul byte", "pass\x00word", "pass"},
		{"nfd is not nfc", "e\u0301", "\u00e9"}, // hashed byte for byte, no normalisation
	} {
		t.Run(tc.name, func(t *testing.T) {
			enc, err := h.Hash(ctx, tc.password)
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := h.Verify(ctx, tc.password, enc)
			if !ok || rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, tc.wrong, enc)
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHashEncoding(t *testing.T) {
	ctx := context.Background()
	for _, p := range []Params{cheap, {Memory: 256, Time: 3, Threads: 2}, {Memory: 1024, Time: 1, Threads: 8}} {
		t.Run(fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads), func(t *testing.T) {
			h := New(p, 2)
			if h.Params() != p {
				t.Fatalf("Params() = %+v, want %+v", h.Params(), p)
			}
			enc, err := h.Hash(ctx, "hunter2hunter2")
			if err != nil {
				t.Fatal(err)
			}
			m := phcRE.FindStringSubmatch(enc)
			if m == nil {
				t.Fatalf("Hash = %q, not a PHC argon2id string", enc)
			}
			if got, want := strings.Join(m[1:4], ","), fmt.Sprintf("%d,%d,%d", p.Memory, p.Time, p.Threads); got != want {
				t.Errorf("encoded m,t,p = %s, want %s", got, want)
			}
			salt, err1 := base64.RawStdEncoding.DecodeString(m[4])
			key, err2 := base64.RawStdEncoding.DecodeString(m[5])
			if err1 != nil || err2 != nil || len(salt) != 16 || len(key) != 32 {
				t.Fatalf("salt %d bytes (%v), key %d bytes (%v); want 16, 32", len(salt), err1, len(key), err2)
			}
			// The key is exactly argon2id over the encoded salt and params.
			if want := argon2.IDKey([]byte("hunter2hunter2"), salt, p.Time, p.Memory, p.Threads, 32); !slices.Equal(key, want) {
				t.Error("encoded key is not argon2.IDKey of the password")
			}
			a, err := parseArgon2id(enc)
			if err != nil || a.params != p || !slices.Equal(a.salt, salt) || !slices.Equal(a.key, key) {
				t.Errorf("parseArgon2id = %+v, %v", a, err)
			}
			again, err := h.Hash(ctx, "hunter2hunter2")
			if err != nil {
				t.Fatal(err)
			}
			if again == enc {
				t.Error("two hashes of one password are equal: salt not random")
			}
		})
	}
}

func TestVerifyOtherParams(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 0)
	const pw = "correct horse battery staple"
	custom := func(p Params, salt []byte, keyLen uint32) string {
		return encodeArgon2id(p, salt, argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen))
	}
	for _, tc := range []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{"same params", custom(cheap, []byte("0123456789abcdef"), 32), false},
		{"more memory", custom(Params{128, 1, 1}, []byte("0123456789abcdef"), 32), true},
		{"more time", custom(Params{64, 3, 1}, []byte("0123456789abcdef"), 32), true},
		{"more threads", custom(Params{64, 1, 2}, []byte("0123456789abcdef"), 32), true},
		{"short salt", custom(cheap, []byte("saltsalt"), 32), true},
		{"short key", custom(cheap, []byte("0123456789abcdef"), 16), true},
		// From the reference implementation (argon2 CLI, libargon2 20171227).
		{"reference m=64,t=1,p=1", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRTT01FU0FMVA$DBAchIuxJAg9+wPcege5bwN/XomOIqC5a+3mrTVU0JU", false},
		{"reference m=256,t=2,p=2 16-byte key", "$argon2id$v=19$m=256,t=2,p=2$c2FsdHNhbHQ$Fc5iD/jD/vNfbx95b/lfug", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, pw, tc.encoded)
			if !ok || rehash != tc.wantRehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, %v, nil", ok, rehash, err, tc.wantRehash)
			}
			ok, rehash, err = h.Verify(ctx, pw+"!", tc.encoded)
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}

	t.Run("reference unicode m=128,t=3,p=4", func(t *testing.T) {
		ok, rehash, err := h.Verify(ctx, "Zoë & the 🦊",
			"$argon2id$v=19$m=128,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$ITv9J9550TRM/UmYUNMlIAc9w+NhoP+mC9E85apRC8I")
		if !ok || !rehash || err != nil {
			t.Errorf("Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
		}
	})

	t.Run("hash from another hasher", func(t *testing.T) {
		other := New(Params{Memory: 256, Time: 2, Threads: 2}, 1)
		enc, err := other.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, rehash, err := h.Verify(ctx, pw, enc); !ok || !rehash || err != nil {
			t.Errorf("old hasher's hash: Verify = %v, %v, %v; want true, true, nil", ok, rehash, err)
		}
		if ok, rehash, err := other.Verify(ctx, pw, enc); !ok || rehash || err != nil {
			t.Errorf("own hash: Verify = %v, %v, %v; want true, false, nil", ok, rehash, err)
		}
	})
}

// werkzeugSHA256 and werkzeugPBKDF2 rebuild what werkzeug < 2.3 stored,
// independently of the implementation.
func werkzeugSHA256(salt, password string) string {
	if salt == "" {
		s := sha256.Sum256([]byte(password))
		return "sha256$$" + hex.EncodeToString(s[:])
	}
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(password))
	return "sha256$" + salt + "$" + hex.EncodeToString(m.Sum(nil))
}

func werkzeugPBKDF2(method string, iterations int, salt, password string) string {
	k := xpbkdf2.Key([]byte(password), []byte(salt), iterations, 32, sha256.New)
	return method + "$" + salt + "$" + hex.EncodeToString(k)
}

func TestVerifyWerkzeug(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 0)
	for _, tc := range []struct{ name, encoded, password string }{
		// Fixed vectors. SHA-256("password") is the well-known digest; the
		// HMAC one is RFC 4231 test case 2 (key "Jefe"); the PBKDF2 ones are
		// the standard PBKDF2-HMAC-SHA256 vectors for "password"/"salt".
		{"fixed sha256 unsalted", "sha256$$5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "password"},
		{"fixed sha256 hmac rfc4231", "sha256$Jefe$5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "what do ya want for nothing?"},
		{"fixed pbkdf2 c=1", "pbkdf2:sha256:1$salt$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b", "password"},
		{"fixed pbkdf2 c=4096", "pbkdf2:sha256:4096$salt$c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a", "password"},
		// Produced by werkzeug 3.1.8's generate_password_hash.
		{"fixed werkzeug output", "pbkdf2:sha256:1000$qQOT6P8r$bb6fa202f3fd00df50803ff57646b85ffc6e5a8016ea8d86a80d0d2149724f33", "correct horse"},
		{"fixed werkzeug output unicode", "pbkdf2:sha256:2000$ahnB3vlry3LkaaAq$84e0947b85f4f0861c9852ffe73220a6f6d5a81b211c40e5b81a5876d0407d4d", "Zoë & the 🦊"},
		// Python hashlib.pbkdf2_hmac("sha256", pw, b"Ab3dE5gH", 150000).
		{"fixed pbkdf2 default iterations", "pbkdf2:sha256$Ab3dE5gH$a4058e57da772d0d88b895e354546634d198bf912483cd809b6d7a763f24afed", "pässwörd-ünïcode"},

		{"computed sha256 hmac", werkzeugSHA256("Xc8fW2kL", "hunter2hunter2"), "hunter2hunter2"},
		{"computed sha256 hmac unicode", werkzeugSHA256("Xc8fW2kL", "Zoë 🦊"), "Zoë 🦊"},
		{"computed sha256 unsalted", werkzeugSHA256("", "hunter2hunter2"), "hunter2hunter2"},
		{"computed pbkdf2 50000", werkzeugPBKDF2("pbkdf2:sha256:50000", 50000, "g4SdlW1q", "hunter2hunter2"), "hunter2hunter2"},
		{"computed pbkdf2 no iterations means 150000", werkzeugPBKDF2("pbkdf2:sha256", 150000, "g4SdlW1q", "hunter2hunter2"), "hunter2hunter2"},
		{"computed pbkdf2 empty password", werkzeugPBKDF2("pbkdf2:sha256:10", 10, "g4SdlW1q", ""), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, tc.password, tc.encoded)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			ok, rehash, err = h.Verify(ctx, tc.password+"x", tc.encoded)
			if ok || rehash || err != nil {
				t.Errorf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 1)
	h.onAcquire = func() { t.Error("malformed hash reached the semaphore") }
	const (
		salt  = "c29tZXNhbHRTT01FU0FMVA"                      // 16 bytes
		key   = "DBAchIuxJAg9+wPcege5bwN/XomOIqC5a+3mrTVU0JU" // 32 bytes
		digst = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	)
	argon := func(mid string) string { return "$argon2id$v=19$" + mid + "$" + salt + "$" + key }
	for _, tc := range []struct{ name, encoded string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"dollars only", "$$$$$"},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2id prefix only", "$argon2id$"},
		{"argon2id missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"argon2id extra field", argon("m=64,t=1,p=1") + "$x"},
		{"argon2id no version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2id version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2id version junk", "$argon2id$v=19x$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing m", argon("t=1,p=1")},
		{"missing p", argon("m=64,t=1")},
		{"repeated t", argon("m=64,t=1,t=1,p=1")},
		{"unknown param", argon("m=64,t=1,p=1,keyid=abc")},
		{"param without =", argon("m=64,t,p=1")},
		{"empty params", argon("")},
		{"non-numeric m", argon("m=lots,t=1,p=1")},
		{"negative t", argon("m=64,t=-1,p=1")},
		{"plus sign", argon("m=+64,t=1,p=1")},
		{"m overflows uint32", argon("m=4294967296,t=1,p=1")},
		{"p overflows uint8", argon("m=4096,t=1,p=256")},
		{"t zero", argon("m=64,t=0,p=1")},
		{"p zero", argon("m=64,t=1,p=0")},
		{"m below 8 per lane", argon("m=15,t=1,p=2")},
		{"m above cap", argon("m=4294967295,t=1,p=1")},
		{"t above cap", argon("m=64,t=4294967295,p=1")},
		{"salt not base64", "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key},
		{"salt padded", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"salt too short", "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key},
		{"salt empty", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"key not base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$****"},
		{"key too short", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{"key empty", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"werkzeug one dollar", "sha256$" + digst},
		{"werkzeug unknown method", "md5$salt$" + digst},
		{"werkzeug sha1", "sha1$salt$" + digst},
		{"werkzeug plain", "plain$$hunter2"},
		{"werkzeug scrypt", "scrypt:32768:8:1$salt$" + digst},
		{"pbkdf2 sha1", "pbkdf2:sha1:1000$salt$" + digst},
		{"pbkdf2 sha512", "pbkdf2:sha512:1000$salt$" + digst},
		{"pbkdf2 no salt", "pbkdf2:sha256:1000$$" + digst},
		{"pbkdf2 empty iterations", "pbkdf2:sha256:$salt$" + digst},
		{"pbkdf2 zero iterations", "pbkdf2:sha256:0$salt$" + digst},
		{"pbkdf2 negative iterations", "pbkdf2:sha256:-5$salt$" + digst},
		{"pbkdf2 junk iterations", "pbkdf2:sha256:many$salt$" + digst},
		{"pbkdf2 too many iterations", "pbkdf2:sha256:2000000000$salt$" + digst},
		{"pbkdf2 extra argument", "pbkdf2:sha256:1000:1$salt$" + digst},
		{"digest not hex", "sha256$salt$" + strings.Repeat("zz", 32)},
		{"digest odd length", "sha256$salt$" + digst[:63]},
		{"digest too short", "sha256$salt$" + digst[:62]},
		{"digest too long", "sha256$salt$" + digst + "00"},
		{"digest with extra dollar", "sha256$salt$" + digst + "$"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(ctx, "password", tc.encoded)
			if ok || rehash || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q) = %v, %v, %v; want false, false, ErrMalformedHash", tc.encoded, ok, rehash, err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if got := cap(New(cheap, 0).sem); got != runtime.NumCPU() {
		t.Errorf("concurrency 0: %d slots, want NumCPU = %d", got, runtime.NumCPU())
	}
	if got := cap(New(cheap, -3).sem); got != runtime.NumCPU() {
		t.Errorf("concurrency -3: %d slots, want NumCPU = %d", got, runtime.NumCPU())
	}
	if got := cap(New(cheap, 7).sem); got != 7 {
		t.Errorf("concurrency 7: %d slots", got)
	}
	for _, p := range []Params{
		{},
		{Memory: 64, Time: 0, Threads: 1},
		{Memory: 64, Time: 1, Threads: 0},
		{Memory: 15, Time: 1, Threads: 2},
		{Memory: maxMemoryKiB + 1, Time: 1, Threads: 1},
		{Memory: 64, Time: maxTime + 1, Threads: 1},
	} {
		t.Run(fmt.Sprintf("%+v", p), func(t *testing.T) {
			if p.Validate() == nil {
				t.Error("Validate accepted invalid params")
			}
			defer func() {
				if recover() == nil {
					t.Error("New did not panic")
				}
			}()
			New(p, 1)
		})
	}
}

// ops are the calls that must share the semaphore.
var ops = []struct {
	name string
	call func(ctx context.Context, h *Hasher) error
}{
	{"Hash", func(ctx context.Context, h *Hasher) error {
		_, err := h.Hash(ctx, "correct horse battery staple")
		return err
	}},
	{"Verify", func(ctx context.Context, h *Hasher) error {
		_, _, err := h.Verify(ctx, "password", "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHRTT01FU0FMVA$DBAchIuxJAg9+wPcege5bwN/XomOIqC5a+3mrTVU0JU")
		return err
	}},
	{"VerifyLegacy", func(ctx context.Context, h *Hasher) error {
		_, _, err := h.Verify(ctx, "password", "pbkdf2:sha256:1$salt$120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b")
		return err
	}},
	{"VerifyDummy", func(ctx context.Context, h *Hasher) error {
		return h.VerifyDummy(ctx, "password")
	}},
}

// TestConcurrencyBounded fills both slots of a 2-slot hasher with calls
// parked inside the slot, then checks that a third call of each kind finds
// no slot and waits, and gets one as soon as a holder leaves.
func TestConcurrencyBounded(t *testing.T) {
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			const limit = 2
			h := New(cheap, limit)
			entered := make(chan struct{}, limit+1)
			waiting := make(chan struct{}, limit+1)
			release := make(chan struct{})
			h.onAcquire = func() { entered <- struct{}{}; <-release }
			h.onWait = func() { waiting <- struct{}{} }

			var wg sync.WaitGroup
			errs := make(chan error, limit+1)
			start := func() {
				wg.Go(func() { errs <- op.call(context.Background(), h) })
			}
			for range limit {
				start()
			}
			for range limit {
				select {
				case <-entered:
				case <-waiting:
					t.Fatal("a call waited although a slot was free")
				}
			}

			start()
			select {
			case <-waiting:
			case <-entered:
				t.Fatalf("call %d got a slot while %d were held", limit+1, limit)
			}
			if n := len(h.sem); n != limit {
				t.Fatalf("%d slots taken, want %d", n, limit)
			}

			release <- struct{}{} // one holder leaves; the waiter takes its slot
			<-entered
			close(release)
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := len(h.sem); n != 0 {
				t.Errorf("%d slots still taken after all calls returned", n)
			}
		})
	}
}

func TestCancelWhileWaiting(t *testing.T) {
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			h := New(cheap, 1)
			entered := make(chan struct{})
			release := make(chan struct{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			h.onAcquire = func() { close(entered); <-release } // only the holder gets here
			h.onWait = cancel

			holderErr := make(chan error, 1)
			go func() { holderErr <- op.call(context.Background(), h) }()
			<-entered

			if err := op.call(ctx, h); !errors.Is(err, context.Canceled) {
				t.Errorf("waiting call returned %v, want context.Canceled", err)
			}
			if n := len(h.sem); n != 1 {
				t.Errorf("%d slots taken after the cancelled wait, want 1 (the holder's)", n)
			}
			close(release)
			if err := <-holderErr; err != nil {
				t.Errorf("holder: %v", err)
			}
		})
	}

	t.Run("already cancelled with a free slot", func(t *testing.T) {
		h := New(cheap, 1)
		h.onAcquire = func() { t.Error("cancelled call took a slot") }
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := h.Hash(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Errorf("Hash = %v, want context.Canceled", err)
		}
		ok, rehash, err := h.Verify(ctx, "password", werkzeugSHA256("", "password"))
		if ok || rehash || !errors.Is(err, context.Canceled) {
			t.Errorf("Verify = %v, %v, %v; want false, false, context.Canceled", ok, rehash, err)
		}
		if err := h.VerifyDummy(ctx, "pw"); !errors.Is(err, context.Canceled) {
			t.Errorf("VerifyDummy = %v, want context.Canceled", err)
		}
	})
}

func TestVerifyDummy(t *testing.T) {
	p := Params{Memory: 128, Time: 2, Threads: 2}
	h := New(p, 1)
	a, err := parseArgon2id(h.dummy)
	if err != nil {
		t.Fatal(err)
	}
	// Same cost as a real hash of this hasher: same params and sizes.
	if a.params != p || len(a.salt) != saltLen || len(a.key) != keyLen {
		t.Errorf("dummy = %+v (salt %d, key %d), want params %+v, salt %d, key %d",
			a.params, len(a.salt), len(a.key), p, saltLen, keyLen)
	}
	if New(p, 1).dummy == h.dummy {
		t.Error("two hashers share a dummy hash")
	}
	var derivations int
	h.onAcquire = func() { derivations++ }
	if err := h.VerifyDummy(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if err := h.VerifyDummy(context.Background(), "anything"); err != nil {
		t.Fatal(err)
	}
	if derivations != 2 {
		t.Errorf("VerifyDummy ran %d derivations for 2 calls", derivations)
	}
}

func TestPolicyCheck(t *testing.T) {
	decomposed := strings.Repeat("e\u0301", 6) // 12 code points, NFC: 6
	for _, tc := range []struct {
		name     string
		policy   Policy
		password string
		email    string
		want     []string
	}{
		{"acceptable", DefaultPolicy(), "correct horse battery staple", "alice@example.com", nil},
		{"zero policy uses defaults", Policy{}, "short", "", []string{ReasonTooShort}},
		{"exactly min", DefaultPolicy(), "abcdefghijkl", "", nil},
		{"one below min", DefaultPolicy(), "abcdefghijk", "", []string{ReasonTooShort}},
		{"empty", DefaultPolicy(), "", "", []string{ReasonTooShort}},
		{"exactly max", DefaultPolicy(), strings.Repeat("x", 256), "", nil},
		{"one above max", DefaultPolicy(), strings.Repeat("x", 257), "", []string{ReasonTooLong}},
		{"custom lengths", Policy{MinLength: 4, MaxLength: 8}, "abcdefghi", "", []string{ReasonTooLong}},
		{"spaces count, no trimming", DefaultPolicy(), "   abcdefgh   ", "", nil},
		{"nfc: 12 decomposed is 6 composed", DefaultPolicy(), decomposed, "", []string{ReasonTooShort}},
		{"nfc: 24 decomposed is 12 composed", DefaultPolicy(), decomposed + decomposed, "", nil},
		{"nfc: 257 composed is too long", DefaultPolicy(), strings.Repeat("e\u0301", 257), "", []string{ReasonTooLong}},
		{"emoji are one code point each", DefaultPolicy(), strings.Repeat("🦊", 11), "", []string{ReasonTooShort}},
		{"email local part", DefaultPolicy(), "my name is ALICE!", "alice@example.com", []string{ReasonContainsEmail}},
		{"email equal to local part", DefaultPolicy(), "alice.liddell.1865", "Alice.Liddell.1865@example.com", []string{ReasonContainsEmail}},
		{"email local part too short to check", DefaultPolicy(), "al is my best friend", "al@example.com", nil},
		{"email local part of 3", DefaultPolicy(), "bob the builder!", "bob@example.com", []string{ReasonContainsEmail}},
		{"email local part nfc and case", DefaultPolicy(), "ZOË IS THE BEST SPY", "zoe\u0308@example.com", []string{ReasonContainsEmail}},
		{"email domain not checked", DefaultPolicy(), "example.com rocks!", "alice@example.com", nil},
		{"empty email", DefaultPolicy(), "correct horse battery", "", nil},
		{"service name", DefaultPolicy(), "I love TokTok so much", "", []string{ReasonContainsServiceName}},
		{"custom service name", Policy{ServiceName: "Acme"}, "acme rocket skates", "", []string{ReasonContainsServiceName}},
		{"common", DefaultPolicy(), "qwertyuiop123", "", []string{ReasonCommon}},
		{"common any case", DefaultPolicy(), "QwertyUiop123", "", []string{ReasonCommon}},
		{"common and short", DefaultPolicy(), "Password123", "", []string{ReasonTooShort, ReasonCommon}},
		{"iloveyou123", DefaultPolicy(), "iloveyou123", "", []string{ReasonTooShort, ReasonCommon}},
		{"1234567890", DefaultPolicy(), "1234567890", "", []string{ReasonTooShort, ReasonCommon}},
		{"common only as a whole", DefaultPolicy(), "password123 is my password", "", nil},
		{"everything", DefaultPolicy(), "toktokbob", "bob@toktok.dev", []string{ReasonTooShort, ReasonContainsEmail, ReasonContainsServiceName}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.Check(tc.password, tc.email); !slices.Equal(got, tc.want) {
				t.Errorf("Check(%q, %q) = %q, want %q", tc.password, tc.email, got, tc.want)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	seen := map[string]bool{}
	for line := range strings.Lines(commonPasswordsTxt) {
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.TrimSpace(line) != line || line != fold(line) || utf8.RuneCountInString(line) < 8 {
			t.Errorf("entry %q: want lower case, no surrounding space, at least 8 characters", line)
		}
		if seen[line] {
			t.Errorf("entry %q repeated", line)
		}
		seen[line] = true
	}
	if len(seen) < 200 || len(commonPasswords()) != len(seen) {
		t.Errorf("%d entries in the file, %d loaded; want at least 200 and all of them", len(seen), len(commonPasswords()))
	}
}

// BenchmarkHashDefault measures raw argon2id throughput with the policy's
// parameters and one slot per CPU, i.e. the login capacity of one instance.
func BenchmarkHashDefault(b *testing.B) {
	h := New(DefaultParams(), 0)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "hashes/s")
}
