package account

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/credentials"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

func TestLogin(t *testing.T) {
	f := newFixture(t)
	reg := f.register("ann@example.com", strongPW)
	f.clock.Advance(time.Hour)

	tok := f.login(" ANN@example.com", strongPW)
	u := f.user("ann@example.com")
	if u.LoginCount != 2 || u.LastLoginAt == nil || !u.LastLoginAt.Equal(f.clock.Now()) {
		t.Errorf("login count %d, last login %v; want 2 at %v", u.LoginCount, u.LastLoginAt, f.clock.Now())
	}
	if tok.User.LoginCount != 2 {
		t.Errorf("returned user has login count %d", tok.User.LoginCount)
	}
	if s1, s2 := f.sessionOf(reg), f.sessionOf(tok); s1.ID == s2.ID || !s1.Live(f.clock.Now()) || !s2.Live(f.clock.Now()) {
		t.Errorf("a login must start a session of its own, leaving the others live")
	}
	if got := f.auditTypes(u.ID); !slices.Contains(got, "login:success") {
		t.Errorf("audit = %v", got)
	}
}

func TestLoginRefused(t *testing.T) {
	for _, tc := range []struct {
		name, email, pw string
		want            error
	}{
		{"wrong password", "ann@example.com", strongPW2, ErrInvalidCredentials},
		{"unknown email", "bob@example.com", strongPW, ErrInvalidCredentials},
		{"not an email", "ann", strongPW, ErrInvalidCredentials},
		{"absurdly long password", "ann@example.com", strings.Repeat("a", maxPasswordByte+1), ErrInvalidCredentials},
		{"disabled account", "carol@example.com", strongPW, ErrAccountDisabled},
		{"disabled account, wrong password", "carol@example.com", strongPW2, ErrInvalidCredentials},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.register("ann@example.com", strongPW)
			f.seedUser(store.User{Email: "carol@example.com", PasswordHash: f.hash(strongPW), Disabled: true})
			before := f.user("ann@example.com").LoginCount
			_, err := f.svc.Login(t.Context(), LoginInput{Email: tc.email, Password: tc.pw})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Login = %v, want %v", err, tc.want)
			}
			// One fixed message, whatever the cause.
			if e := wantCode(t, err, tc.want.(*Error).Code); e.Message != tc.want.(*Error).Message {
				t.Errorf("message = %q", e.Message)
			}
			if after := f.user("ann@example.com").LoginCount; after != before {
				t.Errorf("a refused login counted: %d -> %d", before, after)
			}
		})
	}
}

// After LoginFailures.N failures the account cools down, even for the right password; each
// further lockout of the day doubles the cooldown, up to LoginMaxCooldown.
func TestLoginCooldown(t *testing.T) {
	f := newFixture(t) // 3 failures per minute, cooldowns capped at 4 minutes
	f.register("ann@example.com", strongPW)
	ctx := t.Context()
	fail := func() {
		t.Helper()
		for range f.cfg.Limits.LoginFailures.N {
			_, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW2})
			if !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("failed login = %v, want INVALID_CREDENTIALS", err)
			}
		}
	}
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute} {
		fail()
		_, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW})
		if e := wantCode(t, err, CodeRateLimited); e.RetryAfter != int(want/time.Second) {
			t.Errorf("lockout %d: RetryAfter = %ds, want %v", i+1, e.RetryAfter, want)
		}
		f.clock.Advance(want - time.Second)
		if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, &Error{Code: CodeRateLimited}) {
			t.Errorf("lockout %d: a second before the end, Login = %v; want RATE_LIMITED", i+1, err)
		}
		f.clock.Advance(time.Second)
		f.login("ann@example.com", strongPW)
	}
	if got := f.auditTypes(""); !slices.Contains(got, "lockout:failure") {
		t.Errorf("no lockout audited: %v", got)
	}
}

// The limiter counts by address, known or not, so it tells nothing about which exist; a
// success clears the count.
func TestLoginCooldownCounts(t *testing.T) {
	f := newFixture(t)
	f.register("ann@example.com", strongPW)
	ctx := t.Context()
	for range 2 {
		if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW2}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	f.login("ann@example.com", strongPW) // clears the two failures
	for range 2 {
		if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW2}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	f.login("ann@example.com", strongPW)

	for range 3 {
		if _, err := f.svc.Login(ctx, LoginInput{Email: "nobody@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatal(err)
		}
	}
	_, err := f.svc.Login(ctx, LoginInput{Email: "nobody@example.com", Password: strongPW})
	wantCode(t, err, CodeRateLimited)
}

// werkzeugPBKDF2 is a werkzeug "pbkdf2:sha256[:n]$salt$hex" hash; n 0 leaves the count out
// (werkzeug's 150000).
func werkzeugPBKDF2(t *testing.T, pw, salt string, n int) string {
	t.Helper()
	iter, method := n, fmt.Sprintf("pbkdf2:sha256:%d", n)
	if n == 0 {
		iter, method = 150000, "pbkdf2:sha256"
	}
	sum, err := pbkdf2.Key(sha256.New, pw, []byte(salt), iter, sha256.Size)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s$%s$%x", method, salt, sum)
}

// werkzeugSHA256 is a werkzeug "sha256$salt$hex" hash: HMAC-SHA256 keyed by the salt, or
// plain SHA-256 without one.
func werkzeugSHA256(pw, salt string) string {
	if salt == "" {
		return fmt.Sprintf("sha256$$%x", sha256.Sum256([]byte(pw)))
	}
	m := hmac.New(sha256.New, []byte(salt))
	m.Write([]byte(pw))
	return fmt.Sprintf("sha256$%s$%x", salt, m.Sum(nil))
}

// Hashes inherited from the Flask service verify, and a successful login replaces them
// with argon2id; a wrong password leaves them alone.
func TestLoginLegacyHash(t *testing.T) {
	for _, tc := range []struct {
		name string
		hash func(t *testing.T, pw string) string
	}{
		{"pbkdf2 with a count", func(t *testing.T, pw string) string { return werkzeugPBKDF2(t, pw, "Xy7pQ2aB", 1000) }},
		{"pbkdf2 default count", func(t *testing.T, pw string) string { return werkzeugPBKDF2(t, pw, "Xy7pQ2aB", 0) }},
		{"salted sha256", func(_ *testing.T, pw string) string { return werkzeugSHA256(pw, "Xy7pQ2aB") }},
		{"plain sha256", func(_ *testing.T, pw string) string { return werkzeugSHA256(pw, "") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // PBKDF2 at werkzeug's default count is slow on purpose
			f := newFixture(t)
			legacy := tc.hash(t, strongPW)
			f.seedUser(store.User{Email: "ann@example.com", PasswordHash: legacy})

			if _, err := f.svc.Login(t.Context(), LoginInput{Email: "ann@example.com", Password: strongPW2}); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("wrong password on a legacy hash: %v", err)
			}
			if got := f.user("ann@example.com").PasswordHash; got != legacy {
				t.Fatalf("a wrong password changed the hash to %q", got)
			}

			f.login("ann@example.com", strongPW)
			upgraded := f.user("ann@example.com").PasswordHash
			if !strings.HasPrefix(upgraded, "$argon2id$") {
				t.Fatalf("hash after login = %q, want argon2id", upgraded)
			}
			if ok, rehash, err := f.hasher.Verify(t.Context(), strongPW, upgraded); !ok || rehash || err != nil {
				t.Errorf("upgraded hash: ok %v rehash %v err %v", ok, rehash, err)
			}
			f.login("ann@example.com", strongPW)
		})
	}
}

// An argon2id hash with other parameters than the configured ones is rehashed too.
func TestLoginRehashOutdatedArgon2(t *testing.T) {
	f := newFixture(t)
	old, err := password.New(password.Params{Memory: 128, Time: 1, Threads: 1}, 1).Hash(t.Context(), strongPW)
	if err != nil {
		t.Fatal(err)
	}
	f.seedUser(store.User{Email: "ann@example.com", PasswordHash: old})
	f.login("ann@example.com", strongPW)
	if got := f.user("ann@example.com").PasswordHash; got == old || !strings.Contains(got, "m=64,") {
		t.Errorf("hash after login = %q, want the configured parameters", got)
	}
}

// With --salt, credentials arrive encrypted under the published key; what does not open
// is answered like a wrong password at login and as bad input elsewhere.
func TestEncryptedCredentials(t *testing.T) {
	f := newFixture(t)
	box := testBox(t)
	f.withBox(box)
	enc := func(s string) string {
		t.Helper()
		c, err := credentials.Encrypt(box.PublicKey(), s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := t.Context()

	v := f.svc.AuthConfig()
	if !v.EncryptedCredentials || v.EncryptionKey != box.PublicKeyPEM() || v.EncryptionAlgorithm != credentials.AlgorithmRSA || v.PasswordMaxLength != box.Capacity() || v.EncryptionJWK["kid"] != box.KeyID() {
		t.Errorf("AuthConfig = %+v", v)
	}

	_, err := f.svc.Register(ctx, RegisterInput{Email: "ann@example.com", Password: enc(strongPW)})
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "email" {
		t.Errorf("clear email: field %q", e.Field)
	}
	_, err = f.svc.Register(ctx, RegisterInput{Email: enc("ann@example.com"), Password: strongPW})
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "password" {
		t.Errorf("clear password: field %q", e.Field)
	}
	reg, err := f.svc.Register(ctx, RegisterInput{Email: enc("ann@example.com"), Password: enc(strongPW)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(ctx, LoginInput{Email: enc("ann@example.com"), Password: enc(strongPW)}); err != nil {
		t.Errorf("encrypted login: %v", err)
	}
	if _, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("undecryptable login = %v, want INVALID_CREDENTIALS", err)
	}

	p := f.principal(reg)
	if _, err := f.svc.ChangePassword(ctx, p, strongPW, enc(strongPW2)); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("undecryptable current password = %v, want INVALID_CREDENTIALS", err)
	}
	_, err = f.svc.ChangePassword(ctx, p, enc(strongPW), strongPW2)
	if e := wantCode(t, err, CodeBadUserInput); e.Field != "newPassword" {
		t.Errorf("undecryptable new password: field %q", e.Field)
	}
	f.mails() // the confirmation
	if err := f.svc.ForgotPassword(ctx, "ann@example.com", nil); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	if ms := f.mails(); len(ms) != 0 {
		t.Errorf("a clear address in --salt mode queued %d mails", len(ms))
	}
	if err := f.svc.ForgotPassword(ctx, enc("ann@example.com"), nil); err != nil {
		t.Fatal(err)
	}
	f.svc.Wait()
	f.onlyMail("reset", "ann@example.com")
}
