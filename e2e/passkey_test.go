package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/toktok/toktok/app"
	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/passkey/passkeytest"
	"github.com/toktok/toktok/store"
)

// End-to-end tests of passkeys over GraphQL, with a software authenticator
// (passkeytest): registration, the passkey as a second factor, passwordless sign-in
// (by email and discoverable) under the anonymous-token rule, cloned authenticators,
// user verification, and ceremonies begun on one instance and finished on another.

// TestPasskeySecondFactor: a registered passkey is a confirmed WEBAUTHN factor that raises
// the session to aal2; after a password login, beginMfaChallenge and verifyMfa with the
// assertion raise the session; a challenge is single use.
func TestPasskeySecondFactor(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	reg := e.registerMFA("ann@example.com")
	key := newAuthenticator()
	done := e.registerPasskey(reg.AccessToken, key)
	if f := done.Factor; f.Type != "WEBAUTHN" || !f.Confirmed || f.Name == nil || *f.Name != "Laptop" {
		t.Fatalf("registered factor %+v", f)
	}
	wantRecoveryCodes(t, done.RecoveryCodes)
	wantLevel(t, done.Auth, "aal2", false, "pwd", "webauthn")
	if me := e.me(done.Auth.AccessToken); !me.MfaEnabled || len(me.Factors) != 1 || me.RecoveryCodesRemaining != 10 {
		t.Fatalf("me after registration: %+v", me)
	}
	e.mail.wait(t, "ann@example.com", mfaSubjectAdded)

	l := e.loginMFA("ann@example.com", strongPassword)
	wantLevel(t, l, "aal1", true, "pwd")
	c := e.beginMfaChallenge(l.AccessToken)
	cred := mfaGet(t, key, c.Options)
	in := map[string]any{"webauthnChallengeId": c.ChallengeID, "webauthnCredential": cred}
	v := e.verifyMfa(l.AccessToken, in)
	wantLevel(t, v, "aal2", false, "pwd", "webauthn")
	e.mustData(e.gql(v.AccessToken, mfaUserOps["mySessions"], nil), nil)

	// The same challenge again, from another aal1 session and on the first one.
	l2 := e.loginMFA("ann@example.com", strongPassword)
	e.wantCode(e.verifyMfaReq(l2.AccessToken, in), "INVALID_CREDENTIALS")
	e.wantCode(e.verifyMfaReq(l.AccessToken, in), "INVALID_CREDENTIALS")
	// A fresh assertion for another session's challenge is refused too.
	c2 := e.beginMfaChallenge(l.AccessToken)
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{
		"webauthnChallengeId": c2.ChallengeID, "webauthnCredential": mfaGet(t, key, c2.Options),
	}), "INVALID_CREDENTIALS")
	e.wantMFARequired(e.gql(l2.AccessToken, mfaUserOps["mySessions"], nil), "verify")
	// A challenge expires after 5 minutes.
	c4 := e.beginMfaChallenge(l2.AccessToken)
	e.clock.Advance(5*time.Minute + time.Second)
	e.wantCode(e.verifyMfaReq(l2.AccessToken, map[string]any{
		"webauthnChallengeId": c4.ChallengeID, "webauthnCredential": mfaGet(t, key, c4.Options),
	}), "INVALID_CREDENTIALS")

	// A registration begun on one session does not finish on another, nor twice.
	rc := e.beginRegistration(v.AccessToken)
	second := mfaCreate(t, newAuthenticator(), rc.Options)
	e.wantCode(e.finishRegistrationReq(done.Auth.AccessToken, rc.ChallengeID, second), "BAD_USER_INPUT")
	e.wantCode(e.finishRegistrationReq(v.AccessToken, rc.ChallengeID, second), "BAD_USER_INPUT")
	if me := e.me(v.AccessToken); len(me.Factors) != 1 {
		t.Fatalf("factors after refused registrations: %+v", me.Factors)
	}
}

// mfaStrangerKey is an authenticator holding one passkey for the RP id "localhost" that no
// server registered.
func mfaStrangerKey(t testing.TB) *passkeytest.Authenticator {
	t.Helper()
	a := newAuthenticator()
	opts := json.RawMessage(`{"rp":{"id":"localhost","name":"x"},"user":{"id":"c3RyYW5nZXI","name":"s","displayName":"s"},` +
		`"challenge":"AAAAAAAAAAAAAAAAAAAAAA","pubKeyCredParams":[{"type":"public-key","alg":-7}]}`)
	mfaCreate(t, a, opts)
	return a
}

// TestPasskeyPasswordless: beginPasskeyLogin with an email or without one (discoverable)
// and finishPasskeyLogin start an aal2 session with amr ["webauthn"]; both need the
// anonymous token, the same at both ends; an unknown address gets options like any other
// and fails at the finish; a disabled account is refused.
func TestPasskeyPasswordless(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.passkeySignUp("ann@example.com")
	if !e.cfg.Account.AnonJWT {
		t.Fatal("the default configuration should require anonymous tokens")
	}

	for name, email := range map[string]*string{"by email": mfaPtr("ann@example.com"), "discoverable": nil} {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			var resp struct{ FinishPasskeyLogin mfaAuth }
			e.mustData(e.passkeyLoginReq(u.Key, email), &resp)
			a := resp.FinishPasskeyLogin
			wantLevel(t, a, "aal2", false, "webauthn")
			if a.User.ID != u.ID {
				t.Fatalf("signed in as %s, want %s", a.User.ID, u.ID)
			}
			e.mustData(e.gql(a.AccessToken, mfaUserOps["mySessions"], nil), nil)
			wantLevel(t, e.refreshMFA(a.RefreshToken), "aal2", false, "webauthn")
		})
	}

	t.Run("anonymous token", func(t *testing.T) {
		e := e.in(t)
		e.wantCode(e.beginPasskeyLoginReq("", mfaPtr("ann@example.com")), "ANONYMOUS_TOKEN_REQUIRED")
		e.wantCode(e.beginPasskeyLoginReq("", nil), "ANONYMOUS_TOKEN_REQUIRED")
		anon := e.anon()
		c := e.beginPasskeyLogin(anon, mfaPtr("ann@example.com"))
		cred := mfaGet(t, u.Key, c.Options)
		e.wantCode(e.finishPasskeyLoginReq("", c.ChallengeID, cred), "ANONYMOUS_TOKEN_REQUIRED")
		// A user's access token is no anonymous token either.
		e.wantCode(e.finishPasskeyLoginReq(u.Auth.AccessToken, c.ChallengeID, cred), "ANONYMOUS_TOKEN_REQUIRED")
		// Refused before the challenge was taken: it still finishes under its token.
		wantLevel(t, e.finishPasskeyLogin(anon, c.ChallengeID, cred), "aal2", false, "webauthn")

		c = e.beginPasskeyLogin(e.anon(), nil)
		r := e.finishPasskeyLoginReq(e.anon(), c.ChallengeID, mfaGet(t, u.Key, c.Options))
		if r.Code() != "BAD_USER_INPUT" {
			t.Fatalf("a ceremony finished under another anonymous token: %s", r.Raw)
		}
	})

	t.Run("single use", func(t *testing.T) {
		e := e.in(t)
		anon := e.anon()
		c := e.beginPasskeyLogin(anon, nil)
		cred := mfaGet(t, u.Key, c.Options)
		e.finishPasskeyLogin(anon, c.ChallengeID, cred)
		e.wantCode(e.finishPasskeyLoginReq(anon, c.ChallengeID, cred), "BAD_USER_INPUT")
		// Nor is a challenge of another ceremony accepted here.
		l := e.loginMFA(u.Email, strongPassword)
		mc := e.beginMfaChallenge(l.AccessToken)
		e.wantCode(e.finishPasskeyLoginReq(anon, mc.ChallengeID, mfaGet(t, u.Key, mc.Options)), "BAD_USER_INPUT")
	})

	t.Run("unknown email", func(t *testing.T) {
		e := e.in(t)
		e.registerMFA("bob@example.com")
		// The options are alike whoever is named (an unknown address, an account without a
		// passkey, one with) and list no credentials: nothing tells which addresses exist.
		opts := map[string]json.RawMessage{}
		for _, addr := range []string{"nobody@example.com", "bob@example.com", "ann@example.com"} {
			opts[addr] = e.beginPasskeyLogin(e.anon(), mfaPtr(addr)).Options
		}
		for addr, o := range opts {
			if k, want := mfaOptionKeys(t, o), mfaOptionKeys(t, opts["ann@example.com"]); !slices.Equal(k, want) {
				t.Errorf("options for %s have keys %v, for ann %v", addr, k, want)
			}
			if n := mfaAllowCount(t, o); n != 0 && addr != "ann@example.com" {
				t.Errorf("options for %s list %d credentials", addr, n)
			}
		}
		// The finish fails for an unknown address, with ann's passkey or an unknown one,
		// and for bob's address with ann's passkey.
		for _, tc := range []struct {
			email string
			key   *passkeytest.Authenticator
		}{
			{"nobody@example.com", u.Key}, {"nobody@example.com", mfaStrangerKey(t)}, {"bob@example.com", u.Key},
		} {
			anon := e.anon()
			c := e.beginPasskeyLogin(anon, mfaPtr(tc.email))
			e.wantCode(e.finishPasskeyLoginReq(anon, c.ChallengeID, mfaGet(t, tc.key, c.Options)), "INVALID_CREDENTIALS")
		}
		// A discoverable sign-in with an unknown passkey fails alike.
		anon := e.anon()
		c := e.beginPasskeyLogin(anon, nil)
		e.wantCode(e.finishPasskeyLoginReq(anon, c.ChallengeID, mfaGet(t, mfaStrangerKey(t), c.Options)), "INVALID_CREDENTIALS")
	})

	t.Run("disabled account", func(t *testing.T) {
		e := e.in(t)
		staffSetDisabled(e.testEnv, u.ID, true)
		e.wantCode(e.passkeyLoginReq(u.Key, mfaPtr("ann@example.com")), "ACCOUNT_DISABLED")
		e.wantCode(e.passkeyLoginReq(u.Key, nil), "ACCOUNT_DISABLED")
		staffSetDisabled(e.testEnv, u.ID, false)
		e.mustData(e.passkeyLoginReq(u.Key, nil), nil)
	})
}

// TestPasskeyPasswordlessWithoutAnonymousTokens: with --anojwt=no a passwordless sign-in
// needs no token.
func TestPasskeyPasswordlessWithoutAnonymousTokens(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, func(c *config.Config) { c.Account.AnonJWT = false })
	u := e.passkeySignUp("ann@example.com")
	c := e.beginPasskeyLogin("", mfaPtr(u.Email))
	wantLevel(t, e.finishPasskeyLogin("", c.ChallengeID, mfaGet(t, u.Key, c.Options)), "aal2", false, "webauthn")
}

// mfaOptionKeys returns the sorted top-level keys of a ceremony's options (under
// publicKey when wrapped), without the challenge's value.
func mfaOptionKeys(t testing.TB, options json.RawMessage) []string {
	t.Helper()
	m := mfaOptions(t, options)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func mfaOptions(t testing.TB, options json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(options, &m); err != nil {
		t.Fatalf("options %s: %v", options, err)
	}
	if pk, ok := m["publicKey"]; ok {
		m = nil
		if err := json.Unmarshal(pk, &m); err != nil {
			t.Fatalf("options.publicKey %s: %v", pk, err)
		}
	}
	return m
}

// mfaAllowCount is the number of allowCredentials of request options.
func mfaAllowCount(t testing.TB, options json.RawMessage) int {
	t.Helper()
	raw, ok := mfaOptions(t, options)["allowCredentials"]
	if !ok {
		return 0
	}
	var list []any
	if err := json.Unmarshal(raw, &list); err != nil {
		t.Fatalf("allowCredentials %s: %v", raw, err)
	}
	return len(list)
}

// TestPasskeyClonedAuthenticator: an assertion whose signature counter did not move
// forward (a copy of the authenticator) is refused, audited and notified, in a
// passwordless sign-in and as a second factor.
func TestPasskeyClonedAuthenticator(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)
	u := e.passkeySignUp("ann@example.com")
	e.mail.wait(t, u.Email, mfaSubjectAdded)
	id := u.Key.CredentialIDs()[0]

	e.mustData(e.passkeyLoginReq(u.Key, nil), nil) // the server has seen counter 1
	u.Key.SetCounter(id, 0)                        // the next assertion signs 1 again
	e.wantCode(e.passkeyLoginReq(u.Key, mfaPtr(u.Email)), "INVALID_CREDENTIALS")
	findAuditEvent(t, e.audit(u.ID), "webauthn_clone")
	m := e.mail.wait(t, u.Email, mfaSubjectClone)
	if m.Text == "" {
		t.Error("clone notice without text")
	}

	// As a second factor: the counter (now 1 on the server) set back again.
	l := e.loginMFA(u.Email, strongPassword)
	u.Key.SetCounter(id, 0)
	c := e.beginMfaChallenge(l.AccessToken)
	e.wantCode(e.verifyMfaReq(l.AccessToken, map[string]any{
		"webauthnChallengeId": c.ChallengeID, "webauthnCredential": mfaGet(t, u.Key, c.Options),
	}), "INVALID_CREDENTIALS")
	e.mail.wait(t, u.Email, mfaSubjectClone)
	e.wantMFARequired(e.gql(l.AccessToken, mfaUserOps["mySessions"], nil), "verify")
}

// findAuditEvent fails the test unless evs holds an event of type typ.
func findAuditEvent(t testing.TB, evs []store.AuditEvent, typ string) {
	t.Helper()
	var types []string
	for _, ev := range evs {
		if ev.Type == typ {
			return
		}
		types = append(types, ev.Type)
	}
	t.Fatalf("no audit event %q among %v", typ, types)
}

// TestPasskeyUserVerificationRequired: an authenticator that does not verify the user is
// refused at registration, as a second factor and for a passwordless sign-in.
func TestPasskeyUserVerificationRequired(t *testing.T) {
	t.Parallel()
	e := newMFAEnv(t, nil)

	reg := e.registerMFA("bob@example.com")
	lazy := newAuthenticator()
	lazy.SetUserVerified(false)
	c := e.beginRegistration(reg.AccessToken)
	e.wantCode(e.finishRegistrationReq(reg.AccessToken, c.ChallengeID, mfaCreate(t, lazy, c.Options)), "BAD_USER_INPUT")
	if me := e.me(reg.AccessToken); me.MfaEnabled || len(me.Factors) != 0 {
		t.Fatalf("a registration without user verification made a factor: %+v", me)
	}

	u := e.passkeySignUp("ann@example.com")
	u.Key.SetUserVerified(false)
	e.wantCode(e.passkeyLoginReq(u.Key, nil), "INVALID_CREDENTIALS")
	e.wantCode(e.passkeyLoginReq(u.Key, mfaPtr(u.Email)), "INVALID_CREDENTIALS")
	l := e.loginMFA(u.Email, strongPassword)
	mc := e.beginMfaChallenge(l.AccessToken)
	e.wantCode(e.verifyMfaReq(l.AccessToken, map[string]any{
		"webauthnChallengeId": mc.ChallengeID, "webauthnCredential": mfaGet(t, u.Key, mc.Options),
	}), "INVALID_CREDENTIALS")
	u.Key.SetUserVerified(true)
	e.mustData(e.passkeyLoginReq(u.Key, nil), nil)
}

// TestPasskeyTwoInstances: two servers on one store; every ceremony begun on one finishes
// on the other (registration, second factor, passwordless sign-in), and so does a TOTP
// enrolment.
func TestPasskeyTwoInstances(t *testing.T) {
	t.Parallel()
	sink := startMailSink(t)
	cfg := testConfig(t)
	sink.Configure(&cfg)
	cfg.HTTP.PublicURL = mfaOrigin
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	shared := sharedSQLite(t, cfg)
	box := &mfaMailbox{sink: sink}
	a := &mfaEnv{testEnv: startEnvWith(t, cfg, clock, app.Options{Store: shared()}), mail: box, scan: scanFor(t)}
	b := &mfaEnv{testEnv: startEnvWith(t, cfg, clock, app.Options{Store: shared()}), mail: box, scan: scanFor(t)}

	reg := a.registerMFA("ann@example.com")
	key := newAuthenticator()
	rc := a.beginRegistration(reg.AccessToken)
	var fin struct{ FinishWebAuthnRegistration mfaEnrolled }
	b.mustData(b.finishRegistrationReq(reg.AccessToken, rc.ChallengeID, mfaCreate(t, key, rc.Options)), &fin)
	wantLevel(t, fin.FinishWebAuthnRegistration.Auth, "aal2", false, "pwd", "webauthn")

	l := a.loginMFA("ann@example.com", strongPassword)
	mc := a.beginMfaChallenge(l.AccessToken)
	wantLevel(t, b.verifyMfa(l.AccessToken, map[string]any{
		"webauthnChallengeId": mc.ChallengeID, "webauthnCredential": mfaGet(t, key, mc.Options),
	}), "aal2", false, "pwd", "webauthn")

	for name, email := range map[string]*string{"by email": mfaPtr("ann@example.com"), "discoverable": nil} {
		anon := a.anon()
		pc := a.beginPasskeyLogin(anon, email)
		p := b.finishPasskeyLogin(anon, pc.ChallengeID, mfaGet(t, key, pc.Options))
		if p.User.ID != reg.User.ID {
			t.Fatalf("%s: signed in as %s", name, p.User.ID)
		}
		wantLevel(t, p, "aal2", false, "webauthn")
	}

	bob := a.registerMFA("bob@example.com")
	en := a.enrollTotp(bob.AccessToken)
	done := b.confirmTotp(bob.AccessToken, en.FactorID, b.code(en.Secret))
	wantLevel(t, done.Auth, "aal2", false, "pwd", "otp")
	clock.Advance(mfa.Period)
	bl := b.loginMFA("bob@example.com", strongPassword)
	wantLevel(t, a.verifyMfa(bl.AccessToken, map[string]any{"totpCode": a.code(en.Secret)}), "aal2", false, "pwd", "otp")
}
