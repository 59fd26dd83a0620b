package config

import (
	"errors"
	"flag"
	"strings"

	"github.com/toktok/toktok/account"
)

// Account is the sign-up and sign-in rules.
type Account struct {
	AnonJWT           bool
	Antispam          bool
	AntispamValue     string
	RegistrationOpen  bool
	PasswordMinLength int
	PasswordMaxLength int
	// FirstAdmin: the first account to confirm its address while no ADMIN exists becomes
	// one. AdminEmails: canonical addresses that become ADMIN when they are confirmed.
	FirstAdmin  bool
	AdminEmails []string
	// EnumerationProtection: register does not tell a used address from a new one, and
	// login needs a confirmed address (account/enumeration.go).
	EnumerationProtection bool
}

func defaultAccount() Account {
	return Account{AnonJWT: true, RegistrationOpen: true, PasswordMinLength: 12, PasswordMaxLength: 256, FirstAdmin: true}
}

func (a *Account) register(fs *flag.FlagSet) {
	fs.Var(yesNo{&a.AnonJWT}, "anojwt", "yes|no: register and login need an anonymous JWT")
	fs.Var(yesNo{&a.Antispam}, "antispam", "yes|no: register and login need the antispam field to equal --antispam-value")
	fs.StringVar(&a.AntispamValue, "antispam-value", a.AntispamValue, "the value the antispam field must carry")
	fs.Var(yesNo{&a.RegistrationOpen}, "registration-open", "yes|no: anyone may register")
	fs.IntVar(&a.PasswordMinLength, "password-min-length", a.PasswordMinLength, "shortest password in code points (8 at least)")
	fs.IntVar(&a.PasswordMaxLength, "password-max-length", a.PasswordMaxLength, "longest password in code points")
	fs.Var(yesNo{&a.FirstAdmin}, "first-admin", "yes|no: the first account to confirm its address while no ADMIN exists becomes ADMIN")
	fs.Var(emailList{&a.AdminEmails}, "admin-emails", "comma-separated addresses that become ADMIN when confirmed (signup link, password reset or email change), even when an ADMIN exists")
	fs.Var(yesNo{&a.EnumerationProtection}, "enumeration-protection", "yes|no: register answers an address already used as a new one (no EMAIL_TAKEN, its owner is mailed) and signs nobody in; login needs a confirmed address")
}

func (a Account) validate() []error {
	var p problems
	if a.Antispam && a.AntispamValue == "" {
		p.add("--antispam-value: required with --antispam=yes")
	}
	if a.PasswordMinLength < 8 {
		p.add("--password-min-length: %d is below 8", a.PasswordMinLength)
	}
	// The upper bound keeps one request from feeding the hash an unbounded input.
	if a.PasswordMaxLength < a.PasswordMinLength || a.PasswordMaxLength > 4096 {
		p.add("--password-max-length: must be between --password-min-length and 4096")
	}
	for _, e := range a.AdminEmails {
		if _, err := account.CanonicalEmail("admin-emails", e); err != nil {
			p.add("--admin-emails: %q is not an email address (%s)", e, emailProblem(err))
		}
	}
	return p
}

// emailList is a comma-separated list of addresses, each in its canonical form
// (account.CanonicalEmail: trimmed, lower-cased, NFC), as every stored address is. An item
// that is no address is kept as written, for validate to report with its reason.
type emailList struct{ p *[]string }

func (l emailList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l emailList) Set(s string) error {
	var out []string
	for _, item := range splitList(s) {
		if c, err := account.CanonicalEmail("admin-emails", item); err == nil {
			item = c
		}
		out = append(out, item)
	}
	*l.p = out
	return nil
}

// emailProblem is the message of an account error, without its code.
func emailProblem(err error) string {
	var e *account.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}
