package account

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

// DECISIONS.md: "when verifying a legacy hash, try the password as typed and in NFC". The
// Flask service hashed the bytes it received, and macOS sends accents decomposed (NFD), so
// a legacy hash may hold either form. Every argon2id hash holds the NFC form.

// legacyFormCases are the stored and typed forms of one accented password, with whether a
// legacy hash of the stored form accepts the typed one.
var legacyFormCases = []struct {
	name          string
	stored, typed string
	ok            bool
}{
	{name: "stored NFD, typed NFD", stored: accentedNFD, typed: accentedNFD, ok: true},
	{name: "stored NFC, typed NFD", stored: accentedNFC, typed: accentedNFD, ok: true}, // via the NFC form
	{name: "stored NFC, typed NFC", stored: accentedNFC, typed: accentedNFC, ok: true},
	// Neither the typed form nor its NFC is what was hashed: the decision tries no NFD.
	{name: "stored NFD, typed NFC", stored: accentedNFD, typed: accentedNFC, ok: false},
}

// legacyHashKinds are the two werkzeug formats, as functions of the password.
var legacyHashKinds = []struct {
	name string
	hash func(t *testing.T, pw string) string
}{
	{"sha256", func(_ *testing.T, pw string) string { return werkzeugSHA256(pw, "Xy7pQ2aB") }},
	{"pbkdf2", func(t *testing.T, pw string) string { return werkzeugPBKDF2(t, pw, "Xy7pQ2aB", 1000) }},
	// As toktok import stores them.
	{"wrapped pbkdf2", func(t *testing.T, pw string) string {
		w, err := password.New(password.Params{Memory: 64, Time: 1, Threads: 1}, 1).NewWrapper().Wrap(t.Context(), werkzeugPBKDF2(t, pw, "Xy7pQ2aB", 1000))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}},
}

// TestLoginLegacyHashUnicodeForms: a legacy hash verifies the password as typed and in
// NFC; a successful login upgrades it to argon2id of the NFC form, after which both forms
// sign in.
func TestLoginLegacyHashUnicodeForms(t *testing.T) {
	if accentedNFC == accentedNFD {
		t.Fatal("the test password has one Unicode form only")
	}
	for _, kind := range legacyHashKinds {
		for _, tc := range legacyFormCases {
			t.Run(kind.name+"/"+tc.name, func(t *testing.T) {
				f := newFixture(t)
				legacy := kind.hash(t, tc.stored)
				f.seedUser(store.User{Email: "ann@example.com", PasswordHash: legacy})
				_, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: tc.typed})
				if !tc.ok {
					if !errors.Is(err, ErrInvalidCredentials) {
						t.Fatalf("Login = %v, want INVALID_CREDENTIALS", err)
					}
					if got := f.user("ann@example.com").PasswordHash; got != legacy {
						t.Errorf("a refused login changed the hash to %q", got)
					}
					return
				}
				if err != nil {
					t.Fatalf("Login = %v, want a session", err)
				}
				upgraded := f.user("ann@example.com").PasswordHash
				if !strings.HasPrefix(upgraded, "$argon2id$") {
					t.Fatalf("hash after login = %q, want argon2id", upgraded)
				}
				if ok, _, err := f.hasher.Verify(t.Context(), accentedNFC, upgraded); !ok || err != nil {
					t.Errorf("the upgraded hash is not of the NFC form (ok %v, err %v)", ok, err)
				}
				f.login("ann@example.com", accentedNFC)
				f.login("ann@example.com", accentedNFD)
			})
		}
	}
}

// TestCurrentPasswordLegacyUnicodeForms: the current-password check of changePassword
// treats a legacy hash as login does.
func TestCurrentPasswordLegacyUnicodeForms(t *testing.T) {
	for _, tc := range legacyFormCases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.seedUser(store.User{Email: "ann@example.com", PasswordHash: werkzeugSHA256(tc.stored, "Xy7pQ2aB")})
			p := Principal{User: u, Session: f.seedSession(u)}
			_, err := f.svc.ChangePassword(t.Context(), p, tc.typed, strongPW2)
			switch {
			case tc.ok && err != nil:
				t.Fatalf("ChangePassword = %v, want the change", err)
			case !tc.ok && !errors.Is(err, ErrInvalidCredentials):
				t.Fatalf("ChangePassword = %v, want INVALID_CREDENTIALS", err)
			case tc.ok:
				f.login("ann@example.com", strongPW2)
			}
		})
	}
}

// seedSession stores a live session of u, as a sign-in would have.
func (f *fixture) seedSession(u store.User) store.Session {
	f.t.Helper()
	now := f.clock.Now()
	sess := store.Session{
		ID: newID(), UserID: u.ID, CreatedAt: now, LastUsedAt: now, RotatedAt: now,
		IdleExpiresAt: now.Add(time.Hour), AbsoluteExpiresAt: now.Add(time.Hour),
	}
	if err := f.store.CreateSession(f.t.Context(), sess); err != nil {
		f.t.Fatal(err)
	}
	return sess
}
