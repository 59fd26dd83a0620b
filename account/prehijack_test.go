package account

import (
	"context"
	"errors"
	"testing"

	"github.com/toktok/toktok/mailer"
)

// Account pre-hijacking (Sudhodanan and Paverd, 2022): an attacker registers the victim's
// address with a password of the attacker's choosing and keeps the session alive; later
// the victim confirms the address, or takes the account over with a password reset. The
// tests below play it on the real rules: whatever the victim does with the mails that
// reach their mailbox, no session opened by someone who never proved the mailbox may
// survive it.

// prehijack is the attacker's head start: the victim's address registered with the
// attacker's password, signed in twice (the registration, then a login), and the token of
// the confirmation mail that went to the victim.
type prehijack struct {
	sessions []Tokens
	confirm  string // the confirmation link's token, as the victim's mailbox holds it
}

const (
	victimEmail = "victim@example.com"
	attackerPW  = "attacker chosen passphrase"
)

func (f *fixture) preHijack() prehijack {
	f.t.Helper()
	reg := f.register(victimEmail, attackerPW)
	confirm := linkToken(f.t, f.onlyMail(mailer.KindConfirm, victimEmail))
	return prehijack{sessions: []Tokens{reg, f.login(victimEmail, attackerPW)}, confirm: confirm}
}

// sessionLive reports whether tok still works as the client holding it would use it: its
// access token authenticates, and its refresh token rotates (which it spends).
func (f *fixture) sessionLive(tok Tokens) (access, refresh bool) {
	f.t.Helper()
	_, err := f.svc.Authenticate(f.accessCtx(tok))
	switch {
	case err == nil:
		access = true
	case !errors.Is(err, ErrUnauthenticated):
		f.t.Fatalf("Authenticate: %v", err)
	}
	_, err = f.svc.Refresh(f.t.Context(), tok.RefreshToken)
	switch {
	case err == nil:
		refresh = true
	case !errors.Is(err, ErrInvalidRefreshToken):
		f.t.Fatalf("Refresh: %v", err)
	}
	return access, refresh
}

// TestConfirmEmailEndsSessionsOpenedBeforeProof: confirming a signup ends every session
// of the account opened before the address was proven, because nobody holding one of them
// had shown they read the mailbox. The one exception is the session that presents the
// link itself (an SPA confirming in the tab that registered): its holder has just proven
// the mailbox. Another account's token presented along the link changes nothing for the
// confirmed account and is not ended either.
func TestConfirmEmailEndsSessionsOpenedBeforeProof(t *testing.T) {
	for _, tc := range []struct {
		name string
		// caller is the request context of confirmEmail; keep is the index, in
		// prehijack.sessions, of the session expected to survive (-1: none).
		caller func(f *fixture, h prehijack, bystander Tokens) context.Context
		keep   int
	}{
		{"hosted page, nobody signed in", func(f *fixture, _ prehijack, _ Tokens) context.Context { return f.t.Context() }, -1},
		{"signed in as another account", func(f *fixture, _ prehijack, bob Tokens) context.Context { return f.accessCtx(bob) }, -1},
		{"the account's own tab", func(f *fixture, h prehijack, _ Tokens) context.Context { return f.accessCtx(h.sessions[0]) }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			bob := f.register("bob@example.com", strongPW)
			f.mails()
			h := f.preHijack()

			u, err := f.svc.ConfirmEmail(tc.caller(f, h, bob), h.confirm)
			if err != nil {
				t.Fatalf("ConfirmEmail: %v", err)
			}
			if !u.EmailConfirmed || u.Email != victimEmail {
				t.Fatalf("ConfirmEmail = %+v, want %s confirmed", u, victimEmail)
			}
			for i, tok := range h.sessions {
				access, refresh := f.sessionLive(tok)
				want := i == tc.keep
				if access != want || refresh != want {
					t.Errorf("session %d opened before the confirmation: access token works %v, refresh works %v; want %v",
						i, access, refresh, want)
				}
			}
			if access, refresh := f.sessionLive(bob); !access || !refresh {
				t.Errorf("another account's session: access %v, refresh %v; want it untouched", access, refresh)
			}
		})
	}
}

// TestResetEndsPreHijackSessions: the victim who finds the address taken and asks for a
// password reset owns the account afterwards: the attacker's sessions end, the attacker's
// password no longer signs in, the address counts as confirmed, and the mailbox is told the
// password changed.
func TestResetEndsPreHijackSessions(t *testing.T) {
	f := newFixture(t)
	h := f.preHijack()

	if err := f.svc.ResetPassword(t.Context(), f.forgot(victimEmail), strongPW2); err != nil {
		t.Fatalf("ResetPassword: %v", err)
	}
	for i, tok := range h.sessions {
		if access, refresh := f.sessionLive(tok); access || refresh {
			t.Errorf("attacker session %d after the reset: access %v, refresh %v; want both ended", i, access, refresh)
		}
	}
	f.onlyMail(mailer.KindPasswordChanged, victimEmail)
	if _, err := f.svc.Login(t.Context(), LoginInput{Email: victimEmail, Password: attackerPW}); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("the attacker's password after the reset: %v, want INVALID_CREDENTIALS", err)
	}
	if got := f.login(victimEmail, strongPW2); !got.User.EmailConfirmed {
		t.Error("the reset did not confirm the address it proved")
	}
}
