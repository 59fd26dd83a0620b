package config

import (
	"flag"
	"slices"
	"strings"
	"time"

	"github.com/toktok/toktok/token"
)

// Token is the JWT and refresh-token section.
type Token struct {
	Alg                string
	KeyFile            string   // PEM private key (or HS256 secret); generated in DataDir in dev modes
	VerifyKeyFiles     []string // "[ALG:]path" of retired keys still accepted and published
	Issuer             string
	Audience           string
	AccessTTL          time.Duration
	AnonTTL            time.Duration
	Leeway             time.Duration
	RefreshSecretFile  string
	RefreshIdleTTL     time.Duration
	RefreshAbsoluteTTL time.Duration
	RefreshGrace       time.Duration
}

// algorithms is behind --jwt-alg's help, its case normalisation and its validation. It is
// the token package's own list, so that adding an algorithm there cannot miss one here.
var algorithms = func() []string {
	var out []string
	for _, a := range token.Algs() {
		out = append(out, string(a))
	}
	return out
}()

// Algorithms returns the access-token algorithms --jwt-alg accepts, in their canonical
// spelling, the usual choices first. It returns a copy: the list is the validation's,
// and a caller appending to it must not widen what Validate accepts.
func Algorithms() []string { return slices.Clone(algorithms) }

func defaultToken() Token {
	return Token{
		Alg: "ES256", Issuer: "", Audience: "toktok",
		AccessTTL: 15 * time.Minute, AnonTTL: 12 * time.Hour, Leeway: 30 * time.Second,
		RefreshIdleTTL: 7 * 24 * time.Hour, RefreshAbsoluteTTL: 30 * 24 * time.Hour,
		RefreshGrace: 10 * time.Second,
	}
}

func (t *Token) register(fs *flag.FlagSet, verifyKeys *string) {
	*verifyKeys = strings.Join(t.VerifyKeyFiles, ",")
	fs.StringVar(&t.Alg, "jwt-alg", t.Alg, "access-token algorithm: "+strings.Join(algorithms, " | "))
	fs.StringVar(&t.KeyFile, "jwt-key-file", t.KeyFile, "PEM private key for --jwt-alg (HS256: a file of >= 32 secret bytes); generated in --data-dir in dev modes")
	fs.StringVar(verifyKeys, "jwt-verify-key-files", *verifyKeys, "comma-separated [ALG:]PEM files of previous keys still accepted and published in the JWKS (key rotation)")
	fs.StringVar(&t.Issuer, "jwt-issuer", t.Issuer, "iss claim (default: --public-url, else http://HOST:PORT)")
	fs.StringVar(&t.Audience, "jwt-audience", t.Audience, "aud claim of access tokens")
	fs.DurationVar(&t.AccessTTL, "access-ttl", t.AccessTTL, "access-token lifetime")
	fs.DurationVar(&t.AnonTTL, "anonymous-ttl", t.AnonTTL, "anonymous-token lifetime")
	fs.DurationVar(&t.Leeway, "jwt-leeway", t.Leeway, "clock skew tolerated when checking exp/iat")
	fs.StringVar(&t.RefreshSecretFile, "refresh-secret-file", t.RefreshSecretFile, "file of >= 32 secret bytes that authenticates refresh tokens, shared by all instances; generated in --data-dir in dev modes")
	fs.DurationVar(&t.RefreshIdleTTL, "refresh-idle-ttl", t.RefreshIdleTTL, "a session ends after this long without a refresh")
	fs.DurationVar(&t.RefreshAbsoluteTTL, "refresh-absolute-ttl", t.RefreshAbsoluteTTL, "a session ends this long after sign-in, whatever happens")
	fs.DurationVar(&t.RefreshGrace, "refresh-grace", t.RefreshGrace, "how long the previous refresh token still answers (two tabs refreshing at once) before reuse counts as replay")
}

// finish spells the algorithm canonically (operators write es256), splits the retired
// keys, and defaults the issuer to where the service says it lives. The issuer default
// is "http://" + Addr() rather than h.PublicBase(): deployments already sign with that
// iss, and substituting localhost for a wildcard host would change it under them.
func (t *Token) finish(h HTTP, verifyKeys string) {
	for _, alg := range algorithms {
		if strings.EqualFold(t.Alg, alg) {
			t.Alg = alg
		}
	}
	t.VerifyKeyFiles = splitList(verifyKeys)
	if t.Issuer == "" {
		if h.PublicURL != "" {
			t.Issuer = h.PublicURL
		} else {
			t.Issuer = "http://" + h.Addr()
		}
	}
}

func (t Token) validate() []error {
	var p problems
	if !slices.Contains(algorithms, t.Alg) {
		p.add("--jwt-alg: %q is not one of %s", t.Alg, strings.Join(algorithms, ", "))
	}
	if t.Audience == "" {
		p.add("--jwt-audience: must not be empty")
	}
	for _, s := range []setting[time.Duration]{
		{"--access-ttl", t.AccessTTL}, {"--anonymous-ttl", t.AnonTTL},
		{"--refresh-idle-ttl", t.RefreshIdleTTL}, {"--refresh-absolute-ttl", t.RefreshAbsoluteTTL},
	} {
		if s.value <= 0 {
			p.add("%s: must be positive", s.flag)
		}
	}
	if t.Leeway < 0 || t.Leeway > 5*time.Minute {
		p.add("--jwt-leeway: must be between 0 and 5m")
	}
	if t.RefreshGrace < 0 || t.RefreshGrace > time.Minute {
		p.add("--refresh-grace: must be between 0 and 1m")
	}
	if t.RefreshIdleTTL > t.RefreshAbsoluteTTL {
		p.add("--refresh-idle-ttl: longer than --refresh-absolute-ttl")
	}
	return p
}

// production requires the signing material to come from files every instance shares.
func (t Token) production(mode Mode) []error {
	var p problems
	if t.KeyFile == "" {
		p.add("--jwt-key-file: required in %s mode (generated keys are for development)", mode)
	}
	if t.RefreshSecretFile == "" {
		p.add("--refresh-secret-file: required in %s mode", mode)
	}
	return p
}
