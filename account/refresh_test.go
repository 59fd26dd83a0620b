package account

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// refreshOK refreshes and fails the test on any error.
func (f *fixture) refreshOK(rt string) Tokens {
	f.t.Helper()
	tok, err := f.svc.Refresh(f.t.Context(), rt)
	if err != nil {
		f.t.Fatalf("Refresh: %v", err)
	}
	return tok
}

// wantReplay checks that presenting rt is refused and ends its session for reuse.
func (f *fixture) wantReplay(rt string) {
	f.t.Helper()
	if _, err := f.svc.Refresh(f.t.Context(), rt); !errors.Is(err, ErrInvalidRefreshToken) {
		f.t.Fatalf("replayed Refresh = %v, want INVALID_REFRESH_TOKEN", err)
	}
	sid, _, err := f.refresh.Decode(rt)
	if err != nil {
		f.t.Fatal(err)
	}
	sess, err := f.store.SessionByID(f.t.Context(), sid)
	if err != nil {
		f.t.Fatal(err)
	}
	if sess.RevokedAt == nil || sess.RevokedReason != "refresh_reuse" {
		f.t.Errorf("after a replay the session is revoked %v (%q); want revoked for refresh_reuse", sess.RevokedAt, sess.RevokedReason)
	}
}

func TestRefreshRotation(t *testing.T) {
	f := newFixture(t) // grace 30s
	t0 := f.register("ann@example.com", strongPW)
	f.clock.Advance(time.Minute)

	t1 := f.refreshOK(t0.RefreshToken)
	sess := f.sessionOf(t1)
	if sess.Counter != 1 || !sess.RotatedAt.Equal(f.clock.Now()) || t1.RefreshToken == t0.RefreshToken {
		t.Fatalf("after one rotation: counter %d rotated %v", sess.Counter, sess.RotatedAt)
	}
	if want := f.clock.Now().Add(f.cfg.RefreshIdleTTL); !sess.IdleExpiresAt.Equal(want) || !t1.RefreshExpiresAt.Equal(want) {
		t.Errorf("idle expiry %v (returned %v), want %v", sess.IdleExpiresAt, t1.RefreshExpiresAt, want)
	}
	if _, err := f.tokens.VerifyAccess(t1.AccessToken, f.clock.Now()); err != nil {
		t.Errorf("rotated access token: %v", err)
	}

	// Two tabs: the previous token within the grace window gets the current one again.
	f.clock.Advance(f.cfg.RefreshGrace)
	again := f.refreshOK(t0.RefreshToken)
	if again.RefreshToken != t1.RefreshToken || f.sessionOf(again).Counter != 1 {
		t.Errorf("previous token within grace: got a token for counter %d, want the current one", f.sessionOf(again).Counter)
	}

	t2 := f.refreshOK(t1.RefreshToken)
	if f.sessionOf(t2).Counter != 2 {
		t.Fatalf("counter %d after two rotations", f.sessionOf(t2).Counter)
	}
	// Past the grace window, the previous token is a replay, and the session ends.
	f.clock.Advance(f.cfg.RefreshGrace + time.Millisecond)
	f.wantReplay(t1.RefreshToken)
	if _, err := f.svc.Refresh(t.Context(), t2.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
		t.Errorf("current token after the session was revoked: %v", err)
	}
	if _, err := f.svc.Authenticate(f.accessCtx(t2)); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("access token of a revoked session: %v", err)
	}
}

func TestRefreshReplay(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		// run rotates as the case needs and returns the token to replay.
		run func(f *fixture, t0 Tokens) string
	}{
		{"older than the previous counter, within grace", 30 * time.Second, func(f *fixture, t0 Tokens) string {
			t1 := f.refreshOK(t0.RefreshToken)
			f.refreshOK(t1.RefreshToken)
			return t0.RefreshToken
		}},
		{"previous counter with no grace", 0, func(f *fixture, t0 Tokens) string {
			f.refreshOK(t0.RefreshToken)
			return t0.RefreshToken
		}},
		{"a counter ahead of the session", 30 * time.Second, func(f *fixture, t0 Tokens) string {
			return f.refresh.Encode(f.sessionOf(t0).ID, 5)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *Config) { c.RefreshGrace = tc.grace })
			t0 := f.register("ann@example.com", strongPW)
			f.wantReplay(tc.run(f, t0))
			if got := f.auditTypes(t0.User.ID); !slices.Contains(got, "refresh_reuse:failure") {
				t.Errorf("audit = %v, want a refresh_reuse failure", got)
			}
		})
	}
}

func TestRefreshExpiry(t *testing.T) {
	for _, tc := range []struct {
		name string
		// live moves the clock while keeping the session in use; end moves it past expiry.
		live, end func(f *fixture, tok Tokens) Tokens
	}{
		{"idle", func(f *fixture, tok Tokens) Tokens {
			f.clock.Advance(f.cfg.RefreshIdleTTL - time.Second)
			return f.refreshOK(tok.RefreshToken) // using it moves the idle expiry
		}, func(f *fixture, tok Tokens) Tokens {
			f.clock.Advance(f.cfg.RefreshIdleTTL)
			return tok
		}},
		{"absolute", func(f *fixture, tok Tokens) Tokens {
			for range 3 {
				f.clock.Advance(f.cfg.RefreshIdleTTL - time.Minute)
				tok = f.refreshOK(tok.RefreshToken)
			}
			return tok
		}, func(f *fixture, tok Tokens) Tokens {
			f.clock.Set(f.sessionOf(tok).AbsoluteExpiresAt)
			return tok
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An absolute lifetime of 3 days, refreshed daily: idle never bites, absolute does.
			f := newFixture(t, func(c *Config) { c.RefreshIdleTTL, c.RefreshAbsoluteTTL = 24*time.Hour, 72*time.Hour })
			tok := f.register("ann@example.com", strongPW)
			tok = tc.live(f, tok)
			if tc.name == "absolute" && !tok.RefreshExpiresAt.Equal(f.sessionOf(tok).AbsoluteExpiresAt) {
				t.Errorf("near the end, the refresh token expires at %v, want the absolute expiry", tok.RefreshExpiresAt)
			}
			tok = tc.end(f, tok)
			if _, err := f.svc.Refresh(t.Context(), tok.RefreshToken); !errors.Is(err, ErrInvalidRefreshToken) {
				t.Fatalf("Refresh after %s expiry = %v, want INVALID_REFRESH_TOKEN", tc.name, err)
			}
			if sess := f.sessionOf(tok); sess.Live(f.clock.Now()) || sess.RevokedAt != nil {
				t.Errorf("expired session: live %v, revoked %v; want ended by expiry, not revoked", sess.Live(f.clock.Now()), sess.RevokedAt)
			}
			if _, err := f.svc.Authenticate(WithAuth(t.Context(), Auth{Kind: KindAccess, Access: f.claims(tok)})); !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("Authenticate on an expired session = %v", err)
			}
		})
	}
}

func TestRefreshRefused(t *testing.T) {
	f := newFixture(t)
	tok := f.register("ann@example.com", strongPW)
	f.seedDisabledWithSession("carol@example.com", "carol-session")
	for name, rt := range map[string]string{
		"garbage":          "not a token",
		"forged":           tok.RefreshToken[:len(tok.RefreshToken)-2] + "AA",
		"unknown session":  f.refresh.Encode("no-such-session", 0),
		"disabled account": f.refresh.Encode("carol-session", 0),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f.svc.Refresh(t.Context(), rt); !errors.Is(err, ErrInvalidRefreshToken) {
				t.Errorf("Refresh = %v, want INVALID_REFRESH_TOKEN", err)
			}
		})
	}
	if !f.sessionOf(tok).Live(f.clock.Now()) {
		t.Error("a refused foreign token ended an unrelated session")
	}
}
