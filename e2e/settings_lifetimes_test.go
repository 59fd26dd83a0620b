package e2e

import (
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
)

// settingsLifetime is one lifetime setting: set, at a value no default has, it makes a
// credential work until life has passed (on the test clock, after start) and answer code
// from then on.
type settingsLifetime struct {
	name string
	set  func(*config.Config)
	// start obtains the credential and returns its use.
	start func(t *testing.T, e *testEnv, sink *smtpsink.Sink) func() gqlResponse
	life  time.Duration
	code  string
}

var settingsLifetimes = []settingsLifetime{
	{
		name: "access-ttl=5m", // plus the default 30s leeway
		set:  func(c *config.Config) { c.Token.AccessTTL = 5 * time.Minute },
		start: func(t *testing.T, e *testEnv, _ *smtpsink.Sink) func() gqlResponse {
			tok := e.register("ann@example.com", strongPassword).AccessToken
			return func() gqlResponse { return e.meReq(tok) }
		},
		life: 5*time.Minute + 30*time.Second, code: "UNAUTHENTICATED",
	},
	{
		name: "jwt-leeway=2m", // on the default 15m access token
		set:  func(c *config.Config) { c.Token.Leeway = 2 * time.Minute },
		start: func(t *testing.T, e *testEnv, _ *smtpsink.Sink) func() gqlResponse {
			tok := e.register("ann@example.com", strongPassword).AccessToken
			return func() gqlResponse { return e.meReq(tok) }
		},
		life: 17 * time.Minute, code: "UNAUTHENTICATED",
	},
	{
		name: "anonymous-ttl=1h", // plus the default 30s leeway
		set:  func(c *config.Config) { c.Token.AnonTTL, c.Account.AnonJWT = time.Hour, true },
		start: func(t *testing.T, e *testEnv, _ *smtpsink.Sink) func() gqlResponse {
			anon := e.anon()
			return func() gqlResponse {
				return e.gql(anon, `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
					map[string]any{"in": map[string]any{"email": "ann@example.com", "password": strongPassword}})
			}
		},
		life: time.Hour + 30*time.Second, code: "ANONYMOUS_TOKEN_REQUIRED",
	},
	{
		name: "refresh-idle-ttl=1h",
		set:  func(c *config.Config) { c.Token.RefreshIdleTTL = time.Hour },
		start: func(t *testing.T, e *testEnv, _ *smtpsink.Sink) func() gqlResponse {
			rt := e.register("ann@example.com", strongPassword).RefreshToken
			return func() gqlResponse { return e.refreshReq(rt) }
		},
		life: time.Hour, code: "INVALID_REFRESH_TOKEN",
	},
	{
		// A refresh 50 minutes in slides the idle expiry to 1h50m; the absolute one, 1h30m
		// after sign-in, comes first: 40 minutes after the refresh.
		name: "refresh-absolute-ttl=90m",
		set:  func(c *config.Config) { c.Token.RefreshIdleTTL, c.Token.RefreshAbsoluteTTL = time.Hour, 90*time.Minute },
		start: func(t *testing.T, e *testEnv, _ *smtpsink.Sink) func() gqlResponse {
			rt := e.register("ann@example.com", strongPassword).RefreshToken
			e.clock.Advance(50 * time.Minute)
			rt = e.refresh(rt).RefreshToken
			return func() gqlResponse { return e.refreshReq(rt) }
		},
		life: 40 * time.Minute, code: "INVALID_REFRESH_TOKEN",
	},
	{
		name: "confirm-ttl=2h",
		set:  func(c *config.Config) { c.Links.ConfirmTTL = 2 * time.Hour },
		start: func(t *testing.T, e *testEnv, sink *smtpsink.Sink) func() gqlResponse {
			e.register("ann@example.com", strongPassword)
			tok := sink.NextTo(t, "ann@example.com").Token()
			return func() gqlResponse { return settingsConfirm(e, tok) }
		},
		life: 2 * time.Hour, code: "INVALID_TOKEN",
	},
	{
		name: "reset-ttl=10m",
		set:  func(c *config.Config) { c.Links.ResetTTL = 10 * time.Minute },
		start: func(t *testing.T, e *testEnv, sink *smtpsink.Sink) func() gqlResponse {
			e.register("ann@example.com", strongPassword)
			sink.NextTo(t, "ann@example.com") // the confirmation
			e.mustData(e.gql("", `mutation { forgotPassword(email: "ann@example.com") }`, nil), nil)
			tok := sink.NextTo(t, "ann@example.com").Token()
			return func() gqlResponse {
				return e.gql("", `mutation($t: String!) { resetPassword(token: $t, newPassword: "another long passphrase") }`,
					map[string]any{"t": tok})
			}
		},
		life: 10 * time.Minute, code: "INVALID_TOKEN",
	},
}

// TestSettingsLifetimes: each lifetime setting, at a value no default has, decides when a
// token or link stops working: a second before its end it works, a second after it
// answers its error. The defaults would accept both uses (or refuse both).
func TestSettingsLifetimes(t *testing.T) {
	for _, tc := range settingsLifetimes {
		for _, at := range []time.Duration{-time.Second, time.Second} {
			name := tc.name + "/before"
			if at > 0 {
				name = tc.name + "/after"
			}
			t.Run(name, func(t *testing.T) {
				cfg := settingsPlain(t)
				sink := settingsSink(t, &cfg, smtpsink.Options{})
				tc.set(&cfg)
				e := settingsStart(t, cfg, newTestClock(), app.Options{})
				use := tc.start(t, e, sink)
				e.clock.Advance(tc.life + at)
				r := use()
				if at < 0 {
					e.mustData(r, nil)
					return
				}
				e.wantCode(r, tc.code)
			})
		}
	}
}
