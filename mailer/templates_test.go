package mailer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newTestRenderer(t *testing.T, dir string) *Renderer {
	t.Helper()
	r, err := NewRenderer(dir)
	if err != nil {
		t.Fatalf("NewRenderer(%q): %v", dir, err)
	}
	return r
}

func TestRenderEveryKindAndLanguage(t *testing.T) {
	r := newTestRenderer(t, "")
	d := Data{
		AppName: "TokTok", Link: "https://app.example.com/confirm?token=abc123", Email: "ann@example.com",
		NewEmail: "ann.new@example.org", Name: "Ann", ExpiresIn: 24 * time.Hour,
	}
	// A phrase per language that must appear, to show the language really changed.
	want := map[string]string{"en": "Hello Ann,", "fr": "Bonjour Ann,"}
	for _, lang := range langs {
		for _, kind := range kinds {
			t.Run(lang+"/"+kind, func(t *testing.T) {
				m, err := r.Render(kind, lang, d)
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject == "" || strings.ContainsAny(m.Subject, "\r\n") || !strings.Contains(m.Subject, "TokTok") {
					t.Errorf("subject %q", m.Subject)
				}
				for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
					if !strings.Contains(body, want[lang]) {
						t.Errorf("%s part lacks %q:\n%s", part, want[lang], body)
					}
					if strings.Contains(body, "<no value>") {
						t.Errorf("%s part has a missing value:\n%s", part, body)
					}
				}
				if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") || !strings.Contains(m.HTML, `lang="`+lang+`"`) {
					t.Errorf("html head:\n%s", m.HTML)
				}
				switch kind {
				case KindConfirm, KindReset, KindEmailChange:
					// Mails with a link show it in both parts, and when it expires.
					if !strings.Contains(m.Text, d.Link) || !strings.Contains(m.HTML, `href="`+d.Link+`"`) {
						t.Errorf("link missing:\n%s\n%s", m.Text, m.HTML)
					}
					exp := map[string]string{"en": "24 hours", "fr": "24 heures"}[lang]
					if !strings.Contains(m.Text, exp) || !strings.Contains(m.HTML, exp) {
						t.Errorf("expiry %q missing:\n%s", exp, m.Text)
					}
				case KindEmailChangeNotice:
					// The old address sees the new one masked, never in full.
					if strings.Contains(m.Text+m.HTML, d.NewEmail) {
						t.Errorf("notice shows the new address in full")
					}
					if !strings.Contains(m.Text, "a***@e***.org") {
						t.Errorf("notice lacks the masked new address:\n%s", m.Text)
					}
				case KindSignupAttempt:
					// The owner is told which address, and pointed at the sign-in page's
					// "forgot password" (the optional link shows only when given).
					forgot := map[string]string{"en": "Forgot password", "fr": "Mot de passe oublié"}[lang]
					for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
						if !strings.Contains(body, d.Email) || !strings.Contains(body, forgot) {
							t.Errorf("signup_attempt %s part lacks the address or %q:\n%s", part, forgot, body)
						}
					}
					bare, err := r.Render(kind, lang, Data{AppName: "TokTok", Email: d.Email})
					if err != nil {
						t.Fatal(err)
					}
					if strings.Contains(bare.Text+bare.HTML, "http") {
						t.Errorf("signup_attempt without a link shows one:\n%s\n%s", bare.Text, bare.HTML)
					}
				}
				if kind == KindEmailChange && !strings.Contains(m.Text, d.NewEmail) {
					t.Errorf("email_change lacks the new address")
				}
			})
		}
	}
}

func TestRenderEscapesHTML(t *testing.T) {
	r := newTestRenderer(t, "")
	d := Data{
		AppName: "TokTok",
		Name:    `<script>alert(1)</script>`,
		Email:   `x"><img src=x onerror=alert(1)>@example.com`,
		Link:    `https://app.example.com/confirm?token=a"onmouseover="alert(1)&x=<b>`,
	}
	for _, lang := range langs {
		m, err := r.Render(KindConfirm, lang, d)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"<script>", "<img", `"onmouseover`, `a"on`, "<b>"} {
			if strings.Contains(m.HTML, bad) {
				t.Errorf("%s: HTML contains %q unescaped:\n%s", lang, bad, m.HTML)
			}
		}
		if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s: name not escaped as text:\n%s", lang, m.HTML)
		}
		// In href the quote is percent-encoded, so it cannot close the attribute.
		if !strings.Contains(m.HTML, `href="https://app.example.com/confirm?token=a%22onmouseover=%22alert%281%29&amp;x=%3cb%3e"`) {
			t.Errorf("%s: href not escaped as expected:\n%s", lang, m.HTML)
		}
		// The text part is plain text: the value is shown as given.
		if !strings.Contains(m.Text, d.Name) {
			t.Errorf("%s: text part altered the name:\n%s", lang, m.Text)
		}
	}

	m, err := r.Render(KindReset, "en", Data{AppName: "TokTok", Link: "javascript:alert(1)"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, `href="javascript:`) {
		t.Errorf("javascript: URL kept in href:\n%s", m.HTML)
	}
}

func TestRenderLanguageFallback(t *testing.T) {
	r := newTestRenderer(t, "")
	for _, tc := range []struct{ lang, want string }{
		{"fr", "fr"}, {"fr-CA", "fr"}, {"FR_ca", "fr"}, {"en-GB", "en"},
		{"de", "en"}, {"de-DE", "en"}, {"", "en"}, {"  ", "en"}, {"../fr", "en"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m, err := r.Render(KindReset, tc.lang, Data{AppName: "TokTok", Link: "https://x.example/r"})
			if err != nil {
				t.Fatal(err)
			}
			wantSubject := map[string]string{"en": "Reset your TokTok password", "fr": "Réinitialisez votre mot de passe TokTok"}[tc.want]
			if m.Subject != wantSubject {
				t.Errorf("subject %q, want %q", m.Subject, wantSubject)
			}
		})
	}
}

func TestRenderUnknownKind(t *testing.T) {
	r := newTestRenderer(t, "")
	if _, err := r.Render("welcome", "en", Data{}); !errors.Is(err, ErrUnknownKind) {
		t.Fatalf("err = %v, want ErrUnknownKind", err)
	}
}

func TestRenderSubjectRefusesLineBreaks(t *testing.T) {
	r := newTestRenderer(t, "")
	_, err := r.Render(KindConfirm, "en", Data{AppName: "TokTok\r\nBcc: victim@example.com"})
	if !errors.Is(err, ErrUnsafeHeader) {
		t.Fatalf("err = %v, want ErrUnsafeHeader", err)
	}
}

func TestRenderNoExpiry(t *testing.T) {
	r := newTestRenderer(t, "")
	m, err := r.Render(KindConfirm, "en", Data{AppName: "TokTok", Link: "https://x.example/c"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.Text, "expires") || strings.Contains(m.HTML, "expires") {
		t.Errorf("expiry sentence without an expiry:\n%s", m.Text)
	}
	if strings.HasPrefix(m.Text, "Hello ,") || !strings.HasPrefix(m.Text, "Hello,") {
		t.Errorf("greeting without a name: %q", m.Text[:20])
	}
}

// TestConfirmMailForStrangers: the signup mail reaches whoever owns the address, who may
// not be who registered it (a typo, or an attacker pre-registering someone's address). It
// tells that reader, in both parts and both languages, to ignore it and how to take the
// address back (a reset, which ends every session), and promises nothing TokTok does not
// do: an unconfirmed account is deleted only when --unconfirmed-ttl is set (UnconfirmedFor),
// and then the mail says after how long; "nothing will happen" is untrue while the account
// keeps the address.
func TestConfirmMailForStrangers(t *testing.T) {
	r := newTestRenderer(t, "")
	for _, tc := range []struct {
		lang    string
		want    []string
		deleted string // the sentence when UnconfirmedFor is 7 days
	}{
		{"en", []string{
			"If you did not create this account, ignore this email and do not open the link",
			"the account stays unconfirmed",
			"Forgot password",
			"signs out anyone else",
		}, "the account stays unconfirmed, and an unconfirmed account is deleted 7 days after it was created."},
		{"fr", []string{
			"Si vous n'avez pas créé ce compte, ignorez ce message et n'ouvrez pas le lien",
			"le compte reste non confirmé",
			"Mot de passe oublié",
			"déconnecte aussi toute autre personne",
		}, "le compte reste non confirmé, et un compte non confirmé est supprimé 7 jours après sa création."},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			m, err := r.Render(KindConfirm, tc.lang, Data{AppName: "TokTok", Link: "https://x.example/c#token=t", Email: "ann@example.com", ExpiresIn: 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				for _, want := range tc.want {
					if !strings.Contains(body, want) {
						t.Errorf("%s part lacks %q:\n%s", part, want, body)
					}
				}
				lower := strings.ToLower(body)
				for _, promise := range []string{"erase", "delete", "remove", "nothing will happen",
					"effac", "supprim", "il ne se passera rien"} {
					if strings.Contains(lower, promise) {
						t.Errorf("%s part promises %q with --unconfirmed-ttl=0, which TokTok does not do:\n%s", part, promise, body)
					}
				}
			}
			// With a period set, the mail says the account goes after it, in both parts.
			m, err = r.Render(KindConfirm, tc.lang, Data{AppName: "TokTok", Link: "https://x.example/c#token=t", Email: "ann@example.com",
				ExpiresIn: 24 * time.Hour, UnconfirmedFor: 7 * 24 * time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
				if !strings.Contains(body, tc.deleted) {
					t.Errorf("%s part with UnconfirmedFor=7 days lacks %q:\n%s", part, tc.deleted, body)
				}
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOverrideDirReplacesOneTemplate(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "fr", "reset.subject.txt"), "{{.AppName}} : nouveau mot de passe\n")
	writeFile(t, filepath.Join(dir, ".DS_Store"), "ignored")
	r := newTestRenderer(t, dir)

	m, err := r.Render(KindReset, "fr", Data{AppName: "TokTok", Link: "https://x.example/r"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Subject != "TokTok : nouveau mot de passe" {
		t.Errorf("overridden subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Quelqu'un, vous sans doute") {
		t.Errorf("the embedded text part should remain:\n%s", m.Text)
	}
	// Other languages and kinds keep the embedded templates.
	if m, err := r.Render(KindReset, "en", Data{AppName: "TokTok"}); err != nil {
		t.Fatalf("Render(reset, en): %v", err)
	} else if m.Subject != "Reset your TokTok password" {
		t.Errorf("en subject changed: %q", m.Subject)
	}
	if m, err := r.Render(KindConfirm, "fr", Data{AppName: "TokTok"}); err != nil {
		t.Fatalf("Render(confirm, fr): %v", err)
	} else if m.Subject != "Confirmez votre adresse e-mail pour TokTok" {
		t.Errorf("fr confirm subject changed: %q", m.Subject)
	}
}

func TestOverrideDirErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string // substrings of the error
	}{
		{"parse error", map[string]string{"en/confirm.html": "<p>{{.Name</p>"}, []string{"en/confirm.html", "parse"}},
		{"unknown field", map[string]string{"fr/reset.txt": "{{.Nmae}}"}, []string{"fr/reset.txt", "Nmae"}},
		{"unknown kind", map[string]string{"en/confrim.txt": "x"}, []string{"en/confrim.txt", "unknown template"}},
		{"unknown language", map[string]string{"de/confirm.txt": "x"}, []string{"de", "not a language directory"}},
		{"every problem reported", map[string]string{"en/confirm.txt": "{{", "fr/confirm.txt": "{{end}}"},
			[]string{"en/confirm.txt", "fr/confirm.txt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, filepath.Join(dir, name), content)
			}
			_, err := NewRenderer(dir)
			if err == nil {
				t.Fatal("NewRenderer succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := NewRenderer(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing override directory should be an error")
	}
}

func TestHumanDuration(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		en, fr string
	}{
		{24 * time.Hour, "24 hours", "24 heures"},
		{time.Hour, "1 hour", "1 heure"},
		{2 * time.Hour, "2 hours", "2 heures"},
		{30 * time.Minute, "30 minutes", "30 minutes"},
		{time.Minute, "1 minute", "1 minute"},
		{90 * time.Minute, "90 minutes", "90 minutes"},
		{72 * time.Hour, "3 days", "3 jours"},
		{20 * time.Second, "1 minute", "1 minute"},
		{0, "", ""},
	} {
		if got := humanDuration(tc.d, "en"); got != tc.en {
			t.Errorf("en %v: %q, want %q", tc.d, got, tc.en)
		}
		if got := humanDuration(tc.d, "fr"); got != tc.fr {
			t.Errorf("fr %v: %q, want %q", tc.d, got, tc.fr)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	for in, want := range map[string]string{
		"jane.doe@example.com":  "j***@e***.com",
		"a@b.co":                "a***@b***.co",
		"élise@mail.example.fr": "é***@m***.fr",
		"x@localhost":           "x***@l***",
		"nonsense":              "***",
		"":                      "",
	} {
		if got := maskEmail(in); got != want {
			t.Errorf("maskEmail(%q) = %q, want %q", in, got, want)
		}
	}
}
