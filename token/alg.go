package token

import (
	"fmt"
	"slices"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Alg is a JWS signing algorithm supported by TokTok. Each key is used with
// exactly one Alg (RFC 8725 §3.1): the algorithm is a property of the
// key, never taken from a token.
type Alg string

// Supported algorithms. ES256 or EdDSA are the usual choices; PS256 and RS256
// exist for relying parties that only speak RSA; HS256 is for setups where
// the verifier is TokTok itself and nothing is published.
const (
	ES256 Alg = "ES256"
	EdDSA Alg = "EdDSA"
	PS256 Alg = "PS256"
	RS256 Alg = "RS256"
	HS256 Alg = "HS256"
)

// algs is the one list of supported algorithms, the usual choices first: ParseAlg, valid
// and the configuration's --jwt-alg (through Algs) all read it.
var algs = []Alg{ES256, EdDSA, PS256, RS256, HS256}

// Algs returns the supported algorithms, the usual choices first. It is a copy: appending
// to it cannot widen what ParseAlg accepts.
func Algs() []Alg { return slices.Clone(algs) }

// ParseAlg parses an algorithm name from configuration. Matching is
// case-insensitive because the value typically comes from an environment
// variable or flag; the result is always the canonical JOSE spelling.
// "none" and any algorithm not listed above are rejected.
func ParseAlg(s string) (Alg, error) {
	for _, a := range algs {
		if strings.EqualFold(s, string(a)) {
			return a, nil
		}
	}
	return "", fmt.Errorf("token: unsupported signing algorithm %q (want ES256, EdDSA, PS256, RS256 or HS256)", s)
}

func (a Alg) valid() bool { return slices.Contains(algs, a) }

func (a Alg) method() jwt.SigningMethod {
	switch a {
	case ES256:
		return jwt.SigningMethodES256
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case PS256:
		return jwt.SigningMethodPS256
	case RS256:
		return jwt.SigningMethodRS256
	case HS256:
		return jwt.SigningMethodHS256
	}
	return nil
}
