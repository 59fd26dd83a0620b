package account

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/toktok/toktok/store"
)

// Rate is a limit of N events per Window; N = 0 disables it.
type Rate struct {
	N      int
	Window time.Duration
}

// Limits are the abuse limits of the security policy. The counters live in the store, so
// every instance shares them.
type Limits struct {
	LoginFailures    Rate          // per account (canonical email), then a cooldown
	LoginMaxCooldown time.Duration // cooldowns double after each lockout up to this
	IPLogin          Rate
	IPRegister       Rate
	IPAnonymousToken Rate
	IPForgotPassword Rate
	IPEmailLinks     Rate
	IPEmailChanges   Rate
	ResetMails       Rate // per account
	ConfirmResends   Rate // per account
	EmailChanges     Rate // per account: changeEmail mails an address the user chooses
}

func rateLimited(retry time.Duration) *Error {
	secs := int((retry + time.Second - 1) / time.Second)
	return &Error{Code: CodeRateLimited, Message: "too many attempts; retry later", RetryAfter: max(secs, 1)}
}

// limit counts one event under key and refuses it past r.
func (s *Service) limit(ctx context.Context, key string, r Rate) error {
	if r.N <= 0 {
		return nil
	}
	now := s.now()
	c, err := s.store.Hit(ctx, key, r.Window, now)
	if err != nil {
		return err
	}
	if c.Count > r.N {
		s.obs.RateLimited(limitName(key))
		return rateLimited(c.ResetAt.Sub(now))
	}
	return nil
}

// limitName is the name of the limit that key counts under, without the identity it
// counts (an address, an IP, a user id): "ip_login" for "ip:login:192.0.2.1",
// "loginfail" for "loginfail:a@example.com".
func limitName(key string) string {
	if rest, ok := strings.CutPrefix(key, "ip:"); ok {
		op, _, _ := strings.Cut(rest, ":")
		return "ip_" + op
	}
	name, _, _ := strings.Cut(key, ":")
	return name
}

// limitIP counts one event of op for the request's client IP. IPv6 clients are counted
// by their /64: one subscriber usually holds a whole /64, and counting single addresses
// would give each 2^64 buckets.
func (s *Service) limitIP(ctx context.Context, op string, r Rate) error {
	ip := ClientFrom(ctx).IP
	if ip == "" {
		return nil
	}
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		ip = netip.PrefixFrom(a, 64).Masked().String()
	}
	return s.limit(ctx, "ip:"+op+":"+ip, r)
}

func loginKey(email string) string   { return "loginfail:" + email }
func lockoutKey(email string) string { return "lockouts:" + email }

// loginAttempt reserves one password check for email before it runs, so concurrent guesses
// cannot all slip in ahead of the count: each attempt takes its own number, and those past
// the limit (or inside a cooldown) are refused without checking the password. The caller
// reports the outcome on the returned attempt: a success clears the count, the failure
// that reaches the limit starts a cooldown that doubles with each lockout of the last day,
// up to LoginMaxCooldown, and a check that never ran (shed while waiting for a hashing
// slot, a store error) gives the reservation back. The key is the canonical address
// whether or not an account has it, so the limiter tells nothing about which addresses
// exist.
func (s *Service) loginAttempt(ctx context.Context, email string) (*attempt, error) {
	r := s.limits.LoginFailures
	if r.N <= 0 {
		return &attempt{}, nil
	}
	now := s.now()
	c, err := s.store.Hit(ctx, loginKey(email), r.Window, now)
	if err != nil {
		return nil, err
	}
	if c.Count > r.N {
		// Refused, so no check: the count gives the place back, or attempts refused while
		// others wait for a hashing slot (and are then shed) would keep the account
		// locked for the window without a single wrong password. A cooldown's hold has
		// moved ResetAt, which makes this release a no-op.
		if err := s.store.ReleaseHit(ctx, loginKey(email), c); err != nil {
			s.log.WarnContext(ctx, "refused login attempt not released", "err", err)
		}
		s.obs.RateLimited(limitName(loginKey(email)))
		return nil, rateLimited(c.ResetAt.Sub(now))
	}
	return &attempt{s: s, ctx: ctx, email: email, c: c}, nil
}

// attempt is one reserved password check; exactly one of its methods reports how it went.
// The zero attempt (the limiter off) ignores the report.
type attempt struct {
	s     *Service
	ctx   context.Context //nolint:containedctx // lives for one call of the request
	email string
	c     store.Counter
}

// checked reports a password check that ran: ok clears the count, a failure may start a
// cooldown.
func (a *attempt) checked(ok bool) {
	switch {
	case a.s == nil:
	case ok:
		a.s.clearLoginLimits(a.ctx, a.email, false)
	case a.c.Count == a.s.limits.LoginFailures.N:
		a.s.startCooldown(context.WithoutCancel(a.ctx), a.email)
	}
}

// halfway reports a first factor that passed for a user who still owes a second one: the
// attempt stays counted until the second factor passes (which clears the count), so that
// signing in again with the password cannot reset the count of wrong codes. It never
// starts a cooldown itself: a right password locks nobody out; a wrong code that reaches
// the limit does.
func (a *attempt) halfway() {}

// notChecked gives the reservation back: no password was checked, so overload or an
// outage never locks anyone out without a single wrong password.
func (a *attempt) notChecked() {
	if a.s == nil {
		return
	}
	if err := a.s.store.ReleaseHit(context.WithoutCancel(a.ctx), loginKey(a.email), a.c); err != nil {
		a.s.log.WarnContext(a.ctx, "login attempt not released", "err", err)
	}
}

func (s *Service) startCooldown(ctx context.Context, email string) {
	r := s.limits.LoginFailures
	now := s.now()
	l, err := s.store.Hit(ctx, lockoutKey(email), 24*time.Hour, now)
	if err != nil {
		s.log.ErrorContext(ctx, "lockout not counted", "err", err)
		return
	}
	cooldown := r.Window
	for i := 1; i < l.Count && cooldown < s.limits.LoginMaxCooldown; i++ {
		cooldown *= 2
	}
	cooldown = min(cooldown, max(s.limits.LoginMaxCooldown, r.Window))
	if err := s.store.HoldCounter(ctx, loginKey(email), now.Add(cooldown)); err != nil {
		s.log.ErrorContext(ctx, "cooldown not recorded", "err", err)
		return
	}
	s.audit(ctx, "lockout", "failure", "", map[string]any{"cooldown_seconds": int(cooldown / time.Second), "lockouts": l.Count})
}

// clearLoginLimits ends a cooldown (after a successful login or a password reset).
func (s *Service) clearLoginLimits(ctx context.Context, email string, all bool) {
	if s.limits.LoginFailures.N <= 0 {
		return
	}
	if err := s.store.ResetCounter(ctx, loginKey(email)); err != nil {
		s.log.WarnContext(ctx, "login counter not reset", "err", err)
	}
	if all {
		if err := s.store.ResetCounter(ctx, lockoutKey(email)); err != nil {
			s.log.WarnContext(ctx, "lockout counter not reset", "err", err)
		}
	}
}
