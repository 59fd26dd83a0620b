package config

import (
	"flag"
	"net"
	"net/url"
	"slices"
	"strings"
)

// MFA is second factors and passkeys.
type MFA struct {
	// RequiredRoles are the roles (USER, STAFF, ADMIN) whose members must enrol a second
	// factor: until they do, every operation but enrolment answers MFA_REQUIRED.
	RequiredRoles []string
	// WebAuthnRPID is the WebAuthn relying-party id: the host of --public-url (or the
	// local address) when empty. Passkeys are bound to it: changing it orphans them.
	WebAuthnRPID string
	// WebAuthnRPName is the name authenticators show: --app-name when empty.
	WebAuthnRPName string
	// WebAuthnOrigins are the origins allowed to run the ceremonies: the origin of
	// --public-url (or the local address) when empty.
	WebAuthnOrigins []string
	// SecretFile holds the secret the MFA keys derive from (TOTP secrets sealed, recovery
	// codes hashed). Empty: they derive from the refresh secret, so rotating that one voids
	// every TOTP factor and recovery code.
	SecretFile string
}

func defaultMFA() MFA { return MFA{} }

func (m *MFA) register(fs *flag.FlagSet) {
	fs.Var(roleList{&m.RequiredRoles}, "mfa-required-roles", "comma-separated roles (USER, STAFF, ADMIN) that must enrol a second factor before doing anything else, e.g. ADMIN,STAFF")
	fs.StringVar(&m.WebAuthnRPID, "webauthn-rp-id", m.WebAuthnRPID, "WebAuthn relying-party id, a domain passkeys are bound to (default: the host of --public-url)")
	fs.StringVar(&m.WebAuthnRPName, "webauthn-rp-name", m.WebAuthnRPName, "name authenticators show for passkeys (default: --app-name)")
	fs.StringVar(&m.SecretFile, "mfa-secret-file", m.SecretFile, "file of >= 32 secret bytes that seals TOTP secrets and keys recovery-code hashes, shared by all instances (default: derived from the refresh secret, so rotating that voids every TOTP factor and recovery code)")
	fs.Var(stringList{&m.WebAuthnOrigins}, "webauthn-origins", "comma-separated origins allowed to register and use passkeys, e.g. https://app.example.com (default: the origin of --public-url)")
}

func (m MFA) validate() []error {
	var p problems
	for _, r := range m.RequiredRoles {
		if !slices.Contains([]string{"USER", "STAFF", "ADMIN"}, r) {
			p.add("--mfa-required-roles: %q is not USER, STAFF or ADMIN", r)
		}
	}
	if m.WebAuthnRPID != "" && (strings.ContainsAny(m.WebAuthnRPID, ":/ ") || strings.Trim(m.WebAuthnRPID, ".") != m.WebAuthnRPID) {
		p.add("--webauthn-rp-id: %q is not a domain (no scheme, port or path)", m.WebAuthnRPID)
	} else if net.ParseIP(m.WebAuthnRPID) != nil {
		p.add("--webauthn-rp-id: %q is an IP address; WebAuthn needs a domain (localhost will do on one machine)", m.WebAuthnRPID)
	}
	for _, o := range m.WebAuthnOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			p.add("--webauthn-origins: %q is not an origin like https://app.example.com", o)
			continue
		}
		if m.WebAuthnRPID != "" && !domainWithin(u.Hostname(), m.WebAuthnRPID) {
			p.add("--webauthn-origins: the host of %q is not --webauthn-rp-id %q or under it", o, m.WebAuthnRPID)
		}
	}
	return p
}

// domainWithin reports whether host is domain or one of its subdomains, the rule a
// browser applies between an origin and a relying-party id.
func domainWithin(host, domain string) bool {
	host, domain = strings.ToLower(host), strings.ToLower(domain)
	return host == domain || strings.HasSuffix(host, "."+domain)
}

// roleList is a comma-separated list of roles, upper-cased.
type roleList struct{ p *[]string }

func (l roleList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l roleList) Set(s string) error {
	var out []string
	for _, r := range splitList(s) {
		if r = strings.ToUpper(r); !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	*l.p = out
	return nil
}

// stringList is a comma-separated list of strings, with trailing slashes trimmed.
type stringList struct{ p *[]string }

func (l stringList) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l stringList) Set(s string) error {
	var out []string
	for _, v := range splitList(s) {
		out = append(out, strings.TrimRight(v, "/"))
	}
	*l.p = out
	return nil
}
