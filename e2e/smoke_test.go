package main

import "testing"

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
