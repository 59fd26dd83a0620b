// Package storetest is the conformance suite every store.Store backend must pass. The
// account logic is written against the store.Store contract, not against a backend, so the
// contract has to be pinned down by executable tests that all backends share; a behaviour
// only one backend happens to have is a bug waiting for the day the other one runs.
//
// A backend's test calls Run with a constructor that returns a fresh, empty store:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
//
// The suite uses fixed times rather than the wall clock, and never sleeps: expiry is
// decided by the now the caller passes, as the contract requires.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// concurrency is how many goroutines race in the atomicity tests. It is well above the
// connection pool sizes backends use, so some callers really do wait on others.
const concurrency = 20

// Run runs the conformance suite as subtests of t. newStore must return a fresh, empty store
// for each subtest and arrange (with t.Cleanup) for it to be closed.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"Ping", testPing},
		{"UserRoundTrip", testUserRoundTrip},
		{"UserMinimalRoundTrip", testUserMinimalRoundTrip},
		{"UserNotFound", testUserNotFound},
		{"UserEmailIsExact", testUserEmailIsExact},
		{"UserDuplicateEmail", testUserDuplicateEmail},
		{"UserDuplicateID", testUserDuplicateID},
		{"UserConcurrentSameEmail", testUserConcurrentSameEmail},
		{"RecordLogin", testRecordLogin},
		{"RecordLoginConcurrent", testRecordLoginConcurrent},
		{"SetPasswordHash", testSetPasswordHash},
		{"SetPasswordHashConcurrent", testSetPasswordHashConcurrent},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"SessionNotFound", testSessionNotFound},
		{"SessionDuplicateID", testSessionDuplicateID},
		{"AdvanceSession", testAdvanceSession},
		{"AdvanceSessionStaleCounter", testAdvanceSessionStaleCounter},
		{"AdvanceSessionCapsIdleAtAbsolute", testAdvanceSessionCapsIdle},
		{"AdvanceSessionRevoked", testAdvanceSessionRevoked},
		{"AdvanceSessionIdleExpired", testAdvanceSessionIdleExpired},
		{"AdvanceSessionAbsoluteExpired", testAdvanceSessionAbsoluteExpired},
		{"AdvanceSessionNotFound", testAdvanceSessionNotFound},
		{"AdvanceSessionConcurrent", testAdvanceSessionConcurrent},
		{"ListLiveSessions", testListLiveSessions},
		{"CountLiveSessions", testCountLiveSessions},
		{"RevokeSession", testRevokeSession},
		{"RevokeSessionOwner", testRevokeSessionOwner},
		{"RevokeSessionConcurrent", testRevokeSessionConcurrent},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditDuplicateID", testAuditDuplicateID},
		{"AuditOrderFilterLimit", testAuditOrderFilterLimit},

		{"ConfirmEmail", testConfirmEmail},
		{"ConfirmEmailAddressChanged", testConfirmEmailAddressChanged},
		{"SetPendingEmail", testSetPendingEmail},
		{"ApplyEmailChange", testApplyEmailChange},
		{"ApplyEmailChangePendingDiffers", testApplyEmailChangePendingDiffers},
		{"ApplyEmailChangeTaken", testApplyEmailChangeTaken},
		{"ApplyEmailChangeConcurrent", testApplyEmailChangeConcurrent},
		{"SetPassword", testSetPassword},
		{"UpdateProfile", testUpdateProfile},
		{"UpdateProfileConcurrent", testUpdateProfileConcurrent},
		{"UserDeletion", testUserDeletion},
		{"FinishDeletions", testFinishDeletions},
		{"BeginUserDeletionConcurrent", testBeginUserDeletionConcurrent},
		{"BeginUnconfirmedDeletions", testBeginUnconfirmedDeletions},
		{"BeginUnconfirmedDeletionsConcurrent", testBeginUnconfirmedDeletionsConcurrent},
		{"LinkTokenConsume", testLinkTokenConsume},
		{"LinkTokenDuplicateHash", testLinkTokenDuplicateHash},
		{"LinkTokenWrongPurpose", testLinkTokenWrongPurpose},
		{"LinkTokenExpiry", testLinkTokenExpiry},
		{"LinkTokenConsumeConcurrent", testLinkTokenConsumeConcurrent},
		{"LinkTokenPeek", testLinkTokenPeek},
		{"PurgeAudit", testPurgeAudit},
		{"VoidLinkTokens", testVoidLinkTokens},

		{"MailRoundTrip", testMailRoundTrip},
		{"MailDuplicateID", testMailDuplicateID},
		{"ClaimMails", testClaimMails},
		{"ClaimMailsLimit", testClaimMailsLimit},
		{"ClaimMailsExpiredLease", testClaimMailsExpiredLease},
		{"ClaimMailsConcurrent", testClaimMailsConcurrent},
		{"MarkMailSent", testMarkMailSent},
		{"MarkMailRetry", testMarkMailRetry},
		{"MarkMailFailed", testMarkMailFailed},
		{"MailsTo", testMailsTo},

		{"Hit", testHit},
		{"HitConcurrent", testHitConcurrent},
		{"PeekCounter", testPeekCounter},
		{"HoldCounter", testHoldCounter},
		{"ResetCounter", testResetCounter},
		{"ReleaseHit", testReleaseHit},
		{"PurgeExpired", testPurgeExpired},
	}
	tests = append(tests, adminTests...)       // admin.go
	tests = append(tests, roleTests...)        // roles.go
	tests = append(tests, adminOpsTests...)    // adminops.go
	tests = append(tests, sessionUserTests...) // sessionuser.go
	tests = append(tests, mfaTests...)         // mfa.go
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newStore(t))
		})
	}
}

// t0 is the suite's reference instant. It is deliberately not UTC and not on a millisecond
// boundary, so every round trip also checks the conversion to UTC and the truncation to
// milliseconds the contract promises.
var t0 = time.Date(2026, time.March, 14, 15, 9, 26, 535_897_932, time.FixedZone("UTC+5:30", 5*3600+30*60))

func ptr[T any](v T) *T { return &v }

// fullUser returns a user with every field set to a non-zero value.
func fullUser(id, email string) store.User {
	return store.User{
		ID:             id,
		Email:          email,
		EmailConfirmed: true,
		PendingEmail:   ptr("new-" + email),
		PasswordHash:   "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Role:           store.RoleStaff,
		Name:           ptr("Ada"),
		Surname:        ptr("Lovelace"),
		Pseudo:         ptr("ada"),
		Lang:           "fr-FR",
		Agreement:      true,
		Data:           []byte(`{"theme":"dark","n":[1,2,3]}`),
		Disabled:       true,
		CreatedAt:      t0,
		UpdatedAt:      t0.Add(90 * time.Second),
		LastLoginAt:    ptr(t0.Add(time.Hour + 1234567*time.Nanosecond)),
		LoginCount:     7,
	}
}

// minimalUser returns a user with only the fields a fresh registration has.
func minimalUser(id, email string) store.User {
	return store.User{
		ID:           id,
		Email:        email,
		PasswordHash: "hash-1",
		Role:         store.RoleUser,
		Lang:         "en",
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func newSession(id, userID string, created time.Time) store.Session {
	return store.Session{
		ID:                id,
		UserID:            userID,
		CreatedAt:         created,
		LastUsedAt:        created,
		IdleExpiresAt:     created.Add(30 * time.Minute),
		AbsoluteExpiresAt: created.Add(30 * 24 * time.Hour),
		UserAgent:         "Mozilla/5.0 (X11; Linux x86_64)",
		IP:                "203.0.113.7",
		RotatedAt:         created,
	}
}

func mustCreateUser(t *testing.T, s store.Store, u store.User) {
	t.Helper()
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.ID, err)
	}
}

func mustCreateSession(t *testing.T, s store.Store, sess store.Session) {
	t.Helper()
	if err := s.CreateSession(t.Context(), sess); err != nil {
		t.Fatalf("CreateSession(%q): %v", sess.ID, err)
	}
}

func mustSession(t *testing.T, s store.Store, id string) store.Session {
	t.Helper()
	got, err := s.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%q): %v", id, err)
	}
	return got
}

func mustUser(t *testing.T, s store.Store, id string) store.User {
	t.Helper()
	got, err := s.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%q): %v", id, err)
	}
	return got
}

func wantErr(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, sentinel)
	}
}

// timeDiff reports how got differs from what a store must return for want: the same
// instant truncated to milliseconds, in UTC.
func timeDiff(field string, got, want time.Time) []string {
	want = want.Truncate(time.Millisecond)
	var d []string
	if !got.Equal(want) {
		d = append(d, fmt.Sprintf("%s = %v, want %v", field, got, want.UTC()))
	}
	if got.Location() != time.UTC {
		d = append(d, fmt.Sprintf("%s location = %v, want UTC", field, got.Location()))
	}
	return d
}

func timePtrDiff(field string, got, want *time.Time) []string {
	switch {
	case got == nil && want == nil:
		return nil
	case got == nil || want == nil:
		return []string{fmt.Sprintf("%s = %v, want %v", field, got, want)}
	}
	return timeDiff(field, *got, *want)
}

func strPtrDiff(field string, got, want *string) []string {
	switch {
	case got == nil && want == nil:
		return nil
	case got == nil || want == nil:
		return []string{fmt.Sprintf("%s = %s, want %s", field, fmtStrPtr(got), fmtStrPtr(want))}
	case *got != *want:
		return []string{fmt.Sprintf("%s = %q, want %q", field, *got, *want)}
	}
	return nil
}

func fmtStrPtr(p *string) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprintf("&%q", *p)
}

func bytesDiff(field string, got, want []byte) []string {
	if (got == nil) != (want == nil) || !bytes.Equal(got, want) {
		return []string{fmt.Sprintf("%s = %q (nil: %t), want %q (nil: %t)", field, got, got == nil, want, want == nil)}
	}
	return nil
}

func diff[T comparable](field string, got, want T) []string {
	if got != want {
		return []string{fmt.Sprintf("%s = %v, want %v", field, got, want)}
	}
	return nil
}

func checkUser(t *testing.T, what string, got, want store.User) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, diff("Email", got.Email, want.Email)...)
	d = append(d, diff("EmailConfirmed", got.EmailConfirmed, want.EmailConfirmed)...)
	d = append(d, strPtrDiff("PendingEmail", got.PendingEmail, want.PendingEmail)...)
	d = append(d, diff("PasswordHash", got.PasswordHash, want.PasswordHash)...)
	d = append(d, diff("Role", got.Role, want.Role)...)
	d = append(d, strPtrDiff("Name", got.Name, want.Name)...)
	d = append(d, strPtrDiff("Surname", got.Surname, want.Surname)...)
	d = append(d, strPtrDiff("Pseudo", got.Pseudo, want.Pseudo)...)
	d = append(d, diff("Lang", got.Lang, want.Lang)...)
	d = append(d, diff("Agreement", got.Agreement, want.Agreement)...)
	d = append(d, bytesDiff("Data", got.Data, want.Data)...)
	d = append(d, diff("Disabled", got.Disabled, want.Disabled)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timeDiff("UpdatedAt", got.UpdatedAt, want.UpdatedAt)...)
	d = append(d, timePtrDiff("LastLoginAt", got.LastLoginAt, want.LastLoginAt)...)
	d = append(d, diff("LoginCount", got.LoginCount, want.LoginCount)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

func checkSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, diff("UserID", got.UserID, want.UserID)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timeDiff("LastUsedAt", got.LastUsedAt, want.LastUsedAt)...)
	d = append(d, timeDiff("IdleExpiresAt", got.IdleExpiresAt, want.IdleExpiresAt)...)
	d = append(d, timeDiff("AbsoluteExpiresAt", got.AbsoluteExpiresAt, want.AbsoluteExpiresAt)...)
	d = append(d, timePtrDiff("RevokedAt", got.RevokedAt, want.RevokedAt)...)
	d = append(d, diff("RevokedReason", got.RevokedReason, want.RevokedReason)...)
	d = append(d, diff("UserAgent", got.UserAgent, want.UserAgent)...)
	d = append(d, diff("IP", got.IP, want.IP)...)
	d = append(d, diff("Counter", got.Counter, want.Counter)...)
	d = append(d, timeDiff("RotatedAt", got.RotatedAt, want.RotatedAt)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

func checkAudit(t *testing.T, what string, got, want store.AuditEvent) {
	t.Helper()
	var d []string
	d = append(d, diff("ID", got.ID, want.ID)...)
	d = append(d, timeDiff("At", got.At, want.At)...)
	d = append(d, diff("Type", got.Type, want.Type)...)
	d = append(d, diff("Outcome", got.Outcome, want.Outcome)...)
	d = append(d, diff("UserID", got.UserID, want.UserID)...)
	d = append(d, diff("ActorID", got.ActorID, want.ActorID)...)
	d = append(d, diff("IP", got.IP, want.IP)...)
	d = append(d, bytesDiff("Detail", got.Detail, want.Detail)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

func sessionIDs(ss []store.Session) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

func auditIDs(es []store.AuditEvent) []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// race runs f(i) for i in [0, concurrency) at once and returns the errors by i. The
// goroutines are released together so they really overlap.
func race(f func(i int) error) []error {
	errs := make([]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// countOutcomes splits errs into successes and errors wrapping sentinel, and reports any
// other error.
func countOutcomes(t *testing.T, what string, errs []error, sentinel error) (ok, matched int) {
	t.Helper()
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, sentinel):
			matched++
		default:
			t.Errorf("%s: call %d: unexpected error %v", what, i, err)
		}
	}
	return ok, matched
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testUserRoundTrip(t *testing.T, s store.Store) {
	want := fullUser("u1", "ada@example.com")
	mustCreateUser(t, s, want)

	got, err := s.UserByID(t.Context(), want.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, "UserByID", got, want)

	got, err = s.UserByEmail(t.Context(), want.Email)
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	checkUser(t, "UserByEmail", got, want)
}

func testUserMinimalRoundTrip(t *testing.T, s store.Store) {
	want := minimalUser("u1", "min@example.com")
	mustCreateUser(t, s, want)

	got := mustUser(t, s, want.ID)
	checkUser(t, "UserByID", got, want)
	if got.PendingEmail != nil || got.Name != nil || got.Surname != nil || got.Pseudo != nil || got.LastLoginAt != nil {
		t.Errorf("nil pointers came back non-nil: %+v", got)
	}
	if got.Data != nil {
		t.Errorf("nil Data came back as %q", got.Data)
	}

	// Empty strings behind pointers are values, not absences.
	empty := minimalUser("u2", "empty@example.com")
	empty.Name, empty.Surname, empty.Pseudo, empty.PendingEmail = ptr(""), ptr(""), ptr(""), ptr("")
	mustCreateUser(t, s, empty)
	checkUser(t, "UserByID(empty strings)", mustUser(t, s, empty.ID), empty)
}

func testUserNotFound(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))

	_, err := s.UserByID(t.Context(), "nope")
	wantErr(t, "UserByID(unknown)", err, store.ErrNotFound)
	_, err = s.UserByEmail(t.Context(), "nope@example.com")
	wantErr(t, "UserByEmail(unknown)", err, store.ErrNotFound)
	_, err = s.UserByID(t.Context(), "")
	wantErr(t, "UserByID(empty)", err, store.ErrNotFound)
}

// Emails are canonicalised by callers; the store matches them byte for byte.
func testUserEmailIsExact(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "ada@example.com"))

	_, err := s.UserByEmail(t.Context(), "Ada@example.com")
	wantErr(t, "UserByEmail(different case)", err, store.ErrNotFound)
	_, err = s.UserByEmail(t.Context(), "ada@example.com ")
	wantErr(t, "UserByEmail(trailing space)", err, store.ErrNotFound)
}

func testUserDuplicateEmail(t *testing.T, s store.Store) {
	first := fullUser("u1", "dup@example.com")
	mustCreateUser(t, s, first)

	err := s.CreateUser(t.Context(), minimalUser("u2", "dup@example.com"))
	wantErr(t, "CreateUser(duplicate email)", err, store.ErrConflict)

	_, err = s.UserByID(t.Context(), "u2")
	wantErr(t, "UserByID(rejected user)", err, store.ErrNotFound)
	got, err := s.UserByEmail(t.Context(), "dup@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	checkUser(t, "first user after rejected duplicate", got, first)
}

func testUserDuplicateID(t *testing.T, s store.Store) {
	first := fullUser("u1", "one@example.com")
	mustCreateUser(t, s, first)

	err := s.CreateUser(t.Context(), minimalUser("u1", "two@example.com"))
	wantErr(t, "CreateUser(duplicate id)", err, store.ErrConflict)

	_, err = s.UserByEmail(t.Context(), "two@example.com")
	wantErr(t, "UserByEmail(rejected user)", err, store.ErrNotFound)
	checkUser(t, "first user after rejected duplicate", mustUser(t, s, "u1"), first)
}

func testUserConcurrentSameEmail(t *testing.T, s store.Store) {
	errs := race(func(i int) error {
		return s.CreateUser(t.Context(), minimalUser(fmt.Sprintf("u%02d", i), "race@example.com"))
	})
	ok, conflicts := countOutcomes(t, "CreateUser", errs, store.ErrConflict)
	if ok != 1 || conflicts != concurrency-1 {
		t.Fatalf("CreateUser x%d with one email: %d successes, %d conflicts; want 1 and %d",
			concurrency, ok, conflicts, concurrency-1)
	}

	winner := -1
	for i, err := range errs {
		if err == nil {
			winner = i
		}
	}
	got, err := s.UserByEmail(t.Context(), "race@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	if want := fmt.Sprintf("u%02d", winner); got.ID != want {
		t.Errorf("UserByEmail: ID %q, want the winner %q", got.ID, want)
	}
	for i := range concurrency {
		if i == winner {
			continue
		}
		if _, err := s.UserByID(t.Context(), fmt.Sprintf("u%02d", i)); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserByID(loser u%02d): error %v, want ErrNotFound", i, err)
		}
	}
}

func testRecordLogin(t *testing.T, s store.Store) {
	u := fullUser("u1", "a@example.com")
	mustCreateUser(t, s, u)

	now := t0.Add(48*time.Hour + 999_999*time.Nanosecond)
	got, err := s.RecordLogin(t.Context(), u.ID, now)
	if err != nil {
		t.Fatalf("RecordLogin: %v", err)
	}
	want := u
	want.LastLoginAt = &now
	want.LoginCount = u.LoginCount + 1
	want.UpdatedAt = now
	checkUser(t, "RecordLogin result", got, want)
	checkUser(t, "UserByID after RecordLogin", mustUser(t, s, u.ID), want)

	// A user who never logged in starts from nil and zero.
	m := minimalUser("u2", "b@example.com")
	mustCreateUser(t, s, m)
	got, err = s.RecordLogin(t.Context(), m.ID, now)
	if err != nil {
		t.Fatalf("RecordLogin(first login): %v", err)
	}
	if got.LoginCount != 1 || got.LastLoginAt == nil {
		t.Errorf("RecordLogin(first login): LoginCount %d, LastLoginAt %v; want 1 and %v", got.LoginCount, got.LastLoginAt, now.UTC())
	}

	_, err = s.RecordLogin(t.Context(), "nope", now)
	wantErr(t, "RecordLogin(unknown)", err, store.ErrNotFound)
}

func testRecordLoginConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	now := t0.Add(time.Hour)

	errs := race(func(int) error {
		_, err := s.RecordLogin(t.Context(), "u1", now)
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("RecordLogin call %d: %v", i, err)
		}
	}
	got := mustUser(t, s, "u1")
	if got.LoginCount != concurrency {
		t.Errorf("LoginCount after %d concurrent RecordLogin = %d, want %d (lost updates)", concurrency, got.LoginCount, concurrency)
	}
	for _, line := range timePtrDiff("LastLoginAt", got.LastLoginAt, &now) {
		t.Error(line)
	}
}

func testSetPasswordHash(t *testing.T, s store.Store) {
	u := fullUser("u1", "a@example.com")
	mustCreateUser(t, s, u)
	now := t0.Add(24 * time.Hour)

	if err := s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, "hash-2", now); err != nil {
		t.Fatalf("SetPasswordHash: %v", err)
	}
	want := u
	want.PasswordHash = "hash-2"
	want.UpdatedAt = now
	checkUser(t, "after SetPasswordHash", mustUser(t, s, u.ID), want)

	// The old hash is stale now: a rehash computed from it must not overwrite hash-2.
	later := now.Add(time.Minute)
	err := s.SetPasswordHash(t.Context(), u.ID, u.PasswordHash, "hash-3", later)
	wantErr(t, "SetPasswordHash(stale old hash)", err, store.ErrConflict)
	checkUser(t, "after stale SetPasswordHash", mustUser(t, s, u.ID), want)

	err = s.SetPasswordHash(t.Context(), "nope", "hash-2", "hash-3", later)
	wantErr(t, "SetPasswordHash(unknown user)", err, store.ErrNotFound)
}

func testSetPasswordHashConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	errs := race(func(i int) error {
		return s.SetPasswordHash(t.Context(), "u1", "hash-1", fmt.Sprintf("new-%02d", i), t0.Add(time.Hour))
	})
	ok, conflicts := countOutcomes(t, "SetPasswordHash", errs, store.ErrConflict)
	if ok != 1 || conflicts != concurrency-1 {
		t.Fatalf("SetPasswordHash x%d from one old hash: %d successes, %d conflicts; want 1 and %d",
			concurrency, ok, conflicts, concurrency-1)
	}
	for i, err := range errs {
		if err == nil {
			if got, want := mustUser(t, s, "u1").PasswordHash, fmt.Sprintf("new-%02d", i); got != want {
				t.Errorf("PasswordHash = %q, want the winner's %q", got, want)
			}
		}
	}
}

func testSessionRoundTrip(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))

	want := newSession("s1", "u1", t0)
	want.LastUsedAt = t0.Add(time.Minute)
	want.RotatedAt = t0.Add(2 * time.Minute)
	want.Counter = 41
	mustCreateSession(t, s, want)
	checkSession(t, "SessionByID", mustSession(t, s, "s1"), want)

	// A session created revoked (or expired) is still returned: SessionByID ignores state.
	revoked := newSession("s2", "u1", t0)
	revoked.RevokedAt = ptr(t0.Add(3 * time.Second))
	revoked.RevokedReason = "admin"
	revoked.IdleExpiresAt = t0.Add(time.Millisecond)
	revoked.UserAgent, revoked.IP = "", ""
	mustCreateSession(t, s, revoked)
	checkSession(t, "SessionByID(revoked)", mustSession(t, s, "s2"), revoked)
}

func testSessionNotFound(t *testing.T, s store.Store) {
	_, err := s.SessionByID(t.Context(), "nope")
	wantErr(t, "SessionByID(unknown)", err, store.ErrNotFound)
}

func testSessionDuplicateID(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	first := newSession("s1", "u1", t0)
	mustCreateSession(t, s, first)

	err := s.CreateSession(t.Context(), newSession("s1", "u2", t0.Add(time.Hour)))
	wantErr(t, "CreateSession(duplicate id)", err, store.ErrConflict)
	checkSession(t, "first session after rejected duplicate", mustSession(t, s, "s1"), first)
}

func testAdvanceSession(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)

	now := t0.Add(10*time.Minute + 123_456*time.Nanosecond)
	idle := now.Add(30 * time.Minute)
	got, err := s.AdvanceSession(t.Context(), "s1", 0, now, idle)
	if err != nil {
		t.Fatalf("AdvanceSession: %v", err)
	}
	want := sess
	want.Counter = 1
	want.RotatedAt = now
	want.LastUsedAt = now
	want.IdleExpiresAt = idle
	checkSession(t, "AdvanceSession result", got, want)
	checkSession(t, "SessionByID after AdvanceSession", mustSession(t, s, "s1"), want)

	// The next rotation starts from the new counter.
	now2 := now.Add(20 * time.Minute)
	got, err = s.AdvanceSession(t.Context(), "s1", 1, now2, now2.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("second AdvanceSession: %v", err)
	}
	if got.Counter != 2 {
		t.Errorf("second AdvanceSession: Counter %d, want 2", got.Counter)
	}
}

func testAdvanceSessionStaleCounter(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	sess.Counter = 5
	mustCreateSession(t, s, sess)
	now := t0.Add(time.Minute)

	for _, from := range []int64{0, 4, 6} {
		_, err := s.AdvanceSession(t.Context(), "s1", from, now, now.Add(30*time.Minute))
		wantErr(t, fmt.Sprintf("AdvanceSession(from=%d, counter=5)", from), err, store.ErrConflict)
	}
	checkSession(t, "after stale AdvanceSession", mustSession(t, s, "s1"), sess)

	if _, err := s.AdvanceSession(t.Context(), "s1", 5, now, now.Add(30*time.Minute)); err != nil {
		t.Fatalf("AdvanceSession(from=5): %v", err)
	}
	// Replaying the token that was just rotated away is the reuse case.
	_, err := s.AdvanceSession(t.Context(), "s1", 5, now.Add(time.Second), now.Add(31*time.Minute))
	wantErr(t, "AdvanceSession(replayed from=5)", err, store.ErrConflict)
	if got := mustSession(t, s, "s1").Counter; got != 6 {
		t.Errorf("Counter after replay = %d, want 6", got)
	}
}

func testAdvanceSessionCapsIdle(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	sess.IdleExpiresAt = t0.Add(55 * time.Minute)
	sess.AbsoluteExpiresAt = t0.Add(time.Hour)
	mustCreateSession(t, s, sess)

	now := t0.Add(50 * time.Minute)
	got, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute))
	if err != nil {
		t.Fatalf("AdvanceSession: %v", err)
	}
	for _, line := range timeDiff("IdleExpiresAt", got.IdleExpiresAt, sess.AbsoluteExpiresAt) {
		t.Error(line)
	}
	for _, line := range timeDiff("stored IdleExpiresAt", mustSession(t, s, "s1").IdleExpiresAt, sess.AbsoluteExpiresAt) {
		t.Error(line)
	}
}

func testAdvanceSessionRevoked(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))
	if _, err := s.RevokeSession(t.Context(), "s1", "u1", t0.Add(time.Minute), "logout"); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	before := mustSession(t, s, "s1")

	now := t0.Add(2 * time.Minute)
	_, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute))
	wantErr(t, "AdvanceSession(revoked)", err, store.ErrConflict)
	checkSession(t, "after AdvanceSession(revoked)", mustSession(t, s, "s1"), before)
}

func testAdvanceSessionIdleExpired(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)

	// Live means now is strictly before the expiry, so the expiry instant itself is dead.
	for _, now := range []time.Time{sess.IdleExpiresAt, sess.IdleExpiresAt.Add(time.Millisecond), sess.IdleExpiresAt.Add(24 * time.Hour)} {
		_, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute))
		wantErr(t, fmt.Sprintf("AdvanceSession(idle expired, now=expiry+%v)", now.Sub(sess.IdleExpiresAt)), err, store.ErrConflict)
	}
	checkSession(t, "after AdvanceSession(idle expired)", mustSession(t, s, "s1"), sess)

	// One millisecond before the expiry it is still live.
	now := sess.IdleExpiresAt.Add(-time.Millisecond)
	if _, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute)); err != nil {
		t.Errorf("AdvanceSession(1ms before idle expiry): %v", err)
	}
}

func testAdvanceSessionAbsoluteExpired(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	// The idle expiry is far away, so only the absolute one can refuse.
	sess := newSession("s1", "u1", t0)
	sess.AbsoluteExpiresAt = t0.Add(time.Hour)
	sess.IdleExpiresAt = t0.Add(3 * time.Hour)
	mustCreateSession(t, s, sess)

	for _, now := range []time.Time{sess.AbsoluteExpiresAt, sess.AbsoluteExpiresAt.Add(time.Minute)} {
		_, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute))
		wantErr(t, fmt.Sprintf("AdvanceSession(absolute expired, now=expiry+%v)", now.Sub(sess.AbsoluteExpiresAt)), err, store.ErrConflict)
	}
	checkSession(t, "after AdvanceSession(absolute expired)", mustSession(t, s, "s1"), sess)
}

func testAdvanceSessionNotFound(t *testing.T, s store.Store) {
	_, err := s.AdvanceSession(t.Context(), "nope", 0, t0, t0.Add(time.Hour))
	wantErr(t, "AdvanceSession(unknown)", err, store.ErrNotFound)
}

func testAdvanceSessionConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))
	now := t0.Add(time.Minute)

	errs := race(func(int) error {
		_, err := s.AdvanceSession(t.Context(), "s1", 0, now, now.Add(30*time.Minute))
		return err
	})
	ok, conflicts := countOutcomes(t, "AdvanceSession", errs, store.ErrConflict)
	if ok != 1 || conflicts != concurrency-1 {
		t.Fatalf("AdvanceSession x%d from one counter: %d successes, %d conflicts; want 1 and %d",
			concurrency, ok, conflicts, concurrency-1)
	}
	if got := mustSession(t, s, "s1").Counter; got != 1 {
		t.Errorf("Counter after concurrent AdvanceSession = %d, want 1", got)
	}
}

func testCountLiveSessions(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	now := t0.Add(10 * time.Minute)
	// Live: B1, B2, C1, D1. Not live: B3 (revoked), C2 (idle expired), C3 (absolutely
	// expired at now).
	for _, id := range []string{"B1", "B2", "C1", "D1"} {
		mustCreateSession(t, s, newSession(id, "u1", t0))
	}
	revoked := newSession("B3", "u1", t0)
	revoked.RevokedAt = ptr(t0.Add(time.Minute))
	revoked.RevokedReason = "logout"
	idle := newSession("C2", "u1", t0.Add(-time.Hour))
	abs := newSession("C3", "u1", t0)
	abs.AbsoluteExpiresAt = now
	for _, sess := range []store.Session{revoked, idle, abs} {
		mustCreateSession(t, s, sess)
	}
	for _, tc := range []struct {
		from, to string
		limit    int
		want     int
	}{
		{"", "", 0, 4},
		{"", "", 3, 3},
		{"B", "C", 0, 2},   // B1, B2; not B3
		{"C", "D", 0, 1},   // C1
		{"B2", "C1", 0, 1}, // from inclusive, to exclusive
		{"C", "", 0, 2},    // C1, D1
		{"E", "", 0, 0},
		{"A", "B", 10, 0},
	} {
		n, err := s.CountLiveSessions(t.Context(), tc.from, tc.to, now, tc.limit)
		if err != nil || n != tc.want {
			t.Errorf("CountLiveSessions(%q, %q, limit %d) = %d, %v; want %d", tc.from, tc.to, tc.limit, n, err, tc.want)
		}
	}
}

func testListLiveSessions(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	now := t0.Add(10 * time.Minute)

	// Created out of order, so the order returned cannot come from insertion.
	live := []store.Session{
		newSession("live-mid", "u1", t0.Add(time.Minute)),
		newSession("live-new", "u1", t0.Add(2*time.Minute)),
		newSession("live-old", "u1", t0),
	}
	revoked := newSession("revoked", "u1", t0.Add(3*time.Minute))
	revoked.RevokedAt = ptr(t0.Add(4 * time.Minute))
	revoked.RevokedReason = "logout"
	idleExpired := newSession("idle-expired", "u1", t0.Add(-time.Hour))
	absExpired := newSession("abs-expired", "u1", t0.Add(-time.Hour))
	absExpired.IdleExpiresAt = now.Add(time.Hour)
	absExpired.AbsoluteExpiresAt = now // expiry instant: no longer live
	other := newSession("other-user", "u2", t0.Add(5*time.Minute))

	for _, sess := range append(live, revoked, idleExpired, absExpired, other) {
		mustCreateSession(t, s, sess)
	}

	got, err := s.ListLiveSessions(t.Context(), "u1", now)
	if err != nil {
		t.Fatalf("ListLiveSessions: %v", err)
	}
	want := []string{"live-new", "live-mid", "live-old"}
	if ids := sessionIDs(got); !equalStrings(ids, want) {
		t.Fatalf("ListLiveSessions = %q, want %q (newest first)", ids, want)
	}
	checkSession(t, "ListLiveSessions[0]", got[0], live[1])

	got, err = s.ListLiveSessions(t.Context(), "u2", now)
	if err != nil {
		t.Fatalf("ListLiveSessions(u2): %v", err)
	}
	if ids := sessionIDs(got); !equalStrings(ids, []string{"other-user"}) {
		t.Errorf("ListLiveSessions(u2) = %q, want [other-user]", ids)
	}

	got, err = s.ListLiveSessions(t.Context(), "nobody", now)
	if err != nil || len(got) != 0 {
		t.Errorf("ListLiveSessions(unknown user) = %q, %v; want nothing and no error", sessionIDs(got), err)
	}

	// Far enough in the future everything has expired.
	got, err = s.ListLiveSessions(t.Context(), "u1", t0.Add(365*24*time.Hour))
	if err != nil || len(got) != 0 {
		t.Errorf("ListLiveSessions(after all expiries) = %q, %v; want nothing and no error", sessionIDs(got), err)
	}
}

func testRevokeSession(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)

	at := t0.Add(5*time.Minute + 777*time.Microsecond + 1)
	revoked, err := s.RevokeSession(t.Context(), "s1", "u1", at, "logout")
	if err != nil || !revoked {
		t.Fatalf("RevokeSession = %t, %v; want true, nil", revoked, err)
	}
	want := sess
	want.RevokedAt = &at
	want.RevokedReason = "logout"
	checkSession(t, "after RevokeSession", mustSession(t, s, "s1"), want)

	// A second revocation changes nothing: the first time and reason stand.
	revoked, err = s.RevokeSession(t.Context(), "s1", "u1", at.Add(time.Hour), "admin")
	if err != nil || revoked {
		t.Fatalf("second RevokeSession = %t, %v; want false, nil", revoked, err)
	}
	checkSession(t, "after second RevokeSession", mustSession(t, s, "s1"), want)

	_, err = s.RevokeSession(t.Context(), "nope", "u1", at, "logout")
	wantErr(t, "RevokeSession(unknown id)", err, store.ErrNotFound)
	_, err = s.RevokeSession(t.Context(), "nope", "", at, "logout")
	wantErr(t, "RevokeSession(unknown id, any owner)", err, store.ErrNotFound)
}

func testRevokeSessionOwner(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)
	at := t0.Add(time.Minute)

	// Another user cannot revoke it, nor learn that it exists.
	_, err := s.RevokeSession(t.Context(), "s1", "u2", at, "logout")
	wantErr(t, "RevokeSession(wrong owner)", err, store.ErrNotFound)
	checkSession(t, "after RevokeSession(wrong owner)", mustSession(t, s, "s1"), sess)

	// An empty userID (an administrator) matches any owner.
	revoked, err := s.RevokeSession(t.Context(), "s1", "", at, "admin")
	if err != nil || !revoked {
		t.Fatalf("RevokeSession(any owner) = %t, %v; want true, nil", revoked, err)
	}
	want := sess
	want.RevokedAt = &at
	want.RevokedReason = "admin"
	checkSession(t, "after RevokeSession(any owner)", mustSession(t, s, "s1"), want)

	revoked, err = s.RevokeSession(t.Context(), "s1", "", at, "admin")
	if err != nil || revoked {
		t.Errorf("RevokeSession(any owner, already revoked) = %t, %v; want false, nil", revoked, err)
	}
	_, err = s.RevokeSession(t.Context(), "s1", "u2", at, "logout")
	wantErr(t, "RevokeSession(wrong owner, already revoked)", err, store.ErrNotFound)
}

func testRevokeSessionConcurrent(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateSession(t, s, newSession("s1", "u1", t0))

	var mu sync.Mutex
	wins := 0
	errs := race(func(int) error {
		revoked, err := s.RevokeSession(t.Context(), "s1", "u1", t0.Add(time.Minute), "logout")
		if revoked {
			mu.Lock()
			wins++
			mu.Unlock()
		}
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("RevokeSession call %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Errorf("RevokeSession x%d reported true %d times, want once", concurrency, wins)
	}
}

func testRevokeUserSessions(t *testing.T, s store.Store) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))

	keep := newSession("keep", "u1", t0)
	a := newSession("a", "u1", t0.Add(time.Minute))
	// An expired but unrevoked session is revoked too: the method is about revocation,
	// not liveness.
	expired := newSession("expired", "u1", t0.Add(-48*time.Hour))
	already := newSession("already", "u1", t0)
	already.RevokedAt = ptr(t0.Add(time.Second))
	already.RevokedReason = "logout"
	other := newSession("other", "u2", t0)
	for _, sess := range []store.Session{keep, a, expired, already, other} {
		mustCreateSession(t, s, sess)
	}

	at := t0.Add(time.Hour)
	n, err := s.RevokeUserSessions(t.Context(), "u1", "keep", at, "password_change")
	if err != nil || n != 2 {
		t.Fatalf("RevokeUserSessions(except keep) = %d, %v; want 2, nil", n, err)
	}
	for _, id := range []string{"a", "expired"} {
		got := mustSession(t, s, id)
		if got.RevokedAt == nil || got.RevokedReason != "password_change" {
			t.Errorf("session %s: RevokedAt %v, reason %q; want revoked for password_change", id, got.RevokedAt, got.RevokedReason)
			continue
		}
		for _, line := range timeDiff(id+" RevokedAt", *got.RevokedAt, at) {
			t.Error(line)
		}
	}
	checkSession(t, "excepted session", mustSession(t, s, "keep"), keep)
	checkSession(t, "already revoked session", mustSession(t, s, "already"), already)
	checkSession(t, "other user's session", mustSession(t, s, "other"), other)

	n, err = s.RevokeUserSessions(t.Context(), "u1", "", at.Add(time.Minute), "admin")
	if err != nil || n != 1 {
		t.Fatalf("RevokeUserSessions(no exception) = %d, %v; want 1, nil", n, err)
	}
	if got := mustSession(t, s, "keep"); got.RevokedAt == nil || got.RevokedReason != "admin" {
		t.Errorf("session keep: RevokedAt %v, reason %q; want revoked for admin", got.RevokedAt, got.RevokedReason)
	}

	n, err = s.RevokeUserSessions(t.Context(), "u1", "", at.Add(2*time.Minute), "admin")
	if err != nil || n != 0 {
		t.Errorf("RevokeUserSessions(nothing left) = %d, %v; want 0, nil", n, err)
	}
	n, err = s.RevokeUserSessions(t.Context(), "nobody", "", at, "admin")
	if err != nil || n != 0 {
		t.Errorf("RevokeUserSessions(unknown user) = %d, %v; want 0, nil", n, err)
	}
	checkSession(t, "other user's session at the end", mustSession(t, s, "other"), other)
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	full := store.AuditEvent{
		ID:      "e1",
		At:      t0,
		Type:    "login",
		Outcome: "success",
		UserID:  "u1",
		ActorID: "u9",
		IP:      "2001:db8::1",
		Detail:  []byte(`{"method":"password"}`),
	}
	bare := store.AuditEvent{ID: "e0", At: t0.Add(-time.Second), Type: "register", Outcome: "failure"}
	for _, e := range []store.AuditEvent{full, bare} {
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit(%q): %v", e.ID, err)
		}
	}

	got, err := s.AuditEvents(t.Context(), "", 10)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("AuditEvents returned %q, want [e1 e0]", auditIDs(got))
	}
	checkAudit(t, "AuditEvents[0]", got[0], full)
	checkAudit(t, "AuditEvents[1]", got[1], bare)
}

func testAuditDuplicateID(t *testing.T, s store.Store) {
	e := store.AuditEvent{ID: "e1", At: t0, Type: "login", Outcome: "success", UserID: "u1"}
	if err := s.AppendAudit(t.Context(), e); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	dup := e
	dup.Type = "logout"
	wantErr(t, "AppendAudit(duplicate id)", s.AppendAudit(t.Context(), dup), store.ErrConflict)

	got, err := s.AuditEvents(t.Context(), "", 10)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("AuditEvents returned %q, want only e1", auditIDs(got))
	}
	checkAudit(t, "first event after rejected duplicate", got[0], e)
}

func testAuditOrderFilterLimit(t *testing.T, s store.Store) {
	// e-a and e-b fall in the same millisecond once truncated, e-a being later by
	// nanoseconds: the stored order is decided by the ID, not by the lost precision.
	events := []store.AuditEvent{
		{ID: "e-c", At: t0.Add(-time.Hour), UserID: "u1"},
		{ID: "e-a", At: t0.Truncate(time.Millisecond).Add(900), UserID: "u1"},
		{ID: "e-b", At: t0.Truncate(time.Millisecond).Add(100), UserID: "u2"},
		{ID: "e-z", At: t0.Add(time.Hour), UserID: ""},
		{ID: "e-y", At: t0.Add(-2 * time.Hour), UserID: "u2"},
		{ID: "e-x", At: t0.Add(time.Minute), UserID: "u1"},
	}
	for _, e := range events {
		e.Type, e.Outcome = "login", "success"
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit(%q): %v", e.ID, err)
		}
	}

	cases := []struct {
		userID string
		limit  int
		want   []string
	}{
		{"", 100, []string{"e-z", "e-x", "e-b", "e-a", "e-c", "e-y"}},
		{"", 3, []string{"e-z", "e-x", "e-b"}},
		{"", 1, []string{"e-z"}},
		{"u1", 100, []string{"e-x", "e-a", "e-c"}},
		{"u1", 2, []string{"e-x", "e-a"}},
		{"u2", 100, []string{"e-b", "e-y"}},
		{"nobody", 100, nil},
	}
	for _, tc := range cases {
		got, err := s.AuditEvents(t.Context(), tc.userID, tc.limit)
		if err != nil {
			t.Errorf("AuditEvents(%q, %d): %v", tc.userID, tc.limit, err)
			continue
		}
		if ids := auditIDs(got); !equalStrings(ids, tc.want) {
			t.Errorf("AuditEvents(%q, %d) = %q, want %q", tc.userID, tc.limit, ids, tc.want)
		}
	}
}

func testPurgeAudit(t *testing.T, s store.Store) {
	for i, at := range []time.Time{t0.Add(-48 * time.Hour), t0.Add(-25 * time.Hour), t0.Add(-24 * time.Hour), t0} {
		e := store.AuditEvent{ID: fmt.Sprintf("e%d", i), At: at, Type: "login", Outcome: "success"}
		if err := s.AppendAudit(t.Context(), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	n, err := s.PurgeAudit(t.Context(), t0.Add(-24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("PurgeAudit = %d, %v; want 2 (the events before the cutoff, not the one at it)", n, err)
	}
	got, err := s.AuditEvents(t.Context(), "", 10)
	if err != nil {
		t.Fatalf("AuditEvents: %v", err)
	}
	if ids := auditIDs(got); len(ids) != 2 || ids[0] != "e3" || ids[1] != "e2" {
		t.Fatalf("left %v, want [e3 e2]", ids)
	}
	if n, err := s.PurgeAudit(t.Context(), t0.Add(-24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second PurgeAudit = %d, %v; want 0", n, err)
	}
}
