package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// sessionUserTests check store.SessionUserStore, for the stores that have it: its answers
// must be those of SessionByID, UserByID and AdvanceSession.
var sessionUserTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"SessionWithUser", withSessionUser(testSessionWithUser)},
	{"AdvanceSessionWithUser", withSessionUser(testAdvanceSessionWithUser)},
	{"AdvanceSessionWithUserRefusals", withSessionUser(testAdvanceSessionWithUserRefusals)},
}

// withSessionUser skips the test for a store without store.SessionUserStore.
func withSessionUser(f func(t *testing.T, s store.Store, su store.SessionUserStore)) func(t *testing.T, s store.Store) {
	return func(t *testing.T, s store.Store) {
		su, ok := s.(store.SessionUserStore)
		if !ok {
			t.Skipf("%T does not implement store.SessionUserStore (optional)", s)
		}
		f(t, s, su)
	}
}

func testSessionWithUser(t *testing.T, s store.Store, su store.SessionUserStore) {
	u := fullUser("u1", "a@example.com")
	mustCreateUser(t, s, u)
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)
	mustCreateSession(t, s, newSession("s2", "u2", t0))

	gotSess, gotUser, err := su.SessionWithUser(t.Context(), "s1")
	if err != nil {
		t.Fatalf("SessionWithUser: %v", err)
	}
	checkSession(t, "SessionWithUser session", gotSess, sess)
	checkUser(t, "SessionWithUser user", gotUser, mustUser(t, s, "u1"))

	// Whatever its state: a revoked session is returned as it is, as SessionByID does.
	if _, err := s.RevokeSession(t.Context(), "s1", "", t0.Add(time.Minute), "logout"); err != nil {
		t.Fatal(err)
	}
	gotSess, _, err = su.SessionWithUser(t.Context(), "s1")
	if err != nil {
		t.Fatalf("SessionWithUser(revoked): %v", err)
	}
	checkSession(t, "SessionWithUser(revoked)", gotSess, mustSession(t, s, "s1"))

	_, _, err = su.SessionWithUser(t.Context(), "nope")
	wantErr(t, "SessionWithUser(unknown)", err, store.ErrNotFound)
}

func testAdvanceSessionWithUser(t *testing.T, s store.Store, su store.SessionUserStore) {
	u := fullUser("u1", "a@example.com")
	u.Disabled = false // fullUser sets every field; a disabled owner is a refusal
	mustCreateUser(t, s, u)
	sess := newSession("s1", "u1", t0)
	mustCreateSession(t, s, sess)

	now := t0.Add(10*time.Minute + 123_456*time.Nanosecond)
	idle := now.Add(30 * time.Minute)
	gotSess, gotUser, err := su.AdvanceSessionWithUser(t.Context(), "s1", 0, now, idle)
	if err != nil {
		t.Fatalf("AdvanceSessionWithUser: %v", err)
	}
	want := sess
	want.Counter, want.RotatedAt, want.LastUsedAt, want.IdleExpiresAt = 1, now, now, idle
	checkSession(t, "AdvanceSessionWithUser result", gotSess, want)
	checkSession(t, "SessionByID after AdvanceSessionWithUser", mustSession(t, s, "s1"), want)
	checkUser(t, "AdvanceSessionWithUser user", gotUser, mustUser(t, s, "u1"))

	// The idle expiry is capped at the absolute one, as AdvanceSession does.
	sess2 := newSession("s2", "u1", t0)
	sess2.AbsoluteExpiresAt = t0.Add(time.Hour)
	mustCreateSession(t, s, sess2)
	late := t0.Add(25 * time.Minute)
	gotSess, _, err = su.AdvanceSessionWithUser(t.Context(), "s2", 0, late, late.Add(time.Hour))
	if err != nil {
		t.Fatalf("AdvanceSessionWithUser(s2): %v", err)
	}
	if want := sess2.AbsoluteExpiresAt.Truncate(time.Millisecond); !gotSess.IdleExpiresAt.Equal(want) {
		t.Errorf("IdleExpiresAt %v, want it capped at %v", gotSess.IdleExpiresAt, want)
	}
}

// Every refusal changes nothing and answers ErrConflict or ErrNotFound.
func testAdvanceSessionWithUserRefusals(t *testing.T, s store.Store, su store.SessionUserStore) {
	mustCreateUser(t, s, minimalUser("u1", "a@example.com"))
	mustCreateUser(t, s, minimalUser("u2", "b@example.com"))
	live := newSession("live", "u1", t0)
	live.Counter = 5
	mustCreateSession(t, s, live)
	mustCreateSession(t, s, newSession("revoked", "u1", t0))
	if _, err := s.RevokeSession(t.Context(), "revoked", "", t0, "logout"); err != nil {
		t.Fatal(err)
	}
	mustCreateSession(t, s, newSession("disabled", "u2", t0))
	if err := s.SetDisabled(t.Context(), "u2", true, t0); err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Minute)
	cases := []struct {
		id   string
		from int64
		at   time.Time
	}{
		{"live", 4, now}, {"live", 6, now}, // stale or future counter
		{"live", 5, t0.Add(31 * time.Minute)}, // idle expired
		{"revoked", 0, now},
		{"disabled", 0, now}, // the owner is disabled
		{"nope", 0, now},
	}
	for _, c := range cases {
		before, _ := s.SessionByID(t.Context(), c.id)
		_, _, err := su.AdvanceSessionWithUser(t.Context(), c.id, c.from, c.at, c.at.Add(30*time.Minute))
		what := fmt.Sprintf("AdvanceSessionWithUser(%s, from=%d)", c.id, c.from)
		if !errorsIsAny(err, store.ErrConflict, store.ErrNotFound) {
			t.Errorf("%s: error %v, want ErrConflict or ErrNotFound", what, err)
		}
		if c.id != "nope" {
			checkSession(t, what+": session after", mustSession(t, s, c.id), before)
		}
	}
}

func errorsIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
