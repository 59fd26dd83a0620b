package config

import (
	"strings"
	"testing"
	"time"
)

func TestMailDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	want := Mail{
		SMTPPort: 0, SMTPTLS: "starttls", SMTPTimeout: 15 * time.Second, AppName: "TokTok",
		MaxAttempts: 8, BaseBackoff: 30 * time.Second, MaxBackoff: time.Hour, PollInterval: 2 * time.Second,
		DevInbox: true,
	}
	if c.Mail != want {
		t.Errorf("mail %+v", c.Mail)
	}
	// Default mode logs its mails, so it needs no server.
	if c.Mail.UseSMTP(c.Mode) {
		t.Error("default mode sends over SMTP")
	}
}

func TestMailUseSMTP(t *testing.T) {
	for _, tc := range []struct {
		sender string
		mode   Mode
		want   bool
	}{
		{"", ModeDefault, false}, {"", ModeDevEmail, true}, {"", ModePreprod, true}, {"", ModeProduction, true},
		{"log", ModeProduction, false}, {"smtp", ModeDefault, true},
	} {
		if got := (Mail{Sender: tc.sender}).UseSMTP(tc.mode); got != tc.want {
			t.Errorf("sender %q in %s: UseSMTP = %v", tc.sender, tc.mode, got)
		}
	}
}

func TestMailDevEmailCatcher(t *testing.T) {
	c := mustLoad(t, []string{"--mode=dev_email"}, nil)
	if c.Mail.SMTPHost != "localhost" || c.Mail.SMTPPort != 1025 || c.Mail.SMTPTLS != "none" {
		t.Errorf("dev_email mail %+v, want the local catcher", c.Mail)
	}
	// A named server is kept as given.
	c = mustLoad(t, []string{"--mode=dev_email", "--smtp-host=mail.example.com"}, nil)
	if c.Mail.SMTPHost != "mail.example.com" || c.Mail.SMTPPort != 0 || c.Mail.SMTPTLS != "starttls" {
		t.Errorf("dev_email mail %+v (port 0: the TLS mode's)", c.Mail)
	}
	// The catcher's port and TLS mode are defaults: what was given stays.
	c = mustLoad(t, []string{"--mode=dev_email", "--smtp-port=2525"}, nil)
	if c.Mail.SMTPHost != "localhost" || c.Mail.SMTPPort != 2525 || c.Mail.SMTPTLS != "none" {
		t.Errorf("dev_email --smtp-port=2525: %s:%d %s", c.Mail.SMTPHost, c.Mail.SMTPPort, c.Mail.SMTPTLS)
	}
	c = mustLoad(t, []string{"--mode=dev_email"}, map[string]string{"TOKTOK_SMTP_TLS": "starttls"})
	if c.Mail.SMTPPort != 1025 || c.Mail.SMTPTLS != "starttls" {
		t.Errorf("dev_email TOKTOK_SMTP_TLS=starttls: port %d, %s", c.Mail.SMTPPort, c.Mail.SMTPTLS)
	}
	// Default mode has no catcher: it logs.
	if c := mustLoad(t, nil, nil); c.Mail.SMTPHost != "" {
		t.Errorf("default mode smtp host %q", c.Mail.SMTPHost)
	}
}

func TestLoadMail(t *testing.T) {
	c := mustLoad(t, []string{"--mail-sender=smtp", "--smtp-host=mail.example.com", "--smtp-port=465", "--smtp-tls=implicit"},
		map[string]string{"TOKTOK_SMTP_PASSWORD": "secret", "TOKTOK_MAIL_FROM": "TokTok <no-reply@example.com>", "TOKTOK_APP_NAME": "Acme"})
	if c.Mail.SMTPHost != "mail.example.com" || c.Mail.SMTPPort != 465 || c.Mail.SMTPTLS != "implicit" ||
		c.Mail.SMTPPassword != "secret" || c.Mail.From != "TokTok <no-reply@example.com>" || c.Mail.AppName != "Acme" {
		t.Errorf("mail %+v", c.Mail)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mail-sender=pigeon"}, `--mail-sender: "pigeon" is not log or smtp`},
		{[]string{"--smtp-tls=ssl"}, `--smtp-tls: "ssl" is not none, starttls or implicit`},
		{[]string{"--mail-sender=smtp"}, "--smtp-host: required to send mail over SMTP"},
		{[]string{"--mail-sender=smtp", "--smtp-host=h", "--smtp-port=70000"}, "--smtp-port: 70000 is not a TCP port"},
		{[]string{"--mail-sender=smtp", "--smtp-host=h", "--smtp-port=-1"}, "--smtp-port: -1 is not a TCP port"},
		{[]string{"--mail-sender=smtp", "--smtp-host=h", "--smtp-password=a", "--smtp-password-file=b"}, "--smtp-password and --smtp-password-file: set one"},
		{[]string{"--mail-from=not an address"}, "--mail-from"},
		{[]string{"--mail-max-attempts=0"}, "--mail-max-attempts"},
		{[]string{"--mail-backoff=0s"}, "--mail-backoff"},
		{[]string{"--mail-backoff=2h", "--mail-max-backoff=1h"}, "--mail-max-backoff"},
		{[]string{"--mail-poll-interval=0s"}, "--mail-poll-interval"},
	} {
		_, err := load(t, tc.args, nil)
		wantProblems(t, err, tc.want)
	}
	// A header injection through the sender is refused.
	c = Default()
	c.Mail.From = "a@example.com\r\nBcc: victim@example.com"
	if err := c.Validate(); err == nil {
		t.Error("a From with a line break was accepted")
	}
	// The SMTP settings are not checked while mails go to the log.
	mustLoad(t, []string{"--smtp-port=70000", "--smtp-password=a", "--smtp-password-file=b"}, nil)
}

func TestMailProduction(t *testing.T) {
	prod := func(extra ...string) []string {
		return append(append([]string{"--mode=production"}, prodArgs...), extra...)
	}
	_, err := load(t, prod("--mail-sender=log"), nil)
	wantProblems(t, err, "--mail-sender=log: refused in production mode")
	_, err = load(t, prod("--mail-from="), nil)
	wantProblems(t, err, "--mail-from: required in production mode")
	_, err = load(t, prod("--smtp-tls=none"), nil)
	wantProblems(t, err, "--smtp-tls=none: refused in production mode")
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "[::1]"} {
		mustLoad(t, prod("--smtp-tls=none", "--smtp-host="+host), nil)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "127.0.0.1": true, "127.1.2.3": true, "::1": true, "[::1]": true,
		"": false, "smtp.example.com": false, "10.0.0.1": false, "localhost.example.com": false,
	} {
		if got := isLoopbackHost(h); got != want {
			t.Errorf("isLoopbackHost(%q) = %v", h, got)
		}
	}
}

// TestMailDevInbox: the inbox is on by itself only in default mode with mails to the log,
// can be turned off there, and is refused wherever it would keep mails that go elsewhere.
func TestMailDevInbox(t *testing.T) {
	for _, tc := range []struct {
		args       []string
		on, remote bool
	}{
		{nil, true, false},
		{[]string{"--dev-inbox=no"}, false, false},
		{[]string{"--dev-inbox=yes", "--dev-inbox-remote=yes"}, true, true},
		{[]string{"--mail-sender=smtp", "--smtp-host=localhost"}, false, false},
		{[]string{"--mode=dev_email"}, false, false},
	} {
		c := mustLoad(t, tc.args, nil)
		if c.Mail.DevInbox != tc.on || c.Mail.DevInboxRemote != tc.remote {
			t.Errorf("%q: DevInbox %v, DevInboxRemote %v; want %v, %v", tc.args, c.Mail.DevInbox, c.Mail.DevInboxRemote, tc.on, tc.remote)
		}
	}
	if c := mustLoad(t, nil, map[string]string{"TOKTOK_DEV_INBOX": "no"}); c.Mail.DevInbox {
		t.Error("TOKTOK_DEV_INBOX=no: inbox on")
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dev-inbox=maybe"}, "--dev-inbox:"},
		{[]string{"--mode=dev_email", "--dev-inbox=yes"}, "--dev-inbox=yes: only in default mode"},
		{[]string{"--dev-inbox=yes", "--mail-sender=smtp", "--smtp-host=localhost"}, "--dev-inbox=yes: the inbox shows the mails of the log sender"},
	} {
		if _, err := load(t, tc.args, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
