package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// mfaTests check store.MFAStore and the fields it keeps elsewhere: User.MFAEnabled,
// Session.AAL and Session.AMR, and what PurgeExpired and FinishUserDeletion remove of it.
var mfaTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"FactorRoundTrip", testFactorRoundTrip},
	{"FactorConflictsAndUnknownUser", testFactorConflictsAndUnknownUser},
	{"FactorPendingExpiry", testFactorPendingExpiry},
	{"ConfirmFactorSetsMFAEnabled", testConfirmFactorSetsMFAEnabled},
	{"FactorByCredentialID", testFactorByCredentialID},
	{"FactorOtherUser", testFactorOtherUser},
	{"DeleteFactor", testDeleteFactor},
	{"DeleteUserFactors", testDeleteUserFactors},
	{"UseTotpStep", testUseTotpStep},
	{"UseTotpStepConcurrent", testUseTotpStepConcurrent},
	{"UseWebAuthn", testUseWebAuthn},
	{"UseWebAuthnConcurrent", testUseWebAuthnConcurrent},
	{"RecoveryCodes", testRecoveryCodes},
	{"RecoveryCodeConcurrent", testRecoveryCodeConcurrent},
	{"SessionLevelRoundTrip", testSessionLevelRoundTrip},
	{"RaiseSessionLevel", testRaiseSessionLevel},
	{"RaiseSessionLevelRefusals", testRaiseSessionLevelRefusals},
	{"ChallengeRoundTrip", testChallengeRoundTrip},
	{"ChallengeExpiry", testChallengeExpiry},
	{"ChallengeTakeConcurrent", testChallengeTakeConcurrent},
	{"PurgeExpiredMFA", testPurgeExpiredMFA},
	{"FinishUserDeletionMFA", testFinishUserDeletionMFA},
}

// pendingFor is how long the suite's pending factors stay confirmable.
const pendingFor = 10 * time.Minute

// newTOTPFactor returns a pending TOTP factor of userID created at created.
func newTOTPFactor(id, userID string, created time.Time) store.Factor {
	return store.Factor{
		ID:        id,
		UserID:    userID,
		Type:      store.FactorTOTP,
		Name:      "phone " + id,
		Secret:    []byte("sealed:" + id + "\x00\xff"),
		CreatedAt: created,
		ExpiresAt: ptr(created.Add(pendingFor)),
	}
}

// newWebAuthnFactor returns a confirmed WebAuthn factor of userID with credential id cred,
// created at created, as a registration's end creates it.
func newWebAuthnFactor(id, userID, cred string, created time.Time) store.Factor {
	return store.Factor{
		ID:           id,
		UserID:       userID,
		Type:         store.FactorWebAuthn,
		Name:         "key " + id,
		Secret:       []byte(`{"publicKey":"pQECAyYgASFYIA","flags":29,"id":"` + id + `"}`),
		CredentialID: []byte("cred\x00" + cred),
		Confirmed:    true,
		CreatedAt:    created,
	}
}

func mustCreateFactor(t *testing.T, s store.Store, f store.Factor) {
	t.Helper()
	if err := s.CreateFactor(t.Context(), f); err != nil {
		t.Fatalf("CreateFactor(%q): %v", f.ID, err)
	}
}

func mustConfirmFactor(t *testing.T, s store.Store, userID, id string, step int64, now time.Time) store.Factor {
	t.Helper()
	f, err := s.ConfirmFactor(t.Context(), userID, id, step, now)
	if err != nil {
		t.Fatalf("ConfirmFactor(%q, %q): %v", userID, id, err)
	}
	return f
}

func mustFactors(t *testing.T, s store.Store, userID string, now time.Time) []store.Factor {
	t.Helper()
	fs, err := s.Factors(t.Context(), userID, now)
	if err != nil {
		t.Fatalf("Factors(%q): %v", userID, err)
	}
	return fs
}

// mustFactor returns the user's factor id as Factors lists it at now.
func mustFactor(t *testing.T, s store.Store, userID, id string, now time.Time) store.Factor {
	t.Helper()
	for _, f := range mustFactors(t, s, userID, now) {
		if f.ID == id {
			return f
		}
	}
	t.Fatalf("Factors(%q) at %v has no factor %q", userID, now, id)
	return store.Factor{}
}

func factorIDs(fs []store.Factor) []string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = f.ID
	}
	return ids
}

func wantFactorIDs(t *testing.T, what string, got []store.Factor, want ...string) {
	t.Helper()
	if ids := factorIDs(got); !equalStrings(ids, want) {
		t.Errorf("%s: factors %q, want %q", what, ids, want)
	}
}

func checkFactor(t *testing.T, what string, got, want store.Factor) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, diff("UserID", got.UserID, want.UserID)...)
	d = append(d, diff("Type", got.Type, want.Type)...)
	d = append(d, diff("Name", got.Name, want.Name)...)
	d = append(d, bytesDiff("Secret", got.Secret, want.Secret)...)
	d = append(d, bytesDiff("CredentialID", got.CredentialID, want.CredentialID)...)
	d = append(d, diff("Confirmed", got.Confirmed, want.Confirmed)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timePtrDiff("ExpiresAt", got.ExpiresAt, want.ExpiresAt)...)
	d = append(d, timePtrDiff("LastUsedAt", got.LastUsedAt, want.LastUsedAt)...)
	d = append(d, diff("LastStep", got.LastStep, want.LastStep)...)
	d = append(d, diff("SignCount", got.SignCount, want.SignCount)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

// checkLevel compares a session's AAL and AMR; a nil and an empty AMR are the same.
func checkLevel(t *testing.T, what string, got store.Session, aal string, amr []string) {
	t.Helper()
	if got.AAL != aal {
		t.Errorf("%s: AAL = %q, want %q", what, got.AAL, aal)
	}
	if !equalStrings(got.AMR, amr) {
		t.Errorf("%s: AMR = %q, want %q", what, got.AMR, amr)
	}
}

// wantMFAEnabled checks the user's MFAEnabled as UserByID reads it and, when the store
// implements store.SessionUserStore and sessionID is not empty, as SessionWithUser does.
func wantMFAEnabled(t *testing.T, s store.Store, userID, sessionID string, want bool) {
	t.Helper()
	if got := mustUser(t, s, userID).MFAEnabled; got != want {
		t.Errorf("UserByID(%q).MFAEnabled = %t, want %t", userID, got, want)
	}
	su, ok := s.(store.SessionUserStore)
	if !ok || sessionID == "" {
		return
	}
	_, u, err := su.SessionWithUser(t.Context(), sessionID)
	if err != nil {
		t.Fatalf("SessionWithUser(%q): %v", sessionID, err)
	}
	if u.MFAEnabled != want {
		t.Errorf("SessionWithUser(%q) user MFAEnabled = %t, want %t", sessionID, u.MFAEnabled, want)
	}
}

func mustCountCodes(t *testing.T, s store.Store, userID string) int {
	t.Helper()
	n, err := s.CountRecoveryCodes(t.Context(), userID)
	if err != nil {
		t.Fatalf("CountRecoveryCodes(%q): %v", userID, err)
	}
	return n
}

func wantCodes(t *testing.T, s store.Store, userID string, want int) {
	t.Helper()
	if n := mustCountCodes(t, s, userID); n != want {
		t.Errorf("CountRecoveryCodes(%q) = %d, want %d", userID, n, want)
	}
}

func mustReplaceCodes(t *testing.T, s store.Store, userID string, now time.Time, hashes ...string) {
	t.Helper()
	if err := s.ReplaceRecoveryCodes(t.Context(), userID, hashes, now); err != nil {
		t.Fatalf("ReplaceRecoveryCodes(%q): %v", userID, err)
	}
}

func mustCreateChallenge(t *testing.T, s store.Store, c store.Challenge) {
	t.Helper()
	if err := s.CreateChallenge(t.Context(), c); err != nil {
		t.Fatalf("CreateChallenge(%q): %v", c.ID, err)
	}
}

func newChallenge(id string, kind store.ChallengeKind, userID string, created time.Time) store.Challenge {
	c := store.Challenge{
		ID:        id,
		Kind:      kind,
		UserID:    userID,
		Data:      []byte(`{"challenge":"` + id + `","user_verification":"preferred"}`),
		CreatedAt: created,
		ExpiresAt: created.Add(5 * time.Minute),
	}
	if userID != "" {
		c.SessionID = userID + "-sess"
	}
	return c
}

func checkChallenge(t *testing.T, what string, got, want store.Challenge) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, diff("Kind", got.Kind, want.Kind)...)
	d = append(d, diff("UserID", got.UserID, want.UserID)...)
	d = append(d, diff("SessionID", got.SessionID, want.SessionID)...)
	d = append(d, diff("AnonSubject", got.AnonSubject, want.AnonSubject)...)
	d = append(d, diff("Name", got.Name, want.Name)...)
	d = append(d, bytesDiff("Data", got.Data, want.Data)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timeDiff("ExpiresAt", got.ExpiresAt, want.ExpiresAt)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

// Every field comes back as given, in the order the contract says: CreatedAt, then ID.
func testFactorRoundTrip(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))
	if fs := mustFactors(t, s, "u1", t0); len(fs) != 0 {
		t.Errorf("Factors of a user with none = %q, want none", factorIDs(fs))
	}

	// A pending TOTP factor does not enable MFA.
	totp := newTOTPFactor("f-b", "u1", t0.Add(time.Second))
	mustCreateFactor(t, s, totp)
	wantMFAEnabled(t, s, "u1", "s1", false)

	// A confirmed WebAuthn factor does, with every field as given.
	wa := newWebAuthnFactor("f-a", "u1", "c1", t0.Add(time.Second))
	wa.LastUsedAt = ptr(t0.Add(1500 * time.Millisecond))
	wa.SignCount = 4_000_000_000 // above the int32 range
	wa.LastStep = 7
	mustCreateFactor(t, s, wa)
	wantMFAEnabled(t, s, "u1", "s1", true)
	older := newTOTPFactor("f-z", "u1", t0)
	older.Name = ""
	mustCreateFactor(t, s, older)

	got := mustFactors(t, s, "u1", t0.Add(2*time.Second))
	wantFactorIDs(t, "Factors", got, "f-z", "f-a", "f-b")
	if len(got) == 3 {
		checkFactor(t, "Factors[0]", got[0], older)
		checkFactor(t, "Factors[1]", got[1], wa)
		checkFactor(t, "Factors[2]", got[2], totp)
		if got[0].CredentialID != nil {
			t.Errorf("a TOTP factor's CredentialID = %q, want nil", got[0].CredentialID)
		}
	}
	f, err := s.FactorByCredentialID(t.Context(), wa.CredentialID)
	if err != nil {
		t.Fatalf("FactorByCredentialID: %v", err)
	}
	checkFactor(t, "FactorByCredentialID", f, wa)

	// MFAEnabled is the backend's: CreateUser ignores it.
	u := minimalUser("u2", "b@example.com")
	u.MFAEnabled = true
	mustCreateUser(t, s, u)
	wantMFAEnabled(t, s, "u2", "", false)
}

func testFactorConflictsAndUnknownUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	mustCreateFactor(t, s, newWebAuthnFactor("f1", "u1", "c1", t0))

	// A duplicate ID, or a duplicate credential id whoever's it is.
	wantErr(t, "CreateFactor(duplicate ID)", s.CreateFactor(ctx, newTOTPFactor("f1", "u1", t0)), store.ErrConflict)
	wantErr(t, "CreateFactor(duplicate credential, same user)",
		s.CreateFactor(ctx, newWebAuthnFactor("f2", "u1", "c1", t0)), store.ErrConflict)
	wantErr(t, "CreateFactor(duplicate credential, another user)",
		s.CreateFactor(ctx, newWebAuthnFactor("f3", "u2", "c1", t0)), store.ErrConflict)
	wantMFAEnabled(t, s, "u2", "", false) // the refused factor enabled nothing
	wantFactorIDs(t, "Factors(u2) after the refusals", mustFactors(t, s, "u2", t0))

	// TOTP factors have no credential id: any number of them.
	mustCreateFactor(t, s, newTOTPFactor("t1", "u1", t0))
	mustCreateFactor(t, s, newTOTPFactor("t2", "u1", t0))
	mustCreateFactor(t, s, newTOTPFactor("t3", "u2", t0))
	mustCreateFactor(t, s, newWebAuthnFactor("f4", "u2", "c2", t0))

	// An unknown user, or one whose deletion has begun.
	wantErr(t, "CreateFactor(unknown user)", s.CreateFactor(ctx, newTOTPFactor("x1", "nobody", t0)), store.ErrNotFound)
	if _, err := s.BeginUserDeletion(ctx, "u2", t0); err != nil {
		t.Fatalf("BeginUserDeletion: %v", err)
	}
	wantErr(t, "CreateFactor(user being deleted)", s.CreateFactor(ctx, newTOTPFactor("x2", "u2", t0)), store.ErrNotFound)
	wantErr(t, "CreateFactor(WebAuthn, user being deleted)",
		s.CreateFactor(ctx, newWebAuthnFactor("x3", "u2", "c3", t0)), store.ErrNotFound)
}

// A pending factor is listed and confirmable until its ExpiresAt, strictly.
func testFactorPendingExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	f := newTOTPFactor("f1", "u1", t0)
	f.LastStep = 3
	mustCreateFactor(t, s, f)
	mustCreateFactor(t, s, newTOTPFactor("f2", "u1", t0))
	expiry := t0.Add(pendingFor).Truncate(time.Millisecond)

	wantFactorIDs(t, "Factors just before the expiry", mustFactors(t, s, "u1", expiry.Add(-time.Millisecond)), "f1", "f2")
	wantFactorIDs(t, "Factors at the expiry", mustFactors(t, s, "u1", expiry))
	_, err := s.ConfirmFactor(ctx, "u1", "f1", 100, expiry)
	wantErr(t, "ConfirmFactor at the expiry", err, store.ErrNotFound)
	_, err = s.ConfirmFactor(ctx, "u1", "f1", 100, expiry.Add(time.Hour))
	wantErr(t, "ConfirmFactor after the expiry", err, store.ErrNotFound)
	wantMFAEnabled(t, s, "u1", "", false)

	// Confirmed just before: no expiry any more, used now at step, the rest as it was.
	now := expiry.Add(-time.Millisecond)
	got := mustConfirmFactor(t, s, "u1", "f1", 100, now)
	want := f
	want.Confirmed, want.ExpiresAt, want.LastUsedAt, want.LastStep = true, nil, &now, 100
	checkFactor(t, "ConfirmFactor result", got, want)
	later := expiry.Add(365 * 24 * time.Hour)
	wantFactorIDs(t, "Factors long after", mustFactors(t, s, "u1", later), "f1")
	checkFactor(t, "Factors long after", mustFactor(t, s, "u1", "f1", later), want)

	// Only a pending factor is confirmed.
	_, err = s.ConfirmFactor(ctx, "u1", "f1", 200, now)
	wantErr(t, "ConfirmFactor(already confirmed)", err, store.ErrNotFound)
	checkFactor(t, "after a second ConfirmFactor", mustFactor(t, s, "u1", "f1", now), want)
	_, err = s.ConfirmFactor(ctx, "u1", "nope", 100, now)
	wantErr(t, "ConfirmFactor(unknown)", err, store.ErrNotFound)
}

// MFAEnabled is true from the first confirmed factor on, in every read of the user.
func testConfirmFactorSetsMFAEnabled(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))
	mustCreateSession(t, s, newSession("s2", "u2", t0))
	mustCreateFactor(t, s, newTOTPFactor("f1", "u1", t0))
	wantMFAEnabled(t, s, "u1", "s1", false)

	mustConfirmFactor(t, s, "u1", "f1", 100, t0.Add(time.Minute))
	wantMFAEnabled(t, s, "u1", "s1", true)
	wantMFAEnabled(t, s, "u2", "s2", false)
	if u, err := s.UserByEmail(ctx, "a@example.com"); err != nil || !u.MFAEnabled {
		t.Errorf("UserByEmail = MFAEnabled %t, %v; want true, nil", u.MFAEnabled, err)
	}
	if u, err := s.RecordLogin(ctx, "u1", t0.Add(2*time.Minute)); err != nil || !u.MFAEnabled {
		t.Errorf("RecordLogin = MFAEnabled %t, %v; want true, nil", u.MFAEnabled, err)
	}
	// An update of the user leaves it as it is.
	if u, err := s.UpdateProfile(ctx, "u1", store.ProfileUpdate{SetName: true, Name: ptr("Ada")}, t0.Add(3*time.Minute)); err != nil || !u.MFAEnabled {
		t.Errorf("UpdateProfile = MFAEnabled %t, %v; want true, nil", u.MFAEnabled, err)
	}
	wantMFAEnabled(t, s, "u1", "s1", true)
	if su, ok := s.(store.SessionUserStore); ok {
		now := t0.Add(4 * time.Minute)
		_, u, err := su.AdvanceSessionWithUser(ctx, "s1", 0, now, now.Add(30*time.Minute))
		if err != nil || !u.MFAEnabled {
			t.Errorf("AdvanceSessionWithUser = MFAEnabled %t, %v; want true, nil", u.MFAEnabled, err)
		}
	}
}

// Only a confirmed WebAuthn factor is found by its credential id, whoever's it is.
func testFactorByCredentialID(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	pending := newWebAuthnFactor("f1", "u1", "c1", t0)
	pending.Confirmed, pending.ExpiresAt = false, ptr(t0.Add(pendingFor))
	mustCreateFactor(t, s, pending)
	wantMFAEnabled(t, s, "u1", "", false)
	confirmed := newWebAuthnFactor("f2", "u2", "c2", t0)
	mustCreateFactor(t, s, confirmed)

	_, err := s.FactorByCredentialID(ctx, pending.CredentialID)
	wantErr(t, "FactorByCredentialID(pending)", err, store.ErrNotFound)
	got, err := s.FactorByCredentialID(ctx, confirmed.CredentialID)
	if err != nil {
		t.Fatalf("FactorByCredentialID(u2's): %v", err)
	}
	checkFactor(t, "FactorByCredentialID(u2's)", got, confirmed)
	for _, c := range [][]byte{[]byte("nope"), []byte("cred\x00c"), []byte("cred\x00c22")} {
		_, err := s.FactorByCredentialID(ctx, c)
		wantErr(t, fmt.Sprintf("FactorByCredentialID(%q)", c), err, store.ErrNotFound)
	}

	mustConfirmFactor(t, s, "u1", "f1", 0, t0.Add(time.Minute))
	got, err = s.FactorByCredentialID(ctx, pending.CredentialID)
	if err != nil {
		t.Fatalf("FactorByCredentialID(once confirmed): %v", err)
	}
	if got.ID != "f1" || got.UserID != "u1" || !got.Confirmed {
		t.Errorf("FactorByCredentialID(once confirmed) = %q of %q confirmed %t, want f1 of u1 confirmed", got.ID, got.UserID, got.Confirmed)
	}
}

// No method reaches a user's factor or code with another user's ID.
func testFactorOtherUser(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	mustCreateFactor(t, s, newTOTPFactor("pending", "u1", t0))
	mustCreateFactor(t, s, newTOTPFactor("totp", "u1", t0))
	mustConfirmFactor(t, s, "u1", "totp", 100, t0)
	mustCreateFactor(t, s, newWebAuthnFactor("wa", "u1", "c1", t0))
	mustReplaceCodes(t, s, "u1", t0, "h1")
	now := t0.Add(time.Minute)
	before := mustFactors(t, s, "u1", now)

	_, err := s.ConfirmFactor(ctx, "u2", "pending", 1, now)
	wantErr(t, "ConfirmFactor(u1's, as u2)", err, store.ErrNotFound)
	wantErr(t, "UseTotpStep(u1's, as u2)", s.UseTotpStep(ctx, "u2", "totp", 200, now), store.ErrNotFound)
	wantErr(t, "UseWebAuthn(u1's, as u2)", s.UseWebAuthn(ctx, "u2", "wa", 5, now), store.ErrNotFound)
	for _, id := range []string{"pending", "totp", "wa"} {
		_, err := s.DeleteFactor(ctx, "u2", id)
		wantErr(t, "DeleteFactor(u1's "+id+", as u2)", err, store.ErrNotFound)
	}
	_, err = s.UseRecoveryCode(ctx, "u2", "h1", now)
	wantErr(t, "UseRecoveryCode(u1's, as u2)", err, store.ErrNotFound)
	if n, err := s.DeleteUserFactors(ctx, "u2"); err != nil || n != 0 {
		t.Errorf("DeleteUserFactors(u2) = %d, %v; want 0, nil", n, err)
	}
	wantFactorIDs(t, "Factors(u2)", mustFactors(t, s, "u2", now))
	wantCodes(t, s, "u2", 0)

	// u1's are as they were.
	after := mustFactors(t, s, "u1", now)
	if len(after) != len(before) {
		t.Fatalf("Factors(u1) = %q, want %q", factorIDs(after), factorIDs(before))
	}
	for i := range after {
		checkFactor(t, "u1's factor after u2's calls", after[i], before[i])
	}
	wantCodes(t, s, "u1", 1)
	wantMFAEnabled(t, s, "u1", "", true)
}

// Deleting a factor keeps MFA and the recovery codes while a confirmed factor remains, and
// clears both with the last one.
func testDeleteFactor(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))
	now := t0.Add(time.Minute)
	mustCreateFactor(t, s, newTOTPFactor("p1", "u1", t0))
	mustCreateFactor(t, s, newTOTPFactor("p2", "u1", t0.Add(time.Second)))
	mustCreateFactor(t, s, newTOTPFactor("c1", "u1", t0.Add(2*time.Second)))
	mustConfirmFactor(t, s, "u1", "c1", 100, now)
	mustCreateFactor(t, s, newWebAuthnFactor("c2", "u1", "cred", t0.Add(3*time.Second)))
	mustReplaceCodes(t, s, "u1", now, "h1", "h2", "h3")

	del := func(id string, want int) {
		t.Helper()
		if n, err := s.DeleteFactor(ctx, "u1", id); err != nil || n != want {
			t.Fatalf("DeleteFactor(%s) = %d, %v; want %d, nil", id, n, err, want)
		}
	}
	del("p1", 2) // a pending one
	wantMFAEnabled(t, s, "u1", "s1", true)
	wantCodes(t, s, "u1", 3)
	del("c1", 1) // a confirmed one, not the last
	wantMFAEnabled(t, s, "u1", "s1", true)
	wantCodes(t, s, "u1", 3)
	wantFactorIDs(t, "Factors after two deletions", mustFactors(t, s, "u1", now), "p2", "c2")

	del("c2", 0) // the last confirmed one: a pending one does not count
	wantMFAEnabled(t, s, "u1", "s1", false)
	wantCodes(t, s, "u1", 0)
	_, err := s.UseRecoveryCode(ctx, "u1", "h1", now)
	wantErr(t, "UseRecoveryCode after the last factor went", err, store.ErrNotFound)
	wantFactorIDs(t, "Factors after the last confirmed one went", mustFactors(t, s, "u1", now), "p2")
	_, err = s.FactorByCredentialID(ctx, []byte("cred\x00cred"))
	wantErr(t, "FactorByCredentialID(deleted)", err, store.ErrNotFound)

	_, err = s.DeleteFactor(ctx, "u1", "c2")
	wantErr(t, "DeleteFactor(already deleted)", err, store.ErrNotFound)
	_, err = s.DeleteFactor(ctx, "u1", "nope")
	wantErr(t, "DeleteFactor(unknown)", err, store.ErrNotFound)
	del("p2", 0)
	wantFactorIDs(t, "Factors after every deletion", mustFactors(t, s, "u1", now))

	// A credential id deleted is free again.
	mustCreateFactor(t, s, newWebAuthnFactor("c3", "u1", "cred", now))
	wantMFAEnabled(t, s, "u1", "s1", true)
}

// DeleteUserFactors removes every factor and code of the user, and only of that user.
func testDeleteUserFactors(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := t0.Add(time.Minute)
	for _, u := range []string{"u1", "u2"} {
		mustCreateUser(t, s, minimalUser(u, u+"@example.com"))
		mustCreateSession(t, s, newSession(u+"-s", u, t0))
		mustCreateFactor(t, s, newTOTPFactor(u+"-pending", u, t0))
		mustCreateFactor(t, s, newTOTPFactor(u+"-totp", u, t0))
		mustConfirmFactor(t, s, u, u+"-totp", 100, now)
		mustCreateFactor(t, s, newWebAuthnFactor(u+"-wa", u, u, t0))
		mustReplaceCodes(t, s, u, now, "h1", "h2")
	}
	if n, err := s.DeleteUserFactors(ctx, "u1"); err != nil || n != 3 {
		t.Fatalf("DeleteUserFactors(u1) = %d, %v; want 3, nil", n, err)
	}
	wantFactorIDs(t, "Factors(u1)", mustFactors(t, s, "u1", now))
	wantCodes(t, s, "u1", 0)
	wantMFAEnabled(t, s, "u1", "u1-s", false)
	_, err := s.FactorByCredentialID(ctx, []byte("cred\x00u1"))
	wantErr(t, "FactorByCredentialID(u1's)", err, store.ErrNotFound)

	wantFactorIDs(t, "Factors(u2)", mustFactors(t, s, "u2", now), "u2-pending", "u2-totp", "u2-wa")
	wantCodes(t, s, "u2", 2)
	wantMFAEnabled(t, s, "u2", "u2-s", true)

	if n, err := s.DeleteUserFactors(ctx, "u1"); err != nil || n != 0 {
		t.Errorf("DeleteUserFactors(u1) again = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.DeleteUserFactors(ctx, "nobody"); err != nil || n != 0 {
		t.Errorf("DeleteUserFactors(unknown) = %d, %v; want 0, nil", n, err)
	}
}

// A TOTP step is accepted once, and only a later one after it.
func testUseTotpStep(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateFactor(t, s, newTOTPFactor("totp", "u1", t0))
	confirmedAt := t0.Add(time.Minute)
	want := mustConfirmFactor(t, s, "u1", "totp", 100, confirmedAt)
	mustCreateFactor(t, s, newTOTPFactor("pending", "u1", t0))
	mustCreateFactor(t, s, newWebAuthnFactor("wa", "u1", "c1", t0))
	now := t0.Add(2 * time.Minute)

	for _, step := range []int64{100, 99, 0, -1} {
		err := s.UseTotpStep(ctx, "u1", "totp", step, now)
		wantErr(t, fmt.Sprintf("UseTotpStep(%d) after 100", step), err, store.ErrConflict)
	}
	checkFactor(t, "after the replays", mustFactor(t, s, "u1", "totp", now), want)

	if err := s.UseTotpStep(ctx, "u1", "totp", 101, now); err != nil {
		t.Fatalf("UseTotpStep(101): %v", err)
	}
	want.LastStep, want.LastUsedAt = 101, &now
	checkFactor(t, "after UseTotpStep(101)", mustFactor(t, s, "u1", "totp", now), want)
	wantErr(t, "UseTotpStep(101) again", s.UseTotpStep(ctx, "u1", "totp", 101, now.Add(time.Second)), store.ErrConflict)
	later := now.Add(time.Hour)
	if err := s.UseTotpStep(ctx, "u1", "totp", 250, later); err != nil {
		t.Fatalf("UseTotpStep(250): %v", err)
	}
	want.LastStep, want.LastUsedAt = 250, &later
	checkFactor(t, "after UseTotpStep(250)", mustFactor(t, s, "u1", "totp", later), want)

	// Only a confirmed TOTP factor of the user.
	for _, id := range []string{"pending", "wa", "nope"} {
		wantErr(t, "UseTotpStep("+id+")", s.UseTotpStep(ctx, "u1", id, 300, now), store.ErrNotFound)
	}
}

func testUseTotpStepConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateFactor(t, s, newTOTPFactor("totp", "u1", t0))
	mustConfirmFactor(t, s, "u1", "totp", 100, t0)
	now := t0.Add(time.Minute)
	errs := race(func(int) error { return s.UseTotpStep(t.Context(), "u1", "totp", 101, now) })
	if ok, conflicts := countOutcomes(t, "UseTotpStep", errs, store.ErrConflict); ok != 1 || conflicts != concurrency-1 {
		t.Errorf("concurrent UseTotpStep(101): %d succeeded, %d conflicts; want 1, %d", ok, conflicts, concurrency-1)
	}
	if f := mustFactor(t, s, "u1", "totp", now); f.LastStep != 101 {
		t.Errorf("LastStep = %d, want 101", f.LastStep)
	}
}

// The authenticator's counter must grow, unless it has none (0 and 0).
func testUseWebAuthn(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	counted := newWebAuthnFactor("counted", "u1", "c1", t0)
	counted.SignCount = 10
	mustCreateFactor(t, s, counted)
	mustCreateFactor(t, s, newWebAuthnFactor("nocounter", "u1", "c2", t0))
	pending := newWebAuthnFactor("pending", "u1", "c3", t0)
	pending.Confirmed, pending.ExpiresAt = false, ptr(t0.Add(pendingFor))
	mustCreateFactor(t, s, pending)
	mustCreateFactor(t, s, newTOTPFactor("totp", "u1", t0))
	mustConfirmFactor(t, s, "u1", "totp", 1, t0)
	now := t0.Add(time.Minute)

	use := func(id string, count uint32, at time.Time, sentinel error) {
		t.Helper()
		err := s.UseWebAuthn(ctx, "u1", id, count, at)
		if sentinel == nil && err != nil {
			t.Errorf("UseWebAuthn(%s, %d): %v", id, count, err)
		} else if sentinel != nil {
			wantErr(t, fmt.Sprintf("UseWebAuthn(%s, %d)", id, count), err, sentinel)
		}
	}
	use("counted", 10, now, store.ErrConflict) // equal
	use("counted", 9, now, store.ErrConflict)  // lower
	use("counted", 0, now, store.ErrConflict)  // none, where there was one
	checkFactor(t, "after the refusals", mustFactor(t, s, "u1", "counted", now), counted)
	use("counted", 11, now, nil)
	want := counted
	want.SignCount, want.LastUsedAt = 11, &now
	checkFactor(t, "after UseWebAuthn(11)", mustFactor(t, s, "u1", "counted", now), want)
	use("counted", 11, now, store.ErrConflict)
	later := now.Add(time.Hour)
	use("counted", 4_000_000_000, later, nil) // above the int32 range
	want.SignCount, want.LastUsedAt = 4_000_000_000, &later
	checkFactor(t, "after UseWebAuthn(4e9)", mustFactor(t, s, "u1", "counted", later), want)
	use("counted", 3_999_999_999, later, store.ErrConflict)

	// An authenticator without a counter: 0 and 0, as often as it likes, until it counts.
	use("nocounter", 0, now, nil)
	use("nocounter", 0, later, nil)
	if f := mustFactor(t, s, "u1", "nocounter", later); f.SignCount != 0 || f.LastUsedAt == nil || !f.LastUsedAt.Equal(later.Truncate(time.Millisecond)) {
		t.Errorf("nocounter after two uses: SignCount %d, LastUsedAt %v; want 0, %v", f.SignCount, f.LastUsedAt, later)
	}
	use("nocounter", 3, later, nil)
	use("nocounter", 0, later, store.ErrConflict)

	for _, id := range []string{"pending", "totp", "nope"} {
		use(id, 50, now, store.ErrNotFound)
	}
}

func testUseWebAuthnConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	f := newWebAuthnFactor("wa", "u1", "c1", t0)
	f.SignCount = 10
	mustCreateFactor(t, s, f)
	now := t0.Add(time.Minute)
	errs := race(func(int) error { return s.UseWebAuthn(t.Context(), "u1", "wa", 11, now) })
	if ok, conflicts := countOutcomes(t, "UseWebAuthn", errs, store.ErrConflict); ok != 1 || conflicts != concurrency-1 {
		t.Errorf("concurrent UseWebAuthn(11): %d succeeded, %d conflicts; want 1, %d", ok, conflicts, concurrency-1)
	}
	if got := mustFactor(t, s, "u1", "wa", now); got.SignCount != 11 {
		t.Errorf("SignCount = %d, want 11", got.SignCount)
	}
}

// Recovery codes are replaced as a set and each is used once.
func testRecoveryCodes(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	wantCodes(t, s, "u1", 0)
	mustReplaceCodes(t, s, "u1", t0, "h1", "h2", "h3")
	mustReplaceCodes(t, s, "u2", t0, "h2", "h4") // the same hash as u1's is u2's own
	wantCodes(t, s, "u1", 3)
	now := t0.Add(time.Minute)

	if n, err := s.UseRecoveryCode(ctx, "u1", "h2", now); err != nil || n != 2 {
		t.Fatalf("UseRecoveryCode(h2) = %d, %v; want 2, nil", n, err)
	}
	_, err := s.UseRecoveryCode(ctx, "u1", "h2", now)
	wantErr(t, "UseRecoveryCode(h2) again", err, store.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, "u1", "h4", now)
	wantErr(t, "UseRecoveryCode(u2's h4, as u1)", err, store.ErrNotFound)
	_, err = s.UseRecoveryCode(ctx, "u1", "nope", now)
	wantErr(t, "UseRecoveryCode(unknown)", err, store.ErrNotFound)
	wantCodes(t, s, "u1", 2)
	wantCodes(t, s, "u2", 2) // u1's use of h2 was u1's
	if n, err := s.UseRecoveryCode(ctx, "u2", "h2", now); err != nil || n != 1 {
		t.Errorf("UseRecoveryCode(u2, h2) = %d, %v; want 1, nil", n, err)
	}

	// Replacing drops the old codes, used or not.
	mustReplaceCodes(t, s, "u1", now, "h5", "h6")
	wantCodes(t, s, "u1", 2)
	for _, h := range []string{"h1", "h2", "h3"} {
		_, err := s.UseRecoveryCode(ctx, "u1", h, now)
		wantErr(t, "UseRecoveryCode(replaced "+h+")", err, store.ErrNotFound)
	}
	if n, err := s.UseRecoveryCode(ctx, "u1", "h6", now); err != nil || n != 1 {
		t.Errorf("UseRecoveryCode(h6) = %d, %v; want 1, nil", n, err)
	}
	if n, err := s.UseRecoveryCode(ctx, "u1", "h5", now); err != nil || n != 0 {
		t.Errorf("UseRecoveryCode(h5) = %d, %v; want 0, nil", n, err)
	}
	wantCodes(t, s, "u1", 0)
	mustReplaceCodes(t, s, "u1", now, "h7")
	wantCodes(t, s, "u1", 1)
	mustReplaceCodes(t, s, "u1", now)
	wantCodes(t, s, "u1", 0)
	wantCodes(t, s, "u2", 1)
}

func testRecoveryCodeConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustReplaceCodes(t, s, "u1", t0, "h1", "h2", "h3")
	remaining := make([]int, concurrency)
	errs := race(func(i int) error {
		n, err := s.UseRecoveryCode(t.Context(), "u1", "h2", t0.Add(time.Minute))
		remaining[i] = n
		return err
	})
	ok, notFound := countOutcomes(t, "UseRecoveryCode", errs, store.ErrNotFound)
	if ok != 1 || notFound != concurrency-1 {
		t.Errorf("concurrent UseRecoveryCode: %d succeeded, %d not found; want 1, %d", ok, notFound, concurrency-1)
	}
	for i, err := range errs {
		if err == nil && remaining[i] != 2 {
			t.Errorf("the winner's remaining = %d, want 2", remaining[i])
		}
	}
	wantCodes(t, s, "u1", 2)
}

// CreateSession stores AAL and AMR as given; an empty AAL stays empty and reads as aal1.
func testSessionLevelRoundTrip(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	raised := newSession("s1", "u1", t0)
	raised.AAL, raised.AMR = store.AAL2, []string{"pwd", "webauthn"}
	mustCreateSession(t, s, raised)
	plain := newSession("s2", "u1", t0)
	plain.AAL, plain.AMR = store.AAL1, []string{"pwd"}
	mustCreateSession(t, s, plain)
	mustCreateSession(t, s, newSession("s3", "u1", t0))

	got := mustSession(t, s, "s1")
	checkSession(t, "SessionByID(s1)", got, raised)
	checkLevel(t, "SessionByID(s1)", got, store.AAL2, []string{"pwd", "webauthn"})
	checkLevel(t, "SessionByID(s2)", mustSession(t, s, "s2"), store.AAL1, []string{"pwd"})
	got = mustSession(t, s, "s3")
	checkLevel(t, "SessionByID(s3)", got, "", nil)
	if got.Level() != store.AAL1 {
		t.Errorf("Level() of a session without one = %q, want %q", got.Level(), store.AAL1)
	}
}

// readBack checks the session's AAL and AMR as every read of a session returns them.
func readBack(t *testing.T, s store.Store, sess store.Session, aal string, amr []string) {
	t.Helper()
	checkLevel(t, "SessionByID", mustSession(t, s, sess.ID), aal, amr)
	live, err := s.ListLiveSessions(t.Context(), sess.UserID, sess.LastUsedAt)
	if err != nil {
		t.Fatalf("ListLiveSessions: %v", err)
	}
	i := slices.IndexFunc(live, func(l store.Session) bool { return l.ID == sess.ID })
	if i < 0 {
		t.Fatalf("ListLiveSessions has no %q: %q", sess.ID, sessionIDs(live))
	}
	checkLevel(t, "ListLiveSessions", live[i], aal, amr)
	if su, ok := s.(store.SessionUserStore); ok {
		got, _, err := su.SessionWithUser(t.Context(), sess.ID)
		if err != nil {
			t.Fatalf("SessionWithUser: %v", err)
		}
		checkLevel(t, "SessionWithUser", got, aal, amr)
	}
}

func testRaiseSessionLevel(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	sess.AAL, sess.AMR, sess.Counter = store.AAL1, []string{"pwd"}, 3
	mustCreateSession(t, s, sess)
	readBack(t, s, sess, store.AAL1, []string{"pwd"})

	now := t0.Add(time.Minute)
	amr := []string{"pwd", "otp"}
	got, err := s.RaiseSessionLevel(ctx, "s1", "u1", amr, now)
	if err != nil {
		t.Fatalf("RaiseSessionLevel: %v", err)
	}
	checkSession(t, "RaiseSessionLevel result", got, sess) // Counter and the rest unchanged
	checkLevel(t, "RaiseSessionLevel result", got, store.AAL2, amr)
	readBack(t, s, sess, store.AAL2, amr)

	// A rotation keeps the level.
	got, err = s.AdvanceSession(ctx, "s1", 3, now, now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("AdvanceSession: %v", err)
	}
	checkLevel(t, "AdvanceSession result", got, store.AAL2, amr)
	if su, ok := s.(store.SessionUserStore); ok {
		got, _, err := su.AdvanceSessionWithUser(ctx, "s1", 4, now, now.Add(30*time.Minute))
		if err != nil {
			t.Fatalf("AdvanceSessionWithUser: %v", err)
		}
		checkLevel(t, "AdvanceSessionWithUser result", got, store.AAL2, amr)
	}

	// Raised again, with other methods: the AMR is replaced.
	got, err = s.RaiseSessionLevel(ctx, "s1", "u1", []string{"recovery"}, now.Add(time.Second))
	if err != nil {
		t.Fatalf("RaiseSessionLevel again: %v", err)
	}
	checkLevel(t, "RaiseSessionLevel again", got, store.AAL2, []string{"recovery"})
	checkLevel(t, "SessionByID after the second raise", mustSession(t, s, "s1"), store.AAL2, []string{"recovery"})
}

// Only a live session of the user is raised; a refusal changes nothing.
func testRaiseSessionLevelRefusals(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	for _, id := range []string{"live", "revoked", "short"} {
		sess := newSession(id, "u1", t0)
		sess.AAL, sess.AMR = store.AAL1, []string{"pwd"}
		if id == "short" {
			sess.AbsoluteExpiresAt = t0.Add(10 * time.Minute)
		}
		mustCreateSession(t, s, sess)
	}
	if _, err := s.RevokeSession(ctx, "revoked", "", t0, "logout"); err != nil {
		t.Fatal(err)
	}
	idle := t0.Add(30 * time.Minute) // newSession's idle expiry
	cases := []struct {
		id, user string
		at       time.Time
	}{
		{"live", "u2", t0.Add(time.Minute)}, // not the owner
		{"live", "", t0.Add(time.Minute)},
		{"live", "u1", idle},                      // idle expired, exactly
		{"short", "u1", t0.Add(10 * time.Minute)}, // absolute expired, exactly
		{"revoked", "u1", t0.Add(time.Minute)},
		{"nope", "u1", t0.Add(time.Minute)},
	}
	for _, c := range cases {
		_, err := s.RaiseSessionLevel(ctx, c.id, c.user, []string{"pwd", "otp"}, c.at)
		wantErr(t, fmt.Sprintf("RaiseSessionLevel(%s, %q, %v)", c.id, c.user, c.at), err, store.ErrNotFound)
	}
	for _, id := range []string{"live", "revoked", "short"} {
		checkLevel(t, "after the refusals: "+id, mustSession(t, s, id), store.AAL1, []string{"pwd"})
	}
	if _, err := s.RaiseSessionLevel(ctx, "live", "u1", []string{"pwd", "otp"}, idle.Add(-time.Millisecond)); err != nil {
		t.Errorf("RaiseSessionLevel just before the idle expiry: %v", err)
	}
}

func testChallengeRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	reg := newChallenge("c1", store.ChallengeRegister, "u1", t0)
	reg.Name = "my key"
	mustCreateChallenge(t, s, reg)
	login := newChallenge("c2", store.ChallengeLogin, "", t0)
	login.AnonSubject = "anon-42"
	mustCreateChallenge(t, s, login)
	wantErr(t, "CreateChallenge(duplicate ID)", s.CreateChallenge(ctx, newChallenge("c1", store.ChallengeMFA, "u2", t0)), store.ErrConflict)

	now := t0.Add(time.Minute)
	// Another kind of ceremony finds nothing and leaves the challenge in place.
	for _, k := range []store.ChallengeKind{store.ChallengeMFA, store.ChallengeLogin} {
		_, err := s.TakeChallenge(ctx, "c1", k, now)
		wantErr(t, fmt.Sprintf("TakeChallenge(c1, %s)", k), err, store.ErrNotFound)
	}
	got, err := s.TakeChallenge(ctx, "c1", store.ChallengeRegister, now)
	if err != nil {
		t.Fatalf("TakeChallenge(c1): %v", err)
	}
	checkChallenge(t, "TakeChallenge(c1)", got, reg)
	_, err = s.TakeChallenge(ctx, "c1", store.ChallengeRegister, now)
	wantErr(t, "TakeChallenge(c1) again", err, store.ErrNotFound)

	got, err = s.TakeChallenge(ctx, "c2", store.ChallengeLogin, now)
	if err != nil {
		t.Fatalf("TakeChallenge(c2): %v", err)
	}
	checkChallenge(t, "TakeChallenge(c2)", got, login)
	_, err = s.TakeChallenge(ctx, "nope", store.ChallengeLogin, now)
	wantErr(t, "TakeChallenge(unknown)", err, store.ErrNotFound)
}

// A challenge is taken only while its ExpiresAt is after now.
func testChallengeExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := newChallenge("c1", store.ChallengeMFA, "u1", t0)
	mustCreateChallenge(t, s, c)
	mustCreateChallenge(t, s, newChallenge("c2", store.ChallengeMFA, "u1", t0))
	expiry := c.ExpiresAt.Truncate(time.Millisecond)
	_, err := s.TakeChallenge(ctx, "c1", store.ChallengeMFA, expiry)
	wantErr(t, "TakeChallenge at the expiry", err, store.ErrNotFound)
	_, err = s.TakeChallenge(ctx, "c2", store.ChallengeMFA, expiry.Add(time.Hour))
	wantErr(t, "TakeChallenge after the expiry", err, store.ErrNotFound)

	c3 := newChallenge("c3", store.ChallengeMFA, "u1", t0)
	mustCreateChallenge(t, s, c3)
	got, err := s.TakeChallenge(ctx, "c3", store.ChallengeMFA, expiry.Add(-time.Millisecond))
	if err != nil {
		t.Fatalf("TakeChallenge just before the expiry: %v", err)
	}
	checkChallenge(t, "TakeChallenge just before the expiry", got, c3)
}

func testChallengeTakeConcurrent(t *testing.T, s store.Store) {
	mustCreateChallenge(t, s, newChallenge("c1", store.ChallengeLogin, "", t0))
	errs := race(func(int) error {
		_, err := s.TakeChallenge(t.Context(), "c1", store.ChallengeLogin, t0.Add(time.Minute))
		return err
	})
	if ok, notFound := countOutcomes(t, "TakeChallenge", errs, store.ErrNotFound); ok != 1 || notFound != concurrency-1 {
		t.Errorf("concurrent TakeChallenge: %d succeeded, %d not found; want 1, %d", ok, notFound, concurrency-1)
	}
}

// PurgeExpired removes the challenges expired before now and the pending factors expired
// more than a day before now, and nothing else of MFA.
func testPurgeExpiredMFA(t *testing.T, s store.Store) {
	const day = 24 * time.Hour
	ctx := t.Context()
	now := t0.Add(60 * day)
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))

	challenge := func(id string, expires time.Time) {
		c := newChallenge(id, store.ChallengeMFA, "u1", expires.Add(-5*time.Minute))
		c.ExpiresAt = expires
		mustCreateChallenge(t, s, c)
	}
	challenge("c-live", now.Add(time.Minute))
	challenge("c-expires-now", now)
	challenge("c-expired", now.Add(-time.Millisecond))
	challenge("c-expired-long-ago", now.Add(-3*day))

	pending := func(id string, expires time.Time) {
		f := newTOTPFactor(id, "u1", expires.Add(-pendingFor))
		f.ExpiresAt = &expires
		mustCreateFactor(t, s, f)
	}
	pending("p-live", now.Add(time.Minute))
	pending("p-expired-recently", now.Add(-time.Hour))
	pending("p-expired-a-day-ago", now.Add(-day))
	pending("p-expired-long-ago", now.Add(-day-time.Millisecond))
	// Confirmed factors stay, however old.
	pending("c-totp", t0.Add(pendingFor))
	mustConfirmFactor(t, s, "u1", "c-totp", 1, t0)
	mustCreateFactor(t, s, newWebAuthnFactor("c-wa", "u1", "c1", t0))
	// Created confirmed with an ExpiresAt (stored as given): it is not pending.
	dated := newWebAuthnFactor("c-wa-dated", "u1", "c2", t0)
	dated.ExpiresAt = ptr(t0.Add(pendingFor))
	mustCreateFactor(t, s, dated)
	mustReplaceCodes(t, s, "u1", t0, "h1")

	if n, err := s.PurgeExpired(ctx, now); err != nil || n != 3 {
		t.Fatalf("PurgeExpired = %d, %v; want 3 (c-expired, c-expired-long-ago, p-expired-long-ago), nil", n, err)
	}
	// Listed as of two days before now, every pending factor left is unexpired.
	wantFactorIDs(t, "Factors after the purge", mustFactors(t, s, "u1", now.Add(-2*day)),
		"c-totp", "c-wa", "c-wa-dated", "p-expired-a-day-ago", "p-expired-recently", "p-live")
	for _, id := range []string{"c-expired", "c-expired-long-ago"} {
		_, err := s.TakeChallenge(ctx, id, store.ChallengeMFA, now.Add(-4*day))
		wantErr(t, "TakeChallenge(purged "+id+")", err, store.ErrNotFound)
	}
	wantCodes(t, s, "u1", 1)
	wantMFAEnabled(t, s, "u1", "", true)

	// A millisecond later the boundary rows go too.
	if n, err := s.PurgeExpired(ctx, now.Add(time.Millisecond)); err != nil || n != 2 {
		t.Fatalf("PurgeExpired(1ms later) = %d, %v; want 2 (c-expires-now, p-expired-a-day-ago), nil", n, err)
	}
	wantFactorIDs(t, "Factors after the second purge", mustFactors(t, s, "u1", now.Add(-2*day)),
		"c-totp", "c-wa", "c-wa-dated", "p-expired-recently", "p-live")
	_, err := s.TakeChallenge(ctx, "c-expires-now", store.ChallengeMFA, now.Add(-time.Minute))
	wantErr(t, "TakeChallenge(purged c-expires-now)", err, store.ErrNotFound)
	if _, err := s.TakeChallenge(ctx, "c-live", store.ChallengeMFA, now); err != nil {
		t.Errorf("TakeChallenge(c-live) after the purges: %v", err)
	}
	if n, err := s.PurgeExpired(ctx, now.Add(time.Millisecond)); err != nil || n != 0 {
		t.Errorf("third PurgeExpired = %d, %v; want 0, nil", n, err)
	}
}

// fixtureKinds are the kinds of mfaFixture's challenges, by the end of their IDs.
var fixtureKinds = map[string]store.ChallengeKind{"reg": store.ChallengeRegister, "mfa": store.ChallengeMFA}

// mfaFixture gives userID factors of every kind, recovery codes and challenges.
func mfaFixture(t *testing.T, s store.Store, userID string) {
	t.Helper()
	mustCreateFactor(t, s, newTOTPFactor(userID+"-pending", userID, t0))
	mustCreateFactor(t, s, newTOTPFactor(userID+"-totp", userID, t0))
	mustConfirmFactor(t, s, userID, userID+"-totp", 1, t0)
	mustCreateFactor(t, s, newWebAuthnFactor(userID+"-wa", userID, userID, t0))
	mustReplaceCodes(t, s, userID, t0, "h1", "h2")
	mustCreateChallenge(t, s, newChallenge(userID+"-reg", store.ChallengeRegister, userID, t0))
	mustCreateChallenge(t, s, newChallenge(userID+"-mfa", store.ChallengeMFA, userID, t0))
}

// FinishUserDeletion removes the user's factors, codes and challenges, and no one else's.
func testFinishUserDeletionMFA(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	mfaFixture(t, s, "u1")
	mfaFixture(t, s, "u2")
	mustCreateChallenge(t, s, newChallenge("anon", store.ChallengeLogin, "", t0))
	now := t0.Add(time.Minute)

	if _, err := s.BeginUserDeletion(ctx, "u1", now); err != nil {
		t.Fatalf("BeginUserDeletion: %v", err)
	}
	n, err := s.FinishUserDeletion(ctx, "u1", now)
	// 3 factors, 2 challenges, the record, and the codes (at least one record).
	if err != nil || n < 7 {
		t.Fatalf("FinishUserDeletion = %d, %v; want at least 7, nil", n, err)
	}
	wantFactorIDs(t, "Factors(u1)", mustFactors(t, s, "u1", now))
	wantCodes(t, s, "u1", 0)
	for _, id := range []string{"u1-reg", "u1-mfa"} {
		_, err := s.TakeChallenge(ctx, id, fixtureKinds[id[3:]], now)
		wantErr(t, "TakeChallenge(deleted user's "+id+")", err, store.ErrNotFound)
	}
	_, err = s.FactorByCredentialID(ctx, []byte("cred\x00u1"))
	wantErr(t, "FactorByCredentialID(deleted user's)", err, store.ErrNotFound)
	if n, err := s.FinishUserDeletion(ctx, "u1", now); err != nil || n != 0 {
		t.Errorf("FinishUserDeletion again = %d, %v; want 0, nil", n, err)
	}

	// The other user's are all there, and so is the anonymous challenge.
	wantFactorIDs(t, "Factors(u2)", mustFactors(t, s, "u2", now), "u2-pending", "u2-totp", "u2-wa")
	wantCodes(t, s, "u2", 2)
	wantMFAEnabled(t, s, "u2", "", true)
	for _, id := range []string{"u2-reg", "u2-mfa"} {
		if _, err := s.TakeChallenge(ctx, id, fixtureKinds[id[3:]], now); err != nil {
			t.Errorf("TakeChallenge(%s): %v", id, err)
		}
	}
	if _, err := s.TakeChallenge(ctx, "anon", store.ChallengeLogin, now); err != nil {
		t.Errorf("TakeChallenge(anon): %v", err)
	}
}
