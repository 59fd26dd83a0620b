package account

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/toktok/toktok/store"
)

// TestGate: the MFA rules by level, factor and role, for every kind of operation.
func TestGate(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MFA.RequiredRoles = []store.Role{store.RoleAdmin} })
	ops := []string{"me", "verifyMfa", "beginMfaChallenge", "refreshToken", "logout", "enrollTotp",
		"confirmTotp", "beginWebAuthnRegistration", "finishWebAuthnRegistration", "mySessions",
		"changePassword", "users", "removeFactor", "regenerateRecoveryCodes", "updateProfile"}
	for _, tt := range []struct {
		name    string
		role    store.Role
		mfa     bool
		aal     string
		allowed []string // nil: everything
		reason  string
	}{
		{"no factor", store.RoleUser, false, "", nil, ""},
		{"no factor aal2", store.RoleUser, false, store.AAL2, nil, ""},
		{"factor aal1", store.RoleUser, true, store.AAL1, aal1Ops, ReasonVerify},
		{"factor unrecorded level", store.RoleStaff, true, "", aal1Ops, ReasonVerify},
		{"factor aal2", store.RoleUser, true, store.AAL2, nil, ""},
		{"required role without factor", store.RoleAdmin, false, store.AAL1, enrollOps, ReasonEnroll},
		{"required role with factor aal1", store.RoleAdmin, true, store.AAL1, aal1Ops, ReasonVerify},
		{"required role with factor aal2", store.RoleAdmin, true, store.AAL2, nil, ""},
		{"role not required", store.RoleStaff, false, store.AAL1, nil, ""},
	} {
		p := Principal{User: store.User{Role: tt.role, MFAEnabled: tt.mfa}, Session: store.Session{AAL: tt.aal}}
		for _, op := range ops {
			err := f.svc.Gate(p, op)
			if tt.allowed == nil || slices.Contains(tt.allowed, op) {
				if err != nil {
					t.Errorf("%s: %s refused: %v", tt.name, op, err)
				}
				continue
			}
			var ae *Error
			if !errors.As(err, &ae) || ae.Code != CodeMFARequired || ae.Reason != tt.reason {
				t.Errorf("%s: %s = %v, want MFA_REQUIRED %q", tt.name, op, err, tt.reason)
			}
		}
	}
}

// TestMFAVerifyInputKind: exactly one proof, and a passkey proof needs both its parts.
func TestMFAVerifyInputKind(t *testing.T) {
	s, id := "x", "c"
	cred := []byte(`{}`)
	for _, tt := range []struct {
		in   MFAVerifyInput
		want string
	}{
		{MFAVerifyInput{}, ""},
		{MFAVerifyInput{TotpCode: &s}, amrOTP},
		{MFAVerifyInput{RecoveryCode: &s}, amrRecovery},
		{MFAVerifyInput{WebAuthnChallengeID: &id, WebAuthnCredential: cred}, amrWebAuthn},
		{MFAVerifyInput{WebAuthnChallengeID: &id}, ""},
		{MFAVerifyInput{WebAuthnCredential: cred}, ""},
		{MFAVerifyInput{TotpCode: &s, RecoveryCode: &s}, ""},
		{MFAVerifyInput{TotpCode: &s, WebAuthnChallengeID: &id, WebAuthnCredential: cred}, ""},
	} {
		if got := tt.in.kind(); got != tt.want {
			t.Errorf("%+v: kind %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestFactorName: a factor's label follows the profile names' rules, since it is shown in
// the consoles and mailed to the account's owner.
func TestFactorName(t *testing.T) {
	str := func(s string) *string { return &s }
	for _, tt := range []struct {
		in      *string
		want    string
		wantErr bool
	}{
		{nil, "Passkey", false},
		{str("   "), "Passkey", false},
		{str("  Phone  "), "Phone", false},
		{str("e\u0301"), "\u00e9", false}, // NFC
		{str(strings.Repeat("x", 100)), strings.Repeat("x", 100), false},
		{str(strings.Repeat("x", 101)), "", true},
		{str("a\nb"), "", true},
		{str("evil\u202egnp.exe"), "", true}, // a bidi override
		{str("zero\u200bwidth"), "", true},
	} {
		got, err := factorName(tt.in, "Passkey")
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("factorName(%q) = %q, %v; want %q, error %v", deref(tt.in), got, err, tt.want, tt.wantErr)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
