package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The account settings: password lengths and hashing cost, and the per-account limits
// on mails and email changes.

// settingsPassword is a password of n code points that no other rule refuses.
func settingsPassword(n int) string { return strings.Repeat("Zq8!", 8)[:n] }

// TestSettingsPasswordLengths: --password-min-length=16 and --password-max-length=20
// refuse 15 and 21 code points with too_short and too_long and accept 16 and 20; the
// defaults (12..256) accept 15 and 21.
func TestSettingsPasswordLengths(t *testing.T) {
	set := settingsStart(t, func() config.Config {
		c := settingsPlain(t)
		c.Account.PasswordMinLength, c.Account.PasswordMaxLength = 16, 20
		return c
	}(), newTestClock(), app.Options{})
	dflt := settingsStart(t, settingsPlain(t), newTestClock(), app.Options{})
	for i, tc := range []struct {
		e      *testEnv
		n      int
		reason string // "" accepted
	}{
		{set, 15, "too_short"}, {set, 16, ""}, {set, 20, ""}, {set, 21, "too_long"},
		{dflt, 15, ""}, {dflt, 21, ""},
	} {
		r := tc.e.registerReq(fmt.Sprintf("u%d@example.com", i), settingsPassword(tc.n), nil)
		var reasons []any
		if r.Code() == "BAD_USER_INPUT" {
			reasons, _ = r.Errors[0].Extensions["reasons"].([]any)
		}
		want := []any{tc.reason}
		if tc.reason == "" {
			want = nil
		}
		if (r.Code() == "") != (tc.reason == "") || !slices.Equal(reasons, want) {
			t.Errorf("lengths %d..%d, %d code points: %s", tc.e.cfg.Account.PasswordMinLength, tc.e.cfg.Account.PasswordMaxLength, tc.n, r.Raw)
		}
	}
}

// TestSettingsArgon2: --argon2-memory, --argon2-time and --argon2-threads are the
// parameters of the stored hash (its PHC string), and the password verifies under them.
func TestSettingsArgon2(t *testing.T) {
	for _, tc := range []struct {
		p    config.Password
		want string
	}{
		{config.Password{MemoryKiB: 128, Time: 3, Threads: 2}, "$argon2id$v=19$m=128,t=3,p=2$"},
		{config.Password{MemoryKiB: 64, Time: 1, Threads: 1}, "$argon2id$v=19$m=64,t=1,p=1$"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			cfg := settingsPlain(t)
			cfg.Password.MemoryKiB, cfg.Password.Time, cfg.Password.Threads = tc.p.MemoryKiB, tc.p.Time, tc.p.Threads
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			e.register("ann@example.com", strongPassword)
			u, err := e.app.Support().User(t.Context(), "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(u.PasswordHash, tc.want) {
				t.Errorf("stored hash %q, want the prefix %q", u.PasswordHash, tc.want)
			}
			e.login("ann@example.com", strongPassword)
		})
	}
}

// TestSettingsHashFloor: with --hash-floor=400ms every login answer (unknown address,
// wrong password, right password) takes at least 400 ms with cheap hashing; without it,
// the same answers come well under it (they measure a few milliseconds here).
func TestSettingsHashFloor(t *testing.T) {
	const floor = 400 * time.Millisecond
	for _, on := range []bool{true, false} {
		t.Run(fmt.Sprint("floor ", on), func(t *testing.T) {
			cfg := settingsPlain(t)
			if on {
				cfg.Password.Floor = floor
			}
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			e.register("ann@example.com", strongPassword)
			var slowest, fastest time.Duration = 0, time.Hour
			for _, c := range []struct{ email, pw string }{
				{"nobody@example.com", strongPassword}, {"ann@example.com", strongPassword + "x"}, {"ann@example.com", strongPassword},
			} {
				start := time.Now()
				e.loginReq(c.email, c.pw)
				d := time.Since(start)
				slowest, fastest = max(slowest, d), min(fastest, d)
			}
			if on && fastest < floor {
				t.Errorf("with --hash-floor=%v a login answered in %v", floor, fastest)
			}
			if !on && slowest >= floor {
				t.Errorf("without --hash-floor a login took %v (cheap hashing takes milliseconds)", slowest)
			}
		})
	}
}

// TestSettingsAccountLimits: at 1 per 2 hours, --limit-confirm-resends and
// --limit-email-changes refuse the second request with RATE_LIMITED and retryAfter 7200,
// and --limit-reset-mails sends one reset mail for two forgotPassword calls (which both
// answer true); the defaults (3/1h each) let the second through.
func TestSettingsAccountLimits(t *testing.T) {
	oneIn2h := config.Rate{N: 1, Window: 2 * time.Hour}
	for _, tc := range []struct {
		name    string
		limited bool
	}{{"1/2h", true}, {"defaults", false}} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t) // mails go to the log: the outbox tells what was queued
			if tc.limited {
				cfg.Limits.ConfirmResends, cfg.Limits.EmailChanges, cfg.Limits.ResetMails = oneIn2h, oneIn2h, oneIn2h
			}
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			ann := e.register("ann@example.com", strongPassword)
			second := func(what string, r1, r2 gqlResponse) {
				t.Helper()
				e.mustData(r1, nil)
				if !tc.limited {
					e.mustData(r2, nil)
				} else if ra := settingsRetryAfter(t, r2); ra != 7200 {
					t.Errorf("%s: retryAfter %d, want 7200", what, ra)
				}
			}
			resend := func() gqlResponse { return e.gql(ann.AccessToken, `mutation { resendConfirmation }`, nil) }
			second("limit-confirm-resends", resend(), resend())
			change := func(to string) gqlResponse {
				return e.gql(ann.AccessToken, `mutation($e: String!, $c: String!) { changeEmail(newEmail: $e, currentPassword: $c) }`,
					map[string]any{"e": to, "c": strongPassword})
			}
			second("limit-email-changes", change("ann.a@example.com"), change("ann.b@example.com"))

			forgot := func() { e.mustData(e.gql("", `mutation { forgotPassword(email: "ann@example.com") }`, nil), nil) }
			forgot()
			forgot()
			e.app.Support().Settle()
			mails, err := e.app.Support().OutboxTo(t.Context(), "ann@example.com")
			if err != nil {
				t.Fatal(err)
			}
			resets := 0
			for _, m := range mails {
				if m.Kind == "reset" {
					resets++
				}
			}
			if want := map[bool]int{true: 1, false: 2}[tc.limited]; resets != want {
				t.Errorf("limit-reset-mails: %d reset mails queued for two requests, want %d", resets, want)
			}
		})
	}
}
