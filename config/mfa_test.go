package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestMFASettings(t *testing.T) {
	c, err := load(t, []string{"--mfa-required-roles=admin, staff,ADMIN", "--webauthn-rp-id=example.com",
		"--webauthn-origins=https://app.example.com/, https://example.com", "--webauthn-rp-name=Acme"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := MFA{RequiredRoles: []string{"ADMIN", "STAFF"}, WebAuthnRPID: "example.com", WebAuthnRPName: "Acme",
		WebAuthnOrigins: []string{"https://app.example.com", "https://example.com"}}
	if !reflect.DeepEqual(c.MFA, want) {
		t.Errorf("MFA = %+v, want %+v", c.MFA, want)
	}
	if d := Default().MFA; len(d.RequiredRoles) != 0 || d.WebAuthnRPID != "" || len(d.WebAuthnOrigins) != 0 {
		t.Errorf("default MFA = %+v, want none required and derived WebAuthn settings", d)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--mfa-required-roles=ROOT"}, `--mfa-required-roles: "ROOT" is not USER, STAFF or ADMIN`},
		{[]string{"--webauthn-rp-id=https://example.com"}, `--webauthn-rp-id: "https://example.com" is not a domain`},
		{[]string{"--webauthn-rp-id=127.0.0.1"}, `--webauthn-rp-id: "127.0.0.1" is an IP address`},
		{[]string{"--webauthn-origins=example.com"}, `--webauthn-origins: "example.com" is not an origin`},
		{[]string{"--webauthn-origins=https://x.example.com/app"}, `is not an origin`},
		{[]string{"--webauthn-rp-id=example.com", "--webauthn-origins=https://evil.com"}, `--webauthn-origins: the host of "https://evil.com" is not --webauthn-rp-id "example.com" or under it`},
		{[]string{"--webauthn-rp-id=example.com", "--webauthn-origins=https://notexample.com"}, `is not --webauthn-rp-id`},
	} {
		_, err := load(t, tt.args, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want it to say %q", tt.args, err, tt.want)
		}
	}
}
