package e2e

import (
	"fmt"
	"io"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The abuse limits' settings: the login cooldown's ceiling, and the per-IP limits with
// the limits on (the harness turns them off). Per-IP keys come from X-Forwarded-For,
// which the app believes from 127.0.0.1 here (--trusted-proxies).

// TestSettingsLoginMaxCooldown: with one-minute failure windows, cooldowns double after
// each lockout of the day up to --limit-login-max-cooldown and no further: at 2m the third
// lockout lasts 2m, not the 4m the default ceiling (a day) gives.
func TestSettingsLoginMaxCooldown(t *testing.T) {
	for _, tc := range []struct {
		max  time.Duration
		want []int // retryAfter right after each lockout, in seconds
	}{
		{2 * time.Minute, []int{60, 120, 120}},
		{config.Default().Limits.LoginMaxCooldown, []int{60, 120, 240}},
	} {
		t.Run(tc.max.String(), func(t *testing.T) {
			cfg := settingsPlain(t)
			cfg.Limits.LoginFailures = config.Rate{N: 2, Window: time.Minute}
			cfg.Limits.LoginMaxCooldown = tc.max
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			e.register("ann@example.com", strongPassword)
			var got []int
			for range tc.want {
				for range cfg.Limits.LoginFailures.N {
					e.wantCode(e.loginReq("ann@example.com", "not the password at all"), "INVALID_CREDENTIALS")
				}
				ra := settingsRetryAfter(t, e.loginReq("ann@example.com", strongPassword))
				got = append(got, ra)
				e.clock.Advance(time.Duration(ra)*time.Second + time.Second)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("cooldowns %v s, want %v s", got, tc.want)
			}
			e.login("ann@example.com", strongPassword) // after the last cooldown
		})
	}
}

// settingsIPEnv is an app with the given per-IP limits and client IPs from
// X-Forwarded-For; credentials in clear and no anonymous token, so that each operation is
// one request counted once.
func settingsIPEnv(t *testing.T, edit func(*config.Limits)) *testEnv {
	t.Helper()
	cfg := settingsPlain(t)
	cfg.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	edit(&cfg.Limits)
	return settingsStart(t, cfg, newTestClock(), app.Options{})
}

// settingsIPOps are the operations each per-IP limit counts, sent from ip; i numbers
// the call (for fresh addresses). Each answers without RATE_LIMITED while under the limit.
var settingsIPOps = map[string]func(e *testEnv, ip string, i int) gqlResponse{
	"login": func(e *testEnv, ip string, i int) gqlResponse {
		return settingsFrom(e, ip, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": fmt.Sprintf("u%d@example.com", i), "password": "not the password at all"}})
	},
	"register": func(e *testEnv, ip string, i int) gqlResponse {
		return settingsFrom(e, ip, "", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": fmt.Sprintf("%s-%d@example.com", ip, i), "password": strongPassword}})
	},
	"anonymousToken": func(e *testEnv, ip string, _ int) gqlResponse {
		return settingsFrom(e, ip, "", `mutation { anonymousToken { token } }`, nil)
	},
	"forgotPassword": func(e *testEnv, ip string, i int) gqlResponse {
		return settingsFrom(e, ip, "", `mutation($e: String!) { forgotPassword(email: $e) }`,
			map[string]any{"e": fmt.Sprintf("u%d@example.com", i)})
	},
	// Each changeEmail is a fresh account's (registered from elsewhere), so only the
	// per-IP limit can stop it.
	"emailChanges": func(e *testEnv, ip string, i int) gqlResponse {
		owner := fmt.Sprintf("owner-%s-%d@example.com", ip, i)
		tok := e.register(owner, strongPassword)
		return settingsFrom(e, ip, tok.AccessToken, `mutation($e: String!, $c: String!) { changeEmail(newEmail: $e, currentPassword: $c) }`,
			map[string]any{"e": "new-" + owner, "c": strongPassword})
	},
	// confirmEmail and resetPassword share one limit: alternate them.
	"emailLinks": func(e *testEnv, ip string, i int) gqlResponse {
		if i%2 == 0 {
			return settingsFrom(e, ip, "", `mutation { confirmEmail(token: "not-a-token") { id } }`, nil)
		}
		return settingsFrom(e, ip, "", `mutation { resetPassword(token: "not-a-token", newPassword: "a long new passphrase") }`, nil)
	},
}

// settingsIPCheck sends n+1 calls of op from ip and checks that the first n pass the
// limit and the last is RATE_LIMITED with retryAfter = window (the test clock stands
// still); from is the number of the first call.
func settingsIPCheck(t *testing.T, e *testEnv, op, ip string, r config.Rate, from int) {
	t.Helper()
	send := settingsIPOps[op]
	for i := range r.N {
		if res := send(e, ip, from+i); res.Code() == "RATE_LIMITED" || res.Status != 200 {
			t.Fatalf("%s call %d of %d from %s: %s", op, i+1, r.N, ip, res.Raw)
		}
	}
	if ra := settingsRetryAfter(t, send(e, ip, from+r.N)); ra != int(r.Window/time.Second) {
		t.Errorf("%s from %s: retryAfter %d s, want the window, %v", op, ip, ra, r.Window)
	}
}

// TestSettingsIPLimits: each per-IP limit, at a small value of its own, lets N calls of
// its operations through from one client IP and refuses the next with RATE_LIMITED and
// retryAfter = its window; another IP is not limited; after the window the first IP is
// allowed again. Each would let the call through at its default (and with the limit off).
func TestSettingsIPLimits(t *testing.T) {
	for _, tc := range []struct {
		op    string
		flag  string // as an operator writes it: the parser is part of what is shown
		field func(*config.Limits) *config.Rate
	}{
		{"login", "--limit-ip-login=3/10m", func(l *config.Limits) *config.Rate { return &l.IPLogin }},
		{"register", "--limit-ip-register=2/2m", func(l *config.Limits) *config.Rate { return &l.IPRegister }},
		{"anonymousToken", "--limit-ip-anonymous-token=2/5m", func(l *config.Limits) *config.Rate { return &l.IPAnonymousToken }},
		{"forgotPassword", "--limit-ip-forgot-password=2/3m", func(l *config.Limits) *config.Rate { return &l.IPForgotPassword }},
		{"emailLinks", "--limit-ip-email-links=2/4m", func(l *config.Limits) *config.Rate { return &l.IPEmailLinks }},
		{"emailChanges", "--limit-ip-email-changes=2/7m", func(l *config.Limits) *config.Rate { return &l.IPEmailChanges }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			loaded, err := config.Load([]string{tc.flag}, httpNoEnv, io.Discard)
			if err != nil {
				t.Fatalf("%s: %v", tc.flag, err)
			}
			rate := *tc.field(&loaded.Limits)
			e := settingsIPEnv(t, func(l *config.Limits) { *tc.field(l) = rate })
			settingsIPCheck(t, e, tc.op, "203.0.113.1", rate, 0)
			settingsIPCheck(t, e, tc.op, "203.0.113.2", rate, 100)
			e.clock.Advance(rate.Window)
			settingsIPCheck(t, e, tc.op, "203.0.113.1", rate, 200)
		})
	}
}

// TestSettingsIPLimitsDefaults: the documented defaults with the limits on: 30 logins a
// minute and 10 registrations an hour per client IP.
func TestSettingsIPLimitsDefaults(t *testing.T) {
	d := config.Default().Limits
	if d.IPLogin != (config.Rate{N: 30, Window: time.Minute}) || d.IPRegister != (config.Rate{N: 10, Window: time.Hour}) {
		t.Fatalf("defaults changed: login %v, register %v", d.IPLogin, d.IPRegister)
	}
	e := settingsIPEnv(t, func(l *config.Limits) { l.IPLogin, l.IPRegister = d.IPLogin, d.IPRegister })
	settingsIPCheck(t, e, "login", "203.0.113.1", d.IPLogin, 0)
	settingsIPCheck(t, e, "login", "203.0.113.2", d.IPLogin, 100)
	settingsIPCheck(t, e, "register", "203.0.113.1", d.IPRegister, 0)
	settingsIPCheck(t, e, "register", "203.0.113.2", d.IPRegister, 100)
}

// TestSettingsIPLoginUnknownLikeKnown: failed logins for an address nobody has are
// throttled per IP exactly like failed logins for a real account: the same answers, the
// same counts, the same retryAfter; and during the limit the right password is refused.
func TestSettingsIPLoginUnknownLikeKnown(t *testing.T) {
	rate := config.Rate{N: 3, Window: 10 * time.Minute}
	e := settingsIPEnv(t, func(l *config.Limits) { l.IPLogin = rate })
	e.register("ann@example.com", strongPassword)
	login := func(ip, email, password string) string {
		r := settingsFrom(e, ip, "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": email, "password": password}})
		if r.Code() == "RATE_LIMITED" {
			return fmt.Sprintf("RATE_LIMITED %d", settingsRetryAfter(t, r))
		}
		return r.Code()
	}
	var known, unknown []string
	for range rate.N + 2 {
		known = append(known, login("203.0.113.1", "ann@example.com", "not the password at all"))
		unknown = append(unknown, login("203.0.113.2", "nobody@example.com", "not the password at all"))
	}
	want := []string{"INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "INVALID_CREDENTIALS", "RATE_LIMITED 600", "RATE_LIMITED 600"}
	if !slices.Equal(known, want) || !slices.Equal(unknown, want) {
		t.Errorf("answers from one IP:\nknown   %q\nunknown %q\nwant    %q", known, unknown, want)
	}
	if got := login("203.0.113.1", "ann@example.com", strongPassword); got != "RATE_LIMITED 600" {
		t.Errorf("the right password from the limited IP: %s", got)
	}
	if got := login("203.0.113.3", "ann@example.com", strongPassword); got != "" {
		t.Errorf("the right password from another IP: %s", got)
	}
}
