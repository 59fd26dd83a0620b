package e2e

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
)

// The abuse limits over HTTP: races around the login limiter, its growing cooldown, per-IP
// keys for IPv6, shedding load when no hashing slot frees up in time; and two mail rules
// found in review (a password change ends a pending email change; outbox bodies are
// sealed at rest).

// TestLimitsConcurrentGuessesHitTheLimit sends many wrong passwords at once: each
// attempt reserves its place in the count before the password is checked, so no more than
// the limit are checked, and the right password is refused during the cooldown.
func TestLimitsConcurrentGuessesHitTheLimit(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) { c.Credentials.Encrypt, c.Account.AnonJWT = false, false })
	e.register("ann@example.com", strongPassword)
	const n = 20
	codes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Not loginReq: it fails with t.Fatal, which only the test's goroutine may call.
			r, err := e.tryLoginReq("ann@example.com", "wrong password number x")
			codes[i], errs[i] = r.Code(), err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	checked := 0
	for _, c := range codes {
		switch c {
		case "INVALID_CREDENTIALS":
			checked++
		case "RATE_LIMITED":
		default:
			t.Fatalf("unexpected code %q", c)
		}
	}
	if checked > e.cfg.Limits.LoginFailures.N {
		t.Fatalf("%d passwords checked concurrently, limit %d", checked, e.cfg.Limits.LoginFailures.N)
	}
	r := e.loginReq("ann@example.com", strongPassword)
	if e.wantCode(r, "RATE_LIMITED"); r.Errors[0].Extensions["retryAfter"] == nil {
		t.Fatalf("no retryAfter: %s", r.Raw)
	}
	// After the cooldown (15 min for a first lockout) the right password works again.
	e.clock.Advance(15*time.Minute + time.Second)
	e.login("ann@example.com", strongPassword)
}

// TestLimitsCooldownGrows checks the second lockout of a day lasts twice the first.
func TestLimitsCooldownGrows(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) { c.Credentials.Encrypt, c.Account.AnonJWT = false, false })
	e.register("ann@example.com", strongPassword)
	lock := func() {
		for range e.cfg.Limits.LoginFailures.N {
			e.wantCode(e.loginReq("ann@example.com", "wrong password number x"), "INVALID_CREDENTIALS")
		}
		e.wantCode(e.loginReq("ann@example.com", strongPassword), "RATE_LIMITED")
	}
	lock()
	e.clock.Advance(15*time.Minute + time.Second)
	lock()
	e.clock.Advance(15*time.Minute + time.Second)
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "RATE_LIMITED")
	e.clock.Advance(15 * time.Minute)
	e.login("ann@example.com", strongPassword)
}

// TestMailPasswordChangeVoidsEmailChange: whoever knew the old password may have
// asked to move the account to their address; changing or resetting the password ends
// that request.
func TestMailPasswordChangeVoidsEmailChange(t *testing.T) {
	for _, how := range []string{"change", "reset"} {
		t.Run(how, func(t *testing.T) {
			sink := startMailSink(t)
			e := newTestEnv(t, func(c *config.Config) { sink.Configure(c) })
			ann := e.register("ann@example.com", strongPassword)
			sink.NextTo("ann@example.com")
			e.mustData(mailChangeEmail(e, ann.AccessToken, "mallory@evil.example", strongPassword), nil)
			// The link to the new address and the notice to the old one, in either order.
			var link string
			for range 2 {
				if m := sink.Next(); m.To[0] == "mallory@evil.example" {
					link = m.Token()
				}
			}
			if link == "" {
				t.Fatal("no link mailed to the new address")
			}
			const newPassword = "another long passphrase 42"
			switch how {
			case "change":
				e.mustData(mailChangePassword(e, ann.AccessToken, strongPassword, newPassword), nil)
			case "reset":
				mailForgotOK(e, "ann@example.com")
				tok := sink.NextTo("ann@example.com").Token()
				e.mustData(e.gql("", `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`,
					map[string]any{"t": tok, "p": e.enc(newPassword)}), nil)
			}
			sink.NextTo("ann@example.com") // password changed notice
			e.wantCode(mailConfirm(e, link), "INVALID_TOKEN")
			u, err := e.app.Support().User(t.Context(), "ann@example.com")
			if err != nil || u.PendingEmail != nil {
				t.Fatalf("user %+v, %v: pending email not cleared", u, err)
			}
		})
	}
}

// TestLimitsIPv6Slash64 counts the addresses of one /64 as one client, and strips a
// port a proxy appended.
func TestLimitsIPv6Slash64(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) {
		c.Limits.IPAnonymousToken = config.Rate{N: 2, Window: time.Minute}
		c.HTTP.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	anon := func(xff string) string {
		return e.post("", "application/json", []byte(`{"query":"mutation { anonymousToken { token } }"}`),
			map[string]string{"X-Forwarded-For": xff}).Code()
	}
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if c := anon(ip); c != "" {
			t.Fatalf("%s: %s", ip, c)
		}
	}
	if c := anon("2001:db8:1:2::77"); c != "RATE_LIMITED" {
		t.Fatalf("a third address of the same /64 got %q, want RATE_LIMITED", c)
	}
	if c := anon("2001:db8:1:3::1"); c != "" {
		t.Fatalf("another /64 got %q", c)
	}
	// "ip:port" from a proxy is the ip, not a reason to fall back to the proxy's address.
	for range 2 {
		if c := anon("203.0.113.9:5555"); c != "" {
			t.Fatalf("ip:port: %s", c)
		}
	}
	if c := anon("203.0.113.9"); c != "RATE_LIMITED" {
		t.Fatalf("203.0.113.9 after two ip:port hits got %q, want RATE_LIMITED", c)
	}
}

// TestMailOutboxSealed: a queued mail's body, which carries a link token, is sealed
// at rest; the worker opens it to send.
func TestMailOutboxSealed(t *testing.T) {
	e := startEnvWith(t, testConfig(t), newTestClock(), app.Options{NoWorker: true})
	e.register("ann@example.com", strongPassword)
	mails, err := e.app.Support().ClaimMails(t.Context(), 10)
	if err != nil || len(mails) != 1 {
		t.Fatalf("queued mails: %d, %v", len(mails), err)
	}
	m := mails[0]
	if !strings.HasPrefix(m.Text, "sealed:v1:") || strings.Contains(m.Text, "token=") || strings.Contains(m.HTML, "token=") {
		t.Fatalf("the stored body is not sealed: %.120q", m.Text)
	}
	opened, err := e.app.Support().OpenMail(m)
	if err != nil || !strings.Contains(opened.Text, "#token=") {
		t.Fatalf("sealed body does not open to the link: %v", err)
	}
}

// TestLimitsHashWaitSheds: with one hashing slot and a 1 ms bound on waiting for it, a
// burst of logins gets UNAVAILABLE for what cannot be hashed in time (never INTERNAL, and
// the same for known and unknown addresses), and the service answers normally afterwards.
func TestLimitsHashWaitSheds(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) {
		c.Credentials.Encrypt, c.Account.AnonJWT = false, false
		c.Password = config.Default().Password // a hash takes tens of milliseconds
		c.Password.Concurrency, c.Password.Wait = 1, time.Millisecond
		c.Limits.LoginFailures = config.Rate{}
	})
	servedAlone(t, "register", func() string { return e.registerReq("ann@example.com", strongPassword, nil).Code() })
	const n = 12
	codes := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		email := "ann@example.com"
		if i%2 == 1 {
			email = "nobody@example.com"
		}
		wg.Go(func() {
			// Not loginReq: it fails with t.Fatal, which only the test's goroutine may call.
			r, err := e.tryLoginReq(email, "wrong password number x")
			codes[i], errs[i] = r.Code(), err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("login %d: %v", i, err)
		}
	}
	shed := 0
	for _, c := range codes {
		switch c {
		case "UNAVAILABLE":
			shed++
		case "INVALID_CREDENTIALS":
		default:
			t.Fatalf("unexpected code %q among %v", c, codes)
		}
	}
	if shed == 0 {
		t.Fatalf("no request was shed with one slot and a 1 ms bound: %v", codes)
	}
	servedAlone(t, "login after the burst", func() string { return e.loginReq("ann@example.com", strongPassword).Code() })
}

// servedAlone sends a request until it is not shed: alone, a request waits only for the
// hashes still running (the burst's last ones), so within a bounded number of tries it is
// served. Any code but UNAVAILABLE fails the test.
func servedAlone(t *testing.T, what string, send func() string) {
	t.Helper()
	for i := range 1000 {
		switch c := send(); c {
		case "":
			return
		case "UNAVAILABLE":
		default:
			t.Fatalf("%s, attempt %d: %s", what, i+1, c)
		}
	}
	t.Fatalf("%s: shed 1000 times in a row", what)
}
