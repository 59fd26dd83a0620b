package config

import "flag"

// Account is the sign-up and sign-in rules.
type Account struct {
	AnonJWT           bool
	Antispam          bool
	AntispamValue     string
	RegistrationOpen  bool
	PasswordMinLength int
	PasswordMaxLength int
}

func defaultAccount() Account {
	return Account{AnonJWT: true, RegistrationOpen: true, PasswordMinLength: 12, PasswordMaxLength: 256}
}

func (a *Account) register(fs *flag.FlagSet) {
	fs.Var(yesNo{&a.AnonJWT}, "anojwt", "yes|no: register and login need an anonymous JWT")
	fs.Var(yesNo{&a.Antispam}, "antispam", "yes|no: register and login need the antispam field to equal --antispam-value")
	fs.StringVar(&a.AntispamValue, "antispam-value", a.AntispamValue, "the value the antispam field must carry")
	fs.Var(yesNo{&a.RegistrationOpen}, "registration-open", "yes|no: anyone may register")
	fs.IntVar(&a.PasswordMinLength, "password-min-length", a.PasswordMinLength, "shortest password in code points (8 at least)")
	fs.IntVar(&a.PasswordMaxLength, "password-max-length", a.PasswordMaxLength, "longest password in code points")
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
	return p
}
