package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// The email flows: confirmation, email change and password reset, and their single-use
// link tokens.

func testConfirmEmail(t *testing.T, s store.Store) {
	u := minimalUser("u1", "a@example.com")
	mustCreateUser(t, s, u)

	now := t0.Add(time.Hour + 1234*time.Microsecond)
	got, err := s.ConfirmEmail(t.Context(), "u1", "a@example.com", now)
	if err != nil {
		t.Fatalf("ConfirmEmail: %v", err)
	}
	want := u
	want.EmailConfirmed = true
	want.UpdatedAt = now
	checkUser(t, "ConfirmEmail result", got, want)
	checkUser(t, "UserByID after ConfirmEmail", mustUser(t, s, "u1"), want)

	// A second confirmation (another link to the same address) succeeds and changes
	// nothing, UpdatedAt included.
	got, err = s.ConfirmEmail(t.Context(), "u1", "a@example.com", now.Add(time.Hour))
	if err != nil {
		t.Fatalf("ConfirmEmail(already confirmed): %v", err)
	}
	checkUser(t, "ConfirmEmail(already confirmed) result", got, want)
	checkUser(t, "UserByID after second ConfirmEmail", mustUser(t, s, "u1"), want)

	_, err = s.ConfirmEmail(t.Context(), "nope", "a@example.com", now)
	wantErr(t, "ConfirmEmail(unknown user)", err, store.ErrNotFound)
}

// A confirmation link names the address it was sent to; once the account's address is
// another, the link confirms nothing.
func testConfirmEmailAddressChanged(t *testing.T, s store.Store) {
	u := minimalUser("u1", "new@example.com")
	mustCreateUser(t, s, u)
	now := t0.Add(time.Hour)

	_, err := s.ConfirmEmail(t.Context(), "u1", "old@example.com", now)
	wantErr(t, "ConfirmEmail(old address)", err, store.ErrConflict)
	checkUser(t, "after ConfirmEmail(old address)", mustUser(t, s, "u1"), u)

	// Nor does it confirm the pending address of an email change, or a different case.
	full := fullUser("u2", "b@example.com")
	full.EmailConfirmed = false
	mustCreateUser(t, s, full)
	for _, email := range []string{*full.PendingEmail, "B@example.com", ""} {
		_, err = s.ConfirmEmail(t.Context(), "u2", email, now)
		wantErr(t, fmt.Sprintf("ConfirmEmail(%q)", email), err, store.ErrConflict)
	}
	checkUser(t, "after refused ConfirmEmail", mustUser(t, s, "u2"), full)
}

func testSetPendingEmail(t *testing.T, s store.Store) {
	u := fullUser("u1", "a@example.com")
	u.PendingEmail = nil
	mustCreateUser(t, s, u)
	mustCreateUser(t, s, minimalUser("u2", "taken@example.com"))

	now := t0.Add(time.Hour + 999*time.Microsecond)
	if err := s.SetPendingEmail(t.Context(), "u1", ptr("next@example.com"), now); err != nil {
		t.Fatalf("SetPendingEmail: %v", err)
	}
	want := u
	want.PendingEmail = ptr("next@example.com")
	want.UpdatedAt = now
	checkUser(t, "after SetPendingEmail", mustUser(t, s, "u1"), want)

	// A pending address is not unique: it may be another account's address (the change
	// is refused when applied) or another account's pending address.
	for _, pending := range []string{"taken@example.com", "next@example.com"} {
		if err := s.SetPendingEmail(t.Context(), "u2", ptr(pending), now); err != nil {
			t.Errorf("SetPendingEmail(u2, %q): %v", pending, err)
		}
	}

	later := now.Add(time.Minute)
	if err := s.SetPendingEmail(t.Context(), "u1", nil, later); err != nil {
		t.Fatalf("SetPendingEmail(nil): %v", err)
	}
	want.PendingEmail = nil
	want.UpdatedAt = later
	checkUser(t, "after SetPendingEmail(nil)", mustUser(t, s, "u1"), want)

	err := s.SetPendingEmail(t.Context(), "nope", ptr("x@example.com"), later)
	wantErr(t, "SetPendingEmail(unknown user)", err, store.ErrNotFound)
	_, err = s.UserByID(t.Context(), "nope")
	wantErr(t, "UserByID after SetPendingEmail(unknown user)", err, store.ErrNotFound)
}

func testApplyEmailChange(t *testing.T, s store.Store) {
	u := minimalUser("u1", "old@example.com")
	u.PendingEmail = ptr("new@example.com")
	mustCreateUser(t, s, u)

	now := t0.Add(2*time.Hour + 5*time.Microsecond)
	got, err := s.ApplyEmailChange(t.Context(), "u1", "new@example.com", now)
	if err != nil {
		t.Fatalf("ApplyEmailChange: %v", err)
	}
	want := u
	want.Email = "new@example.com"
	want.EmailConfirmed = true
	want.PendingEmail = nil
	want.UpdatedAt = now
	checkUser(t, "ApplyEmailChange result", got, want)
	checkUser(t, "UserByID after ApplyEmailChange", mustUser(t, s, "u1"), want)
	if got, err := s.UserByEmail(t.Context(), "new@example.com"); err != nil || got.ID != "u1" {
		t.Errorf("UserByEmail(new address) = %q, %v; want u1", got.ID, err)
	}
	_, err = s.UserByEmail(t.Context(), "old@example.com")
	wantErr(t, "UserByEmail(old address)", err, store.ErrNotFound)

	// The change is applied once: the pending address is gone.
	_, err = s.ApplyEmailChange(t.Context(), "u1", "new@example.com", now.Add(time.Minute))
	wantErr(t, "ApplyEmailChange(again)", err, store.ErrConflict)
	checkUser(t, "after ApplyEmailChange(again)", mustUser(t, s, "u1"), want)

	// The old address is free for another account.
	mustCreateUser(t, s, minimalUser("u2", "old@example.com"))

	_, err = s.ApplyEmailChange(t.Context(), "nope", "new@example.com", now)
	wantErr(t, "ApplyEmailChange(unknown user)", err, store.ErrNotFound)
}

func testApplyEmailChangePendingDiffers(t *testing.T, s store.Store) {
	u := fullUser("u1", "a@example.com") // PendingEmail new-a@example.com
	u.EmailConfirmed = false
	mustCreateUser(t, s, u)
	none := minimalUser("u2", "b@example.com") // no pending address
	mustCreateUser(t, s, none)
	now := t0.Add(time.Hour)

	for _, email := range []string{"other@example.com", "New-a@example.com", "a@example.com", ""} {
		_, err := s.ApplyEmailChange(t.Context(), "u1", email, now)
		wantErr(t, fmt.Sprintf("ApplyEmailChange(u1, %q)", email), err, store.ErrConflict)
	}
	checkUser(t, "after refused ApplyEmailChange", mustUser(t, s, "u1"), u)

	for _, email := range []string{"x@example.com", "b@example.com", ""} {
		_, err := s.ApplyEmailChange(t.Context(), "u2", email, now)
		wantErr(t, fmt.Sprintf("ApplyEmailChange(no pending, %q)", email), err, store.ErrConflict)
	}
	checkUser(t, "no pending address after refused ApplyEmailChange", mustUser(t, s, "u2"), none)
}

// The address was free when the change was asked for and has been taken since: the unique
// email index refuses it, and nothing changes on either account.
func testApplyEmailChangeTaken(t *testing.T, s store.Store) {
	u := minimalUser("u1", "a@example.com")
	u.PendingEmail = ptr("b@example.com")
	mustCreateUser(t, s, u)
	other := fullUser("u2", "b@example.com")
	mustCreateUser(t, s, other)

	_, err := s.ApplyEmailChange(t.Context(), "u1", "b@example.com", t0.Add(time.Hour))
	wantErr(t, "ApplyEmailChange(address taken)", err, store.ErrConflict)
	checkUser(t, "after ApplyEmailChange(address taken)", mustUser(t, s, "u1"), u)
	checkUser(t, "owner of the address", mustUser(t, s, "u2"), other)
}

func testApplyEmailChangeConcurrent(t *testing.T, s store.Store) {
	users := make([]store.User, concurrency)
	for i := range users {
		users[i] = minimalUser(fmt.Sprintf("u%02d", i), fmt.Sprintf("u%02d@example.com", i))
		users[i].PendingEmail = ptr("race@example.com")
		mustCreateUser(t, s, users[i])
	}
	now := t0.Add(time.Hour)

	errs := race(func(i int) error {
		_, err := s.ApplyEmailChange(t.Context(), users[i].ID, "race@example.com", now)
		return err
	})
	ok, conflicts := countOutcomes(t, "ApplyEmailChange", errs, store.ErrConflict)
	if ok != 1 || conflicts != concurrency-1 {
		t.Fatalf("ApplyEmailChange x%d to one address: %d successes, %d conflicts; want 1 and %d",
			concurrency, ok, conflicts, concurrency-1)
	}
	for i, err := range errs {
		if err == nil {
			if got, err := s.UserByEmail(t.Context(), "race@example.com"); err != nil || got.ID != users[i].ID {
				t.Errorf("UserByEmail(race) = %q, %v; want the winner %q", got.ID, err, users[i].ID)
			}
			continue
		}
		checkUser(t, "loser "+users[i].ID, mustUser(t, s, users[i].ID), users[i])
	}
}

func testSetPassword(t *testing.T, s store.Store) {
	u := fullUser("u1", "a@example.com")
	mustCreateUser(t, s, u)

	now := t0.Add(24*time.Hour + 1500*time.Microsecond)
	if err := s.SetPassword(t.Context(), "u1", "hash-reset", now); err != nil {
		t.Fatalf("SetPassword: %v", err)
	}
	want := u
	want.PasswordHash = "hash-reset"
	want.UpdatedAt = now
	checkUser(t, "after SetPassword", mustUser(t, s, "u1"), want)

	// Unconditional: setting it again, to the same hash or from any hash, succeeds.
	later := now.Add(time.Minute)
	for _, h := range []string{"hash-reset", "hash-change"} {
		if err := s.SetPassword(t.Context(), "u1", h, later); err != nil {
			t.Fatalf("SetPassword(%q): %v", h, err)
		}
	}
	want.PasswordHash = "hash-change"
	want.UpdatedAt = later
	checkUser(t, "after second SetPassword", mustUser(t, s, "u1"), want)

	err := s.SetPassword(t.Context(), "nope", "hash", later)
	wantErr(t, "SetPassword(unknown user)", err, store.ErrNotFound)
}

func newLinkToken(hash, userID string, purpose store.LinkPurpose, created time.Time) store.LinkToken {
	return store.LinkToken{
		Hash:      hash,
		UserID:    userID,
		Purpose:   purpose,
		Email:     userID + "@example.com",
		CreatedAt: created,
		ExpiresAt: created.Add(time.Hour),
	}
}

func mustCreateLinkToken(t *testing.T, s store.Store, tok store.LinkToken) {
	t.Helper()
	if err := s.CreateLinkToken(t.Context(), tok); err != nil {
		t.Fatalf("CreateLinkToken(%q): %v", tok.Hash, err)
	}
}

func checkLinkToken(t *testing.T, what string, got, want store.LinkToken) {
	t.Helper()
	var d []string
	d = append(d, diff("Hash", got.Hash, want.Hash)...)
	d = append(d, diff("UserID", got.UserID, want.UserID)...)
	d = append(d, diff("Purpose", got.Purpose, want.Purpose)...)
	d = append(d, diff("Email", got.Email, want.Email)...)
	d = append(d, timeDiff("CreatedAt", got.CreatedAt, want.CreatedAt)...)
	d = append(d, timeDiff("ExpiresAt", got.ExpiresAt, want.ExpiresAt)...)
	d = append(d, timePtrDiff("UsedAt", got.UsedAt, want.UsedAt)...)
	for _, line := range d {
		t.Errorf("%s: %s", what, line)
	}
}

// consumeFails checks that the token cannot be consumed for purpose at now.
func consumeFails(t *testing.T, s store.Store, what, hash string, purpose store.LinkPurpose, now time.Time) {
	t.Helper()
	got, err := s.ConsumeLinkToken(t.Context(), hash, purpose, now)
	if err == nil {
		t.Errorf("%s: ConsumeLinkToken(%q, %s) succeeded with %+v, want ErrNotFound", what, hash, purpose, got)
		return
	}
	wantErr(t, fmt.Sprintf("%s: ConsumeLinkToken(%q, %s)", what, hash, purpose), err, store.ErrNotFound)
}

func mustConsume(t *testing.T, s store.Store, hash string, purpose store.LinkPurpose, now time.Time) store.LinkToken {
	t.Helper()
	got, err := s.ConsumeLinkToken(t.Context(), hash, purpose, now)
	if err != nil {
		t.Fatalf("ConsumeLinkToken(%q, %s): %v", hash, purpose, err)
	}
	return got
}

func testLinkTokenConsume(t *testing.T, s store.Store) {
	tok := newLinkToken("h1", "u1", store.LinkConfirm, t0)
	tok.Email = "ada@example.com"
	mustCreateLinkToken(t, s, tok)

	now := t0.Add(10*time.Minute + 1234*time.Microsecond)
	got, err := s.ConsumeLinkToken(t.Context(), "h1", store.LinkConfirm, now)
	if err != nil {
		t.Fatalf("ConsumeLinkToken: %v", err)
	}
	want := tok
	want.UsedAt = &now
	checkLinkToken(t, "ConsumeLinkToken result", got, want)

	// Single use, at the same instant or later.
	consumeFails(t, s, "used", "h1", store.LinkConfirm, now)
	consumeFails(t, s, "used", "h1", store.LinkConfirm, now.Add(time.Minute))
	consumeFails(t, s, "unknown", "nope", store.LinkConfirm, now)
	consumeFails(t, s, "empty hash", "", store.LinkConfirm, now)
}

func testLinkTokenDuplicateHash(t *testing.T, s store.Store) {
	first := newLinkToken("h1", "u1", store.LinkReset, t0)
	mustCreateLinkToken(t, s, first)

	dup := newLinkToken("h1", "u2", store.LinkConfirm, t0.Add(time.Minute))
	wantErr(t, "CreateLinkToken(duplicate hash)", s.CreateLinkToken(t.Context(), dup), store.ErrConflict)

	consumeFails(t, s, "duplicate's purpose", "h1", store.LinkConfirm, t0.Add(2*time.Minute))
	now := t0.Add(2 * time.Minute)
	want := first
	want.UsedAt = &now
	checkLinkToken(t, "first token after rejected duplicate", mustConsume(t, s, "h1", store.LinkReset, now), want)
}

// A token is never accepted for another purpose, and trying does not use it up.
func testLinkTokenWrongPurpose(t *testing.T, s store.Store) {
	mustCreateLinkToken(t, s, newLinkToken("h1", "u1", store.LinkReset, t0))
	now := t0.Add(time.Minute)
	for _, p := range []store.LinkPurpose{store.LinkConfirm, store.LinkEmailChange, "", "RESET"} {
		consumeFails(t, s, "wrong purpose", "h1", p, now)
	}
	mustConsume(t, s, "h1", store.LinkReset, now)
}

func testLinkTokenExpiry(t *testing.T, s store.Store) {
	tok := newLinkToken("h1", "u1", store.LinkConfirm, t0)
	mustCreateLinkToken(t, s, tok)

	// ExpiresAt must be after now: the expiry instant itself is too late.
	consumeFails(t, s, "at expiry", "h1", store.LinkConfirm, tok.ExpiresAt)
	consumeFails(t, s, "after expiry", "h1", store.LinkConfirm, tok.ExpiresAt.Add(time.Millisecond))
	consumeFails(t, s, "long after expiry", "h1", store.LinkConfirm, tok.ExpiresAt.Add(30*24*time.Hour))

	now := tok.ExpiresAt.Add(-time.Millisecond)
	got := mustConsume(t, s, "h1", store.LinkConfirm, now)
	want := tok
	want.UsedAt = &now
	checkLinkToken(t, "ConsumeLinkToken(1ms before expiry)", got, want)
}

// consumeRaceTokens is how many tokens testLinkTokenConsumeConcurrent races over, one
// race each: a check-then-act store loses a single race only now and then.
const consumeRaceTokens = 50

func testLinkTokenConsumeConcurrent(t *testing.T, s store.Store) {
	now := t0.Add(time.Minute)
	for k := range consumeRaceTokens {
		hash := fmt.Sprintf("h%d", k)
		mustCreateLinkToken(t, s, newLinkToken(hash, "u1", store.LinkReset, t0))

		errs := race(func(int) error {
			_, err := s.ConsumeLinkToken(t.Context(), hash, store.LinkReset, now)
			return err
		})
		ok, notFound := countOutcomes(t, "ConsumeLinkToken", errs, store.ErrNotFound)
		if ok != 1 || notFound != concurrency-1 {
			t.Errorf("ConsumeLinkToken x%d of token %s: %d successes, %d not found; want 1 and %d",
				concurrency, hash, ok, notFound, concurrency-1)
		}
		consumeFails(t, s, "after the race", hash, store.LinkReset, now)
	}
}

// LinkToken looks a usable token up without consuming it, with the same single answer as
// ConsumeLinkToken for every refusal.
func testLinkTokenPeek(t *testing.T, s store.Store) {
	tok := newLinkToken("h1", "u1", store.LinkReset, t0)
	mustCreateLinkToken(t, s, tok)
	now := t0.Add(time.Minute)

	for range 2 {
		got, err := s.LinkToken(t.Context(), "h1", store.LinkReset, now)
		if err != nil {
			t.Fatalf("LinkToken: %v", err)
		}
		checkLinkToken(t, "LinkToken", got, tok)
	}
	for _, c := range []struct {
		what    string
		hash    string
		purpose store.LinkPurpose
		now     time.Time
	}{
		{"wrong purpose", "h1", store.LinkConfirm, now},
		{"unknown", "nope", store.LinkReset, now},
		{"at expiry", "h1", store.LinkReset, tok.ExpiresAt},
	} {
		_, err := s.LinkToken(t.Context(), c.hash, c.purpose, c.now)
		wantErr(t, "LinkToken("+c.what+")", err, store.ErrNotFound)
	}

	// Looking did not use it; consuming does, and then it is not found.
	mustConsume(t, s, "h1", store.LinkReset, now)
	_, err := s.LinkToken(t.Context(), "h1", store.LinkReset, now)
	wantErr(t, "LinkToken(used)", err, store.ErrNotFound)
}

func testVoidLinkTokens(t *testing.T, s store.Store) {
	c1 := newLinkToken("c1", "u1", store.LinkConfirm, t0)
	c2 := newLinkToken("c2", "u1", store.LinkConfirm, t0.Add(time.Minute))
	used := newLinkToken("used", "u1", store.LinkConfirm, t0)
	expired := newLinkToken("expired", "u1", store.LinkConfirm, t0.Add(-2*time.Hour))
	reset := newLinkToken("reset", "u1", store.LinkReset, t0)
	other := newLinkToken("other", "u2", store.LinkConfirm, t0)
	for _, tok := range []store.LinkToken{c1, c2, used, expired, reset, other} {
		mustCreateLinkToken(t, s, tok)
	}
	mustConsume(t, s, "used", store.LinkConfirm, t0.Add(2*time.Minute))

	at := t0.Add(5 * time.Minute)
	// c1, c2 and the expired one: every unused token, expired or not.
	n, err := s.VoidLinkTokens(t.Context(), "u1", store.LinkConfirm, at)
	if err != nil || n != 3 {
		t.Fatalf("VoidLinkTokens(u1, confirm) = %d, %v; want 3, nil", n, err)
	}
	later := at.Add(time.Minute)
	consumeFails(t, s, "voided", "c1", store.LinkConfirm, later)
	consumeFails(t, s, "voided", "c2", store.LinkConfirm, later)

	// Other purposes and other users are untouched.
	mustConsume(t, s, "reset", store.LinkReset, later)
	mustConsume(t, s, "other", store.LinkConfirm, later)

	n, err = s.VoidLinkTokens(t.Context(), "u1", store.LinkConfirm, later)
	if err != nil || n != 0 {
		t.Errorf("VoidLinkTokens(nothing left) = %d, %v; want 0, nil", n, err)
	}
	n, err = s.VoidLinkTokens(t.Context(), "nobody", store.LinkConfirm, later)
	if err != nil || n != 0 {
		t.Errorf("VoidLinkTokens(unknown user) = %d, %v; want 0, nil", n, err)
	}

	// A link sent after the void works.
	mustCreateLinkToken(t, s, newLinkToken("c3", "u1", store.LinkConfirm, later))
	mustConsume(t, s, "c3", store.LinkConfirm, later.Add(time.Minute))
}
