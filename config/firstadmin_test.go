package config

import (
	"reflect"
	"testing"
)

// --first-admin is yes by default; --admin-emails is empty, and lists canonical addresses
// (trimmed, lower-cased, empty items dropped), from the flag or its variable.
func TestLoadAdminSettings(t *testing.T) {
	c := mustLoad(t, nil, nil)
	if !c.Account.FirstAdmin || c.Account.AdminEmails != nil {
		t.Errorf("defaults: first admin %v, admin emails %q", c.Account.FirstAdmin, c.Account.AdminEmails)
	}
	want := []string{"ann@example.com", "boss@exämple.org"}
	for _, c := range []Config{
		mustLoad(t, []string{"--first-admin=no", "--admin-emails= Ann@Example.COM,,BOSS@EXÄMPLE.org "}, nil),
		mustLoad(t, nil, map[string]string{"TOKTOK_FIRST_ADMIN": "no", "TOKTOK_ADMIN_EMAILS": "ann@example.com, boss@exa\u0308mple.org"}),
	} {
		if c.Account.FirstAdmin || !reflect.DeepEqual(c.Account.AdminEmails, want) {
			t.Errorf("first admin %v, admin emails %q; want no and %q", c.Account.FirstAdmin, c.Account.AdminEmails, want)
		}
	}
}

// Each address of --admin-emails that is none is a problem of its own, naming it (as
// written) and the setting as the operator wrote it.
func TestLoadAdminEmailsRefusesBadItems(t *testing.T) {
	_, err := load(t, []string{"--admin-emails=ann@example.com,bob@,carol at example.com"}, nil)
	wantProblems(t, err,
		`--admin-emails: "bob@" is not an email address (the email address is not valid)`,
		`--admin-emails: "carol at example.com" is not an email address (the email address contains forbidden characters)`)
	if n := len(leaves(err)); n != 2 {
		t.Errorf("%d problems, want 2:\n%v", n, err)
	}
	_, err = load(t, nil, map[string]string{"TOKTOK_ADMIN_EMAILS": "nobody"})
	wantProblems(t, err, `TOKTOK_ADMIN_EMAILS: "nobody" is not an email address`)
	_, err = load(t, []string{"--first-admin=maybe"}, nil)
	wantProblems(t, err, `--first-admin: "maybe" is not yes or no`)
}
