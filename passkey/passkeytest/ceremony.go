package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
)

// descriptor is a PublicKeyCredentialDescriptorJSON.
type descriptor struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// credParam is a PublicKeyCredentialParameters.
type credParam struct {
	Type string `json:"type"`
	Alg  int    `json:"alg"`
}

// creationOptions is what Create reads of a PublicKeyCredentialCreationOptionsJSON.
type creationOptions struct {
	RP struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	Challenge          string       `json:"challenge"`
	PubKeyCredParams   []credParam  `json:"pubKeyCredParams"`
	ExcludeCredentials []descriptor `json:"excludeCredentials"`
}

// requestOptions is what Get reads of a PublicKeyCredentialRequestOptionsJSON.
type requestOptions struct {
	Challenge        string       `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
}

// unwrap decodes options into v, accepting them bare or wrapped in {"publicKey": ...}.
func unwrap(options json.RawMessage, v any) error {
	var wrapped struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &wrapped); err != nil {
		return fmt.Errorf("passkeytest: options: %w", err)
	}
	if wrapped.PublicKey != nil {
		options = wrapped.PublicKey
	}
	if err := json.Unmarshal(options, v); err != nil {
		return fmt.Errorf("passkeytest: options: %w", err)
	}
	return nil
}

// Create answers PublicKeyCredentialCreationOptionsJSON (navigator.credentials.create):
// it makes a resident ES256 credential for rp.id and user.id, with attestation "none" and
// flags UP|UV|AT (UV off after SetUserVerified(false)), counter 0, and returns the
// RegistrationResponseJSON. It fails, as an authenticator does, when ES256 is not among
// pubKeyCredParams or when it holds a credential in excludeCredentials.
func (a *Authenticator) Create(options json.RawMessage) (json.RawMessage, error) {
	var o creationOptions
	if err := unwrap(options, &o); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpIDOr(o.RP.ID)
	if err != nil {
		return nil, err
	}
	userHandle, err := b64(o.User.ID)
	if err != nil || len(userHandle) == 0 || len(userHandle) > 64 {
		return nil, errors.New("passkeytest: user.id is not a base64url user handle of 1 to 64 bytes")
	}
	if len(o.PubKeyCredParams) > 0 && !slices.ContainsFunc(o.PubKeyCredParams, func(p credParam) bool {
		return p.Type == "public-key" && p.Alg == algES256
	}) {
		return nil, errors.New("passkeytest: NotSupportedError: ES256 is not among pubKeyCredParams")
	}
	if err := a.excluded(rpID, o.ExcludeCredentials); err != nil {
		return nil, err
	}
	clientData, err := a.clientData("webauthn.create", o.Challenge)
	if err != nil {
		return nil, err
	}
	c := &credential{rpID: rpID, userHandle: userHandle}
	if c.key, c.id, err = newKey(); err != nil {
		return nil, err
	}
	resp, err := registrationResponse(c, authData(rpID, a.flags()|flagAT, c.counter, nil), clientData)
	if err != nil {
		return nil, err
	}
	a.creds = append(a.creds, c)
	return resp, nil
}

// excluded fails when the authenticator holds one of the credentials in list for rpID.
func (a *Authenticator) excluded(rpID string, list []descriptor) error {
	for _, d := range list {
		id, err := b64(d.ID)
		if err != nil {
			return fmt.Errorf("passkeytest: excludeCredentials: %w", err)
		}
		if c := a.find(id); c != nil && c.rpID == rpID {
			return errors.New("passkeytest: InvalidStateError: the authenticator holds an excluded credential")
		}
	}
	return nil
}

// registrationResponse returns the RegistrationResponseJSON for the new credential c;
// head is the authenticator data without its attested credential data.
func registrationResponse(c *credential, head, clientData []byte) (json.RawMessage, error) {
	point, err := c.key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		return nil, err
	}
	em, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	coseKey, err := em.Marshal(map[int]any{1: 2, 3: algES256, -1: 1, -2: point[1:33], -3: point[33:]})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16, 16+2+len(c.id)+len(coseKey)) // AAGUID zero
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(c.id)))
	attested = append(append(attested, c.id...), coseKey...)
	ad := append(bytes.Clone(head), attested...)
	attObj, err := em.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&c.key.PublicKey)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": enc(c.id), "rawId": enc(c.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":     enc(clientData),
			"attestationObject":  enc(attObj),
			"authenticatorData":  enc(ad),
			"publicKey":          enc(spki),
			"publicKeyAlgorithm": algES256,
			"transports":         []string{"internal"},
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

// Get answers PublicKeyCredentialRequestOptionsJSON (navigator.credentials.get): it picks
// a credential for rpId, from allowCredentials or, when that is empty, any of its
// (resident) ones; increments its counter; signs authenticatorData || SHA-256(clientData)
// and returns the AuthenticationResponseJSON, with the credential's user handle.
func (a *Authenticator) Get(options json.RawMessage) (json.RawMessage, error) {
	var o requestOptions
	if err := unwrap(options, &o); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	rpID, err := a.rpIDOr(o.RPID)
	if err != nil {
		return nil, err
	}
	c, err := a.pick(rpID, o.AllowCredentials)
	if err != nil {
		return nil, err
	}
	clientData, err := a.clientData("webauthn.get", o.Challenge)
	if err != nil {
		return nil, err
	}
	c.counter++
	ad := authData(rpID, a.flags(), c.counter, nil)
	h := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(bytes.Clone(ad), h[:]...))
	sig, err := ecdsa.SignASN1(nil, c.key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": enc(c.id), "rawId": enc(c.id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    enc(clientData),
			"authenticatorData": enc(ad),
			"signature":         enc(sig),
			"userHandle":        enc(c.userHandle),
		},
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": "platform",
	})
}

// pick returns the credential Get uses for rpID: among those in allow (all of rpID's when
// allow is empty), the preferred one, else the newest.
func (a *Authenticator) pick(rpID string, allow []descriptor) (*credential, error) {
	var ids [][]byte
	for _, d := range allow {
		id, err := b64(d.ID)
		if err != nil {
			return nil, fmt.Errorf("passkeytest: allowCredentials: %w", err)
		}
		ids = append(ids, id)
	}
	var found *credential
	for _, c := range a.creds {
		if c.rpID != rpID || (len(ids) > 0 && !slices.ContainsFunc(ids, func(id []byte) bool { return bytes.Equal(id, c.id) })) {
			continue
		}
		if a.preferred != nil && bytes.Equal(c.id, a.preferred) {
			return c, nil
		}
		found = c
	}
	if found == nil {
		return nil, errors.New("passkeytest: NotAllowedError: no credential for this relying party")
	}
	return found, nil
}
