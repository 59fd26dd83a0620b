package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Reasons returned by Policy.Check. They are stable API: clients map them to
// messages, so they are never renamed.
const (
	ReasonTooShort            = "too_short"
	ReasonTooLong             = "too_long"
	ReasonContainsEmail       = "contains_email"
	ReasonContainsServiceName = "contains_service_name"
	ReasonCommon              = "common"
)

// Policy decides which new passwords are refused. It follows NIST SP 800-63B
// rather than composition rules: length, and no password an attacker would
// try first. The zero value is usable; each zero field takes its default.
// ServiceName is the name users know the service by (the operator's
// --app-name); a name shorter than 3 code points is not checked, as it would
// refuse too much (the same rule as for the email's local part).
type Policy struct {
	MinLength   int    // in code points after NFC; default 12
	MaxLength   int    // in code points after NFC; default 256
	ServiceName string // refused as a substring, case-insensitively, from 3 code points; default "toktok"
}

// DefaultPolicy returns the policy with its defaults spelled out.
func DefaultPolicy() Policy {
	return Policy{MinLength: 12, MaxLength: 256, ServiceName: "toktok"}
}

// Check returns the reasons password is refused for the account with the
// given email, in the order of the Reason constants, or nil if it is
// acceptable. The password is never trimmed or truncated; lengths count
// Unicode code points after NFC normalisation so that the same text typed on
// different systems (é as one code point or as e + combining accent) gets
// the same verdict. Containment and list checks are case-insensitive (full
// Unicode case folding). The email's local part and the service name are
// only checked when at least 3 code points long, as shorter ones would refuse
// too much.
func (p Policy) Check(password, email string) []string {
	def := DefaultPolicy()
	if p.MinLength == 0 {
		p.MinLength = def.MinLength
	}
	if p.MaxLength == 0 {
		p.MaxLength = def.MaxLength
	}
	if p.ServiceName == "" {
		p.ServiceName = def.ServiceName
	}

	var reasons []string
	pw := norm.NFC.String(password)
	n := utf8.RuneCountInString(pw)
	if n < p.MinLength {
		reasons = append(reasons, ReasonTooShort)
	}
	if n > p.MaxLength {
		reasons = append(reasons, ReasonTooLong)
	}

	folded := fold(pw)
	local := email
	if i := strings.LastIndexByte(email, '@'); i >= 0 {
		local = email[:i]
	}
	if local = norm.NFC.String(local); utf8.RuneCountInString(local) >= 3 && strings.Contains(folded, fold(local)) {
		reasons = append(reasons, ReasonContainsEmail)
	}
	if name := norm.NFC.String(strings.TrimSpace(p.ServiceName)); utf8.RuneCountInString(name) >= 3 && strings.Contains(folded, fold(name)) {
		reasons = append(reasons, ReasonContainsServiceName)
	}
	if _, ok := commonPasswords()[folded]; ok {
		reasons = append(reasons, ReasonCommon)
	}
	return reasons
}

// fold case-folds s. A Caser is stateful and not safe for concurrent use,
// hence one per call.
func fold(s string) string { return cases.Fold().String(s) }

//go:embed common_passwords.txt
var commonPasswordsTxt string

// commonPasswords parses the embedded list on first use, keyed the way Check
// looks passwords up.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 512)
	for line := range strings.Lines(commonPasswordsTxt) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m[fold(norm.NFC.String(line))] = struct{}{}
	}
	return m
})
