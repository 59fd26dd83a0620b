package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/store"
)

// The outbox worker's and the SMTP sender's settings, shown through the app against a
// real SMTP server: retries and their delays, polling, the SMTP timeout and TLS mode,
// templates, the sender address and which sender is used.

// settingsTempFail is a relay's temporary refusal: the outbox retries it.
var settingsTempFail = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}

// TestSettingsMailRetries: a mail the relay keeps refusing is tried --mail-max-attempts
// times (7 here, 8 by default) and then kept as failed; each retry is due within
// --mail-backoff doubled per attempt and capped at --mail-max-backoff (1s and 2s here: the
// stored next attempt is at most that far after the failure, where the defaults, 30s and
// 1h, would almost surely put one further).
func TestSettingsMailRetries(t *testing.T) {
	cfg := settingsPlain(t)
	sink := settingsSink(t, &cfg, smtpsink.Options{})
	cfg.Mail.BaseBackoff, cfg.Mail.MaxBackoff, cfg.Mail.MaxAttempts = time.Second, 2*time.Second, 7
	sink.Refuse(settingsTempFail)
	e := settingsStart(t, cfg, newTestClock(), app.Options{})
	e.register("ann@example.com", strongPassword)
	for n := 1; n <= cfg.Mail.MaxAttempts; n++ {
		m := settingsOutbox(t, e, "ann@example.com", settingsAttempted(n), fmt.Sprintf("after attempt %d", n))
		if n == cfg.Mail.MaxAttempts {
			if m.State != store.MailFailed {
				t.Fatalf("after %d attempts the mail is %s, want failed", n, m.State)
			}
			break
		}
		bound := min(cfg.Mail.BaseBackoff<<(n-1), cfg.Mail.MaxBackoff)
		if gap := m.NextAttemptAt.Sub(e.clock.Now()); m.State != store.MailPending || gap < 0 || gap > bound {
			t.Fatalf("after attempt %d: %s, next attempt in %v, want pending within %v", n, m.State, gap, bound)
		}
		e.clock.Advance(bound)
	}
	if n := sink.Pending(); n != 0 {
		t.Errorf("the refusing relay recorded %d mails", n)
	}
}

// TestSettingsMailPollInterval: a retry waits for the worker's next poll. With
// --mail-poll-interval=1h a mail whose retry is due stays at one attempt, while the same
// mail on an app polling at the default interval (2s), started after it, has been retried.
func TestSettingsMailPollInterval(t *testing.T) {
	sink := smtpsink.New(t, smtpsink.Options{})
	sink.Refuse(settingsTempFail)
	clock := newTestClock()
	start := func(poll time.Duration) *testEnv {
		cfg := settingsPlain(t)
		settingsUseSink(&cfg, sink)
		cfg.Mail.PollInterval = poll
		cfg.Mail.BaseBackoff, cfg.Mail.MaxBackoff = time.Second, time.Second
		return settingsStart(t, cfg, clock, app.Options{})
	}
	// Each worker polls first when it starts, then after each round; a queued mail wakes it.
	hourly := start(time.Hour)
	hourly.register("ann@example.com", strongPassword)
	settingsOutbox(t, hourly, "ann@example.com", settingsAttempted(1), "attempted once")
	dflt := start(config.Default().Mail.PollInterval)
	dflt.register("bob@example.com", strongPassword)
	settingsOutbox(t, dflt, "bob@example.com", settingsAttempted(1), "attempted once")

	clock.Advance(time.Second) // both retries are due
	settingsOutbox(t, dflt, "bob@example.com", settingsAttempted(2), "retried at the next poll")
	if m := settingsOutbox(t, hourly, "ann@example.com", func(store.Mail) bool { return true }, ""); m.Attempts != 1 {
		t.Errorf("with --mail-poll-interval=1h the mail was tried %d times before the default poller's retry", m.Attempts)
	}
}

// TestSettingsSMTPTimeout: with --smtp-timeout=200ms, a relay that takes the message and
// never answers costs an attempt that ends, recorded with its error, while the relay still
// holds the message; the default (15s) would still be waiting.
func TestSettingsSMTPTimeout(t *testing.T) {
	cfg := settingsPlain(t)
	sink := settingsSink(t, &cfg, smtpsink.Options{})
	cfg.Mail.SMTPTimeout = 200 * time.Millisecond
	sink.Hold()
	e := settingsStart(t, cfg, newTestClock(), app.Options{})
	e.register("ann@example.com", strongPassword)
	sink.WaitHeld(t)
	m := settingsOutbox(t, e, "ann@example.com", settingsAttempted(1), "attempted")
	if m.State == store.MailSent || sink.Held() != 1 {
		t.Errorf("mail %s (%q); the relay holds %d DATA commands, want 1", m.State, m.LastError, sink.Held())
	}
}

// TestSettingsSMTPTLS: --smtp-tls decides how the app speaks to the relay: none delivers
// in plain text even where STARTTLS is offered; starttls and implicit refuse a relay
// without TLS, and try TLS where offered (and refuse this relay's self-signed
// certificate, as they would any certificate the system does not trust). A relay that
// fails TLS already stops a development start (settingsStartChecked).
func TestSettingsSMTPTLS(t *testing.T) {
	for _, tc := range []struct {
		name      string
		sink      smtpsink.TLSMode
		mode      string
		delivered bool
		errHas    string // in the recorded error when not delivered
	}{
		{"none to a plain relay", smtpsink.TLSNone, "none", true, ""},
		{"none to a STARTTLS relay", smtpsink.TLSStartTLS, "none", true, ""},
		{"starttls to a plain relay", smtpsink.TLSNone, "starttls", false, "STARTTLS"},
		{"starttls to a STARTTLS relay", smtpsink.TLSStartTLS, "starttls", false, "certificate"},
		{"implicit to a plain relay", smtpsink.TLSNone, "implicit", false, ""},
		{"implicit to a TLS relay", smtpsink.TLSImplicit, "implicit", false, "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{TLS: tc.sink})
			cfg.Mail.SMTPTLS = tc.mode
			checkErr := "" // the start-up check passes where the mail is delivered
			if !tc.delivered {
				checkErr = tc.errHas
				if checkErr == "" {
					checkErr = "tls: " // implicit TLS to a plain relay: the handshake fails
				}
			}
			e := settingsStartChecked(t, cfg, checkErr)
			e.register("ann@example.com", strongPassword)
			if tc.delivered {
				if m := sink.NextTo(t, "ann@example.com"); m.TLS {
					t.Errorf("--smtp-tls=none: the session was encrypted")
				}
				return
			}
			m := settingsOutbox(t, e, "ann@example.com", settingsAttempted(1), "attempted")
			if m.State == store.MailSent || !strings.Contains(m.LastError, tc.errHas) || sink.Pending() != 0 {
				t.Errorf("--smtp-tls=%s: mail %s, last error %q (want it to mention %q), %d received",
					tc.mode, m.State, m.LastError, tc.errHas, sink.Pending())
			}
		})
	}
}

// TestSettingsMailTemplatesDir: a file of --mail-templates-dir replaces the embedded
// template of the same name (here the English confirmation subject); the others stay.
func TestSettingsMailTemplatesDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "en"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "en", "confirm.subject.txt"), []byte("Welcome aboard {{.AppName}}, one click left\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dir, subject string
	}{
		{dir, "Welcome aboard TokTok, one click left"},
		{"", "Confirm your email address for TokTok"},
	} {
		cfg := settingsPlain(t)
		sink := settingsSink(t, &cfg, smtpsink.Options{})
		cfg.Mail.TemplatesDir = tc.dir
		e := settingsStart(t, cfg, newTestClock(), app.Options{})
		e.register("ann@example.com", strongPassword)
		if m := sink.NextTo(t, "ann@example.com"); m.Subject != tc.subject || !strings.Contains(m.Text, "Thank you for signing up to TokTok") {
			t.Errorf("--mail-templates-dir=%q: subject %q, want %q; text:\n%s", tc.dir, m.Subject, tc.subject, m.Text)
		}
	}
}

// TestSettingsMailFromAndSender: --mail-from is the sender of every mail (header and
// envelope; in development modes it defaults to the app name at no-reply@localhost), and
// --mail-sender chooses the relay or the log whatever the mode's default (log in default
// mode, SMTP in dev_email).
func TestSettingsMailFromAndSender(t *testing.T) {
	for _, tc := range []struct {
		name           string
		mode           config.Mode
		sender, from   string
		relay          bool
		envelope, head string // when relayed
	}{
		{"from", config.ModeDefault, "smtp", "Acme Accounts <accounts@acme.example>", true, "accounts@acme.example", "Acme Accounts"},
		{"no from", config.ModeDefault, "smtp", "", true, "no-reply@localhost", "TokTok"},
		{"log", config.ModeDefault, "log", "", false, "", ""},
		{"default in default mode", config.ModeDefault, "", "", false, "", ""},
		{"default in dev_email mode", config.ModeDevEmail, "", "", true, "no-reply@localhost", "TokTok"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{})
			cfg.Mode, cfg.Mail.Sender, cfg.Mail.From = tc.mode, tc.sender, tc.from
			var log settingsBuffer
			e := settingsStart(t, cfg, newTestClock(), app.Options{Log: app.NewLogger(config.Log{Level: "info", Format: "text"}, &log)})
			e.register("ann@example.com", strongPassword)
			if !tc.relay {
				settingsOutbox(t, e, "ann@example.com", func(m store.Mail) bool { return m.State == store.MailSent }, "sent")
				if sink.Pending() != 0 || !strings.Contains(log.String(), "mail (log sender, not delivered)") {
					t.Errorf("--mail-sender=%q in %s mode: %d mails relayed; log:\n%s", tc.sender, tc.mode, sink.Pending(), log.String())
				}
				return
			}
			m := sink.NextTo(t, "ann@example.com")
			if m.From != tc.envelope || !strings.Contains(m.Header.Get("From"), tc.head) || !strings.Contains(m.Header.Get("From"), tc.envelope) {
				t.Errorf("--mail-from=%q: envelope %q, From header %q", tc.from, m.From, m.Header.Get("From"))
			}
		})
	}
}
