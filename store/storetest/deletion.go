package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// Account deletion: BeginUserDeletion makes the account unusable and frees its address in
// one write; FinishUserDeletion removes the rest, then the record; FinishDeletions
// finishes what a crash left between the two.

// deletionFixture is an account with something of every kind a deletion removes or keeps,
// beside a second account that it must not touch.
type deletionFixture struct {
	user, other store.User
	sessions    []string // the user's
	tokens      []string // the user's link tokens (hashes)
	gone, kept  []string // mails the finish removes, and mails to the user's addresses it keeps
	otherSess   string
	otherToken  string
	otherMail   string
	began       time.Time // when the test begins the deletion
}

func newDeletionFixture(t *testing.T, s store.Store, id, email string, began time.Time) deletionFixture {
	t.Helper()
	f := deletionFixture{user: fullUser(id, email), other: fullUser(id+"-other", "other-"+email), began: began}
	f.user.Disabled = false
	mustCreateUser(t, s, f.user)
	mustCreateUser(t, s, f.other)
	before := began.Add(-time.Hour)
	for i := range 2 {
		sess := newSession(fmt.Sprintf("%s-s%d", id, i), id, before)
		if i == 1 {
			sess.RevokedAt = ptr(before.Add(time.Minute)) // revoked ones go too
		}
		mustCreateSession(t, s, sess)
		f.sessions = append(f.sessions, sess.ID)
	}
	f.otherSess = id + "-other-s"
	mustCreateSession(t, s, newSession(f.otherSess, f.other.ID, before))
	// Tokens live for a day past the beginning, so that a token found missing is gone,
	// not expired.
	token := func(hash, userID string, p store.LinkPurpose) {
		tok := newLinkToken(hash, userID, p, before)
		tok.ExpiresAt = began.Add(24 * time.Hour)
		mustCreateLinkToken(t, s, tok)
	}
	for _, p := range []store.LinkPurpose{store.LinkConfirm, store.LinkEmailChange} {
		f.tokens = append(f.tokens, fmt.Sprintf("%s-%s", id, p))
		token(f.tokens[len(f.tokens)-1], id, p)
	}
	f.otherToken = id + "-other-tok"
	token(f.otherToken, f.other.ID, store.LinkReset)

	// Mails are due long after the test, but for the two it claims: no claim of this
	// fixture (or of another in the same store) takes a mail it did not mean to.
	mail := func(name, to string, created time.Time, due bool) string {
		m := newMail(id+"-"+name, created)
		m.To = to
		if !due {
			m.NextAttemptAt = created.Add(1000 * time.Hour)
		}
		mustEnqueue(t, s, m)
		return m.ID
	}
	// Kept: a sent mail (PurgeExpired's), one a worker is sending, and those queued at or
	// after the deletion began (its notice, or a new account's mail at the address).
	sent := mail("sent", email, before, true)
	mustClaimOne(t, s, sent, "w", before, before.Add(time.Minute))
	if err := s.MarkMailSent(t.Context(), sent, "w", before); err != nil {
		t.Fatal(err)
	}
	leased := mail("leased", email, before.Add(time.Minute), true)
	mustClaimOne(t, s, leased, "w", began, began.Add(1000*time.Hour))
	f.kept = append(f.kept, sent, leased, mail("at-begin", email, began, false), mail("after", email, began.Add(time.Second), false))
	// Removed: pending mails to the address and to the pending address, queued before.
	f.gone = append(f.gone, mail("pending", email, before, false), mail("to-pending-address", *f.user.PendingEmail, before, false),
		mail("just-before", email, began.Add(-time.Millisecond), false))
	f.otherMail = mail("other", f.other.Email, before, false)
	if err := s.AppendAudit(t.Context(), store.AuditEvent{ID: id + "-ev", At: before, Type: "login", Outcome: "success", UserID: id}); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkUntouched fails unless the other account and its records are all there.
func (f deletionFixture) checkUntouched(t *testing.T, s store.Store) {
	t.Helper()
	checkUser(t, "the other account", mustUser(t, s, f.other.ID), f.other)
	mustSession(t, s, f.otherSess)
	if _, err := s.LinkToken(t.Context(), f.otherToken, store.LinkReset, f.began); err != nil {
		t.Errorf("the other account's link token: %v", err)
	}
	mustMail(t, s, f.otherMail)
}

// checkFinished fails unless the user's sessions, tokens and removable mails are gone and
// the mails it keeps are there.
func (f deletionFixture) checkFinished(t *testing.T, s store.Store) {
	t.Helper()
	for _, id := range f.sessions {
		_, err := s.SessionByID(t.Context(), id)
		wantErr(t, "SessionByID of a deleted user's session", err, store.ErrNotFound)
	}
	for i, h := range f.tokens {
		p := []store.LinkPurpose{store.LinkConfirm, store.LinkEmailChange}[i]
		_, err := s.LinkToken(t.Context(), h, p, f.began)
		wantErr(t, "LinkToken of a deleted user", err, store.ErrNotFound)
	}
	for _, id := range f.gone {
		_, err := s.MailByID(t.Context(), id)
		wantErr(t, "MailByID("+id+") after the deletion", err, store.ErrNotFound)
	}
	for _, id := range f.kept {
		mustMail(t, s, id)
	}
	evs, err := s.AuditEvents(t.Context(), f.user.ID, 10)
	if err != nil || len(evs) != 1 {
		t.Errorf("audit events of the deleted user = %d, %v; want the one recorded", len(evs), err)
	}
}

// removed is how many records FinishUserDeletion removes from a fixture: its sessions,
// tokens, removable mails and the deletion record.
func (f deletionFixture) removed() int { return len(f.sessions) + len(f.tokens) + len(f.gone) + 1 }

func testUserDeletion(t *testing.T, s store.Store) {
	ctx := t.Context()
	began := t0.Add(24 * time.Hour)
	f := newDeletionFixture(t, s, "u1", "ada@example.com", began)

	d, err := s.BeginUserDeletion(ctx, f.user.ID, began)
	if err != nil {
		t.Fatalf("BeginUserDeletion: %v", err)
	}
	if d.UserID != f.user.ID || d.Email != f.user.Email || d.PendingEmail == nil || *d.PendingEmail != *f.user.PendingEmail {
		t.Errorf("BeginUserDeletion = %+v, want the account's id and addresses", d)
	}
	for _, line := range timeDiff("Deletion.At", d.At, began) {
		t.Error(line)
	}

	// The account is gone at once, whatever is left of it.
	_, err = s.UserByID(ctx, f.user.ID)
	wantErr(t, "UserByID after BeginUserDeletion", err, store.ErrNotFound)
	_, err = s.UserByEmail(ctx, f.user.Email)
	wantErr(t, "UserByEmail after BeginUserDeletion", err, store.ErrNotFound)
	_, err = s.RecordLogin(ctx, f.user.ID, began)
	wantErr(t, "RecordLogin after BeginUserDeletion", err, store.ErrNotFound)
	_, err = s.UpdateProfile(ctx, f.user.ID, store.ProfileUpdate{SetName: true, Name: ptr("x")}, began)
	wantErr(t, "UpdateProfile after BeginUserDeletion", err, store.ErrNotFound)
	_, err = s.BeginUserDeletion(ctx, f.user.ID, began)
	wantErr(t, "BeginUserDeletion again", err, store.ErrNotFound)
	_, err = s.BeginUserDeletion(ctx, "nobody", began)
	wantErr(t, "BeginUserDeletion of an unknown user", err, store.ErrNotFound)

	// Its address is free at once, for a new account and for an email change.
	fresh := minimalUser("u1-new", f.user.Email)
	fresh.CreatedAt, fresh.UpdatedAt = began, began
	mustCreateUser(t, s, fresh)
	checkUser(t, "the new account at the address", mustUser(t, s, fresh.ID), fresh)
	f.checkUntouched(t, s)

	// What the finish removes is still there (a crash here would leave it).
	for _, id := range f.sessions {
		mustSession(t, s, id)
	}
	for _, id := range f.gone {
		mustMail(t, s, id)
	}
	if _, err := s.LinkToken(ctx, f.tokens[0], store.LinkConfirm, began); err != nil {
		t.Errorf("a deleted user's link token before the finish: %v", err)
	}

	n, err := s.FinishUserDeletion(ctx, f.user.ID, began)
	if err != nil || n != f.removed() {
		t.Fatalf("FinishUserDeletion = %d, %v; want %d removed", n, err, f.removed())
	}
	f.checkFinished(t, s)
	f.checkUntouched(t, s)
	checkUser(t, "the new account after the finish", mustUser(t, s, fresh.ID), fresh)

	// Idempotent; and a live account is never touched.
	for _, id := range []string{f.user.ID, f.other.ID, fresh.ID, "nobody"} {
		if n, err := s.FinishUserDeletion(ctx, id, began); err != nil || n != 0 {
			t.Errorf("FinishUserDeletion(%s) with no deletion begun = %d, %v; want 0, nil", id, n, err)
		}
	}
	f.checkUntouched(t, s)
	if n, err := s.FinishDeletions(ctx, began.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("FinishDeletions with nothing left = %d, %v; want 0, nil", n, err)
	}
}

// testFinishDeletions: the purge finishes the deletions a crash left after their first
// step, those begun at or before its now only, and nothing else.
func testFinishDeletions(t *testing.T, s store.Store) {
	ctx := t.Context()
	early, late := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
	a := newDeletionFixture(t, s, "a", "ann@example.com", early)
	b := newDeletionFixture(t, s, "b", "bob@example.com", late)
	live := newDeletionFixture(t, s, "c", "cy@example.com", late)
	for _, f := range []deletionFixture{a, b} {
		if _, err := s.BeginUserDeletion(ctx, f.user.ID, f.began); err != nil {
			t.Fatalf("BeginUserDeletion(%s): %v", f.user.ID, err)
		}
	}

	if n, err := s.FinishDeletions(ctx, late.Add(-time.Millisecond)); err != nil || n != a.removed() {
		t.Fatalf("FinishDeletions before b began = %d, %v; want %d (a only)", n, err, a.removed())
	}
	a.checkFinished(t, s)
	for _, id := range b.sessions {
		mustSession(t, s, id) // b's deletion began after that now: left for a later run
	}
	if n, err := s.FinishDeletions(ctx, late); err != nil || n != b.removed() {
		t.Fatalf("FinishDeletions at b's beginning = %d, %v; want %d", n, err, b.removed())
	}
	b.checkFinished(t, s)
	for _, f := range []deletionFixture{a, b, live} {
		f.checkUntouched(t, s)
	}
	checkUser(t, "the live account", mustUser(t, s, live.user.ID), live.user)
	for _, id := range live.sessions {
		mustSession(t, s, id)
	}
}

// testBeginUserDeletionConcurrent: of concurrent deletions of one account exactly one
// begins it; the others find no account. Concurrent profile updates either land before it
// or find no account.
func testBeginUserDeletionConcurrent(t *testing.T, s store.Store) {
	u := minimalUser("u1", "ada@example.com")
	mustCreateUser(t, s, u)
	errs := race(func(i int) error {
		if i%2 == 1 {
			_, err := s.UpdateProfile(t.Context(), u.ID, store.ProfileUpdate{SetName: true, Name: ptr("x")}, t0)
			return err
		}
		_, err := s.BeginUserDeletion(t.Context(), u.ID, t0)
		return err
	})
	var begun []int
	for i, err := range errs {
		if i%2 == 0 && err == nil {
			begun = append(begun, i)
		}
	}
	countOutcomes(t, "concurrent deletions and updates", errs, store.ErrNotFound)
	if len(begun) != 1 {
		t.Fatalf("%d deletions began (calls %v), want exactly one", len(begun), begun)
	}
	_, err := s.UserByID(t.Context(), u.ID)
	wantErr(t, "UserByID after the race", err, store.ErrNotFound)
	if _, err := s.FinishUserDeletion(t.Context(), u.ID, t0); err != nil {
		t.Fatalf("FinishUserDeletion: %v", err)
	}
	// Two accounts' deletions may be pending together (their records do not collide).
	for _, id := range []string{"u2", "u3"} {
		mustCreateUser(t, s, minimalUser(id, id+"@example.com"))
		if _, err := s.BeginUserDeletion(t.Context(), id, t0); err != nil {
			t.Fatalf("BeginUserDeletion(%s): %v", id, err)
		}
	}
	if n, err := s.FinishDeletions(t.Context(), t0); err != nil || n != 2 {
		t.Errorf("FinishDeletions of two bare accounts = %d, %v; want 2 records", n, err)
	}
}

// unconfirmedUser is a bare unconfirmed account created at created.
func unconfirmedUser(id string, created time.Time) store.User {
	u := minimalUser(id, id+"@example.com")
	u.CreatedAt, u.UpdatedAt = created, created
	return u
}

// testBeginUnconfirmedDeletions: the old unconfirmed accounts go, oldest first and up to
// the limit; young ones, confirmed ones (a pending email change included) and begun
// deletions stay; the records are those BeginUserDeletion writes.
func testBeginUnconfirmedDeletions(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := t0.Add(7 * 24 * time.Hour)
	now := cutoff.Add(time.Hour)
	old1 := unconfirmedUser("old1", t0)
	old2 := unconfirmedUser("old2", t0.Add(time.Hour))
	old2.PendingEmail = ptr("elsewhere@example.com")
	old3 := unconfirmedUser("old3", cutoff.Add(-time.Millisecond))
	young := unconfirmedUser("young", cutoff) // created at the cutoff: not before it
	confirmed := unconfirmedUser("confirmed", t0)
	confirmed.EmailConfirmed = true
	changing := unconfirmedUser("changing", t0) // confirmed, changing its address
	changing.EmailConfirmed, changing.PendingEmail = true, ptr("next@example.com")
	for _, u := range []store.User{old3, young, confirmed, changing, old2, old1} {
		mustCreateUser(t, s, u)
	}

	if ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, now, 0); err != nil || len(ds) != 0 {
		t.Fatalf("BeginUnconfirmedDeletions with limit 0 = %v, %v; want none", ds, err)
	}
	ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, now, 2)
	if err != nil {
		t.Fatalf("BeginUnconfirmedDeletions: %v", err)
	}
	if len(ds) != 2 || ds[0].UserID != old1.ID || ds[1].UserID != old2.ID {
		t.Fatalf("BeginUnconfirmedDeletions(limit 2) = %+v, want old1 then old2", ds)
	}
	if ds[0].Email != old1.Email || ds[0].PendingEmail != nil ||
		ds[1].Email != old2.Email || ds[1].PendingEmail == nil || *ds[1].PendingEmail != *old2.PendingEmail {
		t.Errorf("deletion records %+v, want the accounts' addresses", ds)
	}
	for _, d := range ds {
		for _, line := range timeDiff("Deletion.At", d.At, now) {
			t.Error(line)
		}
	}
	for _, id := range []string{old1.ID, old2.ID} {
		_, err := s.UserByID(ctx, id)
		wantErr(t, "UserByID("+id+") after its deletion began", err, store.ErrNotFound)
	}
	mustUser(t, s, old3.ID) // past the limit: left for the next call

	ds, err = s.BeginUnconfirmedDeletions(ctx, cutoff, now, 10)
	if err != nil || len(ds) != 1 || ds[0].UserID != old3.ID {
		t.Fatalf("BeginUnconfirmedDeletions again = %+v, %v; want old3 only", ds, err)
	}
	for _, u := range []store.User{young, confirmed, changing} {
		checkUser(t, "kept "+u.ID, mustUser(t, s, u.ID), u)
	}
	if ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, now, 10); err != nil || len(ds) != 0 {
		t.Errorf("BeginUnconfirmedDeletions with nothing left = %+v, %v; want none", ds, err)
	}

	// The addresses are free, and FinishDeletions ends the three deletions.
	again := minimalUser("again", old1.Email)
	again.CreatedAt, again.UpdatedAt = now, now
	mustCreateUser(t, s, again)
	if n, err := s.FinishDeletions(ctx, now); err != nil || n != 3 {
		t.Errorf("FinishDeletions after the unconfirmed deletions = %d, %v; want 3 records", n, err)
	}
	// An account confirmed since is kept however old.
	late := unconfirmedUser("late", t0)
	mustCreateUser(t, s, late)
	if _, err := s.ConfirmEmail(ctx, late.ID, late.Email, now); err != nil {
		t.Fatal(err)
	}
	if ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, now, 10); err != nil || len(ds) != 0 {
		t.Errorf("BeginUnconfirmedDeletions after a confirmation = %+v, %v; want none", ds, err)
	}
	mustUser(t, s, late.ID)
}

// testBeginUnconfirmedDeletionsConcurrent: concurrent purges (on several instances)
// begin each account's deletion exactly once, and never delete an account confirmed
// concurrently.
func testBeginUnconfirmedDeletionsConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := t0.Add(time.Hour)
	const accounts = 12
	for i := range accounts {
		mustCreateUser(t, s, unconfirmedUser(fmt.Sprintf("u%02d", i), t0.Add(time.Duration(i)*time.Millisecond)))
	}
	confirmedBy := make([]bool, accounts) // u(i) confirmed by call i, an odd one
	deleted := make([][]store.Deletion, concurrency)
	errs := race(func(i int) error {
		if i%2 == 1 && i < accounts {
			id := fmt.Sprintf("u%02d", i)
			_, err := s.ConfirmEmail(ctx, id, id+"@example.com", cutoff)
			if err == nil {
				confirmedBy[i] = true
			}
			if errors.Is(err, store.ErrNotFound) { // deleted first
				return nil
			}
			return err
		}
		ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, cutoff, 5)
		deleted[i] = ds
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	seen := map[string]int{}
	for _, ds := range deleted {
		for _, d := range ds {
			seen[d.UserID]++
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s deleted %d times", id, n)
		}
	}
	for i := range accounts {
		id := fmt.Sprintf("u%02d", i)
		_, err := s.UserByID(ctx, id)
		switch {
		case seen[id] == 1 && confirmedBy[i]:
			t.Errorf("%s deleted although confirmed", id)
		case seen[id] == 1:
			wantErr(t, "UserByID of a deleted "+id, err, store.ErrNotFound)
		case err != nil:
			t.Errorf("UserByID(%s), neither deleted nor confirmed: %v", id, err)
		}
	}
	// Whatever the race left unconfirmed goes now; nothing twice.
	ds, err := s.BeginUnconfirmedDeletions(ctx, cutoff, cutoff, accounts)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if seen[d.UserID]++; seen[d.UserID] != 1 {
			t.Errorf("%s deleted again", d.UserID)
		}
	}
	for i := range accounts {
		id := fmt.Sprintf("u%02d", i)
		if seen[id] == 0 && !confirmedBy[i] {
			t.Errorf("%s is neither deleted nor confirmed", id)
		}
	}
}
