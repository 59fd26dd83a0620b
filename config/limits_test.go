package config

import (
	"testing"
	"time"
)

func TestLimitsDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	want := Limits{
		LoginFailures: Rate{5, 15 * time.Minute}, LoginMaxCooldown: 24 * time.Hour,
		IPLogin: Rate{30, time.Minute}, IPRegister: Rate{10, time.Hour},
		IPAnonymousToken: Rate{60, time.Minute}, IPForgotPassword: Rate{10, time.Hour},
		IPEmailLinks: Rate{30, time.Minute}, IPEmailChanges: Rate{10, time.Hour},
		ResetMails: Rate{3, time.Hour}, ConfirmResends: Rate{3, time.Hour}, EmailChanges: Rate{3, time.Hour},
	}
	if c.Limits != want {
		t.Errorf("limits %+v", c.Limits)
	}
}

func TestLoadLimits(t *testing.T) {
	c := mustLoad(t, []string{"--limit-ip-login=100/1m", "--limit-login-failures=0", "--limit-login-max-cooldown=1h", "--limit-ip-email-changes=4/2h"},
		map[string]string{"TOKTOK_LIMIT_EMAIL_CHANGES": "2/24h", "TOKTOK_LIMIT_IP_REGISTER": "off"})
	if c.Limits.IPLogin != (Rate{100, time.Minute}) || c.Limits.LoginFailures != (Rate{}) || c.Limits.LoginMaxCooldown != time.Hour ||
		c.Limits.EmailChanges != (Rate{2, 24 * time.Hour}) || c.Limits.IPRegister != (Rate{}) || c.Limits.IPEmailChanges != (Rate{4, 2 * time.Hour}) {
		t.Errorf("limits %+v", c.Limits)
	}
	_, err := load(t, nil, map[string]string{"TOKTOK_LIMIT_IP_LOGIN": "30"})
	wantProblems(t, err, "TOKTOK_LIMIT_IP_LOGIN")
	if _, err := load(t, []string{"--limit-ip-login=30"}, nil); err == nil {
		t.Error("--limit-ip-login=30 accepted")
	}
}

func TestRateString(t *testing.T) {
	for _, tc := range []struct {
		r    Rate
		want string
	}{
		{Rate{}, "0"}, {Rate{0, time.Hour}, "0"}, {Rate{30, time.Minute}, "30/1m0s"}, {Rate{3, time.Hour}, "3/1h0m0s"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("%#v.String() = %q, want %q", tc.r, got, tc.want)
		}
		// What String prints, the flag reads back.
		var back Rate
		if err := (rateFlag{&back}).Set(tc.r.String()); err != nil || back.String() != tc.want {
			t.Errorf("%q read back as %v (%v)", tc.want, back, err)
		}
	}
}
