package password

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestWrapVerifies: a wrapped werkzeug hash accepts exactly the passwords the werkzeug hash
// accepted, asks for a rehash on success, and is written in the documented form.
func TestWrapVerifies(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 0)
	w := h.NewWrapper()
	for _, tc := range []struct{ name, legacy, password, method string }{
		{"sha256 hmac", werkzeugSHA256("Xc8fW2kL", "hunter2hunter2"), "hunter2hunter2", "sha256"},
		{"sha256 unsalted", werkzeugSHA256("", "hunter2hunter2"), "hunter2hunter2", "sha256"},
		{"pbkdf2 with count", werkzeugPBKDF2("pbkdf2:sha256:1000", 1000, "g4SdlW1q", "Zoë 🦊 ünïcode"), "Zoë 🦊 ünïcode", "pbkdf2:sha256:1000"},
		{"pbkdf2 without count", "pbkdf2:sha256$Ab3dE5gH$a4058e57da772d0d88b895e354546634d198bf912483cd809b6d7a763f24afed", "pässwörd-ünïcode", "pbkdf2:sha256:150000"},
		{"werkzeug 3.1.8 output", "pbkdf2:sha256:1000$qQOT6P8r$bb6fa202f3fd00df50803ff57646b85ffc6e5a8016ea8d86a80d0d2149724f33", "correct horse", "pbkdf2:sha256:1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wrapped, err := w.Wrap(ctx, tc.legacy)
			if err != nil {
				t.Fatal(err)
			}
			if !Wrapped(wrapped) || !strings.HasPrefix(wrapped, wrappedPrefix+tc.method+"$") {
				t.Fatalf("wrapped = %q, want the prefix %q", wrapped, wrappedPrefix+tc.method+"$")
			}
			// The werkzeug digest must not survive in the wrapped form.
			if digest := tc.legacy[strings.LastIndex(tc.legacy, "$")+1:]; strings.Contains(wrapped, digest) {
				t.Fatalf("wrapped hash %q holds the werkzeug digest", wrapped)
			}
			ok, rehash, err := h.Verify(ctx, tc.password, wrapped)
			if !ok || !rehash || err != nil {
				t.Errorf("Verify(right) = %v, %v, %v; want true, true, nil", ok, rehash, err)
			}
			for _, wrong := range []string{tc.password + "x", "", strings.ToUpper(tc.password)} {
				if ok, rehash, err := h.Verify(ctx, wrong, wrapped); ok || rehash || err != nil {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", wrong, ok, rehash, err)
				}
			}
			again, err := w.Wrap(ctx, tc.legacy)
			if err != nil || again == wrapped {
				t.Errorf("a second wrap = %q, %v: want a fresh salt", again, err)
			}
		})
	}
}

// TestWrapRefuses: only werkzeug hashes are wrapped; malformed wrapped hashes are refused
// by Verify as malformed, never as a wrong password.
func TestWrapRefuses(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 0)
	w := h.NewWrapper()
	arg, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	for _, legacy := range []string{"", arg, "md5$x$abcd", "sha256$salt$zz", "pbkdf2:sha256:0$s$" + strings.Repeat("00", 32)} {
		if got, err := w.Wrap(ctx, legacy); !errors.Is(err, ErrMalformedHash) {
			t.Errorf("Wrap(%q) = %q, %v; want ErrMalformedHash", legacy, got, err)
		}
	}
	good, err := w.Wrap(ctx, werkzeugPBKDF2("pbkdf2:sha256:10", 10, "g4SdlW1q", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Split(good, "$")
	for name, bad := range map[string]string{
		"method without count": strings.Replace(good, "pbkdf2:sha256:10$", "pbkdf2:sha256$", 1),
		"unknown method":       strings.Replace(good, "pbkdf2:sha256:10$", "md5$", 1),
		"pbkdf2 without salt":  strings.Replace(good, "$g4SdlW1q$", "$$", 1),
		"field missing":        strings.Join(append(f[:3:3], f[4:]...), "$"),
		"extra field":          good + "$x",
		"argon2 version":       strings.Replace(good, "$v=19$", "$v=16$", 1),
		"argon2 memory huge":   strings.Replace(good, "$m=", "$m=9999999", 1),
		"key not base64":       good[:len(good)-3] + "!!!",
	} {
		if ok, _, err := h.Verify(ctx, "pw", bad); ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("%s: Verify(%q) = %v, %v; want ErrMalformedHash", name, bad, ok, err)
		}
	}
}

// TestWrapCalibration: the argon2id part gets the memory the werkzeug part leaves, so the
// whole check costs an ordinary check; a negligible werkzeug part leaves the parameters
// as they are; one costing more than a check gets the floor and is reported unequal. The
// measurements are replaced by a cost model, so the figures are exact: argon2id costs
// 1 µs per KiB and pass plus a fixed 2 ms (not proportional, which the second measurement
// corrects), pbkdf2 0.1 µs per iteration.
func TestWrapCalibration(t *testing.T) {
	ctx := context.Background()
	p := Params{Memory: 19 * 1024, Time: 2, Threads: 1}
	h := New(p, 0)
	w := h.NewWrapper()
	argonCost := func(q Params) time.Duration {
		return 2*time.Millisecond + time.Duration(q.Memory)*time.Duration(q.Time)*time.Microsecond
	}
	w.timeArgon = argonCost
	w.timeLegacy = func(lw werkzeugHash) (time.Duration, error) {
		if !lw.pbkdf2 {
			return time.Microsecond, nil
		}
		return time.Duration(lw.iterations) * 100 * time.Nanosecond, nil
	}
	ordinary := argonCost(p) // 40.912 ms
	for _, tc := range []struct {
		legacy, password string
		wantEqual        bool
	}{
		{werkzeugSHA256("Xc8fW2kL", "pw"), "pw", true},
		{werkzeugPBKDF2("pbkdf2:sha256:100", 100, "g4SdlW1q", "pw"), "pw", true}, // 10 µs: negligible
		// 150 000 iterations: 15 ms.
		{"pbkdf2:sha256$Ab3dE5gH$a4058e57da772d0d88b895e354546634d198bf912483cd809b6d7a763f24afed", "pässwörd-ünïcode", true},
		{werkzeugPBKDF2("pbkdf2:sha256:300000", 300000, "g4SdlW1q", "pw"), "pw", true},  // 30 ms
		{werkzeugPBKDF2("pbkdf2:sha256:600000", 600000, "g4SdlW1q", "pw"), "pw", false}, // 60 ms: more than a check
	} {
		wrapped, err := w.Wrap(ctx, tc.legacy)
		if err != nil {
			t.Fatal(err)
		}
		lw, _ := parseWerkzeug(tc.legacy)
		c := w.costs[lw.method()]
		if c.Params.Time != p.Time || c.Params.Threads != p.Threads {
			t.Errorf("%s: params %+v: t and p must stay", c.Method, c.Params)
		}
		if c.Equal != tc.wantEqual {
			t.Errorf("%s: Equal = %v (wrapped %v, ordinary %v), want %v", c.Method, c.Equal, c.Wrapped, ordinary, tc.wantEqual)
		}
		if c.Wrapped != c.Legacy+argonCost(c.Params) {
			t.Errorf("%s: Wrapped = %v, want legacy + argon2id part = %v", c.Method, c.Wrapped, c.Legacy+argonCost(c.Params))
		}
		switch {
		case c.Legacy*20 <= ordinary:
			if c.Params != p {
				t.Errorf("%s: params %+v for a negligible werkzeug part, want %+v", c.Method, c.Params, p)
			}
		case !tc.wantEqual:
			if c.Params.Memory != minWrapMemory {
				t.Errorf("%s: memory %d, want the floor %d", c.Method, c.Params.Memory, minWrapMemory)
			}
		default:
			// Within 1% of an ordinary check after the correction.
			if d := c.Wrapped - ordinary; d*100 > ordinary || -d*100 > ordinary {
				t.Errorf("%s: wrapped check %v, ordinary %v: more than 1%% apart (memory %d)", c.Method, c.Wrapped, ordinary, c.Params.Memory)
			}
		}
		if want := fmt.Sprintf("$m=%d,t=2,p=1$", c.Params.Memory); !strings.Contains(wrapped, want) {
			t.Errorf("%s: wrapped %q does not carry %s", c.Method, wrapped, want)
		}
		if ok, _, err := h.Verify(ctx, tc.password, wrapped); !ok || err != nil {
			t.Errorf("%s: the wrapped hash refuses its password: %v, %v", c.Method, ok, err)
		}
	}
	if got := w.Costs(); len(got) != 5 || got[0].Count != 1 {
		t.Errorf("Costs = %+v, want 5 methods wrapped once each", got)
	}
}

// BenchmarkCheck compares what a wrong password costs on each kind of account: an
// argon2id hash, the dummy check of an unknown address, and wrapped werkzeug hashes
// (sha256 and pbkdf2 at werkzeug 1.x's 150 000 iterations), all at the default
// parameters. The figures are in docs/benchmarks.md.
func BenchmarkCheck(b *testing.B) {
	ctx := context.Background()
	h := New(DefaultParams(), 0)
	w := h.NewWrapper()
	argon, err := h.Hash(ctx, "correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	sha, err := w.Wrap(ctx, werkzeugSHA256("Xc8fW2kL", "correct horse battery"))
	if err != nil {
		b.Fatal(err)
	}
	pb, err := w.Wrap(ctx, werkzeugPBKDF2("pbkdf2:sha256:150000", 150000, "g4SdlW1q", "correct horse battery"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range w.Costs() {
		b.Logf("%s: werkzeug %v, ordinary %v, wrapped %v, argon2id part %+v", c.Method, c.Legacy, c.Ordinary, c.Wrapped, c.Params)
	}
	for _, bc := range []struct{ name, encoded string }{
		{"argon2id", argon}, {"wrapped-sha256", sha}, {"wrapped-pbkdf2-150000", pb},
		{"plain-pbkdf2-150000", werkzeugPBKDF2("pbkdf2:sha256:150000", 150000, "g4SdlW1q", "correct horse battery")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if ok, _, err := h.Verify(ctx, "wrong password", bc.encoded); ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
	b.Run("dummy", func(b *testing.B) {
		for b.Loop() {
			if err := h.VerifyDummy(ctx, "wrong password"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFloor: with a floor, every check (an argon2id hash, a wrapped one, the dummy, right
// or wrong) lasts at least the floor; without one, a cheap check is quick. A context that
// ends cuts the wait short.
func TestFloor(t *testing.T) {
	ctx := context.Background()
	h := New(cheap, 0)
	arg, err := h.Hash(ctx, "pw")
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := h.NewWrapper().Wrap(ctx, werkzeugSHA256("Xc8fW2kL", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string]func() error{
		"argon2id right": func() error { _, _, err := h.Verify(ctx, "pw", arg); return err },
		"argon2id wrong": func() error { _, _, err := h.Verify(ctx, "px", arg); return err },
		"wrapped right":  func() error { _, _, err := h.Verify(ctx, "pw", wrapped); return err },
		"wrapped wrong":  func() error { _, _, err := h.Verify(ctx, "px", wrapped); return err },
		"dummy":          func() error { return h.VerifyDummy(ctx, "pw") },
	}
	const floor = 150 * time.Millisecond
	h.SetFloor(floor)
	for name, check := range checks {
		start := time.Now()
		if err := check(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < floor {
			t.Errorf("%s took %v with a floor of %v", name, d, floor)
		}
	}
	// The floor is waited for outside the slot: other checks go on meanwhile.
	one := New(cheap, 1)
	one.SetFloor(time.Second)
	done := make(chan struct{})
	go func() { _ = one.VerifyDummy(ctx, "pw"); close(done) }()
	time.Sleep(50 * time.Millisecond)
	actx, acancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer acancel()
	if err := one.acquire(actx); err != nil {
		t.Fatalf("the only slot is held during the floor's wait: %v", err)
	}
	one.release()
	<-done

	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	h.SetFloor(time.Hour)
	if err := h.VerifyDummy(cctx, "pw"); err != nil {
		t.Fatal(err)
	}
	h.SetFloor(0)
	if ok, _, err := h.Verify(ctx, "pw", arg); !ok || err != nil {
		t.Fatal(ok, err)
	}
}
