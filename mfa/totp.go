// Package mfa holds the building blocks of TokTok's second factors that do not touch the
// store: TOTP secrets, codes and enrolment URIs (RFC 6238), the QR code that carries the
// URI to an authenticator app, the sealing of TOTP secrets at rest, and recovery codes.
package mfa

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
)

// The TOTP parameters: the ones every authenticator app supports (RFC 6238 with SHA-1,
// six digits, a 30-second period), so there is nothing to negotiate.
const (
	// Period is the time step of a TOTP code.
	Period = 30 * time.Second
	// Digits is the length of a TOTP code.
	Digits = 6
	// SecretBytes is the length of a TOTP secret before base32 encoding (160 bits, the
	// size of an HMAC-SHA-1 output, as RFC 4226 recommends).
	SecretBytes = 20
)

// minSecretBytes is the shortest secret TOTPCode and ValidateTOTP accept: RFC 4226
// requires at least 128 bits, and an empty or tiny secret would make codes guessable.
const minSecretBytes = 16

// b32 is the encoding of TOTP secrets: RFC 4648 base32, upper case, without padding, as
// authenticator apps expect it in the otpauth URI.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrBadSecret is returned by TOTPCode for a secret that is not base32 of at least 16
// bytes.
var ErrBadSecret = errors.New("mfa: the TOTP secret is not base32 of at least 16 bytes")

// NewTOTPSecret returns a fresh TOTP secret: SecretBytes random bytes, base32-encoded.
func NewTOTPSecret() (string, error) {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return b32.EncodeToString(b), nil
}

// OTPAuthURI returns the otpauth:// URI that enrols secret in an authenticator app, in
// the Key URI format of Google Authenticator: the label "issuer:account" with both parts
// percent-encoded (a space, ':' or '@' inside them is escaped, so the one literal colon
// separates them), then secret, issuer, algorithm, digits and period. Spaces are %20,
// not '+', which some apps would show literally. An empty issuer leaves the label to the
// account and drops the issuer parameter.
//
// Neither part should contain a colon: the escape keeps the URI unambiguous, but readers
// that decode the label before splitting it (pquerna/otp does) take the first colon as
// the separator; they still read the issuer right from the issuer parameter.
func OTPAuthURI(issuer, account, secret string) string {
	label := escape(account)
	query := "secret=" + escape(secret)
	if issuer != "" {
		label = escape(issuer) + ":" + label
		query += "&issuer=" + escape(issuer)
	}
	query += "&algorithm=SHA1&digits=6&period=30"
	return "otpauth://totp/" + label + "?" + query
}

// escape percent-encodes everything but RFC 3986's unreserved characters, with a space
// as %20 (url.QueryEscape writes '+', and escapes a literal '+' as %2B).
func escape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// Step returns the TOTP time step of t: floor(Unix seconds / 30).
func Step(t time.Time) int64 {
	s := t.Unix()
	p := int64(Period / time.Second)
	step := s / p
	if s%p < 0 {
		step--
	}
	return step
}

// TOTPCode returns the six-digit TOTP code of secret at time t. The server only needs it
// through ValidateTOTP; tests and tools use it to play the authenticator app.
func TOTPCode(secret string, t time.Time) (string, error) {
	return stepCode(secret, Step(t))
}

// stepCode returns the code of secret at one time step.
func stepCode(secret string, step int64) (string, error) {
	raw, err := b32.DecodeString(strings.ToUpper(strings.TrimRight(strings.TrimSpace(secret), "=")))
	if err != nil || len(raw) < minSecretBytes {
		return "", ErrBadSecret
	}
	if step < 0 {
		return "", errors.New("mfa: no TOTP code before 1970")
	}
	return hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{
		Digits:    otp.DigitsSix,
		Algorithm: otp.AlgorithmSHA1,
	})
}

// ValidateTOTP checks code against secret at time now, tolerating one step of clock
// drift either way (Step(now)-1 to Step(now)+1). It returns the step the code belongs to,
// which the caller must refuse if it was already used, so a code works once. The code
// is six ASCII digits; surrounding and inner spaces are dropped first ("123 456" is how
// many apps show it). A malformed code or secret gives ok false.
//
// All three steps are computed and compared in constant time, so the time taken does not
// tell which step, if any, matched. Should a code match two steps (a one-in-a-million
// coincidence), the later step is returned, the stricter one for replay.
func ValidateTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	code = strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if !isDigits(code, Digits) {
		return 0, false
	}
	cur := Step(now)
	for s := cur - 1; s <= cur+1; s++ {
		want, err := stepCode(secret, s)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
