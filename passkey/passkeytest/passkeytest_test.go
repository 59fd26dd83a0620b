package passkeytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

const (
	creation = `{"rp":{"id":"auth.example.com","name":"TokTok"},"user":{"id":"dTE","name":"u1@example.com","displayName":"U"},
		"challenge":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8","pubKeyCredParams":[{"type":"public-key","alg":-8},{"type":"public-key","alg":-7}]}`
	request = `{"challenge":"ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8","rpId":"auth.example.com","userVerification":"required"}`
)

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return b
}

// TestCreateAndGet checks the responses byte by byte against the WebAuthn formats, without
// go-webauthn: attestation "none", flags, zero AAGUID, counters, and a signature that
// verifies with the public key the registration response gives.
func TestCreateAndGet(t *testing.T) {
	a := New("https://auth.example.com")
	raw, err := a.Create(json.RawMessage(creation))
	if err != nil {
		t.Fatal(err)
	}
	var reg struct {
		ID, RawID, Type, AuthenticatorAttachment string
		ClientExtensionResults                   map[string]any
		Response                                 struct {
			ClientDataJSON, AttestationObject, AuthenticatorData, PublicKey string
			PublicKeyAlgorithm                                              int
			Transports                                                      []string
		}
	}
	if err := json.Unmarshal(raw, &reg); err != nil {
		t.Fatal(err)
	}
	id := unb64(t, reg.RawID)
	if reg.ID != reg.RawID || reg.Type != "public-key" || reg.AuthenticatorAttachment != "platform" ||
		reg.ClientExtensionResults == nil || reg.Response.PublicKeyAlgorithm != -7 ||
		len(reg.Response.Transports) != 1 || reg.Response.Transports[0] != "internal" {
		t.Errorf("registration response %s", raw)
	}
	if ids := a.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], id) || string(a.UserHandle(id)) != "u1" {
		t.Errorf("CredentialIDs %x, user handle %q", ids, a.UserHandle(id))
	}
	var cd map[string]any
	if err := json.Unmarshal(unb64(t, reg.Response.ClientDataJSON), &cd); err != nil ||
		cd["type"] != "webauthn.create" || cd["origin"] != "https://auth.example.com" ||
		cd["challenge"] != "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" {
		t.Errorf("clientDataJSON %v (%v)", cd, err)
	}
	var att struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}
	if err := cbor.Unmarshal(unb64(t, reg.Response.AttestationObject), &att); err != nil {
		t.Fatal(err)
	}
	ad := att.AuthData
	rpHash := sha256.Sum256([]byte("auth.example.com"))
	if att.Fmt != "none" || att.AttStmt == nil || len(att.AttStmt) != 0 || !bytes.Equal(ad, unb64(t, reg.Response.AuthenticatorData)) ||
		!bytes.Equal(ad[:32], rpHash[:]) || ad[32] != flagUP|flagUV|flagAT || binary.BigEndian.Uint32(ad[33:37]) != 0 ||
		!bytes.Equal(ad[37:53], make([]byte, 16)) || int(binary.BigEndian.Uint16(ad[53:55])) != len(id) || !bytes.Equal(ad[55:55+len(id)], id) {
		t.Errorf("attestation object: fmt %q, attStmt %v, authData %x", att.Fmt, att.AttStmt, ad)
	}
	pub, err := x509.ParsePKIXPublicKey(unb64(t, reg.Response.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	a.SetUserVerified(false)
	for want := uint32(1); want <= 2; want++ {
		raw, err = a.Get(json.RawMessage(request))
		if err != nil {
			t.Fatal(err)
		}
		var as struct {
			RawID    string
			Response struct{ ClientDataJSON, AuthenticatorData, Signature, UserHandle string }
		}
		if err := json.Unmarshal(raw, &as); err != nil {
			t.Fatal(err)
		}
		ad := unb64(t, as.Response.AuthenticatorData)
		if !bytes.Equal(unb64(t, as.RawID), id) || string(unb64(t, as.Response.UserHandle)) != "u1" ||
			len(ad) != 37 || ad[32] != flagUP || binary.BigEndian.Uint32(ad[33:]) != want {
			t.Errorf("assertion %d: %s", want, raw)
		}
		h := sha256.Sum256(unb64(t, as.Response.ClientDataJSON))
		digest := sha256.Sum256(append(ad, h[:]...))
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], unb64(t, as.Response.Signature)) {
			t.Errorf("assertion %d: the signature does not verify", want)
		}
	}
	if _, err := a.Get(json.RawMessage(`{"challenge":"AAAA","rpId":"other.example"}`)); err == nil {
		t.Error("Get found a credential for another rp id")
	}
	if _, err := a.Create(json.RawMessage(`{"rp":{"id":"x.example"},"user":{"id":"dTE"},"challenge":"AAAA",
		"pubKeyCredParams":[{"type":"public-key","alg":-257}]}`)); err == nil {
		t.Error("Create made an ES256 key for options without ES256")
	}
}
