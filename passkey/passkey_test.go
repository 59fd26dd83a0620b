package passkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/passkey/passkeytest"
	"github.com/toktok/toktok/store"
)

const origin = "https://auth.example.com"

var cfg = passkey.Config{
	RPID:          "auth.example.com",
	RPDisplayName: "TokTok",
	Origins:       []string{origin, "http://localhost:8080"},
	Timeout:       5 * time.Minute,
}

// newService returns a Service for c; every test uses two, to finish on another instance
// what one began.
func newService(t *testing.T, c passkey.Config) *passkey.Service {
	t.Helper()
	s, err := passkey.New(c)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func newUser(id string) passkey.User {
	return passkey.User{ID: id, Name: id + "@example.com", DisplayName: "User " + id}
}

// register runs a registration of u begun on s1 and finished on s2 with a, and returns the
// factor the caller would store (u's Credentials are not changed).
func register(t *testing.T, s1, s2 *passkey.Service, a *passkeytest.Authenticator, u passkey.User) store.Factor {
	t.Helper()
	options, session, err := s1.BeginRegistration(u)
	if err != nil {
		t.Fatalf("BeginRegistration: %v", err)
	}
	resp, err := a.Create(options)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	c, err := s2.FinishRegistration(u, session, resp)
	if err != nil {
		t.Fatalf("FinishRegistration: %v", err)
	}
	return store.Factor{
		ID: fmt.Sprintf("factor-%s-%d", u.ID, len(u.Credentials)), UserID: u.ID, Type: store.FactorWebAuthn,
		Secret: c.Record, CredentialID: c.ID, Confirmed: true, SignCount: c.SignCount,
	}
}

// login runs an assertion by u begun on s1 and finished on s2 with a.
func login(t *testing.T, s1, s2 *passkey.Service, a *passkeytest.Authenticator, u passkey.User) (passkey.Assertion, error) {
	t.Helper()
	options, session, err := s1.BeginLogin(u)
	if err != nil {
		t.Fatalf("BeginLogin: %v", err)
	}
	resp, err := a.Get(options)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	return s2.FinishLogin(u, session, resp)
}

func wantInvalid(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, passkey.ErrInvalid) {
		t.Errorf("%s: got %v, want ErrInvalid", what, err)
	} else {
		t.Logf("%s: %v", what, err)
	}
}

// b64 decodes a base64url string of an options JSON.
func b64(t *testing.T, s any) []byte {
	t.Helper()
	str, ok := s.(string)
	if !ok {
		t.Fatalf("%v is not a string", s)
	}
	b, err := base64.RawURLEncoding.DecodeString(str)
	if err != nil {
		t.Fatalf("%q is not base64url: %v", str, err)
	}
	return b
}

func TestRegisterAndLoginAcrossInstances(t *testing.T) {
	s1, s2 := newService(t, cfg), newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	f := register(t, s1, s2, a, u)
	if ids := a.CredentialIDs(); len(ids) != 1 || !bytes.Equal(ids[0], f.CredentialID) {
		t.Fatalf("credential id %x, authenticator holds %x", f.CredentialID, ids)
	}
	if f.SignCount != 0 {
		t.Errorf("SignCount at registration = %d, want 0", f.SignCount)
	}
	u.Credentials = []store.Factor{f}
	for want := uint32(1); want <= 3; want++ {
		got, err := login(t, s1, s2, a, u)
		if err != nil {
			t.Fatalf("login %d: %v", want, err)
		}
		if got.FactorID != f.ID || got.SignCount != want || got.CloneWarning {
			t.Fatalf("login %d: got %+v, want factor %s, count %d, no clone warning", want, got, f.ID, want)
		}
		var rec struct {
			ID            []byte `json:"id"`
			Authenticator struct {
				SignCount uint32 `json:"signCount"`
			} `json:"authenticator"`
			Flags struct {
				UserVerified bool `json:"userVerified"`
			} `json:"flags"`
		}
		if err := json.Unmarshal(got.Record, &rec); err != nil {
			t.Fatalf("record: %v", err)
		}
		if !bytes.Equal(rec.ID, f.CredentialID) || rec.Authenticator.SignCount != want || !rec.Flags.UserVerified {
			t.Errorf("record %+v, want id %x, count %d, UV", rec, f.CredentialID, want)
		}
		u.Credentials[0].SignCount = got.SignCount // what store.UseWebAuthn records
	}
}

func TestLocalhostOrigin(t *testing.T) {
	c := cfg
	c.RPID = "localhost"
	s := newService(t, c)
	a := passkeytest.New("http://localhost:8080")
	u := newUser("u1")
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	if _, err := login(t, s, s, a, u); err != nil {
		t.Fatalf("login: %v", err)
	}
}

func TestRegistrationOptionsShape(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	u.Credentials = append(u.Credentials, register(t, s, s, passkeytest.New(origin), u))
	// A TOTP factor and a pending one are not credentials.
	u.Credentials = append(u.Credentials, store.Factor{ID: "totp", Type: store.FactorTOTP, Secret: []byte("x"), Confirmed: true},
		store.Factor{ID: "pending", Type: store.FactorWebAuthn, Secret: []byte("{}")})

	options, _, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if _, ok := o["publicKey"]; ok {
		t.Fatalf("options are wrapped in publicKey: %s", options)
	}
	if n := len(b64(t, o["challenge"])); n < 16 {
		t.Errorf("challenge of %d bytes", n)
	}
	rp, _ := o["rp"].(map[string]any)
	if rp["id"] != cfg.RPID || rp["name"] != cfg.RPDisplayName {
		t.Errorf("rp = %v", rp)
	}
	user, _ := o["user"].(map[string]any)
	if string(b64(t, user["id"])) != u.ID || user["name"] != u.Name || user["displayName"] != u.DisplayName {
		t.Errorf("user = %v", user)
	}
	var algs []float64
	params, _ := o["pubKeyCredParams"].([]any)
	for _, p := range params {
		p, _ := p.(map[string]any)
		if p["type"] != "public-key" {
			t.Errorf("pubKeyCredParams entry %v", p)
		}
		alg, _ := p["alg"].(float64)
		algs = append(algs, alg)
	}
	for _, alg := range []float64{-7, -8, -257} { // ES256, EdDSA, RS256
		if !slices.Contains(algs, alg) {
			t.Errorf("pubKeyCredParams %v lacks %v", algs, alg)
		}
	}
	sel, _ := o["authenticatorSelection"].(map[string]any)
	if sel["userVerification"] != "required" || sel["residentKey"] != "required" || sel["requireResidentKey"] != true {
		t.Errorf("authenticatorSelection = %v", sel)
	}
	if o["attestation"] != "none" {
		t.Errorf("attestation = %v", o["attestation"])
	}
	if o["timeout"] != float64(cfg.Timeout.Milliseconds()) {
		t.Errorf("timeout = %v", o["timeout"])
	}
	var excluded [][]byte
	list, _ := o["excludeCredentials"].([]any)
	for _, d := range list {
		d, _ := d.(map[string]any)
		if d["type"] != "public-key" {
			t.Errorf("excludeCredentials entry %v", d)
		}
		excluded = append(excluded, b64(t, d["id"]))
	}
	if len(excluded) != 2 || !bytes.Equal(excluded[0], u.Credentials[0].CredentialID) ||
		!bytes.Equal(excluded[1], u.Credentials[1].CredentialID) {
		t.Errorf("excludeCredentials %x, want the two credential ids", excluded)
	}
	if _, err := a.Create(options); err == nil {
		t.Error("the authenticator holding an excluded credential made another")
	}
}

func TestLoginOptionsShape(t *testing.T) {
	s := newService(t, cfg)
	u := newUser("u1")
	u.Credentials = []store.Factor{register(t, s, s, passkeytest.New(origin), u)}
	u.Credentials = append(u.Credentials, register(t, s, s, passkeytest.New(origin), u))

	options, _, err := s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if n := len(b64(t, o["challenge"])); n < 16 || o["rpId"] != cfg.RPID || o["userVerification"] != "required" {
		t.Errorf("options %s: want a challenge, rpId, userVerification required", options)
	}
	list, _ := o["allowCredentials"].([]any)
	if len(list) != 2 {
		t.Fatalf("allowCredentials = %v, want 2", o["allowCredentials"])
	}
	for i, d := range list {
		d, _ := d.(map[string]any)
		if d["type"] != "public-key" || !bytes.Equal(b64(t, d["id"]), u.Credentials[i].CredentialID) {
			t.Errorf("allowCredentials[%d] = %v, want %x", i, d, u.Credentials[i].CredentialID)
		}
	}

	options, _, err = s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	o = nil
	if err := json.Unmarshal(options, &o); err != nil {
		t.Fatal(err)
	}
	if list, _ := o["allowCredentials"].([]any); len(list) != 0 || o["userVerification"] != "required" ||
		o["rpId"] != cfg.RPID || len(b64(t, o["challenge"])) < 16 {
		t.Errorf("discoverable options %s: want no allowCredentials, userVerification required", options)
	}
}

func TestBeginLoginWithoutCredentials(t *testing.T) {
	s := newService(t, cfg)
	u := newUser("u1")
	u.Credentials = []store.Factor{{ID: "totp", Type: store.FactorTOTP, Secret: []byte("x"), Confirmed: true}}
	_, _, err := s.BeginLogin(u)
	if !errors.Is(err, passkey.ErrNoCredentials) || !errors.Is(err, passkey.ErrInvalid) {
		t.Errorf("BeginLogin without passkeys: %v, want ErrNoCredentials wrapping ErrInvalid", err)
	}
}

func TestNewChecksConfig(t *testing.T) {
	for _, c := range []passkey.Config{
		{RPDisplayName: "x", Origins: []string{origin}},
		{RPID: "auth.example.com", Origins: []string{origin}},
		{RPID: "auth.example.com", RPDisplayName: "x"},
		{RPID: "https://auth.example.com/", RPDisplayName: "x", Origins: []string{origin}},
	} {
		if _, err := passkey.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
	c := cfg
	c.Timeout = 0
	options, _, err := newService(t, c).BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	var o struct{ Timeout int64 }
	if err := json.Unmarshal(options, &o); err != nil || o.Timeout != passkey.DefaultTimeout.Milliseconds() {
		t.Errorf("timeout %d (%v), want the default", o.Timeout, err)
	}
}
