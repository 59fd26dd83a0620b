package config

import (
	"testing"
	"time"
)

func TestLinksDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	want := Links{TokenIn: "fragment", ConfirmTTL: 24 * time.Hour, ResetTTL: time.Hour, EmailChangeTTL: 24 * time.Hour}
	if c.Links != want {
		t.Errorf("links %+v", c.Links)
	}
}

func TestLoadLinks(t *testing.T) {
	c := mustLoad(t, []string{"--confirm-url=https://app.example.com/confirm", "--link-token-in=query"},
		map[string]string{"TOKTOK_RESET_URL": "http://localhost:5173/reset", "TOKTOK_RESET_TTL": "30m"})
	if c.Links.ConfirmURL != "https://app.example.com/confirm" || c.Links.ResetURL != "http://localhost:5173/reset" ||
		c.Links.TokenIn != "query" || c.Links.ResetTTL != 30*time.Minute {
		t.Errorf("links %+v", c.Links)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--confirm-url=app.example.com/confirm"}, "--confirm-url"},
		{[]string{"--confirm-url=https://app.example.com/#/confirm"}, "without a fragment"},
		{[]string{"--reset-url=ftp://app.example.com/reset"}, "--reset-url"},
		{[]string{"--link-token-in=cookie"}, `--link-token-in: "cookie" is not fragment or query`},
		{[]string{"--confirm-ttl=0s"}, "--confirm-ttl: must be positive"},
		{[]string{"--reset-ttl=-1m"}, "--reset-ttl: must be positive"},
		{[]string{"--email-change-ttl=0s"}, "--email-change-ttl: must be positive"},
	} {
		_, err := load(t, tc.args, nil)
		wantProblems(t, err, tc.want)
	}
}

func TestLinksProduction(t *testing.T) {
	args := append([]string{"--mode=production", "--confirm-url=http://app.example.com/c", "--reset-url=http://app.example.com/r"}, prodArgs...)
	_, err := load(t, args, nil)
	wantProblems(t, err, "--confirm-url: must be https in production mode", "--reset-url: must be https in production mode")
	mustLoad(t, append([]string{"--mode=production", "--confirm-url=https://app.example.com/c"}, prodArgs...), nil)
}
