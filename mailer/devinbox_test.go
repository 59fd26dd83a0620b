package mailer

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/internal/testkit/testclock"
	"github.com/toktok/toktok/store"
)

// lineLogger logs text lines without their time, at level and above.
func lineLogger(buf *bytes.Buffer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
}

// A token as account makes them: 32 random bytes in unpadded base64url, which may hold
// '-' and '_' and end with either.
const linkToken = "q3Zt_8Jc0-yP2wLmX9vBn4KdR7sTfE1uHaGiOoWe-_"

// renderEnvelope renders kind in lang with link, as the queue does, into an envelope.
func renderEnvelope(t *testing.T, kind, lang, link string) Envelope {
	t.Helper()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	msg, err := r.Render(kind, lang, Data{
		AppName: "TokTok", Link: link, Email: "ann@example.com", NewEmail: "ann.new@example.com", ExpiresIn: 24 * time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	return Envelope{ID: "M1", To: "ann@example.com", Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML}
}

// TestLogSenderLine: a mail to the log is one readable line at info level: recipient,
// subject, the link exactly as the mail carries it (quoted by slog, as it holds '='), the
// inbox; no HTML, no text part (that one comes at debug level only).
func TestLogSenderLine(t *testing.T) {
	link := "http://localhost:4100/confirm-email#token=" + linkToken
	env := renderEnvelope(t, KindConfirm, "en", link)

	var info bytes.Buffer
	s := LogSender{Log: lineLogger(&info, slog.LevelInfo), InboxURL: "http://localhost:4100/dev/mail"}
	if err := s.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	want := `level=INFO msg="mail (log sender, not delivered)" to=ann@example.com ` +
		`subject="Confirm your email address for TokTok" link="` + link +
		`" inbox=http://localhost:4100/dev/mail id=M1` + "\n"
	if got := info.String(); got != want {
		t.Errorf("the log sender's line:\n got %s\nwant %s", got, want)
	}

	var debug bytes.Buffer
	s.Log = lineLogger(&debug, slog.LevelDebug)
	if err := s.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(debug.String(), "\n"), "\n")
	if len(lines) != 2 || lines[0] != strings.TrimSuffix(want, "\n") ||
		!strings.HasPrefix(lines[1], `level=DEBUG msg="mail (log sender, not delivered)" id=M1 text="Hello,`) {
		t.Errorf("at debug level, want the line then the text part:\n%s", debug.String())
	}
	if strings.Contains(debug.String(), "<p>") || strings.Contains(debug.String(), "</span>") {
		t.Errorf("the HTML part was logged:\n%s", debug.String())
	}

	// No inbox, no link (the password-changed notice without a reset link).
	info.Reset()
	s = LogSender{Log: lineLogger(&info, slog.LevelInfo)}
	if err := s.Send(t.Context(), renderEnvelope(t, KindPasswordChanged, "en", "")); err != nil {
		t.Fatal(err)
	}
	if got, want := info.String(), `level=INFO msg="mail (log sender, not delivered)" to=ann@example.com subject="Your TokTok password was changed" id=M1`+"\n"; got != want {
		t.Errorf("a mail without a link:\n got %s\nwant %s", got, want)
	}

	// Several links: one attribute, space-separated.
	info.Reset()
	env = Envelope{ID: "M2", To: "ann@example.com", Subject: "Two", Text: "a https://a.example/x and https://b.example/y."}
	if err := s.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if got := info.String(); !strings.Contains(got, ` links="https://a.example/x https://b.example/y" id=M2`) {
		t.Errorf("a mail with two links:\n%s", got)
	}
}

// TestFindLinksInTemplates: for every kind and language, with the token in the fragment
// or the query, the link found in the text part is the link the mail was rendered with.
func TestFindLinksInTemplates(t *testing.T) {
	for _, base := range []string{
		"http://localhost:4100/confirm-email#token=" + linkToken,
		"http://localhost:4100/reset-password?lang=fr#token=" + linkToken,
		"https://app.example.com/reset?lang=fr&token=" + linkToken,
		"https://app.example.com/confirm?token=" + linkToken + "-",
	} {
		for _, kind := range kinds {
			for _, lang := range langs {
				env := renderEnvelope(t, kind, lang, base)
				if got := FindLinks(env.Text); !slices.Equal(got, []string{base}) {
					t.Errorf("%s/%s: FindLinks = %q, want [%q]", lang, kind, got, base)
				}
			}
		}
	}
}

func TestFindLinks(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"", nil},
		{"no link here, http:// alone", nil},
		{"open https://x.example/a#token=abc", []string{"https://x.example/a#token=abc"}},
		{"open https://x.example/a#token=abc.\nthen", []string{"https://x.example/a#token=abc"}},
		{"(see https://x.example/a), or https://x.example/b?c=1!", []string{"https://x.example/a", "https://x.example/b?c=1"}},
		{"https://en.example/wiki/Go_(language) works", []string{"https://en.example/wiki/Go_(language)"}},
		{"<https://x.example/a>", []string{"https://x.example/a"}},
		{`<span>http://localhost:4100/confirm-email#token=abc</span></p>`, []string{"http://localhost:4100/confirm-email#token=abc"}},
		{`href="https://x.example/q?a=1&b=2"`, []string{"https://x.example/q?a=1&b=2"}},
		{"HTTPS://X.example/A twice: HTTPS://X.example/A", []string{"HTTPS://X.example/A"}},
		{"ftp://x.example/a mailto:a@b.example", nil},
	} {
		if got := FindLinks(tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("FindLinks(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

func TestDevInbox(t *testing.T) {
	clock := testclock.New(t0)
	var logs bytes.Buffer
	in := NewDevInbox(DevInboxConfig{Max: 3, URL: "http://localhost:4100/dev/mail", Log: lineLogger(&logs, slog.LevelInfo), Now: clock.Now})
	send := func(id, subject string) {
		t.Helper()
		clock.Advance(time.Second)
		env := Envelope{ID: id, To: "ann@example.com", Subject: subject, Text: "open https://x.example/" + id, HTML: "<p>" + id + "</p>"}
		if err := in.Send(t.Context(), env); err != nil {
			t.Fatalf("send %s: %v", id, err)
		}
	}
	ids := func() []string {
		var out []string
		for _, m := range in.Mails() {
			out = append(out, m.ID)
		}
		return out
	}

	if len(in.Mails()) != 0 {
		t.Fatal("a new inbox is not empty")
	}
	send("A", "first")
	send("B", "second")
	if got := ids(); !slices.Equal(got, []string{"B", "A"}) {
		t.Fatalf("mails %v, want newest first", got)
	}
	m, ok := in.Mail("A")
	if !ok || m.Subject != "first" || m.To != "ann@example.com" || m.HTML != "<p>A</p>" ||
		!slices.Equal(m.Links, []string{"https://x.example/A"}) || !m.At.Equal(t0.Add(time.Second)) {
		t.Fatalf("Mail(A) = %+v, %v", m, ok)
	}
	if _, ok := in.Mail("nope"); ok {
		t.Fatal("Mail of an unknown id found one")
	}
	if out := logs.String(); strings.Count(out, LogSenderMessage) != 2 || !strings.Contains(out, "link=https://x.example/B inbox=http://localhost:4100/dev/mail id=B") {
		t.Errorf("the inbox's log:\n%s", out)
	}

	// The same mail again (sent twice across a crash): kept once, as the newest.
	send("A", "first again")
	if got := ids(); !slices.Equal(got, []string{"A", "B"}) {
		t.Fatalf("after A again: %v", got)
	}
	if m, _ := in.Mail("A"); m.Subject != "first again" {
		t.Fatalf("Mail(A) after a resend = %+v", m)
	}

	// Max: the oldest goes.
	send("C", "third")
	send("D", "fourth")
	if got := ids(); !slices.Equal(got, []string{"D", "C", "A"}) {
		t.Fatalf("over Max: %v, want the three newest", got)
	}

	// Refused as SMTP would refuse: nothing kept.
	for _, env := range []Envelope{
		{ID: "E", To: "ann@example.com", Subject: "a\r\nBcc: x", Text: "t"},
		{ID: "E", To: "Ann <ann@example.com>", Subject: "s", Text: "t"},
		{ID: "E", To: "ann@example.com", Subject: "s"},
	} {
		if err := in.Send(t.Context(), env); !IsPermanent(err) {
			t.Errorf("Send(%+v) = %v, want a permanent error", env, err)
		}
	}
	if _, ok := in.Mail("E"); ok {
		t.Error("a refused mail was kept")
	}

	// An id that cannot go in a URL as it is gets a random one.
	send("../x y", "odd id")
	if got := in.Mails()[0]; got.Subject != "odd id" || !devMailIDOK(got.ID) || got.ID == "../x y" {
		t.Errorf("odd id kept as %q", got.ID)
	}
}

func TestDevInboxMaxBytes(t *testing.T) {
	in := NewDevInbox(DevInboxConfig{MaxBytes: 3000, Log: slog.New(slog.DiscardHandler)})
	big := strings.Repeat("x", 1000)
	for i := range 5 {
		if err := in.Send(t.Context(), Envelope{ID: fmt.Sprint("M", i), To: "ann@example.com", Subject: "s", Text: big}); err != nil {
			t.Fatal(err)
		}
	}
	if got := in.Mails(); len(got) != 2 || got[0].ID != "M4" || got[1].ID != "M3" {
		t.Fatalf("kept %d mails, want the two newest that fit in 3000 bytes", len(got))
	}
	// A mail larger than the budget is still kept, alone.
	if err := in.Send(t.Context(), Envelope{ID: "HUGE", To: "ann@example.com", Subject: "s", Text: strings.Repeat("y", 5000)}); err != nil {
		t.Fatal(err)
	}
	if got := in.Mails(); len(got) != 1 || got[0].ID != "HUGE" {
		t.Fatalf("after a mail over the budget: %d mails", len(got))
	}
}

// TestDevInboxConcurrent: the Worker sends a batch in parallel (run with -race).
func TestDevInboxConcurrent(t *testing.T) {
	in := NewDevInbox(DevInboxConfig{Max: 50, Log: slog.New(slog.DiscardHandler)})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			_ = in.Send(context.Background(), Envelope{ID: fmt.Sprint("M", i), To: "ann@example.com", Subject: "s", Text: "t"})
			in.Mails()
			in.Mail("M1")
		})
	}
	wg.Wait()
	if n := len(in.Mails()); n != 50 {
		t.Fatalf("%d mails kept, want 50", n)
	}
}

// TestWorkerDoesNotClaimLoggedMailsSent: the Worker says "mail sent" only for a sender
// that delivers; after the log sender's or the inbox's "not delivered" record, it records
// the mail as done without contradicting it.
func TestWorkerDoesNotClaimLoggedMailsSent(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sender   func(log *slog.Logger) Sender
		sentLine bool
	}{
		{"log sender", func(log *slog.Logger) Sender { return LogSender{Log: log} }, false},
		{"dev inbox", func(log *slog.Logger) Sender { return NewDevInbox(DevInboxConfig{Log: log}) }, false},
		{"a sender that delivers", func(*slog.Logger) Sender { return &fakeSender{} }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			log := lineLogger(&buf, slog.LevelInfo)
			o := newFakeOutbox(testMail("m1"))
			w := NewWorker(o, tc.sender(log), WorkerConfig{ID: "w1", Now: testclock.New(t0).Now}, log)
			if sent, _, _, err := w.RunOnce(t.Context()); sent != 1 || err != nil {
				t.Fatalf("RunOnce: sent %d, %v", sent, err)
			}
			if m := o.get("m1"); m.State != store.MailSent {
				t.Fatalf("the mail is %s, want sent (nothing left to do)", m.State)
			}
			out := buf.String()
			if got := strings.Contains(out, `msg="mail sent"`); got != tc.sentLine {
				t.Errorf(`"mail sent" logged: %v, want %v:\n%s`, got, tc.sentLine, out)
			}
			if !tc.sentLine && strings.Count(out, "\n") != 1 {
				t.Errorf("want the sender's line alone at info level:\n%s", out)
			}
		})
	}
}
