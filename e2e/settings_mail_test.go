package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/internal/testkit/smtpsink"
	"github.com/toktok/toktok/store"
)

// The settings of mails and links: SMTP authentication as the app wires it, where links
// carry their token, the email-change link's lifetime, and the app name.

// settingsSink starts an SMTP sink with opts and points cfg's mail at it: SMTP without
// TLS on loopback, a worker polling every 20ms, and a sender that does not name the app.
func settingsSink(t *testing.T, cfg *config.Config, opts smtpsink.Options) *smtpsink.Sink {
	t.Helper()
	sink := smtpsink.New(t, opts)
	settingsUseSink(cfg, sink)
	return sink
}

// settingsUseSink points cfg's mail at sink as settingsSink does.
func settingsUseSink(cfg *config.Config, sink *smtpsink.Sink) {
	cfg.Mail.Sender = "smtp"
	cfg.Mail.SMTPHost, cfg.Mail.SMTPPort, cfg.Mail.SMTPTLS = sink.Host(), sink.Port(), "none"
	cfg.Mail.From = "Accounts <no-reply@example.com>"
	cfg.Mail.PollInterval, cfg.Mail.SMTPTimeout = 20*time.Millisecond, 5*time.Second
}

// settingsOutbox returns the one outbox mail to addr once cond holds for it.
func settingsOutbox(t *testing.T, e *testEnv, addr string, cond func(store.Mail) bool, what string) store.Mail {
	t.Helper()
	var mails []store.Mail
	settingsUntil(t, func() bool {
		var err error
		if mails, err = e.app.Support().OutboxTo(t.Context(), addr); err != nil {
			t.Fatal(err)
		}
		return len(mails) == 1 && cond(mails[0])
	}, func() string { return fmt.Sprintf("outbox mails to %s: %+v, want one %s", addr, mails, what) })
	return mails[0]
}

// settingsAttempted says a mail's attempt number n has ended and been recorded.
func settingsAttempted(n int) func(store.Mail) bool {
	return func(m store.Mail) bool { return m.Attempts == n && m.LeaseOwner == "" && m.LastError != "" }
}

// settingsMails takes the next n mails from sink, by recipient (each mail has one).
func settingsMails(t *testing.T, sink *smtpsink.Sink, n int) map[string]smtpsink.Message {
	t.Helper()
	got := map[string]smtpsink.Message{}
	for range n {
		m := sink.Next(t)
		if len(m.To) != 1 {
			t.Fatalf("mail %q to %q", m.Subject, m.To)
		}
		got[m.To[0]] = m
	}
	return got
}

// settingsConfirm sends confirmEmail with tok.
func settingsConfirm(e *testEnv, tok string) gqlResponse {
	e.t.Helper()
	return e.gql("", `mutation($t: String!) { confirmEmail(token: $t) { email emailConfirmed } }`, map[string]any{"t": tok})
}

// settingsStartChecked starts cfg as settingsStart does when its relay passes the
// start-up check (app/mailcheck.go: connect, TLS, AUTH, QUIT). When it does not (checkErr
// is then in the error), it checks that the start in cfg's development mode stops, saying
// so, then starts cfg in preprod mode, where the check is only logged and the outbox meets
// the refusal at each send, which the caller goes on to check. cfg is validated in its own
// mode: what else preprod requires (key files, HTTPS) is not what these tests are about.
func settingsStartChecked(t *testing.T, cfg config.Config, checkErr string) *testEnv {
	t.Helper()
	if checkErr == "" {
		return settingsStart(t, cfg, newTestClock(), app.Options{})
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	a, err := app.New(t.Context(), cfg, app.Options{Now: newTestClock().Now, Store: mongoStoreFor(t, cfg)})
	if err == nil {
		if cerr := a.Close(); cerr != nil {
			t.Error(cerr)
		}
		t.Fatalf("the %s start went on with a relay that fails the start-up check", cfg.Mode)
	}
	if msg := err.Error(); !strings.Contains(msg, "answered, but the session failed") || !strings.Contains(msg, checkErr) {
		t.Errorf("the %s start's error does not say the relay refused the session (%q):\n%s", cfg.Mode, checkErr, msg)
	}
	cfg.Mode = config.ModePreprod
	e, _ := launch(t, cfg, newTestClock(), app.Options{}, nil)
	return e
}

// TestSettingsSMTPAuth: with --smtp-username and the right --smtp-password (or
// --smtp-password-file, its trailing newline ignored) the app's outbox authenticates to a
// relay that requires AUTH and the mail arrives, sent as that user; with a wrong password,
// or no username, the relay receives nothing and the outbox records the failed attempt. A
// refused AUTH already stops a development start (settingsStartChecked); without a
// username the start-up check, which sends no mail, has nothing to refuse.
func TestSettingsSMTPAuth(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	right, wrong := file("right", "relay pass phrase\n"), file("wrong", "not the pass phrase\n")
	for _, tc := range []struct {
		name, user, password, passwordFile string
		delivered                          bool
		checkErr                           string // the start-up check's refusal, "" when it passes
	}{
		{"password", "mailer", "relay pass phrase", "", true, ""},
		{"password file", "mailer", "", right, true, ""},
		{"wrong password", "mailer", "relay pass phrase!", "", false, "535"},
		{"wrong password file", "mailer", "", wrong, false, "535"},
		{"wrong user", "mailman", "relay pass phrase", "", false, "535"},
		{"no user", "", "", "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{Username: "mailer", Password: "relay pass phrase"})
			cfg.Mail.SMTPUsername, cfg.Mail.SMTPPassword, cfg.Mail.SMTPPasswordFile = tc.user, tc.password, tc.passwordFile
			e := settingsStartChecked(t, cfg, tc.checkErr)
			e.register("ann@example.com", strongPassword)
			if tc.delivered {
				if m := sink.NextTo(t, "ann@example.com"); m.User != "mailer" {
					t.Errorf("delivered as %q, want mailer", m.User)
				}
				return
			}
			if m := settingsOutbox(t, e, "ann@example.com", settingsAttempted(1), "attempted"); m.State == store.MailSent {
				t.Errorf("mail %s after a refused AUTH: attempts %d, last error %q", m.State, m.Attempts, m.LastError)
			}
			if n := sink.Pending(); n != 0 {
				t.Errorf("the relay received %d mails", n)
			}
		})
	}
}

// TestSettingsLinkTokenIn: --link-token-in=query mails links that carry the token in
// their query and no #token= (and the token confirms the address); the default puts it in
// the fragment and not in the query.
func TestSettingsLinkTokenIn(t *testing.T) {
	for _, in := range []string{"query", "fragment"} {
		t.Run(in, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{})
			cfg.Links.TokenIn = in
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			e.register("ann@example.com", strongPassword)
			m := sink.NextTo(t, "ann@example.com")
			u, err := url.Parse(m.Link())
			if err != nil || u.Path != "/confirm-email" {
				t.Fatalf("link %q: %v", m.Link(), err)
			}
			inQuery, inFragment := u.Query().Get("token") != "", strings.HasPrefix(u.Fragment, "token=")
			if inQuery != (in == "query") || inFragment != (in == "fragment") ||
				strings.Contains(m.HTML, "#token=") != (in == "fragment") {
				t.Errorf("--link-token-in=%s: link %s (token in query %v, in fragment %v)\n%s", in, u, inQuery, inFragment, m.HTML)
			}
			var resp struct{ ConfirmEmail struct{ EmailConfirmed bool } }
			e.mustData(settingsConfirm(e, m.Token()), &resp)
			if !resp.ConfirmEmail.EmailConfirmed {
				t.Errorf("confirmEmail with the mailed token: %+v", resp)
			}
		})
	}
}

// TestSettingsEmailChangeTTL: with --email-change-ttl=2h the link mailed to the new
// address confirms it a minute before the two hours are up and answers INVALID_TOKEN a
// minute after (the default, a day, would still accept it).
func TestSettingsEmailChangeTTL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		advance time.Duration
		ok      bool
	}{
		{"before", 2*time.Hour - time.Minute, true},
		{"after", 2*time.Hour + time.Minute, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{})
			cfg.Links.EmailChangeTTL = 2 * time.Hour
			e := settingsStart(t, cfg, newTestClock(), app.Options{})
			ann := e.register("ann@example.com", strongPassword)
			sink.NextTo(t, "ann@example.com") // the signup confirmation
			var changed struct{ ChangeEmail bool }
			e.mustData(e.gql(ann.AccessToken, `mutation($e: String!, $c: String!) { changeEmail(newEmail: $e, currentPassword: $c) }`,
				map[string]any{"e": "ann.new@example.com", "c": strongPassword}), &changed)
			link := settingsMails(t, sink, 2)["ann.new@example.com"].Token() // and the notice to the old address
			if !changed.ChangeEmail || link == "" {
				t.Fatalf("changeEmail = %v, link token %q", changed.ChangeEmail, link)
			}
			e.clock.Advance(tc.advance)
			r := settingsConfirm(e, link)
			if !tc.ok {
				e.wantCode(r, "INVALID_TOKEN")
				return
			}
			var resp struct{ ConfirmEmail struct{ Email string } }
			e.mustData(r, &resp)
			if resp.ConfirmEmail.Email != "ann.new@example.com" {
				t.Errorf("after confirming: %+v", resp)
			}
		})
	}
}

// settingsPage fetches a hosted page.
func settingsPage(t *testing.T, e *testEnv, path string) string {
	t.Helper()
	resp, err := e.srv.Client().Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: HTTP %d, %v", path, resp.StatusCode, err)
	}
	return string(b)
}

// TestSettingsAppName: --app-name names the service in mails and hosted pages, and is the
// service name the password policy refuses (case-insensitively), in place of TokTok: with
// Acme, a password containing "acme" is refused with the reason contains_service_name and
// one containing "toktok" is accepted; the default refuses "toktok" and accepts "acme".
func TestSettingsAppName(t *testing.T) {
	for _, tc := range []struct{ name, other string }{
		{"Acme", "TokTok"},
		{config.Default().Mail.AppName, "Acme"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := settingsPlain(t)
			sink := settingsSink(t, &cfg, smtpsink.Options{})
			cfg.Mail.AppName = tc.name
			e := settingsStart(t, cfg, newTestClock(), app.Options{})

			r := e.registerReq("ann@example.com", "rocket skates by "+strings.ToUpper(tc.name), nil)
			ge := e.wantCode(r, "BAD_USER_INPUT")
			if reasons, _ := ge.Extensions["reasons"].([]any); ge.Extensions["field"] != "password" ||
				!slices.Equal(reasons, []any{"contains_service_name"}) {
				t.Errorf("a password with %q: %s", tc.name, r.Raw)
			}
			e.register("ann@example.com", "rocket skates by "+strings.ToLower(tc.other))

			m := sink.NextTo(t, "ann@example.com")
			for what, s := range map[string]string{"subject": m.Subject, "text": m.Text, "html": m.HTML} {
				if !strings.Contains(s, tc.name) || strings.Contains(s, tc.other) {
					t.Errorf("mail %s does not name %s alone:\n%s", what, tc.name, s)
				}
			}
			for _, path := range []string{"/confirm-email", "/reset-password"} {
				if page := settingsPage(t, e, path); !strings.Contains(page, tc.name) || strings.Contains(page, tc.other) {
					t.Errorf("%s does not name %s alone:\n%s", path, tc.name, page)
				}
			}
		})
	}
}
