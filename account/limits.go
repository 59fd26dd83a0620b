package account

import (
	"context"
	"time"
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
	ResetMails       Rate // per account
	ConfirmResends   Rate // per account
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
	c, err := s.Store.Hit(ctx, key, r.Window, now)
	if err != nil {
		return err
	}
	if c.Count > r.N {
		return rateLimited(c.ResetAt.Sub(now))
	}
	return nil
}

// limitIP counts one event of op for the request's client IP.
func (s *Service) limitIP(ctx context.Context, op string, r Rate) error {
	ip := ClientFrom(ctx).IP
	if ip == "" {
		return nil
	}
	return s.limit(ctx, "ip:"+op+":"+ip, r)
}

func loginKey(email string) string   { return "loginfail:" + email }
func lockoutKey(email string) string { return "lockouts:" + email }

// loginLocked refuses a password check for email during a cooldown. It is keyed by the
// canonical address whether or not an account has it, so the limiter tells nothing about
// which addresses exist.
func (s *Service) loginLocked(ctx context.Context, email string) error {
	r := s.limits.LoginFailures
	if r.N <= 0 {
		return nil
	}
	now := s.now()
	c, err := s.Store.PeekCounter(ctx, loginKey(email), now)
	if err != nil {
		return err
	}
	if c.Count >= r.N && c.ResetAt.After(now) {
		return rateLimited(c.ResetAt.Sub(now))
	}
	return nil
}

// loginFailed counts a failed password check; the failure that reaches the limit starts a
// cooldown that doubles with each lockout of the last day, up to LoginMaxCooldown.
func (s *Service) loginFailed(ctx context.Context, email string) {
	r := s.limits.LoginFailures
	if r.N <= 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	c, err := s.Store.Hit(ctx, loginKey(email), r.Window, now)
	if err != nil {
		s.Log.ErrorContext(ctx, "login failure not counted", "err", err)
		return
	}
	if c.Count != r.N {
		return
	}
	l, err := s.Store.Hit(ctx, lockoutKey(email), 24*time.Hour, now)
	if err != nil {
		s.Log.ErrorContext(ctx, "lockout not counted", "err", err)
		return
	}
	cooldown := r.Window
	for i := 1; i < l.Count && cooldown < s.limits.LoginMaxCooldown; i++ {
		cooldown *= 2
	}
	cooldown = min(cooldown, max(s.limits.LoginMaxCooldown, r.Window))
	if err := s.Store.HoldCounter(ctx, loginKey(email), now.Add(cooldown)); err != nil {
		s.Log.ErrorContext(ctx, "cooldown not recorded", "err", err)
		return
	}
	s.audit(ctx, "lockout", "failure", "", map[string]any{"cooldown_seconds": int(cooldown / time.Second), "lockouts": l.Count})
}

// clearLoginLimits ends a cooldown (after a successful login or a password reset).
func (s *Service) clearLoginLimits(ctx context.Context, email string, all bool) {
	if s.limits.LoginFailures.N <= 0 {
		return
	}
	if err := s.Store.ResetCounter(ctx, loginKey(email)); err != nil {
		s.Log.WarnContext(ctx, "login counter not reset", "err", err)
	}
	if all {
		if err := s.Store.ResetCounter(ctx, lockoutKey(email)); err != nil {
			s.Log.WarnContext(ctx, "lockout counter not reset", "err", err)
		}
	}
}
