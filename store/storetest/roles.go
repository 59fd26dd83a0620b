package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/toktok/toktok/store"
)

// The first-admin rule: PromoteFirstAdmin promotes when, and only when, no user is an
// ADMIN, atomically.

// roleTests are the conformance tests of this file, registered in Run.
var roleTests = []struct {
	name string
	run  func(t *testing.T, s store.Store)
}{
	{"PromoteFirstAdmin", testPromoteFirstAdmin},
	{"PromoteFirstAdminWhenAnAdminExists", testPromoteFirstAdminWhenAnAdminExists},
	{"PromoteFirstAdminConcurrent", testPromoteFirstAdminConcurrent},
}

// mustPromote calls PromoteFirstAdmin and fails the test on an error.
func mustPromote(t *testing.T, s store.Store, id string, now time.Time) store.RoleChange {
	t.Helper()
	c, err := s.PromoteFirstAdmin(t.Context(), id, now)
	if err != nil {
		t.Fatalf("PromoteFirstAdmin(%q): %v", id, err)
	}
	return c
}

// wantRole fails the test unless the user's stored role is want.
func wantRole(t *testing.T, s store.Store, id string, want store.Role) {
	t.Helper()
	if got := mustUser(t, s, id).Role; got != want {
		t.Errorf("%s is %s, want %s", id, got, want)
	}
}

// With no ADMIN, the user is promoted: its role and UpdatedAt change, nothing else, and
// the change is reported from its role before. From then on nobody else is, and promoting
// the ADMIN again changes nothing.
func testPromoteFirstAdmin(t *testing.T, s store.Store) {
	staff := fullUser("u1", "ann@example.com") // STAFF, every field set
	mustCreateUser(t, s, staff)
	mustCreateUser(t, s, minimalUser("u2", "bob@example.com"))
	later := t0.Add(time.Hour)
	c := mustPromote(t, s, "u1", later)
	if want := (store.RoleChange{UserID: "u1", From: store.RoleStaff, To: store.RoleAdmin}); c != want || !c.Changed() {
		t.Fatalf("PromoteFirstAdmin(u1) = %+v, want %+v", c, want)
	}
	want := staff
	want.Role, want.UpdatedAt = store.RoleAdmin, later
	checkUser(t, "the first admin", mustUser(t, s, "u1"), want)

	for _, id := range []string{"u2", "u1"} {
		if c := mustPromote(t, s, id, later.Add(time.Hour)); c.Changed() || c != (store.RoleChange{}) {
			t.Errorf("PromoteFirstAdmin(%s) with an ADMIN = %+v, want the zero change", id, c)
		}
	}
	wantRole(t, s, "u2", store.RoleUser)
	checkUser(t, "the first admin, promoted again", mustUser(t, s, "u1"), want)

	_, err := s.PromoteFirstAdmin(t.Context(), "nobody", later)
	wantErr(t, "PromoteFirstAdmin(unknown)", err, store.ErrNotFound)
}

// An ADMIN blocks the rule even when disabled; once there is none (demoted, or deleted)
// the rule applies again, and a user whose deletion has begun is not promoted.
func testPromoteFirstAdminWhenAnAdminExists(t *testing.T, s store.Store) {
	admin := minimalUser("a1", "admin@example.com")
	admin.Role, admin.Disabled = store.RoleAdmin, true
	mustCreateUser(t, s, admin)
	for _, id := range []string{"u1", "u2", "u3"} {
		mustCreateUser(t, s, minimalUser(id, id+"@example.com"))
	}
	if c := mustPromote(t, s, "u1", t0); c.Changed() {
		t.Fatalf("PromoteFirstAdmin(u1) beside a disabled ADMIN = %+v", c)
	}
	wantRole(t, s, "u1", store.RoleUser)

	if err := s.SetRole(t.Context(), "a1", store.RoleUser, t0); err != nil {
		t.Fatal(err)
	}
	if c := mustPromote(t, s, "u1", t0); c.UserID != "u1" || c.From != store.RoleUser {
		t.Fatalf("PromoteFirstAdmin(u1) once a1 is demoted = %+v, want u1 from USER", c)
	}

	if _, err := s.BeginUserDeletion(t.Context(), "u1", t0); err != nil {
		t.Fatal(err)
	}
	_, err := s.PromoteFirstAdmin(t.Context(), "u1", t0)
	wantErr(t, "PromoteFirstAdmin(deleted)", err, store.ErrNotFound)
	if c := mustPromote(t, s, "u2", t0); c.UserID != "u2" {
		t.Fatalf("PromoteFirstAdmin(u2) once the ADMIN's deletion began = %+v, want u2", c)
	}
	if c := mustPromote(t, s, "u3", t0); c.Changed() {
		t.Errorf("PromoteFirstAdmin(u3) after u2 = %+v", c)
	}
	wantRole(t, s, "u3", store.RoleUser)
}

// Of concurrent promotions of different users with no ADMIN, one promotes: one call
// reports one change, and the one ADMIN afterwards is the user it names.
func testPromoteFirstAdminConcurrent(t *testing.T, s store.Store) {
	id := func(i int) string { return fmt.Sprintf("u%02d", i) }
	for i := range concurrency {
		mustCreateUser(t, s, minimalUser(id(i), id(i)+"@example.com"))
	}
	changes := make([]store.RoleChange, concurrency)
	errs := race(func(i int) error {
		var err error
		changes[i], err = s.PromoteFirstAdmin(t.Context(), id(i), t0)
		return err
	})
	ok, _ := countOutcomes(t, "PromoteFirstAdmin", errs, store.ErrNotFound)
	if ok != concurrency {
		t.Fatalf("PromoteFirstAdmin x%d: %d succeeded", concurrency, ok)
	}
	var reported []store.RoleChange
	for _, c := range changes {
		if c.Changed() {
			reported = append(reported, c)
		}
	}
	var admins []string
	for i := range concurrency {
		if mustUser(t, s, id(i)).Role == store.RoleAdmin {
			admins = append(admins, id(i))
		}
	}
	if len(reported) != 1 || len(admins) != 1 || reported[0].UserID != admins[0] ||
		reported[0].From != store.RoleUser || reported[0].To != store.RoleAdmin {
		t.Fatalf("PromoteFirstAdmin x%d: changes reported %+v, ADMINs %v; want one change naming the one ADMIN",
			concurrency, reported, admins)
	}
}
