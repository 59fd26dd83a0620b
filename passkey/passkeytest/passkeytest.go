// Package passkeytest is a software WebAuthn authenticator, with the client around it, for
// tests: it answers the options a passkey.Service begins a ceremony with the way a browser
// and a platform authenticator would (PublicKeyCredential.toJSON()), with ES256 keys,
// attestation "none" and a zero AAGUID. Tests of other packages drive sign-ins with it.
package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
)

// Authenticator flags (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// algES256 is the COSE algorithm of the keys this authenticator makes.
const algES256 = -7

// credential is one passkey of the authenticator: all are resident (discoverable).
type credential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	rpID       string
	userHandle []byte
	counter    uint32
}

// Authenticator is a software platform authenticator holding ES256 passkeys, with the
// client that names origin in the client data. It is safe for concurrent use.
type Authenticator struct {
	mu        sync.Mutex
	origin    string
	noUV      bool
	preferred []byte
	creds     []*credential
}

// New returns an Authenticator without passkeys whose client data names origin (for
// example "https://auth.example.com"). It verifies the user until SetUserVerified(false).
func New(origin string) *Authenticator {
	return &Authenticator{origin: origin}
}

// SetOrigin changes the origin the client data names, for a response collected elsewhere
// (a phishing site) with the same passkeys.
func (a *Authenticator) SetOrigin(origin string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.origin = origin
}

// SetUserVerified sets whether the authenticator verifies the user (the UV flag). With
// false its responses must be refused where user verification is required.
func (a *Authenticator) SetUserVerified(v bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.noUV = !v
}

// SetCounter sets the signature counter of the credential: the next Get signs n+1. A
// counter set back simulates a cloned authenticator.
func (a *Authenticator) SetCounter(credentialID []byte, n uint32) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.find(credentialID); c != nil {
		c.counter = n
	}
}

// Prefer makes Get pick the credential with this id when several match (the user's choice
// in the account picker); nil restores the default, the newest match.
func (a *Authenticator) Prefer(credentialID []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.preferred = bytes.Clone(credentialID)
}

// CredentialIDs returns the ids of the authenticator's passkeys, oldest first.
func (a *Authenticator) CredentialIDs() [][]byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := make([][]byte, len(a.creds))
	for i, c := range a.creds {
		ids[i] = bytes.Clone(c.id)
	}
	return ids
}

// UserHandle returns the user handle stored with the credential, or nil.
func (a *Authenticator) UserHandle(credentialID []byte) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c := a.find(credentialID); c != nil {
		return bytes.Clone(c.userHandle)
	}
	return nil
}

func (a *Authenticator) find(id []byte) *credential {
	for _, c := range a.creds {
		if bytes.Equal(c.id, id) {
			return c
		}
	}
	return nil
}

// flags returns the UP and UV flags of a ceremony.
func (a *Authenticator) flags() byte {
	if a.noUV {
		return flagUP
	}
	return flagUP | flagUV
}

// rpIDOr returns id, or the host of the origin when id is empty (as a browser does).
func (a *Authenticator) rpIDOr(id string) (string, error) {
	if id != "" {
		return id, nil
	}
	u, err := url.Parse(a.origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("passkeytest: no rp id and no host in origin %q", a.origin)
	}
	return u.Hostname(), nil
}

// clientData returns the clientDataJSON of a ceremony of type typ ("webauthn.create",
// "webauthn.get") for the challenge, in its base64url form.
func (a *Authenticator) clientData(typ, challenge string) ([]byte, error) {
	raw, err := b64(challenge)
	if err != nil || len(raw) == 0 {
		return nil, errors.New("passkeytest: the options have no base64url challenge")
	}
	return json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, enc(raw), a.origin, false})
}

// enc is base64url without padding, the encoding of WebAuthn's JSON forms.
func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// b64 decodes base64url, with or without padding.
func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// authData returns the authenticator data: rpIdHash, flags, counter, then attested (the
// attested credential data, or nil).
func authData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := make([]byte, 0, 37+len(attested))
	out = append(out, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// newKey returns a fresh P-256 key and a random 32-byte credential id.
func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, nil, err
	}
	return key, id, nil
}
