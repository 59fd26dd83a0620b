package account

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/password"
	"github.com/toktok/toktok/store"
)

func TestRegister(t *testing.T) {
	f := newFixture(t)
	name := "Visit evil.example now"
	ctx := WithClient(t.Context(), Client{IP: "192.0.2.7", UserAgent: strings.Repeat("é", 300) + "\xff"})
	tok, err := f.svc.Register(ctx, RegisterInput{Email: "  Ann@Example.COM ", Password: strongPW, Name: &name})
	if err != nil {
		t.Fatal(err)
	}

	u := f.user("ann@example.com")
	if tok.User.ID != u.ID || u.Email != "ann@example.com" || u.Role != store.RoleUser || u.EmailConfirmed {
		t.Errorf("user = %+v; want a canonical, unconfirmed USER", u)
	}
	if u.LoginCount != 1 || u.LastLoginAt == nil || !u.LastLoginAt.Equal(f.clock.Now()) {
		t.Errorf("registration is not recorded as the first login: count %d, last %v", u.LoginCount, u.LastLoginAt)
	}
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
		t.Errorf("stored hash %q is not argon2id", u.PasswordHash)
	}

	sess := f.sessionOf(tok)
	if sess.UserID != u.ID || !sess.Live(f.clock.Now()) || sess.Counter != 0 || sess.IP != "192.0.2.7" {
		t.Errorf("session = %+v; want a live session of the new user", sess)
	}
	if len(sess.UserAgent) > 512 || !utf8.ValidString(sess.UserAgent) || !strings.HasPrefix(sess.UserAgent, "éé") {
		t.Errorf("user agent stored as %d bytes (valid UTF-8: %t)", len(sess.UserAgent), utf8.ValidString(sess.UserAgent))
	}
	claims, err := f.tokens.VerifyAccess(tok.AccessToken, f.clock.Now())
	if err != nil || claims.UserID != u.ID || claims.SessionID != sess.ID || claims.EmailVerified || claims.Role != "USER" {
		t.Errorf("access claims = %+v, %v", claims, err)
	}
	if tok.AccessExpiresIn != int(f.cfg.AccessTTL.Seconds()) || !tok.RefreshExpiresAt.Equal(sess.IdleExpiresAt) {
		t.Errorf("expiries: access in %ds, refresh at %v", tok.AccessExpiresIn, tok.RefreshExpiresAt)
	}

	m := f.onlyMail(mailer.KindConfirm, "ann@example.com")
	// An address nobody has proven yet gets no text the requester chose.
	if strings.Contains(m.Text, name) || strings.Contains(m.HTML, name) {
		t.Errorf("confirmation mail carries the requester's name:\n%s", m.Text)
	}
	confirmed, err := f.svc.ConfirmEmail(t.Context(), linkToken(t, m))
	if err != nil || !confirmed.EmailConfirmed || confirmed.ID != u.ID {
		t.Fatalf("ConfirmEmail = %+v, %v", confirmed, err)
	}
	if _, err := f.svc.ConfirmEmail(t.Context(), linkToken(t, m)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("second ConfirmEmail = %v, want INVALID_TOKEN", err)
	}
	if got := f.auditTypes(u.ID); !slices.Contains(got, "register:success") || !slices.Contains(got, "email_confirmed:success") {
		t.Errorf("audit = %v", got)
	}
}

func TestRegisterRefused(t *testing.T) {
	long := strings.Repeat("x", 101)
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		in     RegisterInput
		auth   Kind // the request's bearer token
		want   Code
		field  string
		reason string
	}{
		{name: "duplicate email", in: RegisterInput{Email: "ANN@example.com", Password: strongPW}, want: CodeEmailTaken, field: "email"},
		{name: "weak password", in: RegisterInput{Email: "bob@example.com", Password: weakPW}, want: CodeBadUserInput, field: "password", reason: password.ReasonTooShort},
		{name: "password contains the email", in: RegisterInput{Email: "bobby@example.com", Password: "bobby-" + strongPW}, want: CodeBadUserInput, field: "password", reason: password.ReasonContainsEmail},
		{name: "invalid email", in: RegisterInput{Email: "bob", Password: strongPW}, want: CodeBadUserInput, field: "email"},
		{name: "name too long", in: RegisterInput{Email: "bob@example.com", Password: strongPW, Name: &long}, want: CodeBadUserInput, field: "name"},
		{name: "registration closed", cfg: func(c *Config) { c.RegistrationOpen = false }, in: RegisterInput{Email: "bob@example.com", Password: strongPW}, want: CodeForbidden},
		{name: "anonymous token required", cfg: func(c *Config) { c.AnonJWT = true }, in: RegisterInput{Email: "bob@example.com", Password: strongPW}, want: CodeAnonymousTokenRequired},
		{name: "an access token is not an anonymous one", cfg: func(c *Config) { c.AnonJWT = true }, in: RegisterInput{Email: "bob@example.com", Password: strongPW}, auth: KindAccess, want: CodeAnonymousTokenRequired},
		{name: "an invalid token is not an anonymous one", cfg: func(c *Config) { c.AnonJWT = true }, in: RegisterInput{Email: "bob@example.com", Password: strongPW}, auth: KindInvalid, want: CodeAnonymousTokenRequired},
		{name: "antispam missing", cfg: antispam, in: RegisterInput{Email: "bob@example.com", Password: strongPW}, want: CodeBadUserInput, field: "antispam"},
		{name: "antispam wrong", cfg: antispam, in: RegisterInput{Email: "bob@example.com", Password: strongPW, Antispam: ptr("41")}, want: CodeBadUserInput, field: "antispam"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*Config)
			if tc.cfg != nil {
				edits = append(edits, tc.cfg)
			}
			f := newFixture(t, edits...)
			f.seedUser(store.User{Email: "ann@example.com", PasswordHash: f.hash(strongPW)})
			_, err := f.svc.Register(WithAuth(t.Context(), Auth{Kind: tc.auth}), tc.in)
			e := wantCode(t, err, tc.want)
			if e.Field != tc.field {
				t.Errorf("field = %q, want %q", e.Field, tc.field)
			}
			if tc.reason != "" && !slices.Contains(e.Reasons, tc.reason) {
				t.Errorf("reasons = %v, want %s among them", e.Reasons, tc.reason)
			}
			if ms := f.mails(); len(ms) != 0 {
				t.Errorf("%d mails queued by a refused registration", len(ms))
			}
		})
	}
}

func antispam(c *Config) { c.Antispam, c.AntispamValue = true, "42" }

func ptr[T any](v T) *T { return &v }

// The gates pass with what they ask for.
func TestRegisterGatesPass(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		in   RegisterInput
	}{
		{"anonymous token", func(c *Config) { c.AnonJWT = true }, RegisterInput{}},
		{"antispam", antispam, RegisterInput{Antispam: ptr("42")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.cfg)
			in := tc.in
			in.Email, in.Password = "bob@example.com", strongPW
			if _, err := f.svc.Register(anonCtx(t.Context()), in); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRegisterStoresProfile(t *testing.T) {
	f := newFixture(t)
	in := RegisterInput{
		Email: "ann@example.com", Password: strongPW,
		Name: ptr(" Ann "), Surname: ptr("Lee"), Pseudo: ptr("annie"), Lang: ptr("fr-CA"), Agreement: ptr(true),
		Data: map[string]any{"plan": "pro"},
	}
	if _, err := f.svc.Register(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	u := f.user("ann@example.com")
	if u.Name == nil || *u.Name != "Ann" || *u.Surname != "Lee" || *u.Pseudo != "annie" || !u.Agreement || u.Lang != "fr-CA" || string(u.Data) != `{"plan":"pro"}` {
		t.Errorf("profile = name %v surname %v pseudo %v lang %q agreement %v data %s", u.Name, u.Surname, u.Pseudo, u.Lang, u.Agreement, u.Data)
	}
	// The confirmation mail is in the user's language.
	m := f.onlyMail(mailer.KindConfirm, "ann@example.com")
	if !strings.HasPrefix(m.Subject, "Confirmez") || !strings.Contains(m.Text, "lang=fr-CA#token=") {
		t.Errorf("confirmation mail not in the user's language: %q\n%s", m.Subject, m.Text)
	}
}

func TestRegisterIPLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.IPRegister = Rate{N: 1, Window: time.Hour} })
	ctx := WithClient(t.Context(), Client{IP: "2001:db8:1:2::1"})
	if _, err := f.svc.Register(ctx, RegisterInput{Email: "ann@example.com", Password: strongPW}); err != nil {
		t.Fatal(err)
	}
	// Another address of the same /64 counts as the same client.
	ctx = WithClient(t.Context(), Client{IP: "2001:db8:1:2::99"})
	_, err := f.svc.Register(ctx, RegisterInput{Email: "bob@example.com", Password: strongPW})
	if e := wantCode(t, err, CodeRateLimited); e.RetryAfter != int(time.Hour/time.Second) {
		t.Errorf("RetryAfter = %d, want the window", e.RetryAfter)
	}
	ctx = WithClient(t.Context(), Client{IP: "2001:db8:1:3::1"})
	if _, err := f.svc.Register(ctx, RegisterInput{Email: "bob@example.com", Password: strongPW}); err != nil {
		t.Errorf("another /64 is limited too: %v", err)
	}
}
