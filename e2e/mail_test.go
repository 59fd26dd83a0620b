package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/store"
)

// End-to-end tests of the mail-driven flows (issue: confirmation, forgotten password,
// reset, password and email change, durable outbox): every request goes over HTTP to the
// real handler and SQLite store, and every mail is read from a real SMTP server on
// loopback (mailSink), as a user would read it from a mailbox.

// mailPublicURL is the configured public URL of the tests that check links.
const mailPublicURL = "https://auth.example.test"

// mailNewPassword is a second password the default policy accepts.
const mailNewPassword = "purple elephant rides bicycles"

// ---------------------------------------------------------------------------------------
// Environment: a server like startEnv's, with a logger that records what it logs (the
// outbox tests read mail ids and worker outcomes from it) and the option of no worker.

// mailLogRecord is one log record, its attributes flattened to strings.
type mailLogRecord struct {
	Msg   string
	Attrs map[string]string
}

// mailLogBook keeps every record an app logged.
type mailLogBook struct {
	t      testing.TB
	mu     sync.Mutex
	recs   []mailLogRecord
	notify chan struct{}
}

func newMailLogBook(t testing.TB) *mailLogBook {
	return &mailLogBook{t: t, notify: make(chan struct{}, 1)}
}

// mailLogHandler is a slog.Handler writing to a mailLogBook.
type mailLogHandler struct {
	book  *mailLogBook
	attrs []slog.Attr
}

func (h mailLogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h mailLogHandler) Handle(_ context.Context, r slog.Record) error {
	rec := mailLogRecord{Msg: r.Message, Attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.Attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.book.mu.Lock()
	h.book.recs = append(h.book.recs, rec)
	h.book.mu.Unlock()
	select {
	case h.book.notify <- struct{}{}:
	default:
	}
	return nil
}

func (h mailLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return mailLogHandler{book: h.book, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h mailLogHandler) WithGroup(string) slog.Handler { return h }

// find returns the first record matching msg and every attr of want.
func (b *mailLogBook) find(msg string, want map[string]string) (mailLogRecord, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
next:
	for _, r := range b.recs {
		if r.Msg != msg {
			continue
		}
		for k, v := range want {
			if r.Attrs[k] != v {
				continue next
			}
		}
		return r, true
	}
	return mailLogRecord{}, false
}

// wait waits (10 s at most) for a record matching msg and want.
func (b *mailLogBook) wait(msg string, want map[string]string) mailLogRecord {
	b.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if r, ok := b.find(msg, want); ok {
			return r
		}
		select {
		case <-b.notify:
		case <-deadline.C:
			b.t.Fatalf("no log record %q %v within 10 s", msg, want)
			return mailLogRecord{}
		}
	}
}

// mailStartEnv starts an app on cfg and clock, with or without its outbox worker, behind a
// test HTTP server. The returned stop closes both (early, for restart tests); it is also
// registered as a cleanup and runs once.
func mailStartEnv(t *testing.T, cfg config.Config, clock *testClock, noWorker bool) (*testEnv, *mailLogBook, func()) {
	t.Helper()
	book := newMailLogBook(t)
	e, stop := launch(t, cfg, clock, app.Options{NoWorker: noWorker}, mailLogHandler{book: book})
	return e, book, stop
}

// mailConfig is testConfig pointed at sink, then edited.
func mailConfig(t *testing.T, sink *mailSink, edit func(*config.Config)) config.Config {
	t.Helper()
	cfg := testConfig(t)
	sink.Configure(&cfg)
	if edit != nil {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// mailEnv is newTestEnv pointed at sink.
func mailEnv(t *testing.T, sink *mailSink, edit func(*config.Config)) *testEnv {
	t.Helper()
	return newTestEnv(t, func(c *config.Config) {
		sink.Configure(c)
		if edit != nil {
			edit(c)
		}
	})
}

// ---------------------------------------------------------------------------------------
// Mails.

// mailNext waits for the next mail, checks it is to `to` and well formed, and returns it.
func mailNext(t *testing.T, sink *mailSink, to string) sinkMail {
	t.Helper()
	m := sink.NextTo(to)
	mailCheckWellFormed(t, m, to)
	return m
}

// mailCollect waits for n mails in any order (the worker sends a batch in parallel) and
// returns them by recipient, failing on a recipient seen twice.
func mailCollect(t *testing.T, sink *mailSink, n int) map[string]sinkMail {
	t.Helper()
	got := map[string]sinkMail{}
	for range n {
		m := sink.Next()
		if len(m.To) != 1 {
			t.Fatalf("mail to %v, want one recipient", m.To)
		}
		if _, dup := got[m.To[0]]; dup {
			t.Fatalf("two mails to %s (subject %q)", m.To[0], m.Subject)
		}
		mailCheckWellFormed(t, m, m.To[0])
		got[m.To[0]] = m
	}
	return got
}

// mailCheckWellFormed checks what every mail must be: exactly one From, To, Subject,
// Date and Message-ID header, no Cc/Bcc, the To header naming the envelope recipient, and
// a subject, a text part and an HTML part.
func mailCheckWellFormed(t *testing.T, m sinkMail, to string) {
	t.Helper()
	head := m.Raw
	if i := bytes.Index(head, []byte("\r\n\r\n")); i >= 0 {
		head = head[:i]
	} else if i := bytes.Index(head, []byte("\n\n")); i >= 0 {
		head = head[:i]
	}
	count := map[string]int{}
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue // a folded continuation
		}
		name, _, ok := strings.Cut(line, ":")
		if ok {
			count[strings.ToLower(strings.TrimSpace(name))]++
		}
	}
	for _, h := range []string{"from", "to", "subject", "date", "message-id"} {
		if count[h] != 1 {
			t.Errorf("mail to %s has %d %q headers, want 1:\n%s", to, count[h], h, head)
		}
	}
	for _, h := range []string{"cc", "bcc"} {
		if count[h] != 0 {
			t.Errorf("mail to %s has a %q header:\n%s", to, h, head)
		}
	}
	if len(m.Header["Subject"]) != 1 || len(m.Header["To"]) != 1 {
		t.Errorf("mail to %s: parsed headers Subject %q To %q", to, m.Header["Subject"], m.Header["To"])
	}
	if addrs, err := m.Header.AddressList("To"); err != nil || len(addrs) != 1 || addrs[0].Address != to {
		t.Errorf("mail to %s: To header %q (%v)", to, m.Header.Get("To"), err)
	}
	if strings.TrimSpace(m.Subject) == "" || strings.TrimSpace(m.Text) == "" || strings.TrimSpace(m.HTML) == "" {
		t.Errorf("mail to %s lacks a part: subject %q, text %d bytes, HTML %d bytes", to, m.Subject, len(m.Text), len(m.HTML))
	}
}

// mailCheckLink checks the mail's link: base (scheme, host and path of want, and want's
// own query parameters), the token in the fragment (#token=) and never in the query, the
// same link in the HTML part. It returns the token.
func mailCheckLink(t *testing.T, m sinkMail, want string) string {
	t.Helper()
	link, tok := m.Link(), m.Token()
	if link == "" || tok == "" {
		t.Fatalf("mail %q has no link with a token:\n%s", m.Subject, m.Text)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("mail link %q: %v", link, err)
	}
	w, err := url.Parse(want)
	if err != nil {
		t.Fatalf("wanted link %q: %v", want, err)
	}
	if u.Scheme != w.Scheme || u.Host != w.Host || u.Path != w.Path {
		t.Errorf("mail %q links to %s, want %s", m.Subject, link, want)
	}
	for k, vs := range w.Query() {
		if u.Query().Get(k) != vs[0] {
			t.Errorf("mail link %s lost the query parameter %s=%s of %s", link, k, vs[0], want)
		}
	}
	if u.Fragment != "token="+tok {
		t.Errorf("mail link %s: fragment %q, want token=<token>", link, u.Fragment)
	}
	if u.Query().Has("token") {
		t.Errorf("mail link %s carries the token in its query", link)
	}
	if !strings.Contains(html.UnescapeString(m.HTML), link) {
		t.Errorf("the HTML part of %q lacks the link %s", m.Subject, link)
	}
	return tok
}

// mailCheckNoToken checks that a notice carries no link token.
func mailCheckNoToken(t *testing.T, m sinkMail) {
	t.Helper()
	if m.Token() != "" || strings.Contains(m.HTML, "token=") {
		t.Errorf("notice %q carries a link token:\n%s", m.Subject, m.Text)
	}
}

// ---------------------------------------------------------------------------------------
// Operations, sent as an SPA does (anonymous token where required, encrypted fields).

func mailForgot(e *testEnv, email string) gqlResponse {
	e.t.Helper()
	return e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc(email)})
}

// mailForgotOK sends forgotPassword and checks it answered true.
func mailForgotOK(e *testEnv, email string) gqlResponse {
	e.t.Helper()
	r := mailForgot(e, email)
	var resp struct{ ForgotPassword bool }
	e.mustData(r, &resp)
	if !resp.ForgotPassword {
		e.t.Fatalf("forgotPassword(%s) = false: %s", email, r.Raw)
	}
	return r
}

func mailConfirm(e *testEnv, tok string) gqlResponse {
	e.t.Helper()
	return mailConfirmAs(e, "", tok)
}

// mailConfirmAs posts confirmEmail with bearer's access token, as an SPA confirming in a
// signed-in tab does.
func mailConfirmAs(e *testEnv, bearer, tok string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($t: String!) { confirmEmail(token: $t) { id email emailConfirmed pendingEmail } }`, map[string]any{"t": tok})
}

// mailUser is the User fields these tests read.
type mailUser struct {
	ID             string
	Email          string
	EmailConfirmed bool
	PendingEmail   *string
	Lang           string
}

// mailConfirmOK confirms with tok and returns the user.
func mailConfirmOK(e *testEnv, tok string) mailUser {
	e.t.Helper()
	var resp struct{ ConfirmEmail mailUser }
	e.mustData(mailConfirm(e, tok), &resp)
	return resp.ConfirmEmail
}

func mailResend(e *testEnv, bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation { resendConfirmation }`, nil)
}

// mailResendOK resends and returns resendConfirmation's answer.
func mailResendOK(e *testEnv, bearer string) bool {
	e.t.Helper()
	var resp struct{ ResendConfirmation bool }
	e.mustData(mailResend(e, bearer), &resp)
	return resp.ResendConfirmation
}

// mailResetRaw sends resetPassword with newPassword as given (no encryption).
func mailResetRaw(e *testEnv, tok, newPassword string) gqlResponse {
	e.t.Helper()
	return e.gql("", `mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }`, map[string]any{"t": tok, "p": newPassword})
}

func mailReset(e *testEnv, tok, newPassword string) gqlResponse {
	e.t.Helper()
	return mailResetRaw(e, tok, e.enc(newPassword))
}

func mailResetOK(e *testEnv, tok, newPassword string) {
	e.t.Helper()
	var resp struct{ ResetPassword bool }
	e.mustData(mailReset(e, tok, newPassword), &resp)
	if !resp.ResetPassword {
		e.t.Fatal("resetPassword = false")
	}
}

// mailChangePasswordRaw sends changePassword with both fields as given.
func mailChangePasswordRaw(e *testEnv, bearer, current, newPassword string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) { `+payloadFields+` } }`,
		map[string]any{"c": current, "n": newPassword})
}

func mailChangePassword(e *testEnv, bearer, current, newPassword string) gqlResponse {
	e.t.Helper()
	return mailChangePasswordRaw(e, bearer, e.enc(current), e.enc(newPassword))
}

// mailChangeEmailRaw sends changeEmail with both fields as given.
func mailChangeEmailRaw(e *testEnv, bearer, newEmail, current string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($e: String!, $c: String!) { changeEmail(newEmail: $e, currentPassword: $c) }`,
		map[string]any{"e": newEmail, "c": current})
}

func mailChangeEmail(e *testEnv, bearer, newEmail, current string) gqlResponse {
	e.t.Helper()
	return mailChangeEmailRaw(e, bearer, e.enc(newEmail), e.enc(current))
}

func mailChangeEmailOK(e *testEnv, bearer, newEmail, current string) {
	e.t.Helper()
	var resp struct{ ChangeEmail bool }
	e.mustData(mailChangeEmail(e, bearer, newEmail, current), &resp)
	if !resp.ChangeEmail {
		e.t.Fatal("changeEmail = false")
	}
}

// mailMe returns me (failing on errors or null).
func mailMe(e *testEnv, bearer string) mailUser {
	e.t.Helper()
	var resp struct{ Me *mailUser }
	e.mustData(e.gql(bearer, `{ me { id email emailConfirmed pendingEmail lang } }`, nil), &resp)
	if resp.Me == nil {
		e.t.Fatal("me is null")
	}
	return *resp.Me
}

// mailSessions asks for mySessions, which needs a live session.
func mailSessions(e *testEnv, bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `{ mySessions { id current } }`, nil)
}

// mailWantLive checks that bearer's session is live.
func mailWantLive(e *testEnv, bearer string) {
	e.t.Helper()
	e.mustData(mailSessions(e, bearer), nil)
}

// mailWantInvalidToken checks r is INVALID_TOKEN and returns its message.
func mailWantInvalidToken(e *testEnv, r gqlResponse) string {
	e.t.Helper()
	return e.wantCode(r, "INVALID_TOKEN").Message
}

// mailWantField checks r is BAD_USER_INPUT on field.
func mailWantField(e *testEnv, r gqlResponse, field string) gqlError {
	e.t.Helper()
	ge := e.wantCode(r, "BAD_USER_INPUT")
	if ge.Extensions["field"] != field {
		e.t.Fatalf("BAD_USER_INPUT on field %v, want %s: %s", ge.Extensions["field"], field, r.Raw)
	}
	return ge
}

// mailRetryAfter checks r is RATE_LIMITED with a positive retryAfter and returns it.
func mailRetryAfter(e *testEnv, r gqlResponse) float64 {
	e.t.Helper()
	ge := e.wantCode(r, "RATE_LIMITED")
	ra, _ := ge.Extensions["retryAfter"].(float64)
	if ra <= 0 {
		e.t.Fatalf("RATE_LIMITED without a positive retryAfter: %s", r.Raw)
	}
	return ra
}

// mailMergeKeys returns the header names of a and b.
func mailMergeKeys(a, b http.Header) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}

// mailTamper changes the first character of a token.
func mailTamper(tok string) string {
	c := byte('A')
	if tok[0] == 'A' {
		c = 'B'
	}
	return string(c) + tok[1:]
}

// mailForgedHost sends body to /graphql with a forged Host and forwarding headers.
func mailForgedHost(e *testEnv, bearer, query string, vars map[string]any) gqlResponse {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), http.MethodPost, e.srv.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Host = "evil.example"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "http")
	req.Header.Set("Forwarded", "host=evil.example;proto=http")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.send(req)
}

// ---------------------------------------------------------------------------------------
// Confirmation.

// TestMailConfirmEmail: register mails a link that confirms once; used, expired,
// tampered and wrong-purpose tokens answer INVALID_TOKEN with one message; resending
// issues a new link that voids the older one, is limited to 3 an hour, and answers false
// once the address is confirmed.
func TestMailConfirmEmail(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)
	var messages []string

	ann := e.register("ann@example.com", strongPassword)
	t0 := mailCheckLink(t, mailNext(t, sink, "ann@example.com"), "http://localhost:4100/confirm-email")

	// resendConfirmation needs a signed-in user.
	e.wantCode(mailResend(e, ""), "UNAUTHENTICATED")
	e.wantCode(mailResend(e, e.anon()), "UNAUTHENTICATED")

	// Three resends an hour, each a new link voiding the previous one.
	prev := t0
	for i := 1; i <= 3; i++ {
		if !mailResendOK(e, ann.AccessToken) {
			t.Fatalf("resend %d answered false for an unconfirmed address", i)
		}
		tok := mailCheckLink(t, mailNext(t, sink, "ann@example.com"), "http://localhost:4100/confirm-email")
		if tok == prev {
			t.Fatalf("resend %d mailed the same token again", i)
		}
		messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, prev)))
		prev = tok
	}
	queued := e.outboxCount("ann@example.com")
	ra := mailRetryAfter(e, mailResend(e, ann.AccessToken))
	if ra > 3600 {
		t.Errorf("resend retryAfter = %v s, want at most an hour", ra)
	}
	e.wantOutboxCount("ann@example.com", queued) // the limited resend queued nothing

	// A tampered token, then the real one: once.
	messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, mailTamper(prev))))
	messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, prev+"x")))
	// Ann confirms in the tab she registered from: that session lives on.
	var confirmed struct{ ConfirmEmail mailUser }
	e.mustData(mailConfirmAs(e, ann.AccessToken, prev), &confirmed)
	if u := confirmed.ConfirmEmail; !u.EmailConfirmed || u.Email != "ann@example.com" || u.ID != ann.User.ID {
		t.Fatalf("confirmEmail = %+v", u)
	}
	if me := mailMe(e, ann.AccessToken); !me.EmailConfirmed {
		t.Fatalf("me after confirmation = %+v", me)
	}
	messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, prev)))
	// Confirmed: nothing to resend (even though the resend limit is reached).
	if mailResendOK(e, ann.AccessToken) {
		t.Fatal("resendConfirmation answered true for a confirmed address")
	}

	// Wrong purpose: a reset token does not confirm, a confirmation token does not reset,
	// and neither is spent by the wrong use.
	bob := e.register("bob@example.com", strongPassword)
	confirmBob := mailCheckLink(t, mailNext(t, sink, "bob@example.com"), "http://localhost:4100/confirm-email")
	mailForgotOK(e, "bob@example.com")
	resetBob := mailCheckLink(t, mailNext(t, sink, "bob@example.com"), "http://localhost:4100/reset-password")
	messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, resetBob)))
	messages = append(messages, mailWantInvalidToken(e, mailReset(e, confirmBob, mailNewPassword)))
	if u := mailConfirmOK(e, confirmBob); !u.EmailConfirmed {
		t.Fatalf("bob's confirmation after a wrong-purpose try = %+v", u)
	}
	// Confirmed through the hosted page (no token with it): the session opened at sign-up,
	// which nobody had tied to the mailbox, is over (account pre-hijacking).
	e.wantCode(mailSessions(e, bob.AccessToken), "UNAUTHENTICATED")
	e.wantCode(e.refreshReq(bob.RefreshToken), "INVALID_REFRESH_TOKEN")
	mailResetOK(e, resetBob, mailNewPassword)
	mailCheckNoToken(t, mailNext(t, sink, "bob@example.com")) // password changed

	// Expiry: a link is good for 24 hours (dave's, just before), not after (carol's).
	e.register("carol@example.com", strongPassword)
	confirmCarol := mailCheckLink(t, mailNext(t, sink, "carol@example.com"), "http://localhost:4100/confirm-email")
	e.register("dave@example.com", strongPassword)
	confirmDave := mailCheckLink(t, mailNext(t, sink, "dave@example.com"), "http://localhost:4100/confirm-email")
	e.clock.Advance(24*time.Hour - time.Minute)
	if u := mailConfirmOK(e, confirmDave); !u.EmailConfirmed {
		t.Fatalf("dave's confirmation a minute before expiry = %+v", u)
	}
	e.clock.Advance(2 * time.Minute)
	messages = append(messages, mailWantInvalidToken(e, mailConfirm(e, confirmCarol)))
	// A later resend (a new window) mails a link that works.
	carol := e.login("carol@example.com", strongPassword)
	if !mailResendOK(e, carol.AccessToken) {
		t.Fatal("resend for carol answered false")
	}
	if u := mailConfirmOK(e, mailCheckLink(t, mailNext(t, sink, "carol@example.com"), "http://localhost:4100/confirm-email")); !u.EmailConfirmed {
		t.Fatalf("carol's confirmation = %+v", u)
	}
	// Ann's resend limit has reset too, and her address is still confirmed: false.
	if mailResendOK(e, e.login("ann@example.com", strongPassword).AccessToken) {
		t.Fatal("resendConfirmation answered true for a confirmed address")
	}

	for _, m := range messages {
		if m != messages[0] {
			t.Errorf("INVALID_TOKEN messages differ: %q", messages)
			break
		}
	}
}

// ---------------------------------------------------------------------------------------
// Forgotten password.

// TestMailForgotPassword: always true, with the same response for unknown, unconfirmed
// and known addresses; mails only registered addresses, at most 3 an hour; needs the
// anonymous token; takes the address encrypted.
func TestMailForgotPassword(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) { c.HTTP.PublicURL = mailPublicURL })

	known := e.register("known@example.com", strongPassword)
	mailConfirmOK(e, mailNext(t, sink, "known@example.com").Token())
	e.register("unconfirmed@example.com", strongPassword)
	mailNext(t, sink, "unconfirmed@example.com")

	// The anonymous token is required (--anojwt=yes): none, or an access token, is refused.
	e.wantCode(e.gql("", `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc("known@example.com")}), "ANONYMOUS_TOKEN_REQUIRED")
	e.wantCode(e.gql(known.AccessToken, `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc("known@example.com")}), "ANONYMOUS_TOKEN_REQUIRED")

	// Enumeration: the three answers are identical.
	knownQueued, unconfirmedQueued := e.outboxCount("known@example.com"), e.outboxCount("unconfirmed@example.com")
	unknown := mailForgotOK(e, "nobody@example.com")
	kn := mailForgotOK(e, "known@example.com")
	unc := mailForgotOK(e, "unconfirmed@example.com")
	for name, r := range map[string]gqlResponse{"known": kn, "unconfirmed": unc} {
		if r.Status != unknown.Status || !bytes.Equal(r.Raw, unknown.Raw) {
			t.Errorf("forgotPassword for a %s address answered %d %s, for an unknown one %d %s", name, r.Status, r.Raw, unknown.Status, unknown.Raw)
		}
		for k := range mailMergeKeys(r.Header, unknown.Header) {
			// Date and the (random) request id differ between any two responses.
			if k != "Date" && k != "X-Request-Id" && strings.Join(r.Header[k], ",") != strings.Join(unknown.Header[k], ",") {
				t.Errorf("forgotPassword header %s for a %s address is %q, for an unknown one %q", k, name, r.Header[k], unknown.Header[k])
			}
		}
	}
	// A mail to each registered address (queued after the answer), none to the unknown.
	got := mailCollect(t, sink, 2)
	for _, to := range []string{"known@example.com", "unconfirmed@example.com"} {
		m, ok := got[to]
		if !ok {
			t.Fatalf("no reset mail to %s (got %v)", to, got)
		}
		mailCheckLink(t, m, mailPublicURL+"/reset-password")
	}
	e.wantOutboxCount("nobody@example.com", 0)
	e.wantOutboxCount("known@example.com", knownQueued+1)
	e.wantOutboxCount("unconfirmed@example.com", unconfirmedQueued+1)
	sink.wantNoMoreMail(e, "known@example.com", "unconfirmed@example.com")

	// --salt: a plain address is not an address; the answer is still true, and no mail.
	knownQueued = e.outboxCount("known@example.com")
	var plain struct{ ForgotPassword bool }
	e.mustData(e.gql(e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": "known@example.com"}), &plain)
	if !plain.ForgotPassword {
		t.Fatal("forgotPassword with a plain address under --salt answered false")
	}
	e.wantOutboxCount("known@example.com", knownQueued)

	// Three reset mails an hour per account: two more arrive, the fourth call answers
	// true and sends nothing.
	for range 2 {
		mailForgotOK(e, "known@example.com")
		mailNext(t, sink, "known@example.com")
	}
	knownQueued = e.outboxCount("known@example.com")
	fourth := mailForgotOK(e, "known@example.com")
	if !bytes.Equal(fourth.Raw, unknown.Raw) {
		t.Errorf("the 4th forgotPassword answered %s, want %s", fourth.Raw, unknown.Raw)
	}
	e.wantOutboxCount("known@example.com", knownQueued)
	evs, err := e.app.Support().Audit(t.Context(), known.User.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	limited := false
	for _, ev := range evs {
		if ev.Type == "password_reset_requested" && ev.Outcome == "failure" && strings.Contains(string(ev.Detail), "mail_limit") {
			limited = true
		}
	}
	if !limited {
		t.Error("no password_reset_requested failure for the mail limit in the audit log")
	}

	// An hour later the account may get a mail again, and its link works.
	e.clock.Advance(time.Hour + time.Minute)
	mailForgotOK(e, "known@example.com")
	tok := mailCheckLink(t, mailNext(t, sink, "known@example.com"), mailPublicURL+"/reset-password")
	mailResetOK(e, tok, mailNewPassword)
	mailNext(t, sink, "known@example.com") // password changed
	e.login("known@example.com", mailNewPassword)
}

// TestMailRateLimitsPerIP: forgotPassword and the email-link mutations are limited per
// client IP, with retryAfter, and work again after the window.
func TestMailRateLimitsPerIP(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) {
		c.Limits.IPForgotPassword = config.Rate{N: 2, Window: time.Hour}
		c.Limits.IPEmailLinks = config.Rate{N: 2, Window: time.Minute}
	})
	e.register("ann@example.com", strongPassword)
	confirm := mailNext(t, sink, "ann@example.com").Token()

	mailForgotOK(e, "nobody@example.com")
	mailForgotOK(e, "ann@example.com")
	mailNext(t, sink, "ann@example.com")
	queued := e.outboxCount("ann@example.com")
	ra := mailRetryAfter(e, mailForgot(e, "ann@example.com"))
	if ra > 3600 {
		t.Errorf("forgotPassword retryAfter = %v s, want at most the hour window", ra)
	}
	e.wantOutboxCount("ann@example.com", queued)
	e.clock.Advance(time.Hour + time.Second)
	mailForgotOK(e, "ann@example.com")
	mailNext(t, sink, "ann@example.com")

	// confirmEmail and resetPassword share the email-link limit.
	mailWantInvalidToken(e, mailConfirm(e, "not-a-token"))
	mailWantInvalidToken(e, mailReset(e, "not-a-token", mailNewPassword))
	if ra := mailRetryAfter(e, mailConfirm(e, confirm)); ra > 60 {
		t.Errorf("confirmEmail retryAfter = %v s, want at most the minute window", ra)
	}
	e.clock.Advance(time.Minute + time.Second)
	if u := mailConfirmOK(e, confirm); !u.EmailConfirmed {
		t.Fatalf("confirmEmail after the window = %+v", u)
	}
}

// ---------------------------------------------------------------------------------------
// Reset.

// TestMailResetPassword: a reset sets the password once, ends every session, clears the
// login cooldown, mails a notice; weak passwords are refused without spending the link;
// a newer link voids older ones; links expire after an hour; changePassword voids them.
func TestMailResetPassword(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) { c.HTTP.PublicURL = mailPublicURL })

	s1 := e.register("ann@example.com", strongPassword)
	mailNext(t, sink, "ann@example.com")
	s2 := e.login("ann@example.com", strongPassword)

	// Lock the account: five wrong passwords, then even the right one is refused.
	for i := range 5 {
		e.wantCode(e.loginReq("ann@example.com", fmt.Sprintf("wrong password number %d", i)), "INVALID_CREDENTIALS")
	}
	mailRetryAfter(e, e.loginReq("ann@example.com", strongPassword))

	// Two links: the newer voids the older.
	mailForgotOK(e, "ann@example.com")
	older := mailCheckLink(t, mailNext(t, sink, "ann@example.com"), mailPublicURL+"/reset-password")
	mailForgotOK(e, "ann@example.com")
	newer := mailCheckLink(t, mailNext(t, sink, "ann@example.com"), mailPublicURL+"/reset-password")
	mailWantInvalidToken(e, mailReset(e, older, mailNewPassword))

	// A weak password (reasons listed) and a plain one (--salt) are refused on
	// newPassword, and the link still works afterwards.
	weak := mailWantField(e, mailReset(e, newer, "password"), "newPassword")
	if rs, _ := weak.Extensions["reasons"].([]any); len(rs) == 0 {
		t.Errorf("weak password without reasons: %+v", weak)
	}
	mailWantField(e, mailResetRaw(e, newer, mailNewPassword), "newPassword")
	mailWantInvalidToken(e, mailReset(e, mailTamper(newer), mailNewPassword))

	mailResetOK(e, newer, mailNewPassword)
	notice := mailNext(t, sink, "ann@example.com")
	mailCheckNoToken(t, notice)
	if !strings.Contains(notice.Subject, "password was changed") {
		t.Errorf("notice subject %q", notice.Subject)
	}
	// Once.
	mailWantInvalidToken(e, mailReset(e, newer, "yet another fine passphrase"))

	// Every session ended: access tokens and refresh tokens.
	for _, s := range []authPayload{s1, s2} {
		e.wantCode(mailSessions(e, s.AccessToken), "UNAUTHENTICATED")
		e.wantCode(mailChangePassword(e, s.AccessToken, mailNewPassword, strongPassword), "UNAUTHENTICATED")
		e.wantCode(e.refreshReq(s.RefreshToken), "INVALID_REFRESH_TOKEN")
	}
	// The cooldown is cleared; the old password no longer logs in, the new one does.
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "INVALID_CREDENTIALS")
	s3 := e.login("ann@example.com", mailNewPassword)
	mailWantLive(e, s3.AccessToken)
	// The reset proved the address.
	if !s3.User.EmailConfirmed {
		t.Error("the address is not confirmed after a reset through a mailed link")
	}

	// changePassword voids outstanding reset links.
	mailForgotOK(e, "ann@example.com")
	outstanding := mailCheckLink(t, mailNext(t, sink, "ann@example.com"), mailPublicURL+"/reset-password")
	var cp struct{ ChangePassword authPayload }
	e.mustData(mailChangePassword(e, s3.AccessToken, mailNewPassword, strongPassword), &cp)
	mailNext(t, sink, "ann@example.com") // password changed
	mailWantInvalidToken(e, mailReset(e, outstanding, "yet another fine passphrase"))
	e.login("ann@example.com", strongPassword)

	// A link expires after an hour.
	e.register("bob@example.com", strongPassword)
	mailNext(t, sink, "bob@example.com")
	mailForgotOK(e, "bob@example.com")
	expiring := mailCheckLink(t, mailNext(t, sink, "bob@example.com"), mailPublicURL+"/reset-password")
	annQueued, bobQueued := e.outboxCount("ann@example.com"), e.outboxCount("bob@example.com")
	e.clock.Advance(time.Hour - time.Minute)
	// Still valid a minute before: the link is checked before the password (which is
	// refused, so the link is not spent).
	mailWantField(e, mailReset(e, expiring, "password"), "newPassword")
	e.clock.Advance(time.Minute + time.Second)
	mailWantInvalidToken(e, mailReset(e, expiring, mailNewPassword))
	e.login("bob@example.com", strongPassword)
	// The refused resets mailed no notice.
	e.wantOutboxCount("ann@example.com", annQueued)
	e.wantOutboxCount("bob@example.com", bobQueued)
	sink.wantNoMoreMail(e, "ann@example.com", "bob@example.com")
}

// ---------------------------------------------------------------------------------------
// Change password.

// TestMailChangePassword: a wrong current password is INVALID_CREDENTIALS and counts
// toward the login limiter; success ends every session, the caller's included (its access
// token is refused at once), returns the tokens of a new session and mails a notice; the
// fields are encrypted under --salt.
func TestMailChangePassword(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)

	a := e.register("ann@example.com", strongPassword)
	mailNext(t, sink, "ann@example.com")
	b := e.login("ann@example.com", strongPassword)
	queued := e.outboxCount("ann@example.com")

	e.wantCode(mailChangePassword(e, "", strongPassword, mailNewPassword), "UNAUTHENTICATED")
	e.wantCode(mailChangePassword(e, a.AccessToken, "not my password at all", mailNewPassword), "INVALID_CREDENTIALS")
	// --salt: a plain new value is refused on its field; an undecryptable current
	// password answers like a wrong one (the contract's rule for credentials).
	e.wantCode(mailChangePasswordRaw(e, a.AccessToken, strongPassword, e.enc(mailNewPassword)), "INVALID_CREDENTIALS")
	mailWantField(e, mailChangePasswordRaw(e, a.AccessToken, e.enc(strongPassword), mailNewPassword), "newPassword")
	weak := mailWantField(e, mailChangePassword(e, a.AccessToken, strongPassword, "ann@example.com!!"), "newPassword")
	if rs, _ := weak.Extensions["reasons"].([]any); len(rs) == 0 {
		t.Errorf("weak password without reasons: %+v", weak)
	}
	e.wantOutboxCount("ann@example.com", queued) // no notice for a refused change

	var resp struct{ ChangePassword authPayload }
	e.mustData(mailChangePassword(e, a.AccessToken, strongPassword, mailNewPassword), &resp)
	fresh := resp.ChangePassword
	if fresh.AccessToken == "" || fresh.RefreshToken == "" || fresh.AccessToken == a.AccessToken || fresh.User.ID != a.User.ID {
		t.Fatalf("changePassword payload = %+v", fresh)
	}
	notice := mailNext(t, sink, "ann@example.com")
	mailCheckNoToken(t, notice)
	if !strings.Contains(notice.Subject, "password was changed") {
		t.Errorf("notice subject %q", notice.Subject)
	}

	// The answer's session is the only one live; the fresh refresh token works. Both
	// older sessions are over, the caller's too: its access token, minted before the
	// change, is refused at once, not when it expires.
	mailWantLive(e, fresh.AccessToken)
	var sess struct{ MySessions []struct{ Current bool } }
	e.mustData(mailSessions(e, fresh.AccessToken), &sess)
	if len(sess.MySessions) != 1 || !sess.MySessions[0].Current {
		t.Errorf("sessions after changePassword = %+v, want only the new one", sess.MySessions)
	}
	e.refresh(fresh.RefreshToken)
	for _, old := range []authPayload{a, b} {
		e.wantCode(mailSessions(e, old.AccessToken), "UNAUTHENTICATED")
		e.wantCode(e.refreshReq(old.RefreshToken), "INVALID_REFRESH_TOKEN")
	}
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "INVALID_CREDENTIALS")
	e.login("ann@example.com", mailNewPassword)

	// Wrong current passwords count toward the login limiter: five, then RATE_LIMITED,
	// for changePassword and login alike, even with the right password.
	bob := e.register("bob@example.com", strongPassword)
	mailNext(t, sink, "bob@example.com")
	queued = e.outboxCount("bob@example.com")
	for i := range 5 {
		e.wantCode(mailChangePassword(e, bob.AccessToken, fmt.Sprintf("wrong password number %d", i), mailNewPassword), "INVALID_CREDENTIALS")
	}
	mailRetryAfter(e, mailChangePassword(e, bob.AccessToken, strongPassword, mailNewPassword))
	mailRetryAfter(e, e.loginReq("bob@example.com", strongPassword))
	e.wantOutboxCount("bob@example.com", queued)
	sink.wantNoMoreMail(e, "ann@example.com", "bob@example.com")
}

// ---------------------------------------------------------------------------------------
// Change email.

// TestMailChangeEmail: the address changes only when the link mailed to the new address
// is confirmed; meanwhile me shows the pending address; the old address gets a notice;
// taken addresses answer EMAIL_TAKEN at request and at confirmation.
func TestMailChangeEmail(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) {
		c.HTTP.PublicURL = mailPublicURL
		c.Limits.EmailChanges = config.Rate{} // Ann asks more than 3 times; the limit has tests of its own
	})

	ann := e.register("ann@example.com", strongPassword)
	mailNext(t, sink, "ann@example.com")
	e.register("bob@example.com", strongPassword)
	mailNext(t, sink, "bob@example.com")
	annQueued, bobQueued := e.outboxCount("ann@example.com"), e.outboxCount("bob@example.com")

	e.wantCode(mailChangeEmail(e, "", "ann.new@example.com", strongPassword), "UNAUTHENTICATED")
	e.wantCode(mailChangeEmail(e, ann.AccessToken, "bob@example.com", strongPassword), "EMAIL_TAKEN")
	e.wantCode(mailChangeEmail(e, ann.AccessToken, "ann.new@example.com", "not my password at all"), "INVALID_CREDENTIALS")
	// --salt: plain values are refused on their field.
	mailWantField(e, mailChangeEmailRaw(e, ann.AccessToken, "ann.new@example.com", e.enc(strongPassword)), "newEmail")
	e.wantCode(mailChangeEmailRaw(e, ann.AccessToken, e.enc("ann.new@example.com"), strongPassword), "INVALID_CREDENTIALS")
	// No header-bound line break.
	mailWantField(e, mailChangeEmail(e, ann.AccessToken, "ann.new@example.com\r\nBcc: evil@example.com", strongPassword), "newEmail")
	// The refused changes mailed nobody: not the account, not the address asked for, not
	// the account that owns it.
	e.wantOutboxCount("ann@example.com", annQueued)
	e.wantOutboxCount("ann.new@example.com", 0)
	e.wantOutboxCount("bob@example.com", bobQueued)
	e.wantOutboxCount("evil@example.com", 0)

	mailChangeEmailOK(e, ann.AccessToken, "Ann.New@Example.com", strongPassword)
	me := mailMe(e, ann.AccessToken)
	if me.Email != "ann@example.com" || me.PendingEmail == nil || *me.PendingEmail != "ann.new@example.com" {
		t.Fatalf("me while the change is pending = %+v", me)
	}
	got := mailCollect(t, sink, 2)
	link, notice := got["ann.new@example.com"], got["ann@example.com"]
	if link.Raw == nil || notice.Raw == nil {
		t.Fatalf("mails after changeEmail: %v", got)
	}
	tok := mailCheckLink(t, link, mailPublicURL+"/confirm-email")
	mailCheckNoToken(t, notice)
	// Not changed yet.
	e.login("ann@example.com", strongPassword)
	e.wantCode(e.loginReq("ann.new@example.com", strongPassword), "INVALID_CREDENTIALS")
	// Not a reset token.
	mailWantInvalidToken(e, mailReset(e, tok, mailNewPassword))

	u := mailConfirmOK(e, tok)
	if u.Email != "ann.new@example.com" || !u.EmailConfirmed || u.PendingEmail != nil {
		t.Fatalf("confirmEmail of the change = %+v", u)
	}
	me = mailMe(e, ann.AccessToken)
	if me.Email != "ann.new@example.com" || !me.EmailConfirmed || me.PendingEmail != nil {
		t.Fatalf("me after the change = %+v", me)
	}
	mailWantInvalidToken(e, mailConfirm(e, tok))
	e.wantCode(e.loginReq("ann@example.com", strongPassword), "INVALID_CREDENTIALS")
	e.login("ann.new@example.com", strongPassword)

	// Taken meanwhile: carol asks for dave@, someone registers dave@, carol confirms.
	carol := e.register("carol@example.com", strongPassword)
	mailNext(t, sink, "carol@example.com")
	mailChangeEmailOK(e, carol.AccessToken, "dave@example.com", strongPassword)
	got = mailCollect(t, sink, 2)
	carolTok := mailCheckLink(t, got["dave@example.com"], mailPublicURL+"/confirm-email")
	e.register("dave@example.com", strongPassword)
	mailNext(t, sink, "dave@example.com")
	carolQueued, daveQueued := e.outboxCount("carol@example.com"), e.outboxCount("dave@example.com")
	e.wantCode(mailConfirm(e, carolTok), "EMAIL_TAKEN")
	if me := mailMe(e, carol.AccessToken); me.Email != "carol@example.com" {
		t.Fatalf("carol after a refused change = %+v", me)
	}
	e.login("carol@example.com", strongPassword)
	e.wantOutboxCount("carol@example.com", carolQueued)
	e.wantOutboxCount("dave@example.com", daveQueued)
	sink.wantNoMoreMail(e, "ann@example.com", "ann.new@example.com", "bob@example.com", "carol@example.com", "dave@example.com")
}

// ---------------------------------------------------------------------------------------
// Templates, languages, escaping, links.

// mailAllKinds drives one user through the five kinds of mail and returns them by kind.
func mailAllKinds(t *testing.T, e *testEnv, sink *mailSink, email, lang, name string) map[string]sinkMail {
	t.Helper()
	out := map[string]sinkMail{}
	var reg struct{ Register authPayload }
	e.mustData(e.registerReq(email, strongPassword, map[string]any{"lang": lang, "name": name}), &reg)
	out["confirm"] = mailNext(t, sink, email)
	// Confirmed, the address may be greeted by the name its owner typed (an unproven one
	// never is: TestMailNoRequesterTextToUnprovenAddress).
	e.mustData(mailConfirm(e, out["confirm"].Token()), nil)
	mailForgotOK(e, email)
	out["reset"] = mailNext(t, sink, email)
	mailResetOK(e, out["reset"].Token(), mailNewPassword)
	out["password_changed"] = mailNext(t, sink, email)
	s := e.login(email, mailNewPassword)
	newEmail := "new." + email
	mailChangeEmailOK(e, s.AccessToken, newEmail, mailNewPassword)
	got := mailCollect(t, sink, 2)
	out["email_change"], out["email_change_notice"] = got[newEmail], got[email]
	if out["email_change"].Raw == nil || out["email_change_notice"].Raw == nil {
		t.Fatalf("email change mails: %v", got)
	}
	return out
}

// TestMailNoRequesterTextToUnprovenAddress: whoever registers someone else's address with
// a name of their making cannot have it mailed there: the confirmation, the reset link,
// the "password changed" notice and the email-change notice to an unconfirmed address
// greet nobody by name.
func TestMailNoRequesterTextToUnprovenAddress(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)
	const bait = "URGENT call +1 555 0100 now http://evil.example"
	var reg struct{ Register authPayload }
	e.mustData(e.registerReq("victim@example.com", strongPassword, map[string]any{"name": bait}), &reg)
	mails := []sinkMail{mailNext(t, sink, "victim@example.com")}
	mailForgotOK(e, "victim@example.com")
	mails = append(mails, mailNext(t, sink, "victim@example.com"))
	var resp struct{ ChangePassword authPayload }
	e.mustData(mailChangePassword(e, reg.Register.AccessToken, strongPassword, mailNewPassword), &resp)
	mails = append(mails, mailNext(t, sink, "victim@example.com"))
	mailChangeEmailOK(e, resp.ChangePassword.AccessToken, "elsewhere@example.com", mailNewPassword)
	mails = append(mails, mailCollect(t, sink, 2)["victim@example.com"])
	for _, m := range mails {
		if strings.Contains(m.Text, "URGENT") || strings.Contains(m.HTML, "URGENT") || strings.Contains(m.Text+m.HTML, "evil.example") {
			t.Errorf("mail %q to the unproven address carries the requester's text:\n%s", m.Subject, m.Text)
		}
	}
	// Names with invisible formatting characters are refused outright.
	mailWantField(e, e.registerReq("rlo@example.com", strongPassword, map[string]any{"name": "Ann\u202Egnp.exe"}), "name")
}

// TestMailTemplates: the five kinds arrive with subject, text and HTML parts, in French
// for "fr" and English for "de"; names are escaped in HTML; links point to the public URL.
func TestMailTemplates(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, func(c *config.Config) { c.HTTP.PublicURL = mailPublicURL })

	cases := []struct {
		lang, email, greeting string
		subjects              map[string]string
	}{
		{"fr", "anne@example.com", "Bonjour", map[string]string{
			"confirm": "Confirmez votre adresse", "reset": "Réinitialisez", "password_changed": "a été modifié",
			"email_change": "nouvelle adresse", "email_change_notice": "changement d'adresse",
		}},
		{"de", "anna@example.com", "Hello", map[string]string{
			"confirm": "Confirm your email address", "reset": "Reset your", "password_changed": "password was changed",
			"email_change": "Confirm your new email address", "email_change_notice": "Email change requested",
		}},
	}
	const name = "<b>Ann</b>"
	for _, c := range cases {
		mails := mailAllKinds(t, e, sink, c.email, c.lang, name)
		for kind, want := range c.subjects {
			m := mails[kind]
			if !strings.Contains(m.Subject, want) || !strings.Contains(m.Subject, "TokTok") {
				t.Errorf("%s %s subject %q, want it to contain %q and the app name", c.lang, kind, m.Subject, want)
			}
			if !strings.HasPrefix(strings.TrimSpace(m.Text), c.greeting) {
				t.Errorf("%s %s text starts %.40q, want %q", c.lang, kind, m.Text, c.greeting)
			}
			if strings.Contains(m.HTML, name) {
				t.Errorf("%s %s HTML does not escape the name:\n%s", c.lang, kind, m.HTML)
			}
			if kind == "confirm" || kind == "email_change" || kind == "reset" {
				// Mails to an address not yet proven, and the reset mail anyone can have
				// sent, carry nothing the requester typed.
				if strings.Contains(m.Text, name) || strings.Contains(m.HTML, "&lt;b&gt;Ann&lt;/b&gt;") {
					t.Errorf("%s %s carries the user's name", c.lang, kind)
				}
				continue
			}
			if !strings.Contains(m.HTML, "&lt;b&gt;Ann&lt;/b&gt;") {
				t.Errorf("%s %s HTML does not escape the name:\n%s", c.lang, kind, m.HTML)
			}
			if !strings.Contains(m.Text, name) {
				t.Errorf("%s %s text lacks the name as typed", c.lang, kind)
			}
		}
		mailCheckLink(t, mails["confirm"], mailPublicURL+"/confirm-email")
		mailCheckLink(t, mails["reset"], mailPublicURL+"/reset-password")
		mailCheckLink(t, mails["email_change"], mailPublicURL+"/confirm-email")
		mailCheckNoToken(t, mails["password_changed"])
		mailCheckNoToken(t, mails["email_change_notice"])
	}
}

// TestMailLinks: links follow the configured SPA routes, or the public URL (configured or
// derived from the listen address), and never the request's Host header.
func TestMailLinks(t *testing.T) {
	registerForged := func(e *testEnv, email string) {
		e.t.Helper()
		var resp struct{ Register authPayload }
		e.mustData(mailForgedHost(e, e.anon(), `mutation($input: RegisterInput!) { register(input: $input) { `+payloadFields+` } }`,
			map[string]any{"input": map[string]any{"email": e.enc(email), "password": e.enc(strongPassword)}}), &resp)
	}
	forgotForged := func(e *testEnv, email string) {
		e.t.Helper()
		e.mustData(mailForgedHost(e, e.anon(), `mutation($e: String!) { forgotPassword(email: $e) }`, map[string]any{"e": e.enc(email)}), nil)
	}
	noEvil := func(t *testing.T, m sinkMail) { // the subtest's t
		t.Helper()
		if strings.Contains(string(m.Raw), "evil") {
			t.Errorf("mail %q mentions the forged host:\n%s", m.Subject, m.Text)
		}
	}

	t.Run("spa", func(t *testing.T) {
		sink := startMailSink(t)
		const confirmURL, resetURL = "https://app.example.test/account/confirm", "https://app.example.test/account/reset?src=mail"
		e := mailEnv(t, sink, func(c *config.Config) {
			c.HTTP.PublicURL = mailPublicURL
			c.Links.ConfirmURL, c.Links.ResetURL = confirmURL, resetURL
		})
		registerForged(e, "ann@example.com")
		m := mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailConfirmOK(e, mailCheckLink(t, m, confirmURL))
		forgotForged(e, "ann@example.com")
		m = mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailResetOK(e, mailCheckLink(t, m, resetURL), mailNewPassword)
		mailNext(t, sink, "ann@example.com")
		s := e.login("ann@example.com", mailNewPassword)
		var resp struct{ ChangeEmail bool }
		e.mustData(mailForgedHost(e, s.AccessToken, `mutation($e: String!, $c: String!) { changeEmail(newEmail: $e, currentPassword: $c) }`,
			map[string]any{"e": e.enc("ann2@example.com"), "c": e.enc(mailNewPassword)}), &resp)
		got := mailCollect(t, sink, 2)
		noEvil(t, got["ann@example.com"])
		noEvil(t, got["ann2@example.com"])
		mailConfirmOK(e, mailCheckLink(t, got["ann2@example.com"], confirmURL))
	})

	t.Run("public-url", func(t *testing.T) {
		sink := startMailSink(t)
		e := mailEnv(t, sink, func(c *config.Config) { c.HTTP.PublicURL = mailPublicURL })
		registerForged(e, "ann@example.com")
		m := mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailCheckLink(t, m, mailPublicURL+"/confirm-email")
		forgotForged(e, "ann@example.com")
		m = mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailCheckLink(t, m, mailPublicURL+"/reset-password")
	})

	t.Run("listen-address", func(t *testing.T) {
		// No public URL: links use the configured listen address, not the Host header.
		sink := startMailSink(t)
		e := mailEnv(t, sink, func(c *config.Config) { c.HTTP.Host, c.HTTP.Port = "auth.internal.test", 8443 })
		registerForged(e, "ann@example.com")
		m := mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailCheckLink(t, m, "http://auth.internal.test:8443/confirm-email")
		forgotForged(e, "ann@example.com")
		m = mailNext(t, sink, "ann@example.com")
		noEvil(t, m)
		mailCheckLink(t, m, "http://auth.internal.test:8443/reset-password")
	})
}

// TestMailHeaderInjection: line breaks in any value bound for a mail cannot reach a
// header: registration refuses them, forgotPassword mails nothing, and received mails
// carry exactly one Subject and To.
func TestMailHeaderInjection(t *testing.T) {
	sink := startMailSink(t)
	e := mailEnv(t, sink, nil)
	const inj = "\r\nBcc: evil@example.com"
	for _, c := range []struct{ field, email string }{
		{"email", "ann@example.com" + inj},
		{"email", "ann@example.com\nSubject: hi"},
		{"email", "\"ann" + inj + "\"@example.com"},
		{"email", "ann@example.com\x00"},
	} {
		mailWantField(e, e.registerReq(c.email, strongPassword, nil), c.field)
	}
	for _, field := range []string{"name", "surname", "pseudo"} {
		for _, v := range []string{"Ann" + inj, "Ann\nSubject: hi", "Ann\rX", "Ann\u2028Bcc: evil@example.com"} {
			mailWantField(e, e.registerReq("ann@example.com", strongPassword, map[string]any{field: v}), field)
		}
	}
	mailWantField(e, e.registerReq("ann@example.com", strongPassword, map[string]any{"lang": "fr" + inj}), "lang")
	e.wantOutboxCount("ann@example.com", 0)
	e.wantOutboxCount("evil@example.com", 0)
	sink.wantNoMoreMail(e)

	// A benign registration: one Subject, one To, no Bcc (mailNext checks the raw mail).
	e.mustData(e.registerReq("ann@example.com", strongPassword, map[string]any{"name": "Ann: Subject Bcc", "surname": "O'Brien"}), nil)
	m := mailNext(t, sink, "ann@example.com")
	if strings.Contains(strings.ToLower(string(m.Raw)), "evil@") {
		t.Errorf("mail mentions the injected address:\n%s", m.Raw)
	}
	mailConfirmOK(e, m.Token())

	// forgotPassword with an injected address answers true and mails nobody.
	queued := e.outboxCount("ann@example.com")
	mailForgotOK(e, "ann@example.com"+inj)
	mailForgotOK(e, "ann@example.com\nBcc: evil@example.com")
	e.wantOutboxCount("ann@example.com", queued)
	e.wantOutboxCount("evil@example.com", 0)
	sink.wantNoMoreMail(e, "ann@example.com")
}

// ---------------------------------------------------------------------------------------
// Durable outbox.

// mailQueuedID returns the id of the mail of kind queued for userID, from the app's log.
func mailQueuedID(book *mailLogBook, userID, kind string) string {
	book.t.Helper()
	return book.wait("mail queued", map[string]string{"user": userID, "kind": kind}).Attrs["mail"]
}

// mailWaitFor waits (10 s at most) until the outbox mail id is what ok accepts, which
// what describes.
func mailWaitFor(t testing.TB, st app.Support, id, what string, ok func(store.Mail) bool) store.Mail {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		m, err := st.Mail(t.Context(), id)
		if err != nil {
			t.Fatalf("MailByID(%s): %v", id, err)
		}
		if ok(m) {
			return m
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("mail %s is %s after 10 s (attempts %d, lease %q, last error %q), want %s",
				id, m.State, m.Attempts, m.LeaseOwner, m.LastError, what)
			return m
		}
	}
}

// mailWaitState waits (10 s at most) until the outbox mail id is in state.
func mailWaitState(t *testing.T, st app.Support, id string, state store.MailState) store.Mail {
	t.Helper()
	return mailWaitFor(t, st, id, string(state), func(m store.Mail) bool { return m.State == state })
}

// mailWantWaiting checks that the outbox mail id waits for its next attempt: it is
// pending after the given number of failed attempts, no worker holds it, and it is not due
// at the clock's now, so no worker may send it before the clock moves; and the sink holds
// nothing. It waits (bounded) for the worker to record the failure, which it logs first.
func mailWantWaiting(e *testEnv, sink *mailSink, id string, attempts int) {
	e.t.Helper()
	t := e.t
	m := mailWaitFor(t, e.app.Support(), id, "a recorded retry", func(m store.Mail) bool {
		return m.State == store.MailPending && m.LeaseOwner == "" && m.Attempts >= attempts
	})
	if m.Attempts != attempts || !m.NextAttemptAt.After(e.clock.Now()) {
		t.Fatalf("mail %s: attempts %d, next attempt %v at %v; want %d attempts and not due",
			id, m.Attempts, m.NextAttemptAt, e.clock.Now(), attempts)
	}
	if n := sink.Pending(); n > 0 {
		t.Fatalf("the sink holds %d mails while the only one waits for its retry", n)
	}
}

// mailWantSentOnce checks that addr's only outbox mail was sent at the attempts-th attempt
// and that the sink holds nothing more (once nothing to addr is pending).
func mailWantSentOnce(e *testEnv, sink *mailSink, addr string, attempts int) {
	e.t.Helper()
	sink.wantNoMoreMail(e, addr)
	ms := e.outboxTo(addr)
	if len(ms) != 1 || ms[0].State != store.MailSent || ms[0].Attempts != attempts {
		var got []string
		for _, m := range ms {
			got = append(got, fmt.Sprintf("%s %s after %d attempts", m.Kind, m.State, m.Attempts))
		}
		e.t.Fatalf("outbox mails to %s: %q, want one sent after %d attempts", addr, got, attempts)
	}
}

// mailBackoff makes retries quick to reach with the test clock.
func mailBackoff(c *config.Config) {
	c.Mail.BaseBackoff, c.Mail.MaxBackoff = 10*time.Second, time.Minute
}

// TestMailOutboxSMTPDown: with the relay down, register succeeds; once it is back (and
// the retry is due) the mail arrives and its link works.
func TestMailOutboxSMTPDown(t *testing.T) {
	sink := startMailSink(t)
	cfg := mailConfig(t, sink, mailBackoff)
	e, book, _ := mailStartEnv(t, cfg, newTestClock(), false)

	sink.Stop()
	ann := e.register("ann@example.com", strongPassword)
	id := mailQueuedID(book, ann.User.ID, "confirm")
	book.wait("mail send failed, will retry", map[string]string{"mail_id": id})
	sink.Restart()
	mailWantWaiting(e, sink, id, 1) // not due yet
	e.clock.Advance(2 * time.Minute)
	m := mailNext(t, sink, "ann@example.com")
	mailConfirmOK(e, m.Token())
	sent := mailWaitState(t, e.app.Support(), id, store.MailSent)
	if sent.Attempts < 2 || sent.Text != "" || sent.HTML != "" {
		t.Errorf("sent mail: attempts %d, body kept %v", sent.Attempts, sent.Text != "" || sent.HTML != "")
	}
	mailWantSentOnce(e, sink, "ann@example.com", sent.Attempts)
}

// TestMailOutboxRestart: mails queued by an instance that stopped before sending them are
// sent by the next instance on the same data.
func TestMailOutboxRestart(t *testing.T) {
	t.Run("no-worker", func(t *testing.T) {
		sink := startMailSink(t)
		cfg := mailConfig(t, sink, mailBackoff)
		clock := newTestClock()
		first, _, stop := mailStartEnv(t, cfg, clock, true)
		first.register("ann@example.com", strongPassword)
		// Nobody sends: the mail waits in the outbox, never claimed.
		if ms := first.outboxTo("ann@example.com"); len(ms) != 1 || ms[0].State != store.MailPending || ms[0].Attempts != 0 || ms[0].LeaseOwner != "" {
			t.Fatalf("outbox mails to ann without a worker: %+v, want one pending, never claimed", ms)
		}
		if n := sink.Pending(); n > 0 {
			t.Fatalf("the sink holds %d mails, and no worker runs", n)
		}
		stop()

		second, _, _ := mailStartEnv(t, cfg, clock, false)
		m := mailNext(t, sink, "ann@example.com")
		if u := mailConfirmOK(second, m.Token()); !u.EmailConfirmed {
			t.Fatalf("confirm after restart = %+v", u)
		}
		mailWantSentOnce(second, sink, "ann@example.com", 1)
	})

	t.Run("smtp-down", func(t *testing.T) {
		sink := startMailSink(t)
		cfg := mailConfig(t, sink, mailBackoff)
		clock := newTestClock()
		first, book, stop := mailStartEnv(t, cfg, clock, false)
		sink.Stop()
		ann := first.register("ann@example.com", strongPassword)
		id := mailQueuedID(book, ann.User.ID, "confirm")
		book.wait("mail send failed, will retry", map[string]string{"mail_id": id})
		stop()

		sink.Restart()
		second, _, _ := mailStartEnv(t, cfg, clock, false)
		clock.Advance(2 * time.Minute)
		m := mailNext(t, sink, "ann@example.com")
		mailConfirmOK(second, m.Token())
		mailWantSentOnce(second, sink, "ann@example.com", 2)
	})
}

// TestMailOutboxTwoWorkers: two instances with workers on one store send each mail once.
func TestMailOutboxTwoWorkers(t *testing.T) {
	sink := startMailSink(t)
	cfg := mailConfig(t, sink, nil)
	clock := newTestClock()
	shared := sharedSQLite(t, cfg)
	envs := []*testEnv{
		startEnvWith(t, cfg, clock, app.Options{Store: shared()}),
		startEnvWith(t, cfg, clock, app.Options{Store: shared()}),
	}
	const n = 10
	want := map[string]bool{}
	for i := range n {
		email := fmt.Sprintf("user%d@example.com", i)
		want[email] = true
		envs[i%2].register(email, strongPassword)
	}
	got := mailCollect(t, sink, n) // fails on a duplicate
	for email := range want {
		if _, ok := got[email]; !ok {
			t.Errorf("no mail to %s", email)
		}
	}
	// Each mail was claimed once (a second claim would count a second attempt), and once
	// none is pending the sink holds no second copy.
	for email := range want {
		mailWantSentOnce(envs[0], sink, email, 1)
	}
}

// TestMailOutboxRelayRefuses: a 550 from the relay fails the mail for good (no retry);
// a 4xx is retried and then delivered.
func TestMailOutboxRelayRefuses(t *testing.T) {
	sink := startMailSink(t)
	cfg := mailConfig(t, sink, mailBackoff)
	e, book, _ := mailStartEnv(t, cfg, newTestClock(), false)

	sink.Refuse(&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"})
	ann := e.register("ann@example.com", strongPassword)
	id := mailQueuedID(book, ann.User.ID, "confirm")
	failed := mailWaitState(t, e.app.Support(), id, store.MailFailed)
	if failed.Attempts != 1 || !strings.Contains(failed.LastError, "550") || failed.Text != "" || failed.HTML != "" {
		t.Errorf("failed mail: attempts %d, last error %q, body kept %v", failed.Attempts, failed.LastError, failed.Text != "" || failed.HTML != "")
	}
	sink.Refuse(nil)
	e.clock.Advance(2 * time.Hour)
	// Failed is final: the mail is never claimed again, however late it gets.
	if m := mailWaitState(t, e.app.Support(), id, store.MailFailed); m.Attempts != 1 {
		t.Errorf("the failed mail has %d attempts after the clock moved, want 1", m.Attempts)
	}
	if n := sink.Pending(); n > 0 {
		t.Fatalf("the sink holds %d mails after a permanent failure", n)
	}

	// A temporary refusal is retried once due.
	sink.Refuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"})
	bob := e.register("bob@example.com", strongPassword)
	bid := mailQueuedID(book, bob.User.ID, "confirm")
	book.wait("mail send failed, will retry", map[string]string{"mail_id": bid})
	sink.Refuse(nil)
	e.clock.Advance(2 * time.Minute)
	mailConfirmOK(e, mailNext(t, sink, "bob@example.com").Token())
	if m, err := e.app.Support().Mail(t.Context(), id); err != nil || m.State != store.MailFailed {
		t.Errorf("the refused mail is %v (%v), want still failed", m.State, err)
	}
	sink.wantNoMoreMail(e, "ann@example.com", "bob@example.com")
}
