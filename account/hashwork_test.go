package account

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/text/unicode/norm"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// The timing rules of SECURITY.md ("unknown users still cost one hash verification") are
// checked by counting the hasher's calls, not by measuring time: a count is exact on any
// machine, and it fails the moment a dummy check is removed.

// countingHasher wraps the real hasher and counts each kind of call.
type countingHasher struct {
	inner                    passwordHasher
	hashes, verifies, dummys atomic.Int64
}

func (c *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	c.hashes.Add(1)
	return c.inner.Hash(ctx, pw)
}

func (c *countingHasher) Verify(ctx context.Context, pw, encoded string) (bool, bool, error) {
	c.verifies.Add(1)
	return c.inner.Verify(ctx, pw, encoded)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.dummys.Add(1)
	return c.inner.VerifyDummy(ctx, pw)
}

// hashWork is what one operation asked of the hasher.
type hashWork struct{ Hash, Verify, Dummy int64 }

// work reads the counts and starts them again from zero.
func (c *countingHasher) work() hashWork {
	return hashWork{Hash: c.hashes.Swap(0), Verify: c.verifies.Swap(0), Dummy: c.dummys.Swap(0)}
}

// countHashing puts a counting wrapper around the service's hasher.
func (f *fixture) countHashing() *countingHasher {
	c := &countingHasher{inner: f.svc.hash.h}
	f.svc.hash.h = c
	return c
}

// An accented password whose NFC and NFD forms differ.
var (
	accentedNFC = norm.NFC.String("crème brûlée au café noir")
	accentedNFD = norm.NFD.String(accentedNFC)
)

// TestLoginHashWork: every login answer that could tell an unknown address from a known
// one costs the same hash verifications: one argon2id check (the account's own, the
// dummy, or a wrapped werkzeug hash's, which costs one by construction), and two for a
// password whose NFC form differs from what was typed (a legacy hash tries both forms, so
// every other kind of account and the unknown address spend a second check too). A plain
// werkzeug hash pays the dummy on top of its own check. Only the cooldown answers before
// any hashing, for known and unknown addresses alike.
func TestLoginHashWork(t *testing.T) {
	legacyPW := werkzeugSHA256(strongPW, "Xy7pQ2aB")
	legacyNFC := werkzeugSHA256(accentedNFC, "Xy7pQ2aB")
	wrap := func(legacy string) string {
		w, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1}, 1).NewWrapper().Wrap(t.Context(), legacy)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	wrappedPW := wrap(werkzeugPBKDF2(t, strongPW, "Xy7pQ2aB", 1000))
	wrappedNFC := wrap(werkzeugPBKDF2(t, accentedNFC, "Xy7pQ2aB", 1000))
	for _, tc := range []struct {
		name      string
		salt      bool // --salt on, credentials sent in clear (undecryptable)
		coolDown  bool // fail the account's limit first
		email, pw string
		want      hashWork
		wantErr   error // nil: signs in
	}{
		{name: "unknown email", email: "nobody@example.com", pw: strongPW, want: hashWork{Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "unknown email, decomposed password", email: "nobody@example.com", pw: accentedNFD, want: hashWork{Dummy: 2}, wantErr: ErrInvalidCredentials},
		{name: "wrong password", email: "ann@example.com", pw: strongPW2, want: hashWork{Verify: 1}, wantErr: ErrInvalidCredentials},
		{name: "wrong decomposed password", email: "ann@example.com", pw: accentedNFD, want: hashWork{Verify: 1, Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "right password", email: "ann@example.com", pw: strongPW, want: hashWork{Verify: 1}},
		{name: "unconfirmed, wrong password", email: "una@example.com", pw: strongPW2, want: hashWork{Verify: 1}, wantErr: ErrInvalidCredentials},
		{name: "disabled, wrong password", email: "carol@example.com", pw: strongPW2, want: hashWork{Verify: 1}, wantErr: ErrInvalidCredentials},
		{name: "disabled, right password", email: "carol@example.com", pw: strongPW, want: hashWork{Verify: 1}, wantErr: ErrAccountDisabled},
		{name: "invalid email syntax", email: "ann", pw: strongPW, want: hashWork{Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "invalid email syntax, decomposed password", email: "ann", pw: accentedNFD, want: hashWork{Dummy: 2}, wantErr: ErrInvalidCredentials},
		{name: "absurdly long password", email: "ann@example.com", pw: strings.Repeat("a", maxPasswordByte+1), want: hashWork{Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "undecryptable credentials", salt: true, email: "ann@example.com", pw: strongPW, want: hashWork{Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "legacy hash, wrong password", email: "leo@example.com", pw: strongPW2, want: hashWork{Verify: 1, Dummy: 1}, wantErr: ErrInvalidCredentials},
		// The upgrade to argon2id is the one Hash.
		{name: "legacy hash, right password", email: "leo@example.com", pw: strongPW, want: hashWork{Verify: 1, Dummy: 1, Hash: 1}},
		// A decomposed password is tried as typed, then in NFC (DECISIONS.md).
		{name: "legacy hash, decomposed wrong password", email: "leo@example.com", pw: norm.NFD.String("crème brûlée au thé vert"), want: hashWork{Verify: 2, Dummy: 1}, wantErr: ErrInvalidCredentials},
		{name: "legacy NFC hash, typed decomposed", email: "lea@example.com", pw: accentedNFD, want: hashWork{Verify: 2, Dummy: 1, Hash: 1}},
		// Wrapped by the importer: one check, like any account.
		{name: "wrapped hash, wrong password", email: "wes@example.com", pw: strongPW2, want: hashWork{Verify: 1}, wantErr: ErrInvalidCredentials},
		{name: "wrapped hash, right password", email: "wes@example.com", pw: strongPW, want: hashWork{Verify: 1, Hash: 1}},
		{name: "wrapped hash, decomposed wrong password", email: "wes@example.com", pw: accentedNFD, want: hashWork{Verify: 2}, wantErr: ErrInvalidCredentials},
		{name: "wrapped NFC hash, typed decomposed", email: "wen@example.com", pw: accentedNFD, want: hashWork{Verify: 2, Hash: 1}},
		{name: "cooldown, known address", coolDown: true, email: "ann@example.com", pw: strongPW, want: hashWork{}, wantErr: &Error{Code: CodeRateLimited}},
		{name: "cooldown, unknown address", coolDown: true, email: "nobody@example.com", pw: strongPW, want: hashWork{}, wantErr: &Error{Code: CodeRateLimited}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.seedUser(store.User{Email: "ann@example.com", PasswordHash: f.hash(strongPW), EmailConfirmed: true})
			f.seedUser(store.User{Email: "una@example.com", PasswordHash: f.hash(strongPW)})
			f.seedUser(store.User{Email: "carol@example.com", PasswordHash: f.hash(strongPW), Disabled: true})
			f.seedUser(store.User{Email: "leo@example.com", PasswordHash: legacyPW})
			f.seedUser(store.User{Email: "lea@example.com", PasswordHash: legacyNFC})
			f.seedUser(store.User{Email: "wes@example.com", PasswordHash: wrappedPW})
			f.seedUser(store.User{Email: "wen@example.com", PasswordHash: wrappedNFC})
			if tc.salt {
				f.withBox(testBox(t))
			}
			if tc.coolDown {
				for range f.cfg.Limits.LoginFailures.N {
					if _, err := f.svc.Login(t.Context(), LoginInput{Email: tc.email, Password: "not the password at all"}); !errors.Is(err, ErrInvalidCredentials) {
						t.Fatalf("failure before the cooldown: %v", err)
					}
				}
			}
			c := f.countHashing()
			_, err := f.svc.Login(t.Context(), LoginInput{Email: tc.email, Password: tc.pw})
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Fatalf("Login = %v, want %v", err, tc.wantErr)
			}
			if got := c.work(); got != tc.want {
				t.Errorf("hash work = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestHashWorkOtherFlows: register hashes once whether or not the address is taken, so
// EMAIL_TAKEN is not also a timing answer, and forgotPassword hashes nothing for any
// address (its address-dependent work runs after the answer).
func TestHashWorkOtherFlows(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(f *fixture) error
		want hashWork
	}{
		{"register, new address", func(f *fixture) error {
			_, err := f.svc.Register(f.t.Context(), RegisterInput{Email: "new@example.com", Password: strongPW})
			return err
		}, hashWork{Hash: 1}},
		{"register, taken address", func(f *fixture) error {
			_, err := f.svc.Register(f.t.Context(), RegisterInput{Email: "ann@example.com", Password: strongPW})
			if !errors.Is(err, ErrEmailTaken) {
				return fmt.Errorf("Register of a taken address = %v, want EMAIL_TAKEN", err)
			}
			return nil
		}, hashWork{Hash: 1}},
		{"forgotPassword, known address", func(f *fixture) error {
			return f.svc.ForgotPassword(f.t.Context(), "ann@example.com", nil)
		}, hashWork{}},
		{"forgotPassword, unknown address", func(f *fixture) error {
			return f.svc.ForgotPassword(f.t.Context(), "nobody@example.com", nil)
		}, hashWork{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.seedUser(store.User{Email: "ann@example.com", PasswordHash: f.hash(strongPW)})
			c := f.countHashing()
			if err := tc.run(f); err != nil {
				t.Fatal(err)
			}
			f.svc.Wait()
			if got := c.work(); got != tc.want {
				t.Errorf("hash work = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// testBox is a --salt credentials box on a fresh RSA key.
func testBox(t *testing.T) *credentials.Box {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	box, err := credentials.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return box
}
