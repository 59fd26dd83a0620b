package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/toktok/toktok/config"
	"github.com/toktok/toktok/mfa"
	"github.com/toktok/toktok/passkey/passkeytest"
	"github.com/toktok/toktok/store"
)

// Helpers of the second-factor and passkey tests (mfa_test.go, passkey_test.go): an env
// with a mail sink and the WebAuthn relying party of mfaOrigin, the MFA operations over
// GraphQL, and the checks of a payload's level and of an access token's aal and amr.

// mfaOrigin is the public URL of the MFA envs: the WebAuthn RP id is its host
// ("localhost") and its origin the one a passkeytest authenticator must name.
const mfaOrigin = "http://localhost:8080"

// mfaFields are payloadFields with the assurance level.
const mfaFields = payloadFields + ` aal mfaRequired`

// mfaAuth is an AuthPayload with its level.
type mfaAuth struct {
	authPayload
	Aal         string
	MfaRequired bool
}

// mfaFactor is a Factor.
type mfaFactor struct {
	ID         string
	Type       string
	Name       *string
	Confirmed  bool
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

const mfaFactorFields = `id type name confirmed createdAt lastUsedAt`

// mfaEnrolled is an MfaEnrolled.
type mfaEnrolled struct {
	Factor        mfaFactor
	RecoveryCodes []string
	Auth          mfaAuth
}

const mfaEnrolledFields = `factor { ` + mfaFactorFields + ` } recoveryCodes auth { ` + mfaFields + ` }`

// mfaMeUser is me with its second factors.
type mfaMeUser struct {
	ID                     string
	Email                  string
	MfaEnabled             bool
	Factors                []mfaFactor
	RecoveryCodesRemaining int
}

// mfaEnv is a test env whose mails go to a sink and whose relying party is mfaOrigin.
type mfaEnv struct {
	*testEnv
	mail *mfaMailbox
	scan *logScan // the log scan of the test that started the app
}

// newMFAEnv starts an mfaEnv on testConfig changed by edit (may be nil).
func newMFAEnv(t *testing.T, edit func(*config.Config)) *mfaEnv {
	t.Helper()
	sink := startMailSink(t)
	e := newTestEnv(t, func(c *config.Config) {
		sink.Configure(c)
		c.HTTP.PublicURL = mfaOrigin
		if edit != nil {
			edit(c)
		}
	})
	return &mfaEnv{testEnv: e, mail: &mfaMailbox{sink: sink}, scan: scanFor(t)}
}

// in returns a copy of e that reports to t (a subtest).
func (e *mfaEnv) in(t testing.TB) *mfaEnv {
	c := *e
	c.testEnv = e.testEnv.in(t)
	return &c
}

// secret notes a value the log must never hold (the TOTP secret, recovery codes).
func (e *mfaEnv) secret(v, where string) { e.scan.Secret(v, where) }

// mfaMailbox reads a sink's mails by recipient and subject, keeping the ones not asked
// for yet (several users and kinds of mail share one sink, in no set order).
type mfaMailbox struct {
	sink *mailSink
	held []sinkMail
}

// wait returns the first mail to to whose subject contains subject, waiting for it
// (smtpsink.DefaultWait at most after the last mail that arrived).
func (b *mfaMailbox) wait(t testing.TB, to, subject string) sinkMail {
	t.Helper()
	for {
		for i, m := range b.held {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) {
				b.held = slices.Delete(b.held, i, i+1)
				return m
			}
		}
		b.held = append(b.held, b.sink.Sink.Next(t))
	}
}

// drain returns every mail received once no mail to any of addrs is pending, with the
// ones held.
func (b *mfaMailbox) drain(e *testEnv, addrs ...string) []sinkMail {
	e.t.Helper()
	e.outboxSettle(addrs...)
	for b.sink.Pending() > 0 {
		b.held = append(b.held, b.sink.Sink.Next(e.t))
	}
	out := b.held
	b.held = nil
	return out
}

// The notices' subjects (mailer/templates/en/mfa_notice.subject.txt).
const (
	mfaSubjectAdded    = "A second factor was added"
	mfaSubjectRemoved  = "A second factor was removed"
	mfaSubjectRecovery = "A recovery code was used"
	mfaSubjectRegen    = "New recovery codes"
	mfaSubjectReset    = "were removed"
	mfaSubjectClone    = "may have been copied"
)

// mfaClaims decodes an access token's payload (unverified).
func mfaClaims(t testing.TB, tok string) map[string]any {
	t.Helper()
	_, c := authJWT(t, tok)
	return c
}

// mfaAMR returns the amr claim of an access token.
func mfaAMR(t testing.TB, tok string) []string {
	t.Helper()
	raw, _ := mfaClaims(t, tok)["amr"].([]any)
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			t.Fatalf("amr holds %v (%T)", v, v)
		}
		out = append(out, s)
	}
	return out
}

// wantLevel fails the test unless a has the level aal and mfaRequired, and its access
// token claims aal and exactly the methods amr (in any order).
func wantLevel(t testing.TB, a mfaAuth, aal string, mfaRequired bool, amr ...string) {
	t.Helper()
	if a.Aal != aal || a.MfaRequired != mfaRequired {
		t.Fatalf("payload aal %q mfaRequired %t, want %q %t", a.Aal, a.MfaRequired, aal, mfaRequired)
	}
	if got := mfaClaims(t, a.AccessToken)["aal"]; got != aal {
		t.Fatalf("access token aal %v, want %s", got, aal)
	}
	got := mfaAMR(t, a.AccessToken)
	slices.Sort(got)
	want := slices.Sorted(slices.Values(amr))
	if !slices.Equal(got, want) {
		t.Fatalf("access token amr %v, want %v", got, want)
	}
}

// wantMFARequired fails the test unless r is MFA_REQUIRED with reason and no data.
func (e *mfaEnv) wantMFARequired(r gqlResponse, reason string) {
	e.t.Helper()
	ge := e.wantCode(r, "MFA_REQUIRED")
	if got := ge.Extensions["reason"]; got != reason {
		e.t.Fatalf("MFA_REQUIRED reason %v, want %q: %s", got, reason, r.Raw)
	}
	// No data: null, or a nullable field set to null.
	if d := string(r.Data); d != "" && d != "null" {
		var fields map[string]any
		if err := json.Unmarshal(r.Data, &fields); err != nil {
			e.t.Fatalf("data %s: %v", d, err)
		}
		for k, v := range fields {
			if v != nil {
				e.t.Fatalf("MFA_REQUIRED with data %s: %v", k, v)
			}
		}
	}
}

// loginMFA signs in with a password as an SPA does and returns the payload with its level.
func (e *mfaEnv) loginMFA(email, password string) mfaAuth {
	e.t.Helper()
	var resp struct{ Login mfaAuth }
	e.mustData(e.loginMFAReq(email, password), &resp)
	return resp.Login
}

func (e *mfaEnv) loginMFAReq(email, password string) gqlResponse {
	e.t.Helper()
	bearer := ""
	if e.cfg.Account.AnonJWT {
		bearer = e.anon()
	}
	return e.gql(bearer, `mutation($input: LoginInput!) { login(input: $input) { `+mfaFields+` } }`,
		map[string]any{"input": map[string]any{"email": e.enc(email), "password": e.enc(password)}})
}

// registerMFA registers email and returns the payload with its level.
func (e *mfaEnv) registerMFA(email string) mfaAuth {
	e.t.Helper()
	var resp struct{ Register mfaAuth }
	e.mustData(e.registerReqFields(email, strongPassword, nil, mfaFields), &resp)
	return resp.Register
}

func (e *mfaEnv) refreshMFAReq(rt string) gqlResponse {
	e.t.Helper()
	return e.gql("", `mutation($rt: String!) { refreshToken(refreshToken: $rt) { `+mfaFields+` } }`, map[string]any{"rt": rt})
}

func (e *mfaEnv) refreshMFA(rt string) mfaAuth {
	e.t.Helper()
	var resp struct{ RefreshToken mfaAuth }
	e.mustData(e.refreshMFAReq(rt), &resp)
	return resp.RefreshToken
}

// me returns the signed-in user with its factors.
func (e *mfaEnv) me(bearer string) mfaMeUser {
	e.t.Helper()
	var resp struct{ Me *mfaMeUser }
	e.mustData(e.gql(bearer, `{ me { id email mfaEnabled recoveryCodesRemaining factors { `+mfaFactorFields+` } } }`, nil), &resp)
	if resp.Me == nil {
		e.t.Fatal("me is null")
	}
	return *resp.Me
}

// totpEnrollment is a TotpEnrollment.
type totpEnrollment struct {
	FactorID   string
	Secret     string
	OtpauthURI string
	QrCodeSvg  string
}

func (e *mfaEnv) enrollTotpReq(bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation { enrollTotp(name: "Phone") { factorId secret otpauthUri qrCodeSvg } }`, nil)
}

// enrollTotp starts a TOTP factor; its secret is noted for the log scan.
func (e *mfaEnv) enrollTotp(bearer string) totpEnrollment {
	e.t.Helper()
	var resp struct{ EnrollTotp totpEnrollment }
	e.mustData(e.enrollTotpReq(bearer), &resp)
	en := resp.EnrollTotp
	if en.Secret == "" || en.FactorID == "" {
		e.t.Fatalf("enrollTotp %+v", en)
	}
	e.secret(en.Secret, "TOTP secret")
	return en
}

func (e *mfaEnv) confirmTotpReq(bearer, factorID, code string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($id: ID!, $code: String!) { confirmTotp(factorId: $id, code: $code) { `+mfaEnrolledFields+` } }`,
		map[string]any{"id": factorID, "code": code})
}

// confirmTotp confirms a TOTP factor; the recovery codes are noted for the log scan.
func (e *mfaEnv) confirmTotp(bearer, factorID, code string) mfaEnrolled {
	e.t.Helper()
	var resp struct{ ConfirmTotp mfaEnrolled }
	e.mustData(e.confirmTotpReq(bearer, factorID, code), &resp)
	for _, c := range resp.ConfirmTotp.RecoveryCodes {
		e.secret(c, "recovery code")
	}
	return resp.ConfirmTotp
}

// code is the TOTP code of secret at the test clock's time.
func (e *mfaEnv) code(secret string) string {
	e.t.Helper()
	return mfaCodeAt(e.t, secret, e.clock.Now())
}

func mfaCodeAt(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := mfa.TOTPCode(secret, at)
	if err != nil {
		t.Fatalf("TOTPCode: %v", err)
	}
	return c
}

// wrongCode is a well-formed TOTP code that none of the steps the server accepts now
// (the current one and one either side) gives.
func (e *mfaEnv) wrongCode(secret string) string {
	e.t.Helper()
	now := e.clock.Now()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-mfa.Period, 0, mfa.Period} {
		valid[mfaCodeAt(e.t, secret, now.Add(d))] = true
	}
	for h := 1; ; h++ {
		if c := mfaCodeAt(e.t, secret, now.Add(time.Duration(h)*time.Hour)); !valid[c] {
			return c
		}
	}
}

// totpUser is a signed-up user with a confirmed TOTP factor.
type totpUser struct {
	Email    string
	ID       string
	Secret   string
	FactorID string
	Codes    []string // the recovery codes
	Auth     mfaAuth  // the sign-up session, at aal2 since the confirmation
}

// totpSignUp registers email, enrols and confirms a TOTP factor on the sign-up session,
// and moves the clock to the next time step, so that the next code is not a replay of the
// confirmation's.
func (e *mfaEnv) totpSignUp(email string) totpUser {
	e.t.Helper()
	reg := e.registerMFA(email)
	en := e.enrollTotp(reg.AccessToken)
	done := e.confirmTotp(reg.AccessToken, en.FactorID, e.code(en.Secret))
	e.clock.Advance(mfa.Period)
	return totpUser{
		Email: email, ID: reg.User.ID, Secret: en.Secret, FactorID: en.FactorID,
		Codes: done.RecoveryCodes, Auth: done.Auth,
	}
}

// verifyMfaReq sends verifyMfa with input.
func (e *mfaEnv) verifyMfaReq(bearer string, input map[string]any) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($in: MfaVerifyInput!) { verifyMfa(input: $in) { `+mfaFields+` } }`, map[string]any{"in": input})
}

func (e *mfaEnv) verifyMfa(bearer string, input map[string]any) mfaAuth {
	e.t.Helper()
	var resp struct{ VerifyMfa mfaAuth }
	e.mustData(e.verifyMfaReq(bearer, input), &resp)
	return resp.VerifyMfa
}

// loginVerified signs in with the password and verifies a TOTP code of u at the clock's
// time (moved on one step after, so the next code is fresh).
func (e *mfaEnv) loginVerified(u totpUser) mfaAuth {
	e.t.Helper()
	l := e.loginMFA(u.Email, strongPassword)
	a := e.verifyMfa(l.AccessToken, map[string]any{"totpCode": e.code(u.Secret)})
	e.clock.Advance(mfa.Period)
	return a
}

// makeAdmin gives an existing user the ADMIN role (in the store: no mutation does it).
func (e *mfaEnv) makeAdmin(userID string) { staffSetRole(e.testEnv, userID, store.RoleAdmin) }

// auditTypes returns the types of the user's latest audit events, newest first.
func (e *mfaEnv) audit(userID string) []store.AuditEvent {
	e.t.Helper()
	evs, err := e.app.Support().Audit(e.reqContext(), userID, 100)
	if err != nil {
		e.t.Fatalf("audit of %s: %v", userID, err)
	}
	return evs
}

// ---------------------------------------------------------------------------------------
// Passkeys.

// webAuthnChallenge is a WebAuthnChallenge with its options as JSON text.
type webAuthnChallenge struct {
	ChallengeID string
	Options     json.RawMessage
}

// newAuthenticator is a software authenticator for the MFA envs' origin.
func newAuthenticator() *passkeytest.Authenticator { return passkeytest.New(mfaOrigin) }

func (e *mfaEnv) beginRegistrationReq(bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation { beginWebAuthnRegistration(name: "Laptop") { challengeId options } }`, nil)
}

func (e *mfaEnv) beginRegistration(bearer string) webAuthnChallenge {
	e.t.Helper()
	var resp struct{ BeginWebAuthnRegistration webAuthnChallenge }
	e.mustData(e.beginRegistrationReq(bearer), &resp)
	return resp.BeginWebAuthnRegistration
}

func (e *mfaEnv) finishRegistrationReq(bearer, challengeID string, cred json.RawMessage) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($id: ID!, $cred: JSON!) { finishWebAuthnRegistration(challengeId: $id, credential: $cred) { `+mfaEnrolledFields+` } }`,
		map[string]any{"id": challengeID, "cred": cred})
}

// create answers a ceremony's options with a, failing the test if it cannot.
func mfaCreate(t testing.TB, a *passkeytest.Authenticator, options json.RawMessage) json.RawMessage {
	t.Helper()
	cred, err := a.Create(options)
	if err != nil {
		t.Fatalf("authenticator create: %v\noptions %s", err, options)
	}
	return cred
}

func mfaGet(t testing.TB, a *passkeytest.Authenticator, options json.RawMessage) json.RawMessage {
	t.Helper()
	cred, err := a.Get(options)
	if err != nil {
		t.Fatalf("authenticator get: %v\noptions %s", err, options)
	}
	return cred
}

// registerPasskey registers a new passkey of a for the caller of bearer.
func (e *mfaEnv) registerPasskey(bearer string, a *passkeytest.Authenticator) mfaEnrolled {
	e.t.Helper()
	c := e.beginRegistration(bearer)
	var resp struct{ FinishWebAuthnRegistration mfaEnrolled }
	e.mustData(e.finishRegistrationReq(bearer, c.ChallengeID, mfaCreate(e.t, a, c.Options)), &resp)
	for _, rc := range resp.FinishWebAuthnRegistration.RecoveryCodes {
		e.secret(rc, "recovery code")
	}
	return resp.FinishWebAuthnRegistration
}

func (e *mfaEnv) beginMfaChallengeReq(bearer string) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation { beginMfaChallenge { challengeId options } }`, nil)
}

func (e *mfaEnv) beginMfaChallenge(bearer string) webAuthnChallenge {
	e.t.Helper()
	var resp struct{ BeginMfaChallenge webAuthnChallenge }
	e.mustData(e.beginMfaChallengeReq(bearer), &resp)
	return resp.BeginMfaChallenge
}

// beginPasskeyLoginReq sends beginPasskeyLogin with bearer (an anonymous token or none),
// with email when not nil.
func (e *mfaEnv) beginPasskeyLoginReq(bearer string, email *string) gqlResponse {
	e.t.Helper()
	if email == nil {
		return e.gql(bearer, `mutation { beginPasskeyLogin { challengeId options } }`, nil)
	}
	return e.gql(bearer, `mutation($email: String) { beginPasskeyLogin(email: $email) { challengeId options } }`, map[string]any{"email": *email})
}

func (e *mfaEnv) beginPasskeyLogin(bearer string, email *string) webAuthnChallenge {
	e.t.Helper()
	var resp struct{ BeginPasskeyLogin webAuthnChallenge }
	e.mustData(e.beginPasskeyLoginReq(bearer, email), &resp)
	return resp.BeginPasskeyLogin
}

func (e *mfaEnv) finishPasskeyLoginReq(bearer, challengeID string, cred json.RawMessage) gqlResponse {
	e.t.Helper()
	return e.gql(bearer, `mutation($id: ID!, $cred: JSON!) { finishPasskeyLogin(challengeId: $id, credential: $cred) { `+mfaFields+` } }`,
		map[string]any{"id": challengeID, "cred": cred})
}

func (e *mfaEnv) finishPasskeyLogin(bearer, challengeID string, cred json.RawMessage) mfaAuth {
	e.t.Helper()
	var resp struct{ FinishPasskeyLogin mfaAuth }
	e.mustData(e.finishPasskeyLoginReq(bearer, challengeID, cred), &resp)
	return resp.FinishPasskeyLogin
}

// passkeyLogin signs in with a's passkey without a password (discoverable when email is
// nil), under a fresh anonymous token when the env requires one.
func (e *mfaEnv) passkeyLoginReq(a *passkeytest.Authenticator, email *string) gqlResponse {
	e.t.Helper()
	bearer := ""
	if e.cfg.Account.AnonJWT {
		bearer = e.anon()
	}
	c := e.beginPasskeyLogin(bearer, email)
	return e.finishPasskeyLoginReq(bearer, c.ChallengeID, mfaGet(e.t, a, c.Options))
}

// passkeyUser is a signed-up user with a passkey.
type passkeyUser struct {
	Email string
	ID    string
	Key   *passkeytest.Authenticator
	Codes []string
	Auth  mfaAuth // the sign-up session, at aal2 since the registration
}

// passkeySignUp registers email and a passkey for it on the sign-up session.
func (e *mfaEnv) passkeySignUp(email string) passkeyUser {
	e.t.Helper()
	reg := e.registerMFA(email)
	a := newAuthenticator()
	done := e.registerPasskey(reg.AccessToken, a)
	return passkeyUser{Email: email, ID: reg.User.ID, Key: a, Codes: done.RecoveryCodes, Auth: done.Auth}
}

func mfaPtr[T any](v T) *T { return &v }
