package mailer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
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
				if kind == KindMFANotice {
					// Without an MFAEvent the notice still says something: the generic sentence.
					generic := map[string]string{"en": "The second factors of your TokTok account", "fr": "Les seconds facteurs d'authentification de votre compte TokTok"}[lang]
					if !strings.Contains(m.Text, generic) || !strings.Contains(m.HTML, generic) {
						t.Errorf("mfa_notice without an event lacks %q:\n%s\n%s", generic, m.Text, m.HTML)
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

// mfaSentences is, per language and MFAEvent, the subject and the sentence of the text
// part that says what happened, for the Data of TestMFANoticeEvents (Remaining 9). The key
// "" is an unknown event.
var mfaSentences = map[string]map[string][2]string{
	"en": {
		MFAFactorAdded: {"A second factor was added to your TokTok account",
			`A second factor ("<b>Phone</b>") was added to your TokTok account (ann@example.com).`},
		MFAFactorRemoved: {"A second factor was removed from your TokTok account",
			`A second factor ("<b>Phone</b>") was removed from your TokTok account (ann@example.com).`},
		MFARecoveryUsed: {"A recovery code was used on your TokTok account",
			"A recovery code was used to sign in to your TokTok account (ann@example.com). 9 codes are left."},
		MFARecoveryRegenerated: {"New recovery codes for your TokTok account",
			"New recovery codes were generated for your TokTok account (ann@example.com). The previous codes no longer work."},
		MFAReset: {"The second factors of your TokTok account were removed",
			"An administrator removed every second factor of your TokTok account (ann@example.com). You can set up new ones from your account page."},
		MFAPasskeyClone: {"Sign-in refused: your TokTok passkey may have been copied",
			`A sign-in to your TokTok account (ann@example.com) with your passkey ("<b>Phone</b>") was refused: the passkey answered in a way that suggests it may have been copied.`},
		"": {"The second factors of your TokTok account changed",
			"The second factors of your TokTok account (ann@example.com) changed."},
	},
	"fr": {
		MFAFactorAdded: {"Un second facteur a été ajouté à votre compte TokTok",
			"Un second facteur d'authentification (« <b>Phone</b> ») a été ajouté à votre compte TokTok (ann@example.com)."},
		MFAFactorRemoved: {"Un second facteur a été retiré de votre compte TokTok",
			"Un second facteur d'authentification (« <b>Phone</b> ») a été retiré de votre compte TokTok (ann@example.com)."},
		MFARecoveryUsed: {"Un code de récupération a été utilisé sur votre compte TokTok",
			"Un code de récupération vient d'être utilisé pour se connecter à votre compte TokTok (ann@example.com). Il vous reste 9 codes."},
		MFARecoveryRegenerated: {"Nouveaux codes de récupération pour votre compte TokTok",
			"De nouveaux codes de récupération ont été générés pour votre compte TokTok (ann@example.com). Les anciens codes ne fonctionnent plus."},
		MFAReset: {"Les seconds facteurs de votre compte TokTok ont été supprimés",
			"Un administrateur a supprimé tous les seconds facteurs d'authentification de votre compte TokTok (ann@example.com). Vous pouvez en configurer de nouveaux depuis la page de votre compte."},
		MFAPasskeyClone: {"Connexion refusée : votre clé d'accès TokTok a peut-être été copiée",
			"Une connexion à votre compte TokTok (ann@example.com) avec votre clé d'accès (« <b>Phone</b> ») a été refusée : la clé a répondu d'une manière qui laisse penser qu'elle a pu être copiée."},
		"": {"Les seconds facteurs de votre compte TokTok ont changé",
			"Les seconds facteurs d'authentification de votre compte TokTok (ann@example.com) ont changé."},
	},
}

// asHTML turns a text-part sentence of mfaSentences into what the HTML part shows: the
// address in bold, English quotes curly, and the factor's name escaped.
var asHTML = strings.NewReplacer(
	"(ann@example.com)", "(<strong>ann@example.com</strong>)",
	`"<b>Phone</b>"`, "“&lt;b&gt;Phone&lt;/b&gt;”",
	"<b>Phone</b>", "&lt;b&gt;Phone&lt;/b&gt;",
)

// TestMFANoticeEvents: every MFAEvent, and an unknown one, renders its own subject and
// sentence and no other event's, in both languages and both parts, with the password
// advice of password_changed; the factor's name is escaped in the HTML part.
func TestMFANoticeEvents(t *testing.T) {
	r := newTestRenderer(t, "")
	advice := map[string][]string{
		"en": {`reset your password now with "Forgot password" on the sign-in page, and contact us.`},
		"fr": {"réinitialisez votre mot de passe dès maintenant avec « Mot de passe oublié » sur la page de connexion, et contactez-nous."},
	}
	for _, lang := range langs {
		for _, event := range append(slices.Clone(mfaEvents), "", "factor_renamed") {
			t.Run(lang+"/"+event, func(t *testing.T) {
				want := mfaSentences[lang][event]
				if !slices.Contains(mfaEvents, event) {
					want = mfaSentences[lang][""]
				}
				m, err := r.Render(KindMFANotice, lang, Data{AppName: "TokTok", Email: "ann@example.com", Name: "Ann",
					MFAEvent: event, FactorName: "<b>Phone</b>", Remaining: 9})
				if err != nil {
					t.Fatal(err)
				}
				if m.Subject != want[0] {
					t.Errorf("subject %q, want %q", m.Subject, want[0])
				}
				for part, body := range map[string]string{"text": m.Text, "html": m.HTML} {
					conv := func(s string) string { return s }
					if part == "html" {
						conv = asHTML.Replace
					}
					for _, w := range append([]string{want[1]}, advice[lang]...) {
						if part == "html" && lang == "en" {
							w = strings.ReplaceAll(w, `"Forgot password"`, "“Forgot password”")
						}
						if !strings.Contains(body, conv(w)) {
							t.Errorf("%s part lacks %q:\n%s", part, conv(w), body)
						}
					}
					for other, s := range mfaSentences[lang] {
						if s[1] != want[1] && strings.Contains(body, conv(s[1])) {
							t.Errorf("%s part has the sentence of %q too:\n%s", part, other, body)
						}
					}
				}
				if strings.Contains(m.HTML, "<b>") {
					t.Errorf("html part has the factor's name unescaped:\n%s", m.HTML)
				}
			})
		}
	}
}

// TestMFANoticeRemaining: recovery_used says how many codes are left, in the singular for
// one, and with none left tells the owner to generate new ones.
func TestMFANoticeRemaining(t *testing.T) {
	r := newTestRenderer(t, "")
	for _, tc := range []struct {
		lang      string
		remaining int
		want      string
	}{
		{"en", 9, "9 codes are left."},
		{"en", 2, "2 codes are left."},
		{"en", 1, "1 code is left."},
		{"en", 0, "No codes are left: generate new ones from your account page."},
		{"fr", 9, "Il vous reste 9 codes."},
		{"fr", 1, "Il vous reste 1 code."},
		{"fr", 0, "Il ne vous reste aucun code : générez-en de nouveaux depuis la page de votre compte."},
	} {
		m, err := r.Render(KindMFANotice, tc.lang, Data{AppName: "TokTok", Email: "ann@example.com", MFAEvent: MFARecoveryUsed, Remaining: tc.remaining})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(m.Text, tc.want) || !strings.Contains(m.HTML, tc.want) {
			t.Errorf("%s, %d left: lacks %q:\n%s\n%s", tc.lang, tc.remaining, tc.want, m.Text, m.HTML)
		}
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
		// A branch that only one MFAEvent selects is executed at start-up too.
		{"unknown field in one event's branch", map[string]string{"fr/mfa_notice.html": `{{if eq .MFAEvent "passkey_clone"}}{{.FactorNmae}}{{end}}`},
			[]string{"fr/mfa_notice.html", "FactorNmae", "passkey_clone"}},
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
