package config

import (
	"flag"
	"time"
)

// Links is where email links point and how long they live.
type Links struct {
	ConfirmURL     string // page or SPA route for signup and email-change confirmation
	ResetURL       string // page or SPA route for password reset
	TokenIn        string // "fragment" (default) or "query"
	ConfirmTTL     time.Duration
	ResetTTL       time.Duration
	EmailChangeTTL time.Duration
}

func defaultLinks() Links {
	return Links{TokenIn: "fragment", ConfirmTTL: 24 * time.Hour, ResetTTL: time.Hour, EmailChangeTTL: 24 * time.Hour}
}

func (l *Links) register(fs *flag.FlagSet) {
	fs.StringVar(&l.ConfirmURL, "confirm-url", l.ConfirmURL, "where confirmation links point (default PUBLIC_URL/confirm-email, the hosted page; or your SPA's route)")
	fs.StringVar(&l.ResetURL, "reset-url", l.ResetURL, "where password-reset links point (default PUBLIC_URL/reset-password)")
	fs.StringVar(&l.TokenIn, "link-token-in", l.TokenIn, "fragment | query: where links carry the token (#token= keeps it out of logs and Referer)")
	fs.DurationVar(&l.ConfirmTTL, "confirm-ttl", l.ConfirmTTL, "lifetime of signup confirmation links")
	fs.DurationVar(&l.ResetTTL, "reset-ttl", l.ResetTTL, "lifetime of password-reset links")
	fs.DurationVar(&l.EmailChangeTTL, "email-change-ttl", l.EmailChangeTTL, "lifetime of email-change confirmation links")
}

// urls are the link targets, in the order their problems are reported.
func (l Links) urls() []setting[string] {
	return []setting[string]{{"--confirm-url", l.ConfirmURL}, {"--reset-url", l.ResetURL}}
}

func (l Links) validate() []error {
	var p problems
	for _, s := range l.urls() {
		if s.value == "" {
			continue
		}
		// The token is appended as a fragment or query; a fragment of the route's own
		// would swallow it.
		if u, ok := isHTTPURL(s.value); !ok || u.Fragment != "" {
			p.add("%s: %q is not an absolute http(s) URL without a fragment", s.flag, s.value)
		}
	}
	if l.TokenIn != "fragment" && l.TokenIn != "query" {
		p.add("--link-token-in: %q is not fragment or query", l.TokenIn)
	}
	for _, s := range []setting[time.Duration]{
		{"--confirm-ttl", l.ConfirmTTL}, {"--reset-ttl", l.ResetTTL}, {"--email-change-ttl", l.EmailChangeTTL},
	} {
		if s.value <= 0 {
			p.add("%s: must be positive", s.flag)
		}
	}
	return p
}

// production refuses plain-http link targets: the link carries a token worth an account.
func (l Links) production(mode Mode) []error {
	var p problems
	for _, s := range l.urls() {
		requireHTTPS(&p, mode, s)
	}
	return p
}
