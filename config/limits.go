package config

import (
	"flag"
	"strconv"
	"time"
)

// Rate is a limit of N events per Window; N = 0 disables it.
type Rate struct {
	N      int
	Window time.Duration
}

// String is the flag spelling of r ("30/1m0s", "0"), so that --help shows a default the
// flag accepts back.
func (r Rate) String() string {
	if r.N == 0 {
		return "0"
	}
	return strconv.Itoa(r.N) + "/" + r.Window.String()
}

// Limits are the abuse limits of the security policy. Counters live in the store, so
// every instance shares them.
type Limits struct {
	LoginFailures    Rate          // per account (canonical email), then a cooldown
	LoginMaxCooldown time.Duration // cooldowns double up to this
	IPLogin          Rate
	IPRegister       Rate
	IPAnonymousToken Rate
	IPForgotPassword Rate
	IPEmailLinks     Rate // confirmEmail, resetPassword
	IPEmailChanges   Rate // changeEmail
	ResetMails       Rate // per account
	ConfirmResends   Rate // per account
	EmailChanges     Rate // per account
}

func defaultLimits() Limits {
	return Limits{
		LoginFailures: Rate{5, 15 * time.Minute}, LoginMaxCooldown: 24 * time.Hour,
		IPLogin: Rate{30, time.Minute}, IPRegister: Rate{10, time.Hour},
		IPAnonymousToken: Rate{60, time.Minute}, IPForgotPassword: Rate{10, time.Hour},
		IPEmailLinks: Rate{30, time.Minute}, IPEmailChanges: Rate{10, time.Hour},
		ResetMails: Rate{3, time.Hour}, ConfirmResends: Rate{3, time.Hour},
		// changeEmail sends two mails, one to an address the caller chooses, and answers
		// EMAIL_TAKEN for addresses in use: both limits keep it from being a mail cannon
		// or an address-lookup oracle for anyone with an account.
		EmailChanges: Rate{3, time.Hour},
	}
}

func (l *Limits) register(fs *flag.FlagSet) {
	fs.Var(rateFlag{&l.LoginFailures}, "limit-login-failures", "failed logins per account (N/window) before a cooldown; 0 disables")
	fs.DurationVar(&l.LoginMaxCooldown, "limit-login-max-cooldown", l.LoginMaxCooldown, "cooldowns double after each lockout up to this")
	fs.Var(rateFlag{&l.IPLogin}, "limit-ip-login", "login attempts per client IP (N/window)")
	fs.Var(rateFlag{&l.IPRegister}, "limit-ip-register", "registrations per client IP")
	fs.Var(rateFlag{&l.IPAnonymousToken}, "limit-ip-anonymous-token", "anonymous tokens per client IP")
	fs.Var(rateFlag{&l.IPForgotPassword}, "limit-ip-forgot-password", "forgotPassword calls per client IP")
	fs.Var(rateFlag{&l.IPEmailLinks}, "limit-ip-email-links", "confirmEmail/resetPassword calls per client IP")
	fs.Var(rateFlag{&l.IPEmailChanges}, "limit-ip-email-changes", "changeEmail calls per client IP")
	fs.Var(rateFlag{&l.ResetMails}, "limit-reset-mails", "password-reset mails per account")
	fs.Var(rateFlag{&l.ConfirmResends}, "limit-confirm-resends", "confirmation resends per account")
	fs.Var(rateFlag{&l.EmailChanges}, "limit-email-changes", "changeEmail requests per account")
}

// validate has nothing left to check: rateFlag refuses a malformed rate while parsing,
// and every rate, 0 included, is a policy some deployment may want.
func (l Limits) validate() []error { return nil }
