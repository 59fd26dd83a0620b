package e2e

import (
	"testing"

	"github.com/toktok/toktok/config"
)

// TestSmokeSPAFlow is the walk-through of the README, as an SPA does it with both
// defaults on: anonymous token, encrypted credentials, register, me, refresh, logout.
func TestSmokeSPAFlow(t *testing.T) {
	e := newTestEnv(t, nil)
	reg := e.register("Ann@Example.com", strongPassword)
	if reg.User.Email != "ann@example.com" || reg.User.Role != "USER" || reg.User.EmailConfirmed {
		t.Fatalf("register user = %+v", reg.User)
	}
	var me struct{ Me struct{ Email string } }
	e.mustData(e.meReq(reg.AccessToken), &me)
	if me.Me.Email != "ann@example.com" {
		t.Fatalf("me = %+v", me)
	}
	in := e.login("ann@example.com", strongPassword)
	if in.User.LoginCount != 2 {
		t.Fatalf("loginCount = %d, want 2", in.User.LoginCount)
	}
	r := e.refresh(in.RefreshToken)
	e.mustData(e.meReq(r.AccessToken), nil)
	e.mustData(e.gql(r.AccessToken, `mutation { logout }`, nil), nil)
	e.wantCode(e.meReq(r.AccessToken), "UNAUTHENTICATED")
	e.wantCode(e.refreshReq(r.RefreshToken), "INVALID_REFRESH_TOKEN")
}

// TestMailSmokeConfirm registers over HTTP, reads the confirmation mail from a real SMTP
// server and confirms with its token, as a user would.
func TestMailSmokeConfirm(t *testing.T) {
	sink := startMailSink(t)
	e := newTestEnv(t, func(c *config.Config) { sink.Configure(c) })
	reg := e.register("ann@example.com", strongPassword)
	m := sink.NextTo("ann@example.com")
	if m.Token() == "" || m.HTML == "" || m.Subject == "" {
		t.Fatalf("confirmation mail: subject %q token %q html %d bytes\n%s", m.Subject, m.Token(), len(m.HTML), m.Text)
	}
	var resp struct {
		ConfirmEmail struct {
			Email          string
			EmailConfirmed bool
		}
	}
	e.mustData(e.gql("", `mutation($t: String!) { confirmEmail(token: $t) { email emailConfirmed } }`, map[string]any{"t": m.Token()}), &resp)
	if !resp.ConfirmEmail.EmailConfirmed || resp.ConfirmEmail.Email != reg.User.Email {
		t.Fatalf("confirmEmail = %+v, want %s confirmed", resp, reg.User.Email)
	}
	e.wantCode(e.gql("", `mutation($t: String!) { confirmEmail(token: $t) { email } }`, map[string]any{"t": m.Token()}), "INVALID_TOKEN")
}
