package mailer

import (
	"embed"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode/utf8"
)

// The mail kinds, one per template. They are also store.Mail.Kind.
const (
	// KindConfirm asks a new user to confirm their address after sign-up.
	KindConfirm = "confirm"
	// KindReset carries a password-reset link.
	KindReset = "reset"
	// KindEmailChange asks the user to confirm a new address; sent to the new address.
	KindEmailChange = "email_change"
	// KindEmailChangeNotice tells the old address that a change to (masked) NewEmail was
	// requested, so the owner notices a takeover attempt.
	KindEmailChangeNotice = "email_change_notice"
	// KindPasswordChanged tells the user their password was changed.
	KindPasswordChanged = "password_changed"
	// KindAccountDeleted tells the address that its account was deleted; sent once the
	// account is gone, so it carries no link.
	KindAccountDeleted = "account_deleted"
	// KindSignupAttempt tells an address that already has an account that someone tried
	// to register with it (--enumeration-protection answers that register as if it had
	// succeeded). It carries nothing the requester typed, and no link that acts on the
	// account.
	KindSignupAttempt = "signup_attempt"
	// KindMFANotice tells the account's owner that their second factors changed, or that
	// one was misused; Data.MFAEvent says what happened.
	KindMFANotice = "mfa_notice"
)

// The values of Data.MFAEvent, for KindMFANotice. The template has a sentence for each;
// any other value gets a generic one.
const (
	// MFAFactorAdded: a second factor (Data.FactorName) was added.
	MFAFactorAdded = "factor_added"
	// MFAFactorRemoved: a second factor (Data.FactorName) was removed.
	MFAFactorRemoved = "factor_removed"
	// MFARecoveryUsed: a recovery code signed in; Data.Remaining codes are left.
	MFARecoveryUsed = "recovery_used"
	// MFARecoveryRegenerated: new recovery codes replaced the old ones.
	MFARecoveryRegenerated = "recovery_regenerated"
	// MFAReset: an administrator removed every factor.
	MFAReset = "mfa_reset"
	// MFAPasskeyClone: a passkey (Data.FactorName) answered with a signature counter that
	// went back, so it may have been copied; the sign-in was refused.
	MFAPasskeyClone = "passkey_clone"
)

// mfaEvents lists the MFAEvent values, so every branch of mfa_notice is rendered at
// start-up and in tests.
var mfaEvents = []string{MFAFactorAdded, MFAFactorRemoved, MFARecoveryUsed, MFARecoveryRegenerated, MFAReset, MFAPasskeyClone}

// DefaultLang is the language used when the user's is not available.
const DefaultLang = "en"

// ErrUnknownKind is returned (wrapped) by Render for a kind that has no template.
var ErrUnknownKind = errors.New("mailer: unknown mail kind")

var (
	kinds = []string{KindConfirm, KindReset, KindEmailChange, KindEmailChangeNotice, KindPasswordChanged, KindAccountDeleted, KindSignupAttempt, KindMFANotice}
	langs = []string{"en", "fr"}
)

// The three parts of a mail, by file-name suffix.
const (
	partSubject = ".subject.txt"
	partText    = ".txt"
	partHTML    = ".html"
)

var parts = []string{partSubject, partText, partHTML}

// maxTemplateBytes bounds an override file: templates are small, anything larger is a
// mistake (a wrong directory), not a template.
const maxTemplateBytes = 256 << 10

//go:embed templates
var embedded embed.FS

// Data is what a template can show. Every value may come from a user and is escaped in
// the HTML part; none may contain line breaks once rendered into the subject.
type Data struct {
	AppName   string
	Link      string // the link to follow (with its token); may be empty for notices
	Email     string // the recipient's (current) address
	NewEmail  string // the requested new address, for email_change and its notice
	Name      string // the user's name, may be empty
	ExpiresIn time.Duration
	// UnconfirmedFor is how long an unconfirmed account is kept before it is deleted,
	// for the confirmation mail; 0 when it is kept forever (the mail then says nothing).
	UnconfirmedFor time.Duration
	// MFAEvent says what changed, for mfa_notice: "factor_added", "factor_removed",
	// "recovery_used", "recovery_regenerated", "mfa_reset" (an administrator removed every
	// factor), "passkey_clone" (a passkey answered with a signature counter that went
	// back: it may have been copied; the sign-in was refused).
	MFAEvent string
	// FactorName is the label of the factor concerned, when there is one (may be empty;
	// it is text the account's owner typed, shown escaped).
	FactorName string
	// Remaining is, for recovery_used, how many unused recovery codes are left.
	Remaining int
	Lang      string // set by Render to the language actually used
}

// view is what templates execute on: Data plus values derived per language.
type view struct {
	Data
	Expires        string
	MaskedNewEmail string
	// DeletedAfter is UnconfirmedFor in words ("7 days"), empty when it is 0.
	DeletedAfter string
}

// Message is a rendered mail.
type Message struct {
	Subject, Text, HTML string
}

type templateSet struct {
	subject *texttemplate.Template
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

// Renderer renders the mail templates. It is immutable once built and safe for concurrent
// use.
type Renderer struct {
	sets map[string]map[string]*templateSet // lang -> kind -> templates
}

// NewRenderer parses the embedded templates, replaced file by file by those found in
// overrideDir (same layout: overrideDir/<lang>/<kind>.<part>; empty for none). Every
// problem is reported together: unknown files in overrideDir, parse errors, and errors
// executing a template on sample data.
func NewRenderer(overrideDir string) (*Renderer, error) {
	sub, err := fs.Sub(embedded, "templates")
	if err != nil {
		return nil, fmt.Errorf("mailer: embedded templates: %w", err)
	}
	var override fs.FS
	if overrideDir != "" {
		st, err := os.Stat(overrideDir)
		if err != nil {
			return nil, fmt.Errorf("mailer: template override directory: %w", err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("mailer: template override directory %q is not a directory", overrideDir)
		}
		override = os.DirFS(overrideDir)
	}
	return newRenderer(sub, override, overrideDir)
}

// templateSource is one template file's text and where it came from, for error messages.
type templateSource struct{ text, origin string }

func newRenderer(base, override fs.FS, overrideName string) (*Renderer, error) {
	files, err := loadTemplates(base, override, overrideName)
	if err != nil {
		return nil, err
	}
	r, err := parseTemplates(files)
	if err != nil {
		return nil, err
	}
	if err := r.renderSamples(); err != nil {
		return nil, err
	}
	return r, nil
}

// loadTemplates reads every embedded template, then replaces those that override holds,
// keyed "lang/kind.part". Every problem is reported together.
func loadTemplates(base, override fs.FS, overrideName string) (map[string]templateSource, error) {
	files := make(map[string]templateSource)
	var problems []error
	for _, lang := range langs {
		for _, kind := range kinds {
			for _, part := range parts {
				name := lang + "/" + kind + part
				b, err := fs.ReadFile(base, name)
				if err != nil {
					problems = append(problems, fmt.Errorf("mailer: embedded template %s: %w", name, err))
					continue
				}
				files[name] = templateSource{string(b), "embedded " + name}
			}
		}
	}
	if override != nil {
		more, err := readOverrides(override, overrideName, files)
		if err != nil {
			return nil, err
		}
		problems = append(problems, more...)
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return files, nil
}

// readOverrides replaces the entries of files found in override and returns the problems
// of its files; err is set only when override itself cannot be listed.
func readOverrides(override fs.FS, overrideName string, files map[string]templateSource) (problems []error, err error) {
	entries, err := fs.ReadDir(override, ".")
	if err != nil {
		return nil, fmt.Errorf("mailer: template override directory: %w", err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.IsDir() || !slices.Contains(langs, e.Name()) {
			problems = append(problems, fmt.Errorf("mailer: template override %s: not a language directory (want one of %s)",
				path.Join(overrideName, e.Name()), strings.Join(langs, ", ")))
			continue
		}
		lang := e.Name()
		sub, err := fs.ReadDir(override, lang)
		if err != nil {
			problems = append(problems, fmt.Errorf("mailer: template override %s: %w", path.Join(overrideName, lang), err))
			continue
		}
		for _, f := range sub {
			if strings.HasPrefix(f.Name(), ".") {
				continue
			}
			name := lang + "/" + f.Name()
			origin := path.Join(overrideName, name)
			if _, known := files[name]; !known || f.IsDir() {
				problems = append(problems, fmt.Errorf("mailer: template override %s: unknown template (want <kind>.subject.txt, <kind>.txt or <kind>.html with kind one of %s)",
					origin, strings.Join(kinds, ", ")))
				continue
			}
			b, err := readLimited(override, name)
			if err != nil {
				problems = append(problems, fmt.Errorf("mailer: template override %s: %w", origin, err))
				continue
			}
			files[name] = templateSource{b, origin}
		}
	}
	return problems, nil
}

// parseTemplates parses every template of files, reporting every problem together.
func parseTemplates(files map[string]templateSource) (*Renderer, error) {
	var problems []error
	r := &Renderer{sets: make(map[string]map[string]*templateSet)}
	for _, lang := range langs {
		r.sets[lang] = make(map[string]*templateSet)
		for _, kind := range kinds {
			set := &templateSet{}
			name := lang + "/" + kind
			var err error
			src := files[name+partSubject]
			if set.subject, err = texttemplate.New(src.origin).Option("missingkey=error").Parse(src.text); err != nil {
				problems = append(problems, fmt.Errorf("mailer: parse %s: %w", src.origin, err))
			}
			src = files[name+partText]
			if set.text, err = texttemplate.New(src.origin).Option("missingkey=error").Parse(src.text); err != nil {
				problems = append(problems, fmt.Errorf("mailer: parse %s: %w", src.origin, err))
			}
			src = files[name+partHTML]
			if set.html, err = htmltemplate.New(src.origin).Option("missingkey=error").Parse(src.text); err != nil {
				problems = append(problems, fmt.Errorf("mailer: parse %s: %w", src.origin, err))
			}
			r.sets[lang][kind] = set
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}
	return r, nil
}

// renderSamples executes everything once: a template naming a field that does not exist
// only fails when executed, and that must happen at start-up, not when a user waits for a
// mail.
func (r *Renderer) renderSamples() error {
	var problems []error
	sample := Data{
		AppName: "TokTok", Link: "https://example.com/confirm?token=sample", Email: "user@example.com",
		NewEmail: "new@example.com", Name: "Sample", ExpiresIn: time.Hour,
	}
	for _, lang := range langs {
		for _, kind := range kinds {
			for _, d := range sampleVariants(kind, sample) {
				if _, err := r.Render(kind, lang, d); err != nil {
					name := lang + "/" + kind
					if d.MFAEvent != "" {
						name += " (" + d.MFAEvent + ")"
					}
					problems = append(problems, fmt.Errorf("mailer: sample render of %s: %w", name, err))
				}
			}
		}
	}
	return errors.Join(problems...)
}

// sampleVariants is sample, and for mfa_notice sample with every MFAEvent (and both a
// zero and a positive Remaining): a template executes only the branch its data selects,
// so each branch needs its own render to be checked.
func sampleVariants(kind string, sample Data) []Data {
	variants := []Data{sample}
	if kind != KindMFANotice {
		return variants
	}
	for _, event := range mfaEvents {
		for _, remaining := range []int{0, 1, 3} {
			d := sample
			d.MFAEvent, d.FactorName, d.Remaining = event, "Phone", remaining
			variants = append(variants, d)
		}
	}
	return variants
}

func readLimited(fsys fs.FS, name string) (string, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxTemplateBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTemplateBytes {
		return "", fmt.Errorf("larger than %d bytes", maxTemplateBytes)
	}
	if !utf8.Valid(b) {
		return "", errors.New("not valid UTF-8")
	}
	return string(b), nil
}

// Render renders the kind's templates in lang, which falls back to its primary subtag
// ("fr-CA" -> "fr"), then to English. d.Lang is set to the language used. The subject is
// trimmed and checked with CleanHeader, so a value with a line break in it is an error,
// never a header. ErrUnknownKind (wrapped) for a kind without templates.
func (r *Renderer) Render(kind, lang string, d Data) (Message, error) {
	lang = r.resolveLang(lang)
	set, ok := r.sets[lang][kind]
	if !ok {
		return Message{}, fmt.Errorf("%w: %q", ErrUnknownKind, kind)
	}
	d.Lang = lang
	v := view{Data: d, Expires: humanDuration(d.ExpiresIn, lang), MaskedNewEmail: maskEmail(d.NewEmail),
		DeletedAfter: humanDuration(d.UnconfirmedFor, lang)}

	var subject, text, html strings.Builder
	if err := set.subject.Execute(&subject, v); err != nil {
		return Message{}, fmt.Errorf("mailer: render %s/%s subject: %w", lang, kind, err)
	}
	if err := set.text.Execute(&text, v); err != nil {
		return Message{}, fmt.Errorf("mailer: render %s/%s text: %w", lang, kind, err)
	}
	if err := set.html.Execute(&html, v); err != nil {
		return Message{}, fmt.Errorf("mailer: render %s/%s html: %w", lang, kind, err)
	}
	// The file's own surrounding white space (its final newline) goes; a line break
	// inside, from a template or a value, is refused.
	subj, err := CleanHeader(strings.TrimSpace(subject.String()))
	if err != nil {
		return Message{}, fmt.Errorf("mailer: render %s/%s subject: %w", lang, kind, err)
	}
	return Message{Subject: subj, Text: text.String(), HTML: html.String()}, nil
}

// resolveLang picks the language to render: lang itself, its primary subtag, or English.
func (r *Renderer) resolveLang(lang string) string {
	lang = strings.ToLower(strings.TrimSpace(lang))
	lang = strings.ReplaceAll(lang, "_", "-")
	if _, ok := r.sets[lang]; ok {
		return lang
	}
	if primary, _, found := strings.Cut(lang, "-"); found {
		if _, ok := r.sets[primary]; ok {
			return primary
		}
	}
	return DefaultLang
}

// humanDuration says d in words in lang: whole days from two days up, else whole hours,
// else minutes (rounded, at least one). Empty for a non-positive d.
func humanDuration(d time.Duration, lang string) string {
	if d <= 0 {
		return ""
	}
	d = d.Round(time.Minute)
	if d < time.Minute {
		d = time.Minute
	}
	const day = 24 * time.Hour
	var n int64
	var unit int // 0 minutes, 1 hours, 2 days
	switch {
	case d >= 2*day && d%day == 0:
		n, unit = int64(d/day), 2
	case d%time.Hour == 0:
		n, unit = int64(d/time.Hour), 1
	default:
		n, unit = int64(d/time.Minute), 0
	}
	type forms struct{ one, many string }
	units := map[string][3]forms{
		"en": {{"minute", "minutes"}, {"hour", "hours"}, {"day", "days"}},
		"fr": {{"minute", "minutes"}, {"heure", "heures"}, {"jour", "jours"}},
	}
	u, ok := units[lang]
	if !ok {
		u = units[DefaultLang]
	}
	word := u[unit].many
	// French uses the singular below two; English only for exactly one.
	if n == 1 || (lang == "fr" && n < 2) {
		word = u[unit].one
	}
	return strconv.FormatInt(n, 10) + " " + word
}

// maskEmail hides most of an address while keeping it recognisable to its owner:
// "jane.doe@example.com" -> "j***@e***.com". The number of stars is fixed so the mask does
// not reveal lengths.
func maskEmail(addr string) string {
	if addr == "" {
		return ""
	}
	at := strings.LastIndex(addr, "@")
	if at <= 0 || at == len(addr)-1 {
		return "***"
	}
	local, domain := addr[:at], addr[at+1:]
	first := func(s string) string {
		r, _ := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError {
			return ""
		}
		return string(r)
	}
	masked := first(local) + "***@"
	labels := strings.Split(domain, ".")
	if len(labels) < 2 || labels[len(labels)-1] == "" {
		return masked + first(domain) + "***"
	}
	return masked + first(labels[0]) + "***." + labels[len(labels)-1]
}
