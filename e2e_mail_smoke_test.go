package main

import (
	"testing"

	"github.com/toktok/toktok/config"
)

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
	if !resp.ConfirmEmail.EmailConfirmed {
		t.Fatalf("confirmEmail = %+v", resp)
	}
	e.wantCode(e.gql("", `mutation($t: String!) { confirmEmail(token: $t) { email } }`, map[string]any{"t": m.Token()}), "INVALID_TOKEN")
	_ = reg
}
