package config

import "testing"

func TestAccountDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if c.Account.PasswordMinLength != 12 || c.Account.PasswordMaxLength != 256 || !c.Account.RegistrationOpen || c.Account.Antispam {
		t.Errorf("account %+v", c.Account)
	}
	if !c.Account.AnonJWT || c.Account.AntispamValue != "" {
		t.Errorf("account %+v, want anojwt yes", c.Account)
	}
}

func TestLoadAccount(t *testing.T) {
	c := mustLoad(t, []string{"--antispam=yes", "--registration-open=no"},
		map[string]string{"TOKTOK_ANTISPAM_VALUE": "42", "TOKTOK_PASSWORD_MIN_LENGTH": "8", "TOKTOK_PASSWORD_MAX_LENGTH": "4096"})
	if !c.Account.Antispam || c.Account.AntispamValue != "42" || c.Account.RegistrationOpen ||
		c.Account.PasswordMinLength != 8 || c.Account.PasswordMaxLength != 4096 {
		t.Errorf("account %+v", c.Account)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--antispam=yes"}, "--antispam-value: required with --antispam=yes"},
		{[]string{"--password-min-length=7"}, "--password-min-length: 7 is below 8"},
		{[]string{"--password-max-length=5000"}, "--password-max-length"},
		{[]string{"--password-min-length=20", "--password-max-length=16"}, "--password-max-length"},
	} {
		_, err := load(t, tc.args, nil)
		wantProblems(t, err, tc.want)
	}
}

// --enumeration-protection is off by default, and set by flag or TOKTOK_ENUMERATION_PROTECTION.
func TestAccountEnumerationProtection(t *testing.T) {
	if c := mustLoad(t, nil, nil); c.Account.EnumerationProtection {
		t.Error("--enumeration-protection is on by default")
	}
	for _, c := range []Config{
		mustLoad(t, []string{"--enumeration-protection=yes"}, nil),
		mustLoad(t, nil, map[string]string{"TOKTOK_ENUMERATION_PROTECTION": "yes"}),
	} {
		if !c.Account.EnumerationProtection {
			t.Errorf("account %+v, want enumeration protection on", c.Account)
		}
	}
	if c := mustLoad(t, []string{"--enumeration-protection=no"}, map[string]string{"TOKTOK_ENUMERATION_PROTECTION": "yes"}); c.Account.EnumerationProtection {
		t.Error("--enumeration-protection=no on the command line does not win over the environment")
	}
	_, err := load(t, []string{"--enumeration-protection=maybe"}, nil)
	wantProblems(t, err, `--enumeration-protection: "maybe" is not yes or no`)
}
