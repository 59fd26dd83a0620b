package passkey_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/toktok/toktok/passkey"
	"github.com/toktok/toktok/passkey/passkeytest"
	"github.com/toktok/toktok/store"
)

// setJSON returns the JSON doc with the top-level member key set to v (nil removes it).
func setJSON(t *testing.T, doc []byte, key string, v any) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiscoverableLogin(t *testing.T) {
	s1, s2 := newService(t, cfg), newService(t, cfg)
	a := passkeytest.New(origin)
	users := map[string]passkey.User{}
	for _, id := range []string{"u1", "u2"} {
		u := newUser(id)
		u.Credentials = []store.Factor{register(t, s1, s1, a, u)}
		users[id] = u
	}
	byHandle := func(credentialID, userHandle []byte) (passkey.User, error) {
		u, ok := users[string(userHandle)]
		if !ok {
			return passkey.User{}, store.ErrNotFound
		}
		return u, nil
	}
	for _, id := range []string{"u1", "u2"} {
		a.Prefer(users[id].Credentials[0].CredentialID)
		options, session, err := s1.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Get(options)
		if err != nil {
			t.Fatal(err)
		}
		var seen []byte
		u, got, err := s2.FinishDiscoverableLogin(session, resp, func(credentialID, userHandle []byte) (passkey.User, error) {
			seen = credentialID
			return byHandle(credentialID, userHandle)
		})
		if err != nil {
			t.Fatalf("%s: FinishDiscoverableLogin: %v", id, err)
		}
		f := users[id].Credentials[0]
		if u.ID != id || got.FactorID != f.ID || got.SignCount != 1 || got.CloneWarning || !bytes.Equal(seen, f.CredentialID) {
			t.Errorf("%s: got user %s, %+v, lookup saw %x; want factor %s, count 1", id, u.ID, got, seen, f.ID)
		}
	}
}

func TestDiscoverableLoginRefusals(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u1, u2 := newUser("u1"), newUser("u2")
	u1.Credentials = []store.Factor{register(t, s, s, a, u1)}
	u2.Credentials = []store.Factor{register(t, s, s, passkeytest.New(origin), u2)}
	a.SetCounter(u1.Credentials[0].CredentialID, 10)

	unavailable := errors.New("database down")
	for _, c := range []struct {
		name    string
		lookup  func(_, _ []byte) (passkey.User, error)
		invalid bool
		is      error
	}{
		{"user handle of another user", func(_, _ []byte) (passkey.User, error) { return u2, nil }, true, nil},
		{"credential not the user's", func(_, _ []byte) (passkey.User, error) {
			u := u1
			u.Credentials = u2.Credentials
			return u, nil
		}, true, nil},
		{"unknown user handle", func(_, _ []byte) (passkey.User, error) { return passkey.User{}, store.ErrNotFound }, true, store.ErrNotFound},
		{"lookup failure", func(_, _ []byte) (passkey.User, error) { return passkey.User{}, unavailable }, false, unavailable},
	} {
		options, session, err := s.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.Get(options)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.FinishDiscoverableLogin(session, resp, c.lookup)
		if err == nil || errors.Is(err, passkey.ErrInvalid) != c.invalid || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: got %v, want invalid=%v, wrapping %v", c.name, err, c.invalid, c.is)
		}
	}

	// A session of BeginLogin does not finish a discoverable login.
	options, session, err := s.BeginLogin(u1)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = s.FinishDiscoverableLogin(session, resp, func(_, _ []byte) (passkey.User, error) { return u1, nil })
	wantInvalid(t, "a known-user session finishing a discoverable login", err)
}

func TestWrongOriginRefused(t *testing.T) {
	s := newService(t, cfg)
	u := newUser("u1")
	for _, o := range []string{"https://evil.example", "https://auth.example.com:8443", "http://auth.example.com"} {
		options, session, err := s.BeginRegistration(u)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := passkeytest.New(o).Create(options)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.FinishRegistration(u, session, resp)
		wantInvalid(t, "registration from "+o, err)
	}

	a := passkeytest.New(origin)
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	a.SetOrigin("https://evil.example")
	_, err := login(t, s, s, a, u)
	wantInvalid(t, "login from another origin", err)
	a.SetOrigin(origin)
	if _, err := login(t, s, s, a, u); err != nil {
		t.Errorf("login from the origin: %v", err)
	}
}

func TestWrongRPIDRefused(t *testing.T) {
	s := newService(t, cfg)
	u := newUser("u1")
	options, session, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	options = setJSON(t, options, "rp", map[string]any{"id": "evil.example", "name": "Evil"})
	resp, err := passkeytest.New(origin).Create(options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishRegistration(u, session, resp)
	wantInvalid(t, "registration for another rp id", err)

	// A passkey of evil.example, asserted with our challenge and origin: only the rpIdHash
	// in the authenticator data is wrong.
	evil := newService(t, passkey.Config{RPID: "evil.example", RPDisplayName: "Evil", Origins: []string{"https://evil.example"}})
	a := passkeytest.New("https://evil.example")
	u.Credentials = []store.Factor{register(t, evil, evil, a, u)}
	a.SetOrigin(origin)
	options, session, err = s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = a.Get(setJSON(t, options, "rpId", "evil.example"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, session, resp)
	wantInvalid(t, "assertion for another rp id", err)
}

func TestUserVerificationRequired(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	a.SetUserVerified(false)
	options, session, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishRegistration(u, session, resp)
	wantInvalid(t, "registration without UV", err)

	a = passkeytest.New(origin)
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	a.SetUserVerified(false)
	_, err = login(t, s, s, a, u)
	wantInvalid(t, "login without UV", err)
	options, session, err = s.BeginDiscoverableLogin()
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = a.Get(options); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.FinishDiscoverableLogin(session, resp, func(_, _ []byte) (passkey.User, error) { return u, nil })
	wantInvalid(t, "discoverable login without UV", err)
}

func TestResponseForAnotherChallengeRefused(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	_, session1, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	options2, _, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(options2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishRegistration(u, session1, resp)
	wantInvalid(t, "registration response for another challenge", err)

	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	_, session1, err = s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	options2, session2, err := s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = a.Get(options2); err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, session1, resp)
	wantInvalid(t, "assertion for another challenge", err)
	if _, err := s.FinishLogin(u, session2, resp); err != nil {
		t.Errorf("assertion for its own challenge: %v", err)
	}
	// A registration session does not finish a login, nor the other way round.
	_, regSession, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, regSession, resp)
	wantInvalid(t, "assertion finished with a registration session", err)
}

func TestCloneWarning(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	id := u.Credentials[0].CredentialID
	for range 3 {
		got, err := login(t, s, s, a, u)
		if err != nil || got.CloneWarning {
			t.Fatalf("login: %+v, %v", got, err)
		}
		u.Credentials[0].SignCount = got.SignCount // the record in Secret stays at 0
	}
	a.SetCounter(id, 1) // a copy of the key, two uses behind: it signs 2, the store has 3
	got, err := login(t, s, s, a, u)
	if err != nil {
		t.Fatalf("login with a cloned counter: %v", err)
	}
	if !got.CloneWarning || got.SignCount != 2 || got.Record != nil || got.FactorID != u.Credentials[0].ID {
		t.Errorf("cloned counter: got %+v, want CloneWarning, count 2, no record", got)
	}
	a.SetCounter(id, 2) // signs 3: equal is a clone too
	if got, err = login(t, s, s, a, u); err != nil || !got.CloneWarning {
		t.Errorf("equal counter: got %+v, %v, want CloneWarning", got, err)
	}
	a.SetCounter(id, 9) // ahead: fine
	if got, err = login(t, s, s, a, u); err != nil || got.CloneWarning || got.SignCount != 10 {
		t.Errorf("counter ahead: got %+v, %v, want count 10", got, err)
	}
}

func TestSessionChecks(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	options, session, err := s.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishRegistration(u, setJSON(t, session, "expires", "2000-01-01T00:00:00Z"), resp)
	wantInvalid(t, "registration with an expired session", err)
	_, err = s.FinishRegistration(u, setJSON(t, session, "expires", "0001-01-01T00:00:00Z"), resp)
	wantInvalid(t, "registration with a session without expiry", err)
	_, err = s.FinishRegistration(newUser("u2"), session, resp)
	wantInvalid(t, "registration finished for another user", err)
	_, err = s.FinishRegistration(u, []byte("not json"), resp)
	wantInvalid(t, "registration with a malformed session", err)
	_, err = s.FinishRegistration(u, setJSON(t, session, "challenge", ""), resp)
	wantInvalid(t, "registration with an empty challenge", err)
	_, err = s.FinishRegistration(u, session, []byte(`{"id":"x"}`))
	wantInvalid(t, "registration with a malformed response", err)

	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	options, session, err = s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = a.Get(options); err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, setJSON(t, session, "expires", "2000-01-01T00:00:00Z"), resp)
	wantInvalid(t, "login with an expired session", err)
	_, err = s.FinishLogin(newUser("u2"), session, resp)
	wantInvalid(t, "login finished for another user", err)
	a.SetUserVerified(false)
	uvOff, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, setJSON(t, session, "userVerification", "discouraged"), uvOff)
	wantInvalid(t, "login without UV, the session saying UV is discouraged", err)
	if _, err := s.FinishLogin(u, session, resp); err != nil {
		t.Errorf("login with the session: %v", err)
	}
}

func TestTamperedAssertionRefused(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u := newUser("u1")
	u.Credentials = []store.Factor{register(t, s, s, a, u)}
	options, session, err := s.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Get(options)
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	if err := json.Unmarshal(resp, &r); err != nil {
		t.Fatal(err)
	}
	inner, _ := r["response"].(map[string]any)
	sig := b64(t, inner["signature"])
	sig[len(sig)-1] ^= 1
	inner["signature"] = base64.RawURLEncoding.EncodeToString(sig)
	tampered, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u, session, tampered)
	wantInvalid(t, "tampered signature", err)
}

func TestOtherUsersCredentialRefused(t *testing.T) {
	s := newService(t, cfg)
	a := passkeytest.New(origin)
	u1, u2 := newUser("u1"), newUser("u2")
	u1.Credentials = []store.Factor{register(t, s, s, a, u1)}
	u2.Credentials = []store.Factor{register(t, s, s, a, u2)}
	options, session, err := s.BeginLogin(u1)
	if err != nil {
		t.Fatal(err)
	}
	a.Prefer(u2.Credentials[0].CredentialID)
	resp, err := a.Get(setJSON(t, options, "allowCredentials", nil)) // a client ignoring the list
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.FinishLogin(u1, session, resp)
	wantInvalid(t, "u2's passkey for u1's login", err)

	// A record whose credential id is not the factor's is the caller's bug, not a bad credential.
	bad := u1
	bad.Credentials = []store.Factor{u1.Credentials[0]}
	bad.Credentials[0].CredentialID = u2.Credentials[0].CredentialID
	if _, _, err := s.BeginLogin(bad); err == nil || errors.Is(err, passkey.ErrInvalid) {
		t.Errorf("mismatched record: %v, want an error other than ErrInvalid", err)
	}
}
