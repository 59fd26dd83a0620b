package account

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Input limits of SECURITY.md.
const (
	maxEmailLen     = 254
	maxLocalLen     = 64
	maxNameLen      = 100 // code points
	maxDataBytes    = 16 << 10
	maxDataDepth    = 8
	defaultLang     = "en"
	maxLangLen      = 35
	maxPasswordByte = 4 * 4096 // before decoding: bounds work on absurd input
)

var langPattern = regexp.MustCompile(`^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)

// CanonicalEmail returns the canonical form of an address (trimmed, lower-cased, NFC) or a
// BAD_USER_INPUT error naming field. The canonical form is what the unique index holds, so
// "Ann@Example.com " and "ann@example.com" are one account. net/mail's parser is linear in
// its input and the length is capped before it runs.
func CanonicalEmail(field, raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if len(s) > 4*maxEmailLen {
		return "", badInput(field, "the email address is too long")
	}
	// NFC again after lower-casing: lower-casing a composed form can leave a sequence NFC
	// composes further ("J\u030c" lowers to "j\u030c", which is "\u01f0" in NFC), and the
	// canonical form must be canonical again when canonicalised (found by FuzzCanonicalEmail).
	s = norm.NFC.String(strings.ToLower(norm.NFC.String(s)))
	if s == "" {
		return "", badInput(field, "the email address is required")
	}
	// Limits in bytes, as SMTP counts them (RFC 5321): what registers can also be mailed.
	if len(s) > maxEmailLen {
		return "", badInput(field, "the email address is too long")
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", badInput(field, "the email address contains forbidden characters")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", badInput(field, "the email address is not valid")
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > maxLocalLen {
		return "", badInput(field, "the email address is not valid")
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return "", badInput(field, "the email address is not valid")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", badInput(field, "the email address is not valid")
	}
	return s, nil
}

// cleanName checks an optional display string: at most 100 code points, no control
// characters and no format characters (Unicode category Cf: bidi overrides and isolates,
// zero-width spaces and joiners, soft hyphens), which let a name display as other text
// than it holds, in a mail, a console or a log. Surrounding spaces are dropped and an
// empty value means "not set".
func cleanName(field string, v *string) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s := strings.TrimSpace(norm.NFC.String(*v))
	if s == "" {
		return nil, nil
	}
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxNameLen {
		return nil, badInput(field, fmt.Sprintf("at most %d characters", maxNameLen))
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return nil, badInput(field, "control characters are not allowed")
		}
		if unicode.Is(unicode.Cf, r) {
			return nil, badInput(field, "invisible formatting characters (bidi controls, zero-width characters) are not allowed")
		}
	}
	return &s, nil
}

// cleanLang checks a BCP 47-shaped language tag, "en" when absent.
func cleanLang(v *string) (string, error) {
	if v == nil || strings.TrimSpace(*v) == "" {
		return defaultLang, nil
	}
	s := strings.TrimSpace(*v)
	if len(s) > maxLangLen || !langPattern.MatchString(s) {
		return "", badInput("lang", "not a language tag such as en or fr-CA")
	}
	primary, rest, _ := strings.Cut(s, "-")
	if rest != "" {
		return strings.ToLower(primary) + "-" + rest, nil
	}
	return strings.ToLower(primary), nil
}

// cleanData checks the free client data and returns it encoded, or nil when absent.
func cleanData(field string, m map[string]any) ([]byte, error) {
	if m == nil {
		return nil, nil
	}
	if err := checkJSON(field, m, 1); err != nil {
		return nil, err
	}
	// Measured as compact JSON without HTML escaping: what the client sent, not Go's
	// six-byte spelling of < > &.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, badInput(field, "not a JSON object")
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > maxDataBytes {
		return nil, badInput(field, fmt.Sprintf("at most %d bytes of JSON", maxDataBytes))
	}
	return b, nil
}

// checkJSON walks a decoded JSON value; depth counts objects and arrays, the way a
// client would (an object holding an array holding a string is depth 2).
func checkJSON(field string, v any, depth int) error {
	switch t := v.(type) {
	case map[string]any:
		if depth > maxDataDepth {
			return badInput(field, fmt.Sprintf("nested deeper than %d levels", maxDataDepth))
		}
		for k, child := range t {
			// Keys that a document database would read as operators or paths.
			if strings.HasPrefix(k, "$") || strings.Contains(k, ".") || strings.ContainsRune(k, 0) {
				return badInput(field, "keys must not start with $ or contain . or NUL")
			}
			if err := checkJSON(field, child, depth+1); err != nil {
				return err
			}
		}
	case []any:
		if depth > maxDataDepth {
			return badInput(field, fmt.Sprintf("nested deeper than %d levels", maxDataDepth))
		}
		for _, child := range t {
			if err := checkJSON(field, child, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// DecodeData turns stored client data back into the JSON scalar's map.
func DecodeData(b []byte) map[string]any {
	if len(b) == 0 {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}
