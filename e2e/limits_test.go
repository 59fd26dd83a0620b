package main

import (
	"io"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
)

// Tests of the hardening found in review: races around the login limiter, links that
// outlive a password change, per-IP keys for IPv6, and settings production refuses.

// TestHardeningConcurrentGuessesHitTheLimit sends many wrong passwords at once: each
// attempt reserves its place in the count before the password is checked, so no more than
// the limit are checked, and the right password is refused during the cooldown.
func TestHardeningConcurrentGuessesHitTheLimit(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) { c.Credentials.Encrypt, c.Account.AnonJWT = false, false })
	e.register("ann@example.com", strongPassword)
	const n = 20
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { codes[i] = e.loginReq("ann@example.com", "wrong password number x").Code() })
	}
	wg.Wait()
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

// TestHardeningCooldownGrows checks the second lockout of a day lasts twice the first.
func TestHardeningCooldownGrows(t *testing.T) {
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

// TestHardeningPasswordChangeVoidsEmailChange: whoever knew the old password may have
// asked to move the account to their address; changing or resetting the password ends
// that request.
func TestHardeningPasswordChangeVoidsEmailChange(t *testing.T) {
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
			u, err := e.app.store.UserByEmail(t.Context(), "ann@example.com")
			if err != nil || u.PendingEmail != nil {
				t.Fatalf("user %+v, %v: pending email not cleared", u, err)
			}
		})
	}
}

// TestHardeningIPv6Slash64 counts the addresses of one /64 as one client, and strips a
// port a proxy appended.
func TestHardeningIPv6Slash64(t *testing.T) {
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

// TestHardeningProductionRefusesLeakySettings: production never logs mails, never sends
// them in clear to a remote relay, and serves links over https only.
func TestHardeningProductionRefusesLeakySettings(t *testing.T) {
	base := []string{
		"--mode=production", "--public-url=https://auth.example.com", "--jwt-key-file=/k/j", "--refresh-secret-file=/k/r",
		"--rsa-key-file=/k/rsa", "--allow-embedded-store=yes", "--smtp-host=smtp.example.com", "--mail-from=a@example.com",
	}
	for flag, want := range map[string]string{
		"--mail-sender=log":                    "--mail-sender=log",
		"--smtp-tls=none":                      "--smtp-tls=none",
		"--public-url=http://auth.example.com": "--public-url: must be https",
		"--reset-url=http://app.example.com/r": "--reset-url: must be https",
		"--argon2-memory=1024":                 "OWASP",
		"--trusted-proxies=0.0.0.0/0":          "--trusted-proxies",
	} {
		_, err := config.Load(append(append([]string{}, base...), flag), func(string) (string, bool) { return "", false }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want a problem naming %q", flag, err, want)
		}
	}
	if _, err := config.Load(append(append([]string{}, base...), "--smtp-tls=none", "--smtp-host=127.0.0.1"), func(string) (string, bool) { return "", false }, io.Discard); err != nil {
		t.Errorf("a loopback relay without TLS is refused: %v", err)
	}
}

// TestHardeningOutboxSealed: a queued mail's body, which carries a link token, is sealed
// at rest; the worker opens it to send.
func TestHardeningOutboxSealed(t *testing.T) {
	e := startEnvWith(t, testConfig(t), newTestClock(), appOptions{NoWorker: true})
	e.register("ann@example.com", strongPassword)
	now := e.clock.Now()
	mails, err := e.app.store.ClaimMails(t.Context(), "inspector", now, now.Add(time.Minute), 10)
	if err != nil || len(mails) != 1 {
		t.Fatalf("queued mails: %d, %v", len(mails), err)
	}
	m := mails[0]
	if !strings.HasPrefix(m.Text, "sealed:v1:") || strings.Contains(m.Text, "token=") || strings.Contains(m.HTML, "token=") {
		t.Fatalf("the stored body is not sealed: %.120q", m.Text)
	}
	opened, err := e.app.sealer.Open(m)
	if err != nil || !strings.Contains(opened.Text, "#token=") {
		t.Fatalf("sealed body does not open to the link: %v", err)
	}
}

// TestHardeningHashWaitSheds: with one hashing slot and a 1 ms bound on waiting for it, a
// burst of logins gets UNAVAILABLE for what cannot be hashed in time (never INTERNAL, and
// the same for known and unknown addresses), and the service answers normally afterwards.
func TestHardeningHashWaitSheds(t *testing.T) {
	e := newTestEnv(t, func(c *config.Config) {
		c.Credentials.Encrypt, c.Account.AnonJWT = false, false
		c.Password = config.Default().Password // a hash takes tens of milliseconds
		c.Password.Concurrency, c.Password.Wait = 1, time.Millisecond
		c.Limits.LoginFailures = config.Rate{}
	})
	e.cfg.Password.Wait = time.Minute // the harness's own register below must not shed
	var reg sync.WaitGroup
	reg.Go(func() {
		for {
			if c := e.registerReq("ann@example.com", strongPassword, nil).Code(); c != "UNAVAILABLE" {
				if c != "" {
					t.Errorf("register: %s", c)
				}
				return
			}
		}
	})
	reg.Wait()
	const n = 12
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		email := "ann@example.com"
		if i%2 == 1 {
			email = "nobody@example.com"
		}
		wg.Go(func() { codes[i] = e.loginReq(email, "wrong password number x").Code() })
	}
	wg.Wait()
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
	// Alone, a request is served.
	for {
		if c := e.loginReq("ann@example.com", strongPassword).Code(); c != "UNAVAILABLE" {
			if c != "" {
				t.Fatalf("login after the burst: %s", c)
			}
			break
		}
	}
}
