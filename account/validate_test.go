package account

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalEmail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ann@example.com", "ann@example.com"},
		{"  Ann@Example.COM ", "ann@example.com"},
		{"e\u0301lise@example.com", "\u00e9lise@example.com"}, // NFC
		{strings.Repeat("a", 64) + "@example.com", strings.Repeat("a", 64) + "@example.com"},
	} {
		got, err := CanonicalEmail("email", tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"", "ann", "@example.com", "ann@", "ann@localhost", "Ann <ann@example.com>", "ann@example.com\r\nBcc: x@y.z",
		"an n@example.com", "ann@exa..mple.com", "ann@.example.com", strings.Repeat("a", 65) + "@example.com",
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + ".com", "ann\x00@example.com",
	} {
		_, err := CanonicalEmail("email", in)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeBadUserInput || e.Field != "email" {
			t.Errorf("CanonicalEmail(%q) = %v; want BAD_USER_INPUT on email", in, err)
		}
	}
}

func TestCleanData(t *testing.T) {
	nest := func(depth int) map[string]any {
		var v any = "leaf"
		for range depth - 1 {
			v = map[string]any{"k": v}
		}
		return map[string]any{"k": v}
	}
	if _, err := cleanData("data", nest(8)); err != nil {
		t.Errorf("depth 8 refused: %v", err)
	}
	if _, err := cleanData("data", nest(9)); err == nil {
		t.Error("depth 9 accepted")
	}
	for _, bad := range []map[string]any{{"$where": 1}, {"a.b": 1}, {"ok": map[string]any{"$gt": 1}}} {
		if _, err := cleanData("data", bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// Measured as sent: < > & are one byte each, not Go's \u003c.
	if _, err := cleanData("data", map[string]any{"h": strings.Repeat("<", 16000)}); err != nil {
		t.Errorf("16000 '<' refused: %v", err)
	}
	if _, err := cleanData("data", map[string]any{"h": strings.Repeat("a", 16<<10)}); err == nil {
		t.Error("over 16 KiB accepted")
	}
}

func TestLinks(t *testing.T) {
	s := &Service{links: LinksConfig{}}
	if got := s.link("https://auth.example.com/confirm-email", "tok_en", "fr"); got != "https://auth.example.com/confirm-email?lang=fr#token=tok_en" {
		t.Errorf("fragment link = %s", got)
	}
	if got := s.link("https://app.example.com/confirm?x=1", "tok", ""); got != "https://app.example.com/confirm?x=1#token=tok" {
		t.Errorf("SPA link = %s", got)
	}
	s.links.TokenInQuery = true
	if got := s.link("https://app.example.com/reset", "tok", "en"); got != "https://app.example.com/reset?lang=en&token=tok" {
		t.Errorf("query link = %s", got)
	}
	raw, hash := newLinkToken()
	if len(raw) != 43 || hashLinkToken(raw) != hash || len(hash) != 64 {
		t.Errorf("token %q hash %q", raw, hash)
	}
}
