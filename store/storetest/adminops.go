package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// The admin operations under the last-admin rule: the last active ADMIN (role ADMIN, not
// disabled) is never demoted, disabled or deleted, even by concurrent calls.

// adminOpsTests are the conformance tests of this file, registered in Run.
var adminOpsTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"UpdateAccess", testUpdateAccess},
	{"UpdateAccessLastAdmin", testUpdateAccessLastAdmin},
	{"BeginAdminDeletion", testBeginAdminDeletion},
	{"LastAdminMutualDemotion", testLastAdminMutualDemotion},
	{"LastAdminConcurrentMany", testLastAdminConcurrentMany},
}

func adminUser(id string) store.User {
	u := minimalUser(id, id+"@example.com")
	u.Role = store.RoleAdmin
	return u
}

func activeAdmins(t *testing.T, s store.Store, ids ...string) []string {
	t.Helper()
	var out []string
	for _, id := range ids {
		u, err := s.UserByID(t.Context(), id)
		if err == nil && u.ActiveAdmin() {
			out = append(out, id)
		}
	}
	return out
}

// UpdateAccess sets exactly the fields given, and UpdatedAt; nil ones keep their values.
func testUpdateAccess(t *testing.T, s store.Store) {
	u := fullUser("u1", "ann@example.com") // STAFF, confirmed, disabled
	mustCreateUser(t, s, u)
	later := t0.Add(time.Hour)
	got, err := s.UpdateAccess(t.Context(), "u1", store.AccessUpdate{}, later)
	if err != nil {
		t.Fatal(err)
	}
	want := u
	want.UpdatedAt = later
	checkUser(t, "UpdateAccess(nothing)", got, want)

	got, err = s.UpdateAccess(t.Context(), "u1", store.AccessUpdate{
		Role: ptr(store.RoleUser), Disabled: ptr(false), EmailConfirmed: ptr(false),
	}, later)
	if err != nil {
		t.Fatal(err)
	}
	want.Role, want.Disabled, want.EmailConfirmed = store.RoleUser, false, false
	checkUser(t, "UpdateAccess(all)", got, want)
	checkUser(t, "UserByID after UpdateAccess", mustUser(t, s, "u1"), want)

	got, err = s.UpdateAccess(t.Context(), "u1", store.AccessUpdate{Role: ptr(store.RoleAdmin)}, later)
	if err != nil {
		t.Fatal(err)
	}
	want.Role = store.RoleAdmin
	checkUser(t, "UpdateAccess(promote)", got, want)

	_, err = s.UpdateAccess(t.Context(), "nobody", store.AccessUpdate{Role: ptr(store.RoleUser)}, later)
	wantErr(t, "UpdateAccess(unknown)", err, store.ErrNotFound)
	mustCreateUser(t, s, minimalUser("u2", "bob@example.com"))
	if _, err := s.BeginUserDeletion(t.Context(), "u2", later); err != nil {
		t.Fatal(err)
	}
	_, err = s.UpdateAccess(t.Context(), "u2", store.AccessUpdate{Disabled: ptr(true)}, later)
	wantErr(t, "UpdateAccess(deleted)", err, store.ErrNotFound)
}

// The one active ADMIN cannot be demoted, disabled or deleted, and a refusal writes
// nothing; a disabled ADMIN does not count as another, a second active one does. Changes
// that keep the ADMIN active are allowed.
func testUpdateAccessLastAdmin(t *testing.T, s store.Store) {
	mustCreateUser(t, s, adminUser("a1"))
	off := adminUser("a2")
	off.Disabled = true
	mustCreateUser(t, s, off)
	staff := minimalUser("s1", "s1@example.com")
	staff.Role = store.RoleStaff
	mustCreateUser(t, s, staff)
	later := t0.Add(time.Hour)
	before := mustUser(t, s, "a1")
	for _, a := range []store.AccessUpdate{
		{Role: ptr(store.RoleStaff)},
		{Role: ptr(store.RoleUser)},
		{Disabled: ptr(true)},
		{Role: ptr(store.RoleUser), Disabled: ptr(false)},
	} {
		_, err := s.UpdateAccess(t.Context(), "a1", a, later)
		wantErr(t, fmt.Sprintf("UpdateAccess(last admin, %+v)", a), err, store.ErrLastAdmin)
	}
	_, err := s.BeginAdminDeletion(t.Context(), "a1", later)
	wantErr(t, "BeginAdminDeletion(last admin)", err, store.ErrLastAdmin)
	checkUser(t, "the last admin after refusals", mustUser(t, s, "a1"), before)

	// Changes that keep it an active ADMIN.
	if _, err := s.UpdateAccess(t.Context(), "a1", store.AccessUpdate{
		Role: ptr(store.RoleAdmin), Disabled: ptr(false), EmailConfirmed: ptr(true),
	}, later); err != nil {
		t.Fatalf("UpdateAccess(last admin stays admin): %v", err)
	}
	// Another user's changes are not refused.
	if _, err := s.UpdateAccess(t.Context(), "s1", store.AccessUpdate{Role: ptr(store.RoleUser), Disabled: ptr(true)}, later); err != nil {
		t.Fatalf("UpdateAccess(staff): %v", err)
	}
	// With a2 enabled, a1 can go; then a2 is the last.
	if _, err := s.UpdateAccess(t.Context(), "a2", store.AccessUpdate{Disabled: ptr(false)}, later); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateAccess(t.Context(), "a1", store.AccessUpdate{Disabled: ptr(true)}, later); err != nil {
		t.Fatalf("UpdateAccess(disable a1 beside a2): %v", err)
	}
	_, err = s.UpdateAccess(t.Context(), "a2", store.AccessUpdate{Role: ptr(store.RoleStaff)}, later)
	wantErr(t, "UpdateAccess(a2 now last)", err, store.ErrLastAdmin)
	// A disabled ADMIN may be demoted: it is not active.
	if _, err := s.UpdateAccess(t.Context(), "a1", store.AccessUpdate{Role: ptr(store.RoleUser)}, later); err != nil {
		t.Fatalf("UpdateAccess(demote disabled a1): %v", err)
	}
	if got := activeAdmins(t, s, "a1", "a2", "s1"); len(got) != 1 || got[0] != "a2" {
		t.Fatalf("active admins %v, want [a2]", got)
	}
}

// BeginAdminDeletion deletes as BeginUserDeletion does (anyone but the last active ADMIN).
func testBeginAdminDeletion(t *testing.T, s store.Store) {
	mustCreateUser(t, s, adminUser("a1"))
	mustCreateUser(t, s, adminUser("a2"))
	u := minimalUser("u1", "ann@example.com")
	u.PendingEmail = ptr("new@example.com")
	mustCreateUser(t, s, u)
	later := t0.Add(time.Hour)
	d, err := s.BeginAdminDeletion(t.Context(), "u1", later)
	if err != nil {
		t.Fatal(err)
	}
	if d.UserID != "u1" || d.Email != "ann@example.com" || d.PendingEmail == nil || *d.PendingEmail != "new@example.com" ||
		!d.At.Equal(later.Truncate(time.Millisecond)) {
		t.Errorf("BeginAdminDeletion = %+v", d)
	}
	_, err = s.UserByID(t.Context(), "u1")
	wantErr(t, "UserByID(deleted)", err, store.ErrNotFound)
	mustCreateUser(t, s, minimalUser("u2", "ann@example.com")) // the address is free
	if _, err := s.FinishUserDeletion(t.Context(), "u1", later); err != nil {
		t.Fatal(err)
	}
	_, err = s.BeginAdminDeletion(t.Context(), "u1", later)
	wantErr(t, "BeginAdminDeletion(again)", err, store.ErrNotFound)
	_, err = s.BeginAdminDeletion(t.Context(), "nobody", later)
	wantErr(t, "BeginAdminDeletion(unknown)", err, store.ErrNotFound)

	if _, err := s.BeginAdminDeletion(t.Context(), "a1", later); err != nil {
		t.Fatalf("BeginAdminDeletion(a1 beside a2): %v", err)
	}
	_, err = s.BeginAdminDeletion(t.Context(), "a2", later)
	wantErr(t, "BeginAdminDeletion(a2, the last)", err, store.ErrLastAdmin)
	if got := activeAdmins(t, s, "a1", "a2"); len(got) != 1 || got[0] != "a2" {
		t.Fatalf("active admins %v, want [a2]", got)
	}
}

// mutualRounds is how many times the mutual demotion is raced.
const mutualRounds = 25

// Two admins acting on each other at once (demote, disable or delete, in every pairing):
// exactly one succeeds and one active ADMIN remains, every time.
func testLastAdminMutualDemotion(t *testing.T, s store.Store) {
	acts := []func(id string) error{
		func(id string) error {
			_, err := s.UpdateAccess(t.Context(), id, store.AccessUpdate{Role: ptr(store.RoleUser)}, t0)
			return err
		},
		func(id string) error {
			_, err := s.UpdateAccess(t.Context(), id, store.AccessUpdate{Disabled: ptr(true)}, t0)
			return err
		},
		func(id string) error {
			_, err := s.BeginAdminDeletion(t.Context(), id, t0)
			return err
		},
	}
	pair := func(r int) (string, string) { return fmt.Sprintf("a%02d", r), fmt.Sprintf("b%02d", r) }
	var all []string
	a, b := pair(0)
	mustCreateUser(t, s, adminUser(a))
	mustCreateUser(t, s, adminUser(b))
	all = append(all, a, b)
	for r := range mutualRounds {
		a, b := pair(r)
		actA, actB := acts[r%len(acts)], acts[(r/len(acts))%len(acts)]
		var (
			wg         sync.WaitGroup
			errA, errB error
			start      = make(chan struct{})
		)
		wg.Go(func() { <-start; errA = actA(b) }) // a acts on b
		wg.Go(func() { <-start; errB = actB(a) }) // b acts on a
		close(start)
		wg.Wait()
		ok, refused := countOutcomes(t, fmt.Sprintf("round %d", r), []error{errA, errB}, store.ErrLastAdmin)
		if ok != 1 || refused != 1 {
			t.Fatalf("round %d: %d succeeded, %d refused (%v, %v); want one each", r, ok, refused, errA, errB)
		}
		got := activeAdmins(t, s, all...)
		if len(got) != 1 {
			t.Fatalf("round %d: active admins %v, want one", r, got)
		}
		if r+1 == mutualRounds {
			break
		}
		// The next pair are the only active ADMINs of the next round: the survivor steps
		// down once they exist.
		na, nb := pair(r + 1)
		mustCreateUser(t, s, adminUser(na))
		mustCreateUser(t, s, adminUser(nb))
		all = append(all, na, nb)
		if _, err := s.UpdateAccess(t.Context(), got[0], store.AccessUpdate{Role: ptr(store.RoleUser)}, t0); err != nil {
			t.Fatalf("round %d: demoting the survivor beside the next pair: %v", r, err)
		}
	}
}

// Every active ADMIN demoted or disabled at once: exactly one remains.
func testLastAdminConcurrentMany(t *testing.T, s store.Store) {
	id := func(i int) string { return fmt.Sprintf("a%02d", i) }
	ids := make([]string, concurrency)
	for i := range concurrency {
		ids[i] = id(i)
		mustCreateUser(t, s, adminUser(ids[i]))
	}
	errs := race(func(i int) error {
		var err error
		switch i % 3 {
		case 0:
			_, err = s.UpdateAccess(t.Context(), id(i), store.AccessUpdate{Role: ptr(store.RoleStaff)}, t0)
		case 1:
			_, err = s.UpdateAccess(t.Context(), id(i), store.AccessUpdate{Disabled: ptr(true)}, t0)
		default:
			_, err = s.BeginAdminDeletion(t.Context(), id(i), t0)
		}
		return err
	})
	ok, refused := countOutcomes(t, "demote all", errs, store.ErrLastAdmin)
	if ok != concurrency-1 || refused != 1 {
		t.Fatalf("demote all x%d: %d succeeded, %d refused; want %d and 1", concurrency, ok, refused, concurrency-1)
	}
	if got := activeAdmins(t, s, ids...); len(got) != 1 {
		t.Fatalf("active admins after demoting all: %v, want one", got)
	}
}
