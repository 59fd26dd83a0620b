package account

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/mailer"
	"github.com/toktok/toktok/store"
)

func TestAnonymousToken(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Limits.IPAnonymousToken = Rate{N: 1, Window: time.Minute} })
	ctx := WithClient(t.Context(), Client{IP: "198.51.100.4"})
	tok, exp, err := f.svc.AnonymousToken(ctx)
	if err != nil {
		t.Fatal(err)
	}
	claims, err := f.tokens.VerifyAnonymous(tok, f.clock.Now())
	if err != nil || !claims.ExpiresAt.Equal(exp) || !exp.After(f.clock.Now()) {
		t.Errorf("anonymous token: claims %+v, expires %v, err %v", claims, exp, err)
	}
	_, _, err = f.svc.AnonymousToken(ctx)
	wantCode(t, err, CodeRateLimited)
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	ann := f.register("ann@example.com", strongPW)
	bob := f.register("bob@example.com", strongPW)
	carol := f.seedDisabledWithSession("carol@example.com", "carol-session")

	p := f.principal(ann)
	if p.User.ID != ann.User.ID || p.Session.ID != f.sessionOf(ann).ID {
		t.Errorf("principal = %+v", p)
	}
	ctx := WithPrincipal(t.Context(), p)
	if got, ok := PrincipalFrom(ctx); !ok || got.User.ID != p.User.ID {
		t.Error("PrincipalFrom lost the principal")
	}
	me, err := f.svc.Me(f.accessCtx(ann))
	if err != nil || me == nil || me.ID != ann.User.ID {
		t.Errorf("Me = %v, %v", me, err)
	}

	// Access claims naming a session of someone else, a missing one, a disabled account.
	mixed := f.claims(ann)
	mixed.SessionID = f.sessionOf(bob).ID
	missing := f.claims(ann)
	missing.SessionID = "no-such-session"
	disabled := f.claims(ann)
	disabled.UserID, disabled.SessionID = carol.ID, "carol-session"
	for name, a := range map[string]Auth{
		"no token":         {},
		"anonymous":        {Kind: KindAnonymous},
		"invalid":          {Kind: KindInvalid},
		"another's":        {Kind: KindAccess, Access: mixed},
		"unknown session":  {Kind: KindAccess, Access: missing},
		"disabled account": {Kind: KindAccess, Access: disabled},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.svc.Authenticate(WithAuth(t.Context(), a)); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate = %v, want UNAUTHENTICATED", err)
			}
			me, err := f.svc.Me(WithAuth(t.Context(), a))
			switch a.Kind {
			case KindNone, KindAnonymous:
				if me != nil || err != nil {
					t.Errorf("Me = %v, %v; want nobody and no error", me, err)
				}
			default:
				if !errors.Is(err, ErrUnauthenticated) {
					t.Errorf("Me = %v, want UNAUTHENTICATED (so the client refreshes)", err)
				}
			}
		})
	}
}

func TestLogout(t *testing.T) {
	for _, tc := range []struct {
		scope LogoutScope
		// live says which of the three sessions (0 is the caller's) stay live.
		live [3]bool
	}{
		{LogoutCurrent, [3]bool{false, true, true}},
		{"", [3]bool{false, true, true}},
		{LogoutOthers, [3]bool{true, false, false}},
		{LogoutAll, [3]bool{false, false, false}},
	} {
		t.Run(string(tc.scope), func(t *testing.T) {
			f := newFixture(t)
			toks := []Tokens{f.register("ann@example.com", strongPW), f.login("ann@example.com", strongPW), f.login("ann@example.com", strongPW)}
			bob := f.register("bob@example.com", strongPW)
			if err := f.svc.Logout(t.Context(), f.principal(toks[0]), tc.scope); err != nil {
				t.Fatal(err)
			}
			for i, tok := range toks {
				if got := f.sessionOf(tok).Live(f.clock.Now()); got != tc.live[i] {
					t.Errorf("session %d live = %v, want %v", i, got, tc.live[i])
				}
			}
			if !f.sessionOf(bob).Live(f.clock.Now()) {
				t.Error("another user's session ended")
			}
		})
	}
	t.Run("unknown scope", func(t *testing.T) {
		f := newFixture(t)
		err := f.svc.Logout(t.Context(), f.principal(f.register("ann@example.com", strongPW)), "SOME")
		if e := wantCode(t, err, CodeBadUserInput); e.Field != "scope" {
			t.Errorf("field %q", e.Field)
		}
	})
}

func TestSessionsAndRevoke(t *testing.T) {
	f := newFixture(t)
	first := f.register("ann@example.com", strongPW)
	f.clock.Advance(time.Minute)
	second := f.login("ann@example.com", strongPW)
	bob := f.register("bob@example.com", strongPW)
	p := f.principal(second)

	list, err := f.svc.Sessions(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != f.sessionOf(second).ID || list[1].ID != f.sessionOf(first).ID {
		t.Fatalf("Sessions = %d sessions; want ann's two, newest first", len(list))
	}

	for _, tc := range []struct {
		name, id string
		want     bool
	}{
		{"another user's", f.sessionOf(bob).ID, false},
		{"unknown", "no-such-session", false},
		{"own", f.sessionOf(first).ID, true},
		{"already ended", f.sessionOf(first).ID, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := f.svc.RevokeSession(t.Context(), p, tc.id)
			if err != nil || ok != tc.want {
				t.Errorf("RevokeSession = %v, %v; want %v", ok, err, tc.want)
			}
		})
	}
	if !f.sessionOf(bob).Live(f.clock.Now()) {
		t.Error("revoked another user's session")
	}
	if list, err := f.svc.Sessions(t.Context(), p); err != nil || len(list) != 1 {
		t.Errorf("Sessions after revoking one = %d, %v", len(list), err)
	}
}

func TestResendConfirmation(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.Limits.ConfirmResends = Rate{N: 1, Window: time.Hour}
		c.Links.TokenInQuery = true
		c.Links.ConfirmURL = "https://app.example/confirm?from=mail"
	})
	reg := f.register("ann@example.com", strongPW)
	old := linkToken(t, f.onlyMail(mailer.KindConfirm, "ann@example.com"))

	ok, err := f.svc.ResendConfirmation(t.Context(), f.principal(reg))
	if err != nil || !ok {
		t.Fatalf("ResendConfirmation = %v, %v", ok, err)
	}
	m := f.onlyMail(mailer.KindConfirm, "ann@example.com")
	if !strings.Contains(m.Text, "https://app.example/confirm?from=mail&lang=en&token=") {
		t.Errorf("link with the token in the query:\n%s", m.Text)
	}
	_, err = f.svc.ResendConfirmation(t.Context(), f.principal(reg))
	wantCode(t, err, CodeRateLimited)
	// A newer link voids the older one.
	if _, err := f.svc.ConfirmEmail(t.Context(), old); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("older confirmation link = %v, want INVALID_TOKEN", err)
	}
	// Confirmed from the tab that registered, whose session survives the confirmation.
	if _, err := f.svc.ConfirmEmail(f.accessCtx(reg), linkToken(t, m)); err != nil {
		t.Fatal(err)
	}
	ok, err = f.svc.ResendConfirmation(t.Context(), f.principal(reg))
	if err != nil || ok {
		t.Errorf("ResendConfirmation on a confirmed address = %v, %v; want false", ok, err)
	}
}

// A confirmation link mailed before an address change confirms nothing afterwards.
func TestConfirmLinkOfAnOldAddress(t *testing.T) {
	f := newFixture(t)
	reg := f.register("ann@example.com", strongPW)
	confirm := linkToken(t, f.onlyMail(mailer.KindConfirm, "ann@example.com"))
	f.changeEmail(reg, "ann@example.com", "ann.new@example.org")
	if _, err := f.svc.ConfirmEmail(t.Context(), linkToken(t, f.mailsByKind()[mailer.KindEmailChange])); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ConfirmEmail(t.Context(), confirm); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old confirmation link = %v, want INVALID_TOKEN", err)
	}
}

func TestAuthConfig(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.AnonJWT = true; antispam(c) })
	v := f.svc.AuthConfig()
	want := AuthConfigView{
		AnonymousTokenRequired: true, AntispamRequired: true, RegistrationOpen: true,
		PasswordMinLength: f.cfg.Policy.MinLength, PasswordMaxLength: f.cfg.Policy.MaxLength,
	}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("AuthConfig = %+v, want %+v", v, want)
	}
}

// A bounded wait for a hashing slot changes nothing when slots are free.
func TestHashWait(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.HashWait = time.Minute })
	f.register("ann@example.com", strongPW)
	f.login("ann@example.com", strongPW)
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: "nobody@example.com", Password: strongPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("unknown email: %v", err)
	}
}

func TestErrorText(t *testing.T) {
	if got := ErrInvalidToken.Error(); got != "INVALID_TOKEN: this link is invalid or has expired" {
		t.Errorf("Error() = %q", got)
	}
	err := ErrInvalidRefreshToken.with(errors.New("replay"))
	if got := err.Error(); !strings.HasSuffix(got, ": replay") || !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("Error() with a cause = %q", got)
	}
}

// A store that cannot answer is an outage, reported as such: never a wrong password, a
// replayed token or an unknown address.
func TestStoreOutage(t *testing.T) {
	f := newFixture(t)
	tok := f.register("ann@example.com", strongPW)
	ctx := f.accessCtx(tok)
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"login": func() error {
			_, err := f.svc.Login(ctx, LoginInput{Email: "ann@example.com", Password: strongPW})
			return err
		},
		"refresh": func() error {
			_, err := f.svc.Refresh(ctx, tok.RefreshToken)
			return err
		},
		"authenticate": func() error {
			_, err := f.svc.Authenticate(ctx)
			return err
		},
		"register": func() error {
			_, err := f.svc.Register(ctx, RegisterInput{Email: "bob@example.com", Password: strongPW})
			return err
		},
		"confirm": func() error {
			_, err := f.svc.ConfirmEmail(ctx, "bm90LWEtdG9rZW4")
			return err
		},
		"reset": func() error { return f.svc.ResetPassword(ctx, "bm90LWEtdG9rZW4", strongPW2) },
	} {
		t.Run(name, func(t *testing.T) {
			err := call()
			var e *Error
			if !errors.Is(err, store.ErrUnavailable) || errors.As(err, &e) {
				t.Errorf("%s on a closed store = %v; want the store's ErrUnavailable, not a client error", name, err)
			}
		})
	}
}
