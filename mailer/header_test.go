package mailer

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

func TestCleanHeader(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Confirm your address", "Confirm your address", true},
		{"  Réinitialisez votre mot de passe  ", "Réinitialisez votre mot de passe", true},
		{"Hi: Bcc: x@example.com", "Hi: Bcc: x@example.com", true}, // one line: just text
		{"a\r\nBcc: x", "", false},
		{"a\nBcc: x", "", false},
		{"a\rBcc: x", "", false},
		{"a\x00b", "", false},
		{"a\tb", "", false},
		{"a\x7fb", "", false},
		{"a\u0085b", "", false}, // NEL
		{"a\u2028b", "", false},
		{"a\u2029b", "", false},
		{"a\xffb", "", false}, // invalid UTF-8
		{"trailing\n", "", false},
		{strings.Repeat("x", 999), "", false},
		{strings.Repeat("x", 998), strings.Repeat("x", 998), true},
	} {
		got, err := CleanHeader(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("CleanHeader(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrUnsafeHeader) {
			t.Errorf("CleanHeader(%q) = %q, %v; want ErrUnsafeHeader", tc.in, got, err)
		}
	}
}

func TestValidateAddress(t *testing.T) {
	good := []string{"ann@example.com", "a.b+tag@sub.example.org", "x@localhost"}
	bad := []string{
		"", " ann@example.com", "ann@example.com ", "Ann <ann@example.com>", "ann", "@example.com",
		"ann@", "ann@example.com\r\nBcc: x@example.com", "ann@example.com,bob@example.com",
		"ann@example.com (comment)", strings.Repeat("a", 65) + "@example.com",
		"a@" + strings.Repeat("d", 250) + ".com", `"a b"@example.com`,
	}
	for _, a := range good {
		if got, err := ValidateAddress(a); err != nil || got != a {
			t.Errorf("ValidateAddress(%q) = %q, %v", a, got, err)
		}
	}
	for _, a := range bad {
		_, err := ValidateAddress(a)
		if !errors.Is(err, ErrInvalidAddress) && !errors.Is(err, ErrUnsafeHeader) {
			t.Errorf("ValidateAddress(%q) = %v, want an error", a, err)
		}
	}
}

func TestNewMail(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	msg := Message{Subject: "Confirm", Text: "text", HTML: "<p>html</p>"}
	m, err := NewMail("m1", KindConfirm, "ann@example.com", msg, now)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Mail{
		ID: "m1", Kind: KindConfirm, To: "ann@example.com", Subject: "Confirm", Text: "text", HTML: "<p>html</p>",
		State: store.MailPending, CreatedAt: now.UTC(), NextAttemptAt: now.UTC(),
	}
	if fmt.Sprint(m) != fmt.Sprint(want) {
		t.Errorf("NewMail = %+v\nwant %+v", m, want)
	}
	if _, err := NewMail("m2", KindConfirm, "ann@example.com\r\nBcc: eve@example.com", msg, now); !errors.Is(err, ErrUnsafeHeader) {
		t.Errorf("recipient with CRLF: %v", err)
	}
	if _, err := NewMail("m3", KindConfirm, "Eve <eve@example.com>", msg, now); !errors.Is(err, ErrInvalidAddress) {
		t.Errorf("recipient with a name: %v", err)
	}
	bad := msg
	bad.Subject = "a\r\nBcc: x"
	if _, err := NewMail("m4", KindConfirm, "ann@example.com", bad, now); !errors.Is(err, ErrUnsafeHeader) {
		t.Errorf("subject with CRLF: %v", err)
	}
	if _, err := NewMail("", KindConfirm, "ann@example.com", msg, now); err == nil {
		t.Error("a mail without id was accepted")
	}
}

func TestLogSender(t *testing.T) {
	var buf bytes.Buffer
	s := LogSender{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	env := Envelope{ID: "m1", To: "ann@example.com", Subject: "Confirm", Text: "open https://x.example/c?token=SECRET", HTML: "<p>h</p>"}
	if err := s.Send(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"level=INFO", "id=m1", "to=ann@example.com", "subject=Confirm", `link="https://x.example/c?token=SECRET"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	env.Subject = "a\r\nBcc: x"
	if err := s.Send(t.Context(), env); !IsPermanent(err) || !errors.Is(err, ErrUnsafeHeader) {
		t.Errorf("unsafe subject: %v", err)
	}
	env.Subject, env.Text, env.HTML = "Confirm", "", ""
	if err := s.Send(t.Context(), env); !IsPermanent(err) || !errors.Is(err, errEmptyMail) {
		t.Errorf("empty mail: %v", err)
	}
}

func TestErrorSummary(t *testing.T) {
	got := errorSummary(errors.New("line1\r\nline2\x00" + strings.Repeat("é", 400)))
	if strings.ContainsAny(got, "\r\n\x00") || len(got) > 300+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("errorSummary = %q", got)
	}
	if !strings.HasPrefix(got, "line1  line2 é") {
		t.Errorf("errorSummary prefix = %q", got[:20])
	}
}
